"""vtkdicom_app.net against a real Orthanc (DIMSE and DICOMweb), and faults from fake servers.

The Orthanc tests need the Debian packages orthanc and orthanc-dicomweb (scripts/setup-system.sh
installs them); without them they skip and say so. Faults Orthanc cannot produce on demand
(a server that stalls mid-transfer, one that sends another series) come from small pynetdicom
servers started in-process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.net_orthanc import LocalOrthanc, free_port, missing_reason, store_files

pytest.importorskip("pynetdicom", reason="pip install pynetdicom dicomweb-client (install_requires of vtkdicom_app)")
pytest.importorskip("dicomweb_client", reason="pip install pynetdicom dicomweb-client (install_requires of vtkdicom_app)")

import vtkdicom_app as vda  # noqa: E402
from vtkdicom_app import net  # noqa: E402
from vtkdicom_app.net.cli import add_pacs_parser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ORTHANC_MISSING = missing_reason()
needs_orthanc = pytest.mark.skipif(ORTHANC_MISSING is not None, reason=ORTHANC_MISSING or "")

ME = "VDATEST"  # our AE title, known to Orthanc (C-FIND/C-GET/C-MOVE allowed, C-MOVE destination)
USER, PASSWORD = "alice", "pw-Secret-7781"  # HTTP basic auth of the DICOMweb API
ENV_USER, ENV_PASSWORD = "VDA_TEST_PACS_USER", "VDA_TEST_PACS_PASSWORD"


# ---------------------------------------------------------------------------- fixtures
class Pacs:
    """A running Orthanc holding two phantom studies, and how to reach it."""

    def __init__(self, orthanc: LocalOrthanc, move_port: int, a: Any, b: Any) -> None:
        self.orthanc = orthanc
        self.move_port = move_port
        self.a = a  # PHANTOM001, 20260101, 64x64x16
        self.b = b  # OTHER002, 20240615, 32x32x4
        self.study_a = _study_uid(a)
        self.study_b = _study_uid(b)

    def server(self, **options: Any) -> net.ServerConfig:
        kwargs: dict[str, Any] = dict(
            host="127.0.0.1",
            port=self.orthanc.dicom_port,
            called_aet="ORTHANC",
            calling_aet=ME,
            url=self.orthanc.dicomweb_url,
            username_env=ENV_USER,
            password_env=ENV_PASSWORD,
            move_port=self.move_port,
            timeout=10.0,
        )
        kwargs.update(options)
        return net.ServerConfig.adhoc(**kwargs)


def _study_uid(res: Any) -> str:
    import pydicom

    return str(pydicom.dcmread(res.files[0], stop_before_pixels=True).StudyInstanceUID)


@pytest.fixture(scope="module")
def credentials() -> Iterator[None]:
    old = {k: os.environ.get(k) for k in (ENV_USER, ENV_PASSWORD)}
    os.environ[ENV_USER] = USER
    os.environ[ENV_PASSWORD] = PASSWORD
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _start(folder: Path, move_port: int) -> LocalOrthanc:
    # NOGET may query but not retrieve by C-GET (like a PACS that only offers C-MOVE)
    return LocalOrthanc(folder, modalities={ME: move_port, "NOGET": {"AllowGet": False}}, user=USER, password=PASSWORD).start()


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory, credentials: None) -> Iterator[Pacs]:
    if ORTHANC_MISSING:
        pytest.skip(ORTHANC_MISSING)
    from vtkdicom_app.phantom import write_phantom

    base = tmp_path_factory.mktemp("pacs")
    a = write_phantom(base / "a", rows=64, columns=64, slices=16)
    b = write_phantom(
        base / "b",
        rows=32,
        columns=32,
        slices=4,
        seed=1,
        patient_id="OTHER002",
        patient_name="Other^Patient",
        extra_tags={"StudyDate": "20240615", "AccessionNumber": "ACC0002"},
    )
    move_port = free_port()
    orthanc = _start(base / "orthanc", move_port)
    try:
        assert store_files("127.0.0.1", orthanc.dicom_port, "ORTHANC", a.files + b.files, calling_aet=ME) == 20
        yield Pacs(orthanc, move_port, a, b)
    finally:
        orthanc.stop()


def _assert_same_volume(folder: Any, reference: Path) -> None:
    got, ref = vda.load(folder), vda.load(reference)
    assert got.array.dtype == ref.array.dtype and np.array_equal(got.array, ref.array)
    assert got.spacing == pytest.approx(ref.spacing)
    assert got.origin == pytest.approx(ref.origin)
    np.testing.assert_allclose(got.direction, ref.direction)


def _no_partial_files(folder: Path) -> list[Path]:
    """Paths under folder that are not whole .dcm files under their final names."""
    bad = []
    for p in folder.rglob("*"):
        if p.is_file() and (p.name.startswith(".") or not p.name.endswith(".dcm")):
            bad.append(p)
    return bad


def _find(*args: Any, **kwargs: Any) -> list[Any]:
    return list(net.find(*args, **kwargs))


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, repr(text)
    return text


# ---------------------------------------------------------------------------- Orthanc: echo, find
@needs_orthanc
def test_echo_dimse_and_dicomweb(pacs: Pacs) -> None:
    s = pacs.server()
    assert 0 < net.echo(s, web=False) < 5
    assert 0 < net.echo(s, web=True) < 5


@needs_orthanc
@pytest.mark.parametrize("web", [False, True], ids=["c-find", "qido"])
def test_find_by_patient_id(pacs: Pacs, web: bool) -> None:
    s = pacs.server()
    studies = _find(s, patient_id="PHANTOM*", web=web)
    assert [r.study_uid for r in studies] == [pacs.study_a]
    st = studies[0]
    assert isinstance(st, net.StudyRecord)
    assert (st.patient_id, st.patient_name, st.study_date, st.modalities) == ("PHANTOM001", "Phantom^Test", "20260101", ("CT",))
    series = _find(s, level="series", patient_id="PHANTOM001", web=web)
    assert [r.series_uid for r in series] == pacs.a.series_uids
    assert isinstance(series[0], net.SeriesRecord) and series[0].n_instances == 16 and series[0].modality == "CT"
    patients = _find(s, level=net.QueryLevel.PATIENT, patient_name="Other*", web=web)
    assert [p.patient_id for p in patients] == ["OTHER002"]
    assert _find(s, patient_id="NOBODY", web=web) == []


@needs_orthanc
@pytest.mark.parametrize("web", [False, True], ids=["c-find", "qido"])
def test_find_by_date_range(pacs: Pacs, web: bool) -> None:
    s = pacs.server()
    uids = lambda text: sorted(r.study_uid for r in _find(s, study_date=text, web=web))  # noqa: E731
    assert uids("20260101-20261231") == [pacs.study_a]
    assert uids("-20250101") == [pacs.study_b]
    assert uids("20240101-") == sorted([pacs.study_a, pacs.study_b])
    assert uids("20240615") == [pacs.study_b]
    assert [r.study_uid for r in _find(s, accession_number="ACC0002", modality="CT", web=web)] == [pacs.study_b]


# ---------------------------------------------------------------------------- Orthanc: retrieve
@needs_orthanc
@pytest.mark.parametrize("method", list(net.RetrieveMethod), ids=lambda m: m.value)
def test_get_loads_like_the_original_and_resumes(pacs: Pacs, method: net.RetrieveMethod, tmp_path: Path) -> None:
    s = pacs.server()
    seen: list[tuple[int, int, str]] = []
    result = net.retrieve(s, pacs.study_a, method=method, cache_dir=tmp_path, progress=lambda d, t, st: seen.append((d, t, st)))
    assert Path(result.folder) == tmp_path / pacs.study_a
    assert (result.n_transferred, result.n_cached, result.n_instances) == (16, 0, 16)
    transfer = [(d, t) for d, t, st in seen if st != "listing instances"]
    assert transfer[-1] == (16, 16) and [d for d, _ in transfer] == sorted(d for d, _ in transfer)
    assert _no_partial_files(tmp_path) == []
    _assert_same_volume(result, pacs.a.outdir)  # the result is a path: vda.load reads it
    assert [s_.uid for s_ in vda.scan(result.folder)] == pacs.a.series_uids

    again = net.retrieve(s, pacs.study_a, method=method, cache_dir=tmp_path)
    assert (again.n_transferred, again.n_cached, again.bytes_transferred) == (0, 16, 0)

    series_folder = tmp_path / pacs.study_a / pacs.a.series_uids[0]
    removed = sorted(series_folder.iterdir())[::5]
    for p in removed:
        p.unlink()
    resumed = net.retrieve(s, pacs.study_a, pacs.a.series_uids[0], method=method, cache_dir=tmp_path)
    assert (resumed.n_transferred, resumed.n_cached) == (len(removed), 16 - len(removed))
    assert Path(resumed.folder) == series_folder
    _assert_same_volume(resumed, pacs.a.outdir)


@needs_orthanc
def test_cmove_scp_accepts_only_the_expected_association(pacs: Pacs, tmp_path: Path) -> None:
    from pynetdicom import AE

    s = pacs.server()
    outcome: list[bool] = []

    calls: list[tuple[int, int, str]] = []

    def intrude(done: int, total: int, stage: str) -> None:
        calls.append((done, total, stage))
        if stage == "C-MOVE" and done >= 1 and not outcome:  # our storage SCP is listening now
            ae = AE(ae_title="INTRUDER")
            ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2")
            ae.acse_timeout = 5
            assoc = ae.associate("127.0.0.1", pacs.move_port, ae_title=ME)
            outcome.append(assoc.is_rejected)  # rejected (not refused: the SCP is listening)
            if assoc.is_established:
                assoc.release()

    result = net.retrieve(s, pacs.study_b, method="move", cache_dir=tmp_path, progress=intrude)
    assert outcome == [True], calls
    assert result.n_transferred == 4
    _assert_same_volume(result, pacs.b.outdir)


def _kill_mid_transfer(tmp_path: Path, method: str, *, rows: int, slices: int, kill_at: int) -> tuple[str, LocalOrthanc]:
    """Retrieve a phantom study from a fresh Orthanc that is SIGKILLed once ``kill_at``
    instances are in the cache; returns the one-line error and the (stopped) server. Checks that the files kept are whole and that, the server
    restarted on the same storage, a second retrieve fetches only the rest."""
    from vtkdicom_app.phantom import write_phantom

    ph = write_phantom(tmp_path / "ph", rows=rows, columns=rows, slices=slices)
    move_port = free_port()
    orthanc = _start(tmp_path / "orthanc", move_port)
    try:
        orthanc.upload(ph.files)
        s = net.ServerConfig.adhoc(
            host="127.0.0.1",
            port=orthanc.dicom_port,
            called_aet="ORTHANC",
            calling_aet=ME,
            url=orthanc.dicomweb_url,
            username_env=ENV_USER,
            password_env=ENV_PASSWORD,
            move_port=move_port,
            timeout=5.0,
        )
        stage = {"get": "C-GET", "move": "C-MOVE", "web": "WADO-RS"}[method]

        def kill(done: int, total: int, st: str) -> None:
            if st == stage and done >= kill_at:
                orthanc.kill()

        cache = tmp_path / "cache"
        t0 = time.monotonic()
        with pytest.raises(net.PacsError) as info:
            net.retrieve(s, _study_uid(ph), method=method, cache_dir=cache, progress=kill)
        assert time.monotonic() - t0 < 8
        assert orthanc.proc is not None and orthanc.proc.poll() is not None, "the server was not killed: the transfer ended first"
        msg = _one_line(info.value)
        kept = _assert_whole_files(cache, ph, (rows, rows), kill_at)
        orthanc.start()  # same storage and ports: the rest only
        again = net.retrieve(s, _study_uid(ph), method=method, cache_dir=cache)
        assert (again.n_transferred, again.n_cached, again.n_instances) == (slices - kept, kept, slices)
        _assert_same_volume(again, ph.outdir)
        return msg, orthanc
    finally:
        orthanc.stop()


def _assert_whole_files(cache: Path, ph: Any, shape: tuple[int, int], at_least: int) -> int:
    """No temporary files left; every ``.dcm`` reads and has its original's pixels; returns how many."""
    import pydicom

    assert _no_partial_files(cache) == []
    kept = list(cache.rglob("*.dcm"))
    assert at_least <= len(kept) < len(ph.files)
    originals = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID: p for p in ph.files}
    for p in kept:  # whole files: each reads and has the original's pixel data
        ds = pydicom.dcmread(p)
        assert ds.pixel_array.shape == shape
        assert np.array_equal(ds.pixel_array, pydicom.dcmread(originals[ds.SOPInstanceUID]).pixel_array)
    return len(kept)


