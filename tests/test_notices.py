"""Typed warning records: each loader warning carries its code and category from where it is found."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import pytest

import vtkdicom_app as vda
from vtkdicom_app.errors import GeometryWarning, SeriesSplitWarning, SkippedFileWarning, VtkDicomWarning
from vtkdicom_app.notices import Notice, NoticeCode, as_notice
from vtkdicom_app.phantom import write_phantom


def _codes(messages: list[str]) -> dict[NoticeCode, Notice]:
    out = {}
    for m in messages:
        assert isinstance(m, Notice), f"a plain string reached Volume.warnings: {m!r}"
        out[m.code] = m
    return out


def test_notice_is_its_message_and_pickles_with_its_fields() -> None:
    n = Notice("3 file(s) skipped", NoticeCode.FILES_SKIPPED, SkippedFileWarning)
    assert n == "3 file(s) skipped" and "skipped" in n and n.startswith("3 ")
    back = pickle.loads(pickle.dumps(n))
    assert type(back) is Notice and back.code is NoticeCode.FILES_SKIPPED and back.category is SkippedFileWarning
    assert as_notice(n) is n
    plain = as_notice("something", NoticeCode.GANTRY_TILT)
    assert plain.code is NoticeCode.GANTRY_TILT and plain.category is GeometryWarning


def test_gap_is_a_geometry_notice_emitted_as_geometry_warning(tmp_path: Path) -> None:
    write_phantom(tmp_path, rows=16, columns=16, slices=8, skip_slices=(3,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vol = vda.load(tmp_path)
    codes = _codes(vol.warnings)
    gap = codes[NoticeCode.IRREGULAR_SPACING]
    assert gap.category is GeometryWarning and "irregular slice spacing" in gap
    emitted = [w for w in caught if str(w.message) == str(gap)]
    assert len(emitted) == 1 and emitted[0].category is GeometryWarning


def test_tilt_corrected_replaces_the_tilt_notice_by_code(tmp_path: Path) -> None:
    write_phantom(tmp_path, rows=16, columns=16, slices=6, gantry_tilt_deg=12.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = vda.load(tmp_path)
        corrected = vda.load(tmp_path, correct_tilt=True)
    assert NoticeCode.GANTRY_TILT in _codes(plain.warnings)
    codes = _codes(corrected.warnings)
    assert NoticeCode.GANTRY_TILT not in codes
    assert codes[NoticeCode.TILT_CORRECTED].category is GeometryWarning


def test_skipped_and_no_meta_files_have_their_own_categories(tmp_path: Path) -> None:
    write_phantom(tmp_path, rows=16, columns=16, slices=6)
    files = sorted(p for p in tmp_path.iterdir() if p.suffix == ".dcm")
    # a truncated image: skipped
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 3])
    # a file without preamble and meta group: read, with a note
    import pydicom

    ds = pydicom.dcmread(files[-1])
    raw = tmp_path / "raw.dcm"
    ds.save_as(raw, enforce_file_format=False, implicit_vr=False, little_endian=True)
    stripped = raw.read_bytes()
    if stripped[128:132] == b"DICM":  # pydicom kept the meta: write the dataset alone
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_dataset

        buf = DicomBytesIO()
        buf.is_little_endian, buf.is_implicit_VR = True, False
        write_dataset(buf, ds)
        raw.write_bytes(buf.getvalue())
    os.remove(files[-1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vol = vda.load(tmp_path)
    codes = _codes(vol.warnings)
    assert codes[NoticeCode.FILES_SKIPPED].category is SkippedFileWarning
    assert codes[NoticeCode.NO_FILE_META].category is VtkDicomWarning
    by_text = {str(w.message): w.category for w in caught}
    assert by_text[str(codes[NoticeCode.FILES_SKIPPED])] is SkippedFileWarning
    assert by_text[str(codes[NoticeCode.NO_FILE_META])] is VtkDicomWarning


def test_two_series_note_is_a_series_split(tmp_path: Path) -> None:
    write_phantom(tmp_path, rows=16, columns=16, slices=6, n_series=2)
    with pytest.warns(SeriesSplitWarning) as record:
        vol = vda.load(tmp_path)
    note = _codes(vol.warnings)[NoticeCode.SERIES_SPLIT]
    assert "stacks; loaded the largest" in note
    assert any(str(r.message) == str(note) for r in record)
