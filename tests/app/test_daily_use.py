"""The viewer for daily use (issue 18) under Xvfb: scenes, measurements, corner annotations,
movies, shortcuts, the 3D camera and the crosshair on tall studies.

Real DICOM phantoms (known spacing), real VTK panes, real Qt events and workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PyQt5 import QtCore, QtWidgets

from vtkdicom_app.app.main_window import MainWindow, wait_for
from vtkdicom_app.mpr import Plane
from vtkdicom_app.viewer_state import Layout, MeasureTool

ROOT = Path(__file__).resolve().parents[2]
SMALL: dict[str, Any] = dict(rows=64, columns=64, slices=40, pixel_spacing=(3.0, 3.0), slice_spacing=3.0)
PATIENT = "Phantom^Test"  # the phantom writer's patient name


def _window(qtbot: Any, **kwargs: Any) -> MainWindow:
    w = MainWindow(**kwargs)
    qtbot.addWidget(w)
    w.resize(1000, 760)
    w.show()
    qtbot.waitExposed(w)
    w.init_vtk()
    return w


@pytest.fixture
def window(qtbot: Any) -> MainWindow:
    return _window(qtbot)


def _open(window: MainWindow, path: Any) -> None:
    wait_for(window.open_path(str(path)))
    assert window.state.volume is not None, window.last_error


def _click(qtbot: Any, pane: Any, xyz: Any) -> None:
    """A real mouse click on a slice pane at the display position of an LPS point."""
    x, y = pane.view.display_at(xyz)
    ratio = pane.devicePixelRatioF()
    pos = QtCore.QPoint(int(round(x / ratio)), int(round(pane.height() - 1 - y / ratio)))
    qtbot.mouseClick(pane, QtCore.Qt.LeftButton, pos=pos)


# ---------------------------------------------------------------------------- 1. scenes
def test_a_saved_scene_reopens_the_same_state(qtbot: Any, phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**SMALL)
    w = _window(qtbot)
    _open(w, ph.outdir)
    state = w.state
    state.set_crosshair(state.crosshair + np.array([6.0, -9.0, 12.0]))
    state.set_window_level(1500.0, -600.0, "lung")
    state.set_zoom(Plane.CORONAL, 2.0)
    state.set_slab(9.0, "mip", view=Plane.SAGITTAL)
    state.set_layout(Layout.ROW_PLUS_3D)
    state.set_volume_look("ct-bone", shift=50.0)
    state.set_measure_tool(MeasureTool.RULER)
    c = state.crosshair
    state.measure_click(Plane.AXIAL, c)
    state.measure_click(Plane.AXIAL, c + np.array([30.0, 0.0, 0.0]))
    worker = w.add_surface(preset="bone")
    assert worker is not None
    wait_for(worker)
    assert len(state.surfaces) == 1
    path = tmp_path / "scene.json"
    written = w.save_scene(str(path))
    assert written is not None
    text = path.read_text()
    assert PATIENT not in text and "Phantom" not in text  # no PHI
    before = w.scene_dict()

    other = _window(qtbot)
    worker = other.open_scene(str(path))
    assert worker is not None
    wait_for(worker)
    other.wait_scene()
    assert other.last_error is None, other.last_error
    after = other.scene_dict()
    assert json.loads(json.dumps(after)) == json.loads(json.dumps(before))
    assert len(other.state.surfaces) == 1 and other.surface_actors  # extracted in a worker, shown in 3D
    assert list(other.state.measurements)[0].shape == list(state.measurements)[0].shape
    assert other.panes[Plane.AXIAL].view.measurement_labels  # the ruler is drawn


def test_a_scene_whose_source_is_gone_is_an_error_dialog(window: MainWindow, tmp_path: Path) -> None:
    window.error_dialogs = False
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert window.open_scene(str(bad)) is None
    assert "not valid JSON" in (window.last_error or "")
    gone = {"schema": "vtkdicom_app.scene/1", "source": {"path": str(tmp_path / "nowhere"), "series_uid": None, "frame": 0}}
    assert window.open_scene(gone) is None
    assert "does not exist" in (window.last_error or "")


def test_view_scene_screenshot_cli(qtbot: Any, phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**SMALL)
    w = _window(qtbot)
    _open(w, ph.outdir)
    w.state.set_measure_tool(MeasureTool.RULER)
    c = w.state.crosshair
    w.state.measure_click(Plane.AXIAL, c - np.array([30.0, 0, 0]))
    w.state.measure_click(Plane.AXIAL, c + np.array([30.0, 0, 0]))
    scene = tmp_path / "scene.json"
    w.save_scene(str(scene))
    out = tmp_path / "scene.png"
    proc = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "view", "--scene", str(scene), "--screenshot", str(out), "--size", "900x700"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1 measurement(s)" in proc.stdout
    rgb = np.asarray(Image.open(out).convert("RGB"))
    assert rgb.shape[1] == 900  # (the docks' minimum sizes may make the window taller than asked)
    measure_blue = (rgb[..., 2] > 200) & (rgb[..., 0] < 120) & (rgb[..., 1] > 170)  # the ruler's colour
    assert measure_blue.sum() > 50


# ---------------------------------------------------------------------------- 2. measurements
def test_two_clicks_make_a_ruler_of_the_known_length(window: MainWindow, phantom_factory: Any, qtbot: Any, tmp_path: Path) -> None:
    _open(window, phantom_factory(**SMALL).outdir)
    pane = window.panes[Plane.AXIAL]
    window.state.set_measure_tool(MeasureTool.RULER)
    assert window.measurement_panel.tool_buttons[MeasureTool.RULER].isChecked()
    c = window.state.crosshair
    a, b = c + np.array([-30.0, -15.0, 0.0]), c + np.array([30.0, 15.0, 0.0])  # 67.08 mm apart
    _click(qtbot, pane, a)
    assert len(window.state.measure_points) == 1
    _click(qtbot, pane, b)
    assert len(window.state.measurements) == 1
    m = list(window.state.measurements)[0]
    length = window.state.measure(m.id).length_mm
    expected = float(np.linalg.norm(b - a))
    mm_per_px = pane.view.mm_per_pixel()
    assert length == pytest.approx(expected, abs=2 * mm_per_px)  # a click lands within a screen pixel
    # the list shows it, the view draws it with its value
    table = window.measurement_panel.table
    assert table.rowCount() == 1 and table.item(0, 0).text() == "Ruler 1"
    assert f"{length:.1f} mm" in table.item(0, 1).text()
    assert f"{length:.1f} mm" in pane.view.measurement_labels[m.id]
    assert window.panes[Plane.CORONAL].view.measurement_labels == {}  # not on the coronal plane
    # rename from the table, export, delete
    table.item(0, 0).setText("width")
    assert window.state.measurements.get(m.id).name == "width"
    out = tmp_path / "m.csv"
    assert window.export_measurements(str(out))
    assert "width" in out.read_text() and f"{length:.3f}"[:5] in out.read_text()
    assert window.export_measurements(str(tmp_path / "m.json"))
    assert json.loads((tmp_path / "m.json").read_text())["measurements"][0]["values"]["length_mm"] == pytest.approx(length)
    window.measurement_panel.table.selectRow(0)
    window.measurement_panel.delete(0)
    assert len(window.state.measurements) == 0 and table.rowCount() == 0
    assert pane.view.measurement_labels == {}


def test_angle_and_ellipse_by_clicks_and_a_click_outside(window: MainWindow, phantom_factory: Any, qtbot: Any) -> None:
    _open(window, phantom_factory(**SMALL).outdir)
    window.error_dialogs = False
    pane = window.panes[Plane.CORONAL]
    c = window.state.crosshair
    window.state.set_measure_tool(MeasureTool.ANGLE)
    for p in (c + [30.0, 0, 0], c, c + [0, 0, 30.0]):  # a right angle on the coronal plane
        _click(qtbot, pane, p)
    (angle,) = list(window.state.measurements)
    assert window.state.measure(angle.id).angle_deg == pytest.approx(90.0, abs=3.0)
    window.state.set_measure_tool(MeasureTool.ELLIPSE)
    _click(qtbot, pane, c)
    _click(qtbot, pane, c + [9.0, 0, 6.0])
    assert len(window.state.measurements) == 2
    stats = window.state.measure(window.state.measurements.ids[-1]).stats
    assert stats is not None and stats.count > 0
    # a point off the volume: a message, nothing added, the viewer keeps running
    window.state.set_measure_tool(MeasureTool.RULER)
    window.set_crosshair(c)
    window.state.set_zoom(Plane.CORONAL, 0.5)  # the image shrinks: its surroundings are clickable
    pos = QtCore.QPoint(3, 3)
    qtbot.mouseClick(pane, QtCore.Qt.LeftButton, pos=pos)
    assert "outside the volume" in (window.last_error or "")
    assert len(window.state.measurements) == 2


# ---------------------------------------------------------------------------- 3. annotations
def test_corner_annotations_and_anonymize(qtbot: Any, phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL)
    w = _window(qtbot)
    _open(w, ph.outdir)
    view = w.panes[Plane.AXIAL].view
    name_line = view.corner_text(2).splitlines()[0]  # upper left, first line: the patient's name
    assert "Phantom" in name_line and "Test" in name_line
    assert "W 400" in view.corner_text(1) and "Im " in view.corner_text(3)
    w.hide_phi_action.trigger()  # View > Hide patient information
    assert w.state.annotations.anonymize
    for pane in w.panes.values():
        text = "\n".join(pane.view.corner_text(i) for i in range(4))
        assert name_line not in text and "Test" not in text and "Im " in text
    anon = _window(qtbot, anonymize=True)
    _open(anon, ph.outdir)
    text = "\n".join(pane.view.corner_text(i) for pane in anon.panes.values() for i in range(4))
    assert name_line not in text and "Test" not in text and "Im " in text
    # the corner texts follow the state
    w.state.step_crosshair(Plane.AXIAL, 1)
    assert w.panes[Plane.AXIAL].view.corner_text(3) == "\n".join(
        __import__("vtkdicom_app.annotations", fromlist=["x"]).annotations_for_view(w.state, Plane.AXIAL, anonymize=True).top_right
    )


# ---------------------------------------------------------------------------- 4. movies
def test_record_a_turntable_and_a_cine(window: MainWindow, phantom_factory: Any, tmp_path: Path) -> None:
    import imageio.v3 as iio

    _open(window, phantom_factory(**SMALL).outdir)
    out = tmp_path / "spin.mp4"
    worker = window.record_turntable(str(out), 12, fps=10)
    assert worker is not None
    wait_for(worker)
    assert window.last_error is None, window.last_error
    frames = iio.imread(out, plugin="pyav") if _has_pyav() else None
    info = window.last_movie
    assert info.frames == 12 and out.exists()
    if frames is not None:
        assert len(frames) == 12
    cine = tmp_path / "cine.gif"
    worker = window.record_cine(Plane.AXIAL, str(cine), fps=8)
    assert worker is not None
    wait_for(worker)
    assert window.last_movie.frames == 40  # one frame per axial slice
    assert window.record_cine(Plane.AXIAL, str(tmp_path / "x.avi")) is None  # not a movie name: a message
    assert window.last_error


def _has_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------- 5. comfort
def test_help_lists_every_shortcut(window: MainWindow) -> None:
    dialog = window.show_shortcuts()
    table = dialog.findChild(QtCore.QObject, "shortcuts_table")
    listed = {table.item(r, 0).text() for r in range(table.rowCount())}
    bar = window.menuBar()
    shortcuts = []
    stack = [a.menu() for a in bar.actions() if a.menu() is not None]
    while stack:
        menu = stack.pop()
        for action in menu.actions():
            if action.menu() is not None:
                stack.append(action.menu())
            elif not action.shortcut().isEmpty():
                shortcuts.append(action.shortcut().toString())
    assert len(shortcuts) >= 15
    assert set(shortcuts) <= listed
    assert any("wheel" in table.item(r, 0).text().lower() for r in range(table.rowCount()))


def test_tall_volume_fits_the_3d_view_and_shows_the_crosshair_everywhere(window: MainWindow, phantom_factory: Any) -> None:
    _open(window, phantom_factory(rows=64, columns=64, slices=400, pixel_spacing=(1.0, 1.0), slice_spacing=1.0).outdir)
    scene = window.scene
    assert scene is not None
    vol = window.state.volume
    ren = scene.renderer
    width, height = ren.GetRenderWindow().GetSize()
    for corner in vol.corners:
        ren.SetWorldPoint(*corner, 1.0)
        ren.WorldToDisplay()
        x, y, _ = ren.GetDisplayPoint()
        assert 0 <= x <= width and 0 <= y <= height, (corner, (x, y), (width, height))
    from vtkdicom_app.rendering import grab_render_window

    for plane, pane in window.panes.items():
        shown = grab_render_window(pane.GetRenderWindow())  # the screen's pixels, not the image's
        green = (shown[..., 1] > 180) & (shown[..., 0] < 120) & (shown[..., 2] < 150)
        width_mm, height_mm = pane.view.slice.extent_mm
        mm_per_px = pane.view.mm_per_pixel() / pane.devicePixelRatioF()
        assert green.sum(axis=1).max() >= 0.8 * width_mm / mm_per_px, f"{plane.value}: no horizontal crosshair line on screen"
        assert green.sum(axis=0).max() >= 0.8 * height_mm / mm_per_px, f"{plane.value}: no vertical crosshair line on screen"


# ---------------------------------------------------------------------------- oblique MPR by rotating the crosshair
def _pixels_near(pane: Any, xyz: Any) -> np.ndarray:
    """The rendered RGB of the 3 x 3 screen pixels around an LPS point of a pane."""
    from vtkdicom_app.rendering import grab_render_window

    pane.GetRenderWindow().Render()
    rgb = grab_render_window(pane.GetRenderWindow())
    x, y = pane.view.display_at(xyz)
    r, c = rgb.shape[0] - 1 - int(round(y)), int(round(x))
    return rgb[r - 1 : r + 2, c - 1 : c + 2].astype(int)


def test_ctrl_drag_rotates_the_other_planes_and_they_show_the_oblique_reslice(window: MainWindow, phantom_factory: Any) -> None:
    """Ctrl+drag on the axial view's coronal line by 20 degrees: the coronal and sagittal views
    show reslice() on the turned planes, the axial view draws the turned lines, Ctrl+R resets."""
    from vtkdicom_app.mpr import reslice, rotation_about

    ph = phantom_factory(**SMALL)
    _open(window, ph.outdir)
    state, axial, coronal = window.state, window.panes[Plane.AXIAL], window.panes[Plane.CORONAL]
    c = state.crosshair.copy()
    start = c + 40.0 * np.array([1.0, 0.0, 0.0])  # on the coronal plane's line (along x in the axial view)
    a = np.radians(20.0)  # the drag ends at c + 40 mm * (cos a, sin a, 0)
    axial.SetEventInformation(*(int(round(v)) for v in axial.view.display_at(start)), 1, 0)  # Ctrl held
    axial._left_press()
    for t in np.linspace(0.25, 1.0, 4):  # a drag in four steps
        p = c + 40.0 * np.array([np.cos(a * t), np.sin(a * t), 0.0])
        axial.SetEventInformation(*(int(round(v)) for v in axial.view.display_at(p)), 1, 0)
        axial._move()
    axial._left_release()
    np.testing.assert_array_equal(state.crosshair, c)  # a rotation does not move the crosshair
    n = state.plane_axes(Plane.CORONAL)[:, 2]
    turned = np.degrees(np.arctan2(-n[0], n[1]))
    assert turned == pytest.approx(20.0, abs=1.0)  # within the pointer's pixel rounding
    assert not state.view_rotated(Plane.AXIAL)
    shown = coronal.view.slice
    assert shown is not None
    np.testing.assert_array_equal(shown.array, reslice(state.volume, "oblique", normal=n, point=c).array)
    assert len(axial.view.crosshair_segments) == 2  # drawn as turned lines, not painted rows and columns
    on_line = c + 25.0 * (rotation_about((0, 0, 1), turned) @ [1.0, 0.0, 0.0])
    near = _pixels_near(axial, on_line)
    green = (near[..., 1] > 150) & (near[..., 1] > near[..., 0] + 60) & (near[..., 1] > near[..., 2] + 60)
    assert green.any(), near  # the crosshair's green, within a pixel of the turned line
    reset = [a for a in window.menuBar().findChildren(QtWidgets.QAction) if a.text().startswith("Reset &planes")]
    assert reset and reset[0].shortcut().toString() == "Ctrl+R"
    reset[0].trigger()
    assert not state.planes_rotated and axial.view.crosshair_segments == []
    np.testing.assert_array_equal(coronal.view.slice.array, reslice(state.volume, "coronal", point=c).array)


def test_a_scene_keeps_rotated_planes(window: MainWindow, phantom_factory: Any, tmp_path: Path, qtbot: Any) -> None:
    ph = phantom_factory(**SMALL)
    _open(window, ph.outdir)
    window.state.rotate_planes(Plane.CORONAL, 15.0)
    axes = {p: window.state.plane_axes(p) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)}
    path = tmp_path / "oblique.json"
    assert window.save_scene(str(path)) is not None
    other = _window(qtbot)
    wait_for(other.open_scene(str(path)))
    for p, m in axes.items():
        np.testing.assert_allclose(other.state.plane_axes(p), m, atol=1e-12)
    np.testing.assert_array_equal(other.state.slice(Plane.AXIAL).array, window.state.slice(Plane.AXIAL).array)


# ---------------------------------------------------------------------------- editable handles and the sphere ROI
def _drag(pane: Any, points: list[Any]) -> None:
    """A left drag through LPS points (interactor events, the pane's own handlers)."""
    pane.SetEventInformation(*(int(round(v)) for v in pane.view.display_at(points[0])), 0, 0)
    pane._left_press()
    for p in points[1:]:
        pane.SetEventInformation(*(int(round(v)) for v in pane.view.display_at(p)), 0, 0)
        pane._move()
    pane._left_release()


def test_dragging_a_rulers_end_updates_its_value_and_leaves_the_crosshair(window: MainWindow, phantom_factory: Any) -> None:
    from vtkdicom_app.measurements import Ruler

    _open(window, phantom_factory(**SMALL).outdir)
    state, pane = window.state, window.panes[Plane.AXIAL]
    c = state.crosshair.copy()
    mid = state.add_measurement(Ruler(tuple(c - [30.0, 0.0, 0.0]), tuple(c + [30.0, 0.0, 0.0])))  # 60.0 mm
    assert f"{60.0:.1f} mm" in pane.view.measurement_labels[mid]
    end = c + np.array([30.0, 0.0, 0.0])
    _drag(pane, [end, end + [5.0, 10.0, 0.0], end + [10.0, 20.0, 0.0]])  # the right end to (+40, +20)
    moved = state.measurements.get(mid).shape
    assert isinstance(moved, Ruler) and state.grabbed_handle is None
    expected = float(np.hypot(70.0, 20.0))
    assert state.measure(mid).length_mm == pytest.approx(expected, abs=2 * pane.view.mm_per_pixel())
    assert f"{state.measure(mid).length_mm:.1f} mm" in pane.view.measurement_labels[mid]
    np.testing.assert_array_equal(state.crosshair, c)  # a handle drag is not a crosshair drag
    # a drag off the volume leaves the handle at its last place inside
    before = state.measurements.get(mid).shape
    state.grab_measure_handle(Plane.AXIAL, before.p1, 2.0)
    assert not state.drag_measure_handle(np.asarray(before.p1) + [5000.0, 0.0, 0.0])
    state.release_measure_handle()
    assert state.measurements.get(mid).shape == before


def test_sphere_tool_two_clicks_give_the_mean_of_a_uniform_region(window: MainWindow, phantom_factory: Any, qtbot: Any) -> None:
    ph = phantom_factory(**SMALL)
    _open(window, ph.outdir)
    state, pane = window.state, window.panes[Plane.AXIAL]
    centre = np.asarray(ph.spec.sphere_center, float)
    state.set_crosshair(centre)
    state.set_measure_tool(MeasureTool.SPHERE)
    assert window.measurement_panel.tool_buttons[MeasureTool.SPHERE].isChecked()
    r_small = ph.spec.sphere_radius / 2
    _click(qtbot, pane, centre)
    _click(qtbot, pane, centre + [r_small, 0.0, 0.0])
    (m,) = list(state.measurements)
    result = state.measure(m.id)
    assert result.stats is not None and result.stats.mean == pytest.approx(ph.spec.sphere_hu, abs=5.0)  # inside the 1000 HU ball
    radius = m.shape.radius_mm
    assert radius == pytest.approx(r_small, abs=2 * pane.view.mm_per_pixel())  # a click lands within a screen pixel
    assert result.stats.volume_mm3 == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.1)
    # drawn as the circle where each view's plane cuts it, in all three views through its centre
    for view in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL):
        assert m.id in window.panes[view].view.measurement_labels, view


