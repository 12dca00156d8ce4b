"""Grouping, sorting and geometry of frame records (vtkdicom_app.io.series).

Small real files (4 x 5 pixels, written with pydicom) go through the fast header reader into
frame records, then into ``group_records``; every test knows which stacks, in which order,
with which positions, labels, 4D values and warnings must come out.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from vtkdicom_app.errors import GeometryError
from vtkdicom_app.io.header import read_header
from vtkdicom_app.io.records import FrameRecord, records_from_header
from vtkdicom_app.io.series import Stack, compute_geometry, group_records
from vtkdicom_app.testing.images import uid_for, write_image
from vtkdicom_app.testing.phantom import MultiFrame, PhantomOrientation, write_phantom

PIX = np.arange(20, dtype=np.uint16).reshape(4, 5)
AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
CORONAL = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
SERIES = "1.2.826.0.1.3680043.8.498.1"


def _slice(folder: Path, name: str, z: float, *, iop: list[float] = AXIAL, **attrs: Any) -> Path:
    """One slice at height ``z`` along the normal of ``iop`` (only the normal's axis varies)."""
    r, c = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    ipp = [float(v) for v in z * np.cross(r, c)]
    folder.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = dict(
        ImagePositionPatient=ipp,
        ImageOrientationPatient=iop,
        SeriesInstanceUID=SERIES,
        SOPInstanceUID=uid_for(folder, name),
        PixelSpacing=["0.5", "0.75"],
    )
    values.update(attrs)
    return write_image(folder / name, PIX, **values)


def _records(paths: list[Path]) -> list[FrameRecord]:
    out: list[FrameRecord] = []
    for p in paths:
        out.extend(records_from_header(read_header(p)))
    return out


def _stacks(folder: Path) -> list[Stack]:
    return group_records(_records(sorted(folder.iterdir())))


def _z(stack: Stack) -> list[float]:
    return [round(r.ipp[2], 6) for r in stack.records]  # type: ignore[index]


# --- sorting and geometry -------------------------------------------------------------------------


def test_slices_are_sorted_along_the_normal_whatever_names_and_instance_numbers_say(tmp_path: Path) -> None:
    for n, z in enumerate([20.0, 0.0, 15.0, 5.0, 10.0]):
        _slice(tmp_path, f"f{n}", z, InstanceNumber=10 - n, SliceThickness="1")
    (stack,) = _stacks(tmp_path)
    assert stack.uid == SERIES and stack.label == "" and stack.error is None
    assert _z(stack) == [0.0, 5.0, 10.0, 15.0, 20.0]
    geo = stack.geometry
    assert geo is not None and geo.known and geo.warnings == []
    np.testing.assert_allclose(geo.origin, [0, 0, 0])
    assert geo.spacing == (0.75, 0.5, 5.0)  # (di, dj, dk): column spacing first; dk from positions, not SliceThickness
    np.testing.assert_allclose(geo.direction, np.eye(3))
    assert stack.shape == (5, 4, 5)


@pytest.mark.parametrize("orientation", list(PhantomOrientation), ids=lambda o: o.name)
def test_phantom_positions_come_back_sorted_with_a_right_handed_direction(tmp_path: Path, orientation: PhantomOrientation) -> None:
    res = write_phantom(tmp_path, rows=8, columns=6, slices=5, pixel_spacing=(2.0, 3.0), slice_spacing=4.0,
                        orientation=orientation, feet_first=True, shuffle_names=True, reverse_instance_numbers=True)
    (stack,) = group_records(_records(res.files))
    geo = stack.geometry
    assert geo is not None
    np.testing.assert_allclose(np.array([r.ipp for r in stack.records], float), np.array(res.expected_sorted_positions()), atol=1e-6)
    np.testing.assert_allclose(geo.direction, np.column_stack([res.row_direction, res.column_direction, res.normal]), atol=1e-5)
    assert np.linalg.det(geo.direction) == pytest.approx(1.0, abs=1e-5)
    assert geo.spacing == pytest.approx((3.0, 2.0, 4.0), abs=1e-5)


def test_a_gap_is_reported_with_the_missing_slice_count(tmp_path: Path) -> None:
    for n, z in enumerate([0.0, 2.0, 4.0, 8.0, 10.0]):
        _slice(tmp_path, f"f{n}", z, InstanceNumber=n + 1)
    (stack,) = _stacks(tmp_path)
    assert stack.geometry is not None and stack.geometry.spacing[2] == pytest.approx(2.5)  # uniform step end to end
    (warning,) = stack.geometry.warnings
    assert "irregular slice spacing" in warning and "4.000 mm between slices 2 and 3" in warning
    assert "about 1 missing slice(s)" in warning


def test_gantry_tilt_is_measured_from_the_positions(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, rows=8, columns=8, slices=6, pixel_spacing=(2.0, 2.0), slice_spacing=3.0, gantry_tilt_deg=20.0)
    (stack,) = group_records(_records(res.files))
    geo = stack.geometry
    assert geo is not None and geo.tilt_deg == pytest.approx(20.0, abs=0.01)
    np.testing.assert_allclose(np.linalg.norm(geo.shear), 3.0 * np.sin(np.radians(20.0)), atol=1e-4)
    assert any("gantry tilt of 20.00 degrees" in w and "GantryDetectorTilt = 20" in w for w in geo.warnings)


def test_classic_multiframe_frames_get_positions_from_the_offsets(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, rows=8, columns=8, slices=4, slice_spacing=2.5, multiframe=MultiFrame.CLASSIC)
    (stack,) = group_records(_records(res.files))
    assert [r.frame for r in stack.records] == [0, 1, 2, 3] and stack.files == [str(res.files[0])]
    assert stack.geometry is not None and stack.geometry.spacing[2] == pytest.approx(2.5)


def test_a_single_slice_has_a_unit_slice_step(tmp_path: Path) -> None:
    _slice(tmp_path, "one", 7.0, SliceThickness="3")
    (stack,) = _stacks(tmp_path)
    assert stack.geometry is not None and stack.geometry.spacing == (0.75, 0.5, 1.0)
    np.testing.assert_allclose(stack.geometry.origin, [0, 0, 7.0])


def test_missing_positions_leave_the_geometry_unknown_in_instance_order(tmp_path: Path) -> None:
    for n in (3, 1, 2):
        path = _slice(tmp_path, f"f{n}", float(n), InstanceNumber=n, SpacingBetweenSlices="2.5")
        ds = pydicom.dcmread(path)
        del ds.ImagePositionPatient
        ds.save_as(path)
    (stack,) = _stacks(tmp_path)
    geo = stack.geometry
    assert geo is not None and not geo.known
    assert [r.instance for r in stack.records] == [1, 2, 3]
    assert geo.spacing[2] == 2.5  # the declared step is all there is
    assert any("3 of 3 images lack ImagePositionPatient" in w for w in geo.warnings)


# --- invalid geometry -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iop", "message"),
    [([1, 0, 0, 0.5, 0.866025, 0], "not orthogonal"), ([2, 0, 0, 0, 1, 0], "not made of unit vectors")],
    ids=["skewed", "not-unit"],
)
def test_invalid_orientation_makes_an_error_stack(tmp_path: Path, iop: list[float], message: str) -> None:
    for n in range(3):
        _slice(tmp_path, f"f{n}", float(n), iop=AXIAL, InstanceNumber=n + 1)
    for path in tmp_path.iterdir():
        ds = pydicom.dcmread(path)
        ds.ImageOrientationPatient = iop
        ds.save_as(path)
    (stack,) = _stacks(tmp_path)
    assert stack.geometry is None and stack.error is not None
    assert message in stack.error and "ImageOrientationPatient (0020,0037)" in stack.error
    with pytest.raises(GeometryError, match=message):
        compute_geometry(stack.records)


