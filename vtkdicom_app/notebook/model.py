"""The notebook viewer's slice state, without widgets: a plain Python object.

:class:`SliceViewerModel` holds the crosshair (one LPS point driving the axial, coronal and
sagittal planes), the window/level and the current volume, and keeps one rendered RGB image
per plane. Each setter works out what it invalidated: a plane is **resliced** when its own
position (or the volume) changed, and **redrawn** when only its picture changed (the window,
or the crosshair lines of the other planes). Every change appends an :class:`Update` to
:attr:`SliceViewerModel.history` and calls the listeners with it; the ipywidgets viewer
(:mod:`vtkdicom_app.notebook.widget`) encodes and sends only the redrawn planes. Tests change
the state and assert which planes re-rendered, without a browser.

Slices come from :class:`vtkdicom_app.mpr.Reslicer`: planes are sampled in patient space, so
an oblique or coronal acquisition shows correct axial, coronal and sagittal planes, with the
display convention of :mod:`vtkdicom_app.mpr` (the patient's left on the image's right).

Examples
--------
>>> model = SliceViewerModel(vol)                  # doctest: +SKIP
>>> model.step(Plane.AXIAL, 1)                     # one slice up  # doctest: +SKIP
>>> model.history[-1].resliced                     # frozenset({<Plane.AXIAL: 'axial'>})  # doctest: +SKIP
>>> model.apply_preset("bone")                     # doctest: +SKIP
>>> model.history[-1].resliced, model.history[-1].redrawn    # nothing resliced, all redrawn  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from vtkdicom_app.display import WindowLevel, auto_window_level, load_wl_presets, to_display, window_level_from_header
from vtkdicom_app.mpr import (
    ORTHOGONAL_PLANES,
    Interpolation,
    Plane,
    Reslicer,
    Slice,
    normal_of,
    position_range,
    step_along,
)
from vtkdicom_app.volume import Volume

__all__ = ["SliceViewerModel", "Update", "Reason", "CROSSHAIR_COLOURS", "POSITION_AXIS"]

# which LPS coordinate each standard plane's position sets (z axial, y coronal, x sagittal)
POSITION_AXIS = {Plane.AXIAL: 2, Plane.CORONAL: 1, Plane.SAGITTAL: 0}
# the line that shows a plane in the other two views (3D Slicer's colours)
CROSSHAIR_COLOURS: dict[Plane, tuple[int, int, int]] = {
    Plane.AXIAL: (230, 60, 60),
    Plane.CORONAL: (70, 200, 70),
    Plane.SAGITTAL: (235, 205, 50),
}


class Reason(enum.Enum):
    """What caused an :class:`Update`."""

    INIT = "init"
    POSITION = "position"  # a plane's slider, a step
    POINT = "point"  # the crosshair moved to a point (a click)
    WINDOW = "window"
    VOLUME = "volume"  # another frame of a sequence
    CROSSHAIR = "crosshair"  # lines shown or hidden


@dataclasses.dataclass(frozen=True)
class Update:
    """What one change re-rendered.

    Attributes
    ----------
    reason : Reason
    resliced : frozenset of Plane
        Planes sampled again from the volume (their position changed).
    redrawn : frozenset of Plane
        Planes whose picture changed (always includes ``resliced``).
    """

    reason: Reason
    resliced: frozenset[Plane]
    redrawn: frozenset[Plane]


Listener = Callable[[Update], None]


def _as_plane(plane: Plane | str) -> Plane:
    p = plane if isinstance(plane, Plane) else Plane(str(plane).strip().lower())
    if p not in POSITION_AXIS:
        raise ValueError(f"the notebook viewer shows the axial, coronal and sagittal planes, not {p.value}")
    return p


class SliceViewerModel:
    """Three linked planes through one LPS point, with window/level and rendered images.

    Parameters
    ----------
    vol : Volume
    pixel_size : float, optional
        Square pixel size of the slices in mm (default: the volume's smallest spacing).
    interpolation : Interpolation or str
        Sampling between voxels (default linear).
    crosshair : bool
        Draw the other planes' lines on each view.

    Attributes
    ----------
    vol : Volume
    point : numpy.ndarray
        The crosshair, LPS mm (starts at the volume's centre).
    window, level : float
    preset : str
        The window preset's name (``"header"``, ``"auto"``, a preset, or ``""`` once edited).
    slices : dict of Plane to Slice
        The current slice of each plane.
    images : dict of Plane to numpy.ndarray
        What each view shows: ``(rows, cols, 3)`` uint8, crosshair included.
    history : list of Update
        One entry per change, oldest first.
    reslice_counts : dict of Plane to int
        How many times each plane was sampled from the volume.
    """

    def __init__(
        self,
        vol: Volume,
        *,
        pixel_size: float | None = None,
        interpolation: Interpolation | str = Interpolation.LINEAR,
        crosshair: bool = True,
    ) -> None:
        self.vol = vol
        self.pixel_size = pixel_size
        self.interpolation = interpolation if isinstance(interpolation, Interpolation) else Interpolation(str(interpolation).lower())
        self.crosshair = bool(crosshair)
        self.presets: dict[str, WindowLevel] = load_wl_presets()
        self._reslicer = Reslicer(vol)
        self.point = self._reslicer.centre()
        self._set_geometry(vol)
        wl = window_level_from_header(vol) or auto_window_level(vol)
        self.window, self.level = float(wl.window), float(wl.level)
        self.preset = wl.name or "auto"
        self.slices: dict[Plane, Slice] = {}
        self.images: dict[Plane, np.ndarray] = {}
        self._grey: dict[Plane, np.ndarray] = {}
        self.history: list[Update] = []
        self.reslice_counts: dict[Plane, int] = {p: 0 for p in ORTHOGONAL_PLANES}
        self._listeners: list[Listener] = []
        self._apply(Reason.INIT, ORTHOGONAL_PLANES, ORTHOGONAL_PLANES)

    # ------------------------------------------------------------------ listeners
    def observe(self, listener: Listener) -> None:
        """Call ``listener(update)`` after every change."""
        self._listeners.append(listener)

    def unobserve(self, listener: Listener) -> None:
        """Stop calling a listener."""
        self._listeners.remove(listener)

    # ------------------------------------------------------------------ positions
    def _set_geometry(self, vol: Volume) -> None:
        self._ranges = {p: position_range(vol, p) for p in ORTHOGONAL_PLANES}
        self._steps = {p: step_along(vol, normal_of(p).tolist()) for p in ORTHOGONAL_PLANES}

    def n_positions(self, plane: Plane | str) -> int:
        """How many slice positions a plane's scroller has (true slice steps over the volume)."""
        p = _as_plane(plane)
        lo, hi = self._ranges[p]
        return int(math.floor((hi - lo) / self._steps[p] + 1e-6)) + 1

    def position(self, plane: Plane | str) -> float:
        """The plane's LPS coordinate through the crosshair (z axial, y coronal, x sagittal)."""
        return float(self.point[POSITION_AXIS[_as_plane(plane)]])

    def index(self, plane: Plane | str) -> int:
        """The scroller position of a plane: the nearest slice step from the low end."""
        p = _as_plane(plane)
        lo, _hi = self._ranges[p]
        n = int(round((self.position(p) - lo) / self._steps[p]))
        return min(max(n, 0), self.n_positions(p) - 1)

    def set_index(self, plane: Plane | str, n: int) -> Update | None:
        """Move a plane to scroller position ``n`` (clamped): only that plane is resliced.

        Returns
        -------
        Update or None
            None when nothing changed.
        """
        p = _as_plane(plane)
        n = min(max(int(n), 0), self.n_positions(p) - 1)
        lo, _hi = self._ranges[p]
        value = lo + n * self._steps[p]
        axis = POSITION_AXIS[p]
        if math.isclose(float(self.point[axis]), value, abs_tol=1e-9):
            return None
        self.point = self.point.copy()
        self.point[axis] = value
        return self._apply(Reason.POSITION, [p], self._crosshair_views(p))

    def step(self, plane: Plane | str, n: int = 1) -> Update | None:
        """Move a plane ``n`` slice steps (negative: back), stopping at the first and last slice."""
        return self.set_index(plane, self.index(plane) + int(n))

    def set_point(self, xyz: npt.ArrayLike) -> Update | None:
        """Move the crosshair to an LPS point: the planes whose coordinate changed are resliced."""
        new = np.asarray(xyz, dtype=np.float64).reshape(3)
        if not np.all(np.isfinite(new)):
            raise ValueError(f"the crosshair must be three finite numbers (LPS mm), got {xyz!r}")
        moved = [p for p in ORTHOGONAL_PLANES if not math.isclose(float(new[POSITION_AXIS[p]]), float(self.point[POSITION_AXIS[p]]), abs_tol=1e-9)]
        if not moved:
            return None
        self.point = new.copy()
        return self._apply(Reason.POINT, moved, ORTHOGONAL_PLANES if self.crosshair else moved)

    def click(self, plane: Plane | str, row: float, col: float) -> Update | None:
        """A click on pixel ``(row, col)`` of a view: the crosshair goes there; that plane stays."""
        p = _as_plane(plane)
        xyz = self.slices[p].pixel_to_patient(row, col)
        xyz[POSITION_AXIS[p]] = self.point[POSITION_AXIS[p]]  # exactly on the clicked plane
        return self.set_point(xyz)

    # ------------------------------------------------------------------ display
    def set_window(self, window: float, level: float) -> Update | None:
        """Change window (width > 0) and level: every view is redrawn, none resliced."""
        wl = WindowLevel(float(window), float(level))
        if (wl.window, wl.level) == (self.window, self.level):
            return None
        self.window, self.level, self.preset = wl.window, wl.level, ""
        self._grey.clear()
        return self._apply(Reason.WINDOW, [], ORTHOGONAL_PLANES)

    def apply_preset(self, name: str) -> Update | None:
        """Use a window preset by name (:func:`vtkdicom_app.mpr.load_wl_presets`)."""
        if name not in self.presets:
            raise ValueError(f"unknown window preset {name!r}; use one of: {', '.join(self.presets)}")
        wl = self.presets[name]
        update = self.set_window(wl.window, wl.level)
        self.preset = name
        return update

    def reset_window(self) -> Update | None:
        """Window from the header, else automatic."""
        wl = window_level_from_header(self.vol) or auto_window_level(self.vol)
        update = self.set_window(wl.window, wl.level)
        self.preset = wl.name or "auto"
        return update

    def set_crosshair(self, visible: bool) -> Update | None:
        """Show or hide the crosshair lines."""
        if bool(visible) == self.crosshair:
            return None
        self.crosshair = bool(visible)
        return self._apply(Reason.CROSSHAIR, [], ORTHOGONAL_PLANES)

    def set_volume(self, vol: Volume) -> Update:
        """Show another volume of the same grid (a frame of a sequence): every plane is resliced."""
        if vol.shape != self.vol.shape or not np.allclose(vol.affine, self.vol.affine, atol=1e-4):
            raise ValueError("set_volume takes a volume on the same grid (a frame of the same sequence)")
        self.vol = vol
        self._reslicer = Reslicer(vol)
        return self._apply(Reason.VOLUME, ORTHOGONAL_PLANES, ORTHOGONAL_PLANES)

    def value_at_point(self) -> float | None:
        """The voxel value under the crosshair (nearest voxel), None outside the volume."""
        try:
            return self.vol.value_at(self.point)
        except IndexError:
            return None

    def crosshair_pixel(self, plane: Plane | str) -> tuple[float, float]:
        """Where the crosshair lies in a view: ``(row, col)``, fractional."""
        row, col, _ = self.slices[_as_plane(plane)].patient_to_pixel(self.point)
        return float(row), float(col)

    # ------------------------------------------------------------------ rendering
    def _crosshair_views(self, moved: Plane) -> list[Plane]:
        return list(ORTHOGONAL_PLANES) if self.crosshair else [moved]

    def _reslice(self, plane: Plane) -> None:
        self.slices[plane] = self._reslicer.reslice(plane, point=self.point.tolist(), interpolation=self.interpolation, pixel_size=self.pixel_size)
        self.reslice_counts[plane] += 1
        self._grey.pop(plane, None)

    def render(self, plane: Plane | str) -> np.ndarray:
        """The view's picture: the slice with the current window, crosshair lines on top.

        Returns
        -------
        numpy.ndarray
            ``(rows, cols, 3)`` uint8, row 0 at the top.
        """
        p = _as_plane(plane)
        grey = self._grey.get(p)
        if grey is None:
            s = self.slices[p]
            shown = to_display(s.array, self.window, self.level, invert=bool(self.vol.invert_display))
            grey = shown if shown.ndim == 3 else np.repeat(shown[:, :, None], 3, axis=2)
            self._grey[p] = grey
        if not self.crosshair:
            return grey
        rgb = grey.copy()
        s = self.slices[p]
        row, col = self.crosshair_pixel(p)
        rows, cols = rgb.shape[:2]
        for other in ORTHOGONAL_PLANES:
            if other is p:
                continue
            n = normal_of(other)
            colour = np.array(CROSSHAIR_COLOURS[other], np.uint8)
            if abs(float(n @ s.axes[:, 0])) > 0.5:  # the other plane is a vertical line here
                c = int(round(col))
                if 0 <= c < cols:
                    rgb[:, c] = colour
            elif abs(float(n @ s.axes[:, 1])) > 0.5:  # a horizontal line
                r = int(round(row))
                if 0 <= r < rows:
                    rgb[r, :] = colour
        return rgb

    def _apply(self, reason: Reason, resliced: Iterable[Plane], redrawn: Iterable[Plane]) -> Update:
        resliced_set = frozenset(resliced)
        redrawn_set = frozenset(redrawn) | resliced_set
        for p in ORTHOGONAL_PLANES:  # a fixed order: axial, coronal, sagittal
            if p in resliced_set:
                self._reslice(p)
        for p in ORTHOGONAL_PLANES:
            if p in redrawn_set:
                self.images[p] = self.render(p)
        update = Update(reason, resliced_set, redrawn_set)
        self.history.append(update)
        for listener in list(self._listeners):
            listener(update)
        return update
