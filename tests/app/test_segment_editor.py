"""The Segment Editor in the Qt viewer under Xvfb: real windows, real VTK panes, real workers.

Known answers on the project's CT phantom with a 20 mm bone sphere (1000 HU) on a 2 mm grid:
a seed click in the sphere gives the sphere (volume within 2 %), a brush stroke adds the
capsule it sweeps, Ctrl+Z restores the voxels exactly, the overlay in the rendered pixels
has the segment's colour where the sphere is, and the 3D surface follows the edits.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PyQt5 import QtCore, QtWidgets

from vtkdicom_app.app.main_window import MainWindow, wait_for
from vtkdicom_app.mpr import Plane
from vtkdicom_app.rendering import grab_render_window
from vtkdicom_app.segmentation.tools import ScissorsOperation
from vtkdicom_app.viewer_state import SegmentTool

# 96 x 96 x 64 axial CT, 2 mm voxels, a 20 mm bone sphere of 1000 HU (hard edges)
PHANTOM: dict[str, Any] = dict(rows=96, columns=96, slices=64, pixel_spacing=(2.0, 2.0), slice_spacing=2.0, sphere_radius_mm=20.0, sphere_hu=1000.0)
RED = (1.0, 0.0, 0.0)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go: ``$SEGMENT_SHOTS`` to keep and look at them, else the test's own folder."""
    return Path(os.environ["SEGMENT_SHOTS"]) if os.environ.get("SEGMENT_SHOTS") else tmp_path


@pytest.fixture
def window(qtbot: Any) -> MainWindow:
    w = MainWindow()
    w.error_dialogs = False  # errors are kept in last_error (asserted below)
    qtbot.addWidget(w)
    w.resize(1100, 800)
    w.show()
    qtbot.waitExposed(w)
    w.init_vtk()
    return w


@pytest.fixture
def phantom(phantom_factory: Any) -> Any:
    return phantom_factory(**PHANTOM)


def _open(window: MainWindow, phantom: Any) -> None:
    wait_for(window.open_path(str(phantom.outdir)))
    assert window.state.volume is not None, window.last_error


def _qt_pos(pane: Any, xyz: Any) -> QtCore.QPoint:
    """The widget position (Qt, top left origin, logical pixels) where an LPS point is drawn."""
    x, y = pane.view.display_at(xyz)
    ratio = pane.devicePixelRatioF()
    return QtCore.QPoint(int(round(x / ratio)), int(round(pane.height() - 1 - y / ratio)))


def _display(pane: Any, xyz: Any) -> tuple[int, int]:
    x, y = pane.view.display_at(xyz)
    return int(round(x)), int(round(y))


def _pixel(pane: Any, xyz: Any) -> np.ndarray:
    """The rendered RGB of the pane at an LPS point (row 0 of the grab is the top)."""
    rgb = grab_render_window(pane.GetRenderWindow())
    x, y = _display(pane, xyz)
    return rgb[rgb.shape[0] - 1 - y, x].astype(int)


def _choose_tool(window: MainWindow, tool: SegmentTool) -> None:
    combo = window.segment_panel.tool
    combo.setCurrentIndex(combo.findData(tool))
    combo.activated.emit(combo.currentIndex())  # what a user's pick sends
    assert window.state.segment_tool is tool


def _seed_sphere(window: MainWindow, phantom: Any, qtbot: Any) -> str:
    """Add a red segment with the panel and click the sphere's centre in the axial view with the seed tool."""
    state, panel = window.state, window.segment_panel
    state.set_crosshair(phantom.spec.sphere_center)  # the axial plane through the sphere's centre
    qtbot.mouseClick(panel.add_button, QtCore.Qt.LeftButton)
    sid = state.current_segment
    assert sid is not None and panel.segments.count() == 1
    state.set_segment_properties(sid, color=RED)
    _choose_tool(window, SegmentTool.SEED)
    panel.no_upper.setChecked(False)  # through the panel's controls: 300..3000 HU
    panel.upper_spin.setValue(3000.0)
    panel.lower_spin.setValue(300.0)
    assert (state.segment_options.threshold_lower, state.segment_options.threshold_upper) == (300.0, 3000.0)
    axial = window.panes[Plane.AXIAL]
    qtbot.mouseClick(axial, QtCore.Qt.LeftButton, pos=_qt_pos(axial, phantom.spec.sphere_center))
    assert window.last_error is None, window.last_error
    return sid