def test_non_positive_pixel_spacing_is_a_geometry_error(tmp_path: Path) -> None:
    paths = [_slice(tmp_path, f"f{n}", float(n), PixelSpacing=["0", "0.5"]) for n in range(2)]
    with pytest.raises(GeometryError, match=r"PixelSpacing \(0028,0030\).*must be positive"):
        compute_geometry(_records(paths))


# --- grouping and splitting ------------------------------------------------------------------------


def test_series_are_grouped_by_uid_and_ordered_by_series_number(tmp_path: Path) -> None:
    for n in range(3):
        _slice(tmp_path, f"b{n}", float(n), SeriesInstanceUID="1.2.3.9", SeriesNumber=2, InstanceNumber=n + 1)
    for n in range(4):
        _slice(tmp_path, f"a{n}", float(n), SeriesInstanceUID="1.2.3.10", SeriesNumber=1, InstanceNumber=n + 1)
    stacks = _stacks(tmp_path)
    assert [(s.uid, len(s.records)) for s in stacks] == [("1.2.3.10", 4), ("1.2.3.9", 3)]
    assert all(not s.warnings for s in stacks)


def test_one_uid_with_two_orientations_splits_into_numbered_stacks(tmp_path: Path) -> None:
    for n in range(4):
        _slice(tmp_path, f"ax{n}", float(n), InstanceNumber=n + 1)
    for n in range(3):
        _slice(tmp_path, f"co{n}", float(n), iop=CORONAL, InstanceNumber=10 + n)
    stacks = _stacks(tmp_path)
    assert [(s.uid, len(s.records)) for s in stacks] == [(f"{SERIES}#1", 4), (f"{SERIES}#2", 3)]  # larger first
    assert stacks[0].label.startswith("orientation 1.0\\0.0\\0.0\\0.0\\1.0")
    assert all(s.series_uid == SERIES for s in stacks)
    assert all("split into 2 stacks by ImageOrientationPatient" in " ".join(s.warnings) for s in stacks)
    np.testing.assert_allclose(stacks[1].geometry.direction[:, 2], [0, 1, 0])  # type: ignore[union-attr]


