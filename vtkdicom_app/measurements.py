"""Measurements in patient space: ruler, angle, ellipse ROI on a plane, sphere ROI in 3D.

Every shape is defined by LPS points in mm, never by view pixels, so a measurement drawn on
an oblique view keeps its meaning when the view changes, and reads the same length in every
view. A widget turns its clicks into LPS points (``Slice.pixel_to_patient`` or
``SliceView.patient_at``), builds a shape, and asks :func:`measure` for its values:

========  ================================  ==========================================
shape     defined by                        values
========  ================================  ==========================================
Ruler     two points                        length (mm)
Angle     three points (the middle one is   angle at the vertex (degrees, 0..180)
          the vertex)
Ellipse   centre and two perpendicular      mean, SD, min, max and count of the pixels
          semi-axis vectors (their plane    of the plane inside it (sampled by
          is the ellipse's plane)           :class:`~vtkdicom_app.mpr.Reslicer` on that
                                            plane, oblique included); area (mm2)
Sphere    centre and radius                 mean, SD, min, max and count of the voxels
                                            whose centres lie inside; volume (mm3)
========  ================================  ==========================================

The sampled area and volume are the pixel (voxel) count times the pixel area (voxel volume):
the region the statistics cover. The drawn shape's exact area and volume are
:attr:`Ellipse.area_mm2` and :attr:`Sphere.volume_mm3`.

Editing
-------
Each shape lists its :meth:`handles` (LPS points a widget draws) and returns a new shape from
:meth:`move_handle` (shapes are immutable): a ruler's two ends, an angle's three points, an
ellipse's centre (moves it) and the four ends of its axes (turn and stretch it within its
plane), a sphere's centre and one point on its surface (the radius).

The list
--------
:class:`MeasurementList` keeps named measurements with stable ids (add, rename, edit,
delete, get) and tells listeners (``measurements.events.connect(callback)``) what changed
with a :class:`MeasurementEvent`. It exports to JSON (:data:`MEASUREMENTS_SCHEMA`) and CSV
atomically. It belongs to the thread that uses it (the GUI thread in the viewer).

Bad input
---------
A ruler or angle point outside the volume, or a region that covers no voxel, raises
:class:`MeasurementError` with the point in LPS mm; degenerate shapes (a zero axis, a zero
radius, an angle arm of zero length) raise ``ValueError``.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.mpr import Interpolation, Plane, Reslicer
from vtkdicom_app.volume import Volume

__all__ = [
    "MEASUREMENTS_SCHEMA",
    "Angle",
    "Ellipse",
    "EventEmitter",
    "Measurement",
    "MeasurementChange",
    "MeasurementError",
    "MeasurementEvent",
    "MeasurementKind",
    "MeasurementList",
    "MeasurementResult",
    "RoiStats",
    "sphere_section",
    "Ruler",
    "Shape",
    "Sphere",
    "measure",
    "outline",
    "shape_from_dict",
    "shape_to_dict",
]

MEASUREMENTS_SCHEMA = "vtkdicom_app.measurements/1"
"""The ``schema`` string of :meth:`MeasurementList.to_dict` (and of exported JSON files)."""

CSV_COLUMNS = (
    "id",
    "name",
    "kind",
    "length_mm",
    "angle_deg",
    "mean",
    "sd",
    "min",
    "max",
    "count",
    "area_mm2",
    "volume_mm3",
    "unit",
    "clipped",
    "definition",
)
"""Columns of :meth:`MeasurementList.export_csv` (``definition``: the shape as JSON, LPS mm)."""


class MeasurementError(VtkDicomError):
    """A measurement that cannot be made on this volume (outside it, no voxel covered, colour)."""


class MeasurementKind(enum.Enum):
    """What a measurement is."""

    RULER = "ruler"
    ANGLE = "angle"
    ELLIPSE = "ellipse"
    SPHERE = "sphere"


# ---------------------------------------------------------------------------- small helpers
def _point(xyz: Any, what: str) -> tuple[float, float, float]:
    try:
        p = np.asarray(xyz, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        p = np.zeros(0)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"{what} is three finite numbers (LPS mm), got {xyz!r}")
    return (float(p[0]), float(p[1]), float(p[2]))


def _fmt(p: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(v):.1f}" for v in p) + ")"


def _vec(p: Sequence[float]) -> np.ndarray:
    return np.asarray(p, dtype=np.float64)


# ---------------------------------------------------------------------------- shapes
@dataclasses.dataclass(frozen=True)
class Ruler:
    """A distance between two LPS points.

    Attributes
    ----------
    p0, p1 : tuple of float
        LPS mm.
    """

    kind: ClassVar[MeasurementKind] = MeasurementKind.RULER
    p0: tuple[float, float, float]
    p1: tuple[float, float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "p0", _point(self.p0, "a ruler end"))
        object.__setattr__(self, "p1", _point(self.p1, "a ruler end"))

    @property
    def length_mm(self) -> float:
        """Euclidean distance in mm."""
        return float(np.linalg.norm(_vec(self.p1) - _vec(self.p0)))

    def handles(self) -> tuple[np.ndarray, ...]:
        """The two ends."""
        return (_vec(self.p0), _vec(self.p1))

    def move_handle(self, index: int, xyz: Sequence[float]) -> Ruler:
        """A ruler with end ``index`` (0 or 1) at ``xyz``."""
        ends = [self.p0, self.p1]
        ends[_handle_index(index, 2)] = _point(xyz, "a handle")
        return Ruler(ends[0], ends[1])


@dataclasses.dataclass(frozen=True)
class Angle:
    """The angle at ``vertex`` between the arms to ``a`` and ``b``.

    Attributes
    ----------
    a, vertex, b : tuple of float
        LPS mm; the arms must not have zero length.
    """

    kind: ClassVar[MeasurementKind] = MeasurementKind.ANGLE
    a: tuple[float, float, float]
    vertex: tuple[float, float, float]
    b: tuple[float, float, float]

    def __post_init__(self) -> None:
        for name in ("a", "vertex", "b"):
            object.__setattr__(self, name, _point(getattr(self, name), f"an angle's {name} point"))
        for name in ("a", "b"):
            if np.linalg.norm(_vec(getattr(self, name)) - _vec(self.vertex)) == 0:
                raise ValueError(f"an angle's arm to {name} has zero length: {name} is the vertex {_fmt(self.vertex)}")

    @property
    def degrees(self) -> float:
        """The angle in degrees, 0..180 (atan2 of the cross and dot products: exact near 0 and 180)."""
        u = _vec(self.a) - _vec(self.vertex)
        v = _vec(self.b) - _vec(self.vertex)
        return float(math.degrees(math.atan2(float(np.linalg.norm(np.cross(u, v))), float(u @ v))))

    def handles(self) -> tuple[np.ndarray, ...]:
        """``a``, the vertex, ``b``."""
        return (_vec(self.a), _vec(self.vertex), _vec(self.b))

    def move_handle(self, index: int, xyz: Sequence[float]) -> Angle:
        """An angle with point ``index`` (0 a, 1 vertex, 2 b) at ``xyz``."""
        points = [self.a, self.vertex, self.b]
        points[_handle_index(index, 3)] = _point(xyz, "a handle")
        return Angle(*points)


@dataclasses.dataclass(frozen=True)
class Ellipse:
    """An elliptical region on a plane.

    Attributes
    ----------
    centre : tuple of float
        LPS mm.
    axis_u, axis_v : tuple of float
        The two semi-axes as LPS vectors (mm): perpendicular (within 1e-6 of their lengths)
        and not zero; their plane is the ellipse's plane, normal ``u x v``.

    Examples
    --------
    >>> e = Ellipse.in_plane((0, 0, 0), 20.0, 10.0, np.eye(3))   # an axial ellipse
    >>> round(e.area_mm2, 3)
    628.319
    """

    kind: ClassVar[MeasurementKind] = MeasurementKind.ELLIPSE
    centre: tuple[float, float, float]
    axis_u: tuple[float, float, float]
    axis_v: tuple[float, float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "centre", _point(self.centre, "an ellipse's centre"))
        object.__setattr__(self, "axis_u", _point(self.axis_u, "an ellipse's axis"))
        object.__setattr__(self, "axis_v", _point(self.axis_v, "an ellipse's axis"))
        u, v = _vec(self.axis_u), _vec(self.axis_v)
        lu, lv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
        if lu == 0 or lv == 0:
            raise ValueError(f"an ellipse's semi-axes must not be zero, got {self.axis_u} and {self.axis_v}")
        if abs(float(u @ v)) > 1e-6 * lu * lv:
            raise ValueError(f"an ellipse's semi-axes must be perpendicular, got {self.axis_u} and {self.axis_v}")

    @classmethod
    def in_plane(cls, centre: Sequence[float], radius_u_mm: float, radius_v_mm: float, axes: npt.ArrayLike, *, angle_deg: float = 0.0) -> Ellipse:
        """An ellipse on a view's plane.

        Parameters
        ----------
        centre : sequence of float
            LPS mm (projected onto nothing: it defines where the plane is).
        radius_u_mm, radius_v_mm : float
            Semi-axes along the plane's columns and rows (before ``angle_deg``).
        axes : array_like
            3x3, columns: the plane's column direction, row direction, normal
            (``Slice.axes`` or :func:`~vtkdicom_app.mpr.plane_axes`).
        angle_deg : float
            Turns the ellipse within its plane, from the column direction towards the rows.
        """
        m = np.asarray(axes, dtype=np.float64).reshape(3, 3)
        a = math.radians(float(angle_deg))
        cu = math.cos(a) * m[:, 0] + math.sin(a) * m[:, 1]
        cv = -math.sin(a) * m[:, 0] + math.cos(a) * m[:, 1]
        return cls(tuple(centre), tuple(float(radius_u_mm) * cu), tuple(float(radius_v_mm) * cv))  # type: ignore[arg-type]

    @property
    def radii_mm(self) -> tuple[float, float]:
        """Lengths of the two semi-axes."""
        return float(np.linalg.norm(self.axis_u)), float(np.linalg.norm(self.axis_v))

    @property
    def normal(self) -> np.ndarray:
        """Unit normal of the ellipse's plane, ``u x v`` normalised."""
        n = np.cross(_vec(self.axis_u), _vec(self.axis_v))
        return n / np.linalg.norm(n)

    @property
    def area_mm2(self) -> float:
        """The exact area of the drawn ellipse, pi * a * b."""
        ru, rv = self.radii_mm
        return math.pi * ru * rv

    def handles(self) -> tuple[np.ndarray, ...]:
        """Centre, then the ends of the axes: ``c + u``, ``c - u``, ``c + v``, ``c - v``."""
        c, u, v = _vec(self.centre), _vec(self.axis_u), _vec(self.axis_v)
        return (c, c + u, c - u, c + v, c - v)

    def move_handle(self, index: int, xyz: Sequence[float]) -> Ellipse:
        """Move a handle (projected onto the ellipse's plane).

        Handle 0 moves the ellipse; 1 and 2 set the first semi-axis (length and direction
        within the plane; the other axis turns with it and keeps its length); 3 and 4 set the
        second semi-axis likewise.
        """
        i = _handle_index(index, 5)
        c, n = _vec(self.centre), self.normal
        p = _vec(_point(xyz, "a handle"))
        if i == 0:
            return Ellipse(tuple(p), self.axis_u, self.axis_v)
        d = p - c
        d = d - float(d @ n) * n  # stay on the plane
        if float(np.linalg.norm(d)) == 0:
            raise ValueError("an ellipse's axis end cannot be moved onto its centre")
        if i in (2, 4):
            d = -d
        ru, rv = self.radii_mm
        if i in (1, 2):
            u = d
            v = np.cross(n, u / np.linalg.norm(u)) * rv
            return Ellipse(self.centre, tuple(u), tuple(v))
        v = d
        u = np.cross(v / np.linalg.norm(v), n) * ru
        return Ellipse(self.centre, tuple(u), tuple(v))


