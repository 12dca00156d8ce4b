"""The segmentation model, its tools and its surfaces, on a CT phantom with a known answer.

The phantom (``tests/test_segmentation_phantom.py``) is written with pydicom and loaded with
the project's loader: a 20 mm bone sphere, a bone cylinder, the spine, a marker box on the
patient's left and a table plate under the body that a bone threshold catches and that is
the largest piece. Voxels are 0.8 x 0.8 x 1.0 mm.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh

from tests.test_segmentation_phantom import (
    CYLINDER_AXIS,
    CYLINDER_RADIUS,
    CYLINDER_Z,
    SPHERE_CENTER,
    SPHERE_RADIUS,
    TABLE,
    SegPhantom,
    write_ct_with_table,
)
from vtkdicom_app.bridge import mesh_to_arrays
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.mesh import signed_volume
from vtkdicom_app.segmentation import (
    EmptySegmentError,
    EventKind,
    GridMismatchError,
    Mode,
    ScissorsOperation,
    SegmentationError,
    SegmentationModel,
    ShellSide,
    SurfaceMethod,
    SurfaceOptions,
    export_segments,
    segment_surface,
    tools,
)
from vtkdicom_app.segmentation.geometry import Box, Geometry


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> SegPhantom:
    return write_ct_with_table(tmp_path_factory.mktemp("segct"))


@pytest.fixture(scope="module")
def volume(phantom: SegPhantom):  # type: ignore[no-untyped-def]
    from vtkdicom_app.io.loader import load

    return load(phantom.folder)


@pytest.fixture()
def model(volume) -> SegmentationModel:  # type: ignore[no-untyped-def]
    return SegmentationModel.from_volume(volume)


def _sphere(model: SegmentationModel) -> str:
    seg = model.add_segment("sphere", (0.9, 0.8, 0.6))
    tools.seed_region(model, seg.segment_id, SPHERE_CENTER, 300)
    return seg.segment_id


def _snapshot(model: SegmentationModel) -> tuple[int, dict[str, bytes]]:
    return model.generation, {s: np.packbits(model.mask(s)).tobytes() for s in model.segment_ids}


SPHERE_VOLUME = 4 / 3 * math.pi * SPHERE_RADIUS**3


# ----------------------------------------------------------------------------- threshold and seeds
def test_seed_in_the_sphere_gives_only_the_sphere(model: SegmentationModel) -> None:
    sid = _sphere(model)
    assert model.volume_mm3(sid) == pytest.approx(SPHERE_VOLUME, rel=0.02)
    box = model.bounding_box(sid)
    assert box is not None
    lo = model.geometry.index_to_patient(box.extent_ijk()[::2])
    hi = model.geometry.index_to_patient(box.extent_ijk()[1::2])
    assert np.all(lo >= SPHERE_CENTER - SPHERE_RADIUS - 1) and np.all(hi <= SPHERE_CENTER + SPHERE_RADIUS + 1)


def test_bone_threshold_largest_piece_is_the_table_and_a_box_leaves_it_out(model: SegmentationModel) -> None:
    bone = model.add_segment("bone").segment_id
    tools.threshold(model, bone, 300)
    tools.keep_largest_island(model, bone)
    k, j, i = np.argwhere(model.mask(bone))[0]
    y = model.geometry.index_to_patient((i, j, k))[1]
    assert TABLE[1][0] - 1 <= y <= TABLE[1][1] + 1  # the table plate
    # threshold inside a box above the table: the largest piece is now the sphere
    tools.threshold(model, bone, 300, box=(-60, -60, -60, 60, 30, 60))
    tools.keep_largest_island(model, bone)
    assert model.volume_mm3(bone) == pytest.approx(SPHERE_VOLUME, rel=0.02)


def test_seed_region_inside_a_box_stops_at_the_box(model: SegmentationModel) -> None:
    sid = model.add_segment("half").segment_id
    cz = SPHERE_CENTER[2]
    tools.seed_region(model, sid, SPHERE_CENTER, 300, box=(-60, -60, cz + 0.5, 60, 60, 60))
    assert model.volume_mm3(sid) == pytest.approx(SPHERE_VOLUME / 2, rel=0.04)


def test_seed_and_box_errors_name_the_value_and_leave_the_model_unchanged(model: SegmentationModel) -> None:
    sid = _sphere(model)
    before = _snapshot(model)
    with pytest.raises(SegmentationError, match=r"seed \(500, 0, 0\) mm lies outside the volume.*give a point inside"):
        tools.seed_region(model, sid, (500, 0, 0), 300)
    with pytest.raises(SegmentationError, match=r"value -1000, outside the range 300\.\.3000; put the seed"):
        tools.seed_region(model, sid, (0, -60, 0), 300, 3000)
    with pytest.raises(SegmentationError, match=r"box x 200\.\.300.*misses the volume.*give a box that overlaps it"):
        tools.threshold(model, sid, 300, box=(200, 0, 0, 300, 10, 10))
    with pytest.raises(SegmentationError, match="range 400..300 is empty"):
        tools.threshold(model, sid, 400, 300)
    for exc in (SegmentationError, GridMismatchError):
        assert issubclass(exc, VtkDicomError)
    assert _snapshot(model) == before
    assert model.undo_description == "seed region"


# ----------------------------------------------------------------------------- islands
def test_islands_keep_at_point_and_remove_small(model: SegmentationModel) -> None:
    bone = model.add_segment("bone").segment_id
    tools.threshold(model, bone, 300)
    full = model.volume_mm3(bone)
    cx, cy = CYLINDER_AXIS
    tools.keep_island_at(model, bone, (cx, cy, 0.0))
    cylinder = math.pi * CYLINDER_RADIUS**2 * (CYLINDER_Z[1] - CYLINDER_Z[0] + 1.0)  # +1: the end slices' voxels
    assert model.volume_mm3(bone) == pytest.approx(cylinder, rel=0.05)
    model.undo()
    assert model.volume_mm3(bone) == pytest.approx(full)
    # the marker (12 x 8 x 16 = 1536 mm3) is the only piece below 3000 mm3
    tools.remove_small_islands(model, bone, 3000)
    marker = np.count_nonzero(model.volume.array == 2000) * model.geometry.voxel_volume_mm3  # type: ignore[union-attr]
    assert marker == pytest.approx(12 * 8 * 16, rel=0.15)
    assert full - model.volume_mm3(bone) == pytest.approx(marker)
    with pytest.raises(SegmentationError, match=r"smaller than 1e\+07 mm3 \(the largest is .* mm3\); lower"):
        tools.remove_small_islands(model, bone, 1e7)
    with pytest.raises(SegmentationError, match="is not on segment 'bone'; click on the piece"):
        tools.keep_island_at(model, bone, (0.0, -60.0, 0.0))


# ----------------------------------------------------------------------------- brush, scissors
def test_paint_a_5mm_sphere_adds_its_volume_and_erase_removes_it(model: SegmentationModel) -> None:
    sid = _sphere(model)
    v0 = model.volume_mm3(sid)
    centre = SPHERE_CENTER + np.array([0.0, 0.0, SPHERE_RADIUS + 10.0])
    changed = tools.paint(model, sid, centre, 5.0)
    assert changed is not None and changed.size < 20**3
    assert model.volume_mm3(sid) - v0 == pytest.approx(4 / 3 * math.pi * 5**3, rel=0.05)
    tools.erase(model, sid, centre, 6.0)
    assert model.volume_mm3(sid) == pytest.approx(v0)
    # a stroke is one step; a brush smaller than a voxel paints the voxel under it
    tools.paint(model, sid, [centre, centre + (8, 0, 0), centre + (16, 0, 0)], 2.0)
    assert model.undo_description == "paint"
    tools.paint(model, sid, centre + (30, 0, 0), 0.1)
    assert model.volume_mm3(sid) > v0
    with pytest.raises(SegmentationError, match="lies outside the volume"):
        tools.paint(model, sid, (900, 0, 0), 5)


def test_scissors_remove_the_half_on_one_side_of_a_plane(model: SegmentationModel) -> None:
    sid = _sphere(model)
    v0 = model.volume_mm3(sid)
    c = SPHERE_CENTER
    cut = c[2] + 0.3  # between voxel centres
    # drawn on a coronal view (looking along +y): a rectangle covering z > cut
    polygon = [c + (-80, 0, cut - c[2]), c + (80, 0, cut - c[2]), c + (80, 0, 90), c + (-80, 0, 90)]
    tools.scissors(model, sid, polygon, (0, 1, 0))
    assert model.volume_mm3(sid) == pytest.approx(v0 / 2, rel=0.03)
    pts = model.geometry.index_to_patient(np.argwhere(model.mask(sid))[:, ::-1])
    assert pts[:, 2].max() < cut
    model.undo()
    # an oblique view: looking along (1, 1, 0); keep inside a polygon covering x - y < 0 side
    n = np.array([1.0, 1.0, 0.0]) / math.sqrt(2)
    u = np.array([1.0, -1.0, 0.0]) / math.sqrt(2)  # across the view, in the axial plane
    z = np.array([0.0, 0.0, 1.0])
    poly = [c + 0.3 * u - 80 * z, c + 0.3 * u + 80 * z, c + 80 * u + 80 * z, c + 80 * u - 80 * z]
    tools.scissors(model, sid, poly, n, operation=ScissorsOperation.ERASE_OUTSIDE)
    pts = model.geometry.index_to_patient(np.argwhere(model.mask(sid))[:, ::-1])
    assert np.all((pts - c) @ u > 0.3 - 0.1)
    assert model.volume_mm3(sid) == pytest.approx(v0 / 2, rel=0.04)
    with pytest.raises(SegmentationError, match="at least 3"):
        tools.scissors(model, sid, poly[:2], n)


# ----------------------------------------------------------------------------- margins
def test_margin_plus_2mm_gives_the_grown_sphere(model: SegmentationModel) -> None:
    sid = _sphere(model)
    v0 = model.volume_mm3(sid)
    tools.margin(model, sid, 2.0)
    assert model.volume_mm3(sid) == pytest.approx(4 / 3 * math.pi * (SPHERE_RADIUS + 2) ** 3, rel=0.03)
    model.undo()
    tools.margin(model, sid, -2.0)
    assert model.volume_mm3(sid) == pytest.approx(4 / 3 * math.pi * (SPHERE_RADIUS - 2) ** 3, rel=0.03)
    model.undo()
    assert model.volume_mm3(sid) == v0
    with pytest.raises(SegmentationError, match="removes all of segment 'sphere'"):
        tools.margin(model, sid, -30)


def test_hollow_2mm_gives_the_shell_and_a_2mm_wall_on_the_mesh(model: SegmentationModel) -> None:
    sid = _sphere(model)
    tools.hollow(model, sid, 2.0)
    shell = 4 / 3 * math.pi * (SPHERE_RADIUS**3 - (SPHERE_RADIUS - 2) ** 3)
    assert model.volume_mm3(sid) == pytest.approx(shell, rel=0.05)
    mesh = segment_surface(model, sid)
    points, faces = mesh_to_arrays(mesh)
    tm = trimesh.Trimesh(points, faces)
    assert tm.is_watertight and tm.is_winding_consistent
    parts = tm.split(only_watertight=True)
    assert len(parts) == 2  # outer surface and the cavity's
    radii = sorted(float(np.linalg.norm(p.vertices - SPHERE_CENTER, axis=1).mean()) for p in parts)
    assert radii[1] - radii[0] == pytest.approx(2.0, abs=0.25)
    assert radii[1] == pytest.approx(SPHERE_RADIUS, abs=0.3)
    # the cavity's surface faces inward: the enclosed volume is the shell's
    assert signed_volume(points, faces) == pytest.approx(model.volume_mm3(sid), rel=0.02)
    # fill holes gives the solid sphere back
    tools.fill_holes(model, sid)
    assert model.volume_mm3(sid) == pytest.approx(SPHERE_VOLUME, rel=0.02)


def test_hollow_thicker_than_the_object_is_refused(model: SegmentationModel) -> None:
    cyl = model.add_segment("cylinder").segment_id
    tools.seed_region(model, cyl, (CYLINDER_AXIS[0], CYLINDER_AXIS[1], 0.0), 300)
    before = _snapshot(model)
    with pytest.raises(SegmentationError, match=r"hollow 6 mm \(inside\) is thicker than segment 'cylinder'.*thinner wall"):
        tools.hollow(model, cyl, 6.0)
    assert _snapshot(model) == before
    tools.hollow(model, cyl, 1.0, side=ShellSide.OUTSIDE)  # a tube around the cylinder
    assert not np.any(model.mask(cyl)[tuple(model.geometry.voxel_of((CYLINDER_AXIS[0], CYLINDER_AXIS[1], 0.0)))])


def test_close_fills_a_narrow_slit(model: SegmentationModel) -> None:
    sid = _sphere(model)
    v0 = model.volume_mm3(sid)
    c = SPHERE_CENTER
    slit = [c + (-80, 0, -80), c + (80, 0, -80), c + (80, 0, 80), c + (-80, 0, 80)]
    tools.scissors(model, sid, slit, (0, 1, 0), operation=ScissorsOperation.ERASE_INSIDE, slab_mm=1.0)
    assert model.volume_mm3(sid) < 0.97 * v0
    tools.close(model, sid, 1.5)
    assert model.volume_mm3(sid) == pytest.approx(v0, rel=0.01)


# ----------------------------------------------------------------------------- logic, crop
def test_union_subtract_intersect_and_crop(model: SegmentationModel) -> None:
    a = _sphere(model)
    b = model.add_segment("slab").segment_id
    c = SPHERE_CENTER
    tools.threshold(model, b, -2000, box=(-60, -60, c[2], 60, 60, c[2] + 100))
    va, vb = model.volume_mm3(a), model.volume_mm3(b)
    both = int(np.count_nonzero(model.mask(a) & model.mask(b))) * model.geometry.voxel_volume_mm3
    tools.intersect(model, a, b)
    assert model.volume_mm3(a) == pytest.approx(both)
    model.undo()
    tools.subtract(model, a, b)
    assert model.volume_mm3(a) == pytest.approx(va - both)
    model.undo()
    tools.union(model, a, b)
    assert model.volume_mm3(a) == pytest.approx(va + vb - both)
    model.undo()
    tools.crop(model, a, (-100, -100, -100, 100, 100, c[2] - 0.2))
    pts = model.geometry.index_to_patient(np.argwhere(model.mask(a))[:, ::-1])
    assert pts[:, 2].max() <= c[2] - 0.2
    assert model.volume_mm3(a) == pytest.approx(va / 2, rel=0.04)


# ----------------------------------------------------------------------------- model: undo, events
def test_undo_redo_events_and_bounded_history(model: SegmentationModel) -> None:
    events = []
    unsubscribe = model.subscribe(events.append)
    sid = _sphere(model)
    v0 = model.volume_mm3(sid)
    kinds = [e.kind for e in events]
    assert EventKind.SEGMENT_ADDED in kinds and EventKind.MASK_CHANGED in kinds
    changed = [e for e in events if e.kind is EventKind.MASK_CHANGED][-1]
    assert changed.box == model.bounding_box(sid)  # the change's box, for a partial redraw
    centre = SPHERE_CENTER + (0, 0, SPHERE_RADIUS + 8)
    before = model.history_bytes
    tools.paint(model, sid, centre, 3.0)
    assert model.history_bytes - before < 4096  # a stroke stores its changed box, packed
    assert model.undo() == "paint" and model.volume_mm3(sid) == v0
    assert model.redo() == "paint" and model.volume_mm3(sid) > v0
    model.set_properties(sid, name="ball", color=(1, 0, 0), visible=False)
    assert model.segment(sid).name == "ball" and not model.segment(sid).visible
    model.undo()
    assert model.segment(sid).name == "sphere" and model.segment(sid).visible
    model.remove_segment(sid)
    assert sid not in model
    model.undo()
    assert model.volume_mm3(sid) > v0  # the mask came back with the segment
    unsubscribe()
    n = len(events)
    tools.paint(model, sid, centre, 3.0)
    assert len(events) == n
    # a small budget keeps only the newest steps
    first = centre + (-30, 0, 0)
    model.clear_history()
    tools.paint(model, sid, first, 6.0)
    step_bytes = model.history_bytes
    model.undo_budget_bytes = int(2.5 * step_bytes)
    assert model.history_bytes <= model.undo_budget_bytes
    for n in range(5):
        tools.paint(model, sid, centre + (-30 + 12 * (n + 1), 0, 0), 6.0)
    assert model.history_bytes <= model.undo_budget_bytes
    steps = 0
    while model.undo() is not None:
        steps += 1
    assert steps == 2  # the newest two strokes; older steps were dropped
    assert model.mask(sid)[model.geometry.voxel_of(first)]  # the dropped stroke stays painted


def test_a_failing_transaction_is_rolled_back(model: SegmentationModel) -> None:
    sid = _sphere(model)
    before = _snapshot(model)
    with pytest.raises(RuntimeError):
        with model.transaction("two steps"):
            tools.margin(model, sid, 1.0)
            raise RuntimeError("boom")
    assert _snapshot(model)[1] == before[1]
    assert model.undo_description == "seed region"


def test_model_refuses_another_grid(volume) -> None:  # type: ignore[no-untyped-def]
    from vtkdicom_app.volume import Volume

    other = Volume(volume.array[:, :, :-1], spacing=volume.spacing, origin=volume.origin)
    model = SegmentationModel.from_volume(volume)
    sid = model.add_segment("x").segment_id
    with pytest.raises(GridMismatchError, match=r"grid .* differs .*use the series the segmentation was made on"):
        tools.threshold(model, sid, 300, volume=other)
    with pytest.raises(SegmentationError, match=r"colour \(2, 0, 0\) must be three numbers 0..1"):
        model.set_properties(sid, color=(2, 0, 0))


def test_box_geometry_helpers() -> None:
    geo = Geometry((4, 5, 6), (1.0, 1.0, 2.0))
    mask = np.zeros(geo.shape, bool)
    mask[1:3, 2, 4] = True
    box = Box.of_mask(mask)
    assert box == Box((1, 2, 4), (3, 3, 5))
    assert box.extent_ijk() == (4, 4, 2, 2, 1, 2)
    assert Box.of_mask(np.zeros((2, 2, 2), bool)) is None
    assert geo.voxel_of((4.2, 1.9, 2.1)) == (1, 2, 4)


# ----------------------------------------------------------------------------- surfaces
def test_surface_of_the_20mm_sphere_is_closed_accurate_and_smooth(model: SegmentationModel) -> None:
    sid = _sphere(model)
    voxel_volume = model.volume_mm3(sid)
    mesh = segment_surface(model, sid)
    points, faces = mesh_to_arrays(mesh)
    tm = trimesh.Trimesh(points, faces)
    assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
    assert abs(signed_volume(points, faces)) == pytest.approx(voxel_volume, rel=0.02)
    assert np.allclose(points.mean(axis=0), SPHERE_CENTER, atol=0.2)  # LPS mm
    radial = np.linalg.norm(points - SPHERE_CENTER, axis=1) - SPHERE_RADIUS
    assert np.sqrt(np.mean(radial**2)) < 0.2

    def normal_error(m: trimesh.Trimesh) -> float:
        out = m.triangles_center - SPHERE_CENTER
        out /= np.linalg.norm(out, axis=1)[:, None]
        return float(np.degrees(np.arccos(np.clip((m.face_normals * out).sum(axis=1), -1, 1))).mean())

    stairs = segment_surface(model, sid, options=SurfaceOptions(method=SurfaceMethod.FLYING_EDGES, sigma_voxels=0, iterations=0, keep_volume=False))
    blurred = segment_surface(model, sid, options=SurfaceOptions(method=SurfaceMethod.FLYING_EDGES, iterations=20))
    raw = trimesh.Trimesh(*mesh_to_arrays(stairs))
    # no staircase: face normals follow the sphere's; the unsmoothed mask's terraces do not
    assert normal_error(tm) < 3.0
    assert normal_error(raw) > 4 * normal_error(tm)
    # the flying-edges method: blurred, smoothed, as closed and accurate
    fe = trimesh.Trimesh(*mesh_to_arrays(blurred))
    assert fe.is_watertight and normal_error(fe) < 6.0
    assert fe.volume == pytest.approx(voxel_volume, rel=0.02)


def test_export_each_to_stl_and_all_to_3mf_and_glb(model: SegmentationModel, tmp_path: Path) -> None:
    sphere = _sphere(model)
    cyl = model.add_segment("bone cylinder", (0.2, 0.4, 1.0)).segment_id
    tools.seed_region(model, cyl, (CYLINDER_AXIS[0], CYLINDER_AXIS[1], 0.0), 300)
    files = export_segments(model, tmp_path / "parts.stl")
    assert [f.name for f in files] == ["parts_sphere.stl", "parts_bone_cylinder.stl"]
    for f, sid in zip(files, (sphere, cyl)):
        tm = trimesh.load(f)
        assert tm.is_watertight
        assert tm.volume == pytest.approx(model.volume_mm3(sid), rel=0.02)
    three = export_segments(model, tmp_path / "all.3mf")[0]
    with zipfile.ZipFile(three) as z:
        xml = z.read("3D/3dmodel.model").decode()
    assert 'unit="millimeter"' in xml and 'name="bone cylinder"' in xml
    assert 'displaycolor="#3366FFFF"' in xml and 'pid="1" pindex="1"' in xml
    scene = trimesh.load(three)
    assert sorted(scene.geometry) == ["bone cylinder", "sphere"]
    assert scene.geometry["sphere"].volume == pytest.approx(model.volume_mm3(sphere), rel=0.02)
    glb = export_segments(model, tmp_path / "all.glb")[0]
    gscene = trimesh.load(glb)
    assert sorted(gscene.geometry) == ["bone cylinder", "sphere"]
    g = gscene.geometry["sphere"]
    assert g.volume == pytest.approx(model.volume_mm3(sphere) * 1e-9, rel=0.02)  # metres
    # glTF axes: +Y is superior (LPS z), +Z anterior (-LPS y)
    assert g.centroid == pytest.approx([SPHERE_CENTER[0] / 1000, SPHERE_CENTER[2] / 1000, -SPHERE_CENTER[1] / 1000], abs=3e-4)
    color = gscene.geometry["bone cylinder"].visual.material.baseColorFactor
    assert list(color[:3]) == [51, 102, 255]


def test_an_empty_segment_is_not_exported(model: SegmentationModel, tmp_path: Path) -> None:
    _sphere(model)
    model.add_segment("nothing")
    for name in ("x.stl", "x.3mf", "x.glb"):
        with pytest.raises(EmptySegmentError, match="segment 'nothing' is empty: nothing to export"):
            export_segments(model, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    files = export_segments(model, tmp_path / "x.stl", segment_ids=["sphere"])
    assert [f.name for f in files] == ["x.stl"]


def test_modes_of_write(volume) -> None:  # type: ignore[no-untyped-def]
    model = SegmentationModel(Geometry((4, 4, 4), (1.0, 1.0, 1.0)))
    sid = model.add_segment("a").segment_id
    box = Box((1, 1, 1), (3, 3, 3))
    model.write(sid, box, np.ones(box.shape, bool), Mode.ADD)
    assert model.voxel_count(sid) == 8
    model.write(sid, Box((0, 0, 0), (1, 1, 1)), np.ones((1, 1, 1), bool), Mode.REPLACE)
    assert model.voxel_count(sid) == 1 and model.mask(sid)[0, 0, 0]
    with pytest.raises(ValueError):
        model.mask(sid)[0, 0, 0] = False  # read-only view


def test_an_oblique_grid_keeps_every_tool_in_patient_space() -> None:
    from vtkdicom_app.volume import Volume

    def rot(axis: np.ndarray, deg: float) -> np.ndarray:
        a = axis / np.linalg.norm(axis)
        k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
        t = math.radians(deg)
        return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)

    direction = rot(np.array([0.0, 0.0, 1.0]), 20) @ rot(np.array([1.0, 0.0, 0.0]), 25)
    shape = (70, 80, 90)
    spacing = (0.9, 0.8, 1.1)
    centre_index = np.array([45.0, 40.0, 35.0])  # i, j, k
    origin = -(direction * np.asarray(spacing)) @ centre_index  # the grid's centre at the LPS origin
    vol0 = Volume(np.zeros(shape, np.int16), spacing=spacing, origin=tuple(origin), direction=direction)
    kk, jj, ii = np.indices(shape)
    pts = vol0.index_to_patient(np.stack([ii.ravel(), jj.ravel(), kk.ravel()], 1)).reshape(shape + (3,))
    centre = np.array([3.0, -2.0, 1.5])
    vol = Volume(np.where(np.linalg.norm(pts - centre, axis=-1) <= 15.0, 1000, 0).astype(np.int16), spacing=spacing, origin=tuple(origin), direction=direction)
    model = SegmentationModel.from_volume(vol)
    sid = model.add_segment("ball").segment_id
    tools.seed_region(model, sid, centre, 500)
    assert model.volume_mm3(sid) == pytest.approx(4 / 3 * math.pi * 15**3, rel=0.03)
    mesh_points, faces = mesh_to_arrays(segment_surface(model, sid))
    assert mesh_points.mean(axis=0) == pytest.approx(centre, abs=0.3)
    tm = trimesh.Trimesh(mesh_points, faces)
    assert tm.is_watertight and tm.volume == pytest.approx(model.volume_mm3(sid), rel=0.02)
    # an LPS box (not aligned with the grid) keeps only what lies inside it, in LPS
    tools.crop(model, sid, (centre[0] - 100, centre[1] - 100, centre[2] + 0.2, centre[0] + 100, centre[1] + 100, centre[2] + 100))
    kept = model.geometry.index_to_patient(np.argwhere(model.mask(sid))[:, ::-1])
    assert kept[:, 2].min() >= centre[2] + 0.2 - 1e-6
    assert model.volume_mm3(sid) == pytest.approx(4 / 3 * math.pi * 15**3 / 2, rel=0.05)
    # scissors on a coronal view (along LPS y, not a grid axis) remove what lies at x > centre
    model.undo()
    poly = [centre + (0.2, 0, -60), centre + (60, 0, -60), centre + (60, 0, 60), centre + (0.2, 0, 60)]
    tools.scissors(model, sid, poly, (0, 1.0, 0))
    kept = model.geometry.index_to_patient(np.argwhere(model.mask(sid))[:, ::-1])
    assert kept[:, 0].max() <= centre[0] + 0.2 + 0.1
    assert model.volume_mm3(sid) == pytest.approx(4 / 3 * math.pi * 15**3 / 2, rel=0.05)
    with pytest.raises(SegmentationError, match="no area"):
        tools.scissors(model, sid, poly, (1.0, 0, 0))
