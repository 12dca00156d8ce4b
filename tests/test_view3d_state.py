"""The 3D view's settings in the Qt-free state (issue 18) and what VolumeScene does with them.

State: standard views and Reset, background, slice planes through the crosshair (rotated
ones included), the crop box (validated, clamped to the volume, dropped with it, as voxel
indices for scene files), edited opacity points (clamped, per preset, normalised MR presets);
events once, none for no change; the owner thread. Rendering, offscreen: the crop box hides
the phantom's marker on an axial and an oblique grid and clips surfaces, plane outlines of a
box, edited opacity points, the camera fitted to a 1200-slice volume, the background.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane
from vtkdicom_app.phantom import PhantomOrientation
from vtkdicom_app.rendering import MapperKind, View, VolumeScene, load_volume_presets
from vtkdicom_app.rendering.volume_render import data_to_preset, plane_box_polygon, preset_to_data, value_range
from vtkdicom_app.viewer_state import BACKGROUND_COLOURS, Background, Event, StateEvent, StateThreadError, View3DSettings, ViewerState

GEOM: dict[str, Any] = dict(rows=32, columns=32, slices=12, pixel_spacing=(1.5, 1.5), slice_spacing=2.0)
SMALL: dict[str, Any] = dict(rows=48, columns=48, slices=40, pixel_spacing=(4.0, 4.0), slice_spacing=4.0)
VIEW3D_EVENTS = {
    StateEvent.VIEW3D_CAMERA,
    StateEvent.VIEW3D_BACKGROUND,
    StateEvent.VIEW3D_SLICE_PLANES,
    StateEvent.CROP_BOX,
    StateEvent.VOLUME_OPACITY_POINTS,
}


@pytest.fixture(scope="module")
def vol(phantom_factory: Any) -> vda.Volume:
    return vda.load(phantom_factory(**GEOM).outdir)


@pytest.fixture
def state(vol: vda.Volume) -> ViewerState:
    s = ViewerState()
    s.set_volume(vol)
    return s


def _record(state: ViewerState) -> list[Event]:
    seen: list[Event] = []
    state.events.connect(seen.append)
    return seen


def _mine(seen: list[Event]) -> list[StateEvent]:
    return [e.name for e in seen if e.name in VIEW3D_EVENTS]


# ---------------------------------------------------------------------------- camera
def test_standard_views_reset_and_hand_moves(state: ViewerState) -> None:
    seen = _record(state)
    assert state.view3d.camera is View.ANTERIOR and state.view3d.fitted
    state.set_camera_view("left")
    state.set_camera_view(View.LEFT)  # the same: no event
    assert _mine(seen) == [StateEvent.VIEW3D_CAMERA] and seen[-1].value is state.view3d
    assert state.view3d.camera is View.LEFT
    state.reset_camera()  # fitted already: nothing to do
    assert len(seen) == 1
    state.camera_moved()
    assert state.view3d.camera is None and not state.view3d.fitted
    state.reset_camera()
    assert state.view3d.camera is None and state.view3d.fitted and len(seen) == 3
    with pytest.raises(ValueError, match="anterior, posterior, left, right, superior, inferior"):
        state.set_camera_view("front")
    assert len(seen) == 3


def test_a_new_volume_drops_the_crop_box_and_looks_from_the_front(state: ViewerState, vol: vda.Volume) -> None:
    state.set_camera_view("superior")
    state.reset_crop_box()
    state.set_slice_planes_3d(True)
    state.set_background("white")
    assert state.view3d.crop_box is not None
    seen: list[Any] = []
    state.events.connect(lambda e: seen.append((e.name, state.view3d.crop_box, state.view3d.camera)))
    state.set_volume(vol)
    assert seen == [(StateEvent.VOLUME, None, View.ANTERIOR)]  # reset before any listener hears VOLUME, no events of their own
    assert state.view3d.slice_planes and state.view3d.background is Background.WHITE  # preferences stay


# ---------------------------------------------------------------------------- background
def test_background_choices_and_bad_colours(state: ViewerState) -> None:
    seen = _record(state)
    state.set_background(Background.GRADIENT)
    bottom, top = state.view3d.background_colours()
    assert top is not None and sum(top) > sum(bottom)
    state.set_background("gradient")
    assert _mine(seen) == [StateEvent.VIEW3D_BACKGROUND]
    state.set_background("colour", (0.1, 0.2, 0.3))
    assert state.view3d.background_colours() == ((0.1, 0.2, 0.3), None)
    assert state.view3d.background_colours() != BACKGROUND_COLOURS[Background.BLACK]
    for bad in ((1.2, 0, 0), (0, 0), "red", (float("nan"), 0, 0)):
        with pytest.raises(ValueError, match="RGB"):
            state.set_background("colour", bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="colour"):
        state.set_background("white", (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="black, gradient, white, colour"):
        state.set_background("purple")
    assert len(seen) == 2


# ---------------------------------------------------------------------------- slice planes
def test_slice_plane_outlines_go_through_the_crosshair_in_the_planes_frames(state: ViewerState, vol: vda.Volume) -> None:
    seen = _record(state)
    state.set_slice_planes_3d(True)
    state.set_slice_planes_3d(True)
    assert _mine(seen) == [StateEvent.VIEW3D_SLICE_PLANES]
    state.set_crosshair(state.crosshair + np.array([4.5, -3.0, 4.0]))
    c = state.crosshair
    lo, hi = vol.corners.min(axis=0), vol.corners.max(axis=0)
    outlines = state.slice_plane_outlines()
    assert set(outlines) == set(ORTHOGONAL_PLANES)
    for plane, axis in ((Plane.SAGITTAL, 0), (Plane.CORONAL, 1), (Plane.AXIAL, 2)):
        poly = outlines[plane]
        assert poly.shape == (4, 3)
        np.testing.assert_allclose(poly[:, axis], c[axis])
        others = [a for a in range(3) if a != axis]
        np.testing.assert_allclose(poly[:, others].min(axis=0), lo[others])
        np.testing.assert_allclose(poly[:, others].max(axis=0), hi[others])
    state.rotate_planes(Plane.AXIAL, 25.0)  # oblique MPR: the coronal and sagittal planes turn
    for plane, poly in state.slice_plane_outlines().items():
        n = state.plane_axes(plane)[:, 2]
        assert len(poly) >= 4
        np.testing.assert_allclose((poly - c) @ n, 0.0, atol=1e-9)
    assert abs(state.plane_axes(Plane.CORONAL)[1, 2]) < 0.95


def test_plane_box_polygon_of_a_cube() -> None:
    cube = np.array([[i, j, k] for i in (0.0, 2.0) for j in (0.0, 2.0) for k in (0.0, 2.0)])  # grid_corners order
    hexagon = plane_box_polygon((1, 1, 1), (1, 1, 1), cube)
    assert hexagon.shape == (6, 3)
    np.testing.assert_allclose(hexagon.sum(axis=1), 3.0)
    # in order round the polygon: consecutive vertices are the hexagon's sides (sqrt(2) apart)
    sides = np.linalg.norm(np.roll(hexagon, -1, axis=0) - hexagon, axis=1)
    np.testing.assert_allclose(sides, np.sqrt(2.0))
    assert plane_box_polygon((0, 0, 5), (0, 0, 1), cube).shape == (0, 3)  # misses
    face = plane_box_polygon((0, 0, 2), (0, 0, 1), cube)  # on a face: the face itself
    assert face.shape == (4, 3)


# ---------------------------------------------------------------------------- crop box
def test_crop_box_is_validated_and_clamped_to_the_volume(state: ViewerState, vol: vda.Volume) -> None:
    seen = _record(state)
    x0, y0, z0, x1, y1, z1 = state.volume_bounds()
    np.testing.assert_allclose((x0, y0, z0), vol.corners.min(axis=0))
    state.set_crop_box((x0 - 50, y0 + 3, z0, 0.0, y1 + 50, z1))  # partly outside: cut to the volume
    assert state.view3d.crop_box == pytest.approx((x0, y0 + 3, z0, 0.0, y1, z1))
    assert _mine(seen) == [StateEvent.CROP_BOX] and seen[-1].value.crop_box == state.view3d.crop_box
    before = state.view3d.crop_box
    for bad, match in (
        ((0.0, y0, z0, -1.0, y1, z1), "below its high"),
        ((x1 + 1, y0, z0, x1 + 9, y1, z1), "does not overlap"),
        ((x0, y0, z0, x1, y1), "6 numbers"),
        ((x0, y0, z0, x1, y1, float("inf")), "finite"),
    ):
        with pytest.raises(ValueError, match=match):
            state.set_crop_box(bad)
    assert state.view3d.crop_box == before and len(_mine(seen)) == 1
    state.set_crop_handles(False)
    assert not state.view3d.crop_handles and _mine(seen)[-1] is StateEvent.CROP_BOX
    state.set_crop_box(None)
    assert state.view3d.crop_box is None
    with pytest.raises(ValueError, match="no volume"):
        ViewerState().set_crop_box((0, 0, 0, 1, 1, 1))


def test_crop_box_as_voxel_indices_for_scene_files(state: ViewerState, vol: vda.Volume) -> None:
    assert state.crop_box_ijk() is None
    state.set_crop_box_ijk((4, 20, 2, 30, 1, 9))
    box = state.view3d.crop_box
    assert box is not None
    np.testing.assert_allclose(state.crop_box_ijk(), (4, 20, 2, 30, 1, 9), atol=1e-9)
    corners = vol.index_to_patient(np.array([[4, 2, 1], [20, 30, 9]]))
    np.testing.assert_allclose(box[:3], corners.min(axis=0))
    np.testing.assert_allclose(box[3:], corners.max(axis=0))
    state.set_crop_box_ijk(None)
    assert state.view3d.crop_box is None


def test_settings_are_validated_on_their_own() -> None:
    with pytest.raises(ValueError, match="below its high"):
        View3DSettings(crop_box=(0, 0, 0, 0, 1, 1))
    with pytest.raises(ValueError, match="at least two"):
        View3DSettings(opacity_points=(("ct-bone", ((0.0, 0.5),)),))
    assert View3DSettings(camera="right").camera is View.RIGHT  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- opacity points
def test_moving_an_opacity_point_keeps_the_points_sorted_and_per_preset(state: ViewerState) -> None:
    seen = _record(state)
    state.set_volume_look("ct-bone", shift=100.0)
    preset = load_volume_presets()["ct-bone"]
    shown = state.volume_opacity_points()
    assert shown == tuple((v + 100.0, o) for v, o in preset.opacity)  # the data's units: shifted HU
    i = 1
    lo, hi = shown[i - 1][0], shown[i + 1][0]
    where = state.set_volume_opacity_point(i, hi + 500.0, 1.7)  # past its neighbour, too opaque: clamped
    assert where == (hi, 1.0)
    assert state.volume_opacity_points()[i] == pytest.approx((hi, 1.0))
    assert state.view3d.points_of("ct-bone")[i] == pytest.approx((hi - 100.0, 1.0))  # the preset's own scale
    assert _mine(seen) == [StateEvent.VOLUME_OPACITY_POINTS]
    state.set_volume_opacity_point(i, lo + 1.0, -0.5)
    assert state.volume_opacity_points()[i] == pytest.approx((lo + 1.0, 0.0))
    state.set_volume_look("ct-mip")  # another preset: its own points
    assert state.volume_opacity_points() == tuple((v + 100.0, o) for v, o in load_volume_presets()["ct-mip"].opacity)
    state.set_volume_look("ct-bone")
    assert state.volume_opacity_points()[i] == pytest.approx((lo + 1.0, 0.0))
    assert state.volume_opacity_points(edited=False) == shown
    with pytest.raises(ValueError, match="no opacity point"):
        state.set_volume_opacity_point(len(shown), 0.0, 0.5)
    with pytest.raises(ValueError, match="sorted"):
        state.set_volume_opacity_points([(10.0, 0.1), (0.0, 0.2)])
    with pytest.raises(ValueError, match="0..1"):
        state.set_volume_opacity_points([(0.0, 0.1), (10.0, 2.0)])
    with pytest.raises(ValueError, match="unknown volume rendering preset"):
        state.set_volume_opacity_points([(0.0, 0.1), (10.0, 0.2)], preset="nope")
    state.set_volume_opacity_points(None)
    assert state.view3d.points_of("ct-bone") is None and state.volume_opacity_points() == shown


def test_normalised_presets_map_through_the_volumes_percentiles(state: ViewerState, vol: vda.Volume) -> None:
    state.set_volume_look("mr-default")
    preset = load_volume_presets()["mr-default"]
    lo, hi = value_range(vol)
    assert state.volume_value_range() == (lo, hi)
    shown = state.volume_opacity_points()
    np.testing.assert_allclose([v for v, _o in shown], [lo + v * (hi - lo) for v, _o in preset.opacity])
    middle = (shown[1][0] + shown[2][0]) / 2
    state.set_volume_opacity_point(1, middle, 0.4)
    own = state.view3d.points_of("mr-default")
    assert own is not None and own[1][0] == pytest.approx((middle - lo) / (hi - lo))
    assert data_to_preset(preset, preset_to_data(preset, 0.3, (lo, hi), 7.0), (lo, hi), 7.0) == pytest.approx(0.3)


def test_histogram_of_the_volume(state: ViewerState, vol: vda.Volume) -> None:
    edges, counts = state.volume_histogram(64)
    assert edges.shape == (65,) and counts.shape == (64,)
    assert counts.sum() == vol.array.size  # small volume: every voxel
    assert edges[0] == vol.array.min() and edges[-1] == vol.array.max()
    assert not counts.flags.writeable
    with pytest.raises(ValueError, match="bins"):
        state.volume_histogram(0)


def test_3d_setters_belong_to_the_owner_thread(state: ViewerState) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        for call in (lambda: state.set_camera_view("left"), state.reset_crop_box, lambda: state.set_background("white")):
            try:
                call()
            except StateThreadError as exc:
                errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(errors) == 3 and state.view3d == View3DSettings()


# ---------------------------------------------------------------------------- VolumeScene, offscreen
def _marker_pixels(rgb: np.ndarray) -> int:
    return int((rgb.min(axis=2) >= 250).sum())


@pytest.mark.parametrize("mapper", [MapperKind.CPU, MapperKind.GPU], ids=["cpu", "gpu"])
@pytest.mark.parametrize("orientation", [PhantomOrientation.AXIAL, PhantomOrientation.OBLIQUE], ids=["axial", "oblique"])
def test_scene_crop_box_hides_the_marker_on_any_grid(phantom_factory: Any, orientation: PhantomOrientation, mapper: MapperKind) -> None:
    ph = phantom_factory(**SMALL, orientation=orientation)
    vol = vda.load(ph.outdir)
    scene = VolumeScene(vol, preset="ct-mip", size=(96, 96), mapper=mapper, show_outline=False, show_orientation=False)
    assert _marker_pixels(scene.to_array()) > 0
    state = ViewerState()
    state.set_volume(vol)
    x0, y0, z0, x1, y1, z1 = state.volume_bounds()
    mx = ph.spec.marker_center[0]  # on the patient's left (x > 0)
    state.set_crop_box((x0, y0, z0, mx - 25.0, y1, z1))  # the right part only: no marker
    scene.set_crop_box(state.view3d.crop_box)
    assert _marker_pixels(scene.to_array()) == 0
    state.set_crop_box((mx - 20.0, y0, z0, x1, y1, z1))
    scene.set_crop_box(state.view3d.crop_box)
    assert _marker_pixels(scene.to_array()) > 0
    # the mapper crops an axis-aligned grid, clipping planes crop an oblique one
    assert bool(scene.mapper.GetCropping()) is (orientation is PhantomOrientation.AXIAL)
    planes = scene.mapper.GetClippingPlanes()
    assert (0 if planes is None else planes.GetNumberOfItems()) == (6 if orientation is PhantomOrientation.OBLIQUE else 0)
    scene.set_crop_box(None)
    assert not scene.mapper.GetCropping() and _marker_pixels(scene.to_array()) > 0


def test_scene_crop_box_clips_surfaces_added_before_and_after(phantom_factory: Any) -> None:
    from vtkdicom_app.surface import extract_surface

    vol = vda.load(phantom_factory(**SMALL).outdir)
    mesh = extract_surface(vol, threshold=1500.0)  # the marker's surface
    scene = VolumeScene(vol, preset="ct-mip", size=(96, 96), mapper="cpu", show_orientation=False)
    before = scene.add_surface(mesh)
    (x0, y0, z0), (y1, z1) = vol.corners.min(axis=0), vol.corners.max(axis=0)[1:]
    scene.set_crop_box((x0, y0, z0, 0.0, y1, z1))
    after = scene.add_surface(mesh)
    for actor in (before, after):
        assert actor.GetMapper().GetNumberOfClippingPlanes() == 6
    scene.volume.VisibilityOff()
    assert _marker_pixels(scene.to_array()) == 0  # the marker's surface (x > 0) is cut away
    scene.set_crop_box(None)
    assert before.GetMapper().GetNumberOfClippingPlanes() == 0
    with pytest.raises(Exception, match="low"):
        scene.set_crop_box((1, 0, 0, 0, 1, 1))


def test_scene_opacity_points_background_and_tall_fit(phantom_factory: Any) -> None:
    vol = vda.load(phantom_factory(**SMALL).outdir)
    scene = VolumeScene(vol, preset="ct-bone", size=(64, 64), mapper="cpu", opacity_scale=0.5, show_orientation=False)
    preset = load_volume_presets()["ct-bone"]
    np.testing.assert_allclose(scene.opacity_function(), [(v, o * 0.5) for v, o in preset.opacity])
    points = [(v, 0.8) for v, _o in preset.opacity]
    scene.set_opacity_points("ct-bone", points)
    np.testing.assert_allclose(scene.opacity_function(), [(v, 0.4) for v, _o in points])
    scene.set_preset("ct-mip")
    scene.set_preset("ct-bone", opacity_scale=1.0)  # the edit is kept for its preset
    np.testing.assert_allclose(scene.opacity_function(), points)
    scene.set_opacity_points("ct-bone", None)
    np.testing.assert_allclose(scene.opacity_function(), preset.opacity)
    scene.set_background((1.0, 1.0, 1.0))
    assert scene.to_array()[0, 0].tolist() == [255, 255, 255]
    scene.set_background((0.0, 0.0, 0.0), (0.5, 0.5, 0.5))
    rgb = scene.to_array().astype(int)
    assert rgb[0, 0].sum() > rgb[-1, 0].sum() + 100
    # 1200 slices of 0.5 mm: every corner inside the view after fit_camera, from any side
    tall = vda.Volume(np.full((1200, 16, 16), -1000, np.int16), spacing=(1.0, 1.0, 0.5), modality="CT")
    tall_scene = VolumeScene(tall, size=(64, 64), mapper="cpu", show_orientation=False)
    for view in (View.ANTERIOR, View.LEFT):
        tall_scene.set_view(view)
        tall_scene.fit_camera()
        ren = tall_scene.renderer
        xy = []
        for corner in tall.corners:
            ren.SetWorldPoint(*corner, 1.0)
            ren.WorldToView()
            xy.append(ren.GetViewPoint()[:2])
        extent = np.abs(np.asarray(xy))
        assert extent.max() <= 1.0 and extent[:, 1].max() >= 0.85
