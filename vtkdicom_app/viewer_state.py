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
in a library module, its widget in ``app/``. Measurements (LPS points and their derived
lengths/angles) are expected to follow this recipe.

Segments (the Segment Editor)
-----------------------------
The state holds the :class:`~vtkdicom_app.segmentation.SegmentationModel` of the open
volume (``state.segmentation``; made on the volume's grid by :meth:`ViewerState.ensure_segmentation`
or the first :meth:`ViewerState.add_segment`, dropped with the volume), the current segment,
the current :class:`SegmentTool` and its :class:`SegmentOptions` (brush radius in mm,
threshold range, overlay opacity...). Every change of the model, whoever made it, is
forwarded as a ``SEGMENT`` event carrying the model's
:class:`~vtkdicom_app.segmentation.SegmentationEvent` (its index box tells a view whether
its plane is touched). Input on a slice becomes :meth:`ViewerState.segment_press`,
``segment_drag`` and ``segment_release`` (a brush stroke, a seed click, a scissors polygon),
whole-segment tools :meth:`ViewerState.apply_segment_tool`; each is one undo step
(:meth:`ViewerState.undo_segmentation`). The model must be edited on the owner thread:
workers get frozen :class:`SegmentSurfaceJob` copies and hand :class:`SegmentSurface`
results back through :meth:`ViewerState.set_segment_surface`, which drops a result whose
segment has changed since.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

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
from vtkdicom_app.measurements import (
    Angle,
    Ellipse,
    EventEmitter,
    MeasurementEvent,
    MeasurementList,
    MeasurementResult,
    Ruler,
    Shape,
    Sphere,
    measure,
)
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane, Reslicer, SlabMode, Slice, frame_axes, plane_axes, rotation_about, step_along, step_point
from vtkdicom_app.rendering.slice_view import OverlayLayer, SegmentOverlay
from vtkdicom_app.rendering.volume_render import View, data_to_preset, load_volume_presets, plane_box_polygon, preset_to_data, value_range
from vtkdicom_app.segmentation import tools as seg_tools
from vtkdicom_app.segmentation.geometry import Box, Geometry, SegmentationError
from vtkdicom_app.segmentation.model import EventKind, Mode, Segment, SegmentationEvent, SegmentationModel
from vtkdicom_app.segmentation.tools import ScissorsOperation, ShellSide
from vtkdicom_app.surface import MeshReport
from vtkdicom_app.volume import Volume, VolumeSequence

__all__ = [
    "BRUSH_RADIUS_RANGE",
    "BACKGROUND_COLOURS",
    "CINE_FPS_RANGE",
    "INTERACTIVE_TOOLS",
    "MAX_RECENT",
    "SLAB_MAX_MM",
    "VOLUME_OPACITY_RANGE",
    "VOLUME_SHIFT_RANGE",
    "Event",
    "EventEmitter",
    "AnnotationOptions",
    "Background",
    "Cine",
    "IslandAction",
    "Layout",
    "LayoutState",
    "MeasureTool",
    "SegmentOptions",
    "SegmentSketch",
    "SegmentSurface",
    "SegmentSurfaceJob",
    "SegmentTool",
    "Slab",
    "StateEvent",
    "StateThreadError",
    "Surface",
    "ViewState",
    "ViewerState",
    "View3DSettings",
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
CINE_FPS_RANGE = (0.5, 60.0)
"""Slowest and fastest cine, in steps per second."""
BRUSH_RADIUS_RANGE = (0.1, 100.0)
"""Paint/erase brush radius (mm), clamped."""


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


def _xyz(p: np.ndarray) -> tuple[float, float, float]:
    return float(p[0]), float(p[1]), float(p[2])


def _frozen(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=np.float64)
    out.setflags(write=False)
    return out


class _Keep:
    """Marker of a keyword left out (where None is a value: ``set_cine(view=None)``)."""


class StateEvent(enum.Enum):
    """What changed; the value an :class:`Event` carries is given for each."""

    SERIES = "series"
    """tuple of SeriesInfo: the last scan (the series browser)."""
    VOLUME = "volume"
    """Volume or None: a new volume; crosshair, window, views, planes, slabs and surfaces were reset, the cine stopped."""
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
    SEGMENTATION = "segmentation"
    """SegmentationModel or None: a new segmentation (made, opened or closed); redraw every segment."""
    SEGMENT = "segment"
    """SegmentationEvent: the segmentation changed (forwarded from the model); key: the segment ID or None."""
    CURRENT_SEGMENT = "current_segment"
    """str or None: the segment the tools edit."""
    SEGMENT_TOOL = "segment_tool"
    """SegmentTool."""
    SEGMENT_OPTIONS = "segment_options"
    """SegmentOptions: brush radius, threshold range, overlay opacity and the other tools' options."""
    SEGMENT_SKETCH = "segment_sketch"
    """SegmentSketch or None: the scissors polygon being drawn or the brush under the pointer."""
    SEGMENT_SURFACE = "segment_surface"
    """SegmentSurface: a segment's 3D surface was updated (``mesh`` None: removed); key: the segment ID."""
    MEASUREMENTS = "measurements"
    """MeasurementEvent: the measurement list changed (forwarded from it); key: the measurement's id or None."""
    MEASURE_TOOL = "measure_tool"
    """MeasureTool: the tool that left clicks on a slice place (NONE: clicks move the crosshair)."""
    ANNOTATIONS = "annotations"
    """AnnotationOptions: whether the slice views show their corner texts, and patient information in them."""
    MEASURE_POINTS = "measure_points"
    """tuple of numpy.ndarray: the points placed so far of the measurement being made; key: its view or None."""
    CINE = "cine"
    """Cine: playing or not, its speed and what it plays (the frames of a 4D series or one view's slices)."""
    PLANES = "planes"
    """dict of Plane to numpy.ndarray: every view's frame (columns: column, row, normal; LPS).

    After a rotation or a reset; key: the view whose own plane changed, or None (several)."""
    VIEW3D_CAMERA = "view3d_camera"
    """View3DSettings: the standard view asked for (``camera``; None once turned by hand) and whether it fits the volume."""
    VIEW3D_BACKGROUND = "view3d_background"
    """View3DSettings: the 3D view's background (``background``, ``background_color``)."""
    VIEW3D_SLICE_PLANES = "view3d_slice_planes"
    """View3DSettings: the MPR planes shown in the 3D view or not (``slice_planes``); where they are: crosshair and planes."""
    CROP_BOX = "crop_box"
    """View3DSettings: the crop box of the volume rendering and surfaces (``crop_box``, LPS) or its handles (``crop_handles``)."""
    VOLUME_OPACITY_POINTS = "volume_opacity_points"
    """View3DSettings: a preset's opacity points were edited or reset (``opacity_points``)."""


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


class MeasureTool(enum.Enum):
    """What left clicks on a slice view place (:meth:`ViewerState.measure_click`)."""

    NONE = "none"
    """Clicks move the crosshair."""
    RULER = "ruler"
    """Two clicks: the ends."""
    ANGLE = "angle"
    """Three clicks: an arm's end, the vertex, the other arm's end."""
    ELLIPSE = "ellipse"
    """Two clicks on one view: the centre, then a corner of the ellipse's bounding box."""
    SPHERE = "sphere"
    """Two clicks: the centre, then a point of the sphere's surface (any view)."""

    @property
    def clicks(self) -> int:
        """How many clicks make one measurement."""
        return {MeasureTool.NONE: 0, MeasureTool.RULER: 2, MeasureTool.ANGLE: 3, MeasureTool.ELLIPSE: 2, MeasureTool.SPHERE: 2}[self]


@dataclasses.dataclass(frozen=True)
class AnnotationOptions:
    """The corner annotations of the slice views.

    Attributes
    ----------
    visible : bool
        Show the corner texts.
    anonymize : bool
        Hide patient information (name, ID, dates) in them: ``--anonymize``, View > Hide
        patient information.
    """

    visible: bool = True
    anonymize: bool = False


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
class Cine:
    """The cine player: the frames of a 4D series, or the slices of one view, at a rate.

    Attributes
    ----------
    playing : bool
    fps : float
        Steps per second, in :data:`CINE_FPS_RANGE`.
    view : Plane or None
        None: the frames of the sequence; a Plane: that view's slices (its crosshair coordinate
        moves one true slice step per tick and wraps from the last slice to the first).
    """

    playing: bool = False
    fps: float = 8.0
    view: Plane | None = None

    def __post_init__(self) -> None:
        fps = _finite(self.fps, "cine speed (fps)")
        lo, hi = CINE_FPS_RANGE
        if not lo <= fps <= hi:
            raise ValueError(f"cine speed must be {lo:g}..{hi:g} fps, got {self.fps!r}")
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "playing", bool(self.playing))
        if self.view is not None:
            object.__setattr__(self, "view", _plane(self.view))

    @property
    def interval_ms(self) -> int:
        """Milliseconds between two steps (the widget's timer interval)."""
        return max(1, round(1000.0 / self.fps))


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


