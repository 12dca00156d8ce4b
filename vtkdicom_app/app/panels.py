"""The viewer's dock panels, one small class each.

Every panel turns its controls into :class:`~vtkdicom_app.viewer_state.ViewerState` calls
and shows the state again when an event says it changed; none keeps a number of its own.
Work that needs a worker thread (extracting or exporting a surface, opening a series) goes
through a callback the main window gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt5 import QtCore, QtGui, QtWidgets

from vtkdicom_app.app.model import ViewerModel
from vtkdicom_app.measurements import MeasurementError, outline
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane, SlabMode
from vtkdicom_app.rendering import load_volume_presets
from vtkdicom_app.viewer_state import CINE_FPS_RANGE, SLAB_MAX_MM, VOLUME_OPACITY_RANGE, VOLUME_SHIFT_RANGE, Event, MeasureTool, StateEvent, ViewerState

__all__ = ["FramesPanel", "MeasurementPanel", "SeriesPanel", "SlabPanel", "SurfacePanel", "VolumeRenderingPanel", "WindowLevelPanel", "listen"]

HEADER_WINDOW = "(header)"
_Qt = QtCore.Qt
_HORIZONTAL = _Qt.Orientation.Horizontal
_CHECKED = _Qt.CheckState.Checked
_UNCHECKED = _Qt.CheckState.Unchecked


def listen(widget: QtCore.QObject, state: ViewerState, callback: Callable[[Event], None]) -> None:
    """Connect ``callback`` to the state's events for as long as ``widget`` lives."""
    state.events.connect(callback)

    def forget(*_: Any) -> None:
        if state.events.is_connected(callback):
            state.events.disconnect(callback)

    widget.destroyed.connect(forget)


def double_spin(lo: float, hi: float, value: float = 0.0, *, decimals: int = 2, suffix: str = "") -> QtWidgets.QDoubleSpinBox:
    """A QDoubleSpinBox with its range, value, decimals and suffix (set in that order)."""
    spin = QtWidgets.QDoubleSpinBox()
    spin.setDecimals(decimals)
    spin.setRange(lo, hi)
    spin.setSuffix(suffix)
    spin.setValue(value)
    return spin


def slider(lo: int, hi: int, value: int) -> QtWidgets.QSlider:
    """A horizontal QSlider with its range and value."""
    widget = QtWidgets.QSlider(_HORIZONTAL)
    widget.setRange(lo, hi)
    widget.setValue(value)
    return widget


class _Panel(QtWidgets.QWidget):
    """A panel listening to the state for the events in ``EVENTS``."""

    EVENTS: frozenset[StateEvent] = frozenset()

    def __init__(self, state: ViewerState, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        listen(self, state, self._on_state)

    def _on_state(self, event: Event) -> None:
        if event.name in self.EVENTS:
            self.show_state(event)

    def show_state(self, event: Event | None = None) -> None:
        """Show the state's values in the controls (without calling back into the state)."""


class SeriesPanel(_Panel):
    """The series browser: the last scan; a double click opens a series."""

    EVENTS = frozenset({StateEvent.SERIES})
    COLUMNS = ("Patient", "Study", "Date", "Modality", "Description", "Images", "Shape", "Warnings")

    def __init__(self, state: ViewerState, open_series: Callable[[str], Any], *, anonymize: bool = False) -> None:
        super().__init__(state)
        self.anonymize = anonymize
        self.table = QtWidgets.QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.cellDoubleClicked.connect(lambda row, _col: self._chosen(row))
        self._open_series = open_series
        column = QtWidgets.QVBoxLayout(self)
        column.addWidget(self.table)
        column.setContentsMargins(0, 0, 0, 0)

    def _chosen(self, row: int) -> None:
        if 0 <= row < len(self.state.series):
            self._open_series(self.state.series[row].uid)

    def show_state(self, event: Event | None = None) -> None:  # noqa: D102
        infos = self.state.series
        self.table.setRowCount(len(infos))
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
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(v))


