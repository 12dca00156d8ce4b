"""load(path, roi=..., stride=N): crop (LPS mm) and downsample at load, reading only what is needed."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.errors import GeometryError
from vtkdicom_app.phantom import PhantomOrientation, write_phantom


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("orientation", ["axial", "oblique"])
def test_roi_and_stride_equal_slicing_the_full_volume(tmp_path: Path, orientation: str) -> None:
    ph = write_phantom(tmp_path, rows=48, columns=40, slices=20, orientation=PhantomOrientation(orientation), feet_first=True)
    full = _quiet(vda.load, tmp_path)
    # a box around the marker (on the patient's left), in LPS mm
    c = np.asarray(ph.spec.marker_center)
    h = np.asarray(ph.spec.marker_half_size) + 3.0
    roi = (tuple(c - h), tuple(c + h))
    for stride in (1, 2, 3):
        vol = _quiet(vda.load, tmp_path, roi=roi, stride=stride)
        # the same voxels as indexing the full volume: find the crop's first voxel there
        i0, j0, k0 = np.rint(full.patient_to_index(vol.origin)).astype(int)
        nk, nj, ni = vol.shape
        expected = full.array[k0 : k0 + nk * stride : stride, j0 : j0 + nj * stride : stride, i0 : i0 + ni * stride : stride]
        np.testing.assert_array_equal(vol.array, expected)
        assert vol.spacing == pytest.approx(tuple(s * stride for s in full.spacing))
        np.testing.assert_allclose(vol.direction, full.direction)
        # the crop covers the box: both corners map inside the cropped grid (within one step)
        for corner in roi:
            ijk = vol.patient_to_index(corner)
            assert np.all(ijk > -1.0) and np.all(ijk < np.array(vol.dimensions))
        # the marker is still where the model put it
        assert vol.value_at(ph.spec.marker_center) == ph.spec.marker_hu
    cropped = _quiet(vda.load, tmp_path, roi=roi)
    assert len(cropped.files) < len(full.files)  # only the files the box needs


def test_roi_outside_the_volume_is_an_error_with_the_extent(tmp_path: Path) -> None:
    write_phantom(tmp_path, rows=32, columns=32, slices=8)
    with pytest.raises(GeometryError, match="lies outside the volume, which spans"):
        vda.load(tmp_path, roi=((500, 500, 500), (600, 600, 600)))
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        vda.load(tmp_path, stride=0)


# ------------------------------------------------------------------ bad input, before anything is read
@pytest.mark.parametrize(
    ("roi", "named"),
    [
        (((10, -20, 30), (10, 40, 50)), "zero size along x (x0 = x1 = 10 mm)"),
        (((0, 5, 0), (10, 5, 10)), "zero size along y (y0 = y1 = 5 mm)"),
        (((0, 0, -7.5), (10, 10, -7.5)), "zero size along z (z0 = z1 = -7.5 mm)"),
        (((1, 2, 3), (1, 2, 3)), "zero size along x (x0 = x1 = 1 mm), y (y0 = y1 = 2 mm), z (z0 = z1 = 3 mm)"),
        (((0, 0, 0), (1, 1)), "must be two (x, y, z) corners"),
        ("box", "must be two (x, y, z) corners"),
        (((0, 0, float("nan")), (1, 1, 1)), "must be finite"),
    ],
)
def test_a_bad_roi_is_one_line_value_error_naming_the_values_before_any_file_is_read(tmp_path: Path, roi: Any, named: str) -> None:
    # the folder does not exist: had the files been scanned, the error would be about it
    with pytest.raises(ValueError) as info:
        vda.load(tmp_path / "no-such-study", roi=roi)
    message = str(info.value)
    assert named in message and "\n" not in message
    if "zero size" in message:
        assert message.startswith(f"roi ({', '.join(f'{float(v):g}' for v in roi[0])})..")


@pytest.mark.parametrize("stride", [0, -1, 1.5, True, "2"])
def test_a_stride_below_1_or_not_an_integer_is_refused_before_any_file_is_read(tmp_path: Path, stride: Any) -> None:
    with pytest.raises(ValueError, match=r"^stride must be a positive integer .*got " + repr(stride).replace(".", r"\.")):
        vda.load(tmp_path / "no-such-study", stride=stride)


def test_a_roi_outside_names_the_roi_and_the_volume_extent(tmp_path: Path) -> None:
    write_phantom(tmp_path, rows=32, columns=32, slices=8)
    with pytest.raises(GeometryError) as info:
        vda.load(tmp_path, roi=((500, 500, 500), (600, 600, 600)))
    message = str(info.value)
    assert message.startswith("roi (500, 500, 500)..(600, 600, 600) mm lies outside the volume, which spans [") and "\n" not in message


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of the real pixel reader (the function itself still runs)."""
    from vtkdicom_app.io import pixels

    calls: list[int] = []
    real = pixels.read_frames

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pixels, "read_frames", counted)
    return calls