def test_sizes_and_localizers_split_a_series(tmp_path: Path) -> None:
    for n in range(3):
        _slice(tmp_path, f"a{n}", float(n), InstanceNumber=n + 1)
    write_image(tmp_path / "big", np.zeros((6, 5), np.uint16), SeriesInstanceUID=SERIES, ImagePositionPatient=[0, 0, 9],
                ImageOrientationPatient=AXIAL, PixelSpacing=["0.5", "0.75"], SOPInstanceUID=uid_for("big"))
    _slice(tmp_path, "scout", 0.0, iop=CORONAL, ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"], SOPInstanceUID=uid_for("scout"))
    stacks = _stacks(tmp_path)
    assert [len(s.records) for s in stacks] == [3, 1, 1]
    scouts = [s for s in stacks if s.is_localizer]
    assert len(scouts) == 1 and "localizer" in scouts[0].label
    assert any("6x5" in s.label for s in stacks)
    assert {s.uid for s in stacks} == {f"{SERIES}#{k}" for k in (1, 2, 3)}


def test_one_uid_under_two_series_numbers_gives_numbered_uids(tmp_path: Path) -> None:
    for n in range(3):
        _slice(tmp_path, f"a{n}", float(n), SeriesNumber=3, InstanceNumber=n + 1)
        _slice(tmp_path, f"b{n}", float(n) + 0.5, SeriesNumber=4, InstanceNumber=n + 1)
    stacks = _stacks(tmp_path)
    assert [s.uid for s in stacks] == [f"{SERIES}#1", f"{SERIES}#2"]
    assert [s.tags["SeriesNumber"] for s in stacks] == [3, 4]
    assert [_z(s)[0] for s in stacks] == [0.0, 0.5]


# --- repeated positions: 4D series and duplicates --------------------------------------------------


def _volumes(folder: Path, values: list[dict[str, Any]], positions: int = 4, skip: frozenset[tuple[int, int]] = frozenset()) -> None:
    """Volume ``v`` has ``values[v]`` on every slice; images are numbered volume after volume."""
    for v, attrs in enumerate(values):
        for k in range(positions):
            if (v, k) in skip:
                continue
            _slice(folder, f"v{v}k{k}", 3.0 * k, InstanceNumber=v * positions + k + 1, **attrs)


def _sequence(stacks: list[Stack]) -> list[Stack]:
    return [s for s in stacks if s.sequence_axis is not None]


def test_echoes_make_a_4d_series_on_the_echo_axis(tmp_path: Path) -> None:
    _volumes(tmp_path, [{"EchoNumbers": 2, "EchoTime": "20"}, {"EchoNumbers": 1, "EchoTime": "10"}])
    stacks = _stacks(tmp_path)
    assert len(stacks) == 2 == len(_sequence(stacks))
    assert [s.sequence_axis for s in stacks] == ["echo", "echo"]
    assert [s.sequence_value for s in stacks] == [10.0, 20.0]  # sorted by echo, not by file or instance
    assert [s.uid for s in stacks] == [f"{SERIES}#1", f"{SERIES}#2"] and {s.sequence_id for s in stacks} == {SERIES}
    assert [_z(s) for s in stacks] == [[0.0, 3.0, 6.0, 9.0]] * 2
    assert all(r.instance > 4 for r in stacks[0].records)  # the second volume written is echo 1
    assert "EchoNumbers=1" in stacks[0].sequence_label


def test_temporal_positions_make_a_time_series_valued_by_trigger_time(tmp_path: Path) -> None:
    _volumes(tmp_path, [{"TemporalPositionIdentifier": t + 1, "TriggerTime": str(100 * t)} for t in (2, 0, 1)])
    stacks = _stacks(tmp_path)
    assert [s.sequence_axis for s in stacks] == ["time"] * 3
    assert [s.sequence_value for s in stacks] == [0.0, 100.0, 200.0]
    assert [s.tags["TemporalPositionIdentifier"] for s in stacks] == [1, 2, 3]


def test_b_values_and_directions_make_a_diffusion_series(tmp_path: Path) -> None:
    protocol = [(1000.0, [0.0, 1.0, 0.0]), (0.0, [0.0, 0.0, 0.0]), (1000.0, [1.0, 0.0, 0.0])]
    _volumes(tmp_path, [{"DiffusionBValue": b, "DiffusionGradientOrientation": g} for b, g in protocol])
    stacks = _stacks(tmp_path)
    assert [s.sequence_axis for s in stacks] == ["diffusion"] * 3
    assert [s.bvalue for s in stacks] == [0.0, 1000.0, 1000.0]
    assert [s.gradient for s in stacks] == [None, (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)]  # acquisition order within a b-value
    assert [s.sequence_value for s in stacks] == [0.0, 1000.0, 1000.0]


def test_instance_numbers_alone_make_volumes_valued_by_repetition_time(tmp_path: Path) -> None:
    _volumes(tmp_path, [{"RepetitionTime": "2000"}] * 3)
    stacks = _stacks(tmp_path)
    assert [s.sequence_axis for s in stacks] == ["time"] * 3
    assert [s.sequence_value for s in stacks] == [0.0, 2000.0, 4000.0]
    assert [sorted(r.instance for r in s.records) for s in stacks] == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    assert [s.sequence_label for s in stacks] == ["volume=1", "volume=2", "volume=3"]


def test_an_incomplete_volume_is_left_out_of_the_4d_series_with_a_warning(tmp_path: Path) -> None:
    _volumes(tmp_path, [{"EchoNumbers": e, "EchoTime": str(10 * e)} for e in (1, 2, 3)], skip=frozenset({(1, 2)}))
    stacks = _stacks(tmp_path)
    members = _sequence(stacks)
    assert [s.sequence_value for s in members] == [10.0, 30.0]
    (left_out,) = [s for s in stacks if s.sequence_axis is None]
    assert len(left_out.records) == 3 and left_out.tags["EchoNumbers"] == 2
    note = " ".join(left_out.warnings)
    assert "lacks 1 slice(s), at 6.00 mm along the normal" in note and "left out of the 4D series" in note
    assert all("keeps the 2 complete volumes" in " ".join(s.warnings) for s in members)


def test_a_copied_file_is_dropped_as_a_duplicate(tmp_path: Path) -> None:
    paths = [_slice(tmp_path, f"f{n}", float(n), InstanceNumber=n + 1) for n in range(3)]
    shutil.copy(paths[1], tmp_path / "copy_of_f1")
    (stack,) = _stacks(tmp_path)
    assert len(stack.records) == 3 and stack.sequence_axis is None
    assert any("same SOPInstanceUID" in w and "copy_of_f1" in w for w in stack.warnings)


def test_images_nothing_tells_apart_are_dropped_as_duplicates(tmp_path: Path) -> None:
    for n in range(3):
        _slice(tmp_path, f"f{n}", float(n), InstanceNumber=n + 1)
    _slice(tmp_path, "again", 1.0, InstanceNumber=2)  # another SOP at f1's position with f1's number
    (stack,) = _stacks(tmp_path)
    assert _z(stack) == [0.0, 1.0, 2.0]
    assert any("duplicate positions dropped" in w for w in stack.warnings)
