"""The 3D view's panel under Xvfb (issue 18): standard views and Reset, background, slice
planes in 3D, the crop box (volume rendering and surfaces, its widget dragged with VTK mouse
events) and the opacity-point editor over the histogram.

Real DICOM phantoms, real Qt and VTK: the checks read the camera, the actors and the pixels
of the 3D view's own render window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PyQt5 import QtCore

from vtkdicom_app.app.main_window import MainWindow, wait_for
from vtkdicom_app.app.view3d_panel import PLANE_COLOURS
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane
from vtkdicom_app.rendering import View, grab_render_window, load_volume_presets
from vtkdicom_app.viewer_state import Background
from vtkdicom_app.volume import Volume

SMALL: dict[str, Any] = dict(rows=64, columns=64, slices=40, pixel_spacing=(3.0, 3.0), slice_spacing=3.0)


@pytest.fixture
def window(qtbot: Any) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 950)  # the side docks take ~620 px: leave the 3D view room
    w.show()
    qtbot.waitExposed(w)
    w.init_vtk()
    w.view3d_dock.raise_()  # the 3D view's tab in front
    return w


def _open(window: MainWindow, phantom_factory: Any, **options: Any) -> Any:
    ph = phantom_factory(**{**SMALL, **options})
    wait_for(window.open_path(str(ph.outdir)))
    assert window.state.volume is not None and window.scene is not None, window.last_error
    return ph


def _shot(window: MainWindow) -> np.ndarray:
    return grab_render_window(window.view3d.GetRenderWindow())


def _projected(window: MainWindow, points: Any) -> np.ndarray:
    """Normalised view coordinates (-1..1 across the view) of LPS points."""
    ren = window.scene.renderer
    out = []
    for p in np.asarray(points, float):
        ren.SetWorldPoint(*p, 1.0)
        ren.WorldToView()
        out.append(ren.GetViewPoint()[:2])
    return np.asarray(out)


def _marker_pixels(rgb: np.ndarray) -> np.ndarray:
    """(row, col) of the pixels only the 2000 HU marker reaches in ct-mip, the orientation cube's corner left out."""
    h, w = rgb.shape[:2]
    bright = rgb.min(axis=2) >= 250
    bright[int(h * 0.8) :, : int(w * 0.2)] = False  # the L/R/A/P/S/I cube (white text edges)
    return np.argwhere(bright)


def _drag(interactor: Any, start: tuple[float, float], end: tuple[float, float], steps: int = 6) -> None:
    """A left-button drag through VTK's own event path (display pixels, origin bottom left)."""
    from vtkmodules.vtkCommonCore import vtkCommand

    iren = interactor.GetRenderWindow().GetInteractor()
    x0, y0 = (int(round(v)) for v in start)
    iren.SetEventInformation(x0, y0, 0, 0)
    iren.InvokeEvent(vtkCommand.MouseMoveEvent)
    iren.InvokeEvent(vtkCommand.LeftButtonPressEvent)
    for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
        x = int(round(start[0] + t * (end[0] - start[0])))
        y = int(round(start[1] + t * (end[1] - start[1])))
        iren.SetEventInformation(x, y, 0, 0)
        iren.InvokeEvent(vtkCommand.MouseMoveEvent)
    iren.InvokeEvent(vtkCommand.LeftButtonReleaseEvent)