@needs_orthanc
def test_server_killed_mid_transfer_leaves_whole_files_only(tmp_path: Path, credentials: None) -> None:
    msg, orthanc = _kill_mid_transfer(tmp_path, "get", rows=64, slices=16, kill_at=3)
    assert f"127.0.0.1:{orthanc.dicom_port}" in msg and "check" in msg and "get again" in msg


@needs_orthanc
def test_server_killed_mid_cmove_leaves_whole_files_only(tmp_path: Path, credentials: None) -> None:
    msg, orthanc = _kill_mid_transfer(tmp_path, "move", rows=64, slices=16, kill_at=3)
    assert f"127.0.0.1:{orthanc.dicom_port}" in msg and "C-MOVE" in msg and "check" in msg and "get again" in msg


@needs_orthanc
def test_server_killed_mid_wado_rs_leaves_whole_files_only(tmp_path: Path, credentials: None) -> None:
    # WADO-RS streams without per-instance answers: the series (48 x 512 KiB) is far larger than
    # what the sockets buffer when the server dies after the first instance
    msg, orthanc = _kill_mid_transfer(tmp_path, "web", rows=512, slices=48, kill_at=1)
    assert orthanc.dicomweb_url in msg and "WADO-RS" in msg and "check" in msg and "get again" in msg