# ---------------------------------------------------------------------------- remembered layout and panels
def test_the_window_remembers_its_docks_and_layout(qtbot: Any, phantom_factory: Any) -> None:
    first = _window(qtbot)
    assert first.series_dock.isVisible() and first.dockWidgetArea(first.series_dock) == QtCore.Qt.DockWidgetArea.LeftDockWidgetArea
    toggle = [a for a in first.view_menu.actions() if a.text() == "&Series browser"]
    assert toggle and toggle[0].shortcut().toString() == "Ctrl+B"
    toggle[0].trigger()  # collapse the series browser
    assert not first.series_dock.isVisible()
    first.set_layout(Layout.ROW_PLUS_3D)
    first.close()
    second = _window(qtbot)
    assert not second.series_dock.isVisible() and second.state.layout.layout is Layout.ROW_PLUS_3D
    second.series_dock.toggleViewAction().trigger()  # and back
    assert second.series_dock.isVisible()


def test_slab_of_one_view_leaves_the_others_thin(window: MainWindow, phantom_factory: Any) -> None:
    _open(window, phantom_factory(**SMALL).outdir)
    panel = window.slab_panel
    panel.view.setCurrentIndex(panel.view.findData(Plane.CORONAL))
    panel.thickness.setValue(15.0)
    panel.mode.setCurrentText("minip")
    panel.apply()
    state = window.state
    assert state.view(Plane.CORONAL).slab.thickness_mm == 15.0 and state.view(Plane.CORONAL).slab.mode.value == "minip"
    assert state.view(Plane.AXIAL).slab.thickness_mm == 0.0 and state.view(Plane.SAGITTAL).slab.thickness_mm == 0.0
    assert window.panes[Plane.CORONAL].view.slice.slab_mm == 15.0 and window.panes[Plane.AXIAL].view.slice.slab_mm == 0.0
    panel.view.setCurrentIndex(panel.view.findData(Plane.AXIAL))
    panel.view.activated.emit(panel.view.currentIndex())
    assert panel.thickness.value() == 0.0  # the panel shows the chosen view's slab
