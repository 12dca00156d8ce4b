"""Scan once: what scan() returns loads without a second header pass, and says what it skipped."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.io import header as header_module
from vtkdicom_app.phantom import write_phantom
from vtkdicom_app.phantom_mr import Classic4DStyle, write_classic_4d


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_load_from_a_scan_entry_reads_no_header_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_phantom(tmp_path, rows=32, columns=32, slices=8, n_series=2)
    (tmp_path / "notes.txt").write_text("not dicom")
    series = vda.scan(tmp_path)
    assert len(series) == 2 and [p for p, _r in series.ignored] == [str(tmp_path / "notes.txt")]
    reference = _quiet(vda.load, tmp_path, series=series[1].uid)
    calls = {"n": 0}
    real = header_module.read_header

    def counting(path: Any) -> Any:
        calls["n"] += 1
        return real(path)

    monkeypatch.setattr("vtkdicom_app.io.loader.read_header", counting)
    vol = _quiet(vda.load, series[1])
    assert calls["n"] == 0  # no header read a second time
    np.testing.assert_array_equal(vol.array, reference.array)
    assert vol.origin == reference.origin
    whole = _quiet(vda.load, series)  # the whole list: the largest series, as load(path) would
    assert whole.shape == (8, 32, 32) and calls["n"] == 0


def test_load_sequence_from_a_scan_entry(tmp_path: Path) -> None:
    res = write_classic_4d(tmp_path, style=Classic4DStyle.DTI_STANDARD)
    series = vda.scan(tmp_path)
    seq = _quiet(vda.load_sequence, series[0])
    assert len(seq) == len(res.volumes) and seq.axis == "diffusion"


def test_repeated_loads_from_one_scan_do_not_pile_up_warnings(tmp_path: Path) -> None:
    write_phantom(tmp_path, rows=32, columns=32, slices=8, n_series=2)
    series = vda.scan(tmp_path)
    first = _quiet(vda.load, series)
    second = _quiet(vda.load, series)
    assert first.warnings == second.warnings


def test_read_without_meta_note_belongs_to_its_series_only(tmp_path: Path) -> None:
    ph = write_phantom(tmp_path, rows=32, columns=32, slices=8, n_series=2)
    victim = ph.series_files[1][2]
    data = victim.read_bytes()
    victim.write_bytes(data[132:])  # no preamble: read with a note
    series = vda.scan(tmp_path)
    with_note = [s for s in series if any("read without" in w for w in s.warnings)]
    assert len(with_note) == 1 and str(victim) in with_note[0].files


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1MB", 1 << 20), ("500K", 500 << 10), ("1.5 GiB", int(1.5 * (1 << 30))), ("2g", 2 << 30), ("1048576", 1048576)],
)
def test_memory_limit_accepts_sizes_with_units(monkeypatch: pytest.MonkeyPatch, text: str, expected: int) -> None:
    from vtkdicom_app.io.pixels import memory_limit_bytes

    monkeypatch.setenv("VTKDICOM_APP_MEMORY_LIMIT", text)
    assert memory_limit_bytes() == expected


def test_memory_limit_rejects_nonsense_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from vtkdicom_app.io.pixels import memory_limit_bytes

    monkeypatch.setenv("VTKDICOM_APP_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="VTKDICOM_APP_MEMORY_LIMIT = 'lots' is not a size"):
        memory_limit_bytes()


def test_decode_error_keeps_every_plugin_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pydicom lists each plugin's failure on its own line; the message keeps them all."""
    import pydicom

    from vtkdicom_app.errors import DicomReadError
    from vtkdicom_app.phantom import TransferSyntax

    write_phantom(tmp_path, rows=16, columns=16, slices=2, transfer_syntax=TransferSyntax.RLE)

    def broken(self: Any) -> Any:
        raise RuntimeError("Unable to decode the pixel data:\n  pylibjpeg: reason one\n  gdcm: reason two")

    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(broken))
    with pytest.raises(DicomReadError, match="pylibjpeg: reason one gdcm: reason two"):
        _quiet(vda.load, tmp_path)