class SegmentTool(enum.Enum):
    """What the Segment Editor does: on a click or drag in a slice view, or on Apply."""

    NONE = "none"
    """Left clicks move the crosshair."""
    THRESHOLD = "threshold"
    """Apply: the segment becomes the voxels within the threshold range."""
    SEED = "seed"
    """Click: what is connected to the click within the threshold range."""
    PAINT = "paint"
    """Drag: add spheres of the brush radius along the stroke."""
    ERASE = "erase"
    """Drag: remove spheres of the brush radius along the stroke."""
    SCISSORS = "scissors"
    """Drag a polygon on a view: cut (or fill) inside or outside it, along the view direction."""
    ISLANDS = "islands"
    """Click: keep the island there; Apply: keep the largest, or remove the small ones."""
    MARGIN = "margin"
    """Apply: grow (> 0) or shrink (< 0) by the margin in mm."""
    HOLLOW = "hollow"
    """Apply: a shell of the wall thickness."""
    FILL_HOLES = "fill_holes"
    """Apply: fill the cavities the segment encloses."""
    CLOSE = "close"
    """Apply: morphological closing: gaps and dents narrower than twice the radius are filled."""
    CROP = "crop"
    """Apply: keep only what lies inside the box (``SegmentOptions.box``, LPS mm)."""
    LOGICAL = "logical"
    """Apply: union, subtract, intersect or copy another segment."""


INTERACTIVE_TOOLS = frozenset({SegmentTool.SEED, SegmentTool.PAINT, SegmentTool.ERASE, SegmentTool.SCISSORS, SegmentTool.ISLANDS})
"""Tools that take the left button in the slice views."""


class IslandAction(enum.Enum):
    """What Apply does with the islands tool (a click always keeps the island under it)."""

    KEEP_LARGEST = "keep_largest"
    REMOVE_SMALL = "remove_small"


@dataclasses.dataclass(frozen=True)
class SegmentOptions:
    """The Segment Editor's options (validated; clamped where the editor clamps).

    Attributes
    ----------
    brush_radius_mm : float
        Paint/erase sphere radius, clamped to :data:`BRUSH_RADIUS_RANGE`.
    threshold_lower, threshold_upper : float
        Range of the threshold and seed tools (the image's units); ``threshold_upper`` None:
        no upper limit.
    seed_mode : Mode
        REPLACE (the segment becomes the clicked region) or ADD.
    overlay_opacity : float
        Fill opacity of the segments over the slices, clamped to 0..1.
    overlay_outline : bool
        Draw the segments' outlines (opaque) over the slices.
    scissors : ScissorsOperation
    island_action : IslandAction
    min_island_mm3 : float
        Islands smaller than this are removed (>= 0).
    margin_mm : float
        Grow (> 0) or shrink (< 0), non-zero.
    hollow_mm : float
        Wall thickness (> 0).
    hollow_side : ShellSide
    close_mm : float
        Closing radius (> 0): gaps and dents narrower than twice it are filled.
    box : tuple of 6 float or None
        An LPS box ``x0, y0, z0, x1, y1, z1`` (mm): THRESHOLD acts only inside it, CROP keeps
        what lies inside it. None: no box (the threshold acts on the whole volume).
    logical_op : Mode
        ADD (union), SUBTRACT, INTERSECT or REPLACE (copy) with ``logical_other``.
    logical_other : str or None
        The other segment's ID.
    live_surfaces : bool
        Show each segment's surface in the 3D view, recomputed after every edit.
    """

    brush_radius_mm: float = 5.0
    threshold_lower: float = 300.0
    threshold_upper: float | None = None
    seed_mode: Mode = Mode.REPLACE
    overlay_opacity: float = 0.5
    overlay_outline: bool = True
    scissors: ScissorsOperation = ScissorsOperation.ERASE_INSIDE
    island_action: IslandAction = IslandAction.KEEP_LARGEST
    min_island_mm3: float = 100.0
    margin_mm: float = 2.0
    hollow_mm: float = 2.0
    hollow_side: ShellSide = ShellSide.INSIDE
    close_mm: float = 2.0
    box: tuple[float, float, float, float, float, float] | None = None
    logical_op: Mode = Mode.ADD
    logical_other: str | None = None
    live_surfaces: bool = True

    def __post_init__(self) -> None:
        radius = _finite(self.brush_radius_mm, "brush radius (mm)")
        if radius <= 0:
            raise ValueError(f"the brush radius must be > 0 mm, got {self.brush_radius_mm!r}")
        object.__setattr__(self, "brush_radius_mm", min(BRUSH_RADIUS_RANGE[1], max(BRUSH_RADIUS_RANGE[0], radius)))
        lower = _finite(self.threshold_lower, "lower threshold")
        upper = None if self.threshold_upper is None else _finite(self.threshold_upper, "upper threshold")
        if upper is not None and upper < lower:
            raise ValueError(f"threshold range {lower:g}..{upper:g} is empty: the upper value must not be below the lower one")
        object.__setattr__(self, "threshold_lower", lower)
        object.__setattr__(self, "threshold_upper", upper)
        seed_mode = _enum(Mode, self.seed_mode, "seed mode")
        if seed_mode not in (Mode.REPLACE, Mode.ADD):
            raise ValueError(f"the seed tool replaces or adds, not {seed_mode.value}")
        object.__setattr__(self, "seed_mode", seed_mode)
        opacity = _finite(self.overlay_opacity, "overlay opacity")
        object.__setattr__(self, "overlay_opacity", min(1.0, max(0.0, opacity)))
        object.__setattr__(self, "overlay_outline", bool(self.overlay_outline))
        object.__setattr__(self, "scissors", _enum(ScissorsOperation, self.scissors, "scissors operation"))
        object.__setattr__(self, "island_action", _enum(IslandAction, self.island_action, "islands action"))
        min_island = _finite(self.min_island_mm3, "minimum island volume (mm3)")
        if min_island < 0:
            raise ValueError(f"the minimum island volume must be >= 0 mm3, got {self.min_island_mm3!r}")
        object.__setattr__(self, "min_island_mm3", min_island)
        margin = _finite(self.margin_mm, "margin (mm)")
        if margin == 0:
            raise ValueError("a margin of 0 mm changes nothing: grow (> 0) or shrink (< 0)")
        object.__setattr__(self, "margin_mm", margin)
        hollow = _finite(self.hollow_mm, "wall thickness (mm)")
        if hollow <= 0:
            raise ValueError(f"the wall thickness must be > 0 mm, got {self.hollow_mm!r}")
        object.__setattr__(self, "hollow_mm", hollow)
        object.__setattr__(self, "hollow_side", _enum(ShellSide, self.hollow_side, "shell side"))
        closing = _finite(self.close_mm, "closing radius (mm)")
        if closing <= 0:
            raise ValueError(f"the closing radius must be > 0 mm, got {self.close_mm!r}")
        object.__setattr__(self, "close_mm", closing)
        if self.box is not None:
            values = [_finite(v, "box corner (mm)") for v in self.box]
            if len(values) != 6:
                raise ValueError(f"a box is x0, y0, z0, x1, y1, z1 in mm (6 numbers), got {len(values)}")
            lo, hi = np.minimum(values[:3], values[3:]), np.maximum(values[:3], values[3:])
            if np.any(hi - lo <= 0):
                raise ValueError(f"the box {', '.join(f'{v:g}' for v in values)} mm has no volume: give two opposite corners")
            object.__setattr__(self, "box", (*(float(v) for v in lo), *(float(v) for v in hi)))
        object.__setattr__(self, "logical_op", _enum(Mode, self.logical_op, "logical operation"))
        object.__setattr__(self, "logical_other", None if self.logical_other in (None, "") else str(self.logical_other))
        object.__setattr__(self, "live_surfaces", bool(self.live_surfaces))


@dataclasses.dataclass(frozen=True)
class SegmentSketch:
    """A transient drawing on one slice view (no undo, no file): what a pane draws over the image.

    Attributes
    ----------
    view : Plane
    points : numpy.ndarray
        ``(N, 3)`` LPS mm, read-only: the scissors polygon so far, or the brush centre (N = 1).
    radius_mm : float
        The brush radius (0 for a polygon).
    """

    view: Plane
    points: np.ndarray
    radius_mm: float = 0.0


@dataclasses.dataclass(frozen=True, eq=False)
class SegmentSurface:
    """A segment's surface for the 3D view (what a worker returns).

    Attributes
    ----------
    segment_id : str
    revision : int
        The segment's :meth:`~vtkdicom_app.segmentation.SegmentationModel.revision` the mesh was made from.
    mesh : vtkPolyData or None
        LPS mm, with point normals; None: the segment is empty (or gone).
    seconds : float
        How long the worker took.
    """

    segment_id: str
    revision: int
    mesh: Any
    seconds: float = 0.0


