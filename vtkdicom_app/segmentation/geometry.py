"""The grid a segmentation lives on, index boxes, and LPS boxes and points on that grid.

Axis order follows :mod:`vtkdicom_app.volume`: masks are indexed ``mask[k, j, i]``;
``spacing`` is ``(di, dj, dk)``; the voxel ``(i, j, k)`` has its centre at the LPS point
``origin + direction @ (spacing * (i, j, k))``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from vtkdicom_app.errors import VtkDicomError

if TYPE_CHECKING:  # pragma: no cover
    from vtkdicom_app.volume import Volume

__all__ = ["Geometry", "Box", "GridMismatchError", "SegmentationError", "lps_box_region", "parse_lps_box", "embed"]


class SegmentationError(VtkDicomError):
    """A segmentation tool or file cannot do what was asked; the message names the value and the fix.

    The segmentation is unchanged when a tool raises it.
    """


class GridMismatchError(SegmentationError):
    """A segmentation (or a volume used with it) lies on another grid or frame of reference."""


@dataclasses.dataclass(frozen=True)
class Box:
    """A half-open index box ``[lo, hi)`` in ``(k, j, i)`` order.

    Attributes
    ----------
    lo, hi : tuple of int
        First index and one past the last, per axis ``(k, j, i)``.
    """

    lo: tuple[int, int, int]
    hi: tuple[int, int, int]

    @classmethod
    def full(cls, shape: Sequence[int]) -> Box:
        """The whole grid of ``shape`` ``(k, j, i)``."""
        return cls((0, 0, 0), (int(shape[0]), int(shape[1]), int(shape[2])))

    @classmethod
    def of_mask(cls, mask: np.ndarray) -> Box | None:
        """The tightest box holding every True voxel of ``mask``; None when it is empty."""
        lo: list[int] = []
        hi: list[int] = []
        for axis in range(3):
            others = tuple(a for a in range(3) if a != axis)
            hit = np.flatnonzero(mask.any(axis=others))
            if hit.size == 0:
                return None
            lo.append(int(hit[0]))
            hi.append(int(hit[-1]) + 1)
        return cls((lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2]))

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """Numpy index of the box: ``array[box.slices]``."""
        return (slice(self.lo[0], self.hi[0]), slice(self.lo[1], self.hi[1]), slice(self.lo[2], self.hi[2]))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Size per axis ``(k, j, i)``."""
        return (self.hi[0] - self.lo[0], self.hi[1] - self.lo[1], self.hi[2] - self.lo[2])

    @property
    def size(self) -> int:
        """Number of voxels."""
        k, j, i = self.shape
        return max(k, 0) * max(j, 0) * max(i, 0)

    @property
    def empty(self) -> bool:
        """True when the box holds no voxel."""
        return any(h <= lo for lo, h in zip(self.lo, self.hi))

    def union(self, other: Box | None) -> Box:
        """The smallest box holding both."""
        if other is None or other.empty:
            return self
        if self.empty:
            return other
        return Box(
            tuple(min(a, b) for a, b in zip(self.lo, other.lo)),  # type: ignore[arg-type]
            tuple(max(a, b) for a, b in zip(self.hi, other.hi)),  # type: ignore[arg-type]
        )

    def intersect(self, other: Box) -> Box:
        """The common part (possibly empty)."""
        return Box(
            tuple(max(a, b) for a, b in zip(self.lo, other.lo)),  # type: ignore[arg-type]
            tuple(min(a, b) for a, b in zip(self.hi, other.hi)),  # type: ignore[arg-type]
        )

    def expand(self, margin: Sequence[int] | int, shape: Sequence[int]) -> Box:
        """Grown by ``margin`` voxels per axis ``(k, j, i)``, clipped to a grid of ``shape``."""
        m = (int(margin),) * 3 if isinstance(margin, (int, np.integer)) else tuple(int(v) for v in margin)
        return Box(
            tuple(max(0, a - d) for a, d in zip(self.lo, m)),  # type: ignore[arg-type]
            tuple(min(int(n), b + d) for b, d, n in zip(self.hi, m, shape)),  # type: ignore[arg-type]
        )

    def relative_to(self, outer: Box) -> tuple[slice, slice, slice]:
        """Numpy index of this box inside an array that holds ``outer``."""
        return tuple(slice(a - o, b - o) for a, b, o in zip(self.lo, self.hi, outer.lo))  # type: ignore[return-value]

    def extent_ijk(self) -> tuple[int, int, int, int, int, int]:
        """Inclusive VTK extent ``(i0, i1, j0, j1, k0, k1)``."""
        return (self.lo[2], self.hi[2] - 1, self.lo[1], self.hi[1] - 1, self.lo[0], self.hi[0] - 1)