def test_seed_click_gives_the_sphere_and_its_overlay_and_surface(window: MainWindow, phantom: Any, qtbot: Any, shots: Path) -> None:
    _open(window, phantom)
    sid = _seed_sphere(window, phantom, qtbot)
    state = window.state
    model = state.segmentation
    assert model is not None
    spec = phantom.spec
    volume = model.voxel_count(sid) * model.geometry.voxel_volume_mm3
    assert volume == pytest.approx(spec.sphere_volume_mm3, rel=0.02)  # the sphere, not the spine or the marker
    centres = model.geometry.index_to_patient(np.argwhere(model.mask(sid))[:, ::-1].astype(float))
    assert np.linalg.norm(centres - np.asarray(spec.sphere_center), axis=1).max() <= spec.sphere_radius + 1e-6
    assert model.undo_description == "seed region"

    # the overlay: opaque fill in the segment's colour inside the sphere in every view (a point
    # off the crosshair's lines, which cross at the sphere's centre)
    inside = np.asarray(spec.sphere_center) + (6.0, 6.0, 6.0)
    panel = window.segment_panel
    panel.opacity.setValue(100)
    assert state.segment_options.overlay_opacity == 1.0
    for plane, pane in window.panes.items():
        assert tuple(_pixel(pane, inside)) == (255, 0, 0), plane
    # half opacity: the sphere's white (1000 HU in a 400/40 window) shows through
    panel.opacity.setValue(50)
    axial = window.panes[Plane.AXIAL]
    r, g, b = _pixel(axial, inside)
    assert abs(r - 255) <= 2 and abs(g - 128) <= 3 and abs(b - 128) <= 3
    # outside the sphere (body tissue, 40 HU: mid grey) there is no red
    outside = np.asarray(spec.sphere_center) + (spec.sphere_radius + 6.0, 6.0, 0.0)
    r, g, b = _pixel(axial, outside)
    assert abs(r - g) <= 2 and abs(g - b) <= 2
    # the outline: opaque at the sphere's edge on the axial slice
    edge_rgba = axial.view.overlay_rgba
    assert edge_rgba is not None and (edge_rgba[..., 3] == 255).sum() > 20

    # the 3D view: the worker made the segment's surface, in its colour, enclosing the sphere's volume
    window.wait_segment_surfaces()
    actor = window.segment_actors[sid]
    assert actor.GetProperty().GetColor() == RED and actor.GetVisibility()
    from vtkdicom_app.bridge import mesh_to_arrays
    from vtkdicom_app.mesh import signed_volume

    mesh = actor.GetMapper().GetInput()
    points, faces = mesh_to_arrays(mesh)
    assert signed_volume(points, faces) == pytest.approx(spec.sphere_volume_mm3, rel=0.02)
    state.set_segment_properties(sid, visible=False)  # hidden: off the slices and out of the 3D view
    assert not actor.GetVisibility() and not window.panes[Plane.AXIAL].view.overlay_actor.GetVisibility()
    state.set_segment_properties(sid, visible=True)
    assert actor.GetVisibility() and window.panes[Plane.AXIAL].view.overlay_actor.GetVisibility()

    shots.mkdir(parents=True, exist_ok=True)
    window.refresh(render_3d=True)
    window.segment_dock.raise_()
    window.save_screenshot(str(shots / "segment_editor_seed.png"))
    shot = np.asarray(Image.open(shots / "segment_editor_seed.png").convert("RGB"))
    assert shot.shape[0] > 600 and (np.all(shot == (255, 128, 128), axis=2) | np.all(shot == (255, 127, 127), axis=2)).sum() > 100


