"""One 2D view of the viewer: mouse and keys become state calls; state events redraw it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

# The OpenGL and text factories must be registered before any render window is created,
# or QVTKRenderWindowInteractor gets an abstract vtkRenderWindow and crashes on Initialize.
import vtkmodules.vtkRenderingFreeType  # noqa: F401  isort: skip
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  isort: skip
from PyQt5 import QtWidgets
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleUser

from vtkdicom_app.annotations import VTK_CORNER_INDEX, annotations_for_view
from vtkdicom_app.app.panels import listen
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.measurements import MeasurementError, Sphere, outline, sphere_section
from vtkdicom_app.mpr import Plane, step_along
from vtkdicom_app.rendering.slice_view import SliceView
from vtkdicom_app.segmentation.model import EventKind
from vtkdicom_app.viewer_state import INTERACTIVE_TOOLS, Event, MeasureTool, SegmentSketch, StateEvent, ViewerState

__all__ = ["SlicePane", "HANDLE_PICK_PX"]

HANDLE_PICK_PX = 6
"""How near (screen pixels) a press must be to a measurement's handle to grab it."""

# events that change what every pane shows, and whether the slice must be resliced
_RESLICE = {StateEvent.VOLUME, StateEvent.FRAME, StateEvent.CROSSHAIR, StateEvent.PLANES}
_REDRAW = {StateEvent.WINDOW_LEVEL}
# per-view events (key = the pane's plane)
_OWN_RESLICE = {StateEvent.SLAB}
_OWN_REDRAW = {StateEvent.ZOOM, StateEvent.PAN}
# events that change only the segments drawn over the slice
_OVERLAY = {StateEvent.SEGMENTATION, StateEvent.SEGMENT_OPTIONS}
# events that change only the measurements drawn, or only the corner texts
_MEASURE = {StateEvent.MEASUREMENTS, StateEvent.MEASURE_POINTS, StateEvent.MEASURE_TOOL}
_CORNERS = {StateEvent.ANNOTATIONS}


