"""The viewer's state without Qt: one owner of everything the viewer shows, with events.

The pattern of napari's layer events and 3D Slicer's parameter node: :class:`ViewerState`
holds every number the viewer displays (the crosshair in LPS, per-view zoom, pan and slab,
window/level and its drag gains, surfaces and their looks, the layout, the volume rendering
look, the current volume and series), validates each change in its setter (a clear
``ValueError``, or a clamp where the viewer clamps) and tells its listeners what changed.
Widgets translate input into setter calls and redraw when an :class:`Event` arrives; they
keep no numbers of their own. Scripts drive the same object without Qt::

    state = ViewerState()
    state.events.connect(print)                   # Event(name=<StateEvent.ZOOM...>, value=2.0, key=<Plane.AXIAL...>)
    state.set_volume(vda.load("study/"))
    state.step_crosshair(Plane.AXIAL, 3)          # three true slice steps up, stops at the last slice
    state.set_zoom(Plane.AXIAL, 2.0)
    state.apply_window_preset("lung")
    s = state.slice(Plane.CORONAL)                # the coronal slice through the crosshair

Events
------
Every setter emits at most one :class:`Event` per thing it changed (a slab set on all three
views emits one ``SLAB`` event per view) and none when the new value equals the old one.
An event carries its :class:`StateEvent` name, the new value (immutable: frozen dataclasses,
tuples, read-only arrays) and a key: the view (:class:`~vtkdicom_app.mpr.Plane`) of per-view
events, the index of ``SURFACE``. ``VOLUME`` means that everything that depends on the volume
was reset (crosshair at its centre, window from the header, views, slabs and surfaces):
listeners read what they need from the state.

Threads
-------
The state belongs to the thread that created it (the GUI thread). A setter called from any
other thread raises :class:`StateThreadError`: slow work runs in workers that return
immutable results, and the GUI thread applies them. Listeners therefore always run on the
owner thread.

Extending (segments, measurements)
----------------------------------
A new kind of viewer data gets: a member of :class:`StateEvent`, an immutable value type
(a frozen dataclass, validated in ``__post_init__``), a private field initialised in
``__init__`` (and reset in :meth:`ViewerState.set_volume` when it belongs to a volume), a
read-only property, and setters that call ``self._check_thread()``, validate, compare with
the old value and call ``self._emit(StateEvent.X, new_value, key)``. Its computation lives
in a library module, its widget in ``app/``. Segments (label maps per volume) and
measurements (LPS points and their derived lengths/angles) are expected to follow this
recipe; nothing here stands in for them yet.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from vtkdicom_app.display import (
    ZOOM_STEP,
    DragGains,
    WindowLevel,
    auto_window_level,
    clamp_pan,
    clamp_zoom,
    drag_window_level,
    load_wl_presets,
    window_level_from_header,
)
from vtkdicom_app.geometry import as_enum
from vtkdicom_app.io.loader import SeriesInfo
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane, Reslicer, SlabMode, Slice, step_point
from vtkdicom_app.surface import MeshReport
from vtkdicom_app.volume import Volume, VolumeSequence

__all__ = [
    "MAX_RECENT",
    "SLAB_MAX_MM",
    "VOLUME_OPACITY_RANGE",
    "VOLUME_SHIFT_RANGE",
    "Event",
    "EventEmitter",
    "Layout",
    "LayoutState",
    "Slab",
    "StateEvent",
    "StateThreadError",
    "Surface",
    "ViewState",
    "ViewerState",
    "VolumeLook",
]

SLAB_MAX_MM = 200.0
"""Thickest slab the viewer shows (mm); thicker requests are clamped."""
VOLUME_SHIFT_RANGE = (-1000.0, 1000.0)
"""Volume rendering transfer-function shift (the data's units), clamped."""
VOLUME_OPACITY_RANGE = (0.0, 3.0)
"""Volume rendering opacity scale, clamped."""
MAX_RECENT = 10
"""Entries kept in the recent-paths list."""


_EnumT = TypeVar("_EnumT", bound=enum.Enum)


def _enum(cls: type[_EnumT], value: Any, what: str) -> _EnumT:
    try:
        return as_enum(cls, value)
    except ValueError:
        raise ValueError(f"{value!r} is not a {what}; use one of: {', '.join(str(m.value) for m in cls)}") from None


def _plane(view: Any) -> Plane:
    plane = _enum(Plane, view, "view")
    if plane not in ORTHOGONAL_PLANES:
        raise ValueError(f"{plane.value} is not a view of the viewer; use axial, coronal or sagittal")
    return plane


def _finite(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return number


def _point(xyz: Any) -> np.ndarray:
    try:
        p = np.asarray(xyz, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        p = np.zeros(0)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"the crosshair is three finite numbers (LPS mm), got {xyz!r}")
    return p


def _frozen(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=np.float64)
    out.setflags(write=False)
    return out


class StateEvent(enum.Enum):
    """What changed; the value an :class:`Event` carries is given for each."""

    SERIES = "series"
    """tuple of SeriesInfo: the last scan (the series browser)."""
    VOLUME = "volume"
    """Volume or None: a new volume; crosshair, window, views, slabs and surfaces were reset."""
    FRAME = "frame"
    """int: the frame of the sequence shown (``state.volume`` is that frame's volume)."""
    CROSSHAIR = "crosshair"
    """numpy.ndarray (read-only, LPS mm)."""
    WINDOW_LEVEL = "window_level"
    """WindowLevel."""
    DRAG_GAINS = "drag_gains"
    """DragGains."""
    ZOOM = "zoom"
    """float; key: the Plane."""
    PAN = "pan"
    """tuple of float (mm along the image's columns, rows); key: the Plane."""
    SLAB = "slab"
    """Slab; key: the Plane."""
    SURFACES = "surfaces"
    """tuple of Surface: one was added or removed."""
    SURFACE = "surface"
    """Surface: its colour, opacity or visibility changed; key: its index."""
    LAYOUT = "layout"
    """LayoutState."""
    VOLUME_LOOK = "volume_look"
    """VolumeLook: the volume rendering preset, shift and opacity scale."""
    RECENT = "recent"
    """tuple of str: recently opened paths, newest first."""


@dataclasses.dataclass(frozen=True)
class Event:
    """One change of the state.

    Attributes
    ----------
    name : StateEvent
    value : Any
        The new value (see :class:`StateEvent` for its type).
    key : Any
        The view (Plane) of ZOOM, PAN and SLAB; the index of SURFACE; None otherwise.
    """

    name: StateEvent
    value: Any
    key: Any = None


E = TypeVar("E")


class EventEmitter(Generic[E]):
    """A small, typed, synchronous event mechanism (no Qt).

    Listeners are called in the order they were connected, on the thread that emits.
    An exception in a listener propagates to the code that changed the state.

    Examples
    --------
    >>> emitter: EventEmitter[int] = EventEmitter()
    >>> seen = []
    >>> _ = emitter.connect(seen.append)
    >>> emitter.emit(3)
    >>> emitter.disconnect(seen.append)
    >>> emitter.emit(4)
    >>> seen
    [3]
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[E], None]] = []

    def connect(self, callback: Callable[[E], None]) -> Callable[[E], None]:
        """Call ``callback(event)`` on every emit (once, however often it is connected).

        Returns
        -------
        callable
            ``callback``, so that ``connect`` can decorate a function.
        """
        if not callable(callback):
            raise TypeError(f"a listener must be callable, got {callback!r}")
        if callback not in self._listeners:
            self._listeners.append(callback)
        return callback

    def disconnect(self, callback: Callable[[E], None]) -> None:
        """Stop calling ``callback``.

        Raises
        ------
        ValueError
            It was not connected.
        """
        try:
            self._listeners.remove(callback)
        except ValueError:
            raise ValueError(f"{callback!r} is not connected") from None

    def is_connected(self, callback: Callable[[E], None]) -> bool:
        """Whether ``callback`` is connected."""
        return callback in self._listeners

    def emit(self, event: E) -> None:
        """Call every listener with ``event`` (listeners connected meanwhile wait for the next one)."""
        for callback in tuple(self._listeners):
            callback(event)

    def __len__(self) -> int:
        return len(self._listeners)


class StateThreadError(RuntimeError):
    """A state setter was called from a thread other than the state's owner (the GUI thread)."""


class Layout(enum.Enum):
    """How the four views are arranged."""

    GRID = "2x2"
    ROW_PLUS_3D = "1x3+3D"
    SINGLE = "single"


@dataclasses.dataclass(frozen=True)
class LayoutState:
    """The arrangement of the views.

    Attributes
    ----------
    layout : Layout
    single_view : Plane or None
        The maximised view of ``Layout.SINGLE`` (None: the 3D view).
    """

    layout: Layout = Layout.GRID
    single_view: Plane | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", _enum(Layout, self.layout, "layout"))
        if self.single_view is not None:
            object.__setattr__(self, "single_view", _plane(self.single_view))


@dataclasses.dataclass(frozen=True)
class Slab:
    """A thick-slab setting of one view.

    Attributes
    ----------
    thickness_mm : float
        0 for a thin slice; clamped to :data:`SLAB_MAX_MM`.
    mode : SlabMode
        NONE exactly when the thickness is 0.
    """

    thickness_mm: float = 0.0
    mode: SlabMode = SlabMode.NONE

    def __post_init__(self) -> None:
        thickness = _finite(self.thickness_mm, "slab thickness (mm)")
        if thickness < 0:
            raise ValueError(f"slab thickness must be >= 0 mm (0 turns the slab off), got {self.thickness_mm!r}")
        mode = _enum(SlabMode, self.mode, "slab mode")
        if thickness == 0:
            mode = SlabMode.NONE
        elif mode is SlabMode.NONE:
            raise ValueError(f"a {thickness:g} mm slab needs a mode: mip, minip or mean")
        object.__setattr__(self, "thickness_mm", min(SLAB_MAX_MM, thickness))
        object.__setattr__(self, "mode", mode)


@dataclasses.dataclass(frozen=True)
class ViewState:
    """Zoom, pan and slab of one 2D view.

    Attributes
    ----------
    zoom : float
        1 = the slice's footprint fills the view; clamped to
        :data:`~vtkdicom_app.display.ZOOM_MIN`..:data:`~vtkdicom_app.display.ZOOM_MAX`.
    pan : tuple of float
        Offset of the view's centre, mm along the image's columns and rows.
    slab : Slab
    """

    zoom: float = 1.0
    pan: tuple[float, float] = (0.0, 0.0)
    slab: Slab = Slab()


@dataclasses.dataclass(frozen=True, eq=False)
class Surface:
    """One surface of the 3D view (immutable: looks change through the state).

    Attributes
    ----------
    name : str
    mesh : vtkPolyData
        LPS mm.
    report : MeshReport
    color : tuple of float
        RGB, each 0..1.
    opacity : float
        0..1.
    visible : bool
    """

    name: str
    mesh: Any
    report: MeshReport
    color: tuple[float, float, float] = (0.9, 0.8, 0.6)
    opacity: float = 1.0
    visible: bool = True

    def __post_init__(self) -> None:
        try:
            color = tuple(float(c) for c in self.color)
        except (TypeError, ValueError):
            color = ()
        if len(color) != 3 or not all(0.0 <= c <= 1.0 for c in color):
            raise ValueError(f"a surface colour is three numbers 0..1 (RGB), got {self.color!r}")
        opacity = _finite(self.opacity, "surface opacity")
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"surface opacity must be within 0..1, got {self.opacity!r}")
        object.__setattr__(self, "color", color)
        object.__setattr__(self, "opacity", opacity)
        object.__setattr__(self, "visible", bool(self.visible))

    def look(self) -> tuple[tuple[float, float, float], float, bool]:
        """``(color, opacity, visible)``."""
        return self.color, self.opacity, self.visible


@dataclasses.dataclass(frozen=True)
class VolumeLook:
    """The volume rendering of the 3D view.

    Attributes
    ----------
    preset : str
        A name from :func:`vtkdicom_app.rendering.load_volume_presets`.
    shift : float
        Transfer-function shift in the data's units, clamped to :data:`VOLUME_SHIFT_RANGE`.
    opacity : float
        Opacity scale, clamped to :data:`VOLUME_OPACITY_RANGE`.
    """

    preset: str = "ct-bone"
    shift: float = 0.0
    opacity: float = 1.0

    def __post_init__(self) -> None:
        from vtkdicom_app.rendering.volume_render import load_volume_presets

        presets = load_volume_presets()
        if self.preset not in presets:
            raise ValueError(f"unknown volume rendering preset {self.preset!r}; use one of: {', '.join(presets)}")
        shift = _finite(self.shift, "volume rendering shift")
        opacity = _finite(self.opacity, "volume rendering opacity scale")
        object.__setattr__(self, "shift", min(VOLUME_SHIFT_RANGE[1], max(VOLUME_SHIFT_RANGE[0], shift)))
        object.__setattr__(self, "opacity", min(VOLUME_OPACITY_RANGE[1], max(VOLUME_OPACITY_RANGE[0], opacity)))


class ViewerState:
    """Everything the viewer shows, validated, with events (see the module docstring).

    Attributes
    ----------
    events : EventEmitter of Event
        ``state.events.connect(callback)`` / ``disconnect(callback)``.
    """

    def __init__(self) -> None:
        self.events: EventEmitter[Event] = EventEmitter()
        self._owner = threading.get_ident()
        self._series: tuple[SeriesInfo, ...] = ()
        self._path: str | None = None
        self._series_uid: str | None = None
        self._volume: Volume | None = None
        self._sequence: VolumeSequence | None = None
        self._frame = 0
        self._reslicer: Reslicer | None = None
        self._pan_limit: float | None = None
        self._crosshair = _frozen(np.zeros(3))
        self._window_level: WindowLevel | None = None
        self._drag_gains = DragGains()
        self._views: dict[Plane, ViewState] = {p: ViewState() for p in ORTHOGONAL_PLANES}
        self._surfaces: tuple[Surface, ...] = ()
        self._layout = LayoutState()
        self._volume_look = VolumeLook()
        self._recent: tuple[str, ...] = ()
        # where a drag began (transient: not state, no events)
        self._wl_anchor: WindowLevel | None = None
        self._pan_anchor: dict[Plane, tuple[float, float]] = {}

    # ------------------------------------------------------------------ machinery
    @property
    def owner_thread(self) -> int:
        """``threading.get_ident()`` of the thread that may change the state."""
        return self._owner

    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise StateThreadError(
                f"the viewer state was changed from thread {threading.get_ident()}, but it belongs to thread "
                f"{self._owner} (the GUI thread): return results from the worker and apply them there"
            )

    def _emit(self, name: StateEvent, value: Any, key: Any = None) -> None:
        self.events.emit(Event(name, value, key))

    def _need_volume(self, what: str) -> Volume:
        if self._volume is None:
            raise ValueError(f"no volume loaded: cannot {what}")
        return self._volume

    # ------------------------------------------------------------------ read-only views
    @property
    def series(self) -> tuple[SeriesInfo, ...]:
        """The last scan's series (the series browser)."""
        return self._series

    @property
    def path(self) -> str | None:
        """What was opened (folder, file or DICOMDIR)."""
        return self._path

    @property
    def series_uid(self) -> str | None:
        """The uid of the series shown (None: the loader's choice)."""
        return self._series_uid

    @property
    def volume(self) -> Volume | None:
        """The volume shown (the current frame's of a sequence)."""
        return self._volume

    @property
    def sequence(self) -> VolumeSequence | None:
        """The 4D series shown, or None."""
        return self._sequence

    @property
    def frame(self) -> int:
        """The frame of the sequence shown (0 without a sequence)."""
        return self._frame

    @property
    def crosshair(self) -> np.ndarray:
        """The crosshair, LPS mm (read-only array)."""
        return self._crosshair

    @property
    def window_level(self) -> WindowLevel | None:
        """The display window (None before a volume is loaded)."""
        return self._window_level

    @property
    def drag_gains(self) -> DragGains:
        """Window and level units per pixel of a right-button drag."""
        return self._drag_gains

    def view(self, view: Plane | str) -> ViewState:
        """Zoom, pan and slab of one 2D view."""
        return self._views[_plane(view)]

    @property
    def views(self) -> dict[Plane, ViewState]:
        """Zoom, pan and slab of every 2D view (a new dict)."""
        return dict(self._views)

    @property
    def surfaces(self) -> tuple[Surface, ...]:
        """The surfaces of the 3D view."""
        return self._surfaces

    @property
    def layout(self) -> LayoutState:
        """The arrangement of the views."""
        return self._layout

    @property
    def volume_look(self) -> VolumeLook:
        """The volume rendering preset, shift and opacity scale."""
        return self._volume_look

    @property
    def recent(self) -> tuple[str, ...]:
        """Recently opened paths, newest first."""
        return self._recent

    @property
    def invert(self) -> bool:
        """The volume is MONOCHROME1: shown inverted."""
        vol = self._volume
        return bool(vol is not None and vol.invert_display)

    # ------------------------------------------------------------------ queries (computed, not stored)
    def slice(self, view: Plane | str) -> Slice:
        """The slice of one view through the crosshair, with that view's slab."""
        plane = _plane(view)
        if self._reslicer is None:
            raise ValueError("no volume loaded: nothing to slice")
        slab = self._views[plane].slab
        return self._reslicer.reslice(plane, point=self._crosshair, slab_mm=slab.thickness_mm, slab_mode=slab.mode)

    def position(self, view: Plane | str) -> float:
        """The LPS coordinate of a view's plane through the crosshair (z, y or x)."""
        return float(self._crosshair[{Plane.AXIAL: 2, Plane.CORONAL: 1, Plane.SAGITTAL: 0}[_plane(view)]])

    def value_at(self, xyz: Sequence[float]) -> tuple[float | None, tuple[int, int, int] | None]:
        """Value and voxel index ``(i, j, k)`` nearest an LPS point, ``(None, None)`` outside."""
        vol = self._volume
        if vol is None:
            return None, None
        ijk = np.round(vol.patient_to_index(_point(xyz))).astype(int)
        if np.any(ijk < 0) or np.any(ijk >= np.asarray(vol.dimensions)):
            return None, None
        i, j, k = (int(v) for v in ijk)
        value = vol.array[k, j, i]
        return (float(value) if np.ndim(value) == 0 else None), (i, j, k)

    # ------------------------------------------------------------------ data
    def set_series(self, infos: Iterable[SeriesInfo], path: str | None = None) -> None:
        """The series found by a scan of ``path`` (emits SERIES)."""
        self._check_thread()
        new = tuple(infos)
        if not all(isinstance(s, SeriesInfo) for s in new):
            raise ValueError("set_series() takes the SeriesInfo list that scan() returned")
        self._path = None if path is None else str(path)
        if new != self._series:
            self._series = new
            self._emit(StateEvent.SERIES, new)

    def set_volume(
        self,
        vol: Volume,
        *,
        sequence: VolumeSequence | None = None,
        path: str | None = None,
        series_uid: str | None = None,
    ) -> None:
        """Show a loaded volume (emits VOLUME).

        The crosshair goes to the volume's centre, the window comes from the header (else
        automatic), zoom, pan and slabs are reset, surfaces cleared and the volume rendering
        preset follows the modality (``ct-bone`` for CT, ``mr-default`` otherwise).

        Parameters
        ----------
        vol : Volume
            Frame 0 of ``sequence`` when one is given.
        sequence : VolumeSequence, optional
        path : str, optional
            What was opened (kept for the series browser).
        series_uid : str, optional
        """
        self._check_thread()
        if not isinstance(vol, Volume):
            raise ValueError(f"set_volume() takes a Volume, got {type(vol).__name__}")
        if sequence is not None and len(sequence) == 0:
            raise ValueError("the sequence has no volumes")
        self._volume, self._sequence, self._frame = vol, sequence, 0
        if path is not None:
            self._path = str(path)
        self._series_uid = series_uid
        self._reslicer = Reslicer(vol)
        corners = vol.corners
        self._pan_limit = max(1.0, float(np.linalg.norm(corners.max(axis=0) - corners.min(axis=0))) / 2.0)  # half the box's diagonal
        self._crosshair = _frozen(self._reslicer.centre())
        self._window_level = window_level_from_header(vol) or auto_window_level(vol)
        self._views = {p: ViewState() for p in ORTHOGONAL_PLANES}
        self._surfaces = ()
        modality = vol.modality
        self._volume_look = VolumeLook("ct-bone" if modality in ("CT", "") else "mr-default")
        self._wl_anchor, self._pan_anchor = None, {}
        self._emit(StateEvent.VOLUME, vol)

    def set_frame(self, n: int) -> None:
        """Show frame ``n`` of the sequence (wraps around); crosshair, window and views stay (emits FRAME)."""
        self._check_thread()
        if self._sequence is None:
            raise ValueError("no sequence loaded: a plain 3D volume has no frames")
        if isinstance(n, bool) or not _finite(n, "frame").is_integer():
            raise ValueError(f"a frame is a whole number, got {n!r}")
        frame = int(float(n)) % len(self._sequence)
        if frame == self._frame:
            return
        self._frame = frame
        self._volume = self._sequence[frame]
        self._reslicer = Reslicer(self._volume)
        self._emit(StateEvent.FRAME, frame)

    def add_recent(self, path: str) -> None:
        """Put a path first in the recent list (at most :data:`MAX_RECENT`; emits RECENT)."""
        self._check_thread()
        path = str(path)
        if not path:
            raise ValueError("a recent path must not be empty")
        self.set_recent((path, *(p for p in self._recent if p != path)))

    def set_recent(self, paths: Iterable[str]) -> None:
        """The recent list (from the settings at start; emits RECENT)."""
        self._check_thread()
        new = tuple(dict.fromkeys(str(p) for p in paths if p))[:MAX_RECENT]
        if new != self._recent:
            self._recent = new
            self._emit(StateEvent.RECENT, new)

    # ------------------------------------------------------------------ crosshair
    def set_crosshair(self, xyz: Sequence[float]) -> None:
        """Move the crosshair to an LPS point (a click or drag in a view; emits CROSSHAIR)."""
        self._check_thread()
        p = _point(xyz)
        if np.array_equal(p, self._crosshair):
            return
        self._crosshair = _frozen(p)
        self._emit(StateEvent.CROSSHAIR, self._crosshair)

    def step_crosshair(self, view: Plane | str, n: int = 1) -> None:
        """Move the crosshair ``n`` true slice steps along a view's normal (wheel, PageUp/PageDown).

        The view's plane stops at the volume's first and last slice (emits CROSSHAIR when it moved).
        """
        self._check_thread()
        vol = self._need_volume("step through slices")
        self.set_crosshair(step_point(vol, self._crosshair, _plane(view), _finite(n, "slice steps"), clamp=True))

    # ------------------------------------------------------------------ window / level
    def set_window_level(self, window: float, level: float, name: str = "") -> None:
        """Set the display window (width > 0, finite level; emits WINDOW_LEVEL).

        Without a name, the same width and level as now change nothing (the preset name stays).
        """
        self._check_thread()
        wl = WindowLevel(window, level, str(name))
        old = self._window_level
        if not name and old is not None and (old.window, old.level) == (wl.window, wl.level):
            return
        self._set_wl(wl)

    def _set_wl(self, wl: WindowLevel) -> None:
        if wl != self._window_level:
            self._window_level = wl
            self._emit(StateEvent.WINDOW_LEVEL, wl)

    def reset_window_level(self) -> None:
        """The window from the header, else automatic (padding excluded)."""
        self._check_thread()
        vol = self._need_volume("take a window from its header")
        self._set_wl(window_level_from_header(vol) or auto_window_level(vol))

    def apply_window_preset(self, name: str) -> None:
        """A window/level preset by name (:func:`~vtkdicom_app.display.load_wl_presets`)."""
        self._check_thread()
        presets = load_wl_presets()
        if name not in presets:
            raise ValueError(f"unknown window preset {name!r}; use one of: {', '.join(presets)}")
        self._set_wl(presets[name])

    def start_window_drag(self) -> None:
        """A right-button drag begins: later drags move from the current window."""
        self._check_thread()
        if self._window_level is None:
            raise ValueError("no window to drag: load a volume first")
        self._wl_anchor = self._window_level

    def drag_window_level(self, dx_px: float, dy_px: float) -> None:
        """The pointer moved ``(dx_px, dy_px)`` display pixels (right, up) since the drag began.

        ``window = start + dx * gains.window`` (never below 1, or below the start when that
        was narrower), ``level = start + dy * gains.level``
        (:func:`~vtkdicom_app.display.drag_window_level`). Without :meth:`start_window_drag`
        the drag starts from the current window.
        """
        self._check_thread()
        start = self._wl_anchor or self._window_level
        if start is None:
            raise ValueError("no window to drag: load a volume first")
        self._set_wl(drag_window_level(start, dx_px, dy_px, self._drag_gains))

    def end_window_drag(self) -> None:
        """The right-button drag ended."""
        self._check_thread()
        self._wl_anchor = None

    def set_drag_gains(self, window: float, level: float) -> None:
        """Window and level units per pixel of a right-button drag (> 0; emits DRAG_GAINS)."""
        self._check_thread()
        gains = DragGains(window, level)
        if gains != self._drag_gains:
            self._drag_gains = gains
            self._emit(StateEvent.DRAG_GAINS, gains)

    # ------------------------------------------------------------------ zoom / pan / slab
    def _set_view(self, plane: Plane, name: StateEvent, **change: Any) -> None:
        old = self._views[plane]
        new = dataclasses.replace(old, **change)
        if new != old:
            self._views[plane] = new
            self._emit(name, getattr(new, name.value), plane)

    def set_zoom(self, view: Plane | str, zoom: float) -> None:
        """Zoom of a view, clamped like the viewer's (emits ZOOM)."""
        self._check_thread()
        self._set_view(_plane(view), StateEvent.ZOOM, zoom=clamp_zoom(zoom))

    def zoom_step(self, view: Plane | str, notches: int) -> None:
        """Ctrl+wheel: zoom by :data:`~vtkdicom_app.display.ZOOM_STEP` per notch (negative: out)."""
        self._check_thread()
        plane = _plane(view)
        self.set_zoom(plane, self._views[plane].zoom * ZOOM_STEP ** _finite(notches, "zoom notches"))

    def set_pan(self, view: Plane | str, pan: Sequence[float]) -> None:
        """Offset of a view in mm (columns, rows), each within half the volume's diagonal (emits PAN)."""
        self._check_thread()
        self._set_view(_plane(view), StateEvent.PAN, pan=clamp_pan(pan, self._pan_limit))

    def start_pan(self, view: Plane | str) -> None:
        """A middle-button drag begins in a view."""
        self._check_thread()
        plane = _plane(view)
        self._pan_anchor[plane] = self._views[plane].pan

    def drag_pan(self, view: Plane | str, dx_px: float, dy_px: float, mm_per_px: float) -> None:
        """The pointer moved ``(dx_px, dy_px)`` display pixels (right, up) since the pan began.

        The image follows the pointer: ``pan = start - (dx, -dy) * mm_per_px`` (rows grow
        downwards), clamped like :meth:`set_pan`.
        """
        self._check_thread()
        plane = _plane(view)
        scale = _finite(mm_per_px, "mm per pixel")
        if scale <= 0:
            raise ValueError(f"mm per pixel must be positive, got {mm_per_px!r}")
        x0, y0 = self._pan_anchor.get(plane, self._views[plane].pan)
        self.set_pan(plane, (x0 - _finite(dx_px, "pan drag") * scale, y0 + _finite(dy_px, "pan drag") * scale))

    def end_pan(self, view: Plane | str) -> None:
        """The middle-button drag ended."""
        self._check_thread()
        self._pan_anchor.pop(_plane(view), None)

    def reset_view(self, view: Plane | str | None = None) -> None:
        """Zoom 1 and no pan, for one view or (None) all three."""
        self._check_thread()
        for plane in ORTHOGONAL_PLANES if view is None else (_plane(view),):
            self.set_zoom(plane, 1.0)
            self.set_pan(plane, (0.0, 0.0))

    def set_slab(self, thickness_mm: float, mode: SlabMode | str = SlabMode.MIP, view: Plane | str | None = None) -> None:
        """Thick-slab MPR of one view, or (None) all three; 0 mm turns it off (emits SLAB per view changed).

        Raises
        ------
        ValueError
            Negative or non-finite thickness, an unknown mode, or mode NONE with a thickness.
        """
        self._check_thread()
        slab = Slab(thickness_mm, mode)
        for plane in ORTHOGONAL_PLANES if view is None else (_plane(view),):
            self._set_view(plane, StateEvent.SLAB, slab=slab)

    # ------------------------------------------------------------------ surfaces
    def _surface_index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self._surfaces):
            n = len(self._surfaces)
            raise ValueError(f"no surface {index!r}: " + (f"the indices are 0..{n - 1}" if n else "there are no surfaces"))
        return int(index)

    def add_surface(self, surface: Surface) -> int:
        """Add a surface to the 3D view (emits SURFACES); returns its index."""
        self._check_thread()
        if not isinstance(surface, Surface):
            raise ValueError(f"add_surface() takes a Surface, got {type(surface).__name__}")
        self._surfaces = (*self._surfaces, surface)
        self._emit(StateEvent.SURFACES, self._surfaces)
        return len(self._surfaces) - 1

    def remove_surface(self, index: int) -> None:
        """Remove a surface (emits SURFACES)."""
        self._check_thread()
        i = self._surface_index(index)
        self._surfaces = self._surfaces[:i] + self._surfaces[i + 1 :]
        self._emit(StateEvent.SURFACES, self._surfaces)

    def set_surface_look(
        self,
        index: int,
        *,
        color: Sequence[float] | None = None,
        opacity: float | None = None,
        visible: bool | None = None,
    ) -> None:
        """Colour (RGB 0..1), opacity (0..1) and visibility of a surface (emits SURFACE, key = index)."""
        self._check_thread()
        i = self._surface_index(index)
        old = self._surfaces[i]
        change: dict[str, Any] = {}
        if color is not None:
            change["color"] = color
        if opacity is not None:
            change["opacity"] = opacity
        if visible is not None:
            change["visible"] = visible
        new = dataclasses.replace(old, **change)
        if new.look() != old.look():
            self._surfaces = self._surfaces[:i] + (new,) + self._surfaces[i + 1 :]
            self._emit(StateEvent.SURFACE, new, i)

    # ------------------------------------------------------------------ layout and 3D look
    def set_layout(self, layout: Layout | str, single_view: Plane | str | None = None) -> None:
        """Arrange the views: 2x2, 1x3+3D, or one view maximised (None: the 3D view; emits LAYOUT)."""
        self._check_thread()
        new = LayoutState(_enum(Layout, layout, "layout"), single_view)
        if new != self._layout:
            self._layout = new
            self._emit(StateEvent.LAYOUT, new)

    def toggle_maximised(self, view: Plane | str | None) -> None:
        """Double click: maximise a view (None: the 3D view), or go back to the 2x2 grid."""
        self._check_thread()
        if self._layout.layout is Layout.SINGLE:
            self.set_layout(Layout.GRID)
        else:
            self.set_layout(Layout.SINGLE, view)

    def set_volume_look(self, preset: str | None = None, *, shift: float | None = None, opacity: float | None = None) -> None:
        """Volume rendering preset, shift and opacity scale; what is not given stays (emits VOLUME_LOOK)."""
        self._check_thread()
        old = self._volume_look
        new = VolumeLook(
            old.preset if preset is None else str(preset),
            old.shift if shift is None else shift,
            old.opacity if opacity is None else opacity,
        )
        if new != old:
            self._volume_look = new
            self._emit(StateEvent.VOLUME_LOOK, new)
