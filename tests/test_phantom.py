"""The phantom writer, checked with pydicom alone (not with our loader).

Every test reads the files back with pydicom and recomputes patient positions from
ImagePositionPatient, ImageOrientationPatient and PixelSpacing itself, so a wrong tag
(swapped spacing, mirrored marker, unsorted positions) makes a test fail.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from vtkdicom_app.phantom import (
    MultiFrame,
    PhantomOrientation,
    PhantomResult,
    TransferSyntax,
    make_spec,
    phantom_values,
    write_phantom,
)

SMALL: dict[str, Any] = dict(rows=32, columns=32, slices=8, pixel_spacing=(6.0, 6.0), slice_spacing=16.0)
# rows != columns and row spacing != column spacing: a swap of either shows
SWAP: dict[str, Any] = dict(rows=40, columns=28, slices=8, pixel_spacing=(0.7 * 8, 0.9 * 8), slice_spacing=14.0)
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def _geometry(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """IPP, row direction, column direction, row spacing, column spacing of a single-frame file."""
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    ipp = np.array(ds.ImagePositionPatient, dtype=float)
    row_sp, col_sp = (float(v) for v in ds.PixelSpacing)
    return ipp, iop[:3], iop[3:], row_sp, col_sp


def _points(ipp: np.ndarray, r: np.ndarray, c: np.ndarray, row_sp: float, col_sp: float, rows: int, cols: int) -> np.ndarray:
    """LPS of every voxel: P = IPP + i*PixelSpacing[1]*r + j*PixelSpacing[0]*c (i column, j row)."""
    jj, ii = np.mgrid[0:rows, 0:cols]
    return ipp + (ii * col_sp)[..., None] * r + (jj * row_sp)[..., None] * c


def _hu_and_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    ipp, r, c, row_sp, col_sp = _geometry(ds)
    return hu, _points(ipp, r, c, row_sp, col_sp, ds.Rows, ds.Columns)


def _truth(points: np.ndarray, res: PhantomResult) -> np.ndarray:
    """The model at the points, clipped to what 12 stored bits with intercept -1024 can hold."""
    return np.clip(phantom_values(points, res.spec), -1024, 3071)


def _projections(files: list[Path]) -> list[float]:
    out = []
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        ipp, r, c, _rs, _cs = _geometry(ds)
        out.append(float(ipp @ np.cross(r, c)))
    return out


# --- the model ------------------------------------------------------------------------------


def test_model_puts_the_marker_on_the_left_and_the_sphere_where_it_says() -> None:
    spec = make_spec(200.0)
    assert spec.marker_center[0] > 0
    assert phantom_values(np.array(spec.marker_center), spec) == spec.marker_hu
    mirrored = np.array(spec.marker_center) * np.array([-1, 1, 1])
    assert phantom_values(mirrored, spec) != spec.marker_hu
    assert phantom_values(np.array(spec.sphere_center), spec) == spec.sphere_hu
    assert spec.sphere_volume_mm3 == pytest.approx(4 / 3 * np.pi * spec.sphere_radius**3)
    assert len(set(spec.marker_half_size)) == 3  # asymmetric box
    assert spec.marker_volume_mm3 < 0.5 * spec.sphere_volume_mm3  # clearly smaller than the sphere
    # default values of the brief
    assert (spec.air_hu, spec.body_hu, spec.lung_hu, spec.spine_hu, spec.sphere_hu, spec.marker_hu) == (-1000, 40, -800, 400, 1000, 2000)


def test_model_marker_is_never_mirrored_and_the_sphere_touches_nothing() -> None:
    spec = make_spec(200.0)
    rng = np.random.default_rng(1)
    pts = rng.uniform(-100, 100, size=(200_000, 3))
    hu = phantom_values(pts, spec)
    assert (hu == spec.marker_hu).sum() > 50
    assert np.all(pts[hu == spec.marker_hu, 0] > 0)
    # a shell just outside the sphere is body tissue only: no lung, spine, air or marker
    d = rng.normal(size=(20_000, 3))
    d /= np.linalg.norm(d, axis=1)[:, None]
    shell = np.asarray(spec.sphere_center) + d * spec.sphere_radius * 1.05
    assert np.all(phantom_values(shell, spec) == spec.body_hu)
    # the marker box's corners lie inside the body and within 0.45 FOV of the origin
    m, h = np.asarray(spec.marker_center), np.asarray(spec.marker_half_size)
    corners = m + h * np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    ax, ay = spec.body_semi_axes
    assert np.all((corners[:, 0] / ax) ** 2 + (corners[:, 1] / ay) ** 2 < 1)
    assert np.linalg.norm(corners, axis=1).max() < 0.45 * spec.field_of_view_mm
    assert np.linalg.norm(spec.sphere_center) + spec.sphere_radius < 0.45 * spec.field_of_view_mm


def test_model_accepts_any_leading_shape() -> None:
    spec = make_spec(100.0)
    pts = np.zeros((2, 3, 4, 3))
    assert phantom_values(pts, spec).shape == (2, 3, 4)


# --- voxel content and geometry ------------------------------------------------------------------


@pytest.mark.parametrize("orientation", list(PhantomOrientation), ids=lambda o: o.name)
@pytest.mark.parametrize("feet_first", [False, True], ids=["HF", "FF"])
def test_written_voxels_hold_the_model_at_their_patient_position(tmp_path: Path, orientation: PhantomOrientation, feet_first: bool) -> None:
    res = write_phantom(tmp_path, **SWAP, orientation=orientation, feet_first=feet_first)
    assert len(res.files) == 8 and all(f.is_file() for f in res.files)
    assert sorted(tmp_path.iterdir()) == sorted(res.files)
    marker_x: list[np.ndarray] = []
    for f in res.files:
        hu, points = _hu_and_points(f)
        assert hu.shape == (40, 28)
        np.testing.assert_array_equal(hu, _truth(points, res))
        marker_x.append(points[hu == 2000][:, 0])
    xs = np.concatenate(marker_x)
    assert xs.size > 0, "the marker must be visible"
    assert np.all(xs > 0), "the marker is on the patient's left (+x in LPS)"


def test_swapped_pixel_spacing_would_not_match(tmp_path: Path) -> None:
    # the check above can fail: reading PixelSpacing in the wrong order gives other values
    res = write_phantom(tmp_path, **SWAP, orientation=PhantomOrientation.OBLIQUE)
    mismatches = 0
    for f in res.files:
        ds = pydicom.dcmread(f)
        hu = ds.pixel_array.astype(float) - 1024
        ipp, r, c, row_sp, col_sp = _geometry(ds)
        wrong = _points(ipp, r, c, col_sp, row_sp, ds.Rows, ds.Columns)
        mismatches += int((hu != _truth(wrong, res)).sum())
    assert mismatches > 100


def test_grid_is_centred_on_the_patient_origin(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SWAP, orientation=PhantomOrientation.OBLIQUE)
    first, last = (pydicom.dcmread(f, stop_before_pixels=True) for f in (res.files[0], res.files[-1]))
    ipp0, r, c, row_sp, col_sp = _geometry(first)
    ipp1 = np.array(last.ImagePositionPatient, dtype=float)
    corner = ipp1 + (first.Columns - 1) * col_sp * r + (first.Rows - 1) * row_sp * c
    np.testing.assert_allclose((ipp0 + corner) / 2, 0, atol=1e-3)


@pytest.mark.parametrize("orientation", list(PhantomOrientation), ids=lambda o: o.name)
def test_sphere_centre_voxel_is_1000_hu(tmp_path: Path, orientation: PhantomOrientation) -> None:
    res = write_phantom(tmp_path, **SMALL, orientation=orientation)
    centre = np.asarray(res.spec.sphere_center)
    best = (np.inf, np.nan)
    for f in res.files:
        hu, points = _hu_and_points(f)
        d = np.linalg.norm(points - centre, axis=-1)
        k = np.unravel_index(np.argmin(d), d.shape)
        if d[k] < best[0]:
            best = (float(d[k]), float(hu[k]))
    assert best[0] < 16.0  # within a voxel of the centre
    assert best[1] == 1000.0


def test_every_orientation_writes_orthonormal_iop(tmp_path: Path) -> None:
    normals = {}
    for o in PhantomOrientation:
        res = write_phantom(tmp_path / o.value, **SMALL, orientation=o)
        iop = np.array(pydicom.dcmread(res.files[0]).ImageOrientationPatient, dtype=float)
        assert np.linalg.norm(iop[:3]) == pytest.approx(1, abs=1e-5)
        assert np.linalg.norm(iop[3:]) == pytest.approx(1, abs=1e-5)
        assert iop[:3] @ iop[3:] == pytest.approx(0, abs=1e-5)
        np.testing.assert_allclose(iop, [*res.row_direction, *res.column_direction], atol=1e-6)
        normals[o] = np.cross(iop[:3], iop[3:])
    np.testing.assert_allclose(pydicom.dcmread(write_phantom(tmp_path / "a", **SMALL).files[0]).ImageOrientationPatient, [1, 0, 0, 0, 1, 0])
    np.testing.assert_allclose(normals[PhantomOrientation.AXIAL], [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(normals[PhantomOrientation.CORONAL], [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(normals[PhantomOrientation.SAGITTAL], [-1, 0, 0], atol=1e-6)
    oblique = normals[PhantomOrientation.OBLIQUE]
    assert np.abs(oblique).max() < 0.99  # genuinely oblique: not near any axis
    assert sum(abs(v) > 0.1 for v in oblique) >= 2


def test_slices_step_along_the_normal_by_the_slice_spacing(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, orientation=PhantomOrientation.OBLIQUE)
    ipps = np.array([pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient for f in res.files], dtype=float)
    steps = np.diff(ipps, axis=0)
    np.testing.assert_allclose(steps, np.repeat(16.0 * res.normal[None], 7, axis=0), atol=1e-4)
    np.testing.assert_allclose(ipps, res.positions, atol=1e-6)


@pytest.mark.parametrize("orientation", [PhantomOrientation.AXIAL, PhantomOrientation.CORONAL], ids=lambda o: o.name)
def test_feet_first_positions_descend(tmp_path: Path, orientation: PhantomOrientation) -> None:
    res = write_phantom(tmp_path, **SMALL, orientation=orientation, feet_first=True)
    proj = _projections(res.files)
    assert all(a > b for a, b in zip(proj, proj[1:]))
    first = pydicom.dcmread(res.files[0], stop_before_pixels=True)
    assert first.InstanceNumber == 1 and first.PatientPosition == "FFS"
    assert res.expected_sorted_positions() == res.positions[::-1]
    head_first = write_phantom(tmp_path / "hf", **SMALL, orientation=orientation)
    assert pydicom.dcmread(head_first.files[0]).PatientPosition == "HFS"
    assert _projections(head_first.files) == sorted(_projections(head_first.files))
    # same object: the same set of positions
    np.testing.assert_allclose(sorted(proj), _projections(head_first.files), atol=1e-6)


def test_names_shuffle_and_suffix(tmp_path: Path) -> None:
    plain = write_phantom(tmp_path / "plain", **SMALL)
    assert [f.name for f in plain.files] == [f"IM{k:04d}.dcm" for k in range(1, 9)]
    res = write_phantom(tmp_path / "shuffled", **SMALL, shuffle_names=True, suffix="")
    names = [f.name for f in res.files]
    assert not any(re.fullmatch(r"IM\d{4}.*", n) or Path(n).suffix for n in names)
    assert len(set(names)) == 8
    assert sorted(names) != names  # name order says nothing about acquisition order
    assert pydicom.dcmread(res.files[0]).ImagePositionPatient == pydicom.dcmread(plain.files[0]).ImagePositionPatient
    again = write_phantom(tmp_path / "again", **SMALL, shuffle_names=True, suffix="")
    assert [f.name for f in again.files] == names  # seeded


def test_instance_numbers_forward_and_reversed(tmp_path: Path) -> None:
    fwd = write_phantom(tmp_path / "f", **SMALL)
    rev = write_phantom(tmp_path / "r", **SMALL, reverse_instance_numbers=True)
    assert [pydicom.dcmread(f).InstanceNumber for f in fwd.files] == list(range(1, 9))
    assert [pydicom.dcmread(f).InstanceNumber for f in rev.files] == list(range(8, 0, -1))
    assert _projections(rev.files) == _projections(fwd.files)


def test_tilt_shears_the_stack_and_content_follows_true_positions(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, gantry_tilt_deg=20.0)
    ds0, ds1 = (pydicom.dcmread(f) for f in res.files[:2])
    step = np.subtract(ds1.ImagePositionPatient, ds0.ImagePositionPatient).astype(float)
    np.testing.assert_allclose(step, [0, 0, 16.0], atol=1e-5)  # along the table
    normal = np.cross(np.array(ds0.ImageOrientationPatient[:3], float), np.array(ds0.ImageOrientationPatient[3:], float))
    angle = np.degrees(np.arccos(abs(step @ normal) / np.linalg.norm(step)))
    assert angle == pytest.approx(20.0, abs=0.01)
    assert float(ds0.GantryDetectorTilt) == 20.0
    for f in res.files:
        hu, points = _hu_and_points(f)
        np.testing.assert_array_equal(hu, _truth(points, res))
    with pytest.raises(ValueError, match="GridFrameOffsetVector"):
        write_phantom(tmp_path / "x", **SMALL, gantry_tilt_deg=10.0, multiframe=MultiFrame.CLASSIC)


# --- tags -----------------------------------------------------------------------------------------


def test_file_meta_and_required_tags(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, gantry_tilt_deg=7.3, orientation=PhantomOrientation.AXIAL)
    for f in res.files:
        raw = f.read_bytes()
        assert raw[128:132] == b"DICM"
    ds = pydicom.dcmread(res.files[3])
    meta = ds.file_meta
    assert meta.MediaStorageSOPClassUID == CT_IMAGE_STORAGE == ds.SOPClassUID
    assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert meta.ImplementationClassUID
    for keyword in (
        "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "PatientBirthDate", "PatientSex",
        "StudyDate", "StudyTime", "StudyDescription", "KVP", "SliceLocation",
    ):
        assert keyword in ds, keyword
    assert (ds.Modality, str(ds.PatientName), ds.PatientID) == ("CT", "Phantom^Test", "PHANTOM001")
    assert (ds.SeriesNumber, ds.SeriesDescription, ds.AcquisitionNumber) == (1, "Phantom CT", 1)
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "AXIAL"]
    assert (ds.SamplesPerPixel, ds.PhotometricInterpretation) == (1, "MONOCHROME2")
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 12, 11, 0)
    assert (float(ds.WindowCenter), float(ds.WindowWidth)) == (40.0, 400.0)
    assert (float(ds.RescaleIntercept), float(ds.RescaleSlope)) == (-1024.0, 1.0)
    assert float(ds.SliceThickness) == 16.0
    assert [float(v) for v in ds.PixelSpacing] == [6.0, 6.0]
    assert ds.pixel_array.max() <= 4095
    ipp, r, c, _rs, _cs = _geometry(ds)
    assert float(ds.SliceLocation) == pytest.approx(float(ipp @ np.cross(r, c)), abs=1e-4)


def test_ds_values_are_valid(tmp_path: Path) -> None:
    def check(path: Path) -> None:
        with pydicom.config.strict_reading():
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            for elem in ds.iterall():
                if elem.VR == "DS":
                    _ = elem.value  # conversion raises on an invalid DS under strict reading

    res = write_phantom(
        tmp_path / "ok", rows=16, columns=12, slices=5, pixel_spacing=(0.123456789, 3.33333333), slice_spacing=1.1111111111,
        orientation=PhantomOrientation.OBLIQUE, rescale_intercept=-1024.123456789,
    )
    for f in res.files:
        check(f)
    # the check can fail: a 19-character DS is refused
    with pydicom.config.disable_value_validation():
        bad = pydicom.dcmread(res.files[0])
        bad.add_new(0x00180050, "DS", "1.23456789012345678")
        bad.save_as(tmp_path / "bad.dcm")
    with pytest.raises((ValueError, OverflowError)):
        check(tmp_path / "bad.dcm")
    enhanced = write_phantom(tmp_path / "enh", **SMALL, orientation=PhantomOrientation.OBLIQUE, multiframe=MultiFrame.ENHANCED)
    check(enhanced.files[0])


def test_uids_are_deterministic_and_seeded(tmp_path: Path) -> None:
    def uids(res: PhantomResult) -> list[tuple[str, str, str, str]]:
        out = []
        for f in res.files:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            out.append((ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.FrameOfReferenceUID))
        return out

    a = uids(write_phantom(tmp_path / "a", **SMALL, seed=3))
    b = uids(write_phantom(tmp_path / "b", **SMALL, seed=3))
    c = uids(write_phantom(tmp_path / "c", **SMALL, seed=4))
    assert a == b
    assert len({u[2] for u in a}) == 8  # one SOPInstanceUID per file
    assert all(x != y for x, y in zip(a[0], c[0]))


def test_signed_storage_when_the_intercept_needs_it(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, rescale_intercept=0.0, rescale_slope=1.0)
    ds = pydicom.dcmread(res.files[2])
    assert (ds.PixelRepresentation, ds.BitsStored, ds.HighBit) == (1, 16, 15)
    assert ds.pixel_array.dtype == np.int16
    hu, points = _hu_and_points(res.files[2])
    np.testing.assert_array_equal(hu, phantom_values(points, res.spec))  # no clipping: -1000 air kept
    assert hu.min() == -1000.0

    scaled = write_phantom(tmp_path / "s", **SMALL, rescale_intercept=-1000.0, rescale_slope=0.5)
    hu2, points2 = _hu_and_points(scaled.files[2])
    np.testing.assert_array_equal(hu2, phantom_values(points2, scaled.spec))


def test_noise_is_seeded(tmp_path: Path) -> None:
    kw = dict(SMALL, noise_sd=20.0)
    a = write_phantom(tmp_path / "a", **kw, seed=1)
    b = write_phantom(tmp_path / "b", **kw, seed=1)
    c = write_phantom(tmp_path / "c", **kw, seed=2)
    pa, pb, pc = (pydicom.dcmread(r.files[4]).pixel_array for r in (a, b, c))
    assert np.array_equal(pa, pb) and not np.array_equal(pa, pc)
    hu, points = _hu_and_points(a.files[4])
    truth = phantom_values(points, a.spec)
    body = truth == a.spec.body_hu
    assert body.sum() > 100
    assert np.std(hu[body] - truth[body]) == pytest.approx(20.0, rel=0.25)
    assert a.spec.noise_sd == 20.0


def test_progress_and_bad_arguments(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    write_phantom(tmp_path, **SMALL, skip_slices=(2,), n_series=2, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] == 7 + 5
    assert [d for d, _t in calls] == list(range(1, 13))
    for bad in (dict(rows=0), dict(pixel_spacing=(0.0, 1.0)), dict(slice_spacing=-1.0), dict(rescale_slope=0.0), dict(skip_slices=tuple(range(8)))):
        with pytest.raises(ValueError):
            write_phantom(tmp_path / "bad", **{**SMALL, **bad})
    with pytest.raises(ValueError, match="axial"):
        write_phantom(tmp_path / "bad", **SMALL, orientation=PhantomOrientation.CORONAL, gantry_tilt_deg=10.0)


def test_defaults_make_the_demo_ct(tmp_path: Path) -> None:
    res = write_phantom(tmp_path)
    assert len(res.files) == 64 and (res.rows, res.columns) == (128, 128)
    ds = pydicom.dcmread(res.files[32])
    assert (ds.Rows, ds.Columns) == (128, 128)
    hu = ds.pixel_array.astype(float) - 1024
    assert {-1000.0, 40.0, -800.0, 400.0} <= set(np.unique(hu))


# --- encodings and multi-frame ------------------------------------------------------------------------


@pytest.mark.parametrize("syntax", list(TransferSyntax), ids=lambda t: t.name)
def test_transfer_syntaxes_round_trip_through_pydicom(tmp_path: Path, syntax: TransferSyntax) -> None:
    plain = write_phantom(tmp_path / "plain", **SMALL)
    coded = write_phantom(tmp_path / "coded", **SMALL, transfer_syntax=syntax)
    for a, b in zip(plain.files, coded.files):
        ds = pydicom.dcmread(b)
        assert ds.file_meta.TransferSyntaxUID == syntax.value
        hu_a, _ = _hu_and_points(a)
        hu_b, points = _hu_and_points(b)
        np.testing.assert_array_equal(hu_b, hu_a)
        np.testing.assert_array_equal(hu_b, _truth(points, coded))
    if syntax in (TransferSyntax.RLE, TransferSyntax.JPEG2000_LOSSLESS, TransferSyntax.DEFLATED):
        assert sum(f.stat().st_size for f in coded.files) < sum(f.stat().st_size for f in plain.files)


def test_big_endian_bytes_are_big_endian(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, transfer_syntax=TransferSyntax.EXPLICIT_BIG)
    ds = pydicom.dcmread(res.files[0])
    assert not ds.original_encoding[1]  # read as big endian
    little = np.frombuffer(ds.PixelData, dtype="<u2").reshape(32, 32)
    assert not np.array_equal(little, ds.pixel_array)  # the raw bytes really are swapped
    assert np.array_equal(little.byteswap(), ds.pixel_array)


@pytest.mark.parametrize(
    "syntax", [TransferSyntax.EXPLICIT_LITTLE, TransferSyntax.RLE, TransferSyntax.JPEG2000_LOSSLESS], ids=lambda t: t.name
)
def test_enhanced_multiframe_matches_single_frame(tmp_path: Path, syntax: TransferSyntax) -> None:
    single = write_phantom(tmp_path / "single", **SMALL, orientation=PhantomOrientation.OBLIQUE, feet_first=True, skip_slices=(5,))
    res = write_phantom(
        tmp_path / "mf", **SMALL, orientation=PhantomOrientation.OBLIQUE, feet_first=True, skip_slices=(5,),
        multiframe=MultiFrame.ENHANCED, transfer_syntax=syntax,
    )
    assert len(res.files) == 1
    ds = pydicom.dcmread(res.files[0])
    assert ds.SOPClassUID == ENHANCED_CT == ds.file_meta.MediaStorageSOPClassUID
    assert ds.file_meta.TransferSyntaxUID == syntax.value
    assert int(ds.NumberOfFrames) == 7 == len(ds.PerFrameFunctionalGroupsSequence)
    shared = ds.SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing] == [6.0, 6.0]
    assert float(shared.PixelMeasuresSequence[0].SliceThickness) == 16.0
    iop = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, dtype=float)
    np.testing.assert_allclose(iop, pydicom.dcmread(single.files[0]).ImageOrientationPatient)
    transform = shared.PixelValueTransformationSequence[0]
    assert (float(transform.RescaleIntercept), float(transform.RescaleSlope), transform.RescaleType) == (-1024.0, 1.0, "HU")
    assert "ImagePositionPatient" not in ds and "PixelSpacing" not in ds
    assert len(ds.DimensionIndexSequence) == 2
    frames = ds.pixel_array
    assert frames.shape == (7, 32, 32)
    for k, (item, f) in enumerate(zip(ds.PerFrameFunctionalGroupsSequence, single.files)):
        content = item.FrameContentSequence[0]
        assert (content.StackID, content.InStackPositionNumber, list(content.DimensionIndexValues)) == ("1", k + 1, [1, k + 1])
        ref = pydicom.dcmread(f)
        np.testing.assert_allclose(item.PlanePositionSequence[0].ImagePositionPatient, ref.ImagePositionPatient)
        np.testing.assert_array_equal(frames[k], ref.pixel_array)  # acquisition order


def test_classic_multiframe_has_grid_frame_offsets(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, multiframe=MultiFrame.CLASSIC, skip_slices=(3,))
    assert len(res.files) == 1
    ds = pydicom.dcmread(res.files[0])
    assert int(ds.NumberOfFrames) == 7 and ds.pixel_array.shape == (7, 32, 32)
    assert ds.FrameIncrementPointer == pydicom.tag.Tag(0x3004, 0x000C)
    offsets = [float(v) for v in ds.GridFrameOffsetVector]
    assert offsets == [0.0, 16.0, 32.0, 64.0, 80.0, 96.0, 112.0]
    ipp, r, c, row_sp, col_sp = _geometry(ds)
    n = np.cross(r, c)
    for k, off in enumerate(offsets):
        points = _points(ipp + off * n, r, c, row_sp, col_sp, 32, 32)
        np.testing.assert_array_equal(ds.pixel_array[k].astype(float) - 1024, _truth(points, res))


def test_several_series_in_one_folder_and_a_gap(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, n_series=2, skip_slices=(3,))
    on_disk = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(tmp_path.iterdir())]
    assert all(f.parent == tmp_path for f in res.files)
    assert len({d.SeriesInstanceUID for d in on_disk}) == 2 == len(set(res.series_uids))
    assert len({d.StudyInstanceUID for d in on_disk}) == 1
    assert {d.SeriesNumber for d in on_disk} == {1, 2}
    assert len({d.SeriesDescription for d in on_disk}) == 2
    assert [len(f) for f in res.series_files] == [7, 5]  # 8 and 6 slices, one skipped in each
    assert len(res.files) == 12 == len(on_disk)
    assert len(res.positions) == 7
    steps = np.diff([p[2] for p in res.expected_sorted_positions()])
    assert sorted(set(np.round(steps, 3))) == [16.0, 32.0]
    written = {int(pydicom.dcmread(f).InstanceNumber) for f in res.series_files[0]}
    assert written == {1, 2, 3, 5, 6, 7, 8}


# --- partial volume: a realistic edge that keeps the sphere's volume ------------------------------


def test_partial_volume_averages_edges_and_keeps_the_sphere_volume(tmp_path: Path) -> None:
    grid: dict[str, Any] = dict(rows=64, columns=64, slices=64, pixel_spacing=(1.5, 1.5), slice_spacing=1.5, sphere_radius_mm=9.0)
    hard = write_phantom(tmp_path / "hard", **grid)
    soft = write_phantom(tmp_path / "pv", **grid, partial_volume=True)
    spec = soft.spec
    centre, radius, voxel = np.asarray(spec.sphere_center), spec.sphere_radius, 1.5**3
    # within radius + 2 voxel diagonals of the centre the model holds only body and sphere
    near = radius + 2 * 1.5 * np.sqrt(3)
    pv_volume = hard_volume = 0.0
    between = changed_inside = 0
    for f_hard, f_soft in zip(hard.files, soft.files):
        hu_hard, points = _hu_and_points(f_hard)
        hu_soft, _ = _hu_and_points(f_soft)
        d = np.linalg.norm(points - centre, axis=-1)
        ball = d < near
        pv_volume += float(((hu_soft[ball] - spec.body_hu) / (spec.sphere_hu - spec.body_hu)).sum()) * voxel
        hard_volume += float((hu_hard[ball] == spec.sphere_hu).sum()) * voxel
        between += int(((hu_soft > spec.body_hu) & (hu_soft < spec.sphere_hu) & ball).sum())
        changed_inside += int((hu_soft[d < radius - 3.0] != spec.sphere_hu).sum())  # deep inside: exact
    exact = spec.sphere_volume_mm3
    assert between > 100, "boundary voxels hold values between body and bone"
    assert changed_inside == 0
    assert pv_volume == pytest.approx(exact, rel=3e-3)
    assert abs(pv_volume - exact) < abs(hard_volume - exact)  # averaging beats hard edges


# --- the pipeline: spec -> geometry -> datasets -> files ------------------------------------------


def test_old_module_names_are_the_testing_package_objects() -> None:
    import vtkdicom_app as vda
    import vtkdicom_app.phantom as old
    import vtkdicom_app.phantom_mr as old_mr
    import vtkdicom_app.testing as testing
    from vtkdicom_app.testing import phantom as new
    from vtkdicom_app.testing import phantom_mr as new_mr

    # every name the modules defined before they moved, private helpers included
    names = (
        "CT_IMAGE_STORAGE ENHANCED_CT_IMAGE_STORAGE _UID_ROOT PhantomOrientation TransferSyntax MultiFrame PhantomSpec "
        "make_spec phantom_values PhantomResult _rotation _directions _ds _uid _base_dataset _set_pixel_format "
        "_slice_values _stored_slice _encode _save _series_slices _check_arguments _add_dimensions write_phantom "
        "SequenceKind SequenceResult write_sequence _spec_for _add_bvalue"
    ).split()
    for name in names:
        assert getattr(old, name) is getattr(new, name), name
    mr_names = (
        "CsaMode MosaicResult write_mosaic csa_header_bytes Classic4DStyle Classic4DResult write_classic_4d "
        "MR_IMAGE_STORAGE _save _DTI_PROTOCOL _volume_plan"
    ).split()
    for name in mr_names:
        assert getattr(old_mr, name) is getattr(new_mr, name), name
    assert set(old.__all__) == set(new.__all__) and set(old_mr.__all__) == set(new_mr.__all__)
    assert vda.write_phantom is new.write_phantom
    assert testing.write_phantom is new.write_phantom and testing.write_mosaic is new_mr.write_mosaic
    with pytest.raises(AttributeError):
        _ = testing.no_such_writer


def test_write_spec_is_checked_once_and_normalised() -> None:
    from vtkdicom_app.testing.phantom import WriteSpec

    spec = WriteSpec(**SMALL, skip_slices=(2, 3), n_series=2, extra_tags={"EchoTime": "12"})  # type: ignore[arg-type]
    assert spec.skip_slices == frozenset({2, 3}) and spec.extra_tags == (("EchoTime", "12"),)
    assert [spec.series_slices(s) for s in range(2)] == [8, 6]
    assert spec.written_indices(1) == [0, 1, 4, 5]
    assert spec.total_frames == 6 + 4
    assert (spec.pixel_format.bits_stored, spec.pixel_format.dtype) == (12, np.dtype("<u2"))
    signed = WriteSpec(**SMALL, rescale_intercept=0.0)
    assert (signed.pixel_format.pixel_representation, signed.pixel_format.lo) == (1, -32768)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.rows = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="skip_slices"):
        WriteSpec(**SMALL, skip_slices=frozenset(range(8)))
    with pytest.raises(ValueError, match="JPEG2000_LOSSLESS needs rows and columns >= 32"):
        WriteSpec(rows=24, columns=40, slices=2, transfer_syntax=TransferSyntax.JPEG2000_LOSSLESS)
    assert spec.model() == make_spec(8 * 16.0, min_sphere_radius_mm=min(3 * 16.0, 0.2 * 128.0))
    assert WriteSpec(**SMALL, sphere_hu=700.0, sphere_radius_mm=5.0).model().sphere_radius == 5.0


def test_series_geometry_is_what_gets_written(tmp_path: Path) -> None:
    from vtkdicom_app.testing.phantom import WriteSpec, series_geometry

    spec = WriteSpec(**SMALL, feet_first=True, skip_slices=frozenset({1}), n_series=2)
    res = write_phantom(tmp_path, **SMALL, feet_first=True, skip_slices=(1,), n_series=2)
    for s in range(2):
        geo = series_geometry(spec, s)
        assert len(geo.positions) == spec.series_slices(s) and 1 not in geo.written
        assert [tuple(p) for _a, p in geo.acquisition] == res.series_positions[s]
        proj = [float(p @ geo.normal) for p in geo.positions]
        assert all(a > b for a, b in zip(proj, proj[1:]))  # feet first: descending
        np.testing.assert_allclose(np.mean(geo.positions, axis=0)[2], 0.0, atol=1e-9)  # centred on the origin
    tilted = series_geometry(WriteSpec(**SMALL, gantry_tilt_deg=20.0))
    np.testing.assert_allclose(tilted.step, [0, 0, 16.0])  # along the table, not the normal
    assert float(tilted.step @ tilted.normal) == pytest.approx(16.0 * np.cos(np.radians(20.0)), abs=1e-4)


def test_builders_make_the_written_datasets(tmp_path: Path) -> None:
    from vtkdicom_app.testing.phantom import (
        WriteSpec,
        build_multiframe_dataset,
        build_series_dataset,
        build_slice_dataset,
        render_slice,
        series_geometry,
    )

    spec = WriteSpec(**SMALL, orientation=PhantomOrientation.OBLIQUE, noise_sd=0.0)
    res = write_phantom(tmp_path, **SMALL, orientation=PhantomOrientation.OBLIQUE)
    geo = series_geometry(spec)
    base = build_series_dataset(spec, 0, geo)
    assert "PixelData" not in base and "SOPInstanceUID" not in base
    frame = render_slice(spec, spec.model(), geo, geo.positions[3], None)
    built = build_slice_dataset(base, spec, 0, geo, 3, frame)
    on_disk = pydicom.dcmread(res.files[3])
    assert "SOPInstanceUID" not in base  # the base is copied, not changed
    for elem in built:
        assert on_disk[elem.tag].value == elem.value, elem.keyword
    assert {e.tag for e in on_disk} == {e.tag for e in built}
    assert built.file_meta.MediaStorageSOPInstanceUID == on_disk.file_meta.MediaStorageSOPInstanceUID
    with pytest.raises(ValueError, match="CLASSIC or ENHANCED"):
        build_multiframe_dataset(base, spec, 0, geo, frame[None])


def test_write_spec_writes_the_same_files_as_write_phantom(tmp_path: Path) -> None:
    from vtkdicom_app.testing.phantom import WriteSpec, write_spec

    kw: dict[str, Any] = dict(SMALL, n_series=2, noise_sd=10.0, seed=4, shuffle_names=True, multiframe=MultiFrame.ENHANCED)
    a = write_phantom(tmp_path / "a", **kw)
    b = write_spec(tmp_path / "b", WriteSpec(**kw))
    assert [f.name for f in a.files] == [f.name for f in b.files]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a.files, b.files))
    assert (a.spec, a.series_uids, a.series_positions) == (b.spec, b.series_uids, b.series_positions)


@pytest.mark.parametrize("syntax", [TransferSyntax.RLE, TransferSyntax.JPEG2000_LOSSLESS], ids=lambda t: t.name)
def test_compressed_files_keep_the_seeded_uids(tmp_path: Path, syntax: TransferSyntax) -> None:
    # pydicom's compress() draws a random SOPInstanceUID unless told not to
    plain = write_phantom(tmp_path / "plain", **SMALL, seed=3)
    runs = [write_phantom(tmp_path / f"c{n}", **SMALL, seed=3, transfer_syntax=syntax) for n in range(2)]
    uids = [[pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in r.files] for r in (plain, *runs)]
    assert uids[0] == uids[1] == uids[2]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(runs[0].files, runs[1].files))
    meta = pydicom.dcmread(runs[0].files[0]).file_meta
    assert meta.MediaStorageSOPInstanceUID == uids[0][0]
