"""The 3D view's panel and its controller: standard views, background, slice planes, crop box,
and the volume rendering's opacity points over the volume's histogram (issue 18).

Like the other panels, nothing here keeps a number: the buttons, the box widget and the
opacity editor turn input into :class:`~vtkdicom_app.viewer_state.ViewerState` calls
(``set_camera_view``, ``set_background``, ``set_slice_planes_3d``, ``set_crop_box``,
``set_volume_opacity_point``...), and :class:`View3DControls` shows the state's
:class:`~vtkdicom_app.viewer_state.View3DSettings` in the 3D view through the
:class:`~vtkdicom_app.rendering.VolumeScene` methods (``set_view``/``fit_camera``,
``set_background``, ``set_slice_planes``, ``set_crop_box`` and its widget,
``set_opacity_points``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from PyQt5 import QtCore, QtGui, QtWidgets

from vtkdicom_app.app.panels import _Panel, listen
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane
from vtkdicom_app.rendering import View, VolumeScene
from vtkdicom_app.viewer_state import Background, Event, StateEvent, ViewerState
from vtkdicom_app.volume import Volume

__all__ = ["PLANE_COLOURS", "OpacityEditor", "View3DControls", "View3DPanel"]

_Qt = QtCore.Qt

PLANE_COLOURS: dict[Plane, tuple[float, float, float]] = {
    Plane.SAGITTAL: (1.0, 0.35, 0.35),
    Plane.CORONAL: (0.35, 0.9, 0.4),
    Plane.AXIAL: (0.35, 0.55, 1.0),
}
"""Outline colour of each MPR plane in the 3D view: the orientation cube's colours of its normal (L-R red, P-A green, S-I blue)."""

BACKGROUND_NAMES = {
    Background.BLACK: "Black",
    Background.GRADIENT: "Dark grey gradient",
    Background.WHITE: "White",
    Background.COLOUR: "Colour...",
}
STANDARD_VIEWS = (View.ANTERIOR, View.POSTERIOR, View.LEFT, View.RIGHT, View.SUPERIOR, View.INFERIOR)
_CAMERA_EVENTS = frozenset({StateEvent.VIEW3D_CAMERA})
_PLANE_EVENTS = frozenset({StateEvent.VIEW3D_SLICE_PLANES, StateEvent.CROSSHAIR, StateEvent.PLANES})
_CROP_EVENTS = frozenset({StateEvent.CROP_BOX, StateEvent.SURFACES, StateEvent.SEGMENT_SURFACE})
_OPACITY_EVENTS = frozenset({StateEvent.VOLUME_OPACITY_POINTS, StateEvent.VOLUME_LOOK})