@dataclasses.dataclass(frozen=True)
class Sphere:
    """A spherical region in 3D.

    Attributes
    ----------
    centre : tuple of float
        LPS mm.
    radius_mm : float
        > 0.
    """

    kind: ClassVar[MeasurementKind] = MeasurementKind.SPHERE
    centre: tuple[float, float, float]
    radius_mm: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "centre", _point(self.centre, "a sphere's centre"))
        try:
            r = float(self.radius_mm)
        except (TypeError, ValueError):
            r = math.nan
        if not (math.isfinite(r) and r > 0):
            raise ValueError(f"a sphere's radius must be a positive number of mm, got {self.radius_mm!r}")
        object.__setattr__(self, "radius_mm", r)

    @property
    def volume_mm3(self) -> float:
        """The exact volume of the drawn sphere, 4/3 pi r^3."""
        return 4.0 / 3.0 * math.pi * self.radius_mm**3

    def handles(self) -> tuple[np.ndarray, ...]:
        """Centre, and the surface point along +x (the patient's left) that sets the radius."""
        c = _vec(self.centre)
        return (c, c + np.array([self.radius_mm, 0.0, 0.0]))

    def move_handle(self, index: int, xyz: Sequence[float]) -> Sphere:
        """Handle 0 moves the sphere; handle 1 sets the radius to its distance from the centre."""
        i = _handle_index(index, 2)
        p = _vec(_point(xyz, "a handle"))
        if i == 0:
            return Sphere(tuple(p), self.radius_mm)
        return Sphere(self.centre, float(np.linalg.norm(p - _vec(self.centre))))