@needs_orthanc
def test_wrong_called_ae_title_is_rejected(pacs: Pacs) -> None:
    with pytest.raises(net.AssociationRejectedError) as info:
        net.echo(pacs.server(called_aet="NOT_ORTHANC"), web=False)
    msg = _one_line(info.value)
    assert "rejected the association" in msg and "NOT_ORTHANC" in msg and "called AE" in msg


@needs_orthanc
def test_cget_refused_suggests_cmove(pacs: Pacs, tmp_path: Path) -> None:
    s = pacs.server(calling_aet="NOGET")
    with pytest.raises(net.RetrieveRefusedError) as info:
        net.retrieve(s, pacs.study_a, pacs.a.series_uids[0], method="get", cache_dir=tmp_path)
    msg = _one_line(info.value)
    assert "refused C-GET" in msg and "--method move" in msg and "NOGET" in msg
    assert list(tmp_path.rglob("*.dcm")) == []


@needs_orthanc
def test_dicomweb_404_and_401(pacs: Pacs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_root = pacs.server(host=None, port=None, url=pacs.orthanc.url + "/no-dicom-web-here")
    with pytest.raises(net.PacsNotFoundError) as info:
        net.retrieve(wrong_root, pacs.study_a, method="web", cache_dir=tmp_path)
    msg = _one_line(info.value)
    assert "404" in msg and "/no-dicom-web-here" in msg and "check the URL" in msg

    with pytest.raises(net.PacsNotFoundError) as info:
        net.retrieve(pacs.server(), "1.2.3.4.5", method="web", cache_dir=tmp_path)
    assert "1.2.3.4.5" in _one_line(info.value)

    monkeypatch.setenv(ENV_PASSWORD, "wrong-password-123")
    with pytest.raises(net.PacsAuthError) as auth:
        _find(pacs.server(), patient_id="PHANTOM001", web=True)
    msg = _one_line(auth.value)
    assert "401" in msg and ENV_PASSWORD in msg and "wrong-password-123" not in msg
    monkeypatch.delenv(ENV_PASSWORD)
    with pytest.raises(net.ServerConfigError) as unset:
        net.echo(pacs.server(), web=True)
    assert ENV_PASSWORD in _one_line(unset.value)
    assert list(tmp_path.rglob("*.dcm")) == []
    # secrets never reach a log record, a repr or a message
    assert PASSWORD not in caplog.text and "wrong-password-123" not in caplog.text
    assert PASSWORD not in repr(pacs.server())


def test_unreachable_host(tmp_path: Path) -> None:
    s = net.ServerConfig.adhoc(host="127.0.0.1", port=free_port(), called_aet="NOBODY", timeout=3)
    with pytest.raises(net.PacsConnectionError) as info:
        net.retrieve(s, "1.2.3", "1.2.3.4", cache_dir=tmp_path)
    msg = _one_line(info.value)
    assert "cannot connect" in msg and "check host, port" in msg
    web = net.ServerConfig.adhoc(url=f"http://127.0.0.1:{free_port()}/dicom-web", timeout=3)
    with pytest.raises(net.PacsConnectionError) as info:
        _find(web, patient_id="X")
    assert "cannot connect" in _one_line(info.value)


# ---------------------------------------------------------------------------- fake servers
class FakePacs:
    """A pynetdicom Q/R SCP whose C-GET sends chosen datasets, optionally stalling."""

    def __init__(self, listing: list[Any], sent: list[Any], *, stall_after: int | None = None, stall_s: float = 0.0) -> None:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt

        from vtkdicom_app.net.dimse import STUDY_ROOT_FIND, STUDY_ROOT_GET
        from vtkdicom_app.phantom import CT_IMAGE_STORAGE

        self.listing, self.sent = listing, sent
        self.stall_after, self.stall_s = stall_after, stall_s
        self.stop_event = threading.Event()
        ae = AE(ae_title="FAKEPACS")
        ae.add_supported_context(STUDY_ROOT_FIND)
        ae.add_supported_context(STUDY_ROOT_GET)
        ae.add_supported_context(CT_IMAGE_STORAGE, ALL_TRANSFER_SYNTAXES, scu_role=True, scp_role=True)
        self.port = free_port()
        self.server: Any = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_FIND, self._find), (evt.EVT_C_GET, self._get)])
        self.ae = ae

    def _find(self, event: Any) -> Iterator[tuple[int, Any]]:
        from pydicom.dataset import Dataset

        level = event.identifier.QueryRetrieveLevel
        first = self.listing[0]
        if level in ("STUDY", "SERIES"):
            ds = Dataset()
            ds.QueryRetrieveLevel = level
            ds.StudyInstanceUID = first.StudyInstanceUID
            if level == "SERIES":
                ds.SeriesInstanceUID = first.SeriesInstanceUID
                ds.NumberOfSeriesRelatedInstances = len(self.listing)
            else:
                ds.SOPClassesInStudy = [first.SOPClassUID]
            yield 0xFF00, ds
            return
        for src in self.listing:
            ds = Dataset()
            ds.QueryRetrieveLevel = "IMAGE"
            for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "InstanceNumber"):
                setattr(ds, k, getattr(src, k))
            yield 0xFF00, ds

    def _get(self, event: Any) -> Iterator[Any]:
        yield len(self.sent)
        for n, ds in enumerate(self.sent):
            if self.stall_after is not None and n == self.stall_after:
                self.stop_event.wait(self.stall_s)
            yield 0xFF00, ds

    def server_config(self, timeout: float = 10.0) -> net.ServerConfig:
        return net.ServerConfig.adhoc(host="127.0.0.1", port=self.port, called_aet="FAKEPACS", calling_aet=ME, timeout=timeout)

    def close(self) -> None:
        self.stop_event.set()
        self.server.shutdown()


