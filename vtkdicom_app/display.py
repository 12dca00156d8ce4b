"""How a slice is shown: window/level (presets, header, automatic), grey mapping, and the
rules of the viewer's display gestures (window/level drag gains, zoom and pan limits).

Split out of :mod:`vtkdicom_app.mpr`, which re-exports the window/level names so that
``from vtkdicom_app.mpr import WindowLevel, apply_window, ...`` keeps working. The rules at
the end of this module are the one place their numbers live: the viewer's state
(:mod:`vtkdicom_app.viewer_state`) and the scripting cursor (:class:`~vtkdicom_app.mpr.MprCursor`)
both call them.

Examples
--------
>>> wl = WindowLevel(400.0, 40.0)
>>> apply_window([-160.0, 40.0, 240.0], wl.window, wl.level).tolist()
[0, 127, 255]
>>> drag_window_level(wl, 10, -5)        # 10 px right, 5 px down: wider, lower
WindowLevel(window=440.0, level=30.0, name='')
"""

from __future__ import annotations

import dataclasses
import math
from collections import abc
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from vtkdicom_app.geometry import sample_values
from vtkdicom_app.presets import PresetKind, load_presets
from vtkdicom_app.volume import Volume

__all__ = [
    "WindowLevel",
    "load_wl_presets",
    "window_level_from_header",
    "auto_window_level",
    "apply_window",
    "to_display",
    "DragGains",
    "drag_window_level",
    "clamp_zoom",
    "clamp_pan",
    "WINDOW_DRAG_GAIN",
    "LEVEL_DRAG_GAIN",
    "MIN_DRAG_WINDOW",
    "ZOOM_MIN",
    "ZOOM_MAX",
    "ZOOM_STEP",
]


# ----------------------------------------------------------------------------- window/level
@dataclasses.dataclass(frozen=True)
class WindowLevel:
    """A display window: width and level (centre) in the volume's units.

    Attributes
    ----------
    window : float
        Width (> 0).
    level : float
        Centre.
    name : str
        Preset name, ``'header'`` or ``'auto'``.
    """

    window: float
    level: float
    name: str = ""

    def __post_init__(self) -> None:
        window, level = float(self.window), float(self.level)
        if not (window > 0 and math.isfinite(window)):
            raise ValueError(f"window must be a positive, finite width, got {self.window!r}")
        if not math.isfinite(level):
            raise ValueError(f"level must be a finite number, got {self.level!r}")
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "level", level)

    @property
    def low(self) -> float:
        """Value shown black."""
        return self.level - self.window / 2

    @property
    def high(self) -> float:
        """Value shown white."""
        return self.level + self.window / 2


def _window_level(item: dict[str, Any]) -> WindowLevel:
    wl = WindowLevel(window=float(item["window"]), level=float(item["level"]), name=str(item["name"]))
    if not (wl.window > 0 and math.isfinite(wl.window) and math.isfinite(wl.level)):
        raise ValueError("needs a positive, finite window and a finite level")
    return wl


@lru_cache(maxsize=1)
def _preset_table() -> tuple[WindowLevel, ...]:
    return tuple(load_presets(PresetKind.WINDOW_LEVEL, _window_level).values())


def load_wl_presets() -> dict[str, WindowLevel]:
    """Window/level presets from ``vtkdicom_app/data/wl_presets.json``, keyed by name.

    Returns
    -------
    dict of str to WindowLevel
        In file order (brain, subdural, stroke, bone, lung, mediastinum, abdomen, liver,
        soft-tissue for CT); a new dict each call.

    Raises
    ------
    VtkDicomError
        The file is malformed (the message names the preset).
    """
    return {wl.name: wl for wl in _preset_table()}


def _first_number(value: Any) -> float | None:
    if isinstance(value, str) and "\\" in value:
        value = value.split("\\")[0]
    if isinstance(value, abc.Sequence) and not isinstance(value, (str, bytes)):
        value = value[0] if len(value) else None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def window_level_from_header(vol: Volume) -> WindowLevel | None:
    """The window from the DICOM header (WindowWidth/WindowCenter, first pair).

    Parameters
    ----------
    vol : Volume

    Returns
    -------
    WindowLevel or None
        None when the header has no usable (positive width) window.
    """
    w = _first_number(vol.metadata.get("WindowWidth"))
    c = _first_number(vol.metadata.get("WindowCenter"))
    if w is None or c is None or w <= 0:
        return None
    return WindowLevel(w, c, "header")


def auto_window_level(vol: Volume | np.ndarray, *, percentiles: tuple[float, float] = (1.0, 99.0)) -> WindowLevel:
    """A window spanning two percentiles of the values, PixelPaddingValue excluded.

    Parameters
    ----------
    vol : Volume or numpy.ndarray
        For a Volume, voxels equal to ``vol.padding_value`` (real-world units) are
        left out.
    percentiles : tuple of float
        Low and high percentiles (0-100) shown black and white.

    Returns
    -------
    WindowLevel
        Named ``'auto'``; width at least 1.
    """
    if isinstance(vol, Volume):
        if vol.is_colour:  # colour is shown as stored: a full 8-bit window
            return WindowLevel(255.0, 127.5, "auto")
        arr = np.asarray(vol.array)
        pad = vol.padding_value
    else:
        arr, pad = np.asarray(vol), None
    lo_p, hi_p = (float(v) for v in percentiles)
    if not 0 <= lo_p < hi_p <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles!r}")
    sample = sample_values(arr, exclude=None if pad is None else float(pad))
    if sample.size == 0 or (pad is not None and bool(np.all(sample == pad))):
        return WindowLevel(1.0, 0.0, "auto")
    lo, hi = (float(v) for v in np.percentile(sample, (lo_p, hi_p)))
    if hi - lo < 1.0:
        hi = lo + 1.0
    return WindowLevel(hi - lo, (hi + lo) / 2.0, "auto")