class OpacityEditor(QtWidgets.QWidget):
    """The volume rendering preset's opacity points drawn over the volume's histogram.

    Dragging a point calls :meth:`ViewerState.set_volume_opacity_point` (the state keeps
    the points sorted and within 0..1); the curve is drawn again from the state's event.
    The horizontal axis spans the volume's values (its histogram's range) and the preset's
    own points, the vertical one opacity 0..1; the histogram is drawn on a log scale.
    """

    PICK_PX = 9
    """A press this close to a point (widget pixels) grabs it."""
    MARGIN_PX = 8

    def __init__(self, state: ViewerState, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.dragged: int | None = None  # the point being dragged (input in progress, not state)
        self._histogram: tuple[Volume, np.ndarray, np.ndarray] | None = None  # a cache of the state's histogram
        self.setMinimumSize(220, 130)
        self.setSizePolicy(QtWidgets.QSizePolicy.Expanding, QtWidgets.QSizePolicy.Preferred)
        self.setToolTip("Drag a point to change the volume rendering's opacity at that value")
        listen(self, state, self._on_state)

    def _on_state(self, event: Event) -> None:
        if event.name in (StateEvent.VOLUME, StateEvent.FRAME, StateEvent.VOLUME_LOOK, StateEvent.VOLUME_OPACITY_POINTS):
            self.update()

    def histogram(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The state's histogram of the volume shown (edges, counts), None without a grey-value volume."""
        vol = self.state.volume
        if vol is None or vol.is_colour:
            return None
        if self._histogram is None or self._histogram[0] is not vol:
            edges, counts = self.state.volume_histogram(128)
            self._histogram = (vol, edges, counts)
        return self._histogram[1], self._histogram[2]

    def _frame(self) -> tuple[QtCore.QRectF, float, float] | None:
        hist = self.histogram()
        if hist is None:
            return None
        own = [v for v, _o in self.state.volume_opacity_points(edited=False)]  # steady while a point is dragged
        lo, hi = min(float(hist[0][0]), *own), max(float(hist[0][-1]), *own)
        m = self.MARGIN_PX
        return QtCore.QRectF(m, m, max(1, self.width() - 2 * m), max(1, self.height() - 2 * m)), lo, hi

    def point_position(self, index: int) -> QtCore.QPointF:
        """Where a point of :meth:`ViewerState.volume_opacity_points` is drawn (widget pixels)."""
        value, opacity = self.state.volume_opacity_points()[index]
        return self.to_pixel(value, opacity)

    def to_pixel(self, value: float, opacity: float) -> QtCore.QPointF:
        """Widget position of ``(value, opacity)``; values outside the histogram's range sit on its edges."""
        frame = self._frame()
        if frame is None:
            return QtCore.QPointF()
        rect, lo, hi = frame
        t = min(1.0, max(0.0, (value - lo) / (hi - lo if hi > lo else 1.0)))
        return QtCore.QPointF(rect.left() + t * rect.width(), rect.bottom() - opacity * rect.height())

    def to_value(self, pos: QtCore.QPointF | QtCore.QPoint) -> tuple[float, float]:
        """``(value, opacity)`` under a widget position."""
        frame = self._frame()
        if frame is None:
            return 0.0, 0.0
        rect, lo, hi = frame
        t = min(1.0, max(0.0, (float(pos.x()) - rect.left()) / rect.width()))
        return lo + t * (hi - lo), (rect.bottom() - float(pos.y())) / rect.height()

    def paintEvent(self, event: QtGui.QPaintEvent | None) -> None:  # noqa: N802 - Qt API
        """Histogram bars (log scale), then the opacity curve and its points."""
        painter = QtGui.QPainter(self)
        painter.fillRect(self.rect(), QtGui.QColor(24, 24, 28))
        frame = self._frame()
        hist = self.histogram()
        if frame is None or hist is None:
            painter.setPen(QtGui.QColor(160, 160, 160))
            painter.drawText(self.rect(), _Qt.AlignmentFlag.AlignCenter, "no volume")
            painter.end()
            return
        rect, lo, hi = frame
        edges, counts = hist[0], np.log1p(hist[1])
        top = float(counts.max()) or 1.0
        painter.setPen(_Qt.PenStyle.NoPen)
        painter.setBrush(QtGui.QColor(90, 90, 100))
        for i, c in enumerate(counts):
            h = float(c) / top * rect.height()
            x0, x1 = self.to_pixel(float(edges[i]), 0.0).x(), self.to_pixel(float(edges[i + 1]), 0.0).x()
            painter.drawRect(QtCore.QRectF(x0, rect.bottom() - h, max(1.0, x1 - x0), h))
        points = [self.to_pixel(v, o) for v, o in self.state.volume_opacity_points()]
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setPen(QtGui.QPen(QtGui.QColor(255, 170, 60), 2))
        painter.setBrush(_Qt.BrushStyle.NoBrush)
        painter.drawPolyline(QtGui.QPolygonF(points))
        painter.setBrush(QtGui.QColor(255, 210, 120))
        for i, p in enumerate(points):
            r = 5.0 if i == self.dragged else 4.0
            painter.drawEllipse(p, r, r)
        painter.end()

    def _nearest(self, pos: QtCore.QPoint) -> int | None:
        if self._frame() is None:
            return None
        best, best_d = None, float(self.PICK_PX)
        for i in range(len(self.state.volume_opacity_points())):
            p = self.point_position(i)
            d = math.hypot(p.x() - pos.x(), p.y() - pos.y())
            if d <= best_d:
                best, best_d = i, d
        return best

    def mousePressEvent(self, event: QtGui.QMouseEvent | None) -> None:  # noqa: N802 - Qt API
        """Grab the point under the pointer."""
        if event is None or event.button() != _Qt.MouseButton.LeftButton:
            return
        self.dragged = self._nearest(event.pos())
        self.update()

    def mouseMoveEvent(self, event: QtGui.QMouseEvent | None) -> None:  # noqa: N802 - Qt API
        """Move the grabbed point: the state clamps it between its neighbours and to 0..1."""
        if event is None or self.dragged is None:
            return
        value, opacity = self.to_value(event.pos())
        self.state.set_volume_opacity_point(self.dragged, value, opacity)

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent | None) -> None:  # noqa: N802 - Qt API
        """Let the point go (after a last move to where the button came up)."""
        if event is not None and self.dragged is not None:
            self.mouseMoveEvent(event)
        self.dragged = None
        self.update()


class View3DPanel(_Panel):
    """The 3D view: six standard views and Reset, background, slice planes, crop box, opacity points.

    Parameters
    ----------
    state : ViewerState
    error : callable, optional
        ``error(message)``: a refused change (e.g. a crop with nothing loaded).
    """

    EVENTS = frozenset(
        {
            StateEvent.VOLUME,
            StateEvent.VIEW3D_CAMERA,
            StateEvent.VIEW3D_BACKGROUND,
            StateEvent.VIEW3D_SLICE_PLANES,
            StateEvent.CROP_BOX,
            StateEvent.VOLUME_OPACITY_POINTS,
            StateEvent.VOLUME_LOOK,
        }
    )

    def __init__(self, state: ViewerState, error: Callable[[str], None] | None = None) -> None:
        super().__init__(state)
        self._error = error or (lambda message: None)
        column = QtWidgets.QVBoxLayout(self)
        grid = QtWidgets.QGridLayout()
        self.view_buttons: dict[View, QtWidgets.QPushButton] = {}
        for n, view in enumerate(STANDARD_VIEWS):
            button = QtWidgets.QPushButton(view.name.capitalize())
            button.setCheckable(True)
            button.setToolTip(f"Look at the patient from the {view.name.lower()} side")
            button.clicked.connect(lambda _=False, v=view: self._call(lambda: self.state.set_camera_view(v)))
            grid.addWidget(button, n // 3, n % 3)
            self.view_buttons[view] = button
        self.reset_button = QtWidgets.QPushButton("Reset")
        self.reset_button.setToolTip("Fit the camera to the whole volume")
        self.reset_button.clicked.connect(lambda: self._call(self.state.reset_camera))
        grid.addWidget(self.reset_button, 2, 0, 1, 3)
        column.addLayout(grid)
        form = QtWidgets.QFormLayout()
        self.background = QtWidgets.QComboBox()
        for bg, text in BACKGROUND_NAMES.items():
            self.background.addItem(text, bg)
        self.background.activated.connect(self._background_chosen)
        form.addRow("Background", self.background)
        column.addLayout(form)
        self.slice_planes = QtWidgets.QCheckBox("Slice planes in 3D")
        self.slice_planes.toggled.connect(lambda on: self._call(lambda: self.state.set_slice_planes_3d(on)))
        column.addWidget(self.slice_planes)
        crop_row = QtWidgets.QHBoxLayout()
        self.crop = QtWidgets.QCheckBox("Crop box")
        self.crop.setToolTip("Crop the volume rendering and the surfaces; drag the box's faces in the 3D view")
        self.crop.toggled.connect(self._crop_toggled)
        self.crop_handles = QtWidgets.QCheckBox("Handles")
        self.crop_handles.toggled.connect(lambda on: self._call(lambda: self.state.set_crop_handles(on)))
        self.crop_reset = QtWidgets.QPushButton("Whole volume")
        self.crop_reset.clicked.connect(lambda: self._call(self.state.reset_crop_box))
        for w in (self.crop, self.crop_handles, self.crop_reset):
            crop_row.addWidget(w)
        column.addLayout(crop_row)
        self.crop_label = QtWidgets.QLabel("")
        self.crop_label.setWordWrap(True)
        column.addWidget(self.crop_label)
        column.addWidget(QtWidgets.QLabel("Opacity points (drag) over the histogram"))
        self.editor = OpacityEditor(state)
        column.addWidget(self.editor, 1)
        self.reset_points = QtWidgets.QPushButton("Preset's points")
        self.reset_points.setToolTip("Forget the edited opacity points of this preset")
        self.reset_points.clicked.connect(lambda: self._call(lambda: self.state.set_volume_opacity_points(None)))
        column.addWidget(self.reset_points)
        self.show_state()

    def _call(self, change: Callable[[], Any]) -> None:
        try:
            change()
        except ValueError as exc:
            self._error(str(exc))
            self.show_state()

    def _background_chosen(self, index: int) -> None:
        bg = self.background.itemData(index)
        if bg is Background.COLOUR:
            r, g, b = (int(round(c * 255)) for c in self.state.view3d.background_color)
            chosen = QtWidgets.QColorDialog.getColor(QtGui.QColor(r, g, b), self, "3D background")
            if not chosen.isValid():
                self.show_state()
                return
            self._call(lambda: self.state.set_background(Background.COLOUR, (chosen.redF(), chosen.greenF(), chosen.blueF())))
        else:
            self._call(lambda: self.state.set_background(bg))

    def _crop_toggled(self, on: bool) -> None:
        if on:
            if self.state.view3d.crop_box is None:
                self._call(self.state.reset_crop_box)
        else:
            self._call(lambda: self.state.set_crop_box(None))

    def show_state(self, event: Event | None = None) -> None:  # noqa: D102
        settings = self.state.view3d
        widgets: list[QtWidgets.QWidget] = [*self.view_buttons.values(), self.background, self.slice_planes, self.crop, self.crop_handles]
        for w in widgets:
            w.blockSignals(True)
        for view, button in self.view_buttons.items():
            button.setChecked(view is settings.camera)
        self.background.setCurrentIndex(max(0, self.background.findData(settings.background)))
        self.slice_planes.setChecked(settings.slice_planes)
        self.crop.setChecked(settings.crop_box is not None)
        self.crop_handles.setChecked(settings.crop_handles)
        for w in widgets:
            w.blockSignals(False)
        box = settings.crop_box
        self.crop_label.setText("" if box is None else f"x {box[0]:.1f}..{box[3]:.1f}  y {box[1]:.1f}..{box[4]:.1f}  z {box[2]:.1f}..{box[5]:.1f} mm")
        self.reset_points.setEnabled(settings.points_of(self.state.volume_look.preset) is not None)
        self.editor.update()


class View3DControls(QtCore.QObject):
    """Shows the state's 3D-view settings in the :class:`VolumeScene` of the 3D view, and feeds its input back.

    The main window calls :meth:`on_state` for every state event after its own 3D work
    (a new scene built for VOLUME, surface actors made for SURFACES), so that the scene
    seen here is the current one. Input: the crop box widget's drags become
    :meth:`ViewerState.set_crop_box`; turning the camera by hand, :meth:`ViewerState.camera_moved`.

    Parameters
    ----------
    state : ViewerState
    interactor : QVTKRenderWindowInteractor
        The 3D view.
    scene : callable
        ``scene()``: the 3D view's VolumeScene (None without a grey-value volume).
    actors : callable
        ``actors()``: surface actors the scene does not list (the segments'), to be cropped too.
    render : callable
        Render the 3D view.
    """

    def __init__(
        self,
        state: ViewerState,
        interactor: Any,
        *,
        scene: Callable[[], VolumeScene | None],
        actors: Callable[[], Iterable[Any]] = tuple,
        render: Callable[[], None],
        parent: QtCore.QObject | None = None,
    ) -> None:
        from vtkmodules.vtkCommonCore import vtkCommand

        super().__init__(parent)
        self.state = state
        self.interactor = interactor
        self._scene_of = scene
        self._actors = actors
        self._render = render
        self.scene: VolumeScene | None = None  # the scene the widget and the outlines were put in
        style = interactor.GetInteractorStyle()
        if style is not None:
            style.AddObserver(vtkCommand.EndInteractionEvent, lambda *_: self._camera_moved())

    def _camera_moved(self) -> None:
        if self.scene is not None and self.state.volume is not None:
            self.state.camera_moved()

    def _attach(self) -> VolumeScene | None:
        scene = self._scene_of()
        if scene is self.scene:
            return scene
        if self.scene is not None:
            self.scene.disable_crop_widget()
        self.scene = scene
        if scene is not None:
            scene.enable_crop_widget(self.interactor, self._widget_moved)
            self.show_all(render=False)
        return scene

    def _widget_moved(self, box: tuple[float, ...]) -> None:
        try:
            self.state.set_crop_box(box)
        except ValueError:  # dragged off the volume: the widget goes back to the state's box
            if self.scene is not None:
                self.scene.set_crop_box(self.state.view3d.crop_box)

    def on_state(self, event: Event) -> None:
        """Show what an event changed (called by the main window after its own 3D work)."""
        name = event.name
        scene = self._attach()
        if scene is None or name is StateEvent.VOLUME:
            if scene is not None:
                self._render()
            return
        if name in _CAMERA_EVENTS:
            self.show_camera()
        elif name is StateEvent.VIEW3D_BACKGROUND:
            self.show_background()
        elif name in _PLANE_EVENTS:
            self.show_slice_planes()
        elif name in _CROP_EVENTS:
            self.show_crop()
        elif name in _OPACITY_EVENTS:
            self.show_opacity()
        else:
            return
        self._render()

    def show_all(self, *, render: bool = True) -> None:
        """Show every 3D-view setting (a new scene); the camera was fitted when the scene was built."""
        self.show_background()
        self.show_opacity()
        self.show_crop()
        self.show_slice_planes()
        if render:
            self._render()

    def show_camera(self) -> None:
        """A standard view asked for: place the camera, fitted to the volume (Reset: fit, the direction stays)."""
        settings, scene = self.state.view3d, self.scene
        if scene is None:
            return
        if settings.camera is not None:
            scene.set_view(settings.camera)
        if settings.fitted:
            scene.fit_camera()

    def show_background(self) -> None:
        """The state's background in the renderer."""
        if self.scene is not None:
            colour, top = self.state.view3d.background_colours()
            self.scene.set_background(colour, top)

    def show_slice_planes(self) -> None:
        """The three planes through the crosshair as coloured outlines, or none."""
        if self.scene is None:
            return
        if not self.state.view3d.slice_planes or self.state.volume is None:
            self.scene.set_slice_planes(None)
            return
        outlines = self.state.slice_plane_outlines()
        self.scene.set_slice_planes({p.value: (outlines[p], PLANE_COLOURS[p]) for p in ORTHOGONAL_PLANES})

    def show_crop(self) -> None:
        """The crop box on the volume, the surfaces and the segments' actors; the widget placed on it."""
        scene = self.scene
        if scene is None:
            return
        settings = self.state.view3d
        scene.set_crop_handles(settings.crop_handles)
        scene.set_crop_box(settings.crop_box)
        for actor in self._actors():
            scene.clip_actor(actor)

    def show_opacity(self) -> None:
        """The state's edited opacity points in the scene (the preset shown is applied again when they changed)."""
        scene = self.scene
        if scene is None:
            return
        wanted = dict(self.state.view3d.opacity_points)
        if wanted != scene.opacity_overrides:
            for preset in set(wanted) | set(scene.opacity_overrides):
                if wanted.get(preset) != scene.opacity_overrides.get(preset):
                    scene.set_opacity_points(preset, wanted.get(preset))
