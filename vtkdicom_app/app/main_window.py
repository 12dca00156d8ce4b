"""The Qt viewer: axial, coronal, sagittal and 3D views, linked, with panels.

The widgets compute nothing: input goes to :class:`~vtkdicom_app.app.model.ViewerModel`
and the library; slow work (load, surface, export) runs in a worker thread with a progress
dialog and Cancel; errors are shown in a dialog with the library's message and logged.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Any, Callable

import numpy as np

# The OpenGL and text factories must be registered before any render window is created,
# or QVTKRenderWindowInteractor gets an abstract vtkRenderWindow and crashes on Initialize.
import vtkmodules.vtkRenderingFreeType  # noqa: F401  isort: skip
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  isort: skip
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  isort: skip
from PyQt5 import QtCore, QtGui, QtWidgets
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera, vtkInteractorStyleUser

from vtkdicom_app.app.model import Cancelled, Layout, ViewerModel
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.mpr import Plane, SlabMode
from vtkdicom_app.rendering import VolumeScene, grab_render_window, load_volume_presets
from vtkdicom_app.rendering.slice_view import SliceView

__all__ = ["MainWindow", "Worker"]

log = logging.getLogger(__name__)
PLANES = (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)


class Worker(QtCore.QThread):
    """Runs one function in a thread; reports progress; can be cancelled."""

    progressed = QtCore.pyqtSignal(int, int, str)
    succeeded = QtCore.pyqtSignal(object)
    failed = QtCore.pyqtSignal(str)
    cancelled = QtCore.pyqtSignal()

    def __init__(self, fn: Callable[[Callable[[int, int, str], None]], Any], parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._cancel = False

    def cancel(self) -> None:
        """Ask the work to stop at its next progress report."""
        self._cancel = True

    def _progress(self, done: int, total: int, stage: str) -> None:
        if self._cancel:
            raise Cancelled
        self.progressed.emit(int(done), int(total), str(stage))

    def run(self) -> None:  # noqa: D102 - QThread entry point
        try:
            result = self._fn(self._progress)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # shown in a dialog and logged, never swallowed
            log.error("worker failed: %s\n%s", exc, traceback.format_exc())
            self.failed.emit(str(exc) if isinstance(exc, (VtkDicomError, OSError, ValueError)) else f"{type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(result)


class SlicePane(QVTKRenderWindowInteractor):
    """One 2D view: a SliceView on a Qt-hosted render window with mouse handling."""

    def __init__(self, window: "MainWindow", plane: Plane) -> None:
        super().__init__(window)
        self.main = window
        self.plane = plane
        self.view = SliceView(self.GetRenderWindow())
        style = vtkInteractorStyleUser()
        self._style = style  # keep the Python wrapper (and its observers) alive
        self.SetInteractorStyle(style)
        self._dragging = False
        self._wl_start: tuple[int, int, float, float] | None = None
        self._pan_start: tuple[int, int, float, float] | None = None
        self.zoom = 1.0
        self.pan = (0.0, 0.0)
        for event, handler in (
            ("LeftButtonPressEvent", self._left_press),
            ("LeftButtonReleaseEvent", self._left_release),
            ("MouseMoveEvent", self._move),
            ("MouseWheelForwardEvent", lambda *_: self._wheel(1)),
            ("MouseWheelBackwardEvent", lambda *_: self._wheel(-1)),
            ("MiddleButtonPressEvent", self._middle_press),
            ("MiddleButtonReleaseEvent", self._middle_release),
            ("RightButtonPressEvent", self._right_press),
            ("RightButtonReleaseEvent", self._right_release),
            ("KeyPressEvent", self._key),
        ):
            style.AddObserver(event, handler)

    def patient_at(self, x: int, y: int) -> np.ndarray | None:
        """LPS point under display pixel (x, y), on this view's plane."""
        s = self.view.slice
        if s is None:
            return None
        ren = self.view.renderer
        ren.SetDisplayPoint(float(x), float(y), 0.0)
        ren.DisplayToWorld()
        wx, wy, _wz, w = ren.GetWorldPoint()
        if w:
            wx, wy = wx / w, wy / w
        return s.pixel_to_patient(wy / s.pixel_size[1], wx / s.pixel_size[0])

    def _left_press(self, *_: Any) -> None:
        if self.GetRepeatCount() >= 1:  # double click
            self.main.toggle_maximised(self.plane)
            return
        self._dragging = True
        self._pick()

    def _left_release(self, *_: Any) -> None:
        self._dragging = False

    def _pick(self) -> None:
        x, y = self.GetEventPosition()
        p = self.patient_at(x, y)
        if p is not None:
            self.main.set_crosshair(p)

    def _move(self, *_: Any) -> None:
        x, y = self.GetEventPosition()
        if self._pan_start is not None and self.view.slice is not None:
            x0, y0, px0, py0 = self._pan_start
            cam = self.view.renderer.GetActiveCamera()
            mm_per_px = 2 * cam.GetParallelScale() / max(1, self.GetRenderWindow().GetSize()[1])
            self.pan = (px0 - (x - x0) * mm_per_px, py0 + (y - y0) * mm_per_px)
            self.main.refresh()
            return
        if self._wl_start is not None:
            x0, y0, w0, l0 = self._wl_start
            self.main.set_window(max(1.0, w0 + (x - x0) * 4.0), l0 + (y - y0) * 2.0)
            return
        if self._dragging:
            self._pick()
            return
        p = self.patient_at(x, y)
        if p is not None:
            self.main.show_status(p)

    def _wheel(self, direction: int) -> None:
        """Wheel: next/previous slice; Ctrl+wheel: zoom."""
        if self.GetControlKey():
            self.zoom = float(min(20.0, max(0.2, self.zoom * (1.2 if direction > 0 else 1 / 1.2))))
            self.main.refresh()
        else:
            self.main.step_slice(self.plane, direction)

    def _middle_press(self, *_: Any) -> None:
        x, y = self.GetEventPosition()
        self._pan_start = (x, y, self.pan[0], self.pan[1])

    def _middle_release(self, *_: Any) -> None:
        self._pan_start = None

    def _right_press(self, *_: Any) -> None:
        cur = self.main.model.cursor
        if cur is not None:
            x, y = self.GetEventPosition()
            self._wl_start = (x, y, cur.window, cur.level)

    def _right_release(self, *_: Any) -> None:
        self._wl_start = None

    def _key(self, *_: Any) -> None:
        key = self.GetKeySym()
        if key in ("Prior", "Page_Up", "Up"):
            self.main.step_slice(self.plane, 1)
        elif key in ("Next", "Page_Down", "Down"):
            self.main.step_slice(self.plane, -1)


