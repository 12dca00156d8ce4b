"""Multiplanar reslicing in patient space: axial, coronal, sagittal and oblique planes.

Planes are defined in patient space (LPS mm), never by array axes, so a volume acquired
sagittally, obliquely or feet first gives the same axial image. Each plane has a normal
(axial +z, superior; coronal +y, posterior; sagittal +x, the patient's left) and an image
grid that follows the radiological display convention, image row 0 at the top:

========  ===========================  ===========================  ==========
plane     columns (left -> right)      rows (top -> bottom)         normal
========  ===========================  ===========================  ==========
axial     Right -> Left (+x)           Anterior -> Posterior (+y)   +z
coronal   Right -> Left (+x)           Superior -> Inferior (-z)    +y
sagittal  Anterior -> Posterior (+y)   Superior -> Inferior (-z)    +x
========  ===========================  ===========================  ==========

so the patient's left is on the image's right in axial and coronal views. An oblique plane
(a point and a normal) takes the in-plane axes of the nearest standard plane, projected
onto it, so it keeps the familiar orientation.

A :class:`Slice` holds a numpy array ``array[row, col]`` with row 0 at the top, its pixel size
in mm (square by default: no aspect ratio to compute), the LPS position of every pixel and a
vtkImageData for rendering. Reslicing is ``vtkImageReslice`` on :meth:`Volume.to_vtk`, which
carries the direction matrix; the output direction is set to identity so that the output
pixels lie on the plane's own grid (docs/ARCHITECTURE.md, "Geometry rules").

VTK and the direction matrix
----------------------------
Checked with VTK 9.7 on an oblique phantom (tests/test_mpr.py): vtkImageReslice honours the
input's direction matrix (the result is identical, pixel for pixel, to reslicing an
identity-direction image with the direction composed into the reslice axes, and matches
the analytic model), but copies it to its output unless ``SetOutputDirection`` is called.

Axis order: numpy volumes are ``(k, j, i)``; VTK images ``(i, j, k)``. A slice's VTK image
has index ``(i, j) = (col, row)``, that is ``array[j, i]``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

# window/level moved to display.py; re-exported here so ``vtkdicom_app.mpr.WindowLevel`` etc. keep working
from vtkdicom_app.display import (
    ZOOM_STEP,
    DragGains,
    WindowLevel,
    apply_window,
    auto_window_level,
    clamp_pan,
    clamp_zoom,
    drag_window_level,
    load_wl_presets,
    to_display,
    window_level_from_header,
)
from vtkdicom_app.errors import SingleSliceError
from vtkdicom_app.geometry import as_enum
from vtkdicom_app.pipeline import run_update
from vtkdicom_app.volume import Volume

if TYPE_CHECKING:
    from vtkmodules.vtkCommonDataModel import vtkImageData

__all__ = [
    "Plane",
    "Interpolation",
    "SlabMode",
    "Slice",
    "Reslicer",
    "reslice",
    "plane_axes",
    "step_along",
    "MprCursor",
    "frame_axes",
    "rotation_about",
    "normal_of",
    "position_range",
    "step_point",
    "ORTHOGONAL_PLANES",
    "WindowLevel",
    "load_wl_presets",
    "window_level_from_header",
    "auto_window_level",
    "apply_window",
    "to_display",
    "orientation_letters",
]

_VTK_FLOAT = 10  # VTK_FLOAT, without importing vtkCommonCore at module import


class Plane(enum.Enum):
    """Reslice planes, defined in patient space (LPS)."""

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
    """How a thick slab combines its samples along the normal."""

    NONE = "none"
    MIP = "mip"
    MINIP = "minip"
    MEAN = "mean"


_as_enum = as_enum  # the one enum-coercion idiom (vtkdicom_app.geometry)


# (column direction, row direction, normal) in LPS for the standard planes
_STANDARD_AXES: dict[Plane, tuple[tuple[float, float, float], ...]] = {
    Plane.AXIAL: ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    Plane.CORONAL: ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),
    Plane.SAGITTAL: ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)),
}
# which LPS coordinate ``position`` sets for each standard plane
_POSITION_AXIS = {Plane.AXIAL: 2, Plane.CORONAL: 1, Plane.SAGITTAL: 0}
_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))
ORTHOGONAL_PLANES = (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)


def orientation_letters(direction: npt.ArrayLike, *, max_letters: int = 2, min_fraction: float = 0.3) -> str:
    """Patient direction letters of an LPS vector.

    Parameters
    ----------
    direction : array_like of float
        A vector in LPS.
    max_letters : int, default 2
        At most this many letters, the dominant component first.
    min_fraction : float, default 0.3
        A secondary component gets a letter when it is at least this fraction of the
        dominant one.

    Returns
    -------
    str
        ``'L'``, ``'A'``... or two letters for an oblique direction (``'LA'``).

    Examples
    --------
    >>> orientation_letters((1, 0, 0))
    'L'
    >>> orientation_letters((0.8, -0.6, 0))
    'LA'
    """
    v = np.asarray(direction, dtype=np.float64)
    order = np.argsort(-np.abs(v), kind="stable")
    top = abs(float(v[order[0]]))
    if top == 0.0:
        return ""
    letters = []
    for axis in order[:max_letters]:
        if abs(float(v[axis])) < max(min_fraction * top, 1e-6):
            break
        letters.append(_LETTERS[axis][0 if v[axis] > 0 else 1])
    return "".join(letters)


def _unit(v: npt.ArrayLike, what: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{what} must be three finite numbers (LPS), got {v!r}")
    norm = float(np.linalg.norm(a))
    if norm < 1e-9:
        raise ValueError(f"{what} must not be the zero vector")
    return a / norm


def nearest_standard_plane(normal: npt.ArrayLike) -> Plane:
    """The standard plane whose normal is closest (either sign) to ``normal``."""
    n = _unit(normal, "normal")
    return max(ORTHOGONAL_PLANES, key=lambda p: abs(float(np.dot(_STANDARD_AXES[p][2], n))))


def plane_axes(plane: Plane | str, normal: npt.ArrayLike | None = None) -> np.ndarray:
    """3x3 matrix whose columns are the image's column direction, row direction and normal (LPS).

    Parameters
    ----------
    plane : Plane or str
    normal : array_like of float, optional
        Required for OBLIQUE (any length, either sign: the third column is it, normalised).

    Returns
    -------
    numpy.ndarray
        For the standard planes the table in the module docstring (the sagittal frame is
        left-handed: columns +y, rows -z, normal +x). For an oblique plane the in-plane axes
        are those of the nearest standard plane projected onto the plane (Gram-Schmidt), so
        the image is never mirrored whatever the sign of the normal.
    """
    plane = _as_enum(Plane, plane)
    if plane is not Plane.OBLIQUE:
        if normal is not None:
            raise ValueError(f"normal= only applies to Plane.OBLIQUE, not {plane.name}")
        return np.column_stack([np.asarray(a, dtype=np.float64) for a in _STANDARD_AXES[plane]])
    if normal is None:
        raise ValueError("an oblique plane needs normal=(x, y, z) in LPS")
    n = _unit(normal, "normal")
    col0, row0, _n0 = (np.asarray(a, dtype=np.float64) for a in _STANDARD_AXES[nearest_standard_plane(n)])
    col = col0 - float(col0 @ n) * n
    col /= np.linalg.norm(col)
    row = row0 - float(row0 @ n) * n - float(row0 @ col) * col
    row /= np.linalg.norm(row)
    return np.column_stack([col, row, n])


def frame_axes(axes: npt.ArrayLike, *, tolerance: float = 1e-6) -> np.ndarray:
    """A plane's frame checked: 3x3, finite, columns of unit length and mutually orthogonal.

    Returns
    -------
    numpy.ndarray
        A float64 copy (columns: column direction, row direction, normal; LPS).

    Raises
    ------
    ValueError
        Not 3x3, not finite, or not orthonormal within ``tolerance``.
    """
    try:
        m = np.array(axes, dtype=np.float64).reshape(3, 3)
    except (TypeError, ValueError):
        raise ValueError(f"plane axes must be a 3x3 matrix (columns: column, row, normal), got {axes!r}") from None
    if not np.all(np.isfinite(m)):
        raise ValueError("plane axes must be finite")
    if not np.allclose(m.T @ m, np.eye(3), atol=tolerance):
        raise ValueError("plane axes must be orthonormal: unit column, row and normal directions at right angles")
    return m


def rotation_about(axis: npt.ArrayLike, degrees: float) -> np.ndarray:
    """3x3 rotation by ``degrees`` about ``axis`` (right-handed, LPS; Rodrigues' formula)."""
    k = _unit(axis, "rotation axis")
    a = math.radians(float(degrees))
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(a) * cross + (1.0 - math.cos(a)) * (cross @ cross)


def step_along(vol: Volume, normal: npt.ArrayLike) -> float:
    """The true slice step of a volume along a direction, in mm.

    Along an axis of the voxel grid this is that axis's spacing (the slice spacing along
    the acquisition normal, the pixel spacing in-plane); along other directions it is the
    distance to the surface of the voxel ellipsoid, ``1 / |S^-1 D^T n|``.

    Parameters
    ----------
    vol : Volume
    normal : array_like of float
        LPS direction (normalised here).

    Returns
    -------
    float
    """
    n = _unit(normal, "normal")
    per_axis = (vol.direction.T @ n) / np.asarray(vol.spacing)  # voxels per mm along i, j, k
    return float(1.0 / np.linalg.norm(per_axis))


# ----------------------------------------------------------------------------- Slice
@dataclasses.dataclass(eq=False)
class Slice:
    """A resliced 2D image in patient space.

    Attributes
    ----------
    array : numpy.ndarray
        ``array[row, col]``, row 0 at the top of the displayed image. The volume's dtype
        with nearest interpolation (MIP and MinIP included); float32 with linear or cubic
        interpolation and for mean slabs.
    pixel_size : tuple of float
        (mm along columns, mm along rows); square unless asked otherwise.
    origin : numpy.ndarray
        LPS position (mm) of the centre of pixel ``[0, 0]`` (top left).
    axes : numpy.ndarray
        3x3, columns: LPS direction of increasing column, of increasing row, and the normal.
    plane : Plane
    position : float
        For standard planes the LPS coordinate the plane sits at (z axial, y coronal,
        x sagittal); for oblique planes the signed distance of the plane from the patient
        origin along the normal.
    image : vtkImageData
        The same pixels (shared memory) for rendering: dimensions ``(cols, rows, 1)``,
        index ``(i, j) = array[j, i]``; its origin, spacing and direction (= ``axes``) put
        every pixel at its LPS position, so it can be placed in a 3D view as is.
    slab_mm : float
        Slab thickness (0 for a thin slice).
    slab_mode : SlabMode
    interpolation : Interpolation
    """

    array: np.ndarray
    pixel_size: tuple[float, float]
    origin: np.ndarray
    axes: np.ndarray
    plane: Plane
    position: float
    image: vtkImageData | None = None
    slab_mm: float = 0.0
    slab_mode: SlabMode = SlabMode.NONE
    interpolation: Interpolation = Interpolation.LINEAR

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return tuple(self.array.shape)

    @property
    def normal(self) -> np.ndarray:
        """Unit normal of the plane (LPS)."""
        return self.axes[:, 2]

    @property
    def center(self) -> np.ndarray:
        """LPS position of the image's centre (mm)."""
        rows, cols = self.shape
        return self.pixel_to_patient((rows - 1) / 2.0, (cols - 1) / 2.0)

    @property
    def extent_mm(self) -> tuple[float, float]:
        """``(width, height)`` of the image in mm (pixel count times pixel size)."""
        return (self.array.shape[1] * self.pixel_size[0], self.array.shape[0] * self.pixel_size[1])

    def pixel_to_patient(self, row: npt.ArrayLike, col: npt.ArrayLike) -> np.ndarray:
        """LPS mm of pixel centres.

        Parameters
        ----------
        row, col : array_like
            Pixel indices (may be arrays of the same shape, may be fractional).

        Returns
        -------
        numpy.ndarray
            Shape ``row.shape + (3,)``.
        """
        r = np.asarray(row, dtype=np.float64)[..., None]
        c = np.asarray(col, dtype=np.float64)[..., None]
        return self.origin + c * (self.pixel_size[0] * self.axes[:, 0]) + r * (self.pixel_size[1] * self.axes[:, 1])

    def patient_to_pixel(self, xyz: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Continuous ``(row, col, distance from the plane in mm)`` of LPS points.

        Parameters
        ----------
        xyz : array_like
            One point or an ``(..., 3)`` array of points, LPS mm.

        Returns
        -------
        tuple of numpy.ndarray
            Row and column (round them to index ``array[row, col]``) and the signed distance
            along the normal.
        """
        d = np.asarray(xyz, dtype=np.float64) - self.origin
        col = d @ self.axes[:, 0] / self.pixel_size[0]
        row = d @ self.axes[:, 1] / self.pixel_size[1]
        return row, col, d @ self.axes[:, 2]

    def orientation_letters(self) -> dict[str, str]:
        """Patient direction letters for each edge of the displayed image.

        Returns
        -------
        dict
            Keys ``'left'``, ``'right'``, ``'top'``, ``'bottom'``; for axial
            ``{'left': 'R', 'right': 'L', 'top': 'A', 'bottom': 'P'}``; up to two letters on
            oblique planes (``'LA'``).
        """
        col, row = self.axes[:, 0], self.axes[:, 1]
        return {
            "left": orientation_letters(-col),
            "right": orientation_letters(col),
            "top": orientation_letters(-row),
            "bottom": orientation_letters(row),
        }


def _slice_image(array: np.ndarray, origin: np.ndarray, axes: np.ndarray, px: tuple[float, float]) -> vtkImageData:
    """A vtkImageData sharing ``array`` (rows, cols), placed in patient space."""
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData

    rows, cols = array.shape[:2]
    image = vtkImageData()
    image.SetDimensions(cols, rows, 1)
    image.SetSpacing(px[0], px[1], 1.0)
    image.SetOrigin(*(float(v) for v in origin))
    image.SetDirectionMatrix(*(float(v) for v in axes.ravel()))
    flat = array.reshape(-1, array.shape[2]) if array.ndim == 3 else array.reshape(-1)
    scalars = numpy_to_vtk(flat, deep=False)  # keeps a reference to ``array``
    scalars.SetName("values")
    image.GetPointData().SetScalars(scalars)
    return image


# ----------------------------------------------------------------------------- reslicing
class Reslicer:
    """A reusable reslice pipeline for one volume (fast repeated slicing, e.g. dragging).

    Parameters
    ----------
    vol : Volume
        Shared, not copied: the VTK image keeps a reference to ``vol.array``.

    Notes
    -----
    One vtkImageReslice is reused for every call, so a Reslicer is not thread-safe: give
    each thread its own. Each returned :class:`Slice` owns a copy of its pixels.

    Examples
    --------
    >>> r = Reslicer(vol)                                         # doctest: +SKIP
    >>> slices = [r.reslice("axial", position=z) for z in range(-50, 50, 2)]  # doctest: +SKIP
    """

    def __init__(self, vol: Volume) -> None:
        from vtkmodules.vtkImagingCore import vtkImageReslice

        self.vol = vol
        self._image = vol.to_vtk()  # origin, spacing and direction: VTK honours the direction
        self._reslice = vtkImageReslice()
        self._reslice.SetInputData(self._image)
        self._reslice.SetOutputDimensionality(2)
        # without this the output inherits the input's direction (docs/ARCHITECTURE.md) and its pixels
        # would not lie on the plane's grid
        self._reslice.SetOutputDirection(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
        self.background = float(np.min(vol.array)) if vol.array.size else 0.0
        self._reslice.SetBackgroundLevel(self.background)
        self._reslice.AutoCropOutputOff()
        self._reslice.SetSlabTrapezoidIntegration(0)
        self._corners = vol.corners
        self._centre = self._corners.mean(axis=0)
        self._min_spacing = float(min(vol.spacing))

    def centre(self) -> np.ndarray:
        """LPS centre of the volume (mm)."""
        return self._centre.copy()

    def reslice(
        self,
        plane: Plane | str = Plane.AXIAL,
        *,
        position: float | None = None,
        point: npt.ArrayLike | None = None,
        normal: npt.ArrayLike | None = None,
        interpolation: Interpolation | str = Interpolation.LINEAR,
        slab_mm: float = 0.0,
        slab_mode: SlabMode | str = SlabMode.NONE,
        pixel_size: float | None = None,
        size: tuple[int, int] | None = None,
        axes: npt.ArrayLike | None = None,
    ) -> Slice:
        """Reslice the volume on one plane; see :func:`reslice`."""
        from vtkmodules.util.numpy_support import vtk_to_numpy
        from vtkmodules.vtkCommonMath import vtkMatrix4x4

        plane = _as_enum(Plane, plane)
        interpolation = _as_enum(Interpolation, interpolation)
        slab_mode = _as_enum(SlabMode, slab_mode)
        if axes is not None:
            if plane is not Plane.OBLIQUE or normal is not None:
                raise ValueError("axes= gives a whole oblique frame: use it with Plane.OBLIQUE and without normal=")
            axes = frame_axes(axes)
        else:
            axes = plane_axes(plane, normal)
        n = axes[:, 2]
        if self.vol.shape[0] == 1 and abs(float(n @ self.vol.direction[:, 2])) < 0.999:
            own = nearest_standard_plane(self.vol.direction[:, 2])
            raise SingleSliceError(f"a single-slice series has no {plane.value} view: only its own plane ({own.value}) can be shown")
        p = _unit_free_point(point, self._centre)
        if position is not None:
            if plane is Plane.OBLIQUE:
                p = p + (float(position) - float(p @ n)) * n
            else:
                p[_POSITION_AXIS[plane]] = float(position)
        px = self._min_spacing if pixel_size is None else float(pixel_size)
        if not (px > 0 and math.isfinite(px)):
            raise ValueError(f"pixel_size must be a positive number of mm, got {pixel_size!r}")
        slab_mm = float(slab_mm)
        if slab_mm < 0 or not math.isfinite(slab_mm):
            raise ValueError(f"slab_mm must be >= 0, got {slab_mm!r}")

        # the in-plane grid is centred on the volume's centre projected onto the plane, so
        # the grid of a plane does not move while scrolling or moving the crosshair
        ref = p + (self._centre - p) - float((self._centre - p) @ n) * n
        rel = self._corners - ref
        half_u = float(np.abs(rel @ axes[:, 0]).max())
        half_v = float(np.abs(rel @ axes[:, 1]).max())
        if size is None:
            cols = int(math.floor(2.0 * half_u / px + 1e-6)) + 1
            rows = int(math.floor(2.0 * half_v / px + 1e-6)) + 1
        else:
            cols, rows = (int(v) for v in size)
            if cols < 1 or rows < 1:
                raise ValueError(f"size must be (columns, rows) >= 1, got {size!r}")
        u0 = -(cols - 1) / 2.0 * px
        v0 = -(rows - 1) / 2.0 * px

        matrix = vtkMatrix4x4()
        for r in range(3):
            for c in range(3):
                matrix.SetElement(r, c, float(axes[r, c]))
            matrix.SetElement(r, 3, float(ref[r]))
        rs = self._reslice
        rs.SetResliceAxes(matrix)
        rs.SetOutputOrigin(u0, v0, 0.0)
        rs.SetOutputExtent(0, cols - 1, 0, rows - 1, 0, 0)
        {
            Interpolation.NEAREST: rs.SetInterpolationModeToNearestNeighbor,
            Interpolation.LINEAR: rs.SetInterpolationModeToLinear,
            Interpolation.CUBIC: rs.SetInterpolationModeToCubic,
        }[interpolation]()
        thick = slab_mode is not SlabMode.NONE and slab_mm > 0
        if thick:
            # samples one true voxel step apart along the normal, spanning slab_mm centred
            step = step_along(self.vol, n)
            n_slices = max(2, int(math.ceil(slab_mm / step - 1e-6)) + 1)
            rs.SetOutputSpacing(px, px, slab_mm / (n_slices - 1))
            rs.SetSlabNumberOfSlices(n_slices)
            {SlabMode.MIP: rs.SetSlabModeToMax, SlabMode.MINIP: rs.SetSlabModeToMin, SlabMode.MEAN: rs.SetSlabModeToMean}[slab_mode]()
        else:
            rs.SetOutputSpacing(px, px, 1.0)
            rs.SetSlabNumberOfSlices(1)
        fractional = interpolation is not Interpolation.NEAREST or (thick and slab_mode is SlabMode.MEAN)
        if fractional and not np.issubdtype(self.vol.array.dtype, np.floating) and not self.vol.is_colour:
            rs.SetOutputScalarType(_VTK_FLOAT)
        else:
            rs.SetOutputScalarType(-1)  # the input's type
        out = run_update(rs, f"reslicing the {plane.value} plane")
        scalars = out.GetPointData().GetScalars()
        components = scalars.GetNumberOfComponents()
        shape = (rows, cols, components) if components > 1 else (rows, cols)
        array = vtk_to_numpy(scalars).reshape(shape).copy()  # the output is reused
        origin = ref + u0 * axes[:, 0] + v0 * axes[:, 1]
        pos = float(p[_POSITION_AXIS[plane]]) if plane is not Plane.OBLIQUE else float(p @ n)
        return Slice(
            array=array,
            pixel_size=(px, px),
            origin=origin,
            axes=axes,
            plane=plane,
            position=pos,
            image=_slice_image(array, origin, axes, (px, px)),
            slab_mm=slab_mm if thick else 0.0,
            slab_mode=slab_mode if thick else SlabMode.NONE,
            interpolation=interpolation,
        )


def _unit_free_point(point: npt.ArrayLike | None, default: np.ndarray) -> np.ndarray:
    if point is None:
        return default.copy()
    p = np.asarray(point, dtype=np.float64).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"point must be three finite numbers (LPS mm), got {point!r}")
    return p.copy()


def reslice(
    vol: Volume,
    plane: Plane | str = Plane.AXIAL,
    *,
    position: float | None = None,
    point: npt.ArrayLike | None = None,
    normal: npt.ArrayLike | None = None,
    interpolation: Interpolation | str = Interpolation.LINEAR,
    slab_mm: float = 0.0,
    slab_mode: SlabMode | str = SlabMode.NONE,
    pixel_size: float | None = None,
    size: tuple[int, int] | None = None,
    axes: npt.ArrayLike | None = None,
) -> Slice:
    """Reslice a volume on a plane defined in patient space.

    Parameters
    ----------
    vol : Volume
    plane : Plane or str
        AXIAL (normal +z), CORONAL (+y), SAGITTAL (+x) or OBLIQUE (give ``normal``).
    position : float, optional
        The plane's LPS coordinate in mm: z for axial, y for coronal, x for sagittal; for
        oblique, the signed distance from the patient origin along the normal. Overrides
        that coordinate of ``point``.
    point : array_like of float, optional
        A point of the plane (LPS mm); default the volume's centre.
    normal : array_like of float, optional
        Plane normal (LPS) for OBLIQUE only; its sign sets the direction of ``position``
        and of the slice's third axis, never the image's orientation.
    interpolation : Interpolation or str
        nearest, linear (default) or cubic.
    slab_mm : float
        Thickness in mm of a slab centred on the plane, combined by ``slab_mode``; it is
        sampled one true voxel step apart along the normal.
    slab_mode : SlabMode or str
        none (default: a thin slice), mip, minip or mean.
    pixel_size : float, optional
        Square pixel size in mm (default: the volume's smallest spacing).
    size : tuple of int, optional
        ``(columns, rows)``; default: enough to cover the volume's footprint on the plane.
        The grid is centred on the volume's centre projected onto the plane.
    axes : array_like, optional
        For OBLIQUE instead of ``normal``: the whole frame, a 3x3 matrix whose columns are the
        image's column direction, row direction and normal (LPS, orthonormal; see
        :func:`frame_axes`). The viewer's rotated planes are given this way, so their
        in-plane orientation follows the rotation rather than :func:`plane_axes`' rule.

    Returns
    -------
    Slice
        Outside the volume the pixels hold the volume's minimum.

    Raises
    ------
    ValueError
        Unknown plane, interpolation or slab mode; an oblique plane without a normal; a
        normal given for a standard plane; a non-positive pixel size or size.
    PipelineError
        VTK reported an error.

    Examples
    --------
    >>> s = reslice(vol, "coronal", position=10.0)          # doctest: +SKIP
    >>> plt.imshow(s.array, cmap="gray")                     # square pixels: no aspect to set  # doctest: +SKIP
    >>> s.pixel_to_patient(0, 0)                             # LPS of the top-left pixel  # doctest: +SKIP
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
        axes=axes,
    )


# ----------------------------------------------------------------------------- crosshair rules
def normal_of(plane: Plane | str) -> np.ndarray:
    """Unit normal (LPS) of a standard plane (axial +z, coronal +y, sagittal +x)."""
    plane = _as_enum(Plane, plane)
    if plane is Plane.OBLIQUE:
        raise ValueError("an oblique plane has no fixed normal; the crosshair drives the three orthogonal planes")
    return plane_axes(plane)[:, 2]


def position_range(vol: Volume, plane: Plane | str) -> tuple[float, float]:
    """The LPS coordinate range (mm) of the volume's voxel centres along a standard plane's normal.

    Parameters
    ----------
    vol : Volume
    plane : Plane or str
        AXIAL gives the z range, CORONAL y, SAGITTAL x.

    Returns
    -------
    tuple of float
        ``(low, high)``; the viewer keeps the crosshair's slice inside it when stepping.
    """
    axis = _POSITION_AXIS[_as_enum(Plane, plane)]
    values = vol.corners[:, axis]
    return float(values.min()), float(values.max())


def step_point(vol: Volume, point: npt.ArrayLike, plane: Plane | str, n: float = 1, *, clamp: bool = False) -> np.ndarray:
    """A crosshair moved ``n`` true slice steps along a standard plane's normal.

    Parameters
    ----------
    vol : Volume
    point : array_like of float
        The crosshair (LPS mm).
    plane : Plane or str
        AXIAL moves along +z, CORONAL +y, SAGITTAL +x.
    n : float
        Steps (negative to go back); one step is :func:`step_along` the normal.
    clamp : bool, default False
        Keep the plane's coordinate inside :func:`position_range` (the viewer's wheel stops
        at the first and last slice).

    Returns
    -------
    numpy.ndarray
        The new point (a new array).
    """
    normal = normal_of(plane)
    p = _unit_free_point(point, np.zeros(3)) + float(n) * step_along(vol, normal) * normal
    if clamp:
        axis = _POSITION_AXIS[_as_enum(Plane, plane)]
        lo, hi = position_range(vol, plane)
        p[axis] = min(hi, max(lo, float(p[axis])))
    return p


# ----------------------------------------------------------------------------- cursor
@dataclasses.dataclass(eq=False)
class MprCursor:
    """Linked MPR planes for scripts: one LPS point drives the three orthogonal planes.

    Kept for scripts and the command line (no events, no threads). The viewer keeps its
    state in :class:`vtkdicom_app.viewer_state.ViewerState`, which notifies its widgets;
    both follow the same rules (:func:`step_point`, :func:`~vtkdicom_app.display.clamp_zoom`,
    :func:`~vtkdicom_app.display.drag_window_level`), whose numbers live in one place.

    Attributes
    ----------
    vol : Volume
    point : numpy.ndarray
        The crosshair, LPS mm (default the volume's centre).
    window, level : float
        Display window (default from the header, else automatic).
    zoom : float
        Magnification; 1 = the volume's footprint fills the view.
    pan : tuple of float
        View offset in mm (along the image's columns, rows).
    interpolation : Interpolation
    slab_mm : float
    slab_mode : SlabMode

    Examples
    --------
    >>> cursor = MprCursor(vol)                     # doctest: +SKIP
    >>> cursor.step(Plane.AXIAL, 1)                 # one slice up  # doctest: +SKIP
    >>> views = cursor.slices()                     # {Plane.AXIAL: Slice, ...}  # doctest: +SKIP
    """

    vol: Volume
    point: np.ndarray = dataclasses.field(default=None)  # type: ignore[arg-type]  # None: the centre, set in __post_init__
    window: float = 0.0
    level: float = 0.0
    zoom: float = 1.0
    pan: tuple[float, float] = (0.0, 0.0)
    interpolation: Interpolation = Interpolation.LINEAR
    slab_mm: float = 0.0
    slab_mode: SlabMode = SlabMode.NONE

    def __post_init__(self) -> None:
        self._reslicer = Reslicer(self.vol)
        self.point = self._reslicer.centre() if self.point is None else _unit_free_point(self.point, self._reslicer.centre())
        self.interpolation = _as_enum(Interpolation, self.interpolation)
        self.slab_mode = _as_enum(SlabMode, self.slab_mode)
        if self.window <= 0:
            self.reset_window()

    # --- state
    def set_volume(self, vol: Volume) -> None:
        """Show another volume of the same geometry (the next frame of a sequence).

        The crosshair, window, zoom and slab stay as they are.
        """
        self.vol = vol
        self._reslicer = Reslicer(vol)

    @property
    def invert(self) -> bool:
        """MONOCHROME1: shown inverted."""
        return self.vol.invert_display

    normal_of = staticmethod(normal_of)

    def spacing_along(self, plane: Plane | str) -> float:
        """The volume's true slice step along the plane's normal (mm)."""
        return step_along(self.vol, normal_of(plane))

    def position(self, plane: Plane | str) -> float:
        """The plane's LPS coordinate through the crosshair (z, y or x)."""
        return float(self.point[_POSITION_AXIS[_as_enum(Plane, plane)]])

    # --- navigation
    def step(self, plane: Plane | str, n: int = 1) -> np.ndarray:
        """Move the crosshair ``n`` true slice steps along the plane's normal (:func:`step_point`).

        Returns
        -------
        numpy.ndarray
            The new point.
        """
        if _as_enum(Plane, plane) is Plane.OBLIQUE:
            raise ValueError("step() drives the three orthogonal planes; oblique planes have no cursor step")
        self.point = step_point(self.vol, self.point, plane, n)
        return self.point.copy()

    def set_point(self, xyz: npt.ArrayLike) -> None:
        """Move the crosshair to an LPS point (a click in any view)."""
        self.point = _unit_free_point(xyz, self._reslicer.centre())

    def set_pixel(self, s: Slice, row: float, col: float) -> None:
        """Move the crosshair to a pixel of a displayed slice (a click on it)."""
        self.set_point(s.pixel_to_patient(row, col))

    def clamp_to_volume(self) -> None:
        """Bring the crosshair back inside the volume's voxel grid."""
        ijk = self.vol.patient_to_index(self.point)
        hi = np.asarray(self.vol.dimensions, dtype=np.float64) - 1
        self.point = self.vol.index_to_patient(np.clip(ijk, 0, hi))

    # --- display
    def set_window(self, window: float, level: float) -> None:
        """Change the display window (width > 0)."""
        wl = WindowLevel(window, level)
        self.window, self.level = wl.window, wl.level

    def reset_window(self) -> None:
        """Window from the header, else automatic (padding excluded)."""
        wl = window_level_from_header(self.vol) or auto_window_level(self.vol)
        self.window, self.level = wl.window, wl.level

    def apply_preset(self, name: str) -> None:
        """Use a window/level preset by name (see :func:`load_wl_presets`)."""
        presets = load_wl_presets()
        if name not in presets:
            raise ValueError(f"unknown window preset {name!r}; use one of: {', '.join(presets)}")
        wl = presets[name]
        self.set_window(wl.window, wl.level)

    def drag_window(self, d_window: float, d_level: float) -> None:
        """Change window and level by deltas in the volume's units; the window stays >= 1."""
        wl = drag_window_level(WindowLevel(self.window, self.level), d_window, d_level, DragGains(1.0, 1.0))
        self.window, self.level = wl.window, wl.level

    def zoom_by(self, factor: float) -> None:
        """Multiply the zoom (clamped like the viewer's, :func:`~vtkdicom_app.display.clamp_zoom`)."""
        if not factor > 0:
            raise ValueError(f"zoom factor must be positive, got {factor!r}")
        self.zoom = clamp_zoom(self.zoom * float(factor))

    def zoom_steps(self, notches: int) -> None:
        """Zoom by wheel notches (:data:`~vtkdicom_app.display.ZOOM_STEP` each, negative out)."""
        self.zoom_by(ZOOM_STEP ** int(notches))

    def pan_by(self, d_col_mm: float, d_row_mm: float) -> None:
        """Shift the view by mm along the image's columns and rows."""
        self.pan = clamp_pan((self.pan[0] + float(d_col_mm), self.pan[1] + float(d_row_mm)))

    def reset_view(self) -> None:
        """Zoom 1, no pan."""
        self.zoom, self.pan = 1.0, (0.0, 0.0)

    # --- slices
    def slice(self, plane: Plane | str) -> Slice:
        """The slice of one standard plane through the crosshair."""
        return self._reslicer.reslice(plane, point=self.point, interpolation=self.interpolation, slab_mm=self.slab_mm, slab_mode=self.slab_mode)

    def slices(self) -> dict[Plane, Slice]:
        """Axial, coronal and sagittal slices through the crosshair, keyed by plane."""
        return {p: self.slice(p) for p in ORTHOGONAL_PLANES}

    def display(self, s: Slice) -> np.ndarray:
        """uint8 grey of a slice with the current window (inverted for MONOCHROME1); RGB as stored."""
        return to_display(s.array, self.window, self.level, invert=self.invert)

    def value_at_point(self) -> float | None:
        """The voxel value under the crosshair (nearest voxel), None outside the volume."""
        try:
            return self.vol.value_at(self.point)
        except IndexError:
            return None