Shape = Ruler | Angle | Ellipse | Sphere
"""Any measurement shape."""

_SHAPES: dict[MeasurementKind, type[Any]] = {
    MeasurementKind.RULER: Ruler,
    MeasurementKind.ANGLE: Angle,
    MeasurementKind.ELLIPSE: Ellipse,
    MeasurementKind.SPHERE: Sphere,
}


def _handle_index(index: int, n: int) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
        raise ValueError(f"no handle {index!r}: this shape has handles 0..{n - 1}")
    return int(index)


def shape_to_dict(shape: Shape) -> dict[str, Any]:
    """The shape as JSON-ready data (LPS mm), ``{"kind": ..., ...}``."""
    if isinstance(shape, Ruler):
        return {"kind": shape.kind.value, "points": [list(shape.p0), list(shape.p1)]}
    if isinstance(shape, Angle):
        return {"kind": shape.kind.value, "points": [list(shape.a), list(shape.vertex), list(shape.b)]}
    if isinstance(shape, Ellipse):
        return {"kind": shape.kind.value, "centre": list(shape.centre), "axis_u": list(shape.axis_u), "axis_v": list(shape.axis_v)}
    if isinstance(shape, Sphere):
        return {"kind": shape.kind.value, "centre": list(shape.centre), "radius_mm": shape.radius_mm}
    raise TypeError(f"not a measurement shape: {type(shape).__name__}")


