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

from vtkdicom_app.app.panels import listen
from vtkdicom_app.mpr import Plane
from vtkdicom_app.rendering.slice_view import SliceView
from vtkdicom_app.viewer_state import Event, StateEvent, ViewerState

__all__ = ["SlicePane"]

# events that change what every pane shows, and whether the slice must be resliced
_RESLICE = {StateEvent.VOLUME, StateEvent.FRAME, StateEvent.CROSSHAIR}
_REDRAW = {StateEvent.WINDOW_LEVEL}
# per-view events (key = the pane's plane)
_OWN_RESLICE = {StateEvent.SLAB}
_OWN_REDRAW = {StateEvent.ZOOM, StateEvent.PAN}


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
    """

    def __init__(self, parent: QtWidgets.QWidget, state: ViewerState, plane: Plane, hover: Callable[[np.ndarray], None] | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.plane = plane
        self._hover = hover
        self.view = SliceView(self.GetRenderWindow())
        style = vtkInteractorStyleUser()
        self._style = style  # keep the Python wrapper (and its observers) alive
        self.SetInteractorStyle(style)
        self._started = False
        self._stale = True
        self.redraws = 0  # how often the pane was drawn (tests check that events redraw it)
        # the pointer position where a drag began (display pixels); the values live in the state
        self._press: dict[str, tuple[int, int]] = {}
        for event, handler in (
            ("LeftButtonPressEvent", self._left_press),
            ("LeftButtonReleaseEvent", lambda *_: self._press.pop("left", None)),
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
        if event.name in _RESLICE or (event.name in _OWN_RESLICE and event.key is self.plane):
            self.redraw(reslice=True)
        elif event.name in _REDRAW or (event.name in _OWN_REDRAW and event.key is self.plane):
            self.redraw(reslice=False)

    def redraw(self, *, reslice: bool = True) -> None:
        """Show the state: the slice through the crosshair (``reslice``) or the last one again.

        A hidden or not yet started pane only remembers that it is out of date.
        """
        state = self.state
        if state.volume is None or state.window_level is None:
            return
        if not (self._started and self.isVisible()):
            self._stale = True
            return
        s = self.view.slice if not reslice and not self._stale and self.view.slice is not None else state.slice(self.plane)
        view = state.view(self.plane)
        wl = state.window_level
        self.view.show(s, window=wl.window, level=wl.level, invert=state.invert, crosshair=state.crosshair, zoom=view.zoom, pan=view.pan)
        self.GetRenderWindow().Render()
        self._stale = False
        self.redraws += 1

    def patient_at(self, x: int, y: int) -> np.ndarray | None:
        """LPS point under display pixel (x, y), on this view's plane."""
        return self.view.patient_at(x, y)

    # ------------------------------------------------------------------ input
    def _active(self) -> bool:
        return self.state.volume is not None and self.view.slice is not None

    def _left_press(self, *_: Any) -> None:
        if not self._active():
            return
        if self.GetRepeatCount() >= 1:  # double click
            self.state.toggle_maximised(self.plane)
            return
        self._press["left"] = self.GetEventPosition()
        self._pick()

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
        elif "left" in self._press:
            self._pick()
        elif self._hover is not None:
            p = self.patient_at(x, y)
            if p is not None:
                self._hover(p)

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