@dataclasses.dataclass(frozen=True, eq=False)
class SegmentSurfaceJob:
    """Everything a worker needs to make one segment's surface: a copy of its box, no model.

    Attributes
    ----------
    segment_id : str
    name : str
    revision : int
    mask : numpy.ndarray or None
        bool, the segment's bounding box (a copy, read-only); None: the segment is empty.
    geometry : Geometry or None
        The grid of ``mask`` (the box of the volume's grid).
    """

    segment_id: str
    name: str
    revision: int
    mask: np.ndarray | None
    geometry: Geometry | None

    def run(self, progress: Callable[[int, int, str], None] | None = None) -> SegmentSurface:
        """Make the surface (worker-safe: reads only the job's own copy)."""
        from vtkmodules.vtkFiltersCore import vtkPolyDataNormals

        from vtkdicom_app.pipeline import run_update
        from vtkdicom_app.segmentation.surfaces import mask_surface

        start = time.perf_counter()
        if progress is not None:
            progress(0, 1, f"surface of {self.name}")
        if self.mask is None or self.geometry is None:
            return SegmentSurface(self.segment_id, self.revision, None, time.perf_counter() - start)
        mesh = mask_surface(self.mask, self.geometry, name=self.name)
        normals = vtkPolyDataNormals()
        normals.SetInputData(mesh)
        normals.SplittingOff()
        normals.ConsistencyOff()
        normals.AutoOrientNormalsOff()
        normals.ComputeCellNormalsOff()
        mesh = run_update(normals, f"normals of {self.name}")
        return SegmentSurface(self.segment_id, self.revision, mesh, time.perf_counter() - start)


def _sub_geometry(geometry: Geometry, box: Box) -> Geometry:
    """The grid of an index box of ``geometry`` (same spacing and direction)."""
    origin = geometry.index_to_patient(np.asarray(box.lo[::-1], float))
    return Geometry(box.shape, geometry.spacing, tuple(float(v) for v in np.asarray(origin).reshape(3)), geometry.direction)  # type: ignore[arg-type]


def _stroke_points(start: np.ndarray, end: np.ndarray, radius_mm: float) -> np.ndarray:
    """Brush centres from ``start`` (excluded) to ``end``, at most half a radius apart."""
    length = float(np.linalg.norm(end - start))
    n = max(1, min(400, int(math.ceil(length / max(radius_mm / 2.0, 1e-3)))))
    t = np.arange(1, n + 1, dtype=np.float64)[:, None] / n
    return start + t * (end - start)


class Background(enum.Enum):
    """The 3D view's background."""

    BLACK = "black"
    GRADIENT = "gradient"
    """Dark grey, lighter at the top."""
    WHITE = "white"
    COLOUR = "colour"
    """One colour of the user's (``View3DSettings.background_color``)."""


BACKGROUND_COLOURS: dict[Background, tuple[tuple[float, float, float], tuple[float, float, float] | None]] = {
    Background.BLACK: ((0.0, 0.0, 0.0), None),
    Background.GRADIENT: ((0.06, 0.06, 0.08), (0.36, 0.37, 0.42)),
    Background.WHITE: ((1.0, 1.0, 1.0), None),
}
"""RGB (0..1) of each fixed background: ``(colour, None)``, or ``(bottom, top)`` of a gradient."""


def _rgb(value: Any, what: str) -> tuple[float, float, float]:
    try:
        rgb = tuple(float(c) for c in value)
    except (TypeError, ValueError):
        rgb = ()
    if len(rgb) != 3 or not all(math.isfinite(c) and 0.0 <= c <= 1.0 for c in rgb):
        raise ValueError(f"{what} is three numbers 0..1 (RGB), got {value!r}")
    return rgb


def _standard_view(value: Any) -> View:
    if isinstance(value, View):
        return value
    if isinstance(value, str):
        for member in View:
            if member.name.lower() == value.strip().lower():
                return member
    raise ValueError(f"{value!r} is not a standard view; use one of: {', '.join(m.name.lower() for m in View)}")


def _opacity_points(points: Any, what: str) -> tuple[tuple[float, float], ...]:
    try:
        pairs = tuple((_finite(v, f"{what} value"), _finite(o, f"{what} opacity")) for v, o in points)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} are (value, opacity) pairs of finite numbers: {exc}") from None
    if len(pairs) < 2:
        raise ValueError(f"{what} need at least two (value, opacity) points, got {len(pairs)}")
    if any(not 0.0 <= o <= 1.0 for _v, o in pairs):
        raise ValueError(f"{what}: each opacity must be within 0..1")
    if any(b[0] < a[0] for a, b in zip(pairs, pairs[1:])):
        raise ValueError(f"{what} must be sorted by value")
    return pairs


