"""The hardening corpus (issue 8): files broken at every structural boundary and in every
field the loader reads. Each case: the documented behaviour, a message naming the file
(and the tag where there is one), and the rest of the series still loads.

The table of cases is in tests/BAD_INPUT.md.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

import vtkdicom_app as vda
from vtkdicom_app.errors import GeometryError, MemoryLimitError, SkippedFileWarning

SMALL: dict[str, Any] = dict(rows=16, columns=16, slices=8, pixel_spacing=(8.0, 8.0), slice_spacing=8.0)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def series(phantom_factory: Any, tmp_path: Path) -> tuple[Path, list[Path], vda.Volume]:
    ph = phantom_factory(**SMALL)
    folder = tmp_path / "s"
    shutil.copytree(ph.outdir, folder)
    files = sorted(folder.iterdir())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = vda.load(ph.outdir)
    return folder, files, ref


def _element_offset(data: bytes, tag: tuple[int, int]) -> int:
    """Byte offset of an explicit-VR-LE element header in a file."""
    key = struct.pack("<HH", *tag)
    pos = data.find(key, 132)
    assert pos > 0, f"tag {tag} not found"
    return pos


def _load_rest(folder: Path, n_expected: int, match: str) -> vda.Volume:
    with pytest.warns(SkippedFileWarning) as caught:
        vol = vda.load(folder)
    messages = " | ".join(str(w.message) for w in caught)
    assert match in messages, messages
    assert vol.array.shape[0] == n_expected
    return vol


TRUNCATIONS: dict[str, Callable[[bytes], int]] = {
    "inside the preamble": lambda d: 60,
    "after DICM": lambda d: 132,
    "inside the file meta": lambda d: 132 + 30,
    "inside a data element header": lambda d: _element_offset(d, (0x0020, 0x0032)) + 5,
    "inside a data element value": lambda d: _element_offset(d, (0x0020, 0x0032)) + 10,
    "just before the pixel data": lambda d: _element_offset(d, (0x7FE0, 0x0010)),
    "inside the pixel data": lambda d: len(d) - 100,
}


@pytest.mark.parametrize("where", list(TRUNCATIONS))
def test_truncated_at_every_structural_boundary(series: Any, where: str) -> None:
    folder, files, ref = series
    victim = files[3]
    data = victim.read_bytes()
    victim.write_bytes(data[: TRUNCATIONS[where](data)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vol = vda.load(folder)
    assert vol.array.shape[0] == len(files) - 1, where
    text = " ".join(str(w.message) for w in caught)
    assert "skipped" in text or "not DICOM" in text or victim.name in text or "irregular" in text, text
    assert not np.isnan(vol.array.astype(float)).any()


def test_wrong_vr_bytes_fall_back_to_pydicom_and_load(series: Any) -> None:
    folder, files, ref = series
    victim = files[2]
    data = bytearray(victim.read_bytes())
    pos = _element_offset(bytes(data), (0x0018, 0x0050))  # SliceThickness DS -> nonsense VR
    data[pos + 4 : pos + 6] = b"Q?"
    victim.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vol = vda.load(folder)
    assert np.array_equal(vol.array, ref.array)


def test_lengths_past_the_end_and_huge_lengths_are_skipped(series: Any) -> None:
    folder, files, ref = series
    for victim, length in ((files[1], 0x00FFFFF0), (files[5], 0xFFFFFFF0)):
        data = bytearray(victim.read_bytes())
        pos = _element_offset(bytes(data), (0x0008, 0x0070))  # Manufacturer LO: 2-byte length
        data[pos + 4 : pos + 8] = b"OB\x00\x00"  # turn it into a long-length VR...
        data[pos + 8 : pos + 12] = struct.pack("<I", length)  # ...declaring a huge value
        victim.write_bytes(bytes(data))
    _load_rest(folder, len(files) - 2, "skipped")


def test_undefined_length_private_sequences_are_skipped_over(series: Any) -> None:
    folder, files, ref = series
    for victim in files:
        ds = pydicom.dcmread(victim)
        block = ds.private_block(0x0029, "VTKDICOM TEST", create=True)
        inner = pydicom.Dataset()
        inner.add_new(0x00291010, "LO", "inside")
        nested = pydicom.Dataset()
        nested.add_new(0x00291011, "SQ", pydicom.Sequence([pydicom.Dataset()]))
        block.add_new(0x10, "SQ", pydicom.Sequence([inner, nested]))
        ds[0x00291010].value.is_undefined_length = True
        ds.save_as(victim)
    vol = vda.load(folder)
    assert np.array_equal(vol.array, ref.array)


def test_rows_columns_not_matching_the_pixel_bytes(series: Any) -> None:
    folder, files, ref = series
    ds = pydicom.dcmread(files[4])
    ds.Rows = 20  # the pixel data still holds 16 x 16
    ds.save_as(files[4])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vol = vda.load(folder)
    text = " ".join(str(w.message) for w in caught)
    assert "PixelData (7FE0,0010) holds" in text and files[4].name in text
    assert vol.array.shape[0] == len(files) - 1


@pytest.mark.parametrize("spacing", [[0.0, 8.0], [-8.0, 8.0]], ids=["zero", "negative"])
def test_zero_or_negative_pixel_spacing_is_an_error_naming_the_tag(series: Any, spacing: list[float]) -> None:
    folder, files, _ = series
    for f in files:
        ds = pydicom.dcmread(f)
        ds.PixelSpacing = spacing
        ds.save_as(f)
    with pytest.raises(GeometryError, match=r"PixelSpacing \(0028,0030\).*must be positive"):
        vda.load(folder)


def test_nan_in_positions_is_an_error_naming_the_tag(series: Any) -> None:
    folder, files, _ = series
    data = bytearray(files[2].read_bytes())
    pos = _element_offset(bytes(data), (0x0020, 0x0032))
    length = struct.unpack_from("<H", data, pos + 6)[0]
    value = b"nan\\nan\\nan".ljust(length, b" ")[:length]
    data[pos + 8 : pos + 8 + length] = value
    files[2].write_bytes(bytes(data))
    with pytest.raises(GeometryError, match=r"ImagePositionPatient \(0020,0032\).*not finite"):
        vda.load(folder)


@pytest.mark.parametrize(
    ("charset", "name"),
    [("ISO_IR 100", "Müller^Jürgen"), ("ISO_IR 192", "山田^太郎"), ("ISO 2022 IR 87", "Yamada^Tarou=山田^太郎")],
    ids=["latin1", "utf8", "iso2022"],
)
def test_non_ascii_and_odd_character_sets(series: Any, charset: str, name: str) -> None:
    folder, files, ref = series
    for f in files:
        ds = pydicom.dcmread(f)
        ds.SpecificCharacterSet = charset
        ds.PatientName = name
        ds.save_as(f)
    vol = vda.load(folder)
    assert np.array_equal(vol.array, ref.array)
    assert str(vol.metadata["PatientName"]).split("=")[0] == name.split("=")[0]


def test_files_that_are_not_dicom_at_all_are_ignored(series: Any) -> None:
    folder, files, ref = series
    (folder / "notes.txt").write_text("hello")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(100))
    (folder / "archive.zip").write_bytes(b"PK\x03\x04" + os.urandom(100))
    (folder / ".DS_Store").write_bytes(os.urandom(64))
    vol = vda.load(folder)
    assert np.array_equal(vol.array, ref.array)
    assert len(vda.scan(folder)) == 1


def test_a_huge_declared_volume_is_refused_before_allocating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1024 x 1024 x 1000 (2 GB) in one multi-frame file, written sparse: refused cleanly."""
    from vtkdicom_app.phantom import MultiFrame, write_phantom

    res = write_phantom(tmp_path / "seed", rows=8, columns=8, slices=2, pixel_spacing=(1.0, 1.0), slice_spacing=1.0, multiframe=MultiFrame.CLASSIC)
    ds = pydicom.dcmread(res.files[0])
    ds.Rows, ds.Columns, ds.NumberOfFrames = 1024, 1024, 1000
    ds.GridFrameOffsetVector = [float(k) for k in range(1000)]
    ds.PixelData = b""  # header only; the 2 GB of pixels become a hole in a sparse file
    big = tmp_path / "big" / "huge.dcm"
    big.parent.mkdir()
    ds.save_as(big)
    data = big.read_bytes()
    # patch the (empty) PixelData length to 2 GB and extend the file sparsely
    pos = data.rfind(b"\xe0\x7f\x10\x00")
    need = 1024 * 1024 * 1000 * 2
    with open(big, "r+b") as fh:
        fh.seek(pos + 8)
        fh.write(struct.pack("<I", need))
        fh.truncate(len(data) + need)
    monkeypatch.setenv("VTKDICOM_APP_MEMORY_LIMIT", "1G")
    with pytest.raises(MemoryLimitError, match=r"needs 2000 MiB \(1000 x 1024 x 1024 x 2 = 2097152000 bytes\)"):
        vda.load(big.parent)