def shape_from_dict(data: Mapping[str, Any]) -> Shape:
    """The inverse of :func:`shape_to_dict`.

    Raises
    ------
    ValueError
        An unknown kind, a missing field or an invalid value (the message names it).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"a measurement shape is a JSON object, got {type(data).__name__}")
    kind_text = data.get("kind")
    try:
        kind = MeasurementKind(kind_text)
    except ValueError:
        raise ValueError(f"unknown measurement kind {kind_text!r}; use one of: {', '.join(k.value for k in MeasurementKind)}") from None
    try:
        if kind is MeasurementKind.RULER:
            points = data["points"]
            if len(points) != 2:
                raise ValueError(f"a ruler has 2 points, got {len(points)}")
            return Ruler(points[0], points[1])
        if kind is MeasurementKind.ANGLE:
            points = data["points"]
            if len(points) != 3:
                raise ValueError(f"an angle has 3 points, got {len(points)}")
            return Angle(points[0], points[1], points[2])
        if kind is MeasurementKind.ELLIPSE:
            return Ellipse(data["centre"], data["axis_u"], data["axis_v"])
        return Sphere(data["centre"], data["radius_mm"])
    except KeyError as exc:
        raise ValueError(f"a {kind.value} needs the field {exc.args[0]!r}") from None
    except TypeError as exc:
        raise ValueError(f"invalid {kind.value}: {exc}") from None


# ---------------------------------------------------------------------------- values
@dataclasses.dataclass(frozen=True)
class RoiStats:
    """Statistics of the samples inside a region.

    Attributes
    ----------
    count : int
        Pixels (ellipse) or voxels (sphere) inside the region and the volume.
    mean, sd, min, max : float
        In the volume's units (HU for CT); SD is the population SD (ddof 0).
    area_mm2 : float or None
        Ellipse: ``count`` times the pixel area.
    volume_mm3 : float or None
        Sphere: ``count`` times the voxel volume.
    clipped : bool
        Part of the region lies outside the volume (the values cover the part inside).
    unit : str
        ``"HU"`` for CT, ``""`` otherwise.
    """

    count: int
    mean: float
    sd: float
    min: float
    max: float
    area_mm2: float | None = None
    volume_mm3: float | None = None
    clipped: bool = False
    unit: str = ""


@dataclasses.dataclass(frozen=True)
class MeasurementResult:
    """The values of one measurement on one volume.

    Attributes
    ----------
    kind : MeasurementKind
    length_mm : float or None
        Ruler.
    angle_deg : float or None
        Angle.
    stats : RoiStats or None
        Ellipse and sphere.
    """

    kind: MeasurementKind
    length_mm: float | None = None
    angle_deg: float | None = None
    stats: RoiStats | None = None

    def label(self) -> str:
        """A short text for a view or a list: ``"42.3 mm"``, ``"90.0°"``, ``"mean 40.1 HU SD 2.0 ..."``."""
        if self.length_mm is not None:
            return f"{self.length_mm:.1f} mm"
        if self.angle_deg is not None:
            return f"{self.angle_deg:.1f}\N{DEGREE SIGN}"
        s = self.stats
        if s is None:
            return ""
        unit = f" {s.unit}" if s.unit else ""
        size = f"{s.area_mm2:.1f} mm\N{SUPERSCRIPT TWO}" if s.area_mm2 is not None else f"{(s.volume_mm3 or 0.0) / 1000.0:.2f} cm\N{SUPERSCRIPT THREE}"
        return f"mean {s.mean:.1f}{unit} SD {s.sd:.1f} min {s.min:g} max {s.max:g} {size}" + (" (clipped)" if s.clipped else "")

    def as_row(self) -> dict[str, Any]:
        """The value columns of :data:`CSV_COLUMNS` (None where not applicable)."""
        s = self.stats
        return {
            "length_mm": self.length_mm,
            "angle_deg": self.angle_deg,
            "mean": None if s is None else s.mean,
            "sd": None if s is None else s.sd,
            "min": None if s is None else s.min,
            "max": None if s is None else s.max,
            "count": None if s is None else s.count,
            "area_mm2": None if s is None else s.area_mm2,
            "volume_mm3": None if s is None else s.volume_mm3,
            "unit": "" if s is None else s.unit,
            "clipped": None if s is None else s.clipped,
        }


def _index_inside(vol: Volume, ijk: np.ndarray, margin: float = 0.5) -> np.ndarray:
    """Which continuous indices (..., 3) lie within the volume's voxels (half a voxel beyond the outer centres)."""
    dims = np.asarray(vol.dimensions, dtype=np.float64)
    return np.all((ijk >= -margin) & (ijk <= dims - 1 + margin), axis=-1)


def _require_inside(vol: Volume, points: Sequence[Sequence[float]], what: str) -> None:
    ijk = vol.patient_to_index(np.asarray(points, dtype=np.float64))
    inside = _index_inside(vol, np.atleast_2d(ijk))
    for p, ok in zip(points, inside):
        if not ok:
            corners = vol.corners
            lo, hi = corners.min(axis=0), corners.max(axis=0)
            raise MeasurementError(f"the {what} point {_fmt(p)} mm (LPS) lies outside the volume, which spans {_fmt(lo)} to {_fmt(hi)} mm")