@dataclasses.dataclass(frozen=True)
class View3DSettings:
    """The 3D view's settings (the camera itself is VTK's: turned by hand, it is not state).

    Attributes
    ----------
    camera : View or None
        The standard view last asked for (its buttons); None once the camera was turned,
        zoomed or panned by hand.
    fitted : bool
        The camera fits the whole volume (Reset, a standard view, a new volume).
    background : Background
    background_color : tuple of float
        RGB 0..1 of ``Background.COLOUR``.
    slice_planes : bool
        Draw the three MPR planes through the crosshair (outlines clipped to the volume).
    crop_box : tuple of 6 float or None
        ``x0, y0, z0, x1, y1, z1`` LPS mm, low corner first, within the volume's box: the volume
        rendering and the surfaces show only what lies inside. None: no crop. Dropped with
        the volume.
    crop_handles : bool
        Show the box widget whose faces drag the crop box.
    opacity_points : tuple
        Edited opacity points by preset: ``((preset, ((value, opacity), ...)), ...)``, values
        on the preset's own scale (HU, or 0..1 of the volume's 1st-99th percentiles).
    """

    camera: View | None = View.ANTERIOR
    fitted: bool = True
    background: Background = Background.BLACK
    background_color: tuple[float, float, float] = (0.0, 0.0, 0.0)
    slice_planes: bool = False
    crop_box: tuple[float, float, float, float, float, float] | None = None
    crop_handles: bool = True
    opacity_points: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "camera", None if self.camera is None else _standard_view(self.camera))
        object.__setattr__(self, "fitted", bool(self.fitted))
        object.__setattr__(self, "background", _enum(Background, self.background, "background"))
        object.__setattr__(self, "background_color", _rgb(self.background_color, "a background colour"))
        object.__setattr__(self, "slice_planes", bool(self.slice_planes))
        object.__setattr__(self, "crop_handles", bool(self.crop_handles))
        if self.crop_box is not None:
            values = [_finite(v, "crop box corner (mm)") for v in self.crop_box]
            if len(values) != 6:
                raise ValueError(f"a crop box is x0, y0, z0, x1, y1, z1 in mm (6 numbers), got {len(values)}")
            if any(not values[a] < values[a + 3] for a in range(3)):
                shown = ", ".join(f"{v:g}" for v in values)
                raise ValueError(f"crop box {shown} mm: each low corner value must be below its high one (x0 < x1, y0 < y1, z0 < z1)")
            object.__setattr__(self, "crop_box", tuple(values))
        edits = tuple((str(name), _opacity_points(points, f"opacity points of {name}")) for name, points in self.opacity_points)
        object.__setattr__(self, "opacity_points", tuple(sorted(edits)))

    def background_colours(self) -> tuple[tuple[float, float, float], tuple[float, float, float] | None]:
        """``(colour, None)``, or ``(bottom, top)`` of the gradient, RGB 0..1."""
        if self.background is Background.COLOUR:
            return self.background_color, None
        return BACKGROUND_COLOURS[self.background]

    def points_of(self, preset: str) -> tuple[tuple[float, float], ...] | None:
        """The edited opacity points of a preset (its own scale), None when it is not edited."""
        return dict(self.opacity_points).get(preset)


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
        self._cine = Cine()
        self._axes: dict[Plane, np.ndarray] = {p: _frozen(plane_axes(p)) for p in ORTHOGONAL_PLANES}  # rotatable (oblique MPR)
        # where a drag began (transient: not state, no events)
        self._wl_anchor: WindowLevel | None = None
        self._pan_anchor: dict[Plane, tuple[float, float]] = {}
        # the Segment Editor
        self._segmentation: SegmentationModel | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._current_segment: str | None = None
        self._segment_tool = SegmentTool.NONE
        self._segment_options = SegmentOptions()
        self._segment_extents: dict[str, Box | None] = {}  # boxes holding each segment (loose: for the overlay)
        self._segment_surfaces: dict[str, SegmentSurface] = {}
        self._sketch: SegmentSketch | None = None
        self._stroke: contextlib.ExitStack | None = None  # an open brush stroke (one undo step)
        self._stroke_last: np.ndarray | None = None
        self._stroke_view: Plane | None = None
        # measurements (LPS shapes with stable ids; the list's events are forwarded as MEASUREMENTS)
        self._measurements = MeasurementList()
        self._measurements.events.connect(self._on_measurements)
        self._measure_tool = MeasureTool.NONE
        self._measure_points: tuple[np.ndarray, ...] = ()
        self._measure_view: Plane | None = None
        self._grabbed: tuple[int, int] | None = None  # (measurement id, handle) being dragged
        self._annotations = AnnotationOptions()
        # the 3D view: standard camera, background, slice planes, crop box, edited opacity points
        self._view3d = View3DSettings()
        self._value_range: tuple[Volume, tuple[float, float]] | None = None  # (volume, its 1st-99th percentiles)
        self.events.connect(self._view3d_volume_changed)  # first listener: the crop box goes with the volume

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
    def cine(self) -> Cine:
        """The cine player's setting."""
        return self._cine

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
        point = (float(self._crosshair[0]), float(self._crosshair[1]), float(self._crosshair[2]))
        if self.view_rotated(plane):
            return self._reslicer.reslice(Plane.OBLIQUE, point=point, axes=self._axes[plane], slab_mm=slab.thickness_mm, slab_mode=slab.mode)
        return self._reslicer.reslice(plane, point=point, slab_mm=slab.thickness_mm, slab_mode=slab.mode)

    def position(self, view: Plane | str) -> float:
        """The LPS coordinate of a view's plane through the crosshair (z, y or x); for a rotated
        plane, the crosshair's signed distance from the patient origin along its normal."""
        plane = _plane(view)
        if self.view_rotated(plane):
            return float(self._crosshair @ self._axes[plane][:, 2])
        return float(self._crosshair[{Plane.AXIAL: 2, Plane.CORONAL: 1, Plane.SAGITTAL: 0}[plane]])

    # ------------------------------------------------------------------ planes (oblique MPR)
    def plane_axes(self, view: Plane | str) -> np.ndarray:
        """A view's frame: 3x3, columns the image's column direction, row direction and normal (LPS).

        The acquisition-independent standard frame (:func:`~vtkdicom_app.mpr.plane_axes`) until
        the planes are rotated (:meth:`rotate_planes`). A copy.
        """
        return self._axes[_plane(view)].copy()

    def view_rotated(self, view: Plane | str) -> bool:
        """Whether a view's plane is rotated away from its standard frame."""
        plane = _plane(view)
        return not np.allclose(self._axes[plane], plane_axes(plane), atol=1e-9)

    @property
    def planes_rotated(self) -> bool:
        """Whether any view's plane is rotated (oblique MPR)."""
        return any(self.view_rotated(p) for p in ORTHOGONAL_PLANES)

    def set_plane_axes(self, view: Plane | str, axes: npt.ArrayLike) -> None:
        """Set one view's frame (a scene being reopened; emits PLANES).

        Raises
        ------
        ValueError
            Not an orthonormal 3x3 frame (:func:`~vtkdicom_app.mpr.frame_axes`).
        """
        self._check_thread()
        plane = _plane(view)
        m = frame_axes(axes)
        if np.allclose(m, plane_axes(plane), atol=1e-9):
            m = plane_axes(plane)  # exactly the standard frame again
        if np.array_equal(m, self._axes[plane]):
            return
        self._axes = {**self._axes, plane: _frozen(m)}
        self._emit(StateEvent.PLANES, dict(self._axes), plane)

    def rotate_planes(self, view: Plane | str, degrees: float) -> None:
        """Turn the other two views' planes about this view's normal through the crosshair (emits PLANES).

        What dragging a crosshair line does in Slicer and Horos: the view dragged in keeps its
        plane; the lines of the other two planes turn on it by ``degrees`` (counter-clockwise
        about the view's normal), and their images follow.
        """
        self._check_thread()
        self._need_volume("rotate the planes")
        plane = _plane(view)
        angle = _finite(degrees, "rotation (degrees)")
        if angle == 0.0:
            return
        r = rotation_about(self._axes[plane][:, 2], angle)
        axes = dict(self._axes)
        for other in ORTHOGONAL_PLANES:
            if other is not plane:
                axes[other] = _frozen(frame_axes(r @ self._axes[other], tolerance=1e-6))
        self._axes = axes
        self._emit(StateEvent.PLANES, dict(self._axes), None)

    def rotate_planes_by_drag(self, view: Plane | str, start: npt.ArrayLike, end: npt.ArrayLike) -> float:
        """Rotate the other planes by the angle a drag swept around the crosshair in one view.

        Parameters
        ----------
        view : Plane or str
        start, end : array_like of float
            LPS points under the pointer at the last step and now (on the view's plane).

        Returns
        -------
        float
            The angle turned (degrees; 0 for a drag through the crosshair itself).
        """
        self._check_thread()
        plane = _plane(view)
        m = self._axes[plane]
        a, b = _point(start) - self._crosshair, _point(end) - self._crosshair
        a2 = np.array([a @ m[:, 0], a @ m[:, 1]])
        b2 = np.array([b @ m[:, 0], b @ m[:, 1]])
        if np.linalg.norm(a2) < 1e-6 or np.linalg.norm(b2) < 1e-6:
            return 0.0
        turn = math.degrees(math.atan2(a2[0] * b2[1] - a2[1] * b2[0], float(a2 @ b2)))
        handed = float(np.linalg.det(m))  # the sagittal frame is left-handed: turn about the normal the same way the eye sees it
        degrees = turn * handed
        self.rotate_planes(plane, degrees)
        return degrees

    def reset_planes(self) -> None:
        """Back to the acquisition-independent standard planes (emits PLANES when any was rotated)."""
        self._check_thread()
        if not self.planes_rotated:
            return
        self._axes = {p: _frozen(plane_axes(p)) for p in ORTHOGONAL_PLANES}
        self._emit(StateEvent.PLANES, dict(self._axes), None)

    def crosshair_lines(self, view: Plane | str) -> dict[Plane, np.ndarray]:
        """Where the other views' planes cut this view: ``{other view: unit LPS direction}`` of each line through the crosshair."""
        plane = _plane(view)
        n = self._axes[plane][:, 2]
        lines = {}
        for other in ORTHOGONAL_PLANES:
            if other is not plane:
                d = np.cross(n, self._axes[other][:, 2])
                length = float(np.linalg.norm(d))
                if length > 1e-9:
                    lines[other] = d / length
        return lines

    def value_at(self, xyz: npt.ArrayLike) -> tuple[float | None, tuple[int, int, int] | None]:
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
        self._axes = {p: _frozen(plane_axes(p)) for p in ORTHOGONAL_PLANES}
        self._surfaces = ()
        modality = vol.modality
        self._volume_look = VolumeLook("ct-bone" if modality in ("CT", "") else "mr-default")
        self._wl_anchor, self._pan_anchor = None, {}
        # a new volume stops the cine (VOLUME says so); frames only where there are frames
        self._cine = Cine(False, self._cine.fps, None if sequence is not None else (self._cine.view or Plane.AXIAL))
        self._drop_segmentation()  # segments belong to the volume's grid
        self._set_measure_points((), None)
        self._grabbed = None
        self._measurements.clear()  # measurements belong to the patient space of the volume
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
        if self._segmentation is not None:  # the frames share one grid: the tools read this frame's values
            self._segmentation.volume = self._volume
        self._emit(StateEvent.FRAME, frame)

    def set_cine(self, *, playing: bool | None = None, fps: float | None = None, view: Plane | str | None | type[_Keep] = _Keep) -> None:
        """Start or stop the cine, set its speed or what it plays (emits CINE when it changed).

        Parameters
        ----------
        playing : bool, optional
        fps : float, optional
            In :data:`CINE_FPS_RANGE`.
        view : Plane, str or None, optional
            None: the frames of the 4D series; a view: its slices. Left out: unchanged.

        Raises
        ------
        ValueError
            A speed out of range, an unknown view, playing with nothing loaded, or the frames
            of a volume that has none.
        """
        self._check_thread()
        target = self._cine.view if view is _Keep else (None if view is None else _plane(view))
        cine = Cine(self._cine.playing if playing is None else playing, self._cine.fps if fps is None else fps, target)
        if cine.playing:
            self._need_volume("play a cine")
        if cine.view is None and self._sequence is None and (cine.playing or view is not _Keep):
            raise ValueError("this volume has no frames: play one view's slices instead (axial, coronal or sagittal)")
        if cine != self._cine:
            self._cine = cine
            self._emit(StateEvent.CINE, cine)

    def cine_step(self) -> None:
        """One tick of the cine: the next frame, or the view's next slice (the last wraps to the first)."""
        self._check_thread()
        self._need_volume("play a cine")
        plane = self._cine.view
        if plane is None:
            self.set_frame(self._frame + 1)
            return
        here = self._crosshair
        self.step_crosshair(plane, 1)
        if np.allclose(self._crosshair, here):  # at the last slice: back to the first
            self.step_crosshair(plane, -1_000_000)  # clamped at the first slice

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
    def set_crosshair(self, xyz: npt.ArrayLike) -> None:
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
        plane = _plane(view)
        steps = _finite(n, "slice steps")
        if self.view_rotated(plane):  # along the rotated normal, stopping at the volume's box
            normal = self._axes[plane][:, 2]
            reach = vol.corners @ normal
            here_d = float(self._crosshair @ normal)
            to = min(float(reach.max()), max(float(reach.min()), here_d + steps * step_along(vol, normal)))
            self.set_crosshair(self._crosshair + (to - here_d) * normal)
            return
        here = (float(self._crosshair[0]), float(self._crosshair[1]), float(self._crosshair[2]))
        self.set_crosshair(step_point(vol, here, plane, steps, clamp=True))

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
        slab = Slab(thickness_mm, _enum(SlabMode, mode, "slab mode"))
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
        new = LayoutState(_enum(Layout, layout, "layout"), None if single_view is None else _plane(single_view))
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

    # ------------------------------------------------------------------ segments: read-only views
    @property
    def segmentation(self) -> SegmentationModel | None:
        """The segmentation of the volume shown (None until a segment is added or a file opened)."""
        return self._segmentation

    @property
    def current_segment(self) -> str | None:
        """ID of the segment the tools edit."""
        return self._current_segment

    @property
    def segment_tool(self) -> SegmentTool:
        """The Segment Editor's tool."""
        return self._segment_tool

    @property
    def segment_options(self) -> SegmentOptions:
        """The Segment Editor's options."""
        return self._segment_options

    @property
    def segment_sketch(self) -> SegmentSketch | None:
        """The scissors polygon being drawn, or the brush under the pointer."""
        return self._sketch

    @property
    def segment_surfaces(self) -> dict[str, SegmentSurface]:
        """The latest surface of each segment (a new dict)."""
        return dict(self._segment_surfaces)

    @property
    def stroke_active(self) -> bool:
        """A brush stroke is being drawn (its dabs are one undo step when it ends)."""
        return self._stroke is not None

    def segment_overlay(self) -> SegmentOverlay | None:
        """What the slice views draw over the image: the visible segments, in order, with the overlay options."""
        model = self._segmentation
        if model is None:
            return None
        options = self._segment_options
        layers = tuple(
            OverlayLayer(model.mask(seg.segment_id), seg.color, self._segment_extents.get(seg.segment_id), seg.segment_id)
            for seg in model.segments
            if seg.visible
        )
        return SegmentOverlay(model.geometry, layers, options.overlay_opacity, options.overlay_outline)

    def segment_touches_view(self, box: Box | None, view: Plane | str) -> bool:
        """Whether a view's plane through the crosshair crosses an index box of the segmentation's grid (None: yes)."""
        model = self._segmentation
        if box is None or model is None:
            return True
        lo = np.asarray(box.lo[::-1], float) - 0.5
        hi = np.asarray(box.hi[::-1], float) - 0.5
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        normal = plane_axes(_plane(view))[:, 2]
        dist = (model.geometry.index_to_patient(corners) - self._crosshair) @ normal
        return bool(dist.min() <= 1e-6 and dist.max() >= -1e-6)

    # ------------------------------------------------------------------ segments: the model
    def _need_segmentation(self) -> SegmentationModel:
        if self._segmentation is None:
            raise ValueError("no segmentation: add a segment (or open a segmentation) first")
        return self._segmentation

    def _need_segment(self) -> tuple[SegmentationModel, str]:
        model = self._need_segmentation()
        if self._current_segment is None:
            raise ValueError("no segment selected: add a segment or pick one in the list")
        return model, self._current_segment

    def _drop_segmentation(self) -> None:
        """Forget the segmentation (no event: callers emit VOLUME or SEGMENTATION)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = None
        self._close_stroke()
        self._segmentation = None
        self._current_segment = None
        self._segment_extents = {}
        self._segment_surfaces = {}
        self._sketch = None

    def ensure_segmentation(self) -> SegmentationModel:
        """The segmentation of the volume shown, made (empty, on its grid) when there is none (emits SEGMENTATION then)."""
        self._check_thread()
        if self._segmentation is None:
            vol = self._need_volume("segment it")
            if vol.is_colour or vol.array.ndim != 3:
                raise ValueError("segments need a grey-value volume; this one is colour (RGB)")
            self._install(SegmentationModel.from_volume(vol))
        assert self._segmentation is not None
        return self._segmentation

    def set_segmentation(self, model: SegmentationModel | None) -> None:
        """Show a segmentation (opened from a file) on the volume shown, or None to close it (emits SEGMENTATION, CURRENT_SEGMENT).

        Raises
        ------
        GridMismatchError
            The segmentation lies on another grid than the volume's (nothing changes).
        """
        self._check_thread()
        if model is None:
            if self._segmentation is not None:
                had_current = self._current_segment is not None
                self._drop_segmentation()
                self._emit(StateEvent.SEGMENTATION, None)
                if had_current:
                    self._emit(StateEvent.CURRENT_SEGMENT, None)
            return
        if not isinstance(model, SegmentationModel):
            raise ValueError(f"set_segmentation() takes a SegmentationModel, got {type(model).__name__}")
        vol = self._need_volume("show a segmentation")
        model.geometry.require_same(Geometry.from_volume(vol), what="the segmentation")
        if model.volume is None and not vol.is_colour:
            model.volume = vol
        self._install(model)

    def _install(self, model: SegmentationModel) -> None:
        old_current = self._current_segment
        self._drop_segmentation()
        self._segmentation = model
        self._segment_extents = {sid: model.bounding_box(sid) for sid in model.segment_ids}
        self._unsubscribe = model.subscribe(self._on_segmentation)
        self._current_segment = model.segment_ids[0] if len(model) else None
        self._emit(StateEvent.SEGMENTATION, model)
        if self._current_segment != old_current:
            self._emit(StateEvent.CURRENT_SEGMENT, self._current_segment)

    def _on_segmentation(self, event: SegmentationEvent) -> None:
        """The model changed (a tool, undo, a script): keep the overlay boxes and the current segment, forward the event."""
        model = self._segmentation
        if model is None:
            return
        sid = event.segment_id
        kind = event.kind
        removed_surface = False
        if sid is not None:
            if kind is EventKind.MASK_CHANGED:
                old = self._segment_extents.get(sid)
                self._segment_extents[sid] = event.box if old is None else old.union(event.box)
            elif kind is EventKind.SEGMENT_ADDED:
                self._segment_extents[sid] = event.box
            elif kind is EventKind.SEGMENT_REMOVED:
                self._segment_extents.pop(sid, None)
                removed_surface = self._segment_surfaces.pop(sid, None) is not None
        self._emit(StateEvent.SEGMENT, event, sid)
        if removed_surface and sid is not None:
            self._emit(StateEvent.SEGMENT_SURFACE, SegmentSurface(sid, -1, None), sid)
        if kind is EventKind.SEGMENT_REMOVED and sid == self._current_segment:
            ids = model.segment_ids
            self._current_segment = ids[-1] if ids else None
            self._emit(StateEvent.CURRENT_SEGMENT, self._current_segment)
        elif kind is EventKind.SEGMENT_ADDED and self._current_segment is None:
            self._current_segment = sid
            self._emit(StateEvent.CURRENT_SEGMENT, sid)

    def add_segment(self, name: str | None = None, color: Sequence[float] | None = None) -> Segment:
        """Add an empty segment and make it the current one (one undo step; emits SEGMENT, CURRENT_SEGMENT)."""
        self._check_thread()
        model = self.ensure_segmentation()
        self._close_stroke()
        seg = model.add_segment(name or f"Segment_{len(model) + 1}", color)
        self.set_current_segment(seg.segment_id)
        return seg

    def remove_segment(self, segment_id: str | None = None) -> None:
        """Remove a segment (default: the current one; one undo step)."""
        self._check_thread()
        model, current = self._need_segment() if segment_id is None else (self._need_segmentation(), segment_id)
        self._close_stroke()
        model.remove_segment(current)

    def set_segment_properties(
        self, segment_id: str | None = None, *, name: str | None = None, color: Sequence[float] | None = None, visible: bool | None = None
    ) -> Segment:
        """Rename, recolour (RGB 0..1), show or hide a segment (default: the current one; one undo step)."""
        self._check_thread()
        model, sid = self._need_segment() if segment_id is None else (self._need_segmentation(), segment_id)
        return model.set_properties(sid, name=name, color=color, visible=visible)

    def set_current_segment(self, segment_id: str | None) -> None:
        """The segment the tools edit (emits CURRENT_SEGMENT)."""
        self._check_thread()
        if segment_id is not None:
            segment_id = self._need_segmentation().segment(str(segment_id)).segment_id
        if segment_id != self._current_segment:
            self._close_stroke()
            self._current_segment = segment_id
            self._emit(StateEvent.CURRENT_SEGMENT, segment_id)

    def set_segment_tool(self, tool: SegmentTool | str) -> None:
        """The Segment Editor's tool (emits SEGMENT_TOOL)."""
        self._check_thread()
        new = _enum(SegmentTool, tool, "segment tool")
        if new != self._segment_tool:
            self._close_stroke()
            self._set_sketch(None)
            self._segment_tool = new
            self._emit(StateEvent.SEGMENT_TOOL, new)

    def set_segment_options(self, **changes: Any) -> None:
        """Change some of the :class:`SegmentOptions` by name (validated, clamped; emits SEGMENT_OPTIONS).

        Raises
        ------
        ValueError
            An unknown option or a bad value (nothing changes).
        """
        self._check_thread()
        known = {f.name for f in dataclasses.fields(SegmentOptions)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown segment option(s) {', '.join(unknown)}; use: {', '.join(sorted(known))}")
        new = dataclasses.replace(self._segment_options, **changes)
        if new != self._segment_options:
            self._segment_options = new
            self._emit(StateEvent.SEGMENT_OPTIONS, new)

    # ------------------------------------------------------------------ segments: editing
    def _set_sketch(self, sketch: SegmentSketch | None) -> None:
        if sketch is None and self._sketch is None:
            return
        self._sketch = sketch
        self._emit(StateEvent.SEGMENT_SKETCH, sketch)

    def _close_stroke(self) -> None:
        stroke, self._stroke, self._stroke_last, self._stroke_view = self._stroke, None, None, None
        if stroke is not None:
            stroke.close()  # the transaction ends: the stroke becomes one undo step

    def segment_press(self, view: Plane | str, xyz: npt.ArrayLike) -> Box | None:
        """The left button went down on a slice view at an LPS point, with the current tool.

        SEED and ISLANDS act at once; PAINT and ERASE start a stroke (continued by
        :meth:`segment_drag`, one undo step when :meth:`segment_release` ends it); SCISSORS
        starts a polygon. Returns the index box that changed (None: nothing yet).

        Raises
        ------
        SegmentationError
            The tool cannot act there (a seed outside the range, a click off the segment):
            the message names the value and the fix; nothing changed.
        """
        self._check_thread()
        plane = _plane(view)
        p = _point(xyz)
        tool = self._segment_tool
        if tool not in INTERACTIVE_TOOLS:
            return None
        model, sid = self._need_segment()
        options = self._segment_options
        self._close_stroke()
        if tool is SegmentTool.SEED:
            return seg_tools.seed_region(model, sid, p, options.threshold_lower, options.threshold_upper, mode=options.seed_mode)
        if tool is SegmentTool.ISLANDS:
            return seg_tools.keep_island_at(model, sid, p)
        if tool is SegmentTool.SCISSORS:
            self._stroke_view = plane
            self._set_sketch(SegmentSketch(plane, _frozen(p[None, :])))
            return None
        stroke = contextlib.ExitStack()
        stroke.enter_context(model.transaction(tool.value))
        self._stroke, self._stroke_last, self._stroke_view = stroke, p, plane
        return self._dab(model, sid, p[None, :])

    def _dab(self, model: SegmentationModel, sid: str, centres: np.ndarray) -> Box | None:
        radius = self._segment_options.brush_radius_mm
        brush = seg_tools.paint if self._segment_tool is SegmentTool.PAINT else seg_tools.erase
        try:
            return brush(model, sid, centres, radius)
        except SegmentationError:
            return None  # the brush is off the image: a stroke may leave it and come back

    def segment_drag(self, view: Plane | str, xyz: npt.ArrayLike) -> Box | None:
        """The pointer moved with the left button down: continue the stroke (dabs at most half a radius apart) or the polygon."""
        self._check_thread()
        p = _point(xyz)
        if self._segment_tool is SegmentTool.SCISSORS and self._sketch is not None:
            self._set_sketch(SegmentSketch(self._sketch.view, _frozen(np.vstack([self._sketch.points, p[None, :]]))))
            return None
        if self._stroke is None or self._stroke_last is None or self._segmentation is None or self._current_segment is None:
            return None
        centres = _stroke_points(self._stroke_last, p, self._segment_options.brush_radius_mm)
        self._stroke_last = p
        return self._dab(self._segmentation, self._current_segment, centres)

    def segment_release(self, view: Plane | str, xyz: npt.ArrayLike | None = None) -> Box | None:
        """The left button came up: the stroke ends (one undo step), or the scissors cut along the polygon.

        Raises
        ------
        SegmentationError
            The polygon has no area, or the scissors erase from an empty segment (nothing changed).
        """
        self._check_thread()
        if self._segment_tool is SegmentTool.SCISSORS and self._sketch is not None:
            sketch = self._sketch
            points = sketch.points if xyz is None else np.vstack([sketch.points, _point(xyz)[None, :]])
            self._set_sketch(None)
            model, sid = self._need_segment()
            n = plane_axes(sketch.view)[:, 2]
            normal = (float(n[0]), float(n[1]), float(n[2]))
            return seg_tools.scissors(model, sid, points, normal, operation=self._segment_options.scissors)
        box = None
        if xyz is not None and self._stroke is not None:
            box = self.segment_drag(view, xyz)
        self._close_stroke()
        return box

    def segment_hover(self, view: Plane | str, xyz: npt.ArrayLike | None) -> None:
        """The pointer is over a view (None: it left): the brush outline follows it (emits SEGMENT_SKETCH)."""
        self._check_thread()
        if self._segment_tool not in (SegmentTool.PAINT, SegmentTool.ERASE) or xyz is None:
            if self._sketch is not None and self._sketch.radius_mm > 0:
                self._set_sketch(None)
            return
        self._set_sketch(SegmentSketch(_plane(view), _frozen(_point(xyz)[None, :]), self._segment_options.brush_radius_mm))

    def apply_segment_tool(self) -> Box | None:
        """Apply the current whole-segment tool to the current segment (one undo step).

        THRESHOLD, ISLANDS (keep largest or remove small ones), MARGIN, HOLLOW, FILL_HOLES,
        CLOSE, CROP and LOGICAL; the click tools have nothing to apply. Returns the index box that changed.

        Raises
        ------
        SegmentationError, ValueError
            The tool cannot do it (an empty range, an empty segment, no other segment): the
            message names the value and the fix; nothing changed.
        """
        self._check_thread()
        model, sid = self._need_segment()
        self._close_stroke()
        o = self._segment_options
        tool = self._segment_tool
        if tool is SegmentTool.THRESHOLD:
            return seg_tools.threshold(model, sid, o.threshold_lower, o.threshold_upper, box=o.box)
        if tool is SegmentTool.ISLANDS:
            if o.island_action is IslandAction.KEEP_LARGEST:
                return seg_tools.keep_largest_island(model, sid)
            return seg_tools.remove_small_islands(model, sid, o.min_island_mm3)
        if tool is SegmentTool.MARGIN:
            return seg_tools.margin(model, sid, o.margin_mm)
        if tool is SegmentTool.HOLLOW:
            return seg_tools.hollow(model, sid, o.hollow_mm, side=o.hollow_side)
        if tool is SegmentTool.FILL_HOLES:
            return seg_tools.fill_holes(model, sid)
        if tool is SegmentTool.CLOSE:
            return seg_tools.close(model, sid, o.close_mm)
        if tool is SegmentTool.CROP:
            if o.box is None:
                raise ValueError("the crop tool keeps what lies inside a box: set the box (x0, y0, z0, x1, y1, z1 mm) first")
            return seg_tools.crop(model, sid, o.box)
        if tool is SegmentTool.LOGICAL:
            if o.logical_other is None:
                raise ValueError("the logical tool needs another segment: pick one")
            other = model.segment(o.logical_other).segment_id
            if other == sid:
                raise ValueError("the logical tool combines two segments: pick another segment than the current one")
            return seg_tools.combine(model, sid, other, o.logical_op)
        raise ValueError(f"the {tool.value} tool acts on clicks in the slice views; there is nothing to apply")

    def undo_segmentation(self) -> str | None:
        """Undo the last segmentation step (Ctrl+Z); returns its description, None when there was none."""
        self._check_thread()
        self._close_stroke()
        return None if self._segmentation is None else self._segmentation.undo()

    def redo_segmentation(self) -> str | None:
        """Redo the last undone segmentation step (Ctrl+Shift+Z); returns its description, None when there was none."""
        self._check_thread()
        self._close_stroke()
        return None if self._segmentation is None else self._segmentation.redo()

    # ------------------------------------------------------------------ segments: surfaces
    def segment_surface_job(self, segment_id: str) -> SegmentSurfaceJob:
        """A frozen copy of a segment's voxels (its box only) for a worker to make its surface."""
        self._check_thread()
        model = self._need_segmentation()
        seg = model.segment(segment_id)
        sid = seg.segment_id
        box = model.bounding_box(sid)
        self._segment_extents[sid] = box
        if box is None:
            return SegmentSurfaceJob(sid, seg.name, model.revision(sid), None, None)
        mask = model.mask(sid)[box.slices].copy()
        mask.setflags(write=False)
        return SegmentSurfaceJob(sid, seg.name, model.revision(sid), mask, _sub_geometry(model.geometry, box))

    def set_segment_surface(self, surface: SegmentSurface) -> bool:
        """Keep a segment's surface made by a worker (emits SEGMENT_SURFACE).

        Returns
        -------
        bool
            False (and nothing changes) when the segment is gone or its voxels changed
            since the job was made: a newer job brings its surface.
        """
        self._check_thread()
        if not isinstance(surface, SegmentSurface):
            raise ValueError(f"set_segment_surface() takes a SegmentSurface, got {type(surface).__name__}")
        model = self._segmentation
        sid = surface.segment_id
        if model is None or sid not in model or model.revision(sid) != surface.revision:
            return False
        self._segment_surfaces[sid] = surface
        self._emit(StateEvent.SEGMENT_SURFACE, surface, sid)
        return True

    # ------------------------------------------------------------------ measurements
    @property
    def measurements(self) -> MeasurementList:
        """The measurements (LPS shapes); its changes arrive as ``MEASUREMENTS`` events.

        Change it on the owner thread (``state.measurements.rename(...)``, ``delete``...); the
        list is emptied when a new volume is shown.
        """
        return self._measurements

    @property
    def measure_tool(self) -> MeasureTool:
        """What left clicks on a slice place."""
        return self._measure_tool

    @property
    def measure_points(self) -> tuple[np.ndarray, ...]:
        """The points placed so far of the measurement being made (LPS, read-only)."""
        return self._measure_points

    def _on_measurements(self, event: MeasurementEvent) -> None:
        self._check_thread()
        m = event.measurement
        self._emit(StateEvent.MEASUREMENTS, event, None if m is None else m.id)

    def _set_measure_points(self, points: tuple[np.ndarray, ...], view: Plane | None) -> None:
        if len(points) == len(self._measure_points) and all(np.array_equal(a, b) for a, b in zip(points, self._measure_points)):
            self._measure_view = view
            return
        self._measure_points, self._measure_view = points, view
        self._emit(StateEvent.MEASURE_POINTS, points, view)

    def set_measure_tool(self, tool: MeasureTool | str) -> None:
        """Choose what clicks place (emits MEASURE_TOOL); points placed so far are dropped."""
        self._check_thread()
        new = _enum(MeasureTool, tool, "measurement tool")
        self._set_measure_points((), None)
        if new is not self._measure_tool:
            self._measure_tool = new
            self._emit(StateEvent.MEASURE_TOOL, new)

    def measure(self, mid: int) -> MeasurementResult:
        """The values of measurement ``mid`` on the volume shown (patient space).

        Raises
        ------
        MeasurementError
            It cannot be measured on this volume (outside it...).
        KeyError
            No such id.
        ValueError
            No volume loaded.
        """
        vol = self._need_volume("measure")
        return measure(vol, self._measurements.get(mid).shape, reslicer=self._reslicer)

    def add_measurement(self, shape: Shape, name: str | None = None) -> int:
        """Add a shape after checking that it can be measured on the volume; its id.

        Raises
        ------
        MeasurementError
            A point outside the volume, a region covering no voxel (nothing is added).
        """
        self._check_thread()
        vol = self._need_volume("add a measurement")
        measure(vol, shape, reslicer=self._reslicer)  # raises before anything is added
        return self._measurements.add(shape, name).id

    def measure_click(self, view: Plane | str, xyz: npt.ArrayLike) -> int | None:
        """A click of the current tool at an LPS point of a view; the new measurement's id once it has its points.

        A ruler takes two clicks, an angle three, an ellipse two on one view (centre, then a
        corner of its box on that view's plane). Points placed so far are in
        :attr:`measure_points` (emits MEASURE_POINTS).

        Raises
        ------
        MeasurementError
            A point outside the volume (the click is dropped, earlier points are kept).
        ValueError
            No tool chosen, no volume, or a degenerate shape (the points are dropped).
        """
        self._check_thread()
        plane = _plane(view)
        tool = self._measure_tool
        if tool is MeasureTool.NONE:
            raise ValueError("choose a measurement tool first (ruler, angle or ellipse)")
        vol = self._need_volume("measure")
        p = _frozen(_point(xyz))
        measure(vol, Ruler(_xyz(p), _xyz(p)), reslicer=self._reslicer)  # the point must lie in the volume
        if tool is MeasureTool.ELLIPSE and self._measure_points and self._measure_view is not plane:
            self._set_measure_points((), None)  # an ellipse lies on one view's plane: start again there
        points = (*self._measure_points, p)
        if len(points) < tool.clicks:
            self._set_measure_points(points, plane)
            return None
        self._set_measure_points((), None)
        shape: Shape
        if tool is MeasureTool.RULER:
            shape = Ruler(_xyz(points[0]), _xyz(points[1]))
        elif tool is MeasureTool.ANGLE:
            shape = Angle(_xyz(points[0]), _xyz(points[1]), _xyz(points[2]))
        elif tool is MeasureTool.SPHERE:
            radius = float(np.linalg.norm(points[1] - points[0]))
            if radius == 0:
                raise ValueError("a sphere needs a second click away from its centre (a point of its surface)")
            shape = Sphere(_xyz(points[0]), radius)
        else:
            axes = self._axes[plane]  # the view's own frame: rotated planes too
            d = points[1] - points[0]
            ru, rv = abs(float(d @ axes[:, 0])), abs(float(d @ axes[:, 1]))
            if ru == 0 or rv == 0:
                raise ValueError("an ellipse needs a second click off the centre's row and column (a corner of its box)")
            shape = Ellipse.in_plane(_xyz(points[0]), ru, rv, axes)
        return self.add_measurement(shape)

    # ------------------------------------------------------------------ measurement handles
    @property
    def grabbed_handle(self) -> tuple[int, int] | None:
        """``(measurement id, handle index)`` being dragged, or None."""
        return self._grabbed

    def grab_measure_handle(self, view: Plane | str, xyz: npt.ArrayLike, tolerance_mm: float) -> tuple[int, int] | None:
        """Take hold of the measurement handle nearest an LPS point of a view, within ``tolerance_mm``.

        The widget gives its pick radius in mm (pixels times its mm per pixel); handles off
        the view's plane by more than that are out of reach. Returns what was grabbed.
        """
        self._check_thread()
        plane = _plane(view)
        p = _point(xyz)
        tol = _finite(tolerance_mm, "pick tolerance (mm)")
        n = self._axes[plane][:, 2]
        best: tuple[float, int, int] | None = None
        for m in self._measurements:
            for index, h in enumerate(m.shape.handles()):
                dist = float(np.linalg.norm(np.asarray(h, float) - p))
                if dist <= tol and abs(float((np.asarray(h, float) - p) @ n)) <= tol and (best is None or dist < best[0]):
                    best = (dist, m.id, index)
        self._grabbed = None if best is None else (best[1], best[2])
        return self._grabbed

    def drag_measure_handle(self, xyz: npt.ArrayLike) -> bool:
        """Move the grabbed handle to an LPS point (emits MEASUREMENTS); False when nothing is
        held or the point lies outside the volume (the handle stays where it was)."""
        self._check_thread()
        if self._grabbed is None:
            return False
        vol = self._need_volume("move a measurement")
        p = _point(xyz)
        ijk = np.linalg.inv(vol.affine) @ np.append(p, 1.0)
        if np.any(ijk[:3] < -0.5) or np.any(ijk[:3] > np.asarray(vol.dimensions, float) - 0.5):
            return False
        mid, index = self._grabbed
        try:
            self._measurements.move_handle(mid, index, _xyz(p))
        except ValueError:  # a degenerate shape (an arm of zero length): keep the last good one
            return False
        return True

    def release_measure_handle(self) -> None:
        """Let go of the grabbed handle."""
        self._check_thread()
        self._grabbed = None

    # ------------------------------------------------------------------ corner annotations
    @property
    def annotations(self) -> AnnotationOptions:
        """Whether the corner texts show, and whether they hide patient information."""
        return self._annotations

    def set_annotations(self, *, visible: bool | None = None, anonymize: bool | None = None) -> None:
        """Show or hide the corner texts, or the patient information in them (emits ANNOTATIONS)."""
        self._check_thread()
        new = dataclasses.replace(
            self._annotations,
            **{k: bool(v) for k, v in (("visible", visible), ("anonymize", anonymize)) if v is not None},
        )
        if new != self._annotations:
            self._annotations = new
            self._emit(StateEvent.ANNOTATIONS, new)

    # ------------------------------------------------------------------ 3D view
    @property
    def view3d(self) -> View3DSettings:
        """The 3D view's settings: standard camera asked for, background, slice planes, crop box, edited opacity points."""
        return self._view3d

    def _view3d_volume_changed(self, event: Event) -> None:
        """A new volume: no crop box, the anterior view fitted (no event of its own: VOLUME says so)."""
        if event.name is StateEvent.VOLUME:
            self._view3d = dataclasses.replace(self._view3d, camera=View.ANTERIOR, fitted=True, crop_box=None)
            self._value_range = None

    def _set_view3d(self, name: StateEvent, **change: Any) -> None:
        new = dataclasses.replace(self._view3d, **change)
        if new != self._view3d:
            self._view3d = new
            self._emit(name, new)

    def set_camera_view(self, view: View | str) -> None:
        """Ask for a standard view (anterior, posterior, left, right, superior, inferior), fitted to the volume (emits VIEW3D_CAMERA)."""
        self._check_thread()
        self._set_view3d(StateEvent.VIEW3D_CAMERA, camera=_standard_view(view), fitted=True)

    def reset_camera(self) -> None:
        """Reset: the camera fits the whole volume again, looking the way it looks (emits VIEW3D_CAMERA unless it fits already)."""
        self._check_thread()
        self._set_view3d(StateEvent.VIEW3D_CAMERA, fitted=True)

    def camera_moved(self) -> None:
        """The camera was turned, zoomed or panned by hand: no standard view, not fitted (emits VIEW3D_CAMERA)."""
        self._check_thread()
        self._set_view3d(StateEvent.VIEW3D_CAMERA, camera=None, fitted=False)

    def set_background(self, background: Background | str, color: Sequence[float] | None = None) -> None:
        """The 3D view's background; ``color`` (RGB 0..1) with ``Background.COLOUR`` (emits VIEW3D_BACKGROUND).

        Raises
        ------
        ValueError
            An unknown background, a colour outside 0..1, or a colour with a fixed background.
        """
        self._check_thread()
        bg = _enum(Background, background, "background")
        if color is not None and bg is not Background.COLOUR:
            raise ValueError(f"a colour goes with the 'colour' background, not {bg.value!r}")
        change: dict[str, Any] = {"background": bg}
        if color is not None:
            change["background_color"] = _rgb(color, "a background colour")
        self._set_view3d(StateEvent.VIEW3D_BACKGROUND, **change)

    def set_slice_planes_3d(self, visible: bool) -> None:
        """Show the three MPR planes through the crosshair in the 3D view, or not (emits VIEW3D_SLICE_PLANES)."""
        self._check_thread()
        self._set_view3d(StateEvent.VIEW3D_SLICE_PLANES, slice_planes=bool(visible))

    def slice_plane_outlines(self) -> dict[Plane, np.ndarray]:
        """Where each view's plane through the crosshair (its own frame, rotated or not) cuts the volume's box.

        Returns
        -------
        dict of Plane to numpy.ndarray
            ``(N, 3)`` LPS vertices going round each polygon (``(0, 3)`` when the plane misses the box).
        """
        vol = self._need_volume("draw its planes")
        return {p: plane_box_polygon(self._crosshair, self.plane_axes(p)[:, 2], vol.corners) for p in ORTHOGONAL_PLANES}

    def volume_bounds(self) -> tuple[float, float, float, float, float, float]:
        """The LPS box of the volume's voxel centres: ``x0, y0, z0, x1, y1, z1`` mm."""
        corners = self._need_volume("give its bounds").corners
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        return (*(float(v) for v in lo), *(float(v) for v in hi))  # type: ignore[return-value]

    def set_crop_box(self, box: Sequence[float] | None) -> None:
        """Crop the volume rendering and surfaces to an LPS box (None: no crop; emits CROP_BOX).

        Parameters
        ----------
        box : sequence of 6 float or None
            ``x0, y0, z0, x1, y1, z1`` mm with ``x0 < x1``, ``y0 < y1``, ``z0 < z1``. The part
            outside the volume's box (:meth:`volume_bounds`) is cut off.

        Raises
        ------
        ValueError
            No volume, not six finite numbers, a low corner value not below its high one, or
            a box that does not overlap the volume (nothing changes).
        """
        self._check_thread()
        if box is None:
            self._set_view3d(StateEvent.CROP_BOX, crop_box=None)
            return
        wanted = View3DSettings(crop_box=tuple(box)).crop_box  # type: ignore[arg-type]
        assert wanted is not None
        bounds = self.volume_bounds()
        lo, hi, overlaps = [], [], True
        for a in range(3):
            if bounds[a] == bounds[a + 3]:  # one slice thick along this axis: the box must hold it
                lo.append(wanted[a])
                hi.append(wanted[a + 3])
                overlaps &= wanted[a] <= bounds[a] <= wanted[a + 3]
            else:
                lo.append(max(wanted[a], bounds[a]))
                hi.append(min(wanted[a + 3], bounds[a + 3]))
                overlaps &= lo[a] < hi[a]
        if not overlaps:
            raise ValueError(
                f"crop box {', '.join(f'{v:g}' for v in wanted)} mm does not overlap the volume "
                f"({', '.join(f'{v:g}' for v in bounds)} mm): give a box that holds part of it"
            )
        self._set_view3d(StateEvent.CROP_BOX, crop_box=(*lo, *hi))

    def reset_crop_box(self) -> None:
        """The crop box becomes the whole volume (crop on, nothing cut yet; emits CROP_BOX)."""
        self._check_thread()
        self.set_crop_box(self.volume_bounds())

    def set_crop_handles(self, visible: bool) -> None:
        """Show the crop box's widget in the 3D view, or hide it (the crop stays; emits CROP_BOX)."""
        self._check_thread()
        self._set_view3d(StateEvent.CROP_BOX, crop_handles=bool(visible))

    def crop_box_ijk(self) -> tuple[float, float, float, float, float, float] | None:
        """The crop box as continuous voxel indices ``(i0, i1, j0, j1, k0, k1)`` (scene files), None without a crop.

        On an oblique grid: the index box that holds the LPS box.
        """
        box = self._view3d.crop_box
        if box is None:
            return None
        vol = self._need_volume("give its crop box")
        corners = np.array([[x, y, z] for x in (box[0], box[3]) for y in (box[1], box[4]) for z in (box[2], box[5])])
        ijk = vol.patient_to_index(corners)
        top = np.asarray(vol.dimensions, float) - 1.0
        lo, hi = np.clip(ijk.min(axis=0), 0.0, top), np.clip(ijk.max(axis=0), 0.0, top)
        return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), float(lo[2]), float(hi[2]))

    def set_crop_box_ijk(self, ijk: Sequence[float] | None) -> None:
        """Set the crop box from voxel indices ``(i0, i1, j0, j1, k0, k1)`` (a scene file's ``crop_ijk``): the LPS box holding them."""
        self._check_thread()
        if ijk is None:
            self.set_crop_box(None)
            return
        vol = self._need_volume("crop it")
        v = [_finite(x, "crop index") for x in ijk]
        if len(v) != 6:
            raise ValueError(f"a crop index box is i0, i1, j0, j1, k0, k1 (6 numbers), got {len(v)}")
        corners = vol.index_to_patient(np.array([[i, j, k] for i in v[0:2] for j in v[2:4] for k in v[4:6]]))
        self.set_crop_box((*corners.min(axis=0), *corners.max(axis=0)))

    # 3D view: the volume rendering's opacity points (the transfer-function editor)
    def volume_value_range(self) -> tuple[float, float]:
        """The volume's 1st-99th percentiles: what 0..1 of a normalised (MR) preset spans."""
        vol = self._need_volume("give its value range")
        if self._value_range is None or self._value_range[0] is not vol:
            self._value_range = (vol, value_range(vol))
        return self._value_range[1]

    def volume_opacity_points(self, *, edited: bool = True) -> tuple[tuple[float, float], ...]:
        """The opacity points of the preset shown, edited or the preset's: ``(value in the data's units, opacity)``.

        Values include the look's shift; the opacity is the point's own (before the opacity
        scale). ``edited=False``: the preset's own points, whatever was edited.
        """
        look = self._volume_look
        preset = load_volume_presets()[look.preset]
        points = (self._view3d.points_of(look.preset) if edited else None) or preset.opacity
        values = self.volume_value_range() if preset.normalized else (0.0, 1.0)
        return tuple((preset_to_data(preset, v, values, look.shift), o) for v, o in points)

    def set_volume_opacity_points(self, points: Iterable[Sequence[float]] | None, *, preset: str | None = None) -> None:
        """Replace a preset's opacity points (default: the preset shown), on the preset's own scale; None: its own points again.

        Emits VOLUME_OPACITY_POINTS. The points stay with the preset (other presets keep theirs).

        Raises
        ------
        ValueError
            An unknown preset, fewer than two points, an opacity outside 0..1, unsorted values.
        """
        self._check_thread()
        name = self._volume_look.preset if preset is None else str(preset)
        if name not in load_volume_presets():
            raise ValueError(f"unknown volume rendering preset {name!r}; use one of: {', '.join(load_volume_presets())}")
        edits = {k: v for k, v in self._view3d.opacity_points if k != name}
        if points is not None:
            edits[name] = _opacity_points(tuple(tuple(p) for p in points), f"opacity points of {name}")
        self._set_view3d(StateEvent.VOLUME_OPACITY_POINTS, opacity_points=tuple(edits.items()))

    def set_volume_opacity_point(self, index: int, value: float, opacity: float) -> tuple[float, float]:
        """Move one opacity point of the preset shown to ``(value in the data's units, opacity)``: a drag in the editor.

        The value stays between its neighbours' (the points stay sorted), the opacity within
        0..1. Returns the point where it went (the data's units); emits VOLUME_OPACITY_POINTS.

        Raises
        ------
        ValueError
            No volume, no such point, or a value or opacity that is not a finite number.
        """
        self._check_thread()
        look = self._volume_look
        preset = load_volume_presets()[look.preset]
        shown = list(self.volume_opacity_points())
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(shown):
            raise ValueError(f"no opacity point {index!r}: the points are 0..{len(shown) - 1}")
        i = int(index)
        x = _finite(value, "opacity point value")
        lo = shown[i - 1][0] if i > 0 else -math.inf
        hi = shown[i + 1][0] if i + 1 < len(shown) else math.inf
        x = min(hi, max(lo, x))
        o = min(1.0, max(0.0, _finite(opacity, "opacity")))
        values = self.volume_value_range() if preset.normalized else (0.0, 1.0)
        own = list(self._view3d.points_of(look.preset) or preset.opacity)
        own[i] = (data_to_preset(preset, x, values, look.shift), o)
        if i > 0 and own[i][0] < own[i - 1][0]:  # rounding of the scale's inverse: keep them sorted
            own[i] = (own[i - 1][0], o)
        if i + 1 < len(own) and own[i][0] > own[i + 1][0]:
            own[i] = (own[i + 1][0], o)
        self.set_volume_opacity_points(own)
        return x, o

    def volume_histogram(self, bins: int = 128) -> tuple[np.ndarray, np.ndarray]:
        """A histogram of the volume's values (padding excluded; at most a million samples).

        Returns
        -------
        edges, counts : numpy.ndarray
            ``bins + 1`` edges in the data's units and ``bins`` counts (read-only).
        """
        vol = self._need_volume("give its histogram")
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"a histogram needs a whole number of bins >= 1, got {bins!r}")
        flat = vol.array.reshape(-1)
        step = max(1, flat.size // 1_000_000)
        sample = flat[::step].astype(np.float64)
        if vol.padding_value is not None:
            sample = sample[sample != vol.padding_value]
        if sample.size == 0:
            sample = np.zeros(1)
        lo, hi = float(sample.min()), float(sample.max())
        counts, edges = np.histogram(sample, bins=int(bins), range=(lo, hi if hi > lo else lo + 1.0))
        return _frozen(edges), _frozen(counts.astype(np.float64))