def test_loading_never_writes_into_the_input(series: Any) -> None:
    from .conftest import tree_fingerprint

    folder, files, _ = series
    before = tree_fingerprint(folder)
    os.chmod(folder, 0o555)
    try:
        vda.scan(folder)
        vda.load(folder)
    finally:
        os.chmod(folder, 0o755)
    assert tree_fingerprint(folder) == before


def test_patient_name_never_reaches_logs_or_exports(series: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    folder, files, _ = series
    caplog.set_level(logging.DEBUG)
    vol = vda.load(folder)
    assert "Phantom^Test" not in caplog.text
    mesh = vda.extract_surface(vol, threshold=500.0)
    report = vda.export_mesh(mesh, tmp_path / "m.stl")
    assert b"Phantom" not in (tmp_path / "m.stl").read_bytes()
    assert "Phantom" not in json.dumps(report.as_dict())
    from vtkdicom_app.rendering import VolumeScene

    png = tmp_path / "r.png"
    VolumeScene(vol, size=(64, 64)).screenshot(png)
    assert b"Phantom" not in png.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "info", str(folder), "--anonymize"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0 and "Phantom^Test" not in proc.stdout and "PHANTOM001" not in proc.stdout


def test_presets_are_data_validated_never_code(tmp_path: Path) -> None:
    import json
    from importlib import resources

    for name in ("surface_presets.json", "volume_presets.json", "wl_presets.json"):
        text = resources.files("vtkdicom_app").joinpath(f"data/{name}").read_text()
        json.loads(text)  # plain JSON
        assert "import" not in text and "__" not in text
    from vtkdicom_app.surface import load_surface_presets

    assert all(isinstance(p.lower, (float, type(None))) for p in load_surface_presets().values())
