"""File > Open from PACS under Xvfb, against a real Orthanc (tests/net_orthanc.py).

The Orthanc tests need the Debian packages orthanc and orthanc-dicomweb (scripts/setup-system.sh
installs them); without them they skip and say so. The unreachable-server test needs no server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt5 import QtCore, QtWidgets

from tests.net_orthanc import LocalOrthanc, free_port, missing_reason, store_files

pytest.importorskip("pynetdicom", reason="pip install pynetdicom dicomweb-client (install_requires of vtkdicom_app)")
pytest.importorskip("dicomweb_client", reason="pip install pynetdicom dicomweb-client (install_requires of vtkdicom_app)")

import vtkdicom_app as vda  # noqa: E402
from vtkdicom_app import net  # noqa: E402
from vtkdicom_app.app.main_window import MainWindow, wait_for  # noqa: E402
from vtkdicom_app.app.pacs_dialog import ADHOC, PacsDialog, install_pacs_action  # noqa: E402
from vtkdicom_app.app.worker import Worker  # noqa: E402

ORTHANC_MISSING = missing_reason()
needs_orthanc = pytest.mark.skipif(ORTHANC_MISSING is not None, reason=ORTHANC_MISSING or "")
ME = "VDATEST"  # our AE title, known to Orthanc (C-FIND/C-GET allowed)


class Pacs:
    """A running Orthanc holding two phantom studies."""

    def __init__(self, orthanc: LocalOrthanc, a: Any, b: Any) -> None:
        self.orthanc, self.a, self.b = orthanc, a, b


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pacs]:
    if ORTHANC_MISSING:
        pytest.skip(ORTHANC_MISSING)
    from vtkdicom_app.phantom import write_phantom

    base = tmp_path_factory.mktemp("pacs_dialog")
    a = write_phantom(base / "a", rows=48, columns=40, slices=12)  # PHANTOM001, 20260101
    b = write_phantom(
        base / "b", rows=16, columns=16, slices=3, seed=1, patient_id="OTHER002", patient_name="Other^Patient", extra_tags={"StudyDate": "20240615"}
    )
    orthanc = LocalOrthanc(base / "orthanc", modalities={ME: free_port()}).start()
    try:
        assert store_files("127.0.0.1", orthanc.dicom_port, "ORTHANC", a.files + b.files, calling_aet=ME) == 15
        yield Pacs(orthanc, a, b)
    finally:
        orthanc.stop()


@pytest.fixture
def config(pacs: Pacs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """servers.toml naming the Orthanc, with the study cache in tmp_path (read through net.config_path)."""
    monkeypatch.setenv("VTKDICOM_APP_CONFIG_DIR", str(tmp_path / "config"))
    cfg = net.ServersFile(
        {
            "other": net.ServerConfig(name="other", host="127.0.0.1", port=free_port(), called_aet="NOBODY"),
            "orthanc": net.ServerConfig(
                name="orthanc", host="127.0.0.1", port=pacs.orthanc.dicom_port, called_aet="ORTHANC", url=pacs.orthanc.dicomweb_url, timeout=10.0
            ),
        },
        default="orthanc",
        calling_aet=ME,
        cache_dir=str(tmp_path / "cache"),
    )
    return net.save_servers(cfg)


@pytest.fixture
def window(qtbot: Any) -> Iterator[MainWindow]:
    w = MainWindow()
    w.error_dialogs = False
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    qtbot.waitExposed(w)
    w.init_vtk()
    yield w
    dialog = w.findChild(PacsDialog)
    if dialog is not None and dialog.worker is not None:
        dialog.worker.cancel()
        dialog.worker.wait()


def _dialog(window: MainWindow, qtbot: Any) -> PacsDialog:
    """File > Open from PACS..., through the action the main window installs."""
    menu = QtWidgets.QMenu("&File", window)
    action = install_pacs_action(window, menu)
    assert action in menu.actions() and action.text() == "Open from &PACS..."
    action.trigger()
    dialog = window.findChild(PacsDialog)
    assert isinstance(dialog, PacsDialog)
    qtbot.waitExposed(dialog)
    return dialog


def _click(qtbot: Any, button: QtWidgets.QPushButton) -> Worker:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)
    dialog = button.window()
    assert isinstance(dialog, PacsDialog) and dialog.worker is not None
    worker = dialog.worker
    wait_for(worker, 60)
    return worker


def _cells(table: QtWidgets.QTableWidget, row: int) -> list[str]:
    return [table.item(row, c).text() for c in range(table.columnCount())]  # type: ignore[union-attr]


def _search(dialog: PacsDialog, qtbot: Any, method: str) -> None:
    dialog.method_combo.setCurrentIndex(dialog.method_combo.findText(method, QtCore.Qt.MatchFlag.MatchStartsWith))
    qtbot.keyClicks(dialog.patient_id, "PHANTOM*")
    qtbot.keyClicks(dialog.date_from, "20250101")
    qtbot.keyClicks(dialog.modality, "CT")
    _click(qtbot, dialog.search_button)
    assert dialog.last_error is None, dialog.last_error


def _whole_dicom_files(folder: Path) -> list[Path]:
    """The files under folder; every one must be a whole DICOM file under its final name."""
    import pydicom

    files = [p for p in folder.rglob("*") if p.is_file()]
    for p in files:
        assert not p.name.startswith(".") and p.name.endswith(".dcm"), p
        ds = pydicom.dcmread(p)
        assert p.name == f"{ds.SOPInstanceUID}.dcm"
        assert len(ds.PixelData) == ds.Rows * ds.Columns * ds.BitsAllocated // 8
    return files


@needs_orthanc
@pytest.mark.parametrize("method", ["C-GET", "DICOMweb"])
def test_search_list_retrieve_and_open(pacs: Pacs, config: Path, window: MainWindow, qtbot: Any, tmp_path: Path, method: str) -> None:
    dialog = _dialog(window, qtbot)
    assert [dialog.server_combo.itemText(i) for i in range(dialog.server_combo.count())] == ["other", "orthanc", ADHOC]
    assert dialog.server_combo.currentText() == "orthanc"  # the default of servers.toml
    assert dialog.calling_aet.text() == ME and not dialog.host.isEnabled()
    dialog.method_combo.setCurrentIndex(dialog.method_combo.findText(method, QtCore.Qt.MatchFlag.MatchStartsWith))
    _click(qtbot, dialog.echo_button)  # C-ECHO, or a QIDO-RS ping
    assert dialog.last_error is None and "answered in" in dialog.status.text(), dialog.last_error
    _search(dialog, qtbot, method)
    # the study table lists the uploaded study only (the other patient, 2024, is filtered out)
    assert dialog.study_table.rowCount() == 1
    date, pid, name, modalities, n_series, n_images = _cells(dialog.study_table, 0)[:6]
    assert (date, pid, name, modalities, n_series, n_images) == ("20260101", "PHANTOM001", "Phantom^Test", "CT", "1", "12")
    # one study found: it is selected and its series listed (series-level C-FIND / QIDO-RS)
    assert dialog.worker is not None
    wait_for(dialog.worker, 60)
    assert dialog.last_error is None, dialog.last_error
    assert dialog.series_table.rowCount() == 1
    assert [r.series_uid for r in dialog.series] == pacs.a.series_uids
    assert _cells(dialog.series_table, 0)[1:3] == ["CT", "12"] and _cells(dialog.series_table, 0)[-1] == pacs.a.series_uids[0]
    dialog.series_table.selectRow(0)
    shots = Path(os.environ.get("PACS_DIALOG_SHOTS", tmp_path))  # set it to keep the screenshot
    shots.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(shots / f"pacs_dialog_{method}.png"))
    _click(qtbot, dialog.retrieve_button)
    result = dialog.last_result
    assert result is not None, dialog.last_error
    study_uid = dialog.studies[0].study_uid
    assert Path(result.folder) == tmp_path / "cache" / study_uid / pacs.a.series_uids[0]
    assert (result.n_transferred, result.n_instances) == (12, 12)
    assert len(_whole_dicom_files(tmp_path / "cache")) == 12
    # the window opens the retrieved folder: the volume is the uploaded phantom's
    assert dialog.opened is not None and not dialog.isVisible()
    wait_for(dialog.opened, 60)
    vol = window.state.volume
    assert vol is not None, window.last_error
    ref = vda.load(pacs.a.outdir)
    assert vol.array.shape == ref.array.shape == (12, 48, 40)
    assert np.array_equal(vol.array, ref.array)


def test_unreachable_server_shows_one_line(window: MainWindow, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VTKDICOM_APP_CONFIG_DIR", str(tmp_path))  # no servers.toml: only the ad hoc entry
    dialog = _dialog(window, qtbot)
    assert dialog.server_combo.currentText() == ADHOC and dialog.host.isEnabled()
    port = free_port()  # nothing listens there
    qtbot.keyClicks(dialog.host, "127.0.0.1")
    dialog.port.setValue(port)
    qtbot.keyClicks(dialog.called_aet, "NOBODY")
    _click(qtbot, dialog.search_button)
    message = dialog.last_error
    assert message and "\n" not in message and f"127.0.0.1:{port}" in message, message
    assert dialog.error_label.isVisible() and dialog.error_label.text() == message
    assert "Traceback" not in message and dialog.study_table.rowCount() == 0
    _click(qtbot, dialog.echo_button)
    assert dialog.last_error and f"127.0.0.1:{port}" in dialog.last_error and "\n" not in dialog.last_error
    # bad input in the fields: the net layer's message, before anything is sent
    dialog.date_from.setText("2025-13-45")
    assert dialog.search() is None
    assert dialog.last_error and "2025-13-45" in dialog.last_error and dialog.error_label.isVisible()


@needs_orthanc
def test_rejected_ae_title_shows_one_line(pacs: Pacs, config: Path, window: MainWindow, qtbot: Any) -> None:
    dialog = _dialog(window, qtbot)
    dialog.server_combo.setCurrentIndex(dialog.server_combo.findText(ADHOC))
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(pacs.orthanc.dicom_port)
    dialog.called_aet.setText("WRONGAET")
    _click(qtbot, dialog.search_button)
    message = dialog.last_error
    assert message and "\n" not in message and "WRONGAET" in message and dialog.error_label.isVisible()


@needs_orthanc
def test_cancel_mid_retrieve_keeps_only_whole_files(pacs: Pacs, config: Path, window: MainWindow, qtbot: Any, tmp_path: Path) -> None:
    dialog = _dialog(window, qtbot)
    _search(dialog, qtbot, "C-GET")
    assert dialog.worker is not None
    wait_for(dialog.worker, 60)
    dialog.series_table.selectRow(0)
    # hold the transfer after its first instance until Cancel has been clicked (the slot runs
    # in the worker thread, before its next progress report checks the cancel flag)
    clicked = threading.Event()
    held: list[int] = []

    def hold(done: int, total: int, stage: str) -> None:
        if stage == "C-GET" and 0 < done < total and not held:
            held.append(done)
            clicked.wait(30)

    dialog.worker_created.connect(lambda w: w.progressed.connect(hold, QtCore.Qt.ConnectionType.DirectConnection))
    qtbot.mouseClick(dialog.retrieve_button, QtCore.Qt.MouseButton.LeftButton)
    worker = dialog.worker
    assert worker is not None
    qtbot.waitUntil(lambda: bool(held), timeout=30000)
    qtbot.waitUntil(dialog.cancel_button.isEnabled, timeout=5000)
    qtbot.mouseClick(dialog.cancel_button, QtCore.Qt.MouseButton.LeftButton)
    clicked.set()
    wait_for(worker, 60)
    assert dialog.last_result is None and dialog.opened is None and window.state.volume is None
    assert "cancelled" in dialog.status.text() and dialog.last_error is None
    kept = _whole_dicom_files(tmp_path / "cache")
    assert 1 <= len(kept) <= 12
    # Retrieve again: only the rest is transferred, and the series opens
    _click(qtbot, dialog.retrieve_button)
    result = dialog.last_result
    assert result is not None, dialog.last_error
    assert (result.n_cached, result.n_transferred, result.n_instances) == (len(kept), 12 - len(kept), 12)
    wait_for(dialog.opened, 60)
    assert window.state.volume is not None and window.state.volume.array.shape == (12, 48, 40)