def test_a_study_over_the_memory_limit_names_the_size_and_a_crop_or_stride_that_fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_phantom(tmp_path, rows=48, columns=40, slices=20)
    scanned = vda.scan(tmp_path)
    monkeypatch.setenv("VTKDICOM_APP_MEMORY_LIMIT", "40K")  # the volume: 20 x 48 x 40 x 2 bytes = 75 KiB
    reads = _count_reads(monkeypatch)
    with pytest.raises(vda.MemoryLimitError) as info:
        vda.load(scanned)
    message = str(info.value)
    assert "\n" not in message
    assert "needs 0 MiB (20 x 48 x 40 x 2 = 76800 bytes) but the memory limit is 0 MiB (40960 bytes)" in message
    assert "stride=2 (--downsample 2) needs 0 MiB (9600 bytes)" in message
    assert "a roi of at most 10 of these 20 slices fits" in message and "--crop" in message
    assert reads == []  # refused before the pixels were read (or their array allocated)
    # what it suggests does fit
    assert _quiet(vda.load, scanned, stride=2).shape == (10, 24, 20)
    assert reads == [1]


def test_a_crop_still_over_the_limit_says_the_cropped_volume_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ph = write_phantom(tmp_path, rows=48, columns=40, slices=20)
    scanned = vda.scan(tmp_path)
    full = _quiet(vda.load, scanned)
    monkeypatch.setenv("VTKDICOM_APP_MEMORY_LIMIT", "8K")
    # the lower half of the slices, whole rows and columns: 10 x 48 x 40 x 2 bytes
    z = [p[2] for p in ph.positions]
    lo, hi = full.corners.min(axis=0) - 1, full.corners.max(axis=0) + 1
    roi = ((lo[0], lo[1], min(z) - 0.1), (hi[0], hi[1], sorted(z)[9]))
    with pytest.raises(vda.MemoryLimitError) as info:
        _quiet(vda.load, scanned, roi=roi)
    message = str(info.value)
    assert "the cropped volume needs 0 MiB (10 x 48 x 40 x 2 = 38400 bytes) but the memory limit is 0 MiB (8192 bytes)" in message
    assert "stride=2 (--downsample 2) needs 0 MiB (4800 bytes); a roi of at most 2 of these 10 slices fits" in message


# ------------------------------------------------------------------ crops through tilted and irregular stacks
def test_a_crop_of_a_tilted_stack_says_what_it_did_and_keeps_the_marker_in_place(tmp_path: Path) -> None:
    from vtkdicom_app.notices import Notice, NoticeCode

    ph = write_phantom(tmp_path, rows=48, columns=40, slices=20, gantry_tilt_deg=15)
    c = np.asarray(ph.spec.marker_center)
    h = np.asarray(ph.spec.marker_half_size) + 3.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vol = vda.load(tmp_path, roi=(tuple(c - h), tuple(c + h)), correct_tilt=True)
    notes = [m for m in vol.warnings if isinstance(m, Notice) and m.code is NoticeCode.ROI_ADJUSTED]
    assert len(notes) == 1 and "gantry-tilted stack (15.00 degrees)" in notes[0] and "resampled onto an orthogonal grid" in notes[0]
    assert any(str(w.message) == notes[0] for w in caught)
    assert vol.shape[0] < 20 and vol.tilt_corrected
    # resampled from the crop's own first slice: the marker is where the model put it
    assert vol.value_at(ph.spec.marker_center) == ph.spec.marker_hu
    sheared = _quiet(vda.load, tmp_path, roi=(tuple(c - h), tuple(c + h)))
    note = next(m for m in sheared.warnings if isinstance(m, Notice) and m.code is NoticeCode.ROI_ADJUSTED)
    assert "slices stay sheared (correct_tilt=True resamples them)" in note


def test_a_crop_of_an_irregular_stack_picks_slices_by_their_positions_and_says_so(tmp_path: Path) -> None:
    from vtkdicom_app.notices import Notice, NoticeCode

    ph = write_phantom(tmp_path, rows=32, columns=32, slices=20, skip_slices=(5,))  # 4 mm between slices 4 and 5
    z = np.array([p[2] for p in ph.positions])  # the written slices, 2 mm apart but for the gap
    full = _quiet(vda.load, tmp_path)
    assert full.spacing[2] != pytest.approx(2.0)  # a uniform step over the gap
    lo, hi = full.corners.min(axis=0), full.corners.max(axis=0)  # in-plane: the whole slice

    def codes(vol: Any) -> list[Any]:
        return [m.code for m in vol.warnings if isinstance(m, Notice)]

    # through the gap: the slices are the files between the box's z, wherever the uniform step would put them
    through = _quiet(vda.load, tmp_path, roi=((lo[0], lo[1], z[2]), (hi[0], hi[1], z[8])))
    assert through.shape[0] == 7
    assert NoticeCode.IRREGULAR_SPACING in codes(through)
    note = next(m for m in through.warnings if isinstance(m, Notice) and m.code is NoticeCode.ROI_ADJUSTED)
    assert note.startswith("roi cuts through irregular slice spacing: slices 2..8") and "mean step of" in note
    assert through.spacing[2] == pytest.approx((z[8] - z[2]) / 6)
    assert through.origin[2] == pytest.approx(z[2])
    # past the gap: evenly spaced slices, placed where the files say, and no gap warning
    after = _quiet(vda.load, tmp_path, roi=((lo[0], lo[1], z[6]), (hi[0], hi[1], z[12])))
    assert after.shape[0] == 7 and after.spacing[2] == pytest.approx(2.0)
    assert NoticeCode.IRREGULAR_SPACING not in codes(after)
    assert any("the crop holds no gap" in m for m in after.warnings)
    slice_z = after.index_to_patient(np.array([[0, 0, k] for k in range(7)], dtype=np.float64))[:, 2]
    np.testing.assert_allclose(slice_z, z[6:13])
    np.testing.assert_array_equal(after.array, full.array[6:13])
