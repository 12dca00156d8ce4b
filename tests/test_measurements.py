"""Measurements in patient space (vtkdicom_app.measurements): known answers on phantoms and
numpy volumes, oblique planes and oblique grids included; the list, its events and exports."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vtkdicom_app.io.loader import load
from vtkdicom_app.measurements import (
    MEASUREMENTS_SCHEMA,
    Angle,
    Ellipse,
    MeasurementChange,
    MeasurementError,
    MeasurementList,
    Ruler,
    Sphere,
    measure,
    shape_from_dict,
    shape_to_dict,
)
from vtkdicom_app.mpr import Interpolation, Plane, Reslicer, plane_axes
from vtkdicom_app.phantom import PhantomOrientation
from vtkdicom_app.volume import Volume


def _rotation(axis: Any, degrees: float) -> np.ndarray:
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    t = math.radians(degrees)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)


@pytest.fixture(scope="module")
def oblique_linear() -> tuple[Volume, np.ndarray, float]:
    """An oblique grid whose voxels hold f(x) = g . x + b (LPS mm): linear interpolation is exact."""
    direction = _rotation((1, 2, 3), 25.0)
    shape = (50, 60, 70)
    spacing = (0.9, 1.1, 1.3)
    origin = -(direction @ (np.array(shape[::-1]) * spacing / 2.0))
    kk, jj, ii = np.indices(shape, dtype=np.float64)
    ijk = np.stack([ii, jj, kk], axis=-1) * spacing
    xyz = ijk @ direction.T + origin
    g, b = np.array([2.0, -1.0, 0.5]), 100.0
    array = (xyz @ g + b).astype(np.float32)
    return Volume(array, spacing=spacing, origin=tuple(origin), direction=direction, modality="CT"), g, b


@pytest.fixture(scope="module")
def sphere_phantom(phantom_factory: Any) -> tuple[Any, Volume]:
    ph = phantom_factory(rows=96, columns=96, slices=64, pixel_spacing=(1.0, 1.0), slice_spacing=1.5, sphere_radius_mm=15.0, sphere_hu=700.0)
    return ph, load(ph.outdir)


@pytest.fixture(scope="module")
def oblique_sphere_phantom(phantom_factory: Any) -> tuple[Any, Volume]:
    ph = phantom_factory(
        rows=96,
        columns=96,
        slices=72,
        pixel_spacing=(1.0, 1.0),
        slice_spacing=1.25,
        orientation=PhantomOrientation.OBLIQUE,
        sphere_radius_mm=15.0,
        sphere_hu=700.0,
    )
    return ph, load(ph.outdir)


# ------------------------------------------------------------------ ruler and angle
def test_ruler_between_two_points_of_an_oblique_plane(oblique_linear: tuple[Volume, np.ndarray, float]) -> None:
    vol, _g, _b = oblique_linear
    normal = np.array([1.0, 1.0, 2.0])
    s = Reslicer(vol).reslice(Plane.OBLIQUE, normal=normal)
    rows, cols = s.shape
    (r0, c0), (r1, c1) = (rows // 2 - 12, cols // 2 - 7), (rows // 2 + 9, cols // 2 + 11)
    p0, p1 = s.pixel_to_patient(r0, c0), s.pixel_to_patient(r1, c1)
    # the points lie on the plane, and the ruler reads the in-plane distance
    n = normal / np.linalg.norm(normal)
    assert abs(float((p1 - p0) @ n)) < 1e-9
    expected = math.hypot((r1 - r0) * s.pixel_size[1], (c1 - c0) * s.pixel_size[0])
    ruler = Ruler(p0, p1)
    assert ruler.length_mm == pytest.approx(expected, abs=1e-9)
    assert ruler.length_mm == pytest.approx(float(np.linalg.norm(p1 - p0)), abs=1e-12)
    result = measure(vol, ruler)
    assert result.length_mm == pytest.approx(expected, abs=1e-9) and result.label() == f"{expected:.1f} mm"


def test_ruler_known_lps_distance_and_outside_point() -> None:
    vol = Volume(np.zeros((20, 30, 40), np.int16), spacing=(1.0, 1.0, 2.0), origin=(-20.0, -15.0, -19.0))
    assert measure(vol, Ruler((-10.0, 0.0, 0.0), (10.0, 5.0, -3.0))).length_mm == pytest.approx(math.sqrt(400 + 25 + 9))
    assert Ruler((0, 0, 0), (3, 4, 12)).length_mm == 13.0
    with pytest.raises(MeasurementError, match=r"ruler's end point \(0\.0, 0\.0, 500\.0\) mm \(LPS\) lies outside the volume"):
        measure(vol, Ruler((0, 0, 0), (0, 0, 500)))


@pytest.mark.parametrize(
    ("a", "b", "degrees"),
    [
        ((10, 0, 0), (10, 10, 0), 45.0),
        ((1, 0, 0), (0, 0, 7), 90.0),
        ((1, 0, 0), (-3, 0, 0), 180.0),
        ((3, 0, 0), (3, 4, 0), math.degrees(math.atan2(4, 3))),  # the 3-4-5 triangle at its corner
        ((5, 0, 0), (5, 1e-7, 0), math.degrees(math.atan2(1e-7, 5))),  # tiny angles stay exact
    ],
)
def test_angle_of_known_vectors_in_any_orientation(a: tuple[float, ...], b: tuple[float, ...], degrees: float) -> None:
    vertex = np.array([3.0, -2.0, 1.0])
    for rot in (np.eye(3), _rotation((1, -2, 0.5), 37.0)):
        angle = Angle(vertex + rot @ np.asarray(a, float), vertex, vertex + rot @ np.asarray(b, float))
        assert angle.degrees == pytest.approx(degrees, abs=1e-9)


def test_angle_on_a_volume_and_degenerate_angles() -> None:
    vol = Volume(np.zeros((10, 10, 10), np.int16), spacing=(2.0, 2.0, 2.0))
    r = measure(vol, Angle((10, 0, 0), (0, 0, 0), (0, 10, 0)))
    assert r.angle_deg == pytest.approx(90.0) and r.label() == "90.0\N{DEGREE SIGN}"
    with pytest.raises(ValueError, match="zero length"):
        Angle((0, 0, 0), (0, 0, 0), (1, 0, 0))
    with pytest.raises(MeasurementError, match="angle's point"):
        measure(vol, Angle((10, 0, 0), (0, 0, 0), (0, -50, 0)))


# ------------------------------------------------------------------ ellipse
def test_ellipse_on_an_oblique_plane_of_an_oblique_grid_linear_field(oblique_linear: tuple[Volume, np.ndarray, float]) -> None:
    """f = g . x + b sampled over an ellipse: mean f(c), SD sqrt(((g.u)^2 + (g.v)^2) / 4), extremes f(c) -+ sqrt(...)."""
    vol, g, b = oblique_linear
    centre = np.array([2.0, -3.0, 1.5])
    axes = plane_axes(Plane.OBLIQUE, (0.3, -1.0, 0.8))
    e = Ellipse.in_plane(centre, 14.0, 8.0, axes, angle_deg=30.0)
    assert abs(float(e.normal @ axes[:, 2])) == pytest.approx(1.0)
    r = measure(vol, e, interpolation=Interpolation.LINEAR, pixel_size=0.5)
    s = r.stats
    assert s is not None and not s.clipped and s.unit == "HU"
    u, v = np.asarray(e.axis_u), np.asarray(e.axis_v)
    spread = math.hypot(float(g @ u), float(g @ v))
    f_c = float(g @ centre + b)
    assert s.mean == pytest.approx(f_c, abs=0.05 * float(np.linalg.norm(g)))  # the samples' centroid within 0.05 mm of the centre
    assert s.sd == pytest.approx(spread / 2.0, rel=0.02)
    step = float(np.linalg.norm(g)) * 0.5  # the value change across one sample
    assert f_c - spread <= s.min <= f_c - spread + step
    assert f_c + spread - step <= s.max <= f_c + spread
    assert s.area_mm2 == pytest.approx(e.area_mm2, rel=0.02)
    assert s.count == pytest.approx(e.area_mm2 / 0.25, rel=0.02)


def test_ellipse_area_on_an_oblique_view_of_the_phantom_and_uniform_mean(oblique_sphere_phantom: tuple[Any, Volume]) -> None:
    ph, vol = oblique_sphere_phantom
    c = np.asarray(ph.spec.sphere_center)
    axes = plane_axes(Plane.OBLIQUE, (1.0, 0.4, -0.7))
    e = Ellipse.in_plane(c, 11.0, 7.0, axes, angle_deg=-20.0)  # inside the 15 mm bone sphere
    s = measure(vol, e).stats
    assert s is not None
    assert s.area_mm2 == pytest.approx(e.area_mm2, rel=0.02)
    assert s.mean == pytest.approx(700.0, abs=1.0) and s.sd < 1.0 and s.min == s.max == 700.0


def test_ellipse_partly_outside_is_clipped_and_wholly_outside_fails() -> None:
    vol = Volume(np.full((10, 40, 40), 5, np.int16), spacing=(1.0, 1.0, 1.0), modality="MR")
    s = measure(vol, Ellipse.in_plane((1.0, 20.0, 5.0), 8.0, 8.0, np.eye(3))).stats
    assert s is not None and s.clipped and s.mean == 5.0 and s.unit == ""
    assert s.area_mm2 is not None and s.area_mm2 < math.pi * 64 * 0.75
    with pytest.raises(MeasurementError, match="ellipse's centre point"):
        measure(vol, Ellipse.in_plane((100.0, 20.0, 5.0), 8.0, 8.0, np.eye(3)))


def test_ellipse_validation_and_handles() -> None:
    with pytest.raises(ValueError, match="perpendicular"):
        Ellipse((0, 0, 0), (1, 0, 0), (1, 1, 0))
    with pytest.raises(ValueError, match="not be zero"):
        Ellipse((0, 0, 0), (0, 0, 0), (0, 1, 0))
    e = Ellipse.in_plane((0, 0, 0), 10.0, 4.0, np.eye(3))
    assert [tuple(h) for h in e.handles()] == [(0, 0, 0), (10, 0, 0), (-10, 0, 0), (0, 4, 0), (0, -4, 0)]
    moved = e.move_handle(0, (1, 2, 3))
    assert moved.centre == (1, 2, 3) and moved.axis_u == e.axis_u
    # an axis end dragged off the plane: projected, the axis turns and the other keeps its length
    turned = e.move_handle(1, (0.0, 6.0, 9.0))
    assert turned.radii_mm == pytest.approx((6.0, 4.0))
    assert np.allclose(turned.normal, (0, 0, 1)) and np.allclose(turned.axis_u, (0, 6, 0))
    assert e.move_handle(4, (0.0, -2.0, 0.0)).radii_mm == pytest.approx((10.0, 2.0))
    with pytest.raises(ValueError, match="handles 0..4"):
        e.move_handle(5, (0, 0, 0))


# ------------------------------------------------------------------ sphere
@pytest.mark.parametrize("which", ["axial", "oblique"])
def test_sphere_roi_on_the_phantom_sphere(which: str, sphere_phantom: tuple[Any, Volume], oblique_sphere_phantom: tuple[Any, Volume]) -> None:
    ph, vol = sphere_phantom if which == "axial" else oblique_sphere_phantom
    spec = ph.spec
    assert spec.sphere_radius == 15.0 and spec.sphere_hu == 700.0
    roi = Sphere(spec.sphere_center, spec.sphere_radius)
    s = measure(vol, roi).stats
    assert s is not None and not s.clipped and s.unit == "HU"
    assert abs(s.mean - 700.0) <= 1.0
    assert s.volume_mm3 == pytest.approx(spec.sphere_volume_mm3, rel=0.03)
    voxel = float(np.prod(vol.spacing))
    assert s.count == round(s.volume_mm3 / voxel)
    # a smaller ROI inside is uniform
    inner = measure(vol, Sphere(spec.sphere_center, 10.0)).stats
    assert inner is not None and inner.min == inner.max == 700.0 and inner.sd == 0.0


def test_sphere_roi_validation_edges_and_handles() -> None:
    vol = Volume(np.arange(1000, dtype=np.int16).reshape(10, 10, 10), spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="positive"):
        Sphere((0, 0, 0), 0.0)
    s = measure(vol, Sphere((0.0, 0.0, 0.0), 2.0)).stats  # at a corner: part of it is outside
    assert s is not None and s.clipped and s.min == 0.0
    one = measure(vol, Sphere((4.0, 4.0, 4.0), 0.4)).stats  # one voxel centre inside
    assert one is not None and one.count == 1 and one.mean == 444.0
    with pytest.raises(MeasurementError, match="contains no voxel centre"):
        measure(vol, Sphere((4.5, 4.5, 4.5), 0.4))
    with pytest.raises(MeasurementError, match="sphere's centre point"):
        measure(vol, Sphere((40.0, 4.0, 4.0), 3.0))
    sph = Sphere((1, 1, 1), 2.0)
    assert sph.move_handle(1, (1, 1, 6)).radius_mm == 5.0 and sph.move_handle(0, (0, 0, 0)).centre == (0, 0, 0)
    rgb = Volume(np.zeros((4, 4, 4, 3), np.uint8))
    with pytest.raises(MeasurementError, match="grey-value"):
        measure(rgb, Sphere((1, 1, 1), 1.0))


# ------------------------------------------------------------------ the list
def test_measurement_list_add_rename_edit_delete_with_events() -> None:
    ms = MeasurementList()
    seen: list[Any] = []
    ms.events.connect(seen.append)
    r = ms.add(Ruler((0, 0, 0), (10, 0, 0)))
    a = ms.add(Angle((1, 0, 0), (0, 0, 0), (0, 1, 0)), name="  knee  ")
    r2 = ms.add(Ruler((0, 0, 0), (0, 5, 0)))
    assert (r.name, a.name, r2.name) == ("Ruler 1", "knee", "Ruler 2") and ms.ids == (1, 2, 3)
    ms.rename(r.id, "femur")
    ms.rename(r.id, "femur")  # no change: no event
    ms.move_handle(r.id, 1, (0, 0, 20))
    assert ms.get(r.id).shape.length_mm == 20.0  # type: ignore[union-attr]
    ms.update(r.id, ms.get(r.id).shape)  # the same shape: no event
    with pytest.raises(ValueError, match="is a ruler"):
        ms.update(r.id, Sphere((0, 0, 0), 1))
    with pytest.raises(ValueError, match="empty"):
        ms.rename(a.id, "  ")
    ms.delete(r2.id)
    with pytest.raises(KeyError, match=r"no measurement 3; the ids are \[1, 2\]"):
        ms.get(r2.id)
    assert ms.add(Sphere((0, 0, 0), 2)).id == 4  # ids are not reused
    assert [(e.change, e.measurement.id if e.measurement else None) for e in seen] == [
        (MeasurementChange.ADDED, 1),
        (MeasurementChange.ADDED, 2),
        (MeasurementChange.ADDED, 3),
        (MeasurementChange.RENAMED, 1),
        (MeasurementChange.EDITED, 1),
        (MeasurementChange.DELETED, 3),
        (MeasurementChange.ADDED, 4),
    ]
    assert seen[3].measurement.name == "femur"
    ms.events.disconnect(seen.append)
    ms.clear()
    assert len(ms) == 0 and len(seen) == 7


def test_export_json_and_csv_with_values(sphere_phantom: tuple[Any, Volume], tmp_path: Path) -> None:
    ph, vol = sphere_phantom
    c = ph.spec.sphere_center
    ms = MeasurementList()
    ms.add(Ruler((c[0] - 15.0, c[1], c[2]), (c[0] + 15.0, c[1], c[2])), "across the sphere")
    ms.add(Angle((10, 0, 0), (0, 0, 0), (0, 10, 0)))
    ms.add(Ellipse.in_plane(c, 10.0, 6.0, plane_axes(Plane.CORONAL)))
    ms.add(Sphere(c, 15.0), "bone")
    ms.add(Ruler((0, 0, 0), (0, 0, 900)), "off the volume")
    js, cs = tmp_path / "m.json", tmp_path / "m.csv"
    ms.export_json(js, vol)
    ms.export_csv(cs, vol)
    data = json.loads(js.read_text())
    assert data["schema"] == MEASUREMENTS_SCHEMA
    rows = {m["name"]: m for m in data["measurements"]}
    assert rows["across the sphere"]["values"]["length_mm"] == pytest.approx(30.0)
    assert rows["Angle 1"]["values"]["angle_deg"] == pytest.approx(90.0)
    assert rows["bone"]["values"]["mean"] == pytest.approx(700.0, abs=1.0) and rows["bone"]["values"]["unit"] == "HU"
    assert rows["Ellipse 1"]["values"]["mean"] == pytest.approx(700.0, abs=1.0)
    assert "outside the volume" in rows["off the volume"]["error"] and "values" not in rows["off the volume"]
    # the file reads back to the same list (values are recomputed, not read)
    assert MeasurementList.from_dict(data) == ms
    table = list(csv.DictReader(cs.open()))
    assert [t["kind"] for t in table] == ["ruler", "angle", "ellipse", "sphere", "ruler"]
    assert float(table[3]["volume_mm3"]) == pytest.approx(ph.spec.sphere_volume_mm3, rel=0.03)
    assert float(table[2]["area_mm2"]) == pytest.approx(math.pi * 60.0, rel=0.02)
    assert table[4]["length_mm"] == "" and shape_from_dict(json.loads(table[4]["definition"])) == ms.get(5).shape
    # without a volume: the geometry only
    ms.export_csv(cs)
    plain = list(csv.DictReader(cs.open()))
    assert float(plain[0]["length_mm"]) == pytest.approx(30.0) and plain[3]["mean"] == ""


def test_exports_are_atomic_and_loading_checks_the_data(tmp_path: Path) -> None:
    ms = MeasurementList()
    ms.add(Ruler((0, 0, 0), (1, 0, 0)))
    with pytest.raises(OSError):
        ms.export_json(tmp_path / "missing" / "m.json")
    target = tmp_path / "keep.csv"
    target.write_text("old")
    ms.export_csv(target)
    assert target.read_text().startswith("id,name,kind")
    assert sorted(os.listdir(tmp_path)) == ["keep.csv"]  # no temporary left behind
    with pytest.raises(ValueError, match="unknown measurements schema"):
        MeasurementList.from_dict({"schema": "other/9", "measurements": []})
    with pytest.raises(ValueError, match="unknown measurement kind 'circle'"):
        MeasurementList.from_dict([{"id": 1, "name": "x", "kind": "circle"}])
    with pytest.raises(ValueError, match="needs the field 'radius_mm'"):
        MeasurementList.from_dict([{"id": 1, "name": "x", "kind": "sphere", "centre": [0, 0, 0]}])
    for shape in (Ruler((0, 0, 0), (1, 2, 3)), Angle((1, 0, 0), (0, 0, 0), (0, 1, 0)), Ellipse((0, 0, 0), (2, 0, 0), (0, 1, 0)), Sphere((1, 2, 3), 4)):
        assert shape_from_dict(json.loads(json.dumps(shape_to_dict(shape)))) == shape
