"""Multiplanar reslicing in patient space: axial, coronal, sagittal and oblique planes.

Planes are defined in patient space (LPS mm), never by array axes, so a volume acquired
sagittally, obliquely or feet first gives the same axial image. Display convention
(radiological):

* axial: columns run from the patient's Right to Left (the patient's left is on the image's
  right), rows from Anterior (top) to Posterior;
* coronal: columns Right to Left, rows Superior (top) to Inferior;
* sagittal: columns Anterior to Posterior, rows Superior to Inferior.

A :class:`Slice` holds a numpy array ``array[row, col]`` with row 0 at the top, its pixel size
in mm (square by default: no aspect ratio to compute), the LPS position of every pixel, and
the vtkImageData for rendering. Reslicing is vtkImageReslice on the volume's vtkImageData,
which carries the direction matrix; the output direction is set to identity so that output
pixels lie on the plane's own grid (DESIGN.md, geometry rules).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.pipeline import run_update
from vtkdicom_app.volume import Volume

__all__ = [
    "Plane",
    "Interpolation",
    "SlabMode",
    "Slice",
    "Reslicer",
    "reslice",
    "plane_axes",
    "MprCursor",
    "WindowLevel",
    "load_wl_presets",
    "window_level_from_header",
    "auto_window_level",
    "apply_window",
    "orientation_letters",
]


class Plane(enum.Enum):
    """Reslice planes."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"
    OBLIQUE = "oblique"


class Interpolation(enum.Enum):
    """Sampling between voxels."""

    NEAREST = "nearest"
    LINEAR = "linear"
    CUBIC = "cubic"


class SlabMode(enum.Enum):
    """How a thick slab combines its slices."""

    NONE = "none"
    MIP = "mip"
    MINIP = "minip"
    MEAN = "mean"


# (column direction, row direction) in LPS for the standard planes; normal = col x row
_STANDARD_AXES: dict[Plane, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    Plane.AXIAL: ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    Plane.CORONAL: ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    Plane.SAGITTAL: ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}
# which LPS coordinate ``position`` sets for each standard plane
_POSITION_AXIS = {Plane.AXIAL: 2, Plane.CORONAL: 1, Plane.SAGITTAL: 0}
_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))


def orientation_letters(direction: Sequence[float]) -> str:
    """Patient direction letters of an LPS vector: 'L', 'A', or two for oblique ('LA')."""
    v = np.asarray(direction, float)
    order = np.argsort(-np.abs(v))
    letters = []
    for axis in order[:2]:
        if abs(v[axis]) < 0.3 * abs(v[order[0]]) or abs(v[axis]) < 1e-6:
            break
        letters.append(_LETTERS[axis][0 if v[axis] > 0 else 1])
    return "".join(letters)


def plane_axes(plane: Plane, normal: Sequence[float] | None = None) -> np.ndarray:
    """3x3 matrix whose columns are the image's column direction, row direction and normal.

    For an oblique plane the in-plane axes are those of the nearest standard plane,
    projected onto the plane, so that the image keeps the familiar orientation.
    """
    if plane is not Plane.OBLIQUE:
        col, row = (np.asarray(a) for a in _STANDARD_AXES[plane])
        return np.column_stack([col, row, np.cross(col, row)])
    if normal is None:
        raise ValueError("an oblique plane needs a normal")
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)
    nearest = max(_STANDARD_AXES, key=lambda p: abs(float(np.cross(*_STANDARD_AXES[p]) @ n)))
    col0, row0 = (np.asarray(a) for a in _STANDARD_AXES[nearest])
    if float(np.cross(col0, row0) @ n) < 0:
        n = -n  # keep the normal on the standard plane's side so the image is not mirrored
    col = col0 - (col0 @ n) * n
    col /= np.linalg.norm(col)
    row = np.cross(n, col)
    return np.column_stack([col, row, n])


