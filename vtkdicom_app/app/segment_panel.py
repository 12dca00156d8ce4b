"""The Segment Editor dock: segments, tools and their options, undo/redo, files.

Like every panel it computes nothing and keeps no numbers: its controls become
:class:`~vtkdicom_app.viewer_state.ViewerState` calls (segments, the current tool and
:class:`~vtkdicom_app.viewer_state.SegmentOptions`, Apply, undo/redo), and it shows the
state again when an event says it changed. Clicks and drags on the slices go from the slice
panes to the state; files go through callbacks the main window gives (they run in workers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt5 import QtCore, QtGui, QtWidgets

from vtkdicom_app.app.panels import listen
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.segmentation.model import EventKind, Mode
from vtkdicom_app.segmentation.tools import ScissorsOperation, ShellSide
from vtkdicom_app.viewer_state import BRUSH_RADIUS_RANGE, INTERACTIVE_TOOLS, Event, IslandAction, SegmentTool, StateEvent, ViewerState

__all__ = ["SegmentEditorPanel"]

_Qt = QtCore.Qt
_CHECKED = _Qt.CheckState.Checked
_UNCHECKED = _Qt.CheckState.Unchecked
_ID_ROLE = _Qt.ItemDataRole.UserRole

TOOL_LABELS: dict[SegmentTool, str] = {
    SegmentTool.NONE: "None (clicks move the crosshair)",
    SegmentTool.THRESHOLD: "Threshold",
    SegmentTool.SEED: "Seed region (click)",
    SegmentTool.PAINT: "Paint (drag)",
    SegmentTool.ERASE: "Erase (drag)",
    SegmentTool.SCISSORS: "Scissors (drag a polygon)",
    SegmentTool.ISLANDS: "Islands",
    SegmentTool.MARGIN: "Margin",
    SegmentTool.HOLLOW: "Hollow",
    SegmentTool.FILL_HOLES: "Fill holes",
    SegmentTool.CLOSE: "Close gaps",
    SegmentTool.CROP: "Crop to a box",
    SegmentTool.LOGICAL: "Logical operators",
}
TOOL_HINTS: dict[SegmentTool, str] = {
    SegmentTool.NONE: "Pick a tool. Ctrl+Z undoes, Ctrl+Shift+Z redoes.",
    SegmentTool.THRESHOLD: "Apply: the segment becomes every voxel within the range.",
    SegmentTool.SEED: "Click a structure on a slice: what is connected to it within the range.",
    SegmentTool.PAINT: "Drag on a slice: spheres of the brush radius are added.",
    SegmentTool.ERASE: "Drag on a slice: spheres of the brush radius are removed.",
    SegmentTool.SCISSORS: "Drag a closed shape on a slice: cut along the view direction.",
    SegmentTool.ISLANDS: "Click an island to keep only it, or Apply the action.",
    SegmentTool.MARGIN: "Apply: grow (> 0) or shrink (< 0) by the margin.",
    SegmentTool.HOLLOW: "Apply: keep a wall of this thickness (for resin prints).",
    SegmentTool.FILL_HOLES: "Apply: fill every cavity the segment encloses.",
    SegmentTool.CLOSE: "Apply: fill gaps and dents narrower than twice the radius.",
    SegmentTool.CROP: "Apply: keep only what lies inside the box (LPS mm).",
    SegmentTool.LOGICAL: "Apply: combine the other segment into the current one.",
}
SCISSORS_LABELS = {
    ScissorsOperation.ERASE_INSIDE: "Erase inside",
    ScissorsOperation.ERASE_OUTSIDE: "Keep inside (erase outside)",
    ScissorsOperation.FILL_INSIDE: "Fill inside",
    ScissorsOperation.FILL_OUTSIDE: "Fill outside",
}
LOGICAL_LABELS = {Mode.ADD: "Union (add)", Mode.SUBTRACT: "Subtract", Mode.INTERSECT: "Intersect", Mode.REPLACE: "Copy"}


def _spin(lo: float, hi: float, value: float, *, decimals: int = 1, suffix: str = "", step: float = 1.0) -> QtWidgets.QDoubleSpinBox:
    spin = QtWidgets.QDoubleSpinBox()
    spin.setRange(lo, hi)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    spin.setValue(value)
    spin.setKeyboardTracking(False)  # one change per value typed, not per key
    return spin


def _combo(items: dict[Any, str]) -> QtWidgets.QComboBox:
    combo = QtWidgets.QComboBox()
    for value, label in items.items():
        combo.addItem(label, value)
    return combo


def _select(combo: QtWidgets.QComboBox, value: Any) -> None:
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)


def _swatch(color: tuple[float, float, float]) -> QtGui.QIcon:
    pixmap = QtGui.QPixmap(14, 14)
    pixmap.fill(QtGui.QColor.fromRgbF(*color))
    return QtGui.QIcon(pixmap)


class _Group(QtWidgets.QWidget):
    """A few option rows shown for some tools."""

    def __init__(self) -> None:
        super().__init__()
        self.form = QtWidgets.QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)


class SegmentEditorPanel(QtWidgets.QWidget):
    """Segments (add, remove, rename, colour, show/hide), tools with their options, undo/redo, files.

    Parameters
    ----------
    state : ViewerState
    open_segmentation, save_segmentation, export_meshes : callable
        File actions of the main window (each asks for a file and runs a worker).
    error : callable
        ``error(message)``: a tool refused (shown by the main window).
    """

    EVENTS = frozenset(
        {
            StateEvent.VOLUME,
            StateEvent.SEGMENTATION,
            StateEvent.SEGMENT,
            StateEvent.CURRENT_SEGMENT,
            StateEvent.SEGMENT_TOOL,
            StateEvent.SEGMENT_OPTIONS,
        }
    )

    def __init__(
        self,
        state: ViewerState,
        *,
        open_segmentation: Callable[[], Any],
        save_segmentation: Callable[[], Any],
        export_meshes: Callable[[], Any],
        error: Callable[[str], None],
    ) -> None:
        super().__init__()
        self.state = state
        self._error = error
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        # ---- segments
        self.segments = QtWidgets.QListWidget()
        self.segments.setMaximumHeight(130)
        self.segments.itemChanged.connect(self._item_changed)
        self.segments.currentRowChanged.connect(self._row_chosen)
        box.addWidget(self.segments)
        row = QtWidgets.QHBoxLayout()
        self.add_button = QtWidgets.QPushButton("Add")
        self.add_button.clicked.connect(self.add_segment)
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.remove_button.clicked.connect(lambda: self._do(lambda: self.state.remove_segment()))
        self.color_button = QtWidgets.QPushButton("Colour...")
        self.color_button.clicked.connect(self._color_dialog)
        for w in (self.add_button, self.remove_button, self.color_button):
            row.addWidget(w)
        box.addLayout(row)
        # ---- tool and its options
        form = QtWidgets.QFormLayout()
        self.tool = _combo(TOOL_LABELS)
        self.tool.activated.connect(lambda _i: self._do(lambda: self.state.set_segment_tool(self.tool.currentData())))
        form.addRow("Tool", self.tool)
        box.addLayout(form)
        self.hint = QtWidgets.QLabel("")
        self.hint.setWordWrap(True)
        box.addWidget(self.hint)
        self.groups: dict[str, _Group] = {}
        # threshold range (threshold and seed tools)
        g = self._group("range")
        self.lower_spin = _spin(-100000.0, 100000.0, 300.0, decimals=0, step=10.0)
        self.upper_spin = _spin(-100000.0, 100000.0, 3000.0, decimals=0, step=10.0)
        self.no_upper = QtWidgets.QCheckBox("no upper limit")
        self.lower_spin.valueChanged.connect(lambda _v: self._range_changed())
        self.upper_spin.valueChanged.connect(lambda _v: self._range_changed())
        self.no_upper.toggled.connect(lambda _v: self._range_changed())
        g.form.addRow("Lower", self.lower_spin)
        g.form.addRow("Upper", self.upper_spin)
        g.form.addRow("", self.no_upper)
        g = self._group("seed")
        self.seed_mode = _combo({Mode.REPLACE: "Replace the segment", Mode.ADD: "Add to the segment"})
        self.seed_mode.activated.connect(lambda _i: self._option(seed_mode=self.seed_mode.currentData()))
        g.form.addRow("Result", self.seed_mode)
        g = self._group("brush")
        self.radius = _spin(BRUSH_RADIUS_RANGE[0], BRUSH_RADIUS_RANGE[1], 5.0, decimals=1, suffix=" mm", step=0.5)
        self.radius.valueChanged.connect(lambda v: self._option(brush_radius_mm=v))
        g.form.addRow("Brush radius", self.radius)
        g = self._group("scissors")
        self.scissors = _combo(SCISSORS_LABELS)
        self.scissors.activated.connect(lambda _i: self._option(scissors=self.scissors.currentData()))
        g.form.addRow("Operation", self.scissors)
        g = self._group("islands")
        self.island_action = _combo({IslandAction.KEEP_LARGEST: "Keep the largest", IslandAction.REMOVE_SMALL: "Remove small islands"})
        self.island_action.activated.connect(lambda _i: self._option(island_action=self.island_action.currentData()))
        self.min_island = _spin(0.0, 1e9, 100.0, decimals=0, suffix=" mm3", step=10.0)
        self.min_island.valueChanged.connect(lambda v: self._option(min_island_mm3=v))
        g.form.addRow("Apply", self.island_action)
        g.form.addRow("Smaller than", self.min_island)
        g = self._group("margin")
        self.margin = _spin(-50.0, 50.0, 2.0, decimals=1, suffix=" mm", step=0.5)
        self.margin.valueChanged.connect(lambda v: self._option(margin_mm=v))
        g.form.addRow("Margin", self.margin)
        g = self._group("hollow")
        self.hollow = _spin(0.1, 50.0, 2.0, decimals=1, suffix=" mm", step=0.5)
        self.hollow.valueChanged.connect(lambda v: self._option(hollow_mm=v))
        self.hollow_side = _combo({ShellSide.INSIDE: "Inside the surface", ShellSide.MEDIAL: "Centred on it", ShellSide.OUTSIDE: "Outside it"})
        self.hollow_side.activated.connect(lambda _i: self._option(hollow_side=self.hollow_side.currentData()))
        g.form.addRow("Wall", self.hollow)
        g.form.addRow("Side", self.hollow_side)
        g = self._group("close")
        self.close_radius = _spin(0.1, 50.0, 2.0, decimals=1, suffix=" mm", step=0.5)
        self.close_radius.valueChanged.connect(lambda v: self._option(close_mm=v))
        g.form.addRow("Radius", self.close_radius)
        # an LPS box (threshold inside it, crop to it); starts as the volume's extent
        g = self._group("box")
        self.use_box = QtWidgets.QCheckBox("only inside a box (LPS mm)")
        self.use_box.toggled.connect(self._box_toggled)
        g.form.addRow("", self.use_box)
        self.box_spins: list[QtWidgets.QDoubleSpinBox] = []
        for name in ("x0", "y0", "z0", "x1", "y1", "z1"):
            spin = _spin(-100000.0, 100000.0, 0.0, decimals=1, suffix=" mm", step=1.0)
            spin.valueChanged.connect(lambda _v: self._box_changed())
            self.box_spins.append(spin)
            g.form.addRow(name, spin)
        g = self._group("logical")
        self.logical_op = _combo(LOGICAL_LABELS)
        self.logical_op.activated.connect(lambda _i: self._option(logical_op=self.logical_op.currentData()))
        self.logical_other = QtWidgets.QComboBox()
        self.logical_other.activated.connect(lambda _i: self._option(logical_other=self.logical_other.currentData()))
        g.form.addRow("Operation", self.logical_op)
        g.form.addRow("With", self.logical_other)
        self.apply_button = QtWidgets.QPushButton("Apply")
        self.apply_button.clicked.connect(self.apply)
        box.addWidget(self.apply_button)
        # ---- display
        form = QtWidgets.QFormLayout()
        self.opacity = QtWidgets.QSlider(_Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.valueChanged.connect(lambda v: self._option(overlay_opacity=v / 100.0))
        self.outline = QtWidgets.QCheckBox("outlines")
        self.outline.setChecked(True)
        self.outline.toggled.connect(lambda on: self._option(overlay_outline=on))
        self.live_surfaces = QtWidgets.QCheckBox("3D surfaces")
        self.live_surfaces.setChecked(True)
        self.live_surfaces.toggled.connect(lambda on: self._option(live_surfaces=on))
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.outline)
        row.addWidget(self.live_surfaces)
        form.addRow("Opacity", self.opacity)
        form.addRow("", row)
        box.addLayout(form)
        # ---- history and files
        row = QtWidgets.QHBoxLayout()
        self.undo_button = QtWidgets.QPushButton("Undo")
        self.undo_button.clicked.connect(lambda: self._do(self.state.undo_segmentation))
        self.redo_button = QtWidgets.QPushButton("Redo")
        self.redo_button.clicked.connect(lambda: self._do(self.state.redo_segmentation))
        row.addWidget(self.undo_button)
        row.addWidget(self.redo_button)
        box.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        for label, action in (("Open...", open_segmentation), ("Save...", save_segmentation), ("Export meshes...", export_meshes)):
            button = QtWidgets.QPushButton(label)
            button.clicked.connect(lambda _c=False, a=action: a())
            row.addWidget(button)
        box.addLayout(row)
        box.addStretch(1)
        listen(self, state, self._on_state)
        self.show_state()

    def _group(self, name: str) -> _Group:
        group = _Group()
        self.groups[name] = group
        self.layout_box().addWidget(group)
        return group

    def layout_box(self) -> QtWidgets.QVBoxLayout:
        """The panel's column (for the option groups)."""
        box = self.layout()
        assert isinstance(box, QtWidgets.QVBoxLayout)
        return box

    # ------------------------------------------------------------------ controls -> state
    def _do(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except (VtkDicomError, ValueError) as exc:
            self._error(str(exc))
            self.show_state()  # the controls go back to what the state holds
            return None

    def _option(self, **changes: Any) -> None:
        self._do(lambda: self.state.set_segment_options(**changes))

    def _range_changed(self) -> None:
        upper = None if self.no_upper.isChecked() else self.upper_spin.value()
        self.upper_spin.setEnabled(upper is not None)
        self._option(threshold_lower=self.lower_spin.value(), threshold_upper=upper)

    def _box_toggled(self, checked: bool) -> None:
        """Box on: it starts as the volume's extent; off: no box."""
        volume = self.state.volume
        if checked and volume is not None:
            corners = volume.corners
            self._option(box=(*corners.min(axis=0).tolist(), *corners.max(axis=0).tolist()))
        else:
            self._option(box=None)

    def _box_changed(self) -> None:
        if self.use_box.isChecked():
            self._option(box=tuple(s.value() for s in self.box_spins))

    def add_segment(self) -> None:
        """Add an empty segment (the volume's segmentation is made on the first one)."""
        self._do(lambda: self.state.add_segment())

    def apply(self) -> None:
        """Apply the current tool to the current segment (threshold, islands, margin...)."""
        self._do(self.state.apply_segment_tool)

    def _segment_id(self, row: int) -> str | None:
        item = self.segments.item(row)
        return None if item is None else str(item.data(_ID_ROLE))

    def _row_chosen(self, row: int) -> None:
        sid = self._segment_id(row)
        if sid is not None:
            self._do(lambda: self.state.set_current_segment(sid))

    def _item_changed(self, item: QtWidgets.QListWidgetItem) -> None:
        model = self.state.segmentation
        sid = str(item.data(_ID_ROLE))
        if model is None or sid not in model:
            return
        seg = model.segment(sid)
        visible = item.checkState() == _CHECKED
        name = item.text().strip()
        if visible != seg.visible:
            self._do(lambda: self.state.set_segment_properties(sid, visible=visible))
        elif name != seg.name:
            self._do(lambda: self.state.set_segment_properties(sid, name=name))

    def _color_dialog(self) -> None:
        model, sid = self.state.segmentation, self.state.current_segment
        if model is None or sid is None:
            self._error("add a segment first")
            return
        chosen = QtWidgets.QColorDialog.getColor(QtGui.QColor.fromRgbF(*model.segment(sid).color), self, "Segment colour")
        if chosen.isValid():
            self._do(lambda: self.state.set_segment_properties(sid, color=(chosen.redF(), chosen.greenF(), chosen.blueF())))

    # ------------------------------------------------------------------ state -> controls
    def _on_state(self, event: Event) -> None:
        if event.name not in self.EVENTS:
            return
        if event.name is StateEvent.SEGMENT and event.value.kind is EventKind.MASK_CHANGED:
            return  # voxels only: the list does not change (HISTORY updates undo/redo)
        self.show_state(event)

    def show_state(self, event: Event | None = None) -> None:
        """Show the state's segments, tool and options (without calling back into the state)."""
        state = self.state
        model = state.segmentation
        if event is None or event.name is not StateEvent.SEGMENT_OPTIONS:
            self._show_segments()
        tool = state.segment_tool
        options = state.segment_options
        widgets: list[QtWidgets.QWidget] = [
            self.tool, self.lower_spin, self.upper_spin, self.no_upper, self.seed_mode, self.radius, self.scissors, self.island_action,
            self.min_island, self.margin, self.hollow, self.hollow_side, self.close_radius, self.use_box, *self.box_spins,
            self.logical_op, self.logical_other, self.opacity,
            self.outline, self.live_surfaces,
        ]  # fmt: skip
        for w in widgets:
            w.blockSignals(True)
        try:
            _select(self.tool, tool)
            self.lower_spin.setValue(options.threshold_lower)
            self.no_upper.setChecked(options.threshold_upper is None)
            if options.threshold_upper is not None:
                self.upper_spin.setValue(options.threshold_upper)
            self.upper_spin.setEnabled(options.threshold_upper is not None)
            _select(self.seed_mode, options.seed_mode)
            self.radius.setValue(options.brush_radius_mm)
            _select(self.scissors, options.scissors)
            _select(self.island_action, options.island_action)
            self.min_island.setValue(options.min_island_mm3)
            self.margin.setValue(options.margin_mm)
            self.hollow.setValue(options.hollow_mm)
            _select(self.hollow_side, options.hollow_side)
            self.close_radius.setValue(options.close_mm)
            self.use_box.setChecked(options.box is not None)
            for spin, value in zip(self.box_spins, options.box or ()):
                spin.setValue(value)
            for spin in self.box_spins:
                spin.setEnabled(options.box is not None)
            _select(self.logical_op, options.logical_op)
            self.logical_other.clear()
            for seg in model.segments if model is not None else []:
                self.logical_other.addItem(seg.name, seg.segment_id)
            _select(self.logical_other, options.logical_other)
            self.opacity.setValue(round(options.overlay_opacity * 100))
            self.outline.setChecked(options.overlay_outline)
            self.live_surfaces.setChecked(options.live_surfaces)
        finally:
            for w in widgets:
                w.blockSignals(False)
        shown = {
            SegmentTool.THRESHOLD: {"range", "box"},
            SegmentTool.SEED: {"range", "seed"},
            SegmentTool.PAINT: {"brush"},
            SegmentTool.ERASE: {"brush"},
            SegmentTool.SCISSORS: {"scissors"},
            SegmentTool.ISLANDS: {"islands"},
            SegmentTool.MARGIN: {"margin"},
            SegmentTool.HOLLOW: {"hollow"},
            SegmentTool.CLOSE: {"close"},
            SegmentTool.CROP: {"box"},
            SegmentTool.LOGICAL: {"logical"},
        }.get(tool, set())
        for name, group in self.groups.items():
            group.setVisible(name in shown)
        self.hint.setText(TOOL_HINTS[tool])
        has_segment = model is not None and state.current_segment is not None
        self.apply_button.setEnabled(has_segment and (tool not in INTERACTIVE_TOOLS or tool is SegmentTool.ISLANDS) and tool is not SegmentTool.NONE)
        self.add_button.setEnabled(state.volume is not None and not state.volume.is_colour)
        self.remove_button.setEnabled(has_segment)
        self.color_button.setEnabled(has_segment)
        self.undo_button.setEnabled(model is not None and model.can_undo)
        self.redo_button.setEnabled(model is not None and model.can_redo)
        self.undo_button.setToolTip(f"Undo {model.undo_description} (Ctrl+Z)" if model is not None and model.can_undo else "Nothing to undo")
        self.redo_button.setToolTip(f"Redo {model.redo_description} (Ctrl+Shift+Z)" if model is not None and model.can_redo else "Nothing to redo")

    def _show_segments(self) -> None:
        model = self.state.segmentation
        segments = model.segments if model is not None else []
        self.segments.blockSignals(True)
        try:
            self.segments.clear()
            current_row = -1
            for row, seg in enumerate(segments):
                item = QtWidgets.QListWidgetItem(_swatch(seg.color), seg.name)
                item.setData(_ID_ROLE, seg.segment_id)
                item.setFlags(item.flags() | _Qt.ItemFlag.ItemIsUserCheckable | _Qt.ItemFlag.ItemIsEditable)
                item.setCheckState(_CHECKED if seg.visible else _UNCHECKED)
                item.setToolTip(f"{seg.segment_id}: double-click to rename, tick to show")
                self.segments.addItem(item)
                if seg.segment_id == self.state.current_segment:
                    current_row = row
            self.segments.setCurrentRow(current_row)
        finally:
            self.segments.blockSignals(False)