# ---------------------------------------------------------------------------- standard views and Reset
def test_left_button_looks_from_the_patients_left_and_reset_fits(window: MainWindow, phantom_factory: Any, qtbot: Any) -> None:
    ph = _open(window, phantom_factory)
    state, panel = window.state, window.view3d_panel
    state.set_volume_look("ct-mip")
    qtbot.mouseClick(panel.view_buttons[View.LEFT], QtCore.Qt.LeftButton)
    assert state.view3d.camera is View.LEFT and state.view3d.fitted
    assert panel.view_buttons[View.LEFT].isChecked() and not panel.view_buttons[View.ANTERIOR].isChecked()
    cam = window.scene.renderer.GetActiveCamera()
    np.testing.assert_allclose(cam.GetDirectionOfProjection(), -np.asarray(View.LEFT.value[0]), atol=1e-6)
    np.testing.assert_allclose(cam.GetViewUp(), View.LEFT.value[1], atol=1e-6)
    # the asymmetric marker (patient's left, anterior, superior) where the camera puts it:
    # seen from the left, anterior is on the screen's left and superior up
    rgb = _shot(window)
    pix = _marker_pixels(rgb)
    assert len(pix) > 0, "the marker is not visible from the left"
    row, col = pix.mean(axis=0)
    want_col, want_row = window.scene.world_to_pixel(ph.spec.marker_center)
    assert abs(col - want_col) < 8 and abs(row - want_row) < 8, ((col, row), (want_col, want_row))
    h, w = rgb.shape[:2]
    assert col < w / 2 and row < h / 2
    # turning the camera by hand (a drag in the 3D view): no standard view any more
    size = window.view3d.GetRenderWindow().GetSize()
    _drag(window.view3d, (size[0] * 0.5, size[1] * 0.5), (size[0] * 0.7, size[1] * 0.55))
    assert state.view3d.camera is None and not state.view3d.fitted
    assert not any(b.isChecked() for b in panel.view_buttons.values())
    turned = np.asarray(cam.GetDirectionOfProjection())
    cam.Zoom(4.0)  # and zoomed in: the volume leaves the view
    assert np.abs(_projected(window, state.volume.corners)).max() > 1.0
    qtbot.mouseClick(panel.reset_button, QtCore.Qt.LeftButton)
    assert state.view3d.fitted
    np.testing.assert_allclose(cam.GetDirectionOfProjection(), turned, atol=1e-6)  # Reset keeps the direction
    extent = np.abs(_projected(window, state.volume.corners)).max()
    assert 0.85 <= extent <= 1.0, extent


def test_reset_fits_a_1200_slice_study(window: MainWindow) -> None:
    """A tall study (1200 slices of 0.5 mm) fits the 3D view whole after Reset and after a standard view."""
    array = np.full((1200, 32, 32), -1000, np.int16)
    array[:, 8:24, 8:24] = 400
    state = window.state
    state.set_volume(Volume(array, spacing=(1.0, 1.0, 0.5), origin=(-16.0, -16.0, -300.0), modality="CT"))
    assert window.scene is not None
    width, height = window.scene.render_window.GetSize()
    assert height < 600  # 600 mm of patient in far fewer pixels
    for ask in (lambda: state.set_camera_view("anterior"), lambda: state.set_camera_view(View.LEFT), state.reset_camera):
        window.scene.renderer.GetActiveCamera().Zoom(3.0)
        state.camera_moved()
        ask()
        xy = _projected(window, state.volume.corners)
        assert np.abs(xy).max() <= 1.0, xy  # every corner inside the view
        assert np.abs(xy[:, 1]).max() >= 0.85  # and the volume fills its height


# ---------------------------------------------------------------------------- background
def test_background_choices_reach_the_renderer_and_the_pixels(window: MainWindow, phantom_factory: Any) -> None:
    _open(window, phantom_factory)
    panel, ren = window.view3d_panel, window.scene.renderer
    for bg, colour in ((Background.WHITE, (255, 255, 255)), (Background.BLACK, (0, 0, 0))):
        index = panel.background.findData(bg)
        panel.background.setCurrentIndex(index)
        panel.background.activated.emit(index)
        assert window.state.view3d.background is bg and not ren.GetGradientBackground()
        assert _shot(window)[2, -3].tolist() == list(colour)  # top right corner: no volume there
    window.state.set_background(Background.GRADIENT)
    assert ren.GetGradientBackground()
    rgb = _shot(window).astype(int)
    assert rgb[2, -3].sum() > rgb[-3, -3].sum() + 60  # lighter at the top
    window.state.set_background("colour", (0.2, 0.4, 0.6))
    assert ren.GetBackground() == pytest.approx((0.2, 0.4, 0.6))
    np.testing.assert_allclose(_shot(window)[2, -3], (51, 102, 153), atol=2)
    assert panel.background.currentData() is Background.COLOUR