@pytest.fixture(scope="module")
def two_series(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], list[Any]]:
    import pydicom

    from vtkdicom_app.phantom import write_phantom

    base = tmp_path_factory.mktemp("fake")
    a = write_phantom(base / "a", rows=16, columns=16, slices=6)
    b = write_phantom(base / "b", rows=16, columns=16, slices=3, seed=7)
    return [pydicom.dcmread(f) for f in a.files], [pydicom.dcmread(f) for f in b.files]


def test_server_sending_another_series_is_refused(two_series: tuple[list[Any], list[Any]], tmp_path: Path) -> None:
    asked, other = two_series
    fake = FakePacs(listing=asked, sent=other)
    try:
        with pytest.raises(net.UnexpectedInstanceError) as info:
            net.retrieve(fake.server_config(), str(asked[0].StudyInstanceUID), str(asked[0].SeriesInstanceUID), cache_dir=tmp_path)
    finally:
        fake.close()
    msg = _one_line(info.value)
    assert str(other[0].SeriesInstanceUID) in msg and str(asked[0].SeriesInstanceUID) in msg and "not kept" in msg
    assert list(tmp_path.rglob("*.dcm")) == [] and _no_partial_files(tmp_path) == []


def test_timeout_mid_transfer(two_series: tuple[list[Any], list[Any]], tmp_path: Path) -> None:
    asked, _other = two_series
    fake = FakePacs(listing=asked, sent=asked, stall_after=2, stall_s=20)
    t0 = time.monotonic()
    try:
        with pytest.raises(net.TransferTimeoutError) as info:
            net.retrieve(fake.server_config(timeout=1.5), str(asked[0].StudyInstanceUID), str(asked[0].SeriesInstanceUID), cache_dir=tmp_path)
    finally:
        fake.close()
    assert time.monotonic() - t0 < 10
    msg = _one_line(info.value)
    assert "sent nothing for 1.5 s" in msg and "FAKEPACS" in msg and "2 of 6" in msg
    assert len(list(tmp_path.rglob("*.dcm"))) == 2 and _no_partial_files(tmp_path) == []


