"""Every loading row of the bad-input table (tests/BAD_INPUT.md), built from valid phantoms.

| input | expected |
|---|---|
| shuffled names, no suffix, reversed InstanceNumber | identical volume |
| feet-first / descending positions | same patient-space result, det > 0 |
| several series / a localizer in one folder | separate series, main stack loads, warning names the split |
| duplicate positions | dropped with a warning |
| missing middle slice, irregular spacing | warning with location and size of the gap |
| gantry tilt | warning with the angle; corrected by resampling on request |
| non-orthogonal or non-unit orientation | GeometryError naming the tag |
| Rows/Columns/PixelSpacing vary | split, warning naming the tag |
| per-slice slope/intercept, signed data, BitsStored < BitsAllocated | exact real-world values |
| PixelPaddingValue | `Volume.padding_value` (real-world value); metadata keeps the stored value |
| MONOCHROME1 | values unchanged, metadata says invert the display |
| (enhanced) multi-frame | same volume as the single-frame equivalent |
| compressed syntaxes, big endian, deflate | decoded; without a decoder an error names syntax and package |
| no preamble / no file meta | read with a warning |
| truncated, empty, random bytes, JPEG named .dcm | skipped with a reason; the rest loads; reported |
| SR, RTSTRUCT, PR, SEG, DICOMDIR mixed in | not slices |
| missing IPP/IOP | warning; geometry unknown |
| larger than memory allows | MemoryLimitError before allocating |
| input files | never modified |
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

import vtkdicom_app as vda
from vtkdicom_app.errors import (
    GeometryError,
    GeometryWarning,
    MemoryLimitError,
    NotDicomError,
    SeriesSplitWarning,
    SkippedFileWarning,
)
from vtkdicom_app.phantom import MultiFrame, PhantomOrientation, TransferSyntax

from .conftest import tree_fingerprint

SMALL: dict[str, Any] = dict(rows=32, columns=32, slices=16, pixel_spacing=(6.0, 6.0), slice_spacing=8.0)
ROOT = Path(__file__).resolve().parents[1]


def _copy(ph: Any, dest: Path) -> Path:
    shutil.copytree(ph.outdir, dest)
    return dest


def _load_quiet(path: Any, **kw: Any) -> vda.Volume:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vda.load(path, **kw)


def _edit(path: Path, **changes: Any) -> None:
    ds = pydicom.dcmread(path)
    for key, value in changes.items():
        if value is None:
            if key in ds:
                delattr(ds, key)
        else:
            setattr(ds, key, value)
    ds.save_as(path)


@pytest.fixture(scope="module")
def reference(phantom_factory: Any) -> vda.Volume:
    return _load_quiet(phantom_factory(**SMALL).outdir)


def test_names_suffix_and_instance_numbers_do_not_matter(phantom_factory: Any, reference: vda.Volume) -> None:
    for opts in (dict(shuffle_names=True), dict(shuffle_names=True, suffix=""), dict(reverse_instance_numbers=True)):
        vol = vda.load(phantom_factory(**SMALL, **opts).outdir)
        assert np.array_equal(vol.array, reference.array), opts
        assert vol.origin == reference.origin and vol.spacing == reference.spacing


def test_feet_first_gives_the_same_patient_space_result(phantom_factory: Any, reference: vda.Volume) -> None:
    vol = vda.load(phantom_factory(**SMALL, feet_first=True).outdir)
    assert np.linalg.det(vol.direction) > 0
    assert np.array_equal(vol.array, reference.array)
    np.testing.assert_allclose(vol.index_to_patient((3, 4, 5)), reference.index_to_patient((3, 4, 5)), atol=1e-4)


def test_several_series_in_one_folder(phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL, n_series=2)
    series = vda.scan(ph.outdir)
    assert len(series) == 2 and len({s.uid for s in series}) == 2
    with pytest.warns(SeriesSplitWarning, match="holds 2 stacks"):
        vol = vda.load(ph.outdir)
    assert vol.metadata["SeriesInstanceUID"] in {s.uid for s in series}
    other = next(s for s in series if s.uid != vol.metadata["SeriesInstanceUID"])
    assert _load_quiet(ph.outdir, series=other.uid).metadata["SeriesInstanceUID"] == other.uid


def test_localizer_in_the_series_is_split_off(phantom_factory: Any, tmp_path: Path, reference: vda.Volume) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    first = sorted(folder.iterdir())[0]
    scout = folder / "scout.dcm"
    shutil.copy(first, scout)
    _edit(
        scout,
        ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"],
        ImageOrientationPatient=[1, 0, 0, 0, 0, -1],
        SOPInstanceUID=pydicom.uid.generate_uid(),
    )
    series = vda.scan(folder)
    assert len(series) == 2
    assert any(s.is_localizer for s in series)
    with pytest.warns(SeriesSplitWarning, match="ImageOrientationPatient"):
        vol = vda.load(folder)
    assert np.array_equal(vol.array, reference.array)


def test_duplicate_positions_are_dropped_with_a_warning(phantom_factory: Any, tmp_path: Path, reference: vda.Volume) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    victim = sorted(folder.iterdir())[5]
    shutil.copy(victim, folder / "copy_of_slice.dcm")
    with pytest.warns(SeriesSplitWarning, match="duplicate positions dropped"):
        vol = vda.load(folder)
    assert np.array_equal(vol.array, reference.array)


def test_missing_middle_slice_is_reported_with_location_and_size(phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL, skip_slices=(7,))
    with pytest.warns(GeometryWarning, match=r"16\.000 mm between slices 6 and 7.*expected 8\.000 mm, about 1 missing"):
        vol = vda.load(ph.outdir)
    assert vol.array.shape[0] == SMALL["slices"] - 1


def test_gantry_tilt_is_detected_and_corrected_on_request(phantom_factory: Any) -> None:
    ph = phantom_factory(rows=64, columns=64, slices=32, pixel_spacing=(3.0, 3.0), slice_spacing=3.0, gantry_tilt_deg=15.0)
    with pytest.warns(GeometryWarning, match=r"gantry tilt of 15\.0\d degrees"):
        sheared = vda.load(ph.outdir)
    assert sheared.gantry_tilt_deg == pytest.approx(15.0, abs=0.05) and not sheared.tilt_corrected
    corrected = _load_quiet(ph.outdir, correct_tilt=True)
    assert corrected.tilt_corrected is True
    # after correction the marker and the sphere sit where the model put them
    spec = ph.spec
    for vol, expect_ok in ((corrected, True), (sheared, False)):
        kji = np.argwhere(vol.array >= spec.marker_hu - 50)
        centre = vol.index_to_patient(kji[:, ::-1]).mean(axis=0)
        ok = np.linalg.norm(centre - np.asarray(spec.marker_center)) < 3.0
        assert ok == expect_ok, (centre, spec.marker_center)


@pytest.mark.parametrize(
    ("iop", "match"),
    [
        ([1, 0, 0, 0.173648, 0.984808, 0], "not orthogonal"),  # unit vectors 80 degrees apart
        ([2, 0, 0, 0, 1, 0], "not made of unit vectors"),
    ],
)
def test_bad_orientation_is_an_error_naming_the_tag(phantom_factory: Any, tmp_path: Path, iop: list[float], match: str) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    for f in folder.iterdir():
        _edit(f, ImageOrientationPatient=iop)
    with pytest.raises(GeometryError, match=rf"ImageOrientationPatient \(0020,0037\).*{match}"):
        vda.load(folder)


def _resize(path: Path, rows: int, columns: int) -> None:
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array[:rows, :columns]
    ds.Rows, ds.Columns = arr.shape
    ds.PixelData = np.ascontiguousarray(arr).tobytes()
    ds.save_as(path)


def test_varying_size_splits_and_names_the_tag(phantom_factory: Any, tmp_path: Path) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    odd = sorted(folder.iterdir())[3]
    _resize(odd, 20, 32)
    with pytest.warns(SeriesSplitWarning, match="Rows"):
        vol = vda.load(folder)
    assert vol.array.shape == (SMALL["slices"] - 1, 32, 32)


def test_varying_pixel_spacing_splits_and_names_the_tag(phantom_factory: Any, tmp_path: Path) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    odd = sorted(folder.iterdir())[3]
    _edit(odd, PixelSpacing=[5.0, 5.0])
    with pytest.warns(SeriesSplitWarning, match="PixelSpacing"):
        vol = vda.load(folder)
    assert vol.array.shape[0] == SMALL["slices"] - 1


def test_per_slice_rescale_gives_exact_values(phantom_factory: Any, tmp_path: Path, reference: vda.Volume) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    files = sorted(folder.iterdir())
    # slice-dependent integer slope/intercept, stored values rewritten so HU stay the same
    for n, f in enumerate(files):
        ds = pydicom.dcmread(f)
        hu = ds.pixel_array.astype(np.int64) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
        slope, intercept = (1, -2000 + 10 * n) if n % 2 else (2, -1000)
        stored = (hu - intercept) // slope if slope == 2 else hu - intercept
        if slope == 2:
            hu_exact = stored * 2 + intercept
            ds.RescaleSlope, ds.RescaleIntercept = 2, intercept
        else:
            hu_exact = hu
            ds.RescaleSlope, ds.RescaleIntercept = 1, intercept
        ds.BitsStored, ds.HighBit = 16, 15
        ds.PixelData = stored.astype(np.uint16).tobytes()
        ds.save_as(f)
        np.save(tmp_path / f"hu_{f.name}.npy", hu_exact)
    vol = vda.load(folder)
    assert vol.array.dtype == np.int16
    for f in files:
        expected = np.load(tmp_path / f"hu_{f.name}.npy")
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        k = int(round(vol.patient_to_index([float(v) for v in ds.ImagePositionPatient])[2]))
        assert np.array_equal(vol.array[k], expected)
    # a non-integer slope gives float32 with the exact products
    f = files[0]
    ds = pydicom.dcmread(f)
    ds.RescaleSlope = 0.5
    ds.save_as(f)
    vol = _load_quiet(folder)
    assert vol.array.dtype == np.float32


def test_signed_data_with_fewer_stored_bits(tmp_path: Path, phantom_factory: Any) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    expected = {}
    for f in sorted(folder.iterdir()):
        ds = pydicom.dcmread(f)
        hu = ds.pixel_array.astype(np.int32) + int(ds.RescaleIntercept)
        # store HU directly as 12-bit two's complement with junk above bit 11 (sign-extension test)
        hu = np.clip(hu, -2048, 2047)
        raw = (hu & 0x0FFF) | 0x5000
        ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 1, 12, 11
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = raw.astype(np.uint16).tobytes()
        ds.save_as(f)
        expected[f.name] = hu
    vol = vda.load(folder)
    assert vol.array.min() < 0
    for f in folder.iterdir():
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        k = int(round(vol.patient_to_index([float(v) for v in ds.ImagePositionPatient])[2]))
        assert np.array_equal(vol.array[k], expected[f.name])


def test_unsigned_high_bits_are_masked(tmp_path: Path, phantom_factory: Any, reference: vda.Volume) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    for f in folder.iterdir():
        ds = pydicom.dcmread(f)
        assert ds.BitsStored == 12 and ds.PixelRepresentation == 0
        ds.PixelData = (ds.pixel_array.astype(np.uint16) | 0xA000).tobytes()  # overlay bits above bit 11
        ds.save_as(f)
    assert np.array_equal(vda.load(folder).array, reference.array)


def test_pixel_padding_and_monochrome1_are_reported(tmp_path: Path, phantom_factory: Any, reference: vda.Volume) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    for f in folder.iterdir():
        ds = pydicom.dcmread(f)
        ds.add_new(0x00280120, "US", 0)  # PixelPaddingValue
        ds.PhotometricInterpretation = "MONOCHROME1"
        ds.save_as(f)
    vol = vda.load(folder)
    assert vol.padding_value == -1024.0  # stored 0 with intercept -1024
    assert vol.metadata["PixelPaddingValue"] == 0  # metadata holds the DICOM value
    assert vol.invert_display is True and "invert_display" not in vol.metadata
    assert np.array_equal(vol.array, reference.array)  # values unchanged


@pytest.mark.parametrize("kind", [MultiFrame.ENHANCED, MultiFrame.CLASSIC])
def test_multiframe_equals_single_frame(phantom_factory: Any, reference: vda.Volume, kind: MultiFrame) -> None:
    vol = vda.load(phantom_factory(**SMALL, multiframe=kind).outdir)
    assert np.array_equal(vol.array, reference.array)
    np.testing.assert_allclose(vol.origin, reference.origin, atol=1e-4)
    np.testing.assert_allclose(vol.spacing, reference.spacing, atol=1e-4)
    np.testing.assert_allclose(vol.direction, reference.direction, atol=1e-6)


def test_oblique_enhanced_multiframe_equals_single_frame(phantom_factory: Any) -> None:
    single = vda.load(phantom_factory(**SMALL, orientation=PhantomOrientation.OBLIQUE).outdir)
    multi = vda.load(phantom_factory(**SMALL, orientation=PhantomOrientation.OBLIQUE, multiframe=MultiFrame.ENHANCED).outdir)
    assert np.array_equal(single.array, multi.array)
    np.testing.assert_allclose(multi.direction, single.direction, atol=1e-6)


@pytest.mark.parametrize("syntax", [t for t in TransferSyntax if t is not TransferSyntax.EXPLICIT_LITTLE], ids=lambda t: t.name)
def test_transfer_syntaxes_decode_to_the_same_volume(phantom_factory: Any, reference: vda.Volume, syntax: TransferSyntax) -> None:
    vol = vda.load(phantom_factory(**SMALL, transfer_syntax=syntax).outdir)
    assert np.array_equal(vol.array, reference.array)


_BLOCK_DECODERS = """
import sys
for name in ("pylibjpeg", "openjpeg", "libjpeg", "gdcm", "PIL", "rle", "jpeg_ls", "pyjpegls"):
    sys.modules[name] = None  # make the decoder packages unimportable in this process