def _fmt(values: Iterable[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)


@dataclasses.dataclass(frozen=True)
class Geometry:
    """A voxel grid in patient space (LPS, mm): what every segment of a model shares.

    Attributes
    ----------
    shape : tuple of int
        ``(k, j, i)``: slices, rows, columns.
    spacing : tuple of float
        ``(di, dj, dk)`` in mm.
    origin : tuple of float
        LPS centre of voxel ``(0, 0, 0)``.
    direction : tuple of float
        The 3x3 direction matrix, row-major; its columns are the i, j and k axes in LPS.
    frame_of_reference_uid : str or None
        DICOM FrameOfReferenceUID of the source series, when known.
    series_uid : str or None
        SeriesInstanceUID of the source series, when known.
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    frame_of_reference_uid: str | None = None
    series_uid: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(v) for v in self.shape))
        object.__setattr__(self, "spacing", tuple(float(v) for v in self.spacing))
        object.__setattr__(self, "origin", tuple(float(v) for v in self.origin))
        object.__setattr__(self, "direction", tuple(float(v) for v in np.asarray(self.direction, float).ravel()))
        if len(self.shape) != 3 or min(self.shape) < 1:
            raise ValueError(f"a segmentation grid needs three positive sizes (k, j, i), got {self.shape}")
        if len(self.spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in self.spacing):
            raise ValueError(f"spacing must be three positive numbers, got {self.spacing}")
        if len(self.direction) != 9:
            raise ValueError("direction must be a 3x3 matrix")

    @classmethod
    def from_volume(cls, vol: Volume) -> Geometry:
        """The grid of a :class:`~vtkdicom_app.volume.Volume`, with its frame of reference and series UIDs."""
        meta = vol.metadata or {}
        return cls(
            shape=vol.shape,
            spacing=vol.spacing,
            origin=vol.origin,
            direction=tuple(np.asarray(vol.direction, float).ravel()),
            frame_of_reference_uid=str(meta["FrameOfReferenceUID"]) if meta.get("FrameOfReferenceUID") else None,
            series_uid=str(meta["SeriesInstanceUID"]) if meta.get("SeriesInstanceUID") else None,
        )

    @classmethod
    def from_affine(cls, shape: Sequence[int], affine: npt.ArrayLike, **uids: str | None) -> Geometry:
        """A grid from a 4x4 matrix mapping ``(i, j, k, 1)`` to LPS mm."""
        m = np.asarray(affine, float)
        spacing = np.linalg.norm(m[:3, :3], axis=0)
        return cls(tuple(shape), tuple(spacing), tuple(m[:3, 3]), tuple((m[:3, :3] / spacing).ravel()), **uids)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ matrices
    @property
    def direction_matrix(self) -> np.ndarray:
        """3x3 direction (columns: i, j, k axes in LPS)."""
        return np.asarray(self.direction, float).reshape(3, 3)

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping ``(i, j, k, 1)`` to LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.direction_matrix * np.asarray(self.spacing)[None, :]
        m[:3, 3] = self.origin
        return m

    @property
    def spacing_kji(self) -> tuple[float, float, float]:
        """Spacing in array order ``(dk, dj, di)``."""
        return (self.spacing[2], self.spacing[1], self.spacing[0])

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel (mm3)."""
        return float(self.spacing[0] * self.spacing[1] * self.spacing[2])

    @property
    def size(self) -> int:
        """Number of voxels."""
        return int(self.shape[0]) * int(self.shape[1]) * int(self.shape[2])

    def index_to_patient(self, ijk: npt.ArrayLike) -> np.ndarray:
        """Continuous ``(i, j, k)`` (one or ``(N, 3)``) to LPS mm."""
        pts = np.asarray(ijk, float)
        return pts @ self.affine[:3, :3].T + np.asarray(self.origin)

    def patient_to_index(self, xyz: npt.ArrayLike) -> np.ndarray:
        """LPS mm (one or ``(N, 3)``) to continuous ``(i, j, k)``."""
        pts = np.asarray(xyz, float)
        return (pts - np.asarray(self.origin)) @ np.linalg.inv(self.affine[:3, :3]).T

    def bounds_lps(self) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest LPS coordinates of the voxel centres (axis-aligned in LPS)."""
        n = [self.shape[2] - 1, self.shape[1] - 1, self.shape[0] - 1]
        corners = np.array([[a, b, c] for a in (0, n[0]) for b in (0, n[1]) for c in (0, n[2])], float)
        pts = self.index_to_patient(corners)
        return pts.min(axis=0), pts.max(axis=0)

    def describe_bounds(self) -> str:
        """``x a..b, y c..d, z e..f mm``: where the grid lies, for messages."""
        lo, hi = self.bounds_lps()
        return ", ".join(f"{axis} {a:.1f}..{b:.1f}" for axis, a, b in zip("xyz", lo, hi)) + " mm"

    def voxel_of(self, point: Sequence[float], *, what: str = "point") -> tuple[int, int, int]:
        """The ``(k, j, i)`` index of the voxel whose centre is nearest to an LPS point.

        Raises
        ------
        SegmentationError
            The point lies outside the grid (more than half a voxel beyond its outer centres).
        """
        p = np.asarray(point, float).reshape(3)
        if not np.all(np.isfinite(p)):
            raise SegmentationError(f"{what} ({_fmt(p)}) is not a finite LPS point; give x,y,z in mm")
        i, j, k = (int(round(v)) for v in self.patient_to_index(p))
        if not (0 <= i < self.shape[2] and 0 <= j < self.shape[1] and 0 <= k < self.shape[0]):
            raise SegmentationError(f"{what} ({_fmt(p)}) mm lies outside the volume ({self.describe_bounds()}); give a point inside the image")
        return (k, j, i)

    # ------------------------------------------------------------------ comparisons
    def mismatch(self, other: Geometry, *, tolerance_mm: float = 1e-3) -> str | None:
        """Why ``other`` is not the same grid (or frame of reference), or None when it is."""
        if tuple(self.shape) != tuple(other.shape):
            return f"grid {other.shape[::-1]} (i, j, k) differs from {self.shape[::-1]}"
        if not np.allclose(self.spacing, other.spacing, atol=tolerance_mm, rtol=0):
            return f"spacing {_fmt(other.spacing)} mm differs from {_fmt(self.spacing)} mm"
        if not np.allclose(self.origin, other.origin, atol=max(tolerance_mm, 1e-3), rtol=0):
            return f"origin ({_fmt(np.round(other.origin, 3))}) mm differs from ({_fmt(np.round(self.origin, 3))}) mm"
        if not np.allclose(self.direction, other.direction, atol=1e-4, rtol=0):
            return "axis directions differ"
        a, b = self.frame_of_reference_uid, other.frame_of_reference_uid
        if a and b and a != b:
            return f"FrameOfReferenceUID {b} differs from {a}"
        return None

    def require_same(self, other: Geometry, *, what: str) -> None:
        """Raise :class:`GridMismatchError` naming the difference when ``other`` is another grid."""
        why = self.mismatch(other)
        if why is not None:
            raise GridMismatchError(
                f"{what} does not lie on the segmentation's grid: {why}; use the series the segmentation was made on (or resample it onto this grid first)"
            )

    def with_uids(self, *, frame_of_reference_uid: str | None, series_uid: str | None) -> Geometry:
        """A copy with other UIDs."""
        return dataclasses.replace(self, frame_of_reference_uid=frame_of_reference_uid, series_uid=series_uid)

    def ball_radius_voxels(self, radius_mm: float) -> tuple[int, int, int]:
        """Half-size in voxels ``(k, j, i)`` of the box holding a ball of ``radius_mm``."""
        return tuple(int(math.floor(radius_mm / s + 1e-9)) for s in self.spacing_kji)  # type: ignore[return-value]


def parse_lps_box(box: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Two LPS corners ``(x0, y0, z0, x1, y1, z1)`` as sorted ``(lo, hi)`` arrays.

    Raises
    ------
    SegmentationError
        Not six finite numbers, or a box of no size.
    """
    values = np.asarray(list(box), float).ravel()
    if values.size != 6 or not np.all(np.isfinite(values)):
        raise SegmentationError(f"box {list(box)!r} must be six finite numbers x0,y0,z0,x1,y1,z1 (LPS mm)")
    lo = np.minimum(values[:3], values[3:])
    hi = np.maximum(values[:3], values[3:])
    return lo, hi


def lps_box_region(geometry: Geometry, box: Sequence[float]) -> tuple[Box, np.ndarray | None]:
    """The voxels whose centres lie in an LPS box (edges included).

    Parameters
    ----------
    geometry : Geometry
    box : sequence of 6 float
        ``x0, y0, z0, x1, y1, z1`` in LPS mm (corners in any order).

    Returns
    -------
    (Box, numpy.ndarray or None)
        The index box holding them and, for an oblique grid, a bool mask of that box's shape
        saying which of its voxels are in the LPS box (None: all of them).

    Raises
    ------
    SegmentationError
        The box misses the volume.
    """
    lo, hi = parse_lps_box(box)
    eps = 1e-6
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    idx = geometry.patient_to_index(corners)  # (8, 3) i, j, k
    first = np.ceil(idx.min(axis=0) - eps).astype(int)
    last = np.floor(idx.max(axis=0) + eps).astype(int)
    n_ijk = np.array([geometry.shape[2], geometry.shape[1], geometry.shape[0]])
    first = np.maximum(first, 0)
    last = np.minimum(last, n_ijk - 1)

    def missing() -> SegmentationError:
        return SegmentationError(
            f"box x {lo[0]:g}..{hi[0]:g}, y {lo[1]:g}..{hi[1]:g}, z {lo[2]:g}..{hi[2]:g} mm misses the volume "
            f"({geometry.describe_bounds()}); give a box that overlaps it"
        )

    if np.any(last < first):
        raise missing()
    region = Box((int(first[2]), int(first[1]), int(first[0])), (int(last[2]) + 1, int(last[1]) + 1, int(last[0]) + 1))
    d = geometry.direction_matrix
    aligned = np.allclose(np.abs(d), np.round(np.abs(d)), atol=1e-9)
    if aligned:
        return region, None
    # oblique grid: test each voxel centre of the index box (coordinates are affine in i, j, k)
    a = geometry.affine
    kk = np.arange(region.lo[0], region.hi[0], dtype=np.float64)[:, None, None]
    jj = np.arange(region.lo[1], region.hi[1], dtype=np.float64)[None, :, None]
    ii = np.arange(region.lo[2], region.hi[2], dtype=np.float64)[None, None, :]
    inside = np.ones(region.shape, bool)
    for axis in range(3):
        coord = a[axis, 3] + a[axis, 0] * ii + a[axis, 1] * jj + a[axis, 2] * kk
        inside &= (coord >= lo[axis] - eps) & (coord <= hi[axis] + eps)
    if not inside.any():
        raise missing()
    return region, inside


def embed(masks: Sequence[np.ndarray], source: Geometry, target: Geometry, *, what: str) -> list[np.ndarray]:
    """Masks on ``source`` put onto ``target``: the same grid, or a part of it (a file cropped
    to its segments' extent, as Slicer saves them) whose voxels coincide with the target's.

    Parameters
    ----------
    masks : sequence of numpy.ndarray
        bool ``(k, j, i)`` of ``source.shape``.
    source, target : Geometry
    what : str
        Names the source in messages ("file.seg.nrrd").

    Returns
    -------
    list of numpy.ndarray
        bool arrays of ``target.shape``.

    Raises
    ------
    GridMismatchError
        Another frame of reference, spacing or orientation, voxels between the target's, or
        segment voxels outside the target grid.
    """
    if source.mismatch(target) is None:
        return [np.asarray(m, bool) for m in masks]
    a, b = source.frame_of_reference_uid, target.frame_of_reference_uid
    fix = "open the series it was made on"
    if a and b and a != b:
        raise GridMismatchError(f"{what} belongs to FrameOfReferenceUID {a}, not the open series' {b}; {fix}")
    if not np.allclose(source.spacing, target.spacing, atol=1e-3, rtol=0):
        raise GridMismatchError(f"{what} has spacing {_fmt(source.spacing)} mm, the open series {_fmt(target.spacing)} mm; {fix} (or resample it first)")
    if not np.allclose(source.direction, target.direction, atol=1e-4, rtol=0):
        raise GridMismatchError(f"{what} is oriented differently from the open series (axis directions differ); {fix}")
    offset = target.patient_to_index(source.origin)  # (i, j, k) of the source's first voxel
    if not np.allclose(offset, np.round(offset), atol=1e-2):
        raise GridMismatchError(f"{what} lies between the open series' voxels (its first voxel is at index {_fmt(np.round(offset, 3))}); {fix}")
    di, dj, dk = (int(v) for v in np.round(offset))
    out: list[np.ndarray] = []
    src_box = Box((dk, dj, di), (dk + source.shape[0], dj + source.shape[1], di + source.shape[2]))
    clip = src_box.intersect(Box.full(target.shape))
    for m in masks:
        m = np.asarray(m, bool)
        full = np.zeros(target.shape, bool)
        if not clip.empty:
            part = m[clip.relative_to(src_box)]
            full[clip.slices] = part
            kept = int(np.count_nonzero(part))
        else:
            kept = 0
        if kept != int(np.count_nonzero(m)):
            raise GridMismatchError(f"{what} has segment voxels outside the open series' grid ({target.describe_bounds()}); {fix}")
        out.append(full)
    return out