def test_cancel_from_the_progress_callback(two_series: tuple[list[Any], list[Any]], tmp_path: Path) -> None:
    asked, _other = two_series
    fake = FakePacs(listing=asked, sent=asked)

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int, stage: str) -> None:
        if stage == "C-GET" and done >= 2:
            raise Cancelled

    study, series = str(asked[0].StudyInstanceUID), str(asked[0].SeriesInstanceUID)
    try:
        with pytest.raises(Cancelled):
            net.retrieve(fake.server_config(), study, series, cache_dir=tmp_path, progress=cancel)
        assert _no_partial_files(tmp_path) == []
        kept = len(list(tmp_path.rglob("*.dcm")))
        assert 2 <= kept < 6
        rest = net.retrieve(fake.server_config(), study, series, cache_dir=tmp_path)
        assert (rest.n_transferred, rest.n_cached, rest.n_instances) == (6 - kept, kept, 6)
    finally:
        fake.close()


# ---------------------------------------------------------------------------- config, queries
def test_servers_toml_round_trip_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VTKDICOM_APP_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("CLOUD_TOKEN", "tok-very-secret-42")
    (tmp_path / "servers.toml").write_text(
        'calling_aet = "WORKSTATION1"\ndefault = "hospital"\n\n'
        '[servers.hospital]\nhost = "pacs.example.org"\nport = 104\ncalled_aet = "PACS"\nmethod = "move"\nmove_port = 11112\n\n'
        '[servers.cloud]\nurl = "https://dicomweb.example.org/dicom-web"\ntoken_env = "CLOUD_TOKEN"\ntimeout = 60\n'
    )
    assert net.config_path() == tmp_path / "servers.toml"
    cfg = net.load_servers()
    assert set(cfg.servers) == {"hospital", "cloud"}
    hospital = net.get_server()
    assert (hospital.name, hospital.port, hospital.calling_aet, hospital.default_method) == ("hospital", 104, "WORKSTATION1", net.RetrieveMethod.MOVE)
    cloud = net.get_server("cloud")
    assert cloud.default_method is net.RetrieveMethod.WEB and cloud.bearer_token() == "tok-very-secret-42"
    assert "tok-very-secret-42" not in repr(cloud) and "tok-very-secret-42" not in cloud.describe()
    out = net.save_servers(cfg, tmp_path / "copy.toml")
    text = out.read_text()
    assert "tok-very-secret-42" not in text and 'token_env = "CLOUD_TOKEN"' in text
    assert net.load_servers(out).servers == cfg.servers

    (tmp_path / "servers.toml").write_text('[servers.x]\nurl = "https://h/dicom-web"\npassword = "hunter2"\n')
    with pytest.raises(net.ServerConfigError) as info:
        net.load_servers()
    assert "hunter2" not in str(info.value) and "password_env" in str(info.value)
    (tmp_path / "servers.toml").write_text('[servers.x]\nurl = "https://bob:hunter2@h/dicom-web"\n')
    with pytest.raises(net.ServerConfigError) as info:
        net.load_servers()
    assert "hunter2" not in str(info.value) and "must not contain credentials" in str(info.value)
    with pytest.raises(net.ServerConfigError, match="bogus"):
        net.ServerConfig.from_mapping("y", {"host": "h", "port": 104, "bogus": 1})