@dataclasses.dataclass
class Slice:
    """A resliced 2D image in patient space.

    Attributes
    ----------
    array : numpy.ndarray
        ``array[row, col]``, row 0 at the top of the displayed image; the volume's dtype
        (float32 when interpolation makes fractions of an integer volume).
    pixel_size : tuple of float
        (mm along columns, mm along rows); square unless asked otherwise.
    origin : numpy.ndarray
        LPS position of the centre of pixel [0, 0].
    axes : numpy.ndarray
        3x3, columns: LPS direction of increasing column, of increasing row, and the normal.
    plane : Plane
    position : float
        Signed distance of the plane from the patient origin along the normal (mm); for
        standard planes the LPS coordinate the plane sits at (z, y or x).
    image : vtkImageData
        The same pixels for rendering (VTK index (i, j) = array[j, i]).
    """

    array: np.ndarray
    pixel_size: tuple[float, float]
    origin: np.ndarray
    axes: np.ndarray
    plane: Plane
    position: float
    image: Any = None

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return tuple(self.array.shape)  # type: ignore[return-value]

    @property
    def normal(self) -> np.ndarray:
        """Unit normal of the plane (LPS)."""
        return self.axes[:, 2]

    def pixel_to_patient(self, row: npt.ArrayLike, col: npt.ArrayLike) -> np.ndarray:
        """LPS mm of pixel centres (row and col may be arrays or fractional)."""
        r = np.asarray(row, float)[..., None]
        c = np.asarray(col, float)[..., None]
        return self.origin + c * self.pixel_size[0] * self.axes[:, 0] + r * self.pixel_size[1] * self.axes[:, 1]

    def patient_to_pixel(self, xyz: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, col, distance from the plane in mm) of LPS points."""
        d = np.asarray(xyz, float) - self.origin
        col = d @ self.axes[:, 0] / self.pixel_size[0]
        row = d @ self.axes[:, 1] / self.pixel_size[1]
        return row, col, d @ self.axes[:, 2]

    def orientation_letters(self) -> dict[str, str]:
        """Letters for each edge: {'left': 'R', 'right': 'L', 'top': 'A', 'bottom': 'P'} for axial."""
        col, row = self.axes[:, 0], self.axes[:, 1]
        return {
            "left": orientation_letters(-col),
            "right": orientation_letters(col),
            "top": orientation_letters(-row),
            "bottom": orientation_letters(row),
        }

    @property
    def extent_mm(self) -> tuple[float, float]:
        """(width, height) of the image in mm."""
        return (self.array.shape[1] * self.pixel_size[0], self.array.shape[0] * self.pixel_size[1])


def _corners(vol: Volume) -> np.ndarray:
    ni, nj, nk = vol.dimensions
    return vol.index_to_patient(np.array([[i, j, k] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)], float))


def step_along(vol: Volume, normal: Sequence[float]) -> float:
    """Distance between the volume's voxel planes along a direction (the true slice step)."""
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)
    per_axis = (vol.direction.T @ n) / np.asarray(vol.spacing)  # voxels per mm along each index axis
    return float(1.0 / np.linalg.norm(per_axis))