def test_brush_stroke_adds_voxels_and_ctrl_z_restores_them_exactly(window: MainWindow, phantom: Any, qtbot: Any) -> None:
    _open(window, phantom)
    sid = _seed_sphere(window, phantom, qtbot)
    state, model = window.state, window.state.segmentation
    assert model is not None
    before = model.mask(sid).copy()
    _choose_tool(window, SegmentTool.PAINT)
    window.segment_panel.radius.setValue(6.0)
    assert state.segment_options.brush_radius_mm == 6.0
    axial = window.panes[Plane.AXIAL]
    c = np.asarray(phantom.spec.sphere_center)
    start, end = c + (-30.0, 10.0, 0.0), c + (-30.0, 40.0, 0.0)  # in the body, clear of the sphere
    draws = axial.overlay_redraws
    # press (a real Qt click), drag through the interactor, release
    qtbot.mousePress(axial, QtCore.Qt.LeftButton, pos=_qt_pos(axial, start))
    assert state.stroke_active
    for t in np.linspace(0.0, 1.0, 7)[1:]:
        x, y = _display(axial, start + t * (end - start))
        axial.SetEventInformation(x, y, 0, 0)
        axial._move()
    qtbot.mouseRelease(axial, QtCore.Qt.LeftButton, pos=_qt_pos(axial, end))
    assert not state.stroke_active
    after = model.mask(sid).copy()
    added = after & ~before
    assert not (before & ~after).any()
    # the capsule the stroke swept (radius 6 mm, 30 mm long): within 15 % on 2 mm voxels
    capsule = math.pi * 6.0**2 * 30.0 + 4.0 / 3.0 * math.pi * 6.0**3
    assert added.sum() * model.geometry.voxel_volume_mm3 == pytest.approx(capsule, rel=0.15)
    pts = model.geometry.index_to_patient(np.argwhere(added)[:, ::-1].astype(float))
    seg_dir = (end - start) / np.linalg.norm(end - start)
    t = np.clip((pts - start) @ seg_dir, 0.0, np.linalg.norm(end - start))
    slack = 1.5 * axial.view.mm_per_pixel()  # the pointer lands on whole display pixels
    assert np.linalg.norm(pts - (start + t[:, None] * seg_dir), axis=1).max() <= 6.0 + slack
    # the stroke shows on the axial slice (redrawn while dragging) and is one undo step
    assert axial.overlay_redraws > draws
    rgba = axial.view.overlay_rgba
    x, y = _display(axial, (start + end) / 2)
    assert rgba is not None
    row, col, _d = axial.view.slice.patient_to_pixel((start + end) / 2)
    assert rgba[int(round(float(row))), int(round(float(col))), 3] > 0
    assert model.undo_description == "paint"
    # Ctrl+Z through the window's shortcut: the voxels before the stroke, exactly
    window.activateWindow()  # shortcuts need an active window (no window manager on Xvfb)
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window, timeout=5000)
    axial.setFocus()
    qtbot.keyClick(axial, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    np.testing.assert_array_equal(model.mask(sid), before)
    row_rgba = axial.view.overlay_rgba
    assert row_rgba is not None and row_rgba[int(round(float(row))), int(round(float(col))), 3] == 0  # the overlay follows
    qtbot.keyClick(axial, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier | QtCore.Qt.ShiftModifier)
    np.testing.assert_array_equal(model.mask(sid), after)
    window.undo_segmentation()
    window.undo_segmentation()  # the seed region too: empty again
    assert not model.mask(sid).any() and window.segment_panel.redo_button.isEnabled()


def test_scissors_on_a_view_cut_along_its_direction(window: MainWindow, phantom: Any, qtbot: Any, shots: Path) -> None:
    _open(window, phantom)
    sid = _seed_sphere(window, phantom, qtbot)
    model = window.state.segmentation
    assert model is not None
    before = model.voxel_count(sid)
    _choose_tool(window, SegmentTool.SCISSORS)
    combo = window.segment_panel.scissors
    combo.setCurrentIndex(combo.findData(ScissorsOperation.ERASE_INSIDE))
    combo.activated.emit(combo.currentIndex())
    # a rectangle over the patient's left half (x > 0) of the sphere, drawn on the coronal view:
    # extruded along y it removes that half
    coronal = window.panes[Plane.CORONAL]
    c = np.asarray(phantom.spec.sphere_center)
    # (the sphere's centre lies between two columns of voxels, 1 mm from each)
    corners = [c + (0.0, 0.0, -30.0), c + (40.0, 0.0, -30.0), c + (40.0, 0.0, 30.0), c + (0.0, 0.0, 30.0)]
    coronal.SetEventInformation(*_display(coronal, corners[0]), 0, 0)
    coronal._left_press()
    for p in corners[1:]:
        coronal.SetEventInformation(*_display(coronal, p), 0, 0)
        coronal._move()
    assert window.state.segment_sketch is not None and coronal.view.sketch_actor.GetVisibility()
    shots.mkdir(parents=True, exist_ok=True)
    window.save_view_screenshot(Plane.CORONAL, str(shots / "segment_editor_scissors.png"))
    drawn = grab_render_window(coronal.GetRenderWindow())
    yellow = (drawn[..., 0] > 200) & (drawn[..., 1] > 200) & (drawn[..., 2] < 80)
    assert yellow.sum() > 50  # the polygon so far, drawn over the slice
    coronal._left_release()
    assert window.state.segment_sketch is None and not coronal.view.sketch_actor.GetVisibility()
    assert window.last_error is None, window.last_error
    kept = model.geometry.index_to_patient(np.argwhere(model.mask(sid))[:, ::-1].astype(float))
    assert kept[:, 0].max() < c[0]  # nothing left right of the cut
    assert model.voxel_count(sid) == pytest.approx(before / 2, rel=0.01)  # the left half, all of it
    assert model.undo_description == "scissors"


def test_panel_segments_and_whole_segment_tools(window: MainWindow, phantom: Any, qtbot: Any) -> None:
    _open(window, phantom)
    state, panel = window.state, window.segment_panel
    qtbot.mouseClick(panel.add_button, QtCore.Qt.LeftButton)
    qtbot.mouseClick(panel.add_button, QtCore.Qt.LeftButton)
    model = state.segmentation
    assert model is not None and len(model) == 2 and panel.segments.count() == 2
    first, second = model.segment_ids
    assert state.current_segment == second and panel.segments.currentRow() == 1
    # rename and hide through the list's items
    panel.segments.item(0).setText("bone")
    assert model.segment(first).name == "bone"
    panel.segments.setCurrentRow(0)
    assert state.current_segment == first
    # threshold (Apply), then the islands and margin tools
    _choose_tool(window, SegmentTool.THRESHOLD)
    panel.no_upper.setChecked(True)
    panel.lower_spin.setValue(300.0)
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    bone = model.voxel_count(first)
    assert bone > 0 and window.last_error is None
    _choose_tool(window, SegmentTool.ISLANDS)
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    largest = model.voxel_count(first)
    assert 0 < largest < bone
    _choose_tool(window, SegmentTool.MARGIN)
    panel.margin.setValue(2.0)
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    assert model.voxel_count(first) > largest and model.undo_description == "margin +2 mm"
    # logical: copy 'bone' into the second segment
    panel.segments.setCurrentRow(1)
    _choose_tool(window, SegmentTool.LOGICAL)
    panel.logical_op.setCurrentIndex(panel.logical_op.findText("Copy"))
    panel.logical_op.activated.emit(panel.logical_op.currentIndex())
    panel.logical_other.setCurrentIndex(panel.logical_other.findData(first))
    panel.logical_other.activated.emit(panel.logical_other.currentIndex())
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    np.testing.assert_array_equal(model.mask(second), model.mask(first))
    # hollow and fill holes on the copy: fill holes gives the grown solid back
    _choose_tool(window, SegmentTool.HOLLOW)
    panel.hollow.setValue(2.0)
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    assert 0 < model.voxel_count(second) < model.voxel_count(first)
    _choose_tool(window, SegmentTool.FILL_HOLES)
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    np.testing.assert_array_equal(model.mask(second), model.mask(first))
    # close gaps: a one-slice slit cut through the copy is filled again, nothing else is lost
    from vtkdicom_app.segmentation.geometry import Box
    from vtkdicom_app.segmentation.model import Mode

    full = model.mask(second).copy()
    rows = np.flatnonzero(full.any(axis=(1, 2)))
    zk = int(rows[len(rows) // 2])
    shape = full.shape
    model.write(second, Box((zk, 0, 0), (zk + 1, shape[1], shape[2])), np.ones((1, shape[1], shape[2]), bool), Mode.SUBTRACT, description="slit")
    before = model.mask(second).copy()
    removed = full & ~before
    assert removed.sum() > 100
    _choose_tool(window, SegmentTool.CLOSE)
    assert panel.groups["close"].isVisibleTo(panel) and not panel.groups["margin"].isVisibleTo(panel)
    panel.close_radius.setValue(3.0)
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    assert window.last_error is None and model.undo_description == "close 3 mm"
    after = model.mask(second)
    assert np.all(after[before]), "closing took voxels away"
    assert after[removed].mean() > 0.9, f"only {after[removed].mean():.0%} of the slit was closed"
    # hiding a segment takes it off the slices; a refused tool says why and changes nothing
    panel.segments.item(1).setCheckState(QtCore.Qt.Unchecked)
    panel.segments.item(0).setCheckState(QtCore.Qt.Unchecked)
    assert not model.segment(first).visible and not window.panes[Plane.AXIAL].view.overlay_actor.GetVisibility()
    _choose_tool(window, SegmentTool.LOGICAL)
    panel.logical_other.setCurrentIndex(panel.logical_other.findData(second))
    panel.logical_other.activated.emit(panel.logical_other.currentIndex())
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    assert window.last_error is not None and "another segment" in window.last_error
    # remove, and undo the removal
    qtbot.mouseClick(panel.remove_button, QtCore.Qt.LeftButton)
    assert len(model) == 1 and panel.segments.count() == 1 and state.current_segment == first
    window.undo_segmentation()
    assert len(model) == 2 and panel.segments.count() == 2


def test_threshold_inside_a_box_and_crop_to_it(window: MainWindow, phantom: Any, qtbot: Any) -> None:
    _open(window, phantom)
    state, panel = window.state, window.segment_panel
    vol = state.volume
    assert vol is not None
    qtbot.mouseClick(panel.add_button, QtCore.Qt.LeftButton)
    model = state.segmentation
    assert model is not None
    sid = model.segment_ids[0]

    def lps() -> np.ndarray:
        kji = np.argwhere(model.mask(sid))
        return np.asarray([vol.index_to_patient((i, j, k)) for k, j, i in kji])

    _choose_tool(window, SegmentTool.THRESHOLD)
    assert panel.groups["box"].isVisibleTo(panel)
    panel.no_upper.setChecked(True)
    panel.lower_spin.setValue(300.0)
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    everywhere = model.voxel_count(sid)
    assert everywhere > 0 and window.last_error is None
    panel.use_box.setChecked(True)  # starts as the volume's extent
    corners = vol.corners
    assert state.segment_options.box == pytest.approx((*corners.min(axis=0), *corners.max(axis=0)))
    panel.box_spins[3].setValue(0.0)  # x1 = 0: the patient's right half only (LPS x < 0)
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    right = lps()
    assert window.last_error is None and 0 < len(right) < everywhere
    assert right[:, 0].max() <= 0.0 + 1e-6
    # crop the right half to the slices below the volume's centre
    z_mid = float(corners[:, 2].mean())
    _choose_tool(window, SegmentTool.CROP)
    panel.box_spins[5].setValue(z_mid)
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    cropped = lps()
    assert window.last_error is None and 0 < len(cropped) < len(right) and model.undo_description == "crop"
    assert cropped[:, 2].max() <= z_mid + 1e-6 and cropped[:, 0].max() <= 1e-6
    # without a box the crop tool says what it needs and changes nothing
    panel.use_box.setChecked(False)
    assert state.segment_options.box is None
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.LeftButton)
    assert window.last_error is not None and "box" in window.last_error and model.voxel_count(sid) == len(cropped)


def test_save_open_and_export(window: MainWindow, phantom: Any, qtbot: Any, tmp_path: Path) -> None:
    import trimesh

    _open(window, phantom)
    sid = _seed_sphere(window, phantom, qtbot)
    state = window.state
    model = state.segmentation
    assert model is not None
    expected = model.mask(sid).copy()
    for name in ("sphere.seg.nrrd", "sphere.nii.gz", "sphere.dcm"):
        path = tmp_path / name
        wait_for(window.save_segmentation(str(path)))
        assert path.is_file(), window.last_error
    state.set_segmentation(None)
    assert state.segmentation is None and not window.segment_actors and window.segment_panel.segments.count() == 0
    for name in ("sphere.seg.nrrd", "sphere.nii.gz", "sphere.dcm"):
        wait_for(window.open_segmentation(str(tmp_path / name)))
        opened = state.segmentation
        assert opened is not None and len(opened) == 1, (name, window.last_error)
        np.testing.assert_array_equal(opened.mask(opened.segment_ids[0]), expected)
        assert window.segment_panel.segments.count() == 1
    window.wait_segment_surfaces()
    assert len(window.segment_actors) == 1
    out = tmp_path / "segments.3mf"
    wait_for(window.export_segment_meshes(str(out)))
    scene = trimesh.load(out)
    meshes = list(scene.geometry.values()) if hasattr(scene, "geometry") else [scene]
    assert len(meshes) == 1 and meshes[0].is_watertight
    assert meshes[0].volume == pytest.approx(phantom.spec.sphere_volume_mm3, rel=0.03)
    glb = tmp_path / "segments.glb"
    wait_for(window.export_segment_meshes(str(glb)))
    loaded = trimesh.load(glb)
    assert len(loaded.geometry) == 1 and list(loaded.geometry.values())[0].is_watertight
    # a segmentation of another grid is refused with the reason; the open one stays
    import vtkdicom_app as vda
    from vtkdicom_app.phantom import write_phantom
    from vtkdicom_app.segmentation import SegmentationModel, save_segmentation

    other = vda.load(write_phantom(tmp_path / "other", rows=32, columns=32, slices=8).outdir)
    foreign = SegmentationModel.from_volume(other)
    foreign.add_segment("x", mask=other.array > 300)
    save_segmentation(foreign, tmp_path / "foreign.seg.nrrd")
    current = state.segmentation
    wait_for(window.open_segmentation(str(tmp_path / "foreign.seg.nrrd")))
    assert window.last_error is not None and state.segmentation is current