# ---------------------------------------------------------------------------- slice planes in 3D
def test_slice_planes_follow_the_crosshair_and_the_rotated_planes(window: MainWindow, phantom_factory: Any) -> None:
    _open(window, phantom_factory)
    state, panel, scene = window.state, window.view3d_panel, window.scene
    state.set_volume_look("ct-mip", opacity=0.3)
    assert not any(a.GetVisibility() for a in scene.slice_plane_actors.values())
    panel.slice_planes.setChecked(True)
    assert state.view3d.slice_planes
    actors = {p: scene.slice_plane_actors[p.value] for p in ORTHOGONAL_PLANES}
    assert all(a.GetVisibility() for a in actors.values())
    for target in (state.crosshair, state.crosshair + np.array([21.0, -15.0, 30.0])):
        state.set_crosshair(target)
        c = state.crosshair
        b = {p: actors[p].GetBounds() for p in ORTHOGONAL_PLANES}
        assert b[Plane.AXIAL][4] == pytest.approx(c[2]) and b[Plane.AXIAL][5] == pytest.approx(c[2])
        assert b[Plane.CORONAL][2] == pytest.approx(c[1]) and b[Plane.CORONAL][3] == pytest.approx(c[1])
        assert b[Plane.SAGITTAL][0] == pytest.approx(c[0]) and b[Plane.SAGITTAL][1] == pytest.approx(c[0])
        lo, hi = state.volume.corners.min(axis=0), state.volume.corners.max(axis=0)
        np.testing.assert_allclose(b[Plane.AXIAL][:4], (lo[0], hi[0], lo[1], hi[1]), atol=1e-6)  # the plane clipped to the box
    # each plane's colour is on screen
    rgb = _shot(window).astype(int)
    for plane, colour in PLANE_COLOURS.items():
        near = np.abs(rgb - np.asarray(colour) * 255).max(axis=2) < 30
        assert near.sum() > 20, f"no {plane.value} outline on screen"
    # rotated planes (oblique MPR): the coronal outline lies on the turned plane through the crosshair
    state.rotate_planes(Plane.AXIAL, 30.0)
    normal = state.plane_axes(Plane.CORONAL)[:, 2]
    assert abs(normal[1]) < 0.9
    outline = actors[Plane.CORONAL].GetMapper().GetInput()
    points = np.asarray([outline.GetPoint(i) for i in range(outline.GetNumberOfPoints())])
    assert len(points) >= 3
    np.testing.assert_allclose((points - state.crosshair) @ normal, 0.0, atol=1e-4)  # vtkPoints are float32
    state.reset_planes()
    b = actors[Plane.CORONAL].GetBounds()
    assert b[2] == pytest.approx(state.crosshair[1]) and b[3] == pytest.approx(state.crosshair[1])
    panel.slice_planes.setChecked(False)
    assert not any(a.GetVisibility() for a in actors.values())


# ---------------------------------------------------------------------------- crop box
def test_crop_box_hides_the_other_half_of_the_volume_and_the_surfaces(window: MainWindow, phantom_factory: Any) -> None:
    _open(window, phantom_factory)
    state, scene = window.state, window.scene
    worker = window.add_surface(preset="bone")
    assert worker is not None
    wait_for(worker)
    assert len(window.surface_actors) == 1
    state.set_crop_handles(False)  # only the volume and the surface on screen

    def left_and_right() -> tuple[np.ndarray, np.ndarray]:
        full = _shot(window).astype(int)
        scene.volume.VisibilityOff()
        window.surface_actors[0].VisibilityOff()
        empty = _shot(window).astype(int)  # outline, cube and background only
        scene.volume.VisibilityOn()
        window.surface_actors[0].VisibilityOn()
        diff = np.abs(full - empty).max(axis=2)
        half = diff.shape[1] // 2
        return diff[:, : half - 2], diff[:, half + 2 :]

    left, right = left_and_right()
    assert (left > 40).sum() > 500 and (right > 40).sum() > 500  # both halves drawn before the crop
    x0, y0, z0, x1, y1, z1 = state.volume_bounds()
    cx = (x0 + x1) / 2
    state.set_crop_box((cx, y0, z0, x1, y1, z1))  # the patient's left half: the screen's right half from the front
    assert state.view3d.crop_box == pytest.approx((cx, y0, z0, x1, y1, z1))
    assert window.crop_ijk is not None and window.crop_ijk[0] == pytest.approx(state.volume.patient_to_index((cx, 0, 0))[0])
    left, right = left_and_right()
    assert (left > 40).sum() == 0, "something drawn in the cropped-away half"
    assert (right > 40).sum() > 500
    assert window.surface_actors[0].GetMapper().GetNumberOfClippingPlanes() == 6
    state.set_crop_box(None)
    assert window.surface_actors[0].GetMapper().GetNumberOfClippingPlanes() == 0
    left, _ = left_and_right()
    assert (left > 40).sum() > 500