def _unit(vol: Volume) -> str:
    return "HU" if vol.modality == "CT" else ""


def _stats(values: np.ndarray, vol: Volume, *, clipped: bool, area: float | None = None, volume: float | None = None) -> RoiStats:
    v = values.astype(np.float64, copy=False)
    return RoiStats(
        count=int(v.size),
        mean=float(v.mean()),
        sd=float(v.std()),
        min=float(v.min()),
        max=float(v.max()),
        area_mm2=area,
        volume_mm3=volume,
        clipped=clipped,
        unit=_unit(vol),
    )


def _ellipse_stats(vol: Volume, e: Ellipse, reslicer: Reslicer, interpolation: Interpolation, pixel_size: float | None) -> RoiStats:
    c = _vec(e.centre)
    _require_inside(vol, [e.centre], "ellipse's centre")
    s = reslicer.reslice(Plane.OBLIQUE, point=c, normal=e.normal, interpolation=interpolation, pixel_size=pixel_size)
    row_c, col_c, _ = s.patient_to_pixel(c)
    # the ellipse's extent along the image's columns and rows (mm), then pixels
    u, v = _vec(e.axis_u), _vec(e.axis_v)
    half_col = math.hypot(float(u @ s.axes[:, 0]), float(v @ s.axes[:, 0])) / s.pixel_size[0]
    half_row = math.hypot(float(u @ s.axes[:, 1]), float(v @ s.axes[:, 1])) / s.pixel_size[1]
    rows, cols = s.shape
    r0, r1 = max(0, int(math.floor(float(row_c) - half_row)) - 1), min(rows - 1, int(math.ceil(float(row_c) + half_row)) + 1)
    c0, c1 = max(0, int(math.floor(float(col_c) - half_col)) - 1), min(cols - 1, int(math.ceil(float(col_c) + half_col)) + 1)
    if r0 > r1 or c0 > c1:
        raise MeasurementError(f"the ellipse at {_fmt(e.centre)} mm (LPS) covers no voxel of the volume")
    rr, cc = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
    pts = s.pixel_to_patient(rr, cc)
    d = pts - c
    a = (d @ u) / float(u @ u)
    b = (d @ v) / float(v @ v)
    in_shape = a * a + b * b <= 1.0
    in_volume = _index_inside(vol, vol.patient_to_index(pts.reshape(-1, 3)).reshape(pts.shape))
    take = in_shape & in_volume
    if not np.any(take):
        raise MeasurementError(f"the ellipse at {_fmt(e.centre)} mm (LPS) covers no voxel of the volume")
    # the whole ellipse lies within the pixels of the plane only if the box was not cut at the image edge
    cut = r0 == 0 and float(row_c) - half_row < 0 or c0 == 0 and float(col_c) - half_col < 0
    cut = cut or (r1 == rows - 1 and float(row_c) + half_row > rows - 1) or (c1 == cols - 1 and float(col_c) + half_col > cols - 1)
    clipped = bool(np.any(in_shape & ~in_volume)) or cut
    values = s.array[rr[take], cc[take]]
    return _stats(values, vol, clipped=clipped, area=int(take.sum()) * s.pixel_size[0] * s.pixel_size[1])