class SlicePane(QVTKRenderWindowInteractor):
    """A :class:`~vtkdicom_app.rendering.slice_view.SliceView` on a Qt-hosted render window.

    Parameters
    ----------
    parent : QWidget
    state : ViewerState
        Input goes there; its events redraw this pane.
    plane : Plane
    hover : callable, optional
        ``hover(lps_point)`` when the pointer moves over the image without a button held
        (the status bar).
    error : callable, optional
        ``error(message)`` when a Segment Editor or measurement tool refuses a click (a seed
        outside the range, a ruler end outside the volume...); the message names the value.
    frame_text : callable, optional
        ``frame_text()``: the frame of a 4D series, for the bottom left corner.

    Measurements on this view's plane are drawn with their values (``view.measurement_labels``);
    with a measurement tool chosen (``state.set_measure_tool``) left clicks place its points.
    The corners show :func:`~vtkdicom_app.annotations.annotations_for_view` (``view.corner_text``).
    """

    def __init__(
        self,
        parent: QtWidgets.QWidget,
        state: ViewerState,
        plane: Plane,
        hover: Callable[[np.ndarray], None] | None = None,
        error: Callable[[str], None] | None = None,
        frame_text: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(parent)
        self._frame_text = frame_text
        self.state = state
        self.plane = plane
        self._hover = hover
        self._error = error
        # a 2D image needs no multisampling; without it a frame renders ~3x faster on llvmpipe
        self.GetRenderWindow().SetMultiSamples(0)
        self.view = SliceView(self.GetRenderWindow())
        style = vtkInteractorStyleUser()
        self._style = style  # keep the Python wrapper (and its observers) alive
        self.SetInteractorStyle(style)
        self._started = False
        self._stale = True
        self.redraws = 0  # how often the pane was drawn (tests check that events redraw it)
        self.overlay_redraws = 0  # how often only the segments were redrawn
        # the pointer position where a drag began (display pixels); the values live in the state
        self._press: dict[str, tuple[int, int]] = {}
        self._rotate_from = np.zeros(3)  # the LPS point under the pointer at the last step of a Ctrl+drag
        # input handlers render once at their end (a brush dab redraws the overlay and moves the outline)
        self._batch = 0
        self._render_pending = False
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
            ("LeaveEvent", self._leave),
            ("KeyPressEvent", self._key),
        ):
            style.AddObserver(event, handler)  # type: ignore[arg-type]  # VTK's stubs want an event id; names work too
        listen(self, state, self._on_state)

    # ------------------------------------------------------------------ drawing
    def start(self) -> None:
        """Initialise the interactor (once the window is shown), then draw what is pending."""
        if self._started:
            return
        self.Initialize()
        self.Start()
        self._started = True
        if self._stale:
            self.redraw(reslice=True)

    def _on_state(self, event: Event) -> None:
        name = event.name
        if name in _RESLICE or (name in _OWN_RESLICE and event.key is self.plane):
            self.redraw(reslice=True)
        elif name in _REDRAW or (name in _OWN_REDRAW and event.key is self.plane):
            self.redraw(reslice=False)
        elif name in _OVERLAY:
            self.redraw_overlay()
        elif name is StateEvent.SEGMENT:
            kind = event.value.kind
            if kind is EventKind.HISTORY or (kind is EventKind.MASK_CHANGED and not self.state.segment_touches_view(event.value.box, self.plane)):
                return
            self.redraw_overlay()
        elif name in _MEASURE:
            self.redraw_measurements()
        elif name in _CORNERS:
            self.redraw_corners()
        elif name is StateEvent.SEGMENT_SKETCH:
            self._show_sketch(event.value)
        elif name is StateEvent.SEGMENT_TOOL:
            self._show_sketch(None)

    def _ready(self) -> bool:
        return self._started and self.isVisible()

    def _render(self) -> None:
        if self._batch:
            self._render_pending = True
        else:
            self.GetRenderWindow().Render()

    def redraw(self, *, reslice: bool = True) -> None:
        """Show the state: the slice through the crosshair (``reslice``) or the last one again, and the segments over it.

        A hidden or not yet started pane only remembers that it is out of date.
        """
        state = self.state
        if state.volume is None or state.window_level is None:
            return
        if not self._ready():
            self._stale = True
            return
        s = self.view.slice if not reslice and not self._stale and self.view.slice is not None else state.slice(self.plane)
        view = state.view(self.plane)
        wl = state.window_level
        self.view.show(
            s,
            window=wl.window,
            level=wl.level,
            invert=state.invert,
            crosshair=tuple(float(v) for v in state.crosshair),
            zoom=view.zoom,
            pan=view.pan,
            overlay=state.segment_overlay(),
            crosshair_lines=list(state.crosshair_lines(self.plane).values()) if state.planes_rotated else None,
        )
        self._show_sketch(state.segment_sketch, render=False)
        self._show_measurements()
        self._show_corners()
        self._render()
        self._stale = False
        self.redraws += 1

    def _show_measurements(self) -> None:
        state, s = self.state, self.view.slice
        vol = state.volume
        if vol is None or s is None:
            return
        tolerance = step_along(vol, [float(v) for v in s.axes[:, 2]]) / 2.0  # half a slice step
        items: list[tuple[int, Any, bool, str]] = []
        for m in state.measurements:
            if isinstance(m.shape, Sphere):  # drawn where this plane cuts it
                cut = sphere_section(m.shape, s.axes, s.origin)
                if cut is None:
                    continue
                points, closed = cut, True
            else:
                points, closed = outline(m.shape)
                if not self.view.on_plane(points, tolerance):
                    continue
            try:
                label = state.measure(m.id).label()
            except MeasurementError:
                label = "outside the volume"
            items.append((m.id, points, closed, f"{m.name}: {label}"))
        if state.measure_points and self.view.on_plane(np.array(state.measure_points), tolerance):
            items.append((-1, np.array(state.measure_points), False, ""))
        self.view.show_measurements(items)

    def redraw_measurements(self) -> None:
        """Redraw only the measurements over the slice shown."""
        if self.view.slice is None or not self._ready():
            self._stale = True
            return
        self._show_measurements()
        self._render()

    def _show_corners(self) -> None:
        state = self.state
        if state.volume is None or not state.annotations.visible:
            self.view.show_corners(None)
            return
        frame = self._frame_text() if self._frame_text is not None else ""
        corners = annotations_for_view(state, self.plane, anonymize=state.annotations.anonymize, frame_text=frame)
        self.view.show_corners({VTK_CORNER_INDEX[c]: text for c, text in corners.as_dict().items()})

    def redraw_corners(self) -> None:
        """Redraw only the corner texts."""
        if self.view.slice is None or not self._ready():
            self._stale = True
            return
        self._show_corners()
        self._render()

    def redraw_overlay(self) -> None:
        """Redraw only the segments over the slice shown (after an edit, a new opacity...)."""
        if self.view.slice is None or not self._ready():
            self._stale = True
            return
        if self._stale:
            self.redraw(reslice=True)
            return
        self.view.show_overlay(self.state.segment_overlay())
        self._render()
        self.overlay_redraws += 1

    def _show_sketch(self, sketch: SegmentSketch | None, *, render: bool = True) -> None:
        if sketch is None or sketch.view is not self.plane:
            was = self.view.sketch_actor.GetVisibility()
            self.view.show_sketch(None)
            if not was:
                return
        elif sketch.radius_mm > 0:
            self.view.show_brush(sketch.points[0], sketch.radius_mm)
        else:
            self.view.show_sketch(sketch.points)
        if render and self._ready() and self.view.slice is not None:
            self._render()

    def patient_at(self, x: int, y: int) -> np.ndarray | None:
        """LPS point under display pixel (x, y), on this view's plane."""
        return self.view.patient_at(x, y)

    # ------------------------------------------------------------------ input
    def _active(self) -> bool:
        return self.state.volume is not None and self.view.slice is not None

    def _editing(self) -> bool:
        state = self.state
        return state.segment_tool in INTERACTIVE_TOOLS and state.segmentation is not None and state.current_segment is not None

    def _batched(self, fn: Callable[[], Any]) -> None:
        """Run an input handler; render once at its end."""
        self._batch += 1
        try:
            fn()
        except (VtkDicomError, ValueError) as exc:  # a tool refused the click: say why, change nothing
            if self._error is None:
                raise
            self._error(str(exc))
        finally:
            self._batch -= 1
            if not self._batch and self._render_pending:
                self._render_pending = False
                self.GetRenderWindow().Render()

    def _left_press(self, *_: Any) -> None:
        if not self._active():
            return
        if self.state.measure_tool is not MeasureTool.NONE:
            p = self.patient_at(*self.GetEventPosition())
            if p is not None:
                point: np.ndarray = p
                self._batched(lambda: self.state.measure_click(self.plane, point))
            return
        if self._editing():
            p = self.patient_at(*self.GetEventPosition())
            if p is not None:
                self._press["tool"] = self.GetEventPosition()
                self._batched(lambda: self.state.segment_press(self.plane, p))
            return
        if self.GetRepeatCount() >= 1:  # double click
            self.state.toggle_maximised(self.plane)
            return
        grab = self.patient_at(*self.GetEventPosition())
        if grab is not None and self.state.grab_measure_handle(self.plane, grab, HANDLE_PICK_PX * self.view.mm_per_pixel()) is not None:
            self._press["handle"] = self.GetEventPosition()  # drag a measurement's handle
            return
        if self.GetControlKey():  # Ctrl+drag: turn the other two planes about this view's normal
            grabbed = self.patient_at(*self.GetEventPosition())
            if grabbed is not None:
                self._press["rotate"] = self.GetEventPosition()
                self._rotate_from = grabbed
            return
        self._press["left"] = self.GetEventPosition()
        self._pick()

    def _left_release(self, *_: Any) -> None:
        self._press.pop("left", None)
        self._press.pop("rotate", None)
        if self._press.pop("handle", None) is not None:
            self.state.release_measure_handle()
        if self._press.pop("tool", None) is not None:
            p = self.patient_at(*self.GetEventPosition())
            self._batched(lambda: self.state.segment_release(self.plane, p))

    def _pick(self) -> None:
        p = self.patient_at(*self.GetEventPosition())
        if p is not None:
            self.state.set_crosshair(p)

    def _move(self, *_: Any) -> None:
        if not self._active():
            return
        x, y = self.GetEventPosition()
        if "middle" in self._press:
            x0, y0 = self._press["middle"]
            self.state.drag_pan(self.plane, x - x0, y - y0, self.view.mm_per_pixel())
        elif "right" in self._press:
            x0, y0 = self._press["right"]
            self.state.drag_window_level(x - x0, y - y0)
        elif "handle" in self._press:
            here = self.patient_at(x, y)
            if here is not None:
                to: np.ndarray = here
                self._batched(lambda: self.state.drag_measure_handle(to))
        elif "rotate" in self._press:
            here = self.patient_at(x, y)
            if here is not None:
                now: np.ndarray = here
                start, self._rotate_from = self._rotate_from, now
                self._batched(lambda: self.state.rotate_planes_by_drag(self.plane, start, now))
        elif "tool" in self._press:
            at = self.patient_at(x, y)
            if at is not None:
                point: np.ndarray = at
                self._batched(lambda: self._drag_tool(point))
        elif "left" in self._press:
            self._pick()
        else:
            p = self.patient_at(x, y)
            if p is not None:
                if self._hover is not None:
                    self._hover(p)
                if self._editing():
                    self._batched(lambda: self.state.segment_hover(self.plane, p))

    def _drag_tool(self, p: np.ndarray) -> None:
        self.state.segment_drag(self.plane, p)
        self.state.segment_hover(self.plane, p)  # the brush outline follows

    def _leave(self, *_: Any) -> None:
        if self.state.segment_sketch is not None and self.state.segment_sketch.radius_mm > 0:
            self.state.segment_hover(self.plane, None)

    def _wheel(self, direction: int) -> None:
        """Wheel: next/previous slice; Ctrl+wheel: zoom."""
        if not self._active():
            return
        if self.GetControlKey():
            self.state.zoom_step(self.plane, direction)
        else:
            self.state.step_crosshair(self.plane, direction)

    def _middle_press(self, *_: Any) -> None:
        if self._active():
            self._press["middle"] = self.GetEventPosition()
            self.state.start_pan(self.plane)

    def _middle_release(self, *_: Any) -> None:
        if self._press.pop("middle", None) is not None:
            self.state.end_pan(self.plane)

    def _right_press(self, *_: Any) -> None:
        if self._active():
            self._press["right"] = self.GetEventPosition()
            self.state.start_window_drag()

    def _right_release(self, *_: Any) -> None:
        if self._press.pop("right", None) is not None:
            self.state.end_window_drag()

    def _key(self, *_: Any) -> None:
        if not self._active():
            return
        key = self.GetKeySym()
        if key in ("Prior", "Page_Up", "Up"):
            self.state.step_crosshair(self.plane, 1)
        elif key in ("Next", "Page_Down", "Down"):
            self.state.step_crosshair(self.plane, -1)
