"""The Qt viewer: axial, coronal, sagittal and 3D views, linked, with panels.

The widgets compute nothing and keep no numbers: input becomes calls on the Qt-free
:class:`~vtkdicom_app.viewer_state.ViewerState` (``window.state``), and its events redraw the
views and panels. Slow work (open, surface, export) runs in a :class:`Worker` that returns an
immutable result, which the GUI thread applies to the state; errors are shown in a dialog
with the library's message and logged.

The Segment Editor (issue 14): a dock (:class:`~vtkdicom_app.app.segment_panel.SegmentEditorPanel`),
coloured overlays drawn by each slice view, tools driven by clicks and drags on the slices,
Edit > Undo/Redo (Ctrl+Z, Ctrl+Shift+Z), File > Open/Save segmentation and Export segment
meshes. After each edit the segment's surface is remade in a worker (debounced, one job per
segment at a time, from a copy of its box); the GUI thread only swaps the actor's mesh.

Daily use (issue 18): File > Save scene / Open scene (:mod:`vtkdicom_app.scene`; surfaces of
a scene are extracted in a worker); a Measurements dock (ruler, angle, ellipse ROI placed by
clicks on any slice view, values in patient space, rename, delete, jump to, JSON/CSV export);
corner annotations on each slice view (View > Hide patient information); File > Record
turntable / Record slice cine (MP4 or GIF; the 3D frames are rendered on the GUI thread one
by one with the event loop kept running and a Cancel button, the encoding runs in a worker);
Help > Keyboard shortcuts.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import numpy as np

# The OpenGL and text factories must be registered before any render window is created,
# or QVTKRenderWindowInteractor gets an abstract vtkRenderWindow and crashes on Initialize.
import vtkmodules.vtkRenderingFreeType  # noqa: F401  isort: skip
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  isort: skip
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  isort: skip
from PyQt5 import QtCore, QtGui, QtWidgets
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera

from vtkdicom_app.app.model import OpenResult, ViewerModel
from vtkdicom_app.app.pacs_dialog import install_pacs_action
from vtkdicom_app.app.panels import FramesPanel, MeasurementPanel, SeriesPanel, SlabPanel, SurfacePanel, VolumeRenderingPanel, WindowLevelPanel, listen
from vtkdicom_app.app.segment_panel import SegmentEditorPanel
from vtkdicom_app.app.slice_pane import SlicePane
from vtkdicom_app.app.view3d_panel import View3DControls, View3DPanel
from vtkdicom_app.app.worker import Worker, wait_for
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane
from vtkdicom_app.rendering import VolumeScene, grab_render_window
from vtkdicom_app.segmentation.model import EventKind
from vtkdicom_app.viewer_state import Event, Layout, MeasureTool, SegmentSurface, StateEvent, Surface, ViewerState

__all__ = ["MainWindow", "SlicePane", "Worker", "wait_for"]

log = logging.getLogger(__name__)
PLANES = ORTHOGONAL_PLANES
_Qt = QtCore.Qt
SURFACE_DELAY_MS = 120
"""Segment surfaces are remade this long after the last edit (a drag paints many dabs)."""
SEGMENTATION_FILES = "Segmentations (*.seg.nrrd *.nrrd *.nii.gz *.nii *.dcm)"
MESH_FILES = "Meshes (*.3mf *.glb *.stl *.obj *.ply)"
SCENE_FILES = "Scenes (*.json)"
MOVIE_FILES = "Movies (*.mp4 *.gif)"
VIEW_INPUT = (
    ("Left click / drag on a slice", "move the crosshair (all views follow)"),
    ("Left click with a measurement tool", "place the ruler's, angle's, ellipse's or sphere's points"),
    ("Left drag on a measurement's handle", "move that end, vertex or corner (the value follows)"),
    ("Mouse wheel, Up / Down, Page Up / Page Down", "next / previous slice (true slice steps)"),
    ("Ctrl + mouse wheel", "zoom the view"),
    ("Ctrl + left drag on a slice", "rotate the other two planes about this view's normal (oblique MPR)"),
    ("Middle drag", "pan the view"),
    ("Right drag", "window (left-right) and level (up-down)"),
    ("Double click on a view", "maximise it / back to the grid"),
    ("Left drag in 3D", "rotate; right drag: zoom; middle drag: pan"),
)
"""Mouse and key input of the views (not menu actions), for Help > Keyboard shortcuts."""


class MainWindow(QtWidgets.QMainWindow):
    """The vtkdicom_app viewer window.

    Parameters
    ----------
    model : ViewerModel, optional
        The actions and their state (a new one by default; ``window.state`` is its state).
    anonymize : bool
        Hide patient names.
    """

    def __init__(self, model: ViewerModel | None = None, *, anonymize: bool = False) -> None:
        super().__init__()
        self.model = model or ViewerModel()
        self.state: ViewerState = self.model.state
        self.anonymize = anonymize
        self.setWindowTitle("vtkdicom_app")
        self.resize(1200, 860)
        self.setAcceptDrops(True)
        self.worker: Worker | None = None
        self.progress_dialog: QtWidgets.QProgressDialog | None = None
        self.scene: VolumeScene | None = None
        self.surface_actors: list[Any] = []  # one per state.surfaces entry, same order
        self.last_error: str | None = None
        self.error_dialogs = True
        self.crop_ijk: tuple[float, ...] | None = None  # the volume rendering's crop box (scenes)
        self.scene_worker: Worker | None = None  # extracts a scene's surfaces
        self.state.set_annotations(anonymize=anonymize)
        self.panes = {p: SlicePane(self, self.state, p, hover=self.show_status, error=self.show_error, frame_text=self.model.frame_text) for p in PLANES}
        # the Segment Editor's 3D surfaces: one actor per segment; workers remake them after edits
        self.segment_actors: dict[str, Any] = {}
        self._surface_workers: dict[str, Worker] = {}
        self._dirty_surfaces: set[str] = set()
        self._surface_timer = QtCore.QTimer(self)
        self._surface_timer.setSingleShot(True)
        self._surface_timer.setInterval(SURFACE_DELAY_MS)
        self._surface_timer.timeout.connect(self._start_surface_jobs)
        self.surface_updates = 0  # segment surfaces swapped into the 3D view (tests, benchmarks)
        self.view3d = QVTKRenderWindowInteractor(self)
        self.view3d.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.view3d.AddObserver("StartInteractionEvent", lambda *_: self.scene and self.scene.interactive(True))
        self.view3d.AddObserver("EndInteractionEvent", lambda *_: self._end_3d_interaction())
        central = QtWidgets.QWidget()
        self.grid = QtWidgets.QGridLayout(central)
        self.grid.setContentsMargins(2, 2, 2, 2)
        self.grid.setSpacing(2)
        self.setCentralWidget(central)
        self._apply_layout()
        self._build_menus()
        self._build_docks()
        listen(self, self.state, self._on_state)
        stored = self.settings().value("recent", []) or []
        self.state.set_recent(str(p) for p in (stored if isinstance(stored, list) else [stored]) if p)
        self._refresh_recent()
        self.status().showMessage("Open a DICOM folder, file or DICOMDIR (File menu or drag and drop)")
        self._initialized = False

    def status(self) -> QtWidgets.QStatusBar:
        """The status bar (always there: QMainWindow makes it on first use)."""
        bar = self.statusBar()
        assert bar is not None
        return bar

    def showEvent(self, event: QtGui.QShowEvent | None) -> None:  # noqa: N802 - Qt API
        """Start the VTK interactors once the native windows exist (next event loop turn)."""
        super().showEvent(event)
        if not self._initialized:
            QtCore.QTimer.singleShot(0, self.init_vtk)

    def closeEvent(self, event: QtGui.QCloseEvent | None) -> None:  # noqa: N802 - Qt API
        """Wait for the surface workers (a QThread must not be destroyed while it runs)."""
        self._surface_timer.stop()
        self._dirty_surfaces.clear()
        for worker in list(self._surface_workers.values()):
            worker.wait()
        self.save_settings()
        super().closeEvent(event)

    def init_vtk(self) -> None:
        """Initialise the VTK interactors (after the window is shown and painted)."""
        if self._initialized:
            return
        self._initialized = True
        for pane in self.panes.values():
            pane.start()
        self.view3d.Initialize()
        self.view3d.Start()

    # ------------------------------------------------------------------ building
    def _menu(self, title: str, parent: QtWidgets.QMenu | None = None) -> QtWidgets.QMenu:
        if parent is None:
            bar = self.menuBar()
            assert bar is not None
            menu = bar.addMenu(title)
        else:
            menu = parent.addMenu(title)
        assert menu is not None
        return menu

    def _build_menus(self) -> None:
        menu = self._menu("&File")
        menu.addAction("Open &folder...", self.open_folder_dialog, QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Open))
        menu.addAction("Open f&ile or DICOMDIR...", self.open_file_dialog)
        install_pacs_action(self, menu)  # File > Open from PACS...
        self.recent_menu = self._menu("Open &recent", menu)
        menu.addSeparator()
        menu.addAction("Open sc&ene...", self.open_scene_dialog, QtGui.QKeySequence("Ctrl+Shift+O"))
        menu.addAction("Sa&ve scene...", self.save_scene_dialog, QtGui.QKeySequence("Ctrl+S"))
        menu.addSeparator()
        menu.addAction("Open se&gmentation...", self.open_segmentation_dialog)
        menu.addAction("Save segmentation...", self.save_segmentation_dialog)
        menu.addAction("Export segment &meshes...", self.export_segments_dialog)
        menu.addSeparator()
        menu.addAction("Save &screenshot...", self.screenshot_dialog, QtGui.QKeySequence("Ctrl+Shift+S"))
        views = self._menu("Save screenshot of one &view", menu)
        for plane in PLANES:
            views.addAction(plane.value, lambda p=plane: self.view_screenshot_dialog(p))
        views.addAction("3D", lambda: self.view_screenshot_dialog(None))
        menu.addAction("DICOM &tags of the current slice...", self.show_tags, QtGui.QKeySequence("Ctrl+T"))
        menu.addSeparator()
        menu.addAction("Record &turntable (MP4/GIF)...", self.record_turntable_dialog)
        cine = self._menu("Record slice &cine (MP4/GIF)", menu)
        for plane in PLANES:
            cine.addAction(plane.value, lambda p=plane: self.record_cine_dialog(p))
        menu.addSeparator()
        menu.addAction("&Quit", self.close, QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Quit))
        edit = self._menu("&Edit")
        undo = edit.addAction("&Undo segmentation", self.undo_segmentation, QtGui.QKeySequence("Ctrl+Z"))
        redo = edit.addAction("&Redo segmentation", self.redo_segmentation, QtGui.QKeySequence("Ctrl+Shift+Z"))
        assert undo is not None and redo is not None
        self.undo_action, self.redo_action = undo, redo
        self._show_history()
        view = self._menu("&View")
        self.view_menu = view
        view.addAction("2 x 2", lambda: self.set_layout(Layout.GRID), QtGui.QKeySequence("Ctrl+1"))
        view.addAction("1 x 3 + 3D", lambda: self.set_layout(Layout.ROW_PLUS_3D), QtGui.QKeySequence("Ctrl+2"))
        view.addAction("3D only", lambda: self.toggle_maximised(None), QtGui.QKeySequence("Ctrl+3"))
        view.addAction("Reset zoom and pan", lambda: self.state.reset_view(), QtGui.QKeySequence("Ctrl+0"))
        view.addAction("Play / pause &cine", self.toggle_cine, QtGui.QKeySequence("Ctrl+P"))
        view.addAction("Reset &planes (axial, coronal, sagittal)", lambda: self.state.reset_planes(), QtGui.QKeySequence("Ctrl+R"))
        view.addSeparator()
        hide = view.addAction("Hide &patient information")
        corners = view.addAction("Corner &annotations")
        assert hide is not None and corners is not None
        hide.toggled.connect(lambda on: self.state.set_annotations(anonymize=on))
        corners.toggled.connect(lambda on: self.state.set_annotations(visible=on))
        hide.setShortcut(QtGui.QKeySequence("Ctrl+H"))
        hide.setCheckable(True)
        hide.setChecked(self.state.annotations.anonymize)
        corners.setShortcut(QtGui.QKeySequence("Ctrl+Shift+H"))
        corners.setCheckable(True)
        corners.setChecked(self.state.annotations.visible)
        self.hide_phi_action, self.corners_action = hide, corners
        measure = self._menu("&Measure")
        tool_keys = ((MeasureTool.NONE, "Esc"), (MeasureTool.RULER, "M"), (MeasureTool.ANGLE, "Shift+M"), (MeasureTool.ELLIPSE, "E"), (MeasureTool.SPHERE, "S"))
        for tool, key in tool_keys:
            text = "Pointer (crosshair)" if tool is MeasureTool.NONE else f"{tool.value.capitalize()}"
            measure.addAction(text, lambda t=tool: self.state.set_measure_tool(t), QtGui.QKeySequence(key))
        measure.addSeparator()
        measure.addAction("Export measurements as JSON...", lambda: self.export_measurements_dialog("json"))
        measure.addAction("Export measurements as CSV...", lambda: self.export_measurements_dialog("csv"))
        help_menu = self._menu("&Help")
        help_menu.addAction("&Keyboard shortcuts", self.show_shortcuts, QtGui.QKeySequence("F1"))

    def _build_docks(self) -> None:
        state = self.state
        self.series_panel = SeriesPanel(state, lambda uid: self.open_path(self.state.path or "", series=uid), anonymize=self.anonymize)
        self.wl_panel = WindowLevelPanel(state)
        self.slab_panel = SlabPanel(state)
        self.vr_panel = VolumeRenderingPanel(state)
        self.surface_panel = SurfacePanel(state, self.add_surface, self.export_surface_dialog)
        self.frames_panel = FramesPanel(state, self.model.frame_text)
        self.measurement_panel = MeasurementPanel(state, self.export_measurements_dialog, self.show_error)
        self.segment_panel = SegmentEditorPanel(
            state,
            open_segmentation=self.open_segmentation_dialog,
            save_segmentation=self.save_segmentation_dialog,
            export_meshes=self.export_segments_dialog,
            error=self.show_error,
        )
        bottom, right = _Qt.DockWidgetArea.BottomDockWidgetArea, _Qt.DockWidgetArea.RightDockWidgetArea
        left = _Qt.DockWidgetArea.LeftDockWidgetArea
        self.series_dock = self._dock("Series", self.series_panel, left)  # a side panel: View > Series browser (Ctrl+B) hides it
        display = QtWidgets.QWidget()  # window/level and slab share one dock, as before
        column = QtWidgets.QVBoxLayout(display)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.wl_panel)
        column.addWidget(self.slab_panel)
        self._dock("Window / level", display, right)
        self._dock("Volume rendering", self.vr_panel, right)
        surfaces_dock = self._dock("Surfaces", self.surface_panel, right)
        self.segment_dock = self._dock("Segment Editor", self.segment_panel, right)
        self.tabifyDockWidget(surfaces_dock, self.segment_dock)  # a tab next to Surfaces
        surfaces_dock.raise_()
        self.measurement_dock = self._dock("Measurements", self.measurement_panel, right)
        self.tabifyDockWidget(surfaces_dock, self.measurement_dock)
        # the 3D view: standard views, background, slice planes, crop box, opacity points (a tab next to Surfaces)
        self.view3d_panel = View3DPanel(state, self.show_error)
        self.view3d_dock = self._dock("3D view", self.view3d_panel, right)
        self.tabifyDockWidget(surfaces_dock, self.view3d_dock)
        self.view3d_controls = View3DControls(
            state, self.view3d, scene=lambda: self.scene, actors=lambda: list(self.segment_actors.values()), render=self._render_3d, parent=self
        )
        surfaces_dock.raise_()
        self.frames_dock = self._dock("Cine", self.frames_panel, bottom)
        self.frames_dock.hide()
        toggle = self.series_dock.toggleViewAction()
        assert toggle is not None
        toggle.setText("&Series browser")
        toggle.setShortcut(QtGui.QKeySequence("Ctrl+B"))
        self.view_menu.addSeparator()
        self.view_menu.addAction(toggle)
        self._restore_settings()

    # ------------------------------------------------------------------ remembered between sessions
    SETTINGS_VERSION = 1
    """Bumped when the docks change so that an old saved arrangement is not applied."""

    @staticmethod
    def settings() -> QtCore.QSettings:
        """The viewer's QSettings (recent paths, window geometry, dock arrangement, layout)."""
        return QtCore.QSettings("vtkdicom_app", "viewer")

    def _restore_settings(self) -> None:
        store = self.settings()
        geometry, arrangement = store.value("window/geometry"), store.value("window/state")
        if isinstance(geometry, QtCore.QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(arrangement, QtCore.QByteArray):
            self.restoreState(arrangement, self.SETTINGS_VERSION)
        layout = store.value("window/layout")
        if isinstance(layout, str):
            try:
                self.state.set_layout(layout)
            except ValueError:  # a layout this version does not know: keep the default
                pass

    def save_settings(self) -> None:
        """Remember the window's size, the docks (shown, where, tabbed) and the layout (on close)."""
        store = self.settings()
        store.setValue("window/geometry", self.saveGeometry())
        store.setValue("window/state", self.saveState(self.SETTINGS_VERSION))
        layout = self.state.layout.layout
        store.setValue("window/layout", (Layout.GRID if layout is Layout.SINGLE else layout).value)  # a maximised view is for now
        store.sync()

    def _dock(self, title: str, widget: QtWidgets.QWidget, area: Any) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _apply_layout(self) -> None:
        for w in (*self.panes.values(), self.view3d):
            self.grid.removeWidget(w)
            w.hide()
        layout, single = self.state.layout.layout, self.state.layout.single_view
        if layout is Layout.SINGLE:
            w = self.view3d if single is None else self.panes[single]
            self.grid.addWidget(w, 0, 0)
            w.show()
        elif layout is Layout.ROW_PLUS_3D:
            for col, p in enumerate(PLANES):
                self.grid.addWidget(self.panes[p], 0, col)
            self.grid.addWidget(self.view3d, 1, 0, 1, 3)
            self.grid.setRowStretch(0, 1)
            self.grid.setRowStretch(1, 2)
        else:
            self.grid.addWidget(self.panes[Plane.AXIAL], 0, 0)
            self.grid.addWidget(self.view3d, 0, 1)
            self.grid.addWidget(self.panes[Plane.CORONAL], 1, 0)
            self.grid.addWidget(self.panes[Plane.SAGITTAL], 1, 1)
            self.grid.setRowStretch(0, 1)
            self.grid.setRowStretch(1, 1)
        if layout is not Layout.SINGLE:
            for w in (*self.panes.values(), self.view3d):
                w.show()

    # ------------------------------------------------------------------ state -> display
    def _on_state(self, event: Event) -> None:
        name = event.name
        if name is StateEvent.VOLUME:
            self._show_volume()
        elif name is StateEvent.FRAME:
            vol = self.state.volume
            if self.scene is not None and vol is not None:
                self.scene.set_frame(vol)
            self.status().showMessage(self.model.frame_text())
            self._render_3d()
        elif name in (StateEvent.SEGMENTATION, StateEvent.SEGMENT, StateEvent.SEGMENT_SURFACE, StateEvent.SEGMENT_OPTIONS):
            self._on_segments(event)
        elif name is StateEvent.CROSSHAIR:
            self.show_status(self.state.crosshair)
        elif name is StateEvent.LAYOUT:
            self._apply_layout()
            self.refresh(render_3d=True)
        elif name is StateEvent.SURFACES:
            self._sync_surface_actors()
        elif name is StateEvent.SURFACE:
            self._show_surface_look(event.key, event.value)
        elif name is StateEvent.VOLUME_LOOK:
            if self.scene is not None:
                look = event.value
                self.scene.set_preset(look.preset, shift=look.shift, opacity_scale=look.opacity)
                self._render_3d()
        elif name is StateEvent.ANNOTATIONS:
            for action, on in ((self.hide_phi_action, event.value.anonymize), (self.corners_action, event.value.visible)):
                action.blockSignals(True)
                action.setChecked(on)
                action.blockSignals(False)
        elif name is StateEvent.RECENT:
            self.settings().setValue("recent", list(self.state.recent))
            self._refresh_recent()
        if name is StateEvent.CROP_BOX:
            self.crop_ijk = self.state.crop_box_ijk()  # what a saved scene records
        self.view3d_controls.on_state(event)  # the 3D view's settings, after the scene and actors above

    def _render_3d(self) -> None:
        if self._initialized and self.view3d.isVisible():
            self.view3d.GetRenderWindow().Render()

    def _show_volume(self) -> None:
        vol = self.state.volume
        assert vol is not None
        self.frames_dock.setVisible(True)  # frames of a 4D series, or any view's slices
        if self.scene is not None:
            self.view3d.GetRenderWindow().RemoveRenderer(self.scene.renderer)
            if self.scene._marker_renderer is not None:
                self.view3d.GetRenderWindow().RemoveRenderer(self.scene._marker_renderer)
        self.surface_actors = []
        self.crop_ijk = None
        self._clear_segment_actors()
        if vol.is_colour:  # colour shows in the slice views; volume rendering needs grey values
            self.scene = None
            self.status().showMessage("colour (RGB) volume: shown in the slice views; no volume rendering or surfaces")
            return
        look = self.state.volume_look
        self.scene = VolumeScene(vol, preset=look.preset, render_window=self.view3d.GetRenderWindow())
        if (look.shift, look.opacity) != (0.0, 1.0):
            self.scene.set_preset(look.preset, shift=look.shift, opacity_scale=look.opacity)
        self.fit_3d_camera()
        self._render_3d()

    def fit_3d_camera(self, margin: float = 0.92) -> None:
        """Zoom the 3D camera so that the volume's eight corners fill the view (a tall study included).

        The view direction stays; the corners' projections reach ``margin`` of the view's
        half width or height, whichever binds.
        """
        if self.scene is None or self.state.volume is None:
            return
        ren = self.scene.renderer
        corners = self.state.volume.corners
        ren.ResetCamera(*np.ravel(np.column_stack([corners.min(axis=0), corners.max(axis=0)])))
        cam = ren.GetActiveCamera()
        for _ in range(3):  # perspective: the projected extent is not linear in the zoom; converge
            extent = 0.0
            for corner in corners:
                ren.SetWorldPoint(float(corner[0]), float(corner[1]), float(corner[2]), 1.0)
                ren.WorldToView()
                x, y, _z = ren.GetViewPoint()
                extent = max(extent, abs(x), abs(y))
            if extent <= 0 or abs(extent - margin) < 0.01:
                break
            cam.Zoom(margin / extent)
        ren.ResetCameraClippingRange()

    def _sync_surface_actors(self) -> None:
        """Actors for the state's surfaces: new ones added, removed ones taken away."""
        if self.scene is None:
            return
        by_surface = {id(s): a for s, a in zip(getattr(self, "_actor_owners", ()), self.surface_actors)}
        actors = []
        for s in self.state.surfaces:
            actor = by_surface.pop(id(s), None)
            if actor is None:
                actor = self.scene.add_surface(s.mesh, color=s.color, opacity=s.opacity)
                actor.SetVisibility(s.visible)
            actors.append(actor)
        for actor in by_surface.values():
            self.scene.renderer.RemoveActor(actor)
            if actor in self.scene.surfaces:
                self.scene.surfaces.remove(actor)
        self.surface_actors = actors
        self._actor_owners = self.state.surfaces
        self._render_3d()

    def _show_surface_look(self, index: int, surface: Surface) -> None:
        if not 0 <= index < len(self.surface_actors):
            return
        actor = self.surface_actors[index]
        actor.GetProperty().SetColor(*surface.color)
        actor.GetProperty().SetOpacity(surface.opacity)
        actor.SetVisibility(surface.visible)
        self._actor_owners = self.state.surfaces
        self._render_3d()

    def refresh(self, *, render_3d: bool = False) -> None:
        """Redraw the visible 2D views from the state (and the 3D view when asked)."""
        for pane in self.panes.values():
            pane.redraw(reslice=True)
        if render_3d:
            self._render_3d()

    # ------------------------------------------------------------------ input -> state (menus, scripts, tests)
    def set_crosshair(self, xyz: Any) -> None:
        """Move the linked crosshair (LPS mm)."""
        if self.state.volume is not None:
            self.state.set_crosshair(xyz)

    def step_slice(self, plane: Plane, n: int) -> None:
        """Step a view's plane by ``n`` true slices (mouse wheel / PageUp / PageDown)."""
        if self.state.volume is not None:
            self.state.step_crosshair(plane, n)

    def set_window(self, window: float, level: float) -> None:
        """Set the display window."""
        if self.state.volume is not None:
            self.state.set_window_level(window, level)

    def set_layout(self, layout: Layout) -> None:
        """2x2, 1x3+3D or a single maximised view."""
        self.state.set_layout(layout, self.state.layout.single_view)

    def toggle_maximised(self, plane: Plane | None) -> None:
        """Double click: maximise a view, or go back to the grid."""
        self.state.toggle_maximised(plane)

    def show_status(self, xyz: Any) -> None:
        """Value under the pointer, voxel index, LPS position (and the frame of a sequence)."""
        frame = self.model.frame_text()
        self.status().showMessage(self.model.status_text(xyz) + (f" | {frame}" if frame else ""))

    def _end_3d_interaction(self) -> None:
        if self.scene is not None:
            self.scene.interactive(False)
            self._render_3d()

    # ------------------------------------------------------------------ opening
    def open_folder_dialog(self) -> None:
        """File > Open folder."""
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if path:
            self.open_path(path)

    def open_file_dialog(self) -> None:
        """File > Open file or DICOMDIR."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a DICOM file or DICOMDIR")
        if path:
            self.open_path(path)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent | None) -> None:  # noqa: N802 - Qt API
        """Accept dragged files and folders."""
        data = None if event is None else event.mimeData()
        if event is not None and data is not None and data.hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent | None) -> None:  # noqa: N802 - Qt API
        """Open the first dropped file or folder."""
        data = None if event is None else event.mimeData()
        urls = [] if data is None else data.urls()
        if urls:
            self.open_path(urls[0].toLocalFile())

    def open_path(self, path: str, series: str | None = None, *, then: Callable[[Any], None] | None = None) -> Worker:
        """Scan (once) and load a path in a worker, with a progress dialog and Cancel.

        The worker returns an :class:`~vtkdicom_app.app.model.OpenResult`; the GUI thread
        applies it to the state, then calls ``then(result)`` (connected before the worker starts).
        """
        model = self.model

        def done(result: OpenResult) -> None:
            model.apply_open(result)
            vol = result.volume
            self.status().showMessage(f"loaded {vol.shape[2]}x{vol.shape[1]}x{vol.shape[0]} from {path}")
            if vol.warnings:
                self.status().showMessage("warnings: " + "; ".join(vol.warnings)[:300])

        return self.run_in_worker(
            f"Loading {os.path.basename(path.rstrip('/')) or path}",
            lambda progress: model.open(path, series=series, progress=progress),
            done,
            then=then,
        )

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.state.recent:
            self.recent_menu.addAction(p, lambda p=p: self.open_path(p))

    # ------------------------------------------------------------------ workers
    def run_in_worker(
        self,
        title: str,
        fn: Callable[[Callable[[int, int, str], None]], Any],
        done: Callable[[Any], None],
        *,
        then: Callable[[Any], None] | None = None,
    ) -> Worker:
        """Run ``fn(progress)`` in a thread; ``done(result)``, then ``then(result)``, on the GUI thread."""
        worker = Worker(fn, self)
        dialog = QtWidgets.QProgressDialog(title, "Cancel", 0, 100, self)
        dialog.setWindowModality(_Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.canceled.connect(worker.cancel)

        def progressed(done: int, total: int, stage: str) -> None:
            dialog.setLabelText(f"{title}: {stage}")
            dialog.setValue(int(100 * done / max(total, 1)))

        worker.progressed.connect(progressed)
        worker.succeeded.connect(done)
        if then is not None:
            worker.succeeded.connect(then)  # connected before start: a fast worker cannot finish first
        worker.failed.connect(self.show_error)
        worker.cancelled.connect(lambda: self.status().showMessage(f"{title}: cancelled"))
        worker.finished.connect(dialog.reset)
        self.worker, self.progress_dialog = worker, dialog
        worker.start()
        return worker

    def show_error(self, message: str) -> None:
        """Show a library error in a dialog (and keep it for tests)."""
        self.last_error = message
        log.error("%s", message)
        self.status().showMessage(f"error: {message}"[:300])
        if self.error_dialogs:
            box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Critical, "vtkdicom_app", message, parent=self)
            box.setObjectName("error_dialog")
            box.open()
            self.error_box = box

    # ------------------------------------------------------------------ scenes
    def open_scene(self, scene: Mapping[str, Any] | str | os.PathLike[str], path: str | None = None) -> Worker | None:
        """Open a scene (a dict or a scene file): load its source and series in a worker, then apply it.

        ``path`` opens another folder than the scene's (the data moved). A scene that cannot
        be read, or whose source is gone, is shown as an error and nothing changes.
        """
        from vtkdicom_app.scene import SceneError, load_scene, scene_source, validate_scene

        try:
            data = load_scene(scene) if isinstance(scene, (str, os.PathLike)) else validate_scene(scene)
            source = scene_source(data, path)
        except SceneError as exc:
            self.show_error(str(exc))
            return None

        def then(_result: Any) -> None:
            self.apply_scene(data)

        return self.open_path(source, series=data["source"]["series_uid"], then=then)

    def apply_scene(self, scene: Mapping[str, Any]) -> Worker | None:
        """Apply a scene to the loaded series (:func:`~vtkdicom_app.scene.apply_scene`).

        Its surfaces are extracted in a worker (``self.scene_worker``, returned) and added in
        their order; the crop box goes to the volume rendering.
        """
        from vtkdicom_app.scene import apply_scene

        vol = self.state.volume
        if vol is None:
            self.show_error("load the scene's series first")
            return None
        try:
            applied = apply_scene(self.state, scene, measurements=self.state.measurements, extract_surfaces=False)
        except VtkDicomError as exc:
            self.show_error(str(exc))
            return None
        self.crop_ijk = applied.crop_ijk
        if self.scene is not None:
            self.scene.set_cropping(applied.crop_ijk)
        self.state.set_crop_box_ijk(applied.crop_ijk)  # the crop box of the 3D view (LPS), its widget and the surfaces
        self.refresh(render_3d=True)
        pending = applied.pending_surfaces
        if not pending or self.scene is None:
            self.scene_worker = None
            return None

        def extract(progress: Callable[[int, int, str], None]) -> tuple[Surface, ...]:
            return tuple(spec.extract(vol, progress=progress) for spec in pending)

        def add(surfaces: tuple[Surface, ...]) -> None:
            if self.state.volume is vol:  # dropped when another volume was opened meanwhile
                for surface in surfaces:
                    self.state.add_surface(surface)

        self.scene_worker = self.run_in_worker("Making the scene's surfaces", extract, add)
        return self.scene_worker

    def wait_scene(self, timeout_s: float = 120.0) -> None:
        """Process events until the scene's surfaces were added (scripts, tests, screenshots)."""
        if self.scene_worker is not None:
            wait_for(self.scene_worker, timeout_s)

    def scene_dict(self) -> dict[str, Any]:
        """The scene of what the viewer shows (:func:`~vtkdicom_app.scene.scene_from_state`)."""
        from vtkdicom_app.scene import scene_from_state

        return scene_from_state(self.state, self.state.measurements, crop_ijk=self.crop_ijk)

    def save_scene(self, path: str) -> dict[str, Any] | None:
        """Write the scene (no PHI) as JSON, atomically; what was written, or None after an error dialog."""
        from vtkdicom_app.scene import save_scene

        try:
            written = save_scene(path, self.scene_dict())
        except (VtkDicomError, OSError) as exc:
            self.show_error(str(exc))
            return None
        self.status().showMessage(f"wrote scene {path}")
        return written

    def open_scene_dialog(self) -> None:
        """File > Open scene."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a scene", "", SCENE_FILES)
        if path:
            self.open_scene(path)

    def save_scene_dialog(self) -> None:
        """File > Save scene."""
        if self.state.volume is None:
            self.show_error("load a series first: a scene records what is shown")
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save the scene", "scene.json", SCENE_FILES)
        if path:
            self.save_scene(path)

    # ------------------------------------------------------------------ measurements
    def export_measurements(self, path: str) -> bool:
        """Write the measurements with their values: ``.json`` or ``.csv`` (by the name), atomically."""
        vol = self.state.volume
        try:
            if path.lower().endswith(".csv"):
                self.state.measurements.export_csv(path, vol)
            else:
                self.state.measurements.export_json(path, vol)
        except (VtkDicomError, OSError, ValueError) as exc:
            self.show_error(str(exc))
            return False
        self.status().showMessage(f"wrote {len(self.state.measurements)} measurement(s) to {path}")
        return True

    def export_measurements_dialog(self, kind: str = "json") -> None:
        """Measure > Export (and the Measurements dock's buttons)."""
        name, pattern = ("measurements.csv", "CSV (*.csv)") if kind == "csv" else ("measurements.json", "JSON (*.json)")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export measurements", name, pattern)
        if path:
            self.export_measurements(path)

    # ------------------------------------------------------------------ movies
    def _movie_progress(self, title: str, total: int) -> QtWidgets.QProgressDialog:
        dialog = QtWidgets.QProgressDialog(title, "Cancel", 0, total, self)
        dialog.setWindowModality(_Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        return dialog

    def record_turntable(self, path: str, n_frames: int = 72, *, fps: float | None = None, degrees: float = 360.0) -> Worker | None:
        """Record the 3D view turning about the patient's superior axis as MP4 or GIF.

        The frames are rendered here on the GUI thread, one by one, with the event loop kept
        running (a progress dialog with Cancel); the encoding runs in a worker (returned).
        Nothing is written when cancelled.
        """
        from vtkdicom_app.rendering.movie import DEFAULT_FPS, MovieFormat

        if self.scene is None:
            self.show_error("load a grey-value series first: the turntable is of the 3D view")
            return None
        try:
            MovieFormat.from_path(path)
        except ValueError as exc:
            self.show_error(str(exc))
            return None
        if isinstance(n_frames, bool) or int(n_frames) < 1:
            self.show_error(f"a turntable needs at least one frame, got {n_frames}")
            return None
        scene = self.scene
        cam = scene.renderer.GetActiveCamera()
        saved = (cam.GetPosition(), cam.GetFocalPoint(), cam.GetViewUp())
        dialog = self._movie_progress("Rendering the turntable", int(n_frames))
        frames: list[np.ndarray] = []
        try:
            for i in range(int(n_frames)):
                if dialog.wasCanceled():
                    self.status().showMessage("turntable: cancelled")
                    return None
                frames.extend(scene.orbit(1, degrees=degrees / int(n_frames)))
                dialog.setValue(i + 1)
                QtWidgets.QApplication.processEvents()
        finally:
            cam.SetPosition(*saved[0])
            cam.SetFocalPoint(*saved[1])
            cam.SetViewUp(*saved[2])
            scene.renderer.ResetCameraClippingRange()
            dialog.reset()
            self._render_3d()
        return self._encode(frames, path, DEFAULT_FPS if fps is None else fps, "turntable")

    def record_cine(self, plane: Plane, path: str, *, fps: float | None = None, step: int = 1) -> Worker | None:
        """Record a slice cine of a view (its slab and window) through the whole volume, as MP4 or GIF, in a worker."""
        from vtkdicom_app.rendering.movie import DEFAULT_FPS, MovieFormat, slice_cine_frames, write_movie

        vol = self.state.volume
        if vol is None:
            self.show_error("load a series first")
            return None
        try:
            MovieFormat.from_path(path)
        except ValueError as exc:
            self.show_error(str(exc))
            return None
        view, wl = self.state.view(plane), self.state.window_level
        point = [float(v) for v in self.state.crosshair]
        rate = DEFAULT_FPS if fps is None else fps

        def record(progress: Callable[[int, int, str], None]) -> Any:
            frames = slice_cine_frames(
                vol, plane, point=point, window_level=wl, step=step, slab_mm=view.slab.thickness_mm, slab_mode=view.slab.mode, progress=progress
            )  # a new Reslicer of the worker's own: no VTK object is shared with the GUI thread
            return write_movie(frames, path, fps=rate)

        return self.run_in_worker("Recording the slice cine", record, self._movie_written)

    def _encode(self, frames: list[np.ndarray], path: str, fps: float, what: str) -> Worker:
        from vtkdicom_app.rendering.movie import write_movie

        return self.run_in_worker(f"Writing the {what}", lambda progress: write_movie(frames, path, fps=fps), self._movie_written)

    def _movie_written(self, info: Any) -> None:
        self.last_movie = info
        self.status().showMessage(f"wrote {info.path}: {info.frames} frames {info.size[0]}x{info.size[1]} {info.format.name}, {info.fps:g} fps")

    def record_turntable_dialog(self) -> None:
        """File > Record turntable."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Record a turntable", "turntable.mp4", MOVIE_FILES)
        if path:
            frames, ok = QtWidgets.QInputDialog.getInt(self, "Turntable", "Frames (one turn):", 72, 1, 3600)
            if ok:
                self.record_turntable(path, frames)

    def record_cine_dialog(self, plane: Plane) -> None:
        """File > Record slice cine."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, f"Record a {plane.value} cine", f"cine_{plane.value}.mp4", MOVIE_FILES)
        if path:
            self.record_cine(plane, path)

    # ------------------------------------------------------------------ help
    def shortcuts(self) -> list[tuple[str, str]]:
        """Every keyboard shortcut of the menus ``(keys, action)``, then the views' mouse and key input."""
        rows: list[tuple[str, str]] = []
        bar = self.menuBar()
        assert bar is not None

        def walk(menu: QtWidgets.QMenu, where: str) -> None:
            for action in menu.actions():
                sub = action.menu()
                if sub is not None:
                    walk(sub, f"{where} > {action.text().replace('&', '')}")
                elif not action.shortcut().isEmpty():
                    rows.append((action.shortcut().toString(QtGui.QKeySequence.SequenceFormat.NativeText), f"{where} > {action.text().replace('&', '')}"))

        for top in bar.actions():
            menu = top.menu()
            if menu is not None:
                walk(menu, top.text().replace("&", ""))
        return rows + list(VIEW_INPUT)

    def toggle_cine(self) -> None:
        """View > Play / pause cine (Ctrl+P): the frames of a 4D series, else the chosen view's slices."""
        if self.state.volume is None:
            self.show_error("load a series first")
            return
        self.state.set_cine(playing=not self.state.cine.playing)

    def show_shortcuts(self) -> QtWidgets.QDialog:
        """Help > Keyboard shortcuts: a table of :meth:`shortcuts`."""
        rows = self.shortcuts()
        table = QtWidgets.QTableWidget(len(rows), 2)
        table.setObjectName("shortcuts_table")
        table.setHorizontalHeaderLabels(["Keys / mouse", "Does"])
        for r, (keys, what) in enumerate(rows):
            table.setItem(r, 0, QtWidgets.QTableWidgetItem(keys))
            table.setItem(r, 1, QtWidgets.QTableWidgetItem(what))
        table.resizeColumnsToContents()
        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        QtWidgets.QVBoxLayout(dialog).addWidget(table)
        dialog.resize(640, 520)
        dialog.show()
        self.shortcuts_dialog = dialog
        return dialog

    # ------------------------------------------------------------------ surfaces
    def add_surface(self, *, preset: str | None = None, threshold: float | None = None) -> Worker | None:
        """Extract a surface in a worker (only what the user set is passed on); the GUI thread adds it."""
        vol = self.state.volume
        if vol is None:
            self.show_error("load a series first")
            return None
        if self.scene is None:
            self.show_error("surfaces need a grey-value volume (this one is colour)")
            return None
        model = self.model

        def done(surface: Surface) -> None:
            self.state.add_surface(surface)

        return self.run_in_worker(
            "Extracting a surface",
            lambda progress: model.extract_surface(vol, preset=preset, threshold=threshold, progress=progress),
            done,
        )

    def set_surface_look(self, row: int, *, color: tuple[float, float, float] | None = None, opacity: float | None = None) -> None:
        """Colour and opacity of one surface."""
        self.state.set_surface_look(row, color=color, opacity=opacity)

    def export_surface_dialog(self, row: int | None = None) -> None:
        """Export a surface (the selected one by default) with a file dialog."""
        row = self.surface_panel.list.currentRow() if row is None else row
        if not 0 <= row < len(self.state.surfaces):
            self.show_error("add a surface first")
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export surface", "surface.stl", "Meshes (*.stl *.obj *.ply *.3mf *.vtp)")
        if path:
            self.export_surface(row, path)

    def export_surface(self, row: int, path: str) -> Worker:
        """Write a surface in a worker (the mesh is taken here, on the GUI thread)."""
        mesh = self.state.surfaces[row].mesh
        model = self.model
        return self.run_in_worker(
            "Exporting",
            lambda progress: model.export_mesh(mesh, path),
            lambda report: self.status().showMessage(f"wrote {path}: {report.triangles} triangles, watertight {report.watertight}"),
        )

    # ------------------------------------------------------------------ Segment Editor
    def undo_segmentation(self) -> None:
        """Edit > Undo (Ctrl+Z): the last segmentation step."""
        done = self.state.undo_segmentation()
        self.status().showMessage(f"undone: {done}" if done else "nothing to undo")

    def redo_segmentation(self) -> None:
        """Edit > Redo (Ctrl+Shift+Z)."""
        done = self.state.redo_segmentation()
        self.status().showMessage(f"redone: {done}" if done else "nothing to redo")

    def _show_history(self) -> None:
        model = self.state.segmentation
        self.undo_action.setEnabled(model is not None and model.can_undo)
        self.redo_action.setEnabled(model is not None and model.can_redo)
        self.undo_action.setText(f"&Undo {model.undo_description}" if model is not None and model.can_undo else "&Undo segmentation")
        self.redo_action.setText(f"&Redo {model.redo_description}" if model is not None and model.can_redo else "&Redo segmentation")

    def _on_segments(self, event: Event) -> None:
        name = event.name
        model = self.state.segmentation
        if name is StateEvent.SEGMENTATION:
            self._clear_segment_actors()
            self._show_history()
            if model is not None:
                self._schedule_surfaces(model.segment_ids)
        elif name is StateEvent.SEGMENT:
            kind, sid = event.value.kind, event.value.segment_id
            if kind is EventKind.HISTORY:
                self._show_history()
            elif kind in (EventKind.MASK_CHANGED, EventKind.SEGMENT_ADDED) and sid is not None:
                self._schedule_surfaces([sid])
            elif kind is EventKind.SEGMENT_PROPERTIES and sid is not None:
                self._show_segment_look(sid)
            elif kind is EventKind.SEGMENT_REMOVED and sid is not None:
                self._dirty_surfaces.discard(sid)
                self._remove_segment_actor(sid)
        elif name is StateEvent.SEGMENT_SURFACE:
            self._swap_segment_surface(event.value)
        elif name is StateEvent.SEGMENT_OPTIONS:
            live = event.value.live_surfaces
            if live and model is not None and not self.segment_actors:
                self._schedule_surfaces(model.segment_ids)
            for sid in list(self.segment_actors):
                self._show_segment_look(sid)

    def _schedule_surfaces(self, segment_ids: Any) -> None:
        if self.scene is None or not self.state.segment_options.live_surfaces:
            return
        self._dirty_surfaces.update(segment_ids)
        self._surface_timer.start()  # restarts: the surfaces are made once the edits pause

    def _start_surface_jobs(self) -> None:
        model = self.state.segmentation
        if model is None or self.scene is None:
            self._dirty_surfaces.clear()
            return
        for sid in list(self._dirty_surfaces):
            if sid in self._surface_workers:
                continue  # one job per segment; it is made again when this one ends
            self._dirty_surfaces.discard(sid)
            if sid not in model:
                continue
            job = self.state.segment_surface_job(sid)
            worker = Worker(job.run, self)
            worker.succeeded.connect(self._surface_done)
            worker.failed.connect(lambda message, sid=sid: self.status().showMessage(f"surface of {sid}: {message}"[:300]))
            worker.finished.connect(lambda sid=sid, worker=worker: self._surface_worker_ended(sid, worker))
            self._surface_workers[sid] = worker
            worker.start()

    def _surface_done(self, surface: SegmentSurface) -> None:
        self.state.set_segment_surface(surface)  # dropped when the segment changed meanwhile

    def _surface_worker_ended(self, sid: str, worker: Worker) -> None:
        if self._surface_workers.get(sid) is worker:
            del self._surface_workers[sid]
        worker.deleteLater()
        if sid in self._dirty_surfaces and not self._surface_timer.isActive():
            self._surface_timer.start()

    def surfaces_pending(self) -> bool:
        """Segment surfaces are waiting to be made or being made."""
        return bool(self._dirty_surfaces or self._surface_workers or self._surface_timer.isActive())

    def wait_segment_surfaces(self, timeout_s: float = 60.0) -> None:
        """Process events until every segment surface is up to date (scripts, tests)."""
        start = time.monotonic()
        while self.surfaces_pending() and time.monotonic() - start < timeout_s:
            QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        QtWidgets.QApplication.processEvents()

    def _swap_segment_surface(self, surface: SegmentSurface) -> None:
        """Put a worker's mesh into the segment's actor (the only 3D work on the GUI thread)."""
        sid = surface.segment_id
        if surface.mesh is None or self.scene is None:
            self._remove_segment_actor(sid)
            return
        actor = self.segment_actors.get(sid)
        if actor is None:
            from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

            mapper = vtkPolyDataMapper()
            mapper.ScalarVisibilityOff()
            actor = vtkActor()
            actor.SetMapper(mapper)
            actor.GetProperty().SetSpecular(0.2)
            self.scene.renderer.AddActor(actor)
            self.segment_actors[sid] = actor
        actor_mapper: Any = actor.GetMapper()
        actor_mapper.SetInputData(surface.mesh)
        self._show_segment_look(sid, render=False)
        self.surface_updates += 1
        self._render_3d()

    def _show_segment_look(self, sid: str, *, render: bool = True) -> None:
        actor = self.segment_actors.get(sid)
        model = self.state.segmentation
        if actor is None or model is None or sid not in model:
            return
        seg = model.segment(sid)
        actor.GetProperty().SetColor(*seg.color)
        actor.SetVisibility(bool(seg.visible and self.state.segment_options.live_surfaces))
        if render:
            self._render_3d()

    def _remove_segment_actor(self, sid: str) -> None:
        actor = self.segment_actors.pop(sid, None)
        if actor is not None and self.scene is not None:
            self.scene.renderer.RemoveActor(actor)
            self._render_3d()

    def _clear_segment_actors(self) -> None:
        self._dirty_surfaces.clear()
        for sid in list(self.segment_actors):
            self._remove_segment_actor(sid)
        self.segment_actors = {}

    def open_segmentation(self, path: str) -> Worker | None:
        """Read a segmentation file onto the volume shown, in a worker; the GUI thread shows it."""
        vol = self.state.volume
        if vol is None:
            self.show_error("load a series first: a segmentation is drawn on its volume")
            return None
        model = self.model

        def done(result: Any) -> None:
            try:
                self.state.set_segmentation(result)
            except (VtkDicomError, ValueError) as exc:
                self.show_error(str(exc))
                return
            self.status().showMessage(f"opened {path}: {len(result)} segment(s)")

        return self.run_in_worker("Opening a segmentation", lambda progress: model.load_segmentation(path, vol), done)

    def save_segmentation(self, path: str) -> Worker | None:
        """Write the segmentation (a snapshot taken here) in a worker: ``.seg.nrrd``, ``.nii.gz`` or ``.dcm``."""
        try:
            snapshot = self.model.segmentation_snapshot()
        except ValueError as exc:
            self.show_error(str(exc))
            return None
        model = self.model
        return self.run_in_worker(
            "Saving the segmentation",
            lambda progress: model.save_segmentation(snapshot, path),
            lambda written: self.status().showMessage(f"wrote {written}"),
        )

    def export_segment_meshes(self, path: str) -> Worker | None:
        """Export every segment's surface in a worker: all in one ``.3mf``/``.glb``, or one STL/OBJ/PLY each."""
        try:
            snapshot = self.model.segmentation_snapshot()
        except ValueError as exc:
            self.show_error(str(exc))
            return None
        model = self.model
        return self.run_in_worker(
            "Exporting segment meshes",
            lambda progress: model.export_segments(snapshot, path),
            lambda files: self.status().showMessage("wrote " + ", ".join(str(f) for f in files)),
        )

    def open_segmentation_dialog(self) -> None:
        """File > Open segmentation."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a segmentation", "", SEGMENTATION_FILES)
        if path:
            self.open_segmentation(path)

    def save_segmentation_dialog(self) -> None:
        """File > Save segmentation."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save the segmentation", "segmentation.seg.nrrd", SEGMENTATION_FILES)
        if path:
            self.save_segmentation(path)

    def export_segments_dialog(self) -> None:
        """File > Export segment meshes."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export segment meshes", "segments.3mf", MESH_FILES)
        if path:
            self.export_segment_meshes(path)

    # ------------------------------------------------------------------ screenshots & tags
    def grab_window(self) -> np.ndarray:
        """The whole window as ``(h, w, 3)`` uint8, VTK panes captured from their render windows."""
        QtWidgets.QApplication.processEvents()
        image = self.grab().toImage().convertToFormat(QtGui.QImage.Format_RGB888)
        w, h = image.width(), image.height()
        ptr = image.bits()
        assert ptr is not None
        ptr.setsize(image.byteCount())
        raw = np.frombuffer(cast(bytes, ptr), np.uint8)  # a sized voidptr exposes the buffer protocol
        canvas = raw.reshape(h, image.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()
        ratio = self.devicePixelRatioF()
        for widget in (*self.panes.values(), self.view3d):
            if not widget.isVisible():
                continue
            pixels = grab_render_window(widget.GetRenderWindow())
            gh, gw = pixels.shape[:2]
            top_left = widget.mapTo(self, QtCore.QPoint(0, 0))
            x0, y0 = int(top_left.x() * ratio), int(top_left.y() * ratio)
            hh, ww = min(gh, h - y0), min(gw, w - x0)
            if hh > 0 and ww > 0:
                canvas[y0 : y0 + hh, x0 : x0 + ww] = pixels[:hh, :ww]
        return canvas

    def save_screenshot(self, path: str) -> None:
        """Save the whole window (real pixels of every view) as PNG."""
        from vtkdicom_app.rendering import write_png

        write_png(self.grab_window(), path)

    def save_view_screenshot(self, plane: Plane | None, path: str) -> None:
        """Save one view (a 2D plane, or the 3D view for None) as PNG."""
        from vtkdicom_app.rendering import write_png

        widget = self.view3d if plane is None else self.panes[plane]
        write_png(grab_render_window(widget.GetRenderWindow()), path)

    def view_screenshot_dialog(self, plane: Plane | None) -> None:
        """File > Save screenshot of one view."""
        name = "3d" if plane is None else plane.value
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save view screenshot", f"{name}.png", "PNG (*.png)")
        if path:
            self.save_view_screenshot(plane, path)

    def screenshot_dialog(self) -> None:
        """File > Save screenshot."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save screenshot", "screenshot.png", "PNG (*.png)")
        if path:
            self.save_screenshot(path)

    def show_tags(self) -> None:
        """A table of the DICOM tags of the file of the current axial slice."""
        from vtkdicom_app.io.tags import read_tags

        vol = self.state.volume
        if vol is None or not vol.files:
            self.show_error("load a series first")
            return
        k = int(np.clip(round(float(vol.patient_to_index(self.state.crosshair)[2])), 0, len(vol.files) - 1))
        path = vol.files[k] if len(vol.files) == vol.shape[0] else vol.files[0]
        try:
            rows = read_tags(path)
        except VtkDicomError as exc:
            self.show_error(str(exc))
            return
        table = QtWidgets.QTableWidget(len(rows), 4)
        table.setHorizontalHeaderLabels(["Tag", "Keyword", "VR", "Value"])
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                table.setItem(r, c, QtWidgets.QTableWidgetItem(v))
        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle(os.path.basename(path))
        QtWidgets.QVBoxLayout(dialog).addWidget(table)
        dialog.resize(700, 600)
        dialog.show()
        self.tags_dialog = dialog