def apply_window(array: npt.ArrayLike, window: float, level: float, invert: bool = False) -> np.ndarray:
    """Map values to 8-bit grey: ``level - window/2`` black, ``level + window/2`` white.

    Parameters
    ----------
    array : array_like
        Values in the volume's units (any shape).
    window, level : float
        Width (> 0) and centre.
    invert : bool, default False
        White for low values: MONOCHROME1 display (``vol.invert_display``); the
        values themselves never change.

    Returns
    -------
    numpy.ndarray
        uint8 of the same shape.
    """
    if not window > 0:
        raise ValueError(f"window must be positive, got {window!r}")
    lo = float(level) - float(window) / 2.0
    scaled = (np.asarray(array, dtype=np.float32) - np.float32(lo)) * np.float32(255.0 / float(window))
    out = np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).astype(np.uint8)
    return 255 - out if invert else out


def to_display(array: npt.ArrayLike, window: float, level: float, invert: bool = False) -> np.ndarray:
    """uint8 pixels to show a slice: windowed grey ``(rows, cols)``, or RGB ``(rows, cols, 3)``
    passed through unchanged for a colour slice (window and level do not apply to colour).

    Parameters
    ----------
    array : array_like
        A slice's values, ``(rows, cols)``, or ``(rows, cols, 3)`` uint8 for colour.
    window, level : float
    invert : bool

    Returns
    -------
    numpy.ndarray
        uint8.
    """
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr, dtype=np.uint8)
    return apply_window(arr, window, level, invert=invert)


# ----------------------------------------------------------------------------- gestures
WINDOW_DRAG_GAIN = 4.0
"""Window units per display pixel of a horizontal right-button drag (the viewer's gain)."""
LEVEL_DRAG_GAIN = 2.0
"""Level units per display pixel of a vertical right-button drag."""
MIN_DRAG_WINDOW = 1.0
"""A drag never narrows the window below this (unless it already was narrower)."""
ZOOM_MIN = 0.2
"""Smallest zoom of a slice view (1 = the slice's footprint fills the view)."""
ZOOM_MAX = 20.0
"""Largest zoom of a slice view."""
ZOOM_STEP = 1.2
"""Zoom factor of one Ctrl+wheel notch."""


@dataclasses.dataclass(frozen=True)
class DragGains:
    """How far a right-button drag moves window and level per display pixel.

    Attributes
    ----------
    window : float
        Window units per pixel moved right (> 0).
    level : float
        Level units per pixel moved up (> 0).
    """

    window: float = WINDOW_DRAG_GAIN
    level: float = LEVEL_DRAG_GAIN

    def __post_init__(self) -> None:
        for name in ("window", "level"):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not (number > 0 and math.isfinite(number)):
                raise ValueError(f"the {name} drag gain must be a positive, finite number of units per pixel, got {value!r}")
            object.__setattr__(self, name, number)


def drag_window_level(start: WindowLevel, dx_px: float, dy_px: float, gains: DragGains | None = None) -> WindowLevel:
    """The window after a right-button drag of ``(dx_px, dy_px)`` display pixels from ``start``.

    Parameters
    ----------
    start : WindowLevel
        The window when the drag began.
    dx_px, dy_px : float
        Pointer motion since the press: right and up are positive.
    gains : DragGains, optional
        Default :data:`WINDOW_DRAG_GAIN`, :data:`LEVEL_DRAG_GAIN`.

    Returns
    -------
    WindowLevel
        ``window = start.window + dx * gains.window`` (never below :data:`MIN_DRAG_WINDOW`,
        or ``start.window`` when that was narrower), ``level = start.level + dy * gains.level``.
    """
    g = gains or DragGains()
    dx, dy = float(dx_px), float(dy_px)
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise ValueError(f"drag distances must be finite pixels, got ({dx_px!r}, {dy_px!r})")
    floor = min(MIN_DRAG_WINDOW, start.window)
    return WindowLevel(max(floor, start.window + dx * g.window), start.level + dy * g.level)


def clamp_zoom(zoom: float) -> float:
    """A zoom clamped to :data:`ZOOM_MIN`..:data:`ZOOM_MAX`.

    Raises
    ------
    ValueError
        Not a positive, finite number.
    """
    try:
        z = float(zoom)
    except (TypeError, ValueError):
        z = math.nan
    if not (z > 0 and math.isfinite(z)):
        raise ValueError(f"zoom must be a positive, finite factor, got {zoom!r}")
    return float(min(ZOOM_MAX, max(ZOOM_MIN, z)))


def clamp_pan(pan: Sequence[float], limit_mm: float | None = None) -> tuple[float, float]:
    """A view offset ``(along columns, along rows)`` in mm, each clamped to ``+-limit_mm``.

    Parameters
    ----------
    pan : sequence of float
        Two finite numbers (mm).
    limit_mm : float, optional
        No clamp when None (no volume to measure); the viewer uses half the diagonal of the
        volume's bounding box, so the image can never be panned out of reach.

    Raises
    ------
    ValueError
        Not two finite numbers.
    """
    try:
        values = tuple(float(v) for v in pan)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"pan must be two finite numbers of mm (along columns, rows), got {pan!r}")
    if limit_mm is None:
        return values
    lim = abs(float(limit_mm))
    return (min(lim, max(-lim, values[0])), min(lim, max(-lim, values[1])))