class Reslicer:
    """A reusable reslice pipeline for one volume (fast repeated slicing, e.g. dragging).

    Parameters
    ----------
    vol : Volume
    """

    def __init__(self, vol: Volume) -> None:
        from vtkmodules.vtkImagingCore import vtkImageReslice

        self.vol = vol
        self._image = vol.to_vtk()
        self._reslice = vtkImageReslice()
        self._reslice.SetInputData(self._image)
        self._reslice.SetOutputDimensionality(2)
        self._reslice.SetOutputDirection(1, 0, 0, 0, 1, 0, 0, 0, 1)  # pixels on the plane's own grid
        self._reslice.SetBackgroundLevel(float(vol.array.min()))
        self._reslice.AutoCropOutputOff()
        self._corners = _corners(vol)
        self._min_spacing = float(min(vol.spacing))

    def centre(self) -> np.ndarray:
        """LPS centre of the volume."""
        return self._corners.mean(axis=0)

    def reslice(
        self,
        plane: Plane | str = Plane.AXIAL,
        *,
        position: float | None = None,
        point: Sequence[float] | None = None,
        normal: Sequence[float] | None = None,
        interpolation: Interpolation | str = Interpolation.LINEAR,
        slab_mm: float = 0.0,
        slab_mode: SlabMode | str = SlabMode.NONE,
        pixel_size: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> Slice:
        """See :func:`reslice`."""
        from vtkmodules.util.numpy_support import vtk_to_numpy
        from vtkmodules.vtkCommonMath import vtkMatrix4x4

        plane = Plane(plane) if not isinstance(plane, Plane) else plane
        interpolation = Interpolation(interpolation) if not isinstance(interpolation, Interpolation) else interpolation
        slab_mode = SlabMode(slab_mode) if not isinstance(slab_mode, SlabMode) else slab_mode
        if plane is Plane.OBLIQUE and normal is None:
            raise ValueError("an oblique plane needs normal=(x, y, z) (and point=, default the centre)")
        axes = plane_axes(plane, normal)
        centre = self.centre()
        p = np.asarray(point, float) if point is not None else centre.copy()
        if position is not None:
            if plane is Plane.OBLIQUE:
                p = p + (float(position) - float(p @ axes[:, 2])) * axes[:, 2]
            else:
                p[_POSITION_AXIS[plane]] = float(position)
        # the plane passes through p; the image covers the volume's footprint on it
        rel = self._corners - p
        u = rel @ axes[:, 0]
        v = rel @ axes[:, 1]
        px = float(pixel_size) if pixel_size else self._min_spacing
        if size is None:
            cols = max(1, int(math.floor((u.max() - u.min()) / px + 1e-6)) + 1)
            rows = max(1, int(math.floor((v.max() - v.min()) / px + 1e-6)) + 1)
            u0, v0 = float(u.min()), float(v.min())
        else:
            cols, rows = int(size[0]), int(size[1])
            u0 = float((u.min() + u.max()) / 2 - (cols - 1) / 2 * px)
            v0 = float((v.min() + v.max()) / 2 - (rows - 1) / 2 * px)
        matrix = vtkMatrix4x4()
        for r in range(3):
            for c in range(3):
                matrix.SetElement(r, c, float(axes[r, c]))
            matrix.SetElement(r, 3, float(p[r]))
        rs = self._reslice
        rs.SetResliceAxes(matrix)
        rs.SetOutputSpacing(px, px, 1.0)
        rs.SetOutputOrigin(u0, v0, 0.0)
        rs.SetOutputExtent(0, cols - 1, 0, rows - 1, 0, 0)
        {
            Interpolation.NEAREST: rs.SetInterpolationModeToNearestNeighbor,
            Interpolation.LINEAR: rs.SetInterpolationModeToLinear,
            Interpolation.CUBIC: rs.SetInterpolationModeToCubic,
        }[interpolation]()
        if slab_mode is not SlabMode.NONE and slab_mm > 0:
            # slab samples one voxel step apart along the normal: the data's own sampling
            n_slices = max(2, int(math.ceil(slab_mm / step_along(self.vol, axes[:, 2]) - 1e-6)) + 1)
            rs.SetOutputSpacing(px, px, slab_mm / (n_slices - 1))
            rs.SetSlabNumberOfSlices(n_slices)
            {SlabMode.MIP: rs.SetSlabModeToMax, SlabMode.MINIP: rs.SetSlabModeToMin, SlabMode.MEAN: rs.SetSlabModeToMean}[slab_mode]()
            rs.SetSlabTrapezoidIntegration(0)
        else:
            rs.SetSlabNumberOfSlices(1)
        out = run_update(rs, f"reslicing the {plane.value} plane")
        scalars = out.GetPointData().GetScalars()
        array = vtk_to_numpy(scalars).reshape(rows, cols).copy()  # the pipeline reuses its output
        image = Volume(array[None], spacing=(px, px, 1.0)).to_vtk()  # shares ``array``, no second copy
        origin = p + u0 * axes[:, 0] + v0 * axes[:, 1]
        pos = float(p[_POSITION_AXIS[plane]]) if plane is not Plane.OBLIQUE else float(p @ axes[:, 2])
        return Slice(array=array, pixel_size=(px, px), origin=origin, axes=axes, plane=plane, position=pos, image=image)


def reslice(
    vol: Volume,
    plane: Plane | str = Plane.AXIAL,
    *,
    position: float | None = None,
    point: Sequence[float] | None = None,
    normal: Sequence[float] | None = None,
    interpolation: Interpolation | str = Interpolation.LINEAR,
    slab_mm: float = 0.0,
    slab_mode: SlabMode | str = SlabMode.NONE,
    pixel_size: float | None = None,
    size: tuple[int, int] | None = None,
) -> Slice:
    """Reslice a volume on a plane defined in patient space.

    Parameters
    ----------
    vol : Volume
    plane : Plane or str
        AXIAL (normal +z), CORONAL (+y), SAGITTAL (-x: columns run anterior to posterior)
        or OBLIQUE (give ``normal``).
    position : float, optional
        The plane's LPS coordinate in mm: z for axial, y for coronal, x for sagittal; for
        oblique, the signed distance along the normal. Default: through ``point``.
    point : sequence of float, optional
        A point of the plane (LPS mm); default the volume's centre.
    normal : sequence of float, optional
        Plane normal for OBLIQUE (LPS).
    interpolation : Interpolation or str
        nearest, linear (default) or cubic.
    slab_mm : float
        Thickness of a slab centred on the plane (mm); with ``slab_mode``.
    slab_mode : SlabMode or str
        mip, minip or mean.
    pixel_size : float, optional
        Square pixel size in mm (default: the volume's smallest spacing).
    size : tuple of int, optional
        (columns, rows); default: the volume's footprint on the plane.

    Returns
    -------
    Slice

    Examples
    --------
    >>> s = reslice(vol, "coronal", position=10.0)          # doctest: +SKIP
    >>> plt.imshow(s.array, cmap="gray")                     # square pixels: no aspect to set  # doctest: +SKIP
    """
    return Reslicer(vol).reslice(
        plane,
        position=position,
        point=point,
        normal=normal,
        interpolation=interpolation,
        slab_mm=slab_mm,
        slab_mode=slab_mode,
        pixel_size=pixel_size,
        size=size,
    )


# ----------------------------------------------------------------------------- window/level
@dataclasses.dataclass(frozen=True)
class WindowLevel:
    """A display window: width and level (centre) in the volume's units."""

    window: float
    level: float
    name: str = ""

    @property
    def low(self) -> float:
        """Value shown black."""
        return self.level - self.window / 2

    @property
    def high(self) -> float:
        """Value shown white."""
        return self.level + self.window / 2


@lru_cache(maxsize=1)
def load_wl_presets() -> dict[str, WindowLevel]:
    """Window/level presets from ``data/wl_presets.json``, validated, keyed by name."""
    data = json.loads(resources.files("vtkdicom_app").joinpath("data/wl_presets.json").read_text(encoding="utf-8"))
    if data.get("schema") != "vtkdicom_app.wl_presets/1":
        raise VtkDicomError("wl_presets.json: unknown schema")
    out = {}
    for item in data["presets"]:
        try:
            wl = WindowLevel(window=float(item["window"]), level=float(item["level"]), name=str(item["name"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise VtkDicomError(f"wl_presets.json: invalid preset {item!r}") from exc
        if wl.window <= 0:
            raise VtkDicomError(f"wl_presets.json: preset {wl.name} has a non-positive window")
        out[wl.name] = wl
    return out


def window_level_from_header(vol: Volume) -> WindowLevel | None:
    """WindowWidth/WindowCenter from the DICOM header (the first pair), or None."""
    w = vol.metadata.get("WindowWidth")
    c = vol.metadata.get("WindowCenter")
    w = w[0] if isinstance(w, (tuple, list)) and w else w
    c = c[0] if isinstance(c, (tuple, list)) and c else c
    try:
        wf, cf = float(w), float(c)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return WindowLevel(wf, cf, "header") if wf > 0 else None


def auto_window_level(vol: Volume | np.ndarray, *, percentiles: tuple[float, float] = (1.0, 99.0)) -> WindowLevel:
    """Window from value percentiles, with PixelPaddingValue excluded."""
    if isinstance(vol, Volume):
        arr = vol.array
        pad = vol.metadata.get("PixelPaddingValue")
    else:
        arr, pad = vol, None
    sample = np.asarray(arr).reshape(-1)[:: max(1, np.asarray(arr).size // 2_000_000)]
    if isinstance(pad, (int, float)):
        sample = sample[sample != pad]
    if sample.size == 0:
        return WindowLevel(1.0, 0.0, "auto")
    lo, hi = np.percentile(sample, percentiles)
    if hi <= lo:
        hi = lo + 1.0
    return WindowLevel(float(hi - lo), float((hi + lo) / 2), "auto")


def apply_window(array: np.ndarray, window: float, level: float, *, invert: bool = False) -> np.ndarray:
    """Map values to uint8 grey: ``level - window/2`` black, ``level + window/2`` white.

    ``invert`` is for MONOCHROME1 display (values are never changed, only the display).
    """
    lo = level - window / 2.0
    scaled = (np.asarray(array, np.float32) - np.float32(lo)) * np.float32(255.0 / max(window, 1e-6))
    out = np.clip(scaled, 0, 255).astype(np.uint8)
    return 255 - out if invert else out


# ----------------------------------------------------------------------------- cursor
@dataclasses.dataclass
class MprCursor:
    """Qt-free state of linked MPR views: one LPS point drives the three orthogonal planes.

    Attributes
    ----------
    vol : Volume
    point : numpy.ndarray
        The crosshair, LPS mm (default the volume's centre).
    window, level : float
        Display window (default from the header, else automatic).
    zoom : float
        1 = the volume's footprint fills the view.
    pan : tuple of float
        View offset in mm (column, row).
    interpolation : Interpolation
    slab_mm : float
    slab_mode : SlabMode
    """

    vol: Volume
    point: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    window: float = 0.0
    level: float = 0.0
    zoom: float = 1.0
    pan: tuple[float, float] = (0.0, 0.0)
    interpolation: Interpolation = Interpolation.LINEAR
    slab_mm: float = 0.0
    slab_mode: SlabMode = SlabMode.NONE

    def __post_init__(self) -> None:
        self._reslicer = Reslicer(self.vol)
        if self.point is None:
            self.point = self._reslicer.centre()
        self.point = np.asarray(self.point, float)
        if self.window <= 0:
            wl = window_level_from_header(self.vol) or auto_window_level(self.vol)
            self.window, self.level = wl.window, wl.level

    @property
    def invert(self) -> bool:
        """MONOCHROME1: show inverted."""
        return bool(self.vol.metadata.get("invert_display"))

    def normal_of(self, plane: Plane) -> np.ndarray:
        """Unit normal of a standard plane."""
        return plane_axes(plane)[:, 2]

    def step(self, plane: Plane | str, n: int = 1) -> np.ndarray:
        """Move the crosshair ``n`` true slice steps along the plane's normal; return it."""
        plane = Plane(plane) if not isinstance(plane, Plane) else plane
        normal = self.normal_of(plane)
        self.point = self.point + n * step_along(self.vol, normal) * normal
        return self.point

    def set_point(self, xyz: Sequence[float]) -> None:
        """Move the crosshair (clicking in any view)."""
        self.point = np.asarray(xyz, float)

    def set_window(self, window: float, level: float) -> None:
        """Change the display window."""
        if window <= 0:
            raise ValueError("window must be positive")
        self.window, self.level = float(window), float(level)

    def apply_preset(self, name: str) -> None:
        """Use a window/level preset by name."""
        wl = load_wl_presets()[name]
        self.set_window(wl.window, wl.level)

    def slice(self, plane: Plane | str) -> Slice:
        """The slice of one standard plane through the crosshair."""
        return self._reslicer.reslice(
            plane, point=self.point, interpolation=self.interpolation, slab_mm=self.slab_mm, slab_mode=self.slab_mode
        )

    def slices(self) -> dict[Plane, Slice]:
        """Axial, coronal and sagittal slices through the crosshair."""
        return {p: self.slice(p) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)}

    def display(self, s: Slice) -> np.ndarray:
        """uint8 grey of a slice with the current window (inverted for MONOCHROME1)."""
        return apply_window(s.array, self.window, self.level, invert=self.invert)
