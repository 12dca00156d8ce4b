"""Every grey-scale transfer syntax among the files shipped in the pydicom wheel loads with
the values pydicom gives (rescale applied), and broken ones are skipped with a reason."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

import vtkdicom_app as vda
from vtkdicom_app.errors import DicomReadError, NotDicomError, SkippedFileWarning

# (file, transfer syntax it exercises)
GREY_FILES = [
    ("CT_small.dcm", "Explicit VR Little Endian"),
    ("MR_small.dcm", "Explicit VR Little Endian"),
    ("MR_small_implicit.dcm", "Implicit VR Little Endian"),
    ("MR_small_bigendian.dcm", "Explicit VR Big Endian"),
    ("MR_small_expb.dcm", "Explicit VR Big Endian"),
    ("MR_small_RLE.dcm", "RLE Lossless"),
    ("MR_small_jp2klossless.dcm", "JPEG 2000 Lossless"),
    ("MR_small_jpeg_ls_lossless.dcm", "JPEG-LS Lossless"),
    ("MR_small_padded.dcm", "Explicit VR Little Endian, odd padding"),
    ("693_J2KI.dcm", "JPEG 2000"),
    ("J2K_pixelrep_mismatch.dcm", "JPEG 2000 Lossless, ISO 2022 charset"),
    ("JPEG2000.dcm", "JPEG 2000"),
    ("JPGExtended.dcm", "JPEG Extended 12-bit"),
    ("JPEGLSNearLossless_08.dcm", "JPEG-LS Near-Lossless 8-bit"),
    ("JPEGLSNearLossless_16.dcm", "JPEG-LS Near-Lossless 16-bit"),
    ("image_dfl.dcm", "Deflated Explicit VR Little Endian"),
    ("examples_overlay.dcm", "Explicit VR Little Endian, BitsStored 12"),
    ("rtdose_1frame.dcm", "Implicit VR Little Endian, 32-bit"),
    ("rtdose_expb_1frame.dcm", "Explicit VR Big Endian, 32-bit"),
    ("rtdose_rle_1frame.dcm", "RLE Lossless, 32-bit"),
]

# Files that pydicom's own decoders (all installed plugins) cannot decode either.
UNDECODABLE = ["JPEG2000-embedded-sequence-delimiter.dcm", "JPEG-lossy.dcm"]

MULTIFRAME_DOSE = ["rtdose.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm"]


def _expected(ds: pydicom.Dataset) -> np.ndarray:
    arr = ds.pixel_array.astype(np.float64)
    slope = float(ds.get("RescaleSlope", ds.get("DoseGridScaling", 1.0)) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    return arr * slope + intercept


@pytest.mark.parametrize(("name", "syntax"), GREY_FILES, ids=[n for n, _ in GREY_FILES])
def test_single_frame_values_match_pydicom(name: str, syntax: str) -> None:
    path = get_testdata_file(name)
    assert path is not None, f"{name} is not in the pydicom wheel"
    ds = pydicom.dcmread(path)
    expected = _expected(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vol = vda.load(path)
    assert vol.array.shape == (1, *expected.shape[-2:]), syntax
    np.testing.assert_allclose(vol.array[0].astype(np.float64), expected.reshape(expected.shape[-2:]), rtol=1e-6, atol=1e-6)
    # int16 only when exact
    if vol.array.dtype == np.int16:
        assert np.array_equal(vol.array[0], expected.reshape(expected.shape[-2:]))


@pytest.mark.parametrize("name", MULTIFRAME_DOSE)
def test_multiframe_dose_grid_loads_as_volume(name: str) -> None:
    path = get_testdata_file(name)
    ds = pydicom.dcmread(path)
    expected = _expected(ds)
    offsets = np.asarray(ds.GridFrameOffsetVector, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vol = vda.load(path)
    assert vol.array.shape == expected.shape
    order = np.argsort(offsets * np.sign(np.cross(ds.ImageOrientationPatient[:3], ds.ImageOrientationPatient[3:])[2] or 1))
    np.testing.assert_allclose(vol.array, expected[order], rtol=1e-6)
    # the slice step comes from GridFrameOffsetVector
    assert vol.spacing[2] == pytest.approx(abs(offsets[1] - offsets[0]))
    assert vol.origin == pytest.approx(tuple(float(v) for v in ds.ImagePositionPatient))
    assert np.linalg.det(vol.direction) == pytest.approx(1.0)


@pytest.mark.parametrize("name", UNDECODABLE)
def test_undecodable_pixel_data_is_a_clear_error(name: str) -> None:
    path = get_testdata_file(name)
    with pytest.raises(RuntimeError):
        _ = pydicom.dcmread(path).pixel_array  # the reference fails too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DicomReadError, match="could not decode|no frame could be read") as info:
            vda.load(path)
    assert name in str(info.value)


def test_truncated_file_is_skipped_with_reason(tmp_path) -> None:
    good = get_testdata_file("MR_small.dcm")
    truncated = get_testdata_file("MR_truncated.dcm")
    # the truncated file alone: nothing to load, and the error says why
    with pytest.raises(NotDicomError, match="truncated"):
        vda.load(truncated)
    # next to a good file of another series, the good one loads and the skip is reported
    with pytest.warns(SkippedFileWarning, match="truncated"):
        vol = vda.load([good, truncated])
    assert vol.array.shape == (1, 64, 64)
    assert any("skipped" in w for w in vol.warnings)


def test_non_image_objects_are_not_slices() -> None:
    seg = get_testdata_file("liver_1frame.dcm")  # SEG has pixel data but is not a slice
    with pytest.raises(NotDicomError, match="Segmentation"):
        vda.load(seg)


def test_dicomdir_is_used_as_an_index() -> None:
    dicomdir = get_testdata_file("DICOMDIR")
    folder = os.path.dirname(dicomdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_index = vda.scan(dicomdir)
        from_folder = vda.scan(os.path.join(folder, "77654033"))
    uids_index = {s.uid for s in from_index}
    assert {s.uid for s in from_folder} <= uids_index
    # the index lists the CT series of patient 77654033 and those of the other patients
    assert len({s.patient_id for s in from_index}) >= 2