def test_crop_widget_follows_the_state_and_its_face_drag_sets_the_box(window: MainWindow, phantom_factory: Any, qtbot: Any) -> None:
    _open(window, phantom_factory)
    state, scene, panel = window.state, window.scene, window.view3d_panel
    qtbot.mouseClick(panel.crop, QtCore.Qt.LeftButton)  # crop on: the whole volume, with handles
    bounds = state.volume_bounds()
    assert state.view3d.crop_box == pytest.approx(bounds)
    widget = scene.crop_widget
    assert widget is not None and widget.GetEnabled()
    np.testing.assert_allclose(scene.crop_widget_box(), bounds, atol=1e-6)
    x0, y0, z0, x1, y1, z1 = bounds
    state.set_crop_box((x0 + 10, y0, z0 + 5, x1 - 20, y1, z1))
    np.testing.assert_allclose(scene.crop_widget_box(), (x0 + 10, y0, z0 + 5, x1 - 20, y1, z1), atol=1e-6)  # the widget follows the state
    # drag the +x face's handle (seen from the front: the box's right edge, mid-height) 40 px to the left
    x1 = x1 - 20
    face = np.array([x1, (y0 + y1) / 2, (z0 + 5 + z1) / 2])
    col, row = scene.world_to_pixel(face)
    height = scene.render_window.GetSize()[1]
    start = (col, height - 1 - row)
    _drag(window.view3d, start, (start[0] - 40, start[1]))
    box = state.view3d.crop_box
    assert box is not None
    assert box[3] < x1 - 10, (box, x1)  # the +x face moved left (towards the patient's right)
    assert box[0] == pytest.approx(x0 + 10) and box[2] == pytest.approx(z0 + 5) and box[5] == pytest.approx(z1)  # the others stayed
    np.testing.assert_allclose(scene.crop_widget_box(), box, atol=1e-6)
    assert "x " in panel.crop_label.text()
    panel.crop_handles.setChecked(False)
    assert not widget.GetEnabled() and state.view3d.crop_box == box  # hidden, still cropping
    qtbot.mouseClick(panel.crop, QtCore.Qt.LeftButton)  # off
    assert state.view3d.crop_box is None and not widget.GetEnabled()


# ---------------------------------------------------------------------------- the opacity editor
def test_dragging_an_opacity_point_changes_the_scenes_transfer_function(window: MainWindow, phantom_factory: Any, qtbot: Any) -> None:
    _open(window, phantom_factory)
    state, editor = window.state, window.view3d_panel.editor
    state.set_volume_look("ct-bone", opacity=0.5)
    qtbot.waitExposed(editor)
    before = state.volume_opacity_points()
    index = max(range(len(before)), key=lambda i: before[i][1])  # the most opaque point
    start = editor.point_position(index).toPoint()
    end = start + QtCore.QPoint(0, 30)  # down: less opaque
    qtbot.mousePress(editor, QtCore.Qt.LeftButton, pos=start)
    assert editor.dragged == index
    qtbot.mouseMove(editor, end)
    qtbot.mouseRelease(editor, QtCore.Qt.LeftButton, pos=end)
    after = state.volume_opacity_points()
    want_value, want_opacity = editor.to_value(end)
    assert after[index][1] == pytest.approx(max(0.0, want_opacity), abs=1e-9) and after[index][1] < before[index][1] - 0.05
    assert after[index][0] == pytest.approx(before[index][0], abs=(editor.to_value(QtCore.QPoint(1, 0))[0] - editor.to_value(QtCore.QPoint(0, 0))[0]) * 1.01)
    assert state.view3d.points_of("ct-bone") is not None
    # the scene's opacity function has the moved point, scaled by the look's opacity
    function = window.scene.opacity_function()
    assert any(v == pytest.approx(after[index][0]) and o == pytest.approx(after[index][1] * 0.5) for v, o in function), function
    # another preset keeps its own points; back to ct-bone brings the edit back; the button forgets it
    state.set_volume_look("ct-mip")
    np.testing.assert_allclose(window.scene.opacity_function(), [(v, o * 0.5) for v, o in load_volume_presets()["ct-mip"].opacity])
    state.set_volume_look("ct-bone")
    assert any(o == pytest.approx(after[index][1] * 0.5) and v == pytest.approx(after[index][0]) for v, o in window.scene.opacity_function())
    qtbot.mouseClick(window.view3d_panel.reset_points, QtCore.Qt.LeftButton)
    assert state.view3d.points_of("ct-bone") is None
    assert state.volume_opacity_points() == before
