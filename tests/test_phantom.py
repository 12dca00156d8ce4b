"""The phantom writer, checked with pydicom alone (not with our loader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from vtkdicom_app.phantom import MultiFrame, PhantomOrientation, TransferSyntax, make_spec, phantom_values, write_phantom

SMALL = dict(rows=32, columns=32, slices=8, pixel_spacing=(6.0, 6.0), slice_spacing=16.0)


def _hu_and_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    ipp = np.array(ds.ImagePositionPatient, dtype=float)
    row_sp, col_sp = (float(v) for v in ds.PixelSpacing)
    jj, ii = np.mgrid[0 : ds.Rows, 0 : ds.Columns]
    points = ipp + (ii * col_sp)[..., None] * iop[:3] + (jj * row_sp)[..., None] * iop[3:]
    return hu, points


def test_model_puts_the_marker_on_the_left_and_the_sphere_where_it_says() -> None:
    spec = make_spec(200.0)
    assert spec.marker_center[0] > 0
    assert phantom_values(np.array(spec.marker_center), spec) == spec.marker_hu
    mirrored = np.array(spec.marker_center) * np.array([-1, 1, 1])
    assert phantom_values(mirrored, spec) != spec.marker_hu
    assert phantom_values(np.array(spec.sphere_center), spec) == spec.sphere_hu
    assert spec.sphere_volume_mm3 == pytest.approx(4 / 3 * np.pi * spec.sphere_radius**3)
    assert len(set(spec.marker_half_size)) == 3  # asymmetric box


def test_written_voxels_hold_the_model_at_their_patient_position(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, orientation=PhantomOrientation.OBLIQUE)
    assert len(res.files) == 8
    for f in res.files:
        hu, points = _hu_and_points(f)
        assert np.array_equal(hu, np.clip(phantom_values(points, res.spec), -1024, 3071))


def test_every_orientation_writes_orthonormal_iop(tmp_path: Path) -> None:
    for o in PhantomOrientation:
        res = write_phantom(tmp_path / o.value, **SMALL, orientation=o)
        iop = np.array(pydicom.dcmread(res.files[0]).ImageOrientationPatient, dtype=float)
        assert np.linalg.norm(iop[:3]) == pytest.approx(1, abs=1e-5)
        assert np.linalg.norm(iop[3:]) == pytest.approx(1, abs=1e-5)
        assert iop[:3] @ iop[3:] == pytest.approx(0, abs=1e-5)


def test_feet_first_positions_descend_and_names_shuffle(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, feet_first=True, shuffle_names=True, suffix="")
    z = [float(pydicom.dcmread(f).ImagePositionPatient[2]) for f in res.files]
    assert z == sorted(z, reverse=True)
    assert not any(f.name.startswith("IM") or f.suffix for f in res.files)
    assert pydicom.dcmread(res.files[0]).PatientPosition == "FFS"


def test_tilt_shears_the_stack(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, gantry_tilt_deg=20.0)
    ds0, ds1 = (pydicom.dcmread(f) for f in res.files[:2])
    step = np.subtract(ds1.ImagePositionPatient, ds0.ImagePositionPatient).astype(float)
    normal = np.cross(np.array(ds0.ImageOrientationPatient[:3], float), np.array(ds0.ImageOrientationPatient[3:], float))
    angle = np.degrees(np.arccos(abs(step @ normal) / np.linalg.norm(step)))
    assert angle == pytest.approx(20.0, abs=0.01)
    assert float(ds0.GantryDetectorTilt) == 20.0


@pytest.mark.parametrize("syntax", list(TransferSyntax), ids=lambda t: t.name)
def test_transfer_syntaxes_round_trip_through_pydicom(tmp_path: Path, syntax: TransferSyntax) -> None:
    plain = write_phantom(tmp_path / "plain", **SMALL)
    coded = write_phantom(tmp_path / "coded", **SMALL, transfer_syntax=syntax)
    for a, b in zip(plain.files, coded.files):
        ds = pydicom.dcmread(b)
        assert ds.file_meta.TransferSyntaxUID == syntax.value
        assert np.array_equal(pydicom.dcmread(a).pixel_array, ds.pixel_array)


def test_enhanced_multiframe_has_one_functional_group_per_frame(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, multiframe=MultiFrame.ENHANCED)
    assert len(res.files) == 1
    ds = pydicom.dcmread(res.files[0])
    assert int(ds.NumberOfFrames) == 8 == len(ds.PerFrameFunctionalGroupsSequence)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2.1"


def test_several_series_and_gaps(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, **SMALL, n_series=2, skip_slices=(3,))
    uids = {pydicom.dcmread(f, stop_before_pixels=True).SeriesInstanceUID for f in tmp_path.iterdir()}
    assert len(uids) == 2 == len(res.series_uids)
    assert len(res.positions) == 7  # one slice skipped in the first series
    steps = np.diff([p[2] for p in res.expected_sorted_positions()])
    assert sorted(set(np.round(steps, 3))) == [16.0, 32.0]