class MainWindow(QtWidgets.QMainWindow):
    """The vtkdicom_app viewer window."""

    def __init__(self, model: ViewerModel | None = None, *, anonymize: bool = False) -> None:
        super().__init__()
        self.model = model or ViewerModel()
        self.anonymize = anonymize
        self.setWindowTitle("vtkdicom_app")
        self.resize(1200, 860)
        self.setAcceptDrops(True)
        self.worker: Worker | None = None
        self.progress_dialog: QtWidgets.QProgressDialog | None = None
        self.scene: VolumeScene | None = None
        self.last_error: str | None = None
        self.error_dialogs = True
        self.panes = {p: SlicePane(self, p) for p in PLANES}
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
        self.statusBar().showMessage("Open a DICOM folder, file or DICOMDIR (File menu or drag and drop)")
        self._initialized = False

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt API
        """Start the VTK interactors once the native windows exist (next event loop turn)."""
        super().showEvent(event)
        if not self._initialized:
            QtCore.QTimer.singleShot(0, self.init_vtk)

    def init_vtk(self) -> None:
        """Initialise the VTK interactors (after the window is shown and painted)."""
        if self._initialized:
            return
        self._initialized = True
        for w in (*self.panes.values(), self.view3d):
            w.Initialize()
            w.Start()

    # ------------------------------------------------------------------ building
    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        menu.addAction("Open &folder...", self.open_folder_dialog, QtGui.QKeySequence.Open)
        menu.addAction("Open f&ile or DICOMDIR...", self.open_file_dialog)
        self.recent_menu = menu.addMenu("Open &recent")
        menu.addSeparator()
        menu.addAction("Save &screenshot...", self.screenshot_dialog)
        views = menu.addMenu("Save screenshot of one &view")
        for plane in PLANES:
            views.addAction(plane.value, lambda p=plane: self.view_screenshot_dialog(p))
        views.addAction("3D", lambda: self.view_screenshot_dialog(None))
        menu.addAction("DICOM &tags of the current slice...", self.show_tags)
        menu.addSeparator()
        menu.addAction("&Quit", self.close, QtGui.QKeySequence.Quit)
        view = self.menuBar().addMenu("&View")
        view.addAction("2 x 2", lambda: self.set_layout(Layout.GRID))
        view.addAction("1 x 3 + 3D", lambda: self.set_layout(Layout.ROW_PLUS_3D))
        view.addAction("3D only", lambda: self.toggle_maximised(None))
        self._refresh_recent()

    def _build_docks(self) -> None:
        # series browser
        self.series_table = QtWidgets.QTableWidget(0, 8)
        self.series_table.setHorizontalHeaderLabels(["Patient", "Study", "Date", "Modality", "Description", "Images", "Shape", "Warnings"])
        self.series_table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.series_table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.series_table.cellDoubleClicked.connect(self._series_chosen)
        self._dock("Series", self.series_table, QtCore.Qt.BottomDockWidgetArea)
        # window / level
        wl = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(wl)
        self.wl_preset = QtWidgets.QComboBox()
        self.wl_preset.addItems(["(header)"] + self.model.window_presets())
        self.wl_preset.activated.connect(self._wl_preset_chosen)
        self.window_spin = QtWidgets.QDoubleSpinBox(maximum=1e5, minimum=1.0, decimals=0)
        self.level_spin = QtWidgets.QDoubleSpinBox(maximum=1e5, minimum=-1e5, decimals=0)
        self.window_spin.editingFinished.connect(lambda: self.set_window(self.window_spin.value(), self.level_spin.value()))
        self.level_spin.editingFinished.connect(lambda: self.set_window(self.window_spin.value(), self.level_spin.value()))
        self.slab_spin = QtWidgets.QDoubleSpinBox(maximum=200.0, minimum=0.0, decimals=1, suffix=" mm")
        self.slab_mode = QtWidgets.QComboBox()
        self.slab_mode.addItems(["mip", "minip", "mean"])
        self.slab_spin.editingFinished.connect(self._slab_changed)
        self.slab_mode.activated.connect(self._slab_changed)
        form.addRow("Preset", self.wl_preset)
        form.addRow("Window", self.window_spin)
        form.addRow("Level", self.level_spin)
        form.addRow("Slab", self.slab_spin)
        form.addRow("Slab mode", self.slab_mode)
        self._dock("Window / level", wl, QtCore.Qt.RightDockWidgetArea)
        # volume rendering
        vr = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(vr)
        self.vr_preset = QtWidgets.QComboBox()
        self.vr_preset.addItems(list(load_volume_presets()))
        self.vr_preset.activated.connect(self._volume_preset_changed)
        self.vr_shift = QtWidgets.QSlider(QtCore.Qt.Horizontal, minimum=-1000, maximum=1000, value=0)
        self.vr_opacity = QtWidgets.QSlider(QtCore.Qt.Horizontal, minimum=0, maximum=300, value=100)
        self.vr_shift.sliderReleased.connect(self._volume_preset_changed)
        self.vr_opacity.sliderReleased.connect(self._volume_preset_changed)
        form.addRow("Preset", self.vr_preset)
        form.addRow("Shift", self.vr_shift)
        form.addRow("Opacity", self.vr_opacity)
        self._dock("Volume rendering", vr, QtCore.Qt.RightDockWidgetArea)
        # surfaces
        sf = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(sf)
        row = QtWidgets.QHBoxLayout()
        self.surface_preset = QtWidgets.QComboBox()
        self.surface_preset.addItems(self.model.surface_presets())
        add = QtWidgets.QPushButton("Add")
        add.clicked.connect(lambda: self.add_surface(preset=self.surface_preset.currentText()))
        row.addWidget(self.surface_preset)
        row.addWidget(add)
        box.addLayout(row)
        row2 = QtWidgets.QHBoxLayout()
        self.surface_threshold = QtWidgets.QDoubleSpinBox(minimum=-5000.0, maximum=50000.0, value=300.0, decimals=0)
        add_threshold = QtWidgets.QPushButton("Add threshold")
        add_threshold.clicked.connect(lambda: self.add_surface(threshold=self.surface_threshold.value()))
        row2.addWidget(self.surface_threshold)
        row2.addWidget(add_threshold)
        box.addLayout(row2)
        row3 = QtWidgets.QHBoxLayout()
        colour = QtWidgets.QPushButton("Colour...")
        colour.clicked.connect(self._surface_colour_dialog)
        self.surface_opacity = QtWidgets.QSlider(QtCore.Qt.Horizontal, minimum=5, maximum=100, value=100)
        self.surface_opacity.valueChanged.connect(lambda v: self.set_surface_look(self.surface_list.currentRow(), opacity=v / 100.0))
        row3.addWidget(colour)
        row3.addWidget(QtWidgets.QLabel("Opacity"))
        row3.addWidget(self.surface_opacity)
        box.addLayout(row3)
        self.surface_list = QtWidgets.QListWidget()
        self.surface_list.itemChanged.connect(self._surface_toggled)
        box.addWidget(self.surface_list)
        self.surface_report = QtWidgets.QLabel("")
        self.surface_report.setWordWrap(True)
        box.addWidget(self.surface_report)
        self.surface_list.currentRowChanged.connect(self._surface_selected)
        export = QtWidgets.QPushButton("Export...")
        export.clicked.connect(self.export_surface_dialog)
        box.addWidget(export)
        self._dock("Surfaces", sf, QtCore.Qt.RightDockWidgetArea)
        self._build_frames_dock()

    def _build_frames_dock(self) -> None:
        box = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(box)
        self.play_button = QtWidgets.QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._play_toggled)
        self.frame_slider = QtWidgets.QSlider(QtCore.Qt.Horizontal, minimum=0, maximum=0)
        self.frame_slider.valueChanged.connect(self.set_frame)
        self.fps_spin = QtWidgets.QDoubleSpinBox(minimum=0.5, maximum=60.0, value=8.0, suffix=" fps")
        self.fps_spin.valueChanged.connect(lambda v: self.play_timer.setInterval(int(1000 / v)))
        self.frame_label = QtWidgets.QLabel("")
        for w in (self.play_button, self.frame_slider, self.fps_spin, self.frame_label):
            row.addWidget(w)
        self.play_timer = QtCore.QTimer(self)
        self.play_timer.setInterval(125)
        self.play_timer.timeout.connect(lambda: self.frame_slider.setValue((self.frame_slider.value() + 1) % (self.frame_slider.maximum() + 1)))
        self.frames_dock = QtWidgets.QDockWidget("Frames", self)
        self.frames_dock.setObjectName("Frames")
        self.frames_dock.setWidget(box)
        self.addDockWidget(QtCore.Qt.BottomDockWidgetArea, self.frames_dock)
        self.frames_dock.hide()

    def _setup_frames(self) -> None:
        seq = self.model.sequence
        self.play_button.setChecked(False)
        if seq is None:
            self.frames_dock.hide()
            return
        self.frame_slider.blockSignals(True)
        self.frame_slider.setRange(0, len(seq) - 1)
        self.frame_slider.setValue(0)
        self.frame_slider.blockSignals(False)
        self.frame_label.setText(self.model.frame_text())
        self.frames_dock.show()

    def set_frame(self, n: int) -> None:
        """Frame slider / play: show frame n; crosshair and window stay put."""
        if self.model.sequence is None:
            return
        vol = self.model.set_frame(n)
        if self.scene is not None:
            self.scene.set_frame(vol)
        self.frame_label.setText(self.model.frame_text())
        self.statusBar().showMessage(self.model.frame_text())
        self.refresh(render_3d=True)

    def _play_toggled(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if on:
            self.play_timer.start()
        else:
            self.play_timer.stop()

    def _dock(self, title: str, widget: QtWidgets.QWidget, area: Any) -> None:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)

    def _apply_layout(self) -> None:
        for w in (*self.panes.values(), self.view3d):
            self.grid.removeWidget(w)
            w.hide()
        layout, single = self.model.layout, self.model.single_view
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

    def set_layout(self, layout: Layout) -> None:
        """2x2, 1x3+3D or a single maximised view."""
        self.model.layout = layout
        self._apply_layout()
        self.refresh(render_3d=True)

    def toggle_maximised(self, plane: Plane | None) -> None:
        """Double click: maximise a view, or go back to the grid."""
        if self.model.layout is Layout.SINGLE:
            self.model.layout = Layout.GRID
        else:
            self.model.layout = Layout.SINGLE
            self.model.single_view = plane
        self._apply_layout()
        self.refresh(render_3d=True)

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

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802 - Qt API
        urls = event.mimeData().urls()
        if urls:
            self.open_path(urls[0].toLocalFile())

    def open_path(self, path: str, series: str | None = None) -> Worker:
        """Scan and load a path in a worker, with a progress dialog and Cancel."""
        def work(progress: Callable[[int, int, str], None]) -> Any:
            # the worker only reads: one scan, then the load from it; the GUI thread applies the result
            infos = self.model.scan_only(path, progress=progress)
            vol, seq = self.model.load_any(infos, series=series, progress=progress, infos=infos)
            return infos, vol, seq

        def done(result: Any) -> None:
            infos, vol, seq = result
            self.model.series = list(infos)
            self.model.set_volume(vol, path)
            self.model.sequence = seq
            self._setup_frames()
            self._fill_series(infos)
            self._refresh_recent()
            self._show_volume()
            self.statusBar().showMessage(f"loaded {vol.shape[2]}x{vol.shape[1]}x{vol.shape[0]} from {path}")
            if vol.warnings:
                self.statusBar().showMessage("warnings: " + "; ".join(vol.warnings)[:300])

        return self.run_in_worker(f"Loading {os.path.basename(path.rstrip('/')) or path}", work, done)

    def _series_chosen(self, row: int, _col: int) -> None:
        if 0 <= row < len(self.model.series) and self.model.path:
            self.open_path(self.model.path, series=self.model.series[row].uid)

    def _fill_series(self, infos: list[Any]) -> None:
        self.series_table.setRowCount(len(infos))
        for r, s in enumerate(infos):
            values = [
                "(anonymized)" if self.anonymize else s.patient_name,
                s.study_description,
                s.study_date,
                s.modality,
                s.description + (f" [{s.n_frames} frames along {s.fourth_axis}]" if s.fourth_axis else ""),
                str(s.n_files),
                "x".join(map(str, s.shape)),
                "; ".join(s.warnings)[:200],
            ]
            for c, v in enumerate(values):
                self.series_table.setItem(r, c, QtWidgets.QTableWidgetItem(v))

    def _refresh_recent(self) -> None:
        settings = QtCore.QSettings("vtkdicom_app", "viewer")
        if self.model.recent:
            settings.setValue("recent", self.model.recent)
        else:
            stored = settings.value("recent", []) or []
            self.model.recent = [str(p) for p in (stored if isinstance(stored, list) else [stored]) if p]
        self.recent_menu.clear()
        for p in self.model.recent:
            self.recent_menu.addAction(p, lambda p=p: self.open_path(p))

    # ------------------------------------------------------------------ workers
    def run_in_worker(self, title: str, fn: Callable[[Callable[[int, int, str], None]], Any], done: Callable[[Any], None]) -> Worker:
        """Run ``fn(progress)`` in a thread; ``done(result)`` on the GUI thread."""
        worker = Worker(fn, self)
        dialog = QtWidgets.QProgressDialog(title, "Cancel", 0, 100, self)
        dialog.setWindowModality(QtCore.Qt.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.canceled.connect(worker.cancel)
        worker.progressed.connect(lambda d, t, s: (dialog.setLabelText(f"{title}: {s}"), dialog.setValue(int(100 * d / max(t, 1)))))
        worker.succeeded.connect(done)
        worker.failed.connect(self.show_error)
        worker.cancelled.connect(lambda: self.statusBar().showMessage(f"{title}: cancelled"))
        worker.finished.connect(dialog.reset)
        self.worker, self.progress_dialog = worker, dialog
        worker.start()
        return worker

    def show_error(self, message: str) -> None:
        """Show a library error in a dialog (and keep it for tests)."""
        self.last_error = message
        log.error("%s", message)
        self.statusBar().showMessage(f"error: {message}"[:300])
        if self.error_dialogs:
            box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Critical, "vtkdicom_app", message, parent=self)
            box.setObjectName("error_dialog")
            box.open()
            self.error_box = box

    # ------------------------------------------------------------------ display
    def _show_volume(self) -> None:
        vol = self.model.vol
        assert vol is not None
        if self.scene is not None:
            self.view3d.GetRenderWindow().RemoveRenderer(self.scene.renderer)
            if self.scene._marker_renderer is not None:
                self.view3d.GetRenderWindow().RemoveRenderer(self.scene._marker_renderer)
        if vol.is_colour:  # colour shows in the slice views; volume rendering needs grey values
            self.scene = None
            self.surface_list.clear()
            self.refresh(render_3d=False)
            self.statusBar().showMessage("colour (RGB) volume: shown in the slice views; no volume rendering or surfaces")
            return
        self.scene = VolumeScene(vol, preset=self.model.volume_preset, render_window=self.view3d.GetRenderWindow())
        idx = self.vr_preset.findText(self.model.volume_preset)
        if idx >= 0:
            self.vr_preset.setCurrentIndex(idx)
        self.surface_list.clear()
        self.refresh(render_3d=True)

    def refresh(self, *, render_3d: bool = False) -> None:
        """Redraw the visible 2D views from the model (and the 3D view when asked).

        The crosshair, slice and window do not change the 3D view, so dragging only
        re-renders the three slice panes.
        """
        cur = self.model.cursor
        if cur is None:
            return
        self.window_spin.setValue(cur.window)
        self.level_spin.setValue(cur.level)
        for plane, pane in self.panes.items():
            if pane.isVisible():
                pane.view.show(cur.slice(plane), window=cur.window, level=cur.level, invert=cur.invert, crosshair=cur.point, zoom=pane.zoom, pan=pane.pan)
                pane.GetRenderWindow().Render()
        if render_3d and self.view3d.isVisible():
            self.view3d.GetRenderWindow().Render()

    def set_crosshair(self, xyz: Any) -> None:
        """Move the linked crosshair (clicks and drags in a 2D view)."""
        if self.model.cursor is None:
            return
        self.model.cursor.set_point(xyz)
        self.show_status(xyz)
        self.refresh()

    def step_slice(self, plane: Plane, n: int) -> None:
        """Mouse wheel / PageUp / PageDown in a 2D view."""
        if self.model.cursor is None:
            return
        self.model.cursor.step(plane, n)
        self.show_status(self.model.cursor.point)
        self.refresh()

    def set_window(self, window: float, level: float) -> None:
        """Right-drag, the spin boxes or a preset."""
        if self.model.cursor is None:
            return
        self.model.cursor.set_window(window, level)
        self.refresh()

    def show_status(self, xyz: Any) -> None:
        """Value under the pointer, voxel index, LPS position (and the frame of a sequence)."""
        frame = self.model.frame_text()
        self.statusBar().showMessage(self.model.status_text(xyz) + (f" | {frame}" if frame else ""))

    def _wl_preset_chosen(self, index: int) -> None:
        cur = self.model.cursor
        if cur is None:
            return
        name = self.wl_preset.itemText(index)
        if name == "(header)":
            cur.reset_window()
            self.refresh()
        else:
            cur.apply_preset(name)
            self.refresh()

    def _slab_changed(self, *_: Any) -> None:
        self.model.set_slab(self.slab_spin.value(), SlabMode(self.slab_mode.currentText()))
        self.refresh()

    def _volume_preset_changed(self, *_: Any) -> None:
        if self.scene is None:
            return
        self.model.volume_preset = self.vr_preset.currentText()
        self.model.volume_shift = float(self.vr_shift.value())
        self.model.volume_opacity = self.vr_opacity.value() / 100.0
        self.scene.set_preset(self.model.volume_preset, shift=self.model.volume_shift, opacity_scale=self.model.volume_opacity)
        self.view3d.GetRenderWindow().Render()

    def _end_3d_interaction(self) -> None:
        if self.scene is not None:
            self.scene.interactive(False)
            self.view3d.GetRenderWindow().Render()

    # ------------------------------------------------------------------ surfaces
    def add_surface(self, *, preset: str | None = None, threshold: float | None = None) -> Worker | None:
        """Extract a surface in a worker and show it in the 3D view."""
        if self.model.vol is None:
            self.show_error("load a series first")
            return None

        def done(surface: Any) -> None:
            assert self.scene is not None
            surface.actor = self.scene.add_surface(surface.mesh, color=surface.color, opacity=surface.opacity)
            item = QtWidgets.QListWidgetItem(f"{surface.name}: {surface.report.triangles} triangles")
            item.setFlags(item.flags() | QtCore.Qt.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.Checked)
            self.surface_list.addItem(item)
            self.surface_list.setCurrentRow(self.surface_list.count() - 1)
            self.view3d.GetRenderWindow().Render()

        return self.run_in_worker("Extracting a surface", lambda progress: self.model.add_surface(preset=preset, threshold=threshold, progress=progress), done)

    def _surface_toggled(self, item: QtWidgets.QListWidgetItem) -> None:
        row = self.surface_list.row(item)
        if 0 <= row < len(self.model.surfaces):
            s = self.model.surfaces[row]
            s.visible = item.checkState() == QtCore.Qt.Checked
            getattr(s, "actor").SetVisibility(s.visible)
            self.view3d.GetRenderWindow().Render()

    def set_surface_look(self, row: int, *, color: tuple[float, float, float] | None = None, opacity: float | None = None) -> None:
        """Colour and opacity of one surface in the 3D view."""
        if not 0 <= row < len(self.model.surfaces):
            return
        s = self.model.surfaces[row]
        if color is not None:
            s.color = color
        if opacity is not None:
            s.opacity = float(opacity)
        prop = getattr(s, "actor").GetProperty()
        prop.SetColor(*s.color)
        prop.SetOpacity(s.opacity)
        self.view3d.GetRenderWindow().Render()

    def _surface_colour_dialog(self) -> None:
        row = self.surface_list.currentRow()
        if not 0 <= row < len(self.model.surfaces):
            return
        r, g, b = (int(c * 255) for c in self.model.surfaces[row].color)
        chosen = QtWidgets.QColorDialog.getColor(QtGui.QColor(r, g, b), self, "Surface colour")
        if chosen.isValid():
            self.set_surface_look(row, color=(chosen.redF(), chosen.greenF(), chosen.blueF()))

    def _surface_selected(self, row: int) -> None:
        if 0 <= row < len(self.model.surfaces):
            self.surface_report.setText(self.model.surfaces[row].report.summary())

    def export_surface_dialog(self) -> None:
        """Export the selected surface with a file dialog."""
        row = self.surface_list.currentRow()
        if row < 0:
            self.show_error("add a surface first")
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export surface", "surface.stl", "Meshes (*.stl *.obj *.ply *.3mf *.vtp)")
        if path:
            self.export_surface(row, path)

    def export_surface(self, row: int, path: str) -> Worker:
        """Write a surface in a worker."""
        return self.run_in_worker("Exporting", lambda progress: self.model.export_surface(row, path), lambda report: self.statusBar().showMessage(f"wrote {path}: {report.triangles} triangles, watertight {report.watertight}"))

    # ------------------------------------------------------------------ screenshots & tags
    def grab_window(self) -> np.ndarray:
        """The whole window as ``(h, w, 3)`` uint8, VTK panes captured from their render windows."""
        QtWidgets.QApplication.processEvents()
        image = self.grab().toImage().convertToFormat(QtGui.QImage.Format_RGB888)
        w, h = image.width(), image.height()
        ptr = image.bits()
        ptr.setsize(image.byteCount())
        canvas = np.frombuffer(ptr, np.uint8).reshape(h, image.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()
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

        vol, cur = self.model.vol, self.model.cursor
        if vol is None or cur is None or not vol.files:
            self.show_error("load a series first")
            return
        k = int(np.clip(round(float(vol.patient_to_index(cur.point)[2])), 0, len(vol.files) - 1))
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


def wait_for(worker: Worker, timeout_s: float = 120.0) -> None:
    """Process events until a worker finished (for --screenshot and tests)."""
    start = time.monotonic()
    while not worker.isFinished() and time.monotonic() - start < timeout_s:
        QtWidgets.QApplication.processEvents(QtCore.QEventLoop.AllEvents, 50)
    QtWidgets.QApplication.processEvents()