def _sphere_stats(vol: Volume, sph: Sphere) -> RoiStats:
    c, r = _vec(sph.centre), sph.radius_mm
    _require_inside(vol, [sph.centre], "sphere's centre")
    # the index box of the sphere's LPS box, clipped to the grid
    box = np.array([[c[0] + sx * r, c[1] + sy * r, c[2] + sz * r] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    ijk = vol.patient_to_index(box)
    dims = np.asarray(vol.dimensions)
    lo = np.floor(ijk.min(axis=0)).astype(int)
    hi = np.ceil(ijk.max(axis=0)).astype(int)
    clipped = bool(np.any(lo < 0) or np.any(hi > dims - 1))
    lo, hi = np.maximum(lo, 0), np.minimum(hi, dims - 1)
    matrix = vol.affine[:3, :3]
    origin = np.asarray(vol.origin)
    jj, ii = np.mgrid[lo[1] : hi[1] + 1, lo[0] : hi[0] + 1]
    plane_ij = origin + ii[..., None] * matrix[:, 0] + jj[..., None] * matrix[:, 1] - c  # (j, i, 3), k = 0
    r2 = r * r
    chunks = []
    for k in range(int(lo[2]), int(hi[2]) + 1):
        d = plane_ij + k * matrix[:, 2]
        mask = np.einsum("...x,...x->...", d, d) <= r2
        if np.any(mask):
            chunks.append(vol.array[k, lo[1] : hi[1] + 1, lo[0] : hi[0] + 1][mask])
    if not chunks:
        raise MeasurementError(f"the sphere at {_fmt(sph.centre)} mm (LPS), radius {r:g} mm, contains no voxel centre: make it larger")
    values = np.concatenate(chunks)
    voxel = float(abs(np.linalg.det(matrix)))
    return _stats(values, vol, clipped=clipped, volume=values.size * voxel)


def measure(
    vol: Volume,
    shape: Shape,
    *,
    reslicer: Reslicer | None = None,
    interpolation: Interpolation | str = Interpolation.NEAREST,
    pixel_size: float | None = None,
) -> MeasurementResult:
    """The values of a shape on a volume, in patient space.

    Parameters
    ----------
    vol : Volume
    shape : Ruler, Angle, Ellipse or Sphere
    reslicer : Reslicer, optional
        Reused for ellipses (a viewer keeps one per volume); a new one by default.
    interpolation : Interpolation or str
        Ellipse sampling: NEAREST (default) gives the voxels' own values, so min and max
        are values that occur in the data; LINEAR what a linearly interpolated view shows.
    pixel_size : float, optional
        The ellipse's sampling step in mm (default: the smallest voxel spacing, as the views).

    Returns
    -------
    MeasurementResult

    Raises
    ------
    MeasurementError
        A ruler or angle point, or an ROI's centre, outside the volume; an ROI that covers
        no voxel; ROI statistics on a colour volume.
    """
    if isinstance(shape, Ruler):
        _require_inside(vol, [shape.p0, shape.p1], "ruler's end")
        return MeasurementResult(MeasurementKind.RULER, length_mm=shape.length_mm)
    if isinstance(shape, Angle):
        _require_inside(vol, [shape.a, shape.vertex, shape.b], "angle's")
        return MeasurementResult(MeasurementKind.ANGLE, angle_deg=shape.degrees)
    if vol.is_colour:
        raise MeasurementError("ROI statistics need a grey-value volume; this one is colour (RGB)")
    if isinstance(shape, Ellipse):
        interp = interpolation if isinstance(interpolation, Interpolation) else Interpolation(interpolation)
        stats = _ellipse_stats(vol, shape, reslicer or Reslicer(vol), interp, pixel_size)
        return MeasurementResult(MeasurementKind.ELLIPSE, stats=stats)
    if isinstance(shape, Sphere):
        return MeasurementResult(MeasurementKind.SPHERE, stats=_sphere_stats(vol, shape))
    raise TypeError(f"not a measurement shape: {type(shape).__name__}")


# ---------------------------------------------------------------------------- the list
@dataclasses.dataclass(frozen=True)
class Measurement:
    """One named measurement.

    Attributes
    ----------
    id : int
        Stable within its list (never reused after a delete).
    name : str
    shape : Ruler, Angle, Ellipse or Sphere
    """

    id: int
    name: str
    shape: Shape

    @property
    def kind(self) -> MeasurementKind:
        """The shape's kind."""
        return self.shape.kind

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "name", **shape_to_dict(shape)}``."""
        return {"id": self.id, "name": self.name, **shape_to_dict(self.shape)}


class MeasurementChange(enum.Enum):
    """What happened to the list."""

    ADDED = "added"
    RENAMED = "renamed"
    EDITED = "edited"
    """The shape changed (a handle was dragged)."""
    DELETED = "deleted"
    RESET = "reset"
    """Every measurement was replaced (cleared, or loaded from a file or scene); ``measurement`` is None."""


@dataclasses.dataclass(frozen=True)
class MeasurementEvent:
    """One change of a :class:`MeasurementList`.

    Attributes
    ----------
    change : MeasurementChange
    measurement : Measurement or None
        The new value (the removed one for DELETED; None for RESET).
    """

    change: MeasurementChange
    measurement: Measurement | None = None


E = TypeVar("E")


class EventEmitter(Generic[E]):
    """A small, typed, synchronous event mechanism (no Qt).

    The one listener list of the library's Qt-free objects: :class:`MeasurementList` and
    :class:`~vtkdicom_app.viewer_state.ViewerState` (which re-exports it) both use it. It
    lives here, in a low layer, so that the measurements need not import the viewer state.
    Listeners are called in the order they were connected, on the thread that emits; an
    exception in a listener propagates to the code that emitted.

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


_Listeners = EventEmitter  # the old private name


def outline(shape: Shape, *, segments: int = 64) -> tuple[np.ndarray, bool]:
    """The LPS polyline a view draws for a shape: ``(points (n, 3), closed)``.

    A ruler's two ends, an angle's three points (arm, vertex, arm), an ellipse's boundary
    (``segments`` points, closed); a sphere gives its centre only (its outline depends on
    the plane that cuts it).
    """
    if isinstance(shape, Ellipse):
        t = np.linspace(0.0, 2.0 * np.pi, int(segments), endpoint=False)
        c, u, v = _vec(shape.centre), _vec(shape.axis_u), _vec(shape.axis_v)
        return c + np.cos(t)[:, None] * u + np.sin(t)[:, None] * v, True
    return np.array([np.asarray(h, dtype=np.float64) for h in shape.handles()[: 3 if isinstance(shape, Angle) else 2]]).reshape(-1, 3), False


def sphere_section(sphere: Sphere, axes: npt.ArrayLike, point: npt.ArrayLike, *, segments: int = 64) -> np.ndarray | None:
    """The circle where a plane cuts a sphere, as a closed LPS polyline; None where it misses.

    Parameters
    ----------
    sphere : Sphere
    axes : array_like
        The plane's frame, 3x3 (columns: column direction, row direction, normal; LPS).
    point : sequence of float
        Any point of the plane (LPS mm).
    segments : int
        Points of the polyline.
    """
    m = np.asarray(axes, dtype=np.float64).reshape(3, 3)
    c = _vec(sphere.centre)
    n = m[:, 2] / np.linalg.norm(m[:, 2])
    d = float((c - np.asarray(point, dtype=np.float64).reshape(3)) @ n)
    if abs(d) >= sphere.radius_mm:
        return None
    r = math.sqrt(sphere.radius_mm**2 - d**2)
    foot = c - d * n
    t = np.linspace(0.0, 2.0 * np.pi, int(segments), endpoint=False)
    return foot + r * (np.cos(t)[:, None] * m[:, 0] + np.sin(t)[:, None] * m[:, 1])


_DEFAULT_NAMES = {MeasurementKind.RULER: "Ruler", MeasurementKind.ANGLE: "Angle", MeasurementKind.ELLIPSE: "Ellipse", MeasurementKind.SPHERE: "Sphere"}


class MeasurementList:
    """Named measurements with stable ids and change events.

    Attributes
    ----------
    events : EventEmitter of MeasurementEvent
        ``connect(callback)``, ``disconnect(callback)``.

    Examples
    --------
    >>> ms = MeasurementList()
    >>> seen = []
    >>> _ = ms.events.connect(seen.append)
    >>> m = ms.add(Ruler((0, 0, 0), (30, 40, 0)))
    >>> m.name, m.shape.length_mm
    ('Ruler 1', 50.0)
    >>> ms.rename(m.id, "aorta")
    >>> [e.change.value for e in seen]
    ['added', 'renamed']
    """

    def __init__(self) -> None:
        self.events: EventEmitter[MeasurementEvent] = EventEmitter()
        self._items: dict[int, Measurement] = {}
        self._next_id = 1

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Measurement]:
        return iter(tuple(self._items.values()))

    def __contains__(self, mid: object) -> bool:
        return mid in self._items

    @property
    def ids(self) -> tuple[int, ...]:
        """The ids, in the order the measurements were added."""
        return tuple(self._items)

    def get(self, mid: int) -> Measurement:
        """The measurement with id ``mid``.

        Raises
        ------
        KeyError
            No such id (the message lists the ids).
        """
        try:
            return self._items[mid]
        except (KeyError, TypeError):
            raise KeyError(f"no measurement {mid!r}; the ids are {list(self._items) or 'none'}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MeasurementList) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # mutable

    # ------------------------------------------------------------------ changing
    def _name(self, name: str | None, kind: MeasurementKind) -> str:
        if name is None:
            base = _DEFAULT_NAMES[kind]
            n = 1 + sum(1 for m in self._items.values() if m.kind is kind)
            taken = {m.name for m in self._items.values()}
            while f"{base} {n}" in taken:
                n += 1
            return f"{base} {n}"
        text = str(name).strip()
        if not text:
            raise ValueError("a measurement's name must not be empty")
        return text

    def add(self, shape: Shape, name: str | None = None) -> Measurement:
        """Add a shape (default name ``"Ruler 1"``, ``"Angle 2"``...); emits ADDED."""
        if not isinstance(shape, (Ruler, Angle, Ellipse, Sphere)):
            raise TypeError(f"add() takes a Ruler, Angle, Ellipse or Sphere, got {type(shape).__name__}")
        m = Measurement(self._next_id, self._name(name, shape.kind), shape)
        self._next_id += 1
        self._items[m.id] = m
        self.events.emit(MeasurementEvent(MeasurementChange.ADDED, m))
        return m

    def rename(self, mid: int, name: str) -> None:
        """Rename a measurement (emits RENAMED when the name changed)."""
        old = self.get(mid)
        new = dataclasses.replace(old, name=self._name(name, old.kind))
        if new != old:
            self._items[mid] = new
            self.events.emit(MeasurementEvent(MeasurementChange.RENAMED, new))

    def update(self, mid: int, shape: Shape) -> None:
        """Replace a measurement's shape by one of the same kind (a dragged handle; emits EDITED)."""
        old = self.get(mid)
        if not isinstance(shape, type(old.shape)):
            raise ValueError(f"measurement {mid} is a {old.kind.value}; it cannot become a {type(shape).__name__}")
        if shape != old.shape:
            new = dataclasses.replace(old, shape=shape)
            self._items[mid] = new
            self.events.emit(MeasurementEvent(MeasurementChange.EDITED, new))

    def move_handle(self, mid: int, handle: int, xyz: Sequence[float]) -> Measurement:
        """Drag one handle of a measurement to an LPS point (emits EDITED); the new measurement."""
        self.update(mid, self.get(mid).shape.move_handle(handle, xyz))
        return self.get(mid)

    def delete(self, mid: int) -> None:
        """Remove a measurement (emits DELETED with the removed one)."""
        old = self.get(mid)
        del self._items[mid]
        self.events.emit(MeasurementEvent(MeasurementChange.DELETED, old))

    def clear(self) -> None:
        """Remove every measurement (emits RESET when there were any)."""
        if self._items:
            self._items.clear()
            self.events.emit(MeasurementEvent(MeasurementChange.RESET))

    def replace_all(self, measurements: Sequence[Measurement]) -> None:
        """Take another list's measurements, ids kept (a scene or file loaded; emits RESET)."""
        items = {}
        for m in measurements:
            if not isinstance(m, Measurement):
                raise TypeError(f"replace_all() takes Measurement objects, got {type(m).__name__}")
            if m.id in items:
                raise ValueError(f"measurement id {m.id} appears twice")
            items[m.id] = m
        self._items = items
        self._next_id = max(items, default=0) + 1
        self.events.emit(MeasurementEvent(MeasurementChange.RESET))

    # ------------------------------------------------------------------ values and files
    def results(self, vol: Volume, *, reslicer: Reslicer | None = None) -> dict[int, MeasurementResult | MeasurementError]:
        """Each measurement's values on ``vol`` by id (a :class:`MeasurementError` where it cannot be measured)."""
        reslicer = reslicer or (Reslicer(vol) if any(isinstance(m.shape, Ellipse) for m in self) else None)
        out: dict[int, MeasurementResult | MeasurementError] = {}
        for m in self:
            try:
                out[m.id] = measure(vol, m.shape, reslicer=reslicer)
            except MeasurementError as exc:
                out[m.id] = exc
        return out

    def to_dict(self, vol: Volume | None = None) -> dict[str, Any]:
        """``{"schema": MEASUREMENTS_SCHEMA, "measurements": [...]}``; with ``vol``, each has its ``values``
        (or an ``error``)."""
        results = self.results(vol) if vol is not None else {}
        rows = []
        for m in self:
            row = m.to_dict()
            if m.id in results:
                r = results[m.id]
                if isinstance(r, MeasurementError):
                    row["error"] = str(r)
                else:
                    row["values"] = {k: v for k, v in r.as_row().items() if v is not None and v != ""}
                    if r.stats is not None:
                        row["values"]["unit"] = r.stats.unit
            rows.append(row)
        return {"schema": MEASUREMENTS_SCHEMA, "measurements": rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> MeasurementList:
        """A list from :meth:`to_dict`'s output (or its ``measurements`` array); values are recomputed, not read.

        Raises
        ------
        ValueError
            An unknown schema, or an invalid measurement (the message says which).
        """
        if isinstance(data, Mapping):
            schema = data.get("schema", MEASUREMENTS_SCHEMA)
            if schema != MEASUREMENTS_SCHEMA:
                raise ValueError(f"unknown measurements schema {schema!r}; this version reads {MEASUREMENTS_SCHEMA!r}")
            rows = data.get("measurements", [])
        else:
            rows = data
        if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
            raise ValueError("measurements are a JSON array")
        items = []
        for n, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise ValueError(f"measurement {n}: a JSON object, got {type(row).__name__}")
            mid = row.get("id", n + 1)
            if isinstance(mid, bool) or not isinstance(mid, int) or mid < 1:
                raise ValueError(f"measurement {n}: the id is a positive whole number, got {mid!r}")
            name = str(row.get("name") or "").strip()
            if not name:
                raise ValueError(f"measurement {n}: a name is required")
            try:
                shape = shape_from_dict(row)
            except ValueError as exc:
                raise ValueError(f"measurement {n} ({name}): {exc}") from None
            items.append(Measurement(mid, name, shape))
        out = cls()
        out.replace_all(items)
        return out

    def export_json(self, path: str | os.PathLike[str], vol: Volume | None = None) -> None:
        """Write :meth:`to_dict` (with values when ``vol`` is given) as JSON, atomically."""
        text = json.dumps(self.to_dict(vol), indent=2) + "\n"
        _write_text(path, text)

    def export_csv(self, path: str | os.PathLike[str], vol: Volume | None = None) -> None:
        """Write one row per measurement (:data:`CSV_COLUMNS`), atomically; values only with ``vol``.

        A measurement that cannot be made on ``vol`` has empty value columns.
        """
        results = self.results(vol) if vol is not None else {}
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for m in self:
            row: dict[str, Any] = {"id": m.id, "name": m.name, "kind": m.kind.value}
            r = results.get(m.id)
            if isinstance(r, MeasurementResult):
                row.update({k: ("" if v is None else v) for k, v in r.as_row().items()})
            elif r is None:  # no volume: the geometric values still hold
                if isinstance(m.shape, Ruler):
                    row["length_mm"] = m.shape.length_mm
                elif isinstance(m.shape, Angle):
                    row["angle_deg"] = m.shape.degrees
            row["definition"] = json.dumps(shape_to_dict(m.shape))
            writer.writerow(row)
        _write_text(path, buffer.getvalue())


def _write_text(path: str | os.PathLike[str], text: str) -> None:
    suffix = os.path.splitext(os.fspath(path))[1]
    with atomic_path(path, suffix=suffix) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