class WindowLevelPanel(_Panel):
    """Window/level: a preset list and the two numbers."""

    EVENTS = frozenset({StateEvent.WINDOW_LEVEL, StateEvent.VOLUME})

    def __init__(self, state: ViewerState) -> None:
        super().__init__(state)
        form = QtWidgets.QFormLayout(self)
        self.preset = QtWidgets.QComboBox()
        self.preset.addItems([HEADER_WINDOW, *ViewerModel.window_presets()])
        self.preset.activated.connect(self.choose_preset)
        self.window_spin = double_spin(1.0, 1e5, decimals=0)
        self.level_spin = double_spin(-1e5, 1e5, decimals=0)
        self.window_spin.editingFinished.connect(self._typed)
        self.level_spin.editingFinished.connect(self._typed)
        form.addRow("Preset", self.preset)
        form.addRow("Window", self.window_spin)
        form.addRow("Level", self.level_spin)

    def choose_preset(self, index: int) -> None:
        """A preset was picked (index into the list; 0 is the header's window)."""
        if self.state.volume is None:
            return
        name = self.preset.itemText(index)
        if name == HEADER_WINDOW:
            self.state.reset_window_level()
        else:
            self.state.apply_window_preset(name)

    def _typed(self) -> None:
        if self.state.volume is not None:
            self.state.set_window_level(self.window_spin.value(), self.level_spin.value())

    def show_state(self, event: Event | None = None) -> None:  # noqa: D102
        wl = self.state.window_level
        if wl is None:
            return
        for spin, value in ((self.window_spin, wl.window), (self.level_spin, wl.level)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        index = self.preset.findText(wl.name)
        if index >= 0:
            self.preset.setCurrentIndex(index)
        elif wl.name in ("header", "auto"):
            self.preset.setCurrentIndex(0)


class SlabPanel(_Panel):
    """Thick-slab MPR: thickness and mode, for all three views or one of them."""

    EVENTS = frozenset({StateEvent.SLAB, StateEvent.VOLUME})
    MODES = (SlabMode.MIP, SlabMode.MINIP, SlabMode.MEAN)
    ALL_VIEWS = "All views"

    def __init__(self, state: ViewerState) -> None:
        super().__init__(state)
        form = QtWidgets.QFormLayout(self)
        self.view = QtWidgets.QComboBox()
        self.view.addItem(self.ALL_VIEWS, None)
        for plane in ORTHOGONAL_PLANES:
            self.view.addItem(plane.value.capitalize(), plane)
        self.view.activated.connect(lambda *_: self.show_state())
        self.thickness = double_spin(0.0, SLAB_MAX_MM, decimals=1, suffix=" mm")
        self.mode = QtWidgets.QComboBox()
        self.mode.addItems([m.value for m in self.MODES])
        self.thickness.editingFinished.connect(self.apply)
        self.mode.activated.connect(self.apply)
        form.addRow("Slab of", self.view)
        form.addRow("Slab", self.thickness)
        form.addRow("Slab mode", self.mode)

    def target(self) -> Plane | None:
        """The view the controls set (None: all three)."""
        data = self.view.currentData()
        return data if isinstance(data, Plane) else None

    def apply(self, *_: Any) -> None:
        """Send the controls to the state (the chosen view, or all three)."""
        self.state.set_slab(self.thickness.value(), SlabMode(self.mode.currentText()), view=self.target())

    def show_state(self, event: Event | None = None) -> None:  # noqa: D102
        slab = self.state.view(self.target() or Plane.AXIAL).slab
        self.thickness.blockSignals(True)
        self.thickness.setValue(slab.thickness_mm)
        self.thickness.blockSignals(False)
        if slab.mode is not SlabMode.NONE:
            self.mode.setCurrentText(slab.mode.value)


class VolumeRenderingPanel(_Panel):
    """The 3D view's volume rendering: preset, shift, opacity scale."""

    EVENTS = frozenset({StateEvent.VOLUME_LOOK, StateEvent.VOLUME})

    def __init__(self, state: ViewerState) -> None:
        super().__init__(state)
        form = QtWidgets.QFormLayout(self)
        self.preset = QtWidgets.QComboBox()
        self.preset.addItems(list(load_volume_presets()))
        self.preset.activated.connect(self.apply)
        lo, hi = VOLUME_SHIFT_RANGE
        self.shift = slider(int(lo), int(hi), 0)
        lo, hi = VOLUME_OPACITY_RANGE
        self.opacity = slider(int(lo * 100), int(hi * 100), 100)
        self.shift.sliderReleased.connect(self.apply)
        self.opacity.sliderReleased.connect(self.apply)
        form.addRow("Preset", self.preset)
        form.addRow("Shift", self.shift)
        form.addRow("Opacity", self.opacity)

    def apply(self, *_: Any) -> None:
        """Send the controls to the state."""
        self.state.set_volume_look(self.preset.currentText(), shift=float(self.shift.value()), opacity=self.opacity.value() / 100.0)

    def show_state(self, event: Event | None = None) -> None:  # noqa: D102
        look = self.state.volume_look
        for widget in (self.preset, self.shift, self.opacity):
            widget.blockSignals(True)
        self.preset.setCurrentText(look.preset)
        self.shift.setValue(round(look.shift))
        self.opacity.setValue(round(look.opacity * 100))
        for widget in (self.preset, self.shift, self.opacity):
            widget.blockSignals(False)


class SurfacePanel(_Panel):
    """Surfaces: add from a preset or a threshold, colour, opacity, visibility, report, export."""

    EVENTS = frozenset({StateEvent.SURFACES, StateEvent.SURFACE, StateEvent.VOLUME})

    def __init__(self, state: ViewerState, add_surface: Callable[..., Any], export_surface: Callable[[int], Any]) -> None:
        super().__init__(state)
        box = QtWidgets.QVBoxLayout(self)
        row = QtWidgets.QHBoxLayout()
        self.preset = QtWidgets.QComboBox()
        self.preset.addItems(ViewerModel.surface_presets())
        add = QtWidgets.QPushButton("Add")
        add.clicked.connect(lambda: add_surface(preset=self.preset.currentText()))
        row.addWidget(self.preset)
        row.addWidget(add)
        box.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        self.threshold = double_spin(-5000.0, 50000.0, 300.0, decimals=0)
        add_threshold = QtWidgets.QPushButton("Add threshold")
        add_threshold.clicked.connect(lambda: add_surface(threshold=self.threshold.value()))  # the user's threshold
        row.addWidget(self.threshold)
        row.addWidget(add_threshold)
        box.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        colour = QtWidgets.QPushButton("Colour...")
        colour.clicked.connect(self._colour_dialog)
        self.opacity = slider(5, 100, 100)
        self.opacity.valueChanged.connect(self._opacity_moved)
        row.addWidget(colour)
        row.addWidget(QtWidgets.QLabel("Opacity"))
        row.addWidget(self.opacity)
        box.addLayout(row)
        self.list = QtWidgets.QListWidget()
        self.list.itemChanged.connect(self._toggled)
        self.list.currentRowChanged.connect(self._selected)
        box.addWidget(self.list)
        self.report = QtWidgets.QLabel("")
        self.report.setWordWrap(True)
        box.addWidget(self.report)
        export = QtWidgets.QPushButton("Export...")
        export.clicked.connect(lambda: export_surface(self.list.currentRow()))
        box.addWidget(export)

    def _opacity_moved(self, value: int) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.state.surfaces):
            self.state.set_surface_look(row, opacity=value / 100.0)

    def _toggled(self, item: QtWidgets.QListWidgetItem) -> None:
        row = self.list.row(item)
        if 0 <= row < len(self.state.surfaces):
            self.state.set_surface_look(row, visible=item.checkState() == _CHECKED)

    def _colour_dialog(self) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self.state.surfaces):
            return
        r, g, b = (int(c * 255) for c in self.state.surfaces[row].color)
        chosen = QtWidgets.QColorDialog.getColor(QtGui.QColor(r, g, b), self, "Surface colour")
        if chosen.isValid():
            self.state.set_surface_look(row, color=(chosen.redF(), chosen.greenF(), chosen.blueF()))

    def _selected(self, row: int) -> None:
        surfaces = self.state.surfaces
        if 0 <= row < len(surfaces):
            self.report.setText(surfaces[row].report.summary())
            self.opacity.blockSignals(True)
            self.opacity.setValue(round(surfaces[row].opacity * 100))
            self.opacity.blockSignals(False)
        else:
            self.report.setText("")

    def show_state(self, event: Event | None = None) -> None:  # noqa: D102
        surfaces = self.state.surfaces
        self.list.blockSignals(True)
        if event is not None and event.name is StateEvent.SURFACE:
            item = self.list.item(event.key)
            if item is not None:
                item.setCheckState(_CHECKED if event.value.visible else _UNCHECKED)
            self.list.blockSignals(False)
            return
        added = event is not None and event.name is StateEvent.SURFACES and len(surfaces) > self.list.count()
        self.list.clear()
        for s in surfaces:
            item = QtWidgets.QListWidgetItem(f"{s.name}: {s.report.triangles} triangles")
            item.setFlags(item.flags() | _Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(_CHECKED if s.visible else _UNCHECKED)
            self.list.addItem(item)
        self.list.blockSignals(False)
        row = len(surfaces) - 1 if added else min(self.list.currentRow(), len(surfaces) - 1)
        self.list.setCurrentRow(row)
        self._selected(row)


class FramesPanel(_Panel):
    """The cine player: the frames of a 4D series (slider) or one view's slices, play/pause and speed.

    The timer is the panel's only clock: each tick calls :meth:`ViewerState.cine_step`; what
    plays, whether it plays and how fast live in :attr:`ViewerState.cine`.
    """

    EVENTS = frozenset({StateEvent.VOLUME, StateEvent.FRAME, StateEvent.CINE})
    FRAMES = "Frames"

    def __init__(self, state: ViewerState, frame_text: Callable[[], str]) -> None:
        super().__init__(state)
        self._frame_text = frame_text
        row = QtWidgets.QHBoxLayout(self)
        self.target = QtWidgets.QComboBox()
        self.target.addItem(self.FRAMES, None)
        for plane in ORTHOGONAL_PLANES:
            self.target.addItem(plane.value.capitalize(), plane)
        self.target.activated.connect(self._target_chosen)
        self.play_button = QtWidgets.QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(lambda on: self._call(lambda: state.set_cine(playing=on)))
        self.slider = slider(0, 0, 0)
        self.slider.valueChanged.connect(self._slid)
        lo, hi = CINE_FPS_RANGE
        self.fps = double_spin(lo, hi, state.cine.fps, suffix=" fps")
        self.fps.valueChanged.connect(lambda v: self._call(lambda: state.set_cine(fps=v)))
        self.label = QtWidgets.QLabel("")
        for w in (self.target, self.play_button, self.slider, self.fps, self.label):
            row.addWidget(w)
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.show_state()

    def _call(self, change: Callable[[], None]) -> None:
        try:
            change()
        except ValueError:  # e.g. play with nothing loaded: the controls show the state again
            self.show_state()

    def _target_chosen(self, index: int) -> None:
        self._call(lambda: self.state.set_cine(view=self.target.itemData(index)))

    def _slid(self, value: int) -> None:
        if self.state.sequence is not None:
            self.state.set_frame(value)

    def _tick(self) -> None:
        if self.state.volume is not None:
            self.state.cine_step()

    def show_state(self, event: Event | None = None) -> None:  # noqa: D102
        seq, cine = self.state.sequence, self.state.cine
        self.play_button.blockSignals(True)
        self.play_button.setChecked(cine.playing)
        self.play_button.blockSignals(False)
        self.fps.blockSignals(True)
        self.fps.setValue(cine.fps)
        self.fps.blockSignals(False)
        self.play_button.setText("Pause" if cine.playing else "Play")
        self.target.setCurrentIndex(max(0, self.target.findData(cine.view)))
        model = self.target.model()
        frames = model.item(0) if isinstance(model, QtGui.QStandardItemModel) else None
        if frames is not None:
            frames.setEnabled(seq is not None)  # "Frames" only for a 4D series
        self.timer.setInterval(cine.interval_ms)
        if cine.playing and not self.timer.isActive():
            self.timer.start()
        elif not cine.playing:
            self.timer.stop()
        self.slider.blockSignals(True)
        self.slider.setEnabled(seq is not None)
        self.slider.setRange(0, 0 if seq is None else len(seq) - 1)
        self.slider.setValue(self.state.frame)
        self.slider.blockSignals(False)
        self.label.setText(self._frame_text())


class MeasurementPanel(_Panel):
    """The measurement list and tools: ruler, angle and ellipse ROI placed by clicks on any
    slice view; rename (edit the name), delete, jump to (the crosshair goes to it), export.

    Parameters
    ----------
    state : ViewerState
    export : callable
        ``export(kind)`` with ``"json"`` or ``"csv"``: the main window asks for a file name.
    error : callable
        ``error(message)``: a refused rename.
    """

    EVENTS = frozenset({StateEvent.MEASUREMENTS, StateEvent.MEASURE_TOOL, StateEvent.VOLUME})
    TOOLS = (MeasureTool.NONE, MeasureTool.RULER, MeasureTool.ANGLE, MeasureTool.ELLIPSE, MeasureTool.SPHERE)

    def __init__(self, state: ViewerState, export: Callable[[str], None], error: Callable[[str], None]) -> None:
        super().__init__(state)
        self._error = error
        self._filling = False
        column = QtWidgets.QVBoxLayout(self)
        tools = QtWidgets.QHBoxLayout()
        self.tool_buttons: dict[MeasureTool, QtWidgets.QToolButton] = {}
        group = QtWidgets.QButtonGroup(self)
        group.setExclusive(True)
        for tool in self.TOOLS:
            button = QtWidgets.QToolButton()
            button.setText("Pointer" if tool is MeasureTool.NONE else tool.value.capitalize())
            button.setCheckable(True)
            button.setChecked(tool is state.measure_tool)
            button.clicked.connect(lambda _=False, t=tool: self.state.set_measure_tool(t))
            group.addButton(button)
            tools.addWidget(button)
            self.tool_buttons[tool] = button
        self._group = group
        column.addLayout(tools)
        self.table = QtWidgets.QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Name", "Value"])
        header = self.table.horizontalHeader()
        assert header is not None
        header.setStretchLastSection(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemChanged.connect(self._renamed)
        self.table.cellDoubleClicked.connect(self._double_clicked)
        column.addWidget(self.table)
        buttons = QtWidgets.QHBoxLayout()
        for text, slot in (
            ("Jump to", lambda: self.jump_to(self.table.currentRow())),
            ("Delete", lambda: self.delete(self.table.currentRow())),
            ("Export JSON...", lambda: export("json")),
            ("Export CSV...", lambda: export("csv")),
        ):
            button = QtWidgets.QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        column.addLayout(buttons)
        self.show_state()

    def ids(self) -> list[int]:
        """The measurement id of each row."""
        return [int(self.table.item(r, 0).data(_Qt.ItemDataRole.UserRole)) for r in range(self.table.rowCount())]  # type: ignore[union-attr]

    def show_state(self, event: Event | None = None) -> None:
        """Fill the table from the state's list (values in patient space) and check the current tool."""
        state = self.state
        self.tool_buttons[state.measure_tool].setChecked(True)
        if event is not None and event.name is StateEvent.MEASURE_TOOL:
            return
        self._filling = True
        try:
            items = list(state.measurements)
            self.table.setRowCount(len(items))
            for row, m in enumerate(items):
                try:
                    value = state.measure(m.id).label() if state.volume is not None else ""
                except MeasurementError as exc:
                    value = f"cannot measure: {exc}"
                name = QtWidgets.QTableWidgetItem(m.name)
                name.setData(_Qt.ItemDataRole.UserRole, m.id)
                shown = QtWidgets.QTableWidgetItem(value)
                shown.setFlags(_Qt.ItemFlags(_Qt.ItemFlag.ItemIsSelectable) | _Qt.ItemFlag.ItemIsEnabled)
                self.table.setItem(row, 0, name)
                self.table.setItem(row, 1, shown)
        finally:
            self._filling = False

    def _double_clicked(self, row: int, column: int) -> None:
        if column == 1:  # the value: jump there (the name column edits the name)
            self.jump_to(row)

    def _renamed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        mid = int(item.data(_Qt.ItemDataRole.UserRole))
        try:
            self.state.measurements.rename(mid, item.text())
        except ValueError as exc:
            self._error(str(exc))
            self.show_state()

    def rename(self, row: int, name: str) -> None:
        """Rename the measurement of a row."""
        self.state.measurements.rename(self.ids()[row], name)

    def delete(self, row: int) -> None:
        """Delete the measurement of a row (the selected one from the button)."""
        ids = self.ids()
        if 0 <= row < len(ids):
            self.state.measurements.delete(ids[row])

    def jump_to(self, row: int) -> None:
        """Move the crosshair to a measurement (its first point; an ellipse's centre), so every view shows it."""
        ids = self.ids()
        if not 0 <= row < len(ids) or self.state.volume is None:
            return
        shape = self.state.measurements.get(ids[row]).shape
        points, _closed = outline(shape)
        target = getattr(shape, "centre", None)
        self.state.set_crosshair(points[0] if target is None else target)
