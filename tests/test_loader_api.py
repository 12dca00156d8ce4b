"""The public API contract: scan/load inputs, SeriesInfo fields, progress and cancel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.errors import SeriesNotFoundError

SMALL: dict[str, Any] = dict(rows=24, columns=24, slices=10, pixel_spacing=(8.0, 8.0), slice_spacing=10.0)


def test_scan_reports_the_contract_fields(phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL, n_series=2)
    series = vda.scan(ph.outdir)
    assert [s.number for s in series] == [1, 2]
    first = series[0]
    assert first.uid == ph.series_uids[0]
    assert first.description == "Phantom CT" and first.modality == "CT"
    assert first.n_files == 10 and first.shape == (10, 24, 24)
    assert len(first.files) == 10 and all(Path(f).exists() for f in first.files)
    assert first.warnings == []
    assert first.spacing == pytest.approx((8.0, 8.0, 10.0))
    assert series[1].shape == (8, 24, 24)


def test_inputs_folder_file_list(tmp_path: Path) -> None:
    from vtkdicom_app.phantom import write_phantom

    # its own folder: the nested load below must see this series only, not other tests' files
    ph = write_phantom(tmp_path / "study" / "series", **SMALL)
    whole = vda.load(ph.outdir)
    one = vda.load(ph.files[3])
    assert one.array.shape == (1, 24, 24)
    k = int(round(whole.patient_to_index(one.origin)[2]))
    assert np.array_equal(one.array[0], whole.array[k])
    listed = vda.load([str(f) for f in ph.files[:5]])
    assert listed.array.shape == (5, 24, 24)
    nested = vda.load(Path(ph.outdir).parent)  # recursive search finds the same series
    assert np.array_equal(nested.array, whole.array)


def test_series_selection(phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL, n_series=2)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert vda.load(ph.outdir, series=ph.series_uids[1]).array.shape[0] == 8
        assert vda.load(ph.outdir, series=2).array.shape[0] == 8
    with pytest.raises(SeriesNotFoundError, match="not found"):
        vda.load(ph.outdir, series="1.2.3.4")


def test_progress_reports_headers_then_pixels_and_can_cancel(phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL)
    calls: list[tuple[int, int, str]] = []
    vda.load(ph.outdir, progress=lambda d, t, s: calls.append((d, t, s)))
    stages = [s for _d, _t, s in calls]
    assert stages[0] == "Reading headers" and stages[-1] == "Reading pixels"
    last = {s: (d, t) for d, t, s in calls}
    assert all(d == t for d, t in last.values())

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int, stage: str) -> None:
        if stage == "Reading pixels":
            raise Cancelled

    with pytest.raises(Cancelled):
        vda.load(ph.outdir, progress=cancel)


def test_metadata_and_field_of_view(phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL)
    vol = vda.load(ph.outdir)
    meta = vol.metadata
    assert meta["PatientID"] == "PHANTOM001" and meta["Modality"] == "CT"
    assert meta["WindowCenter"] == 40 and meta["WindowWidth"] == 400
    assert meta["SeriesDescription"] == "Phantom CT"
    assert vol.field_of_view == pytest.approx((24 * 8.0, 24 * 8.0, 10 * 10.0))
    assert all(isinstance(k, str) for k in meta)


def test_terminal_progress_bar_draws_on_a_tty(phantom_factory: Any, tmp_path: Path) -> None:
    """`info` shows a tqdm bar when stderr is a terminal (run under a pseudo-terminal)."""
    import os
    import pty

    ph = phantom_factory(**SMALL)
    root = Path(__file__).resolve().parents[1]
    pid, fd = pty.fork()
    if pid == 0:  # child: stderr is the pty (which reports no size: the bar must still draw)
        os.environ["PYTHONPATH"] = str(root)
        os.execv(sys.executable, [sys.executable, "-m", "vtkdicom_app", "info", str(ph.outdir)])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _pid, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "Reading headers" in text and "%|" in text


def test_python_dash_m_works() -> None:
    proc = subprocess.run([sys.executable, "-m", "vtkdicom_app", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "vtkdicom-app" in proc.stdout