import vtkdicom_app as vda
from vtkdicom_app.errors import DecoderMissingError
try:
    vda.load(sys.argv[1])
except DecoderMissingError as exc:
    print("MISSING:", exc)
"""


def test_missing_decoder_names_the_syntax_and_the_package(phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL, transfer_syntax=TransferSyntax.JPEG2000_LOSSLESS)
    proc = subprocess.run(
        [sys.executable, "-c", _BLOCK_DECODERS, str(ph.outdir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "MISSING:" in proc.stdout, proc.stdout + proc.stderr
    assert "1.2.840.10008.1.2.4.90" in proc.stdout and "pylibjpeg-openjpeg" in proc.stdout


def test_files_without_preamble_or_meta_are_read_with_a_warning(tmp_path: Path, phantom_factory: Any, reference: vda.Volume) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    files = sorted(folder.iterdir())
    no_preamble, no_meta = files[2], files[4]
    data = no_preamble.read_bytes()
    no_preamble.write_bytes(data[132:])  # no preamble, no "DICM": starts with the meta group
    ds = pydicom.dcmread(no_meta)
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.save_as(no_meta, enforce_file_format=False, implicit_vr=True, little_endian=True)
    raw = no_meta.read_bytes()
    if raw[128:132] == b"DICM":
        no_meta.write_bytes(raw[132:])
    with pytest.warns(Warning, match="without"):
        vol = vda.load(folder)
    assert np.array_equal(vol.array, reference.array)


def test_broken_files_are_skipped_with_a_reason(tmp_path: Path, phantom_factory: Any) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    files = sorted(folder.iterdir())
    data = files[-1].read_bytes()
    files[-1].write_bytes(data[: len(data) - 500])  # truncated pixel data
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "random.dcm").write_bytes(np.random.default_rng(1).bytes(4000))
    (folder / "photo.dcm").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200)
    with pytest.warns(SkippedFileWarning, match="truncated pixel data"):
        vol = vda.load(folder)
    assert vol.array.shape[0] == SMALL["slices"] - 1
    assert any("skipped" in w for w in vol.warnings)
    result = vda.scan(folder)
    assert len(result) == 1


def test_non_image_objects_are_not_treated_as_slices(tmp_path: Path, phantom_factory: Any, reference: vda.Volume) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    for name in ("rtstruct.dcm", "liver_1frame.dcm"):  # RT structure set, SEG
        src = get_testdata_file(name)
        assert src is not None
        shutil.copy(src, folder / name)
    shutil.copy(get_testdata_file("DICOMDIR"), folder / "DICOMDIR")
    sr = pydicom.Dataset()
    sr.file_meta = pydicom.dataset.FileMetaDataset()
    sr.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    sr.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    sr.SOPInstanceUID = pydicom.uid.generate_uid()
    sr.SeriesInstanceUID = pydicom.uid.generate_uid()
    sr.Modality = "SR"
    sr.save_as(folder / "report.dcm", enforce_file_format=True)
    series = vda.scan(folder)
    assert len(series) == 1
    assert np.array_equal(vda.load(folder).array, reference.array)


def test_missing_position_and_orientation_mark_geometry_unknown(tmp_path: Path, phantom_factory: Any) -> None:
    folder = _copy(phantom_factory(**SMALL), tmp_path / "s")
    for f in folder.iterdir():
        _edit(f, ImagePositionPatient=None, ImageOrientationPatient=None)
    with pytest.warns(GeometryWarning, match="geometry unknown"):
        vol = vda.load(folder)
    assert vol.geometry_known is False
    assert vol.array.shape == (SMALL["slices"], 32, 32)


def test_too_large_a_volume_is_refused_before_allocating(phantom_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ph = phantom_factory(**SMALL)
    monkeypatch.setenv("VTKDICOM_APP_MEMORY_LIMIT", "10K")
    with pytest.raises(MemoryLimitError, match=r"needs 0 MiB|needs \d+ MiB") as info:
        vda.load(ph.outdir)
    assert "16 x 32 x 32" in str(info.value)


def test_loading_never_modifies_the_input(phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL, shuffle_names=True)
    before = tree_fingerprint(Path(ph.outdir))
    vda.scan(ph.outdir)
    vda.load(ph.outdir)
    vda.load(ph.outdir, backend="vtk")
    assert tree_fingerprint(Path(ph.outdir)) == before


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotDicomError, match="no DICOM image series"):
        vda.load(tmp_path)


def test_file_cut_before_its_pixel_data_is_skipped_with_the_reason(tmp_path: Path) -> None:
    """A slice cut short before (7FE0,0010) keeps Rows/Columns: it is skipped at scan time, not a load failure."""
    from vtkdicom_app.phantom import write_phantom

    write_phantom(tmp_path, rows=24, columns=24, slices=4)
    files = sorted(p for p in tmp_path.iterdir() if p.suffix == ".dcm")
    data = files[0].read_bytes()
    cut = data.index(b"\xe0\x7f\x10\x00")  # the PixelData tag, little endian
    files[0].write_bytes(data[: cut - 25])  # inside the element before it, as a copy cut short leaves it
    result = vda.scan(tmp_path)
    assert [os.path.basename(p) for p, _ in result.skipped] == [files[0].name]
    assert "without pixel data" in result.skipped[0][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vol = vda.load(tmp_path)
    assert vol.shape == (3, 24, 24)