def test_multipart_reader_yields_only_whole_parts() -> None:
    from vtkdicom_app.net.web import TruncatedMultipartError, multipart_parts

    ctype = 'multipart/related; type="application/dicom"; boundary="b0und"'
    parts = [b"first\r\n--b0un", b"", b"x" * 5000 + b"\r\n\r\n--"]
    body = b"preamble\r\n" + b"".join(b"--b0und\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts) + b"--b0und--\r\nepilogue"
    for size in (1, 2, 3, 7, 64, 1 << 20):  # every way the delimiters can straddle chunks
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        assert list(multipart_parts(chunks, ctype)) == parts, size
    cut = body[: body.index(b"--b0und--")]  # the server died before the closing delimiter
    got: list[bytes] = []
    with pytest.raises(TruncatedMultipartError):
        for part in multipart_parts([cut[i : i + 100] for i in range(0, len(cut), 100)], ctype):
            got.append(part)
    assert got == parts[:-1]  # the last part was not followed by a delimiter: never given
    with pytest.raises(TruncatedMultipartError):
        list(multipart_parts([body[: len(body) // 2]], ctype))
    with pytest.raises(ValueError, match="multipart/related"):
        list(multipart_parts([body], "application/dicom"))


def test_query_validation() -> None:
    assert str(net.parse_date_range("20240101-20241231")) == "20240101-20241231"
    assert str(net.parse_date_range("-20241231")) == "-20241231"
    assert str(net.parse_date_range("20240101-")) == "20240101-"
    assert str(net.parse_date_range("2024-01-01..2024-02-01")) == "20240101-20240201"
    assert str(net.parse_date_range("2024-03-05")) == "20240305"
    for bad in ("2024", "20241301", "20240201-20240101", "-"):
        with pytest.raises(net.QueryFailedError):
            net.parse_date_range(bad)
    with pytest.raises(net.QueryFailedError, match="not a DICOM UID"):
        net.Query(study_uid="../../etc")
    with pytest.raises(net.QueryFailedError):
        net.StudyCache("/tmp").series_folder("1.2", "1.2/../..")


# ---------------------------------------------------------------------------- command line
def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="vtkdicom-app")
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    add_pacs_parser(parser.add_subparsers(dest="command"))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:
        code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@needs_orthanc
def test_cli_echo_find_get(pacs: Pacs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dimse = ["--host", "127.0.0.1", "--port", str(pacs.orthanc.dicom_port), "--aet", "ORTHANC", "--calling-aet", ME]
    code, out, err = _cli(["pacs", "echo", *dimse], capsys)
    assert code == 0 and "answered C-ECHO" in out, err

    code, out, err = _cli(["pacs", "find", *dimse, "--patient-id", "PHANTOM*"], capsys)
    assert code == 0 and pacs.study_a in out and "PHANTOM001" in out and pacs.study_b not in out, err
    code, out, err = _cli(["pacs", "find", *dimse, "--level", "series", "--study-date", "20240101-20241231", "--json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert [r["series_uid"] for r in rows] == pacs.b.series_uids and rows[0]["n_instances"] == 4

    code, out, err = _cli(["pacs", "get", *dimse, "--patient-id", "OTHER002", "-o", str(tmp_path)], capsys)
    assert code == 0, err
    folder = Path(out.strip())
    assert folder == tmp_path / pacs.study_b and "4 instance(s) retrieved" in err
    _assert_same_volume(folder, pacs.b.outdir)

    web = ["--url", pacs.orthanc.dicomweb_url, "--user-env", ENV_USER, "--password-env", ENV_PASSWORD]
    code, out, err = _cli(["pacs", "get", *web, "--study", pacs.study_b, "--series", pacs.b.series_uids[0], "-o", str(tmp_path), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["n_transferred"] == 0 and json.loads(out)["n_cached"] == 4

    code, out, err = _cli(["pacs", "echo", "--host", "127.0.0.1", "--port", str(pacs.orthanc.dicom_port), "--aet", "WRONG"], capsys)
    assert code == 1 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and "WRONG" in err


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VTKDICOM_APP_CONFIG_DIR", str(tmp_path))
    assert _cli(["pacs"], capsys)[0] == 2
    assert _cli(["pacs", "find"], capsys)[0] == 2  # no server anywhere
    assert _cli(["pacs", "find", "--server", "x", "--host", "h", "--port", "1"], capsys)[0] == 2
    assert _cli(["pacs", "find", "--host", "h", "--port", "1", "--study-date", "yesterday"], capsys)[0] == 2
    assert _cli(["pacs", "get", "--host", "h", "--port", "1"], capsys)[0] == 2  # no study
    assert _cli(["pacs", "get", "--host", "h", "--port", "1", "--method", "fax"], capsys)[0] == 2
    code, _out, err = _cli(["pacs", "get", "--host", "127.0.0.1", "--port", str(free_port()), "--study", "1.2.3", "--timeout", "3"], capsys)
    assert code == 1 and err.count("\n") == 1 and "cannot connect" in err


def test_parser_imports_nothing_heavy() -> None:
    code = (
        "import argparse, sys\n"
        "from vtkdicom_app.net.cli import add_pacs_parser\n"
        "p = argparse.ArgumentParser(); add_pacs_parser(p.add_subparsers()); p.format_help()\n"
        "import vtkdicom_app.net\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {'pydicom', 'pynetdicom', 'numpy', 'requests', 'dicomweb_client', 'vtkmodules'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
