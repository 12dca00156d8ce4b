"""Segment Editor tools: plain functions on a :class:`SegmentationModel`, in mm and LPS.

Every tool either completes as one undo step or raises :class:`SegmentationError` (a
:class:`~vtkdicom_app.errors.VtkDicomError`) naming the value and the fix, with the model
unchanged. Each returns the index :class:`Box` of the voxels it changed (None: nothing
changed), so a view redraws only that. Tools work on the bounding box of the segment (or
of the brush, box or seed region) wherever the result cannot reach beyond it.

Connectivity is face connectivity (6 neighbours) throughout, as in VTK and Slicer's islands.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from vtkdicom_app.segmentation import _ops
from vtkdicom_app.segmentation.geometry import Box, Geometry, SegmentationError, lps_box_region
from vtkdicom_app.segmentation.model import Mode, SegmentationModel

if TYPE_CHECKING:  # pragma: no cover
    from vtkdicom_app.volume import Volume

__all__ = [
    "Mode",
    "ScissorsOperation",
    "ShellSide",
    "threshold",
    "seed_region",
    "keep_largest_island",
    "keep_island_at",
    "remove_small_islands",
    "paint",
    "erase",
    "scissors",
    "margin",
    "hollow",
    "fill_holes",
    "close",
    "combine",
    "union",
    "subtract",
    "intersect",
    "crop",
]


class ScissorsOperation(enum.Enum):
    """What the scissors do with the voxels inside the extruded polygon."""

    ERASE_INSIDE = "erase_inside"
    ERASE_OUTSIDE = "erase_outside"  # keep only what is inside
    FILL_INSIDE = "fill_inside"
    FILL_OUTSIDE = "fill_outside"


class ShellSide(enum.Enum):
    """Where :func:`hollow` puts the wall relative to the segment's surface."""

    INSIDE = "inside"  # the outer surface stays; the wall is cut from the inside
    OUTSIDE = "outside"  # the segment becomes the cavity; the wall is grown around it
    MEDIAL = "medial"  # half of the wall on each side


# ----------------------------------------------------------------------------- helpers
def _fmt(point: npt.ArrayLike) -> str:
    return ", ".join(f"{v:g}" for v in np.asarray(point, float).ravel())


def _range_text(lower: float, upper: float | None) -> str:
    return f"{lower:g}..{upper:g}" if upper is not None else f">= {lower:g}"


def _values(model: SegmentationModel, volume: Volume | None, tool: str) -> np.ndarray:
    vol = volume if volume is not None else model.volume
    if vol is None:
        raise SegmentationError(
            f"{tool} reads the image's values, and this segmentation has none: make it with SegmentationModel.from_volume(vol) or pass volume="
        )
    if volume is not None:
        model.geometry.require_same(Geometry.from_volume(volume), what="the volume")
    if vol.array.ndim != 3:
        raise SegmentationError(f"{tool} needs a grey-scale volume; this one has shape {vol.array.shape} (a colour image?)")
    return vol.array


def _check_range(lower: float, upper: float | None) -> tuple[float, float | None]:
    lo = float(lower)
    hi = None if upper is None else float(upper)
    if not math.isfinite(lo) or (hi is not None and not math.isfinite(hi)):
        raise SegmentationError(f"range {_range_text(lo, hi)} must be finite numbers")
    if hi is not None and hi < lo:
        raise SegmentationError(f"range {lo:g}..{hi:g} is empty: the upper value must not be below the lower one; swap them")
    return lo, hi


def _in_range(sub: np.ndarray, lower: float, upper: float | None) -> np.ndarray:
    out = np.greater_equal(sub, lower)
    if upper is not None:
        out &= np.less_equal(sub, upper)
    return out


def _nonempty_box(model: SegmentationModel, segment_id: str, tool: str) -> Box:
    box = model.bounding_box(segment_id)
    if box is None:
        seg = model.segment(segment_id)
        raise SegmentationError(f"{tool}: segment {seg.name!r} is empty; threshold, paint or seed it first")
    return box


def _points(points: npt.ArrayLike, what: str) -> np.ndarray:
    pts = np.asarray(points, float)
    if pts.ndim == 1:
        pts = pts[None, :]
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise SegmentationError(f"{what} must be LPS points x,y,z in mm, got an array of shape {np.shape(points)}")
    if not np.all(np.isfinite(pts)):
        raise SegmentationError(f"{what} ({_fmt(pts)}) must be finite numbers")
    return pts


# ----------------------------------------------------------------------------- threshold, seeds
def threshold(
    model: SegmentationModel,
    segment_id: str,
    lower: float,
    upper: float | None = None,
    *,
    box: Sequence[float] | None = None,
    mode: Mode = Mode.REPLACE,
    volume: Volume | None = None,
) -> Box | None:
    """Voxels with ``lower <= value <= upper``, optionally only inside an LPS box.

    Parameters
    ----------
    model : SegmentationModel
    segment_id : str
    lower, upper : float
        In the image's units (HU for CT); ``upper`` None: no upper limit.
    box : sequence of 6 float, optional
        ``x0, y0, z0, x1, y1, z1`` LPS mm: only voxels whose centre lies inside.
    mode : Mode
        How the result combines with the segment (default: replaces it).
    volume : Volume, optional
        The image (default: the model's).

    Returns
    -------
    Box or None
        What changed.

    Raises
    ------
    SegmentationError
        An empty range, a box that misses the volume, or no voxel in the range.
    """
    values = _values(model, volume, "threshold")
    lo, hi = _check_range(lower, upper)
    region, inside = lps_box_region(model.geometry, box) if box is not None else (Box.full(model.geometry.shape), None)
    result = _in_range(values[region.slices], lo, hi)
    if inside is not None:
        result &= inside
    if not result.any():
        where = " inside the box" if box is not None else ""
        raise SegmentationError(
            f"threshold {_range_text(lo, hi)} selects no voxel{where} (values span {float(values.min()):g}..{float(values.max()):g}); "
            "choose a range the structure's values fall in"
        )
    return model.write(segment_id, region, result, mode, description="threshold")


def seed_region(
    model: SegmentationModel,
    segment_id: str,
    seeds: npt.ArrayLike,
    lower: float,
    upper: float | None = None,
    *,
    box: Sequence[float] | None = None,
    mode: Mode = Mode.REPLACE,
    volume: Volume | None = None,
) -> Box | None:
    """What is connected to the seed points through voxels in ``lower..upper`` ("keep what is connected to this point").

    Parameters
    ----------
    model : SegmentationModel
    segment_id : str
    seeds : array_like
        One LPS point ``(x, y, z)`` mm or an ``(N, 3)`` array of them.
    lower, upper : float
        The value range (``upper`` None: no upper limit).
    box : sequence of 6 float, optional
        Only voxels inside this LPS box take part (the seeds must be inside it).
    mode : Mode
    volume : Volume, optional

    Raises
    ------
    SegmentationError
        A seed outside the volume (or the box), a seed on a voxel outside the range, an
        empty range, a box that misses the volume.
    """
    values = _values(model, volume, "seed region")
    lo, hi = _check_range(lower, upper)
    geo = model.geometry
    pts = _points(seeds, "seeds")
    voxels = []
    for p in pts:
        k, j, i = geo.voxel_of(p, what="seed")
        v = float(values[k, j, i])
        if not (v >= lo and (hi is None or v <= hi)):
            raise SegmentationError(
                f"seed ({_fmt(p)}) mm is on a voxel of value {v:g}, outside the range {_range_text(lo, hi)}; put the seed on the structure or widen the range"
            )
        voxels.append((k, j, i))
    top = float(hi) if hi is not None else (float(np.iinfo(values.dtype).max) if values.dtype.kind in "iu" else float(np.finfo(np.float64).max))
    if box is None:
        region_box, region = _ops.seeded_region(values, lo, top, voxels)
        return model.write(segment_id, region_box, region, mode, description="seed region")
    crop, inside = lps_box_region(geo, box)
    sub = values[crop.slices]
    low, high = lo, top
    if inside is not None:  # an oblique box: connect through in-range voxels inside it only
        sub = (_in_range(sub, lo, hi) & inside).view(np.uint8)
        low, high = 1.0, 1.0
    local = []
    for (k, j, i), p in zip(voxels, pts):
        rel = (k - crop.lo[0], j - crop.lo[1], i - crop.lo[2])
        if not all(0 <= r < n for r, n in zip(rel, crop.shape)) or (inside is not None and not inside[rel]):
            raise SegmentationError(f"seed ({_fmt(p)}) mm lies outside the box {list(box)}; put the seed inside the box or leave the box out")
        local.append(rel)
    found_box, region = _ops.seeded_region(sub, low, high, local)
    absolute = Box(tuple(a + b for a, b in zip(crop.lo, found_box.lo)), tuple(a + b for a, b in zip(crop.lo, found_box.hi)))  # type: ignore[arg-type]
    return model.write(segment_id, absolute, region, mode, description="seed region")


# ----------------------------------------------------------------------------- islands
def keep_largest_island(model: SegmentationModel, segment_id: str) -> Box | None:
    """Keep only the segment's largest face-connected piece."""
    box = _nonempty_box(model, segment_id, "keep largest island")
    kept = _ops.connected(model.mask(segment_id)[box.slices], 1, 1, largest=True, what="largest island")
    return model.write(segment_id, box, kept, Mode.REPLACE, description="keep largest island")


def keep_island_at(model: SegmentationModel, segment_id: str, point: npt.ArrayLike) -> Box | None:
    """Keep only the piece of the segment that holds an LPS point.

    Raises
    ------
    SegmentationError
        The point is outside the volume or not on the segment.
    """
    box = _nonempty_box(model, segment_id, "keep island")
    p = _points(point, "point")[0]
    k, j, i = model.geometry.voxel_of(p, what="point")
    mask = model.mask(segment_id)
    if not mask[k, j, i]:
        raise SegmentationError(f"point ({_fmt(p)}) mm is not on segment {model.segment(segment_id).name!r}; click on the piece to keep")
    rel = (k - box.lo[0], j - box.lo[1], i - box.lo[2])
    kept = _ops.connected(mask[box.slices], 1, 1, seeds_kji=[rel], what="island at a point")
    return model.write(segment_id, box, kept, Mode.REPLACE, description="keep island")


def remove_small_islands(model: SegmentationModel, segment_id: str, min_volume_mm3: float) -> Box | None:
    """Remove the pieces smaller than ``min_volume_mm3``.

    Raises
    ------
    SegmentationError
        Every piece is smaller (the segment would be emptied).
    """
    if not (math.isfinite(min_volume_mm3) and min_volume_mm3 >= 0):
        raise SegmentationError(f"minimum island volume {min_volume_mm3!r} mm3 must be >= 0")
    box = _nonempty_box(model, segment_id, "remove small islands")
    min_voxels = max(1, _ops.ceil_div(float(min_volume_mm3), model.geometry.voxel_volume_mm3))
    sub = model.mask(segment_id)[box.slices]
    kept = _ops.connected(sub, 1, 1, min_voxels=min_voxels, what="islands by size")
    if not kept.any():
        largest = int(np.count_nonzero(_ops.connected(sub, 1, 1, largest=True))) * model.geometry.voxel_volume_mm3
        raise SegmentationError(
            f"every island of segment {model.segment(segment_id).name!r} is smaller than {min_volume_mm3:g} mm3 "
            f"(the largest is {largest:.1f} mm3); lower the minimum volume"
        )
    return model.write(segment_id, box, kept, Mode.REPLACE, description="remove small islands")


# ----------------------------------------------------------------------------- brush
def _brush(model: SegmentationModel, segment_id: str, centers: npt.ArrayLike, radius_mm: float, mode: Mode, name: str) -> Box | None:
    if not (math.isfinite(radius_mm) and radius_mm > 0):
        raise SegmentationError(f"brush radius {radius_mm!r} mm must be a positive number")
    geo = model.geometry
    pts = _points(centers, "brush centres")
    spheres = []
    for p in pts:
        i, j, k = geo.patient_to_index(p)
        found = _ops.sphere_in_box(geo.spacing_kji, (k, j, i), float(radius_mm), geo.shape)
        nearest = (int(round(k)), int(round(j)), int(round(i)))
        inside_grid = all(0 <= v < n for v, n in zip(nearest, geo.shape))
        if found is None and inside_grid:  # a brush smaller than a voxel paints the voxel it is on
            b = Box(nearest, (nearest[0] + 1, nearest[1] + 1, nearest[2] + 1))
            found = (b, np.ones((1, 1, 1), bool))
        if found is not None:
            spheres.append(found)
    if not spheres:
        raise SegmentationError(
            f"the brush ({_fmt(pts[0])}) mm, radius {radius_mm:g} mm, lies outside the volume ({geo.describe_bounds()}); paint inside the image"
        )
    box = spheres[0][0]
    for b, _ in spheres[1:]:
        box = box.union(b)
    stroke = np.zeros(box.shape, bool)
    for b, ball in spheres:
        stroke[b.relative_to(box)] |= ball
    return model.write(segment_id, box, stroke, mode, description=name)


def paint(model: SegmentationModel, segment_id: str, centers: npt.ArrayLike, radius_mm: float) -> Box | None:
    """Add a sphere of ``radius_mm`` around each LPS centre (one point, or the points of a stroke).

    Voxels whose centre lies within the radius are painted; a brush smaller than a voxel
    paints the voxel under its centre.
    """
    return _brush(model, segment_id, centers, radius_mm, Mode.ADD, "paint")


def erase(model: SegmentationModel, segment_id: str, centers: npt.ArrayLike, radius_mm: float) -> Box | None:
    """Remove a sphere of ``radius_mm`` around each LPS centre (see :func:`paint`)."""
    return _brush(model, segment_id, centers, radius_mm, Mode.SUBTRACT, "erase")


# ----------------------------------------------------------------------------- scissors
def _plane_basis(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.eye(3)[int(np.argmin(np.abs(n)))]
    u = np.cross(n, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(n, u)


def _raster(poly2d: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The polygon filled on a 2D grid: (bool image [v, u], origin (u0, v0), the grid step in mm)."""
    from PIL import Image, ImageDraw

    lo = poly2d.min(axis=0) - 2 * step
    hi = poly2d.max(axis=0) + 2 * step
    size = np.ceil((hi - lo) / step).astype(int) + 1
    if size.prod() > 64_000_000:  # a huge polygon on a fine grid: coarsen (error <= step/2 at the edges)
        step *= float(np.sqrt(size.prod() / 64_000_000))
        size = np.ceil((hi - lo) / step).astype(int) + 1
    img = Image.new("1", (int(size[0]), int(size[1])), 0)
    pixel = (poly2d - lo) / step  # PIL's pixel n covers [n, n + 1]: the cell floor((u - lo) / step) looks up
    ImageDraw.Draw(img).polygon([(float(x), float(y)) for x, y in pixel], fill=1, outline=1)
    return np.array(img, dtype=bool), lo, step


def scissors(
    model: SegmentationModel,
    segment_id: str,
    polygon: npt.ArrayLike,
    view_direction: Sequence[float],
    *,
    operation: ScissorsOperation = ScissorsOperation.ERASE_INSIDE,
    slab_mm: float | None = None,
) -> Box | None:
    """Cut (or fill) along a polygon drawn on a view, extruded along the view direction.

    Parameters
    ----------
    model : SegmentationModel
    segment_id : str
    polygon : array_like
        ``(N, 3)`` LPS points (mm), N >= 3, as drawn on the view (they are projected onto
        the plane across ``view_direction``).
    view_direction : sequence of 3 float
        The direction the view looks along (LPS); the polygon is extruded along it.
    operation : ScissorsOperation
        Erase inside (default), erase outside (keep inside), fill inside or fill outside.
    slab_mm : float, optional
        Extrude only this thick a slab centred on the polygon's plane (default: through the
        whole volume).

    Raises
    ------
    SegmentationError
        Fewer than three points, a polygon of no area, a zero direction.
    """
    geo = model.geometry
    pts = _points(polygon, "scissors polygon")
    n = np.asarray(view_direction, float).reshape(3)
    if len(pts) < 3:
        raise SegmentationError(f"scissors polygon has {len(pts)} point(s); draw at least 3")
    if not np.all(np.isfinite(n)) or np.linalg.norm(n) < 1e-9:
        raise SegmentationError(f"view direction ({_fmt(n)}) must be a non-zero vector")
    if slab_mm is not None and not (math.isfinite(slab_mm) and slab_mm > 0):
        raise SegmentationError(f"slab thickness {slab_mm!r} mm must be positive")
    n = n / np.linalg.norm(n)
    u, v = _plane_basis(n)
    p0 = pts[0]
    poly2d = np.stack([(pts - p0) @ u, (pts - p0) @ v], axis=1)
    x, y = poly2d[:, 0], poly2d[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    if area < 1e-6:
        raise SegmentationError("scissors polygon has no area (its points lie on a line seen along the view direction); draw a closed shape")
    step = min(geo.spacing) / 4.0
    raster, origin2d, step = _raster(poly2d, step)
    erase_op = operation in (ScissorsOperation.ERASE_INSIDE, ScissorsOperation.ERASE_OUTSIDE)
    if erase_op:
        region = _nonempty_box(model, segment_id, "scissors")
    else:
        region = Box.full(geo.shape)
    a = geo.affine
    # u, v and w (along n) of a voxel centre are affine in (i, j, k): coefficient per index
    cu = np.array([a[:3, c] @ u for c in range(3)])
    cv = np.array([a[:3, c] @ v for c in range(3)])
    cw = np.array([a[:3, c] @ n for c in range(3)])
    base = np.asarray(geo.origin) - p0
    u0, v0, w0 = float(base @ u), float(base @ v), float(base @ n)
    jj = np.arange(region.lo[1], region.hi[1], dtype=np.float64)[:, None]
    ii = np.arange(region.lo[2], region.hi[2], dtype=np.float64)[None, :]
    hv, hu = raster.shape

    def lookup(uu: np.ndarray, vv: np.ndarray) -> np.ndarray:
        iu = np.floor((uu - origin2d[0]) / step).astype(np.int64)
        iv = np.floor((vv - origin2d[1]) / step).astype(np.int64)
        ok = (iu >= 0) & (iu < hu) & (iv >= 0) & (iv < hv)
        out = np.zeros(uu.shape, bool)
        out[ok] = raster[iv[ok], iu[ok]]
        return out

    inside = np.empty(region.shape, bool)
    along_k = abs(cu[2]) < 1e-9 and abs(cv[2]) < 1e-9  # u, v do not depend on k: one 2D test for every slice
    plane = lookup(u0 + cu[0] * ii + cu[1] * jj, v0 + cv[0] * ii + cv[1] * jj) if along_k else None
    for z, k in enumerate(range(region.lo[0], region.hi[0])):
        if plane is not None:
            inside[z] = plane
        else:
            inside[z] = lookup(u0 + cu[2] * k + cu[0] * ii + cu[1] * jj, v0 + cv[2] * k + cv[0] * ii + cv[1] * jj)
        if slab_mm is not None:
            w = w0 + cw[2] * k + cw[0] * ii + cw[1] * jj
            inside[z] &= np.abs(w) <= slab_mm / 2.0
    if operation in (ScissorsOperation.ERASE_OUTSIDE, ScissorsOperation.FILL_OUTSIDE):
        if slab_mm is not None:  # "outside" is outside the prism, within the slab
            for z, k in enumerate(range(region.lo[0], region.hi[0])):
                w = w0 + cw[2] * k + cw[0] * ii + cw[1] * jj
                inside[z] ^= np.abs(w) <= slab_mm / 2.0
        else:
            np.logical_not(inside, out=inside)
    mode = Mode.SUBTRACT if erase_op else Mode.ADD
    return model.write(segment_id, region, inside, mode, description="scissors")


# ----------------------------------------------------------------------------- margins
def _grow_region(model: SegmentationModel, box: Box, radius_mm: float, times: int = 1) -> Box:
    pad = tuple(r * times + 1 for r in _ops.ball_offsets_box(model.geometry.spacing_kji, radius_mm))
    return box.expand(pad, model.geometry.shape)


def margin(model: SegmentationModel, segment_id: str, margin_mm: float) -> Box | None:
    """Grow (``margin_mm`` > 0) or shrink (< 0) the segment by a distance in mm.

    The new surface lies ``|margin_mm|`` from the old one in every direction, whatever the
    spacing (distances to the voxels' boxes, see :func:`vtkdicom_app.segmentation._ops.within_distance`).

    Raises
    ------
    SegmentationError
        A shrink that would empty the segment.
    """
    if not math.isfinite(margin_mm):
        raise SegmentationError(f"margin {margin_mm!r} mm must be a number")
    if margin_mm == 0:
        return None
    box = _nonempty_box(model, segment_id, "margin")
    sp = model.geometry.spacing_kji
    mask = model.mask(segment_id)
    if margin_mm > 0:
        region = _grow_region(model, box, margin_mm)
        result = _ops.grow(mask[region.slices], sp, margin_mm)
    else:
        region = box
        result = _ops.shrink(mask[region.slices], sp, -margin_mm)
        if not result.any():
            raise SegmentationError(
                f"margin {margin_mm:g} mm removes all of segment {model.segment(segment_id).name!r} "
                f"(it is nowhere thicker than {2 * -margin_mm:g} mm); use a smaller shrink"
            )
    return model.write(segment_id, region, result, Mode.REPLACE, description=f"margin {margin_mm:+g} mm")


def hollow(model: SegmentationModel, segment_id: str, thickness_mm: float, *, side: ShellSide = ShellSide.INSIDE) -> Box | None:
    """Make the segment a shell ``thickness_mm`` thick (for resin printing: less material).

    Parameters
    ----------
    model : SegmentationModel
    segment_id : str
    thickness_mm : float
        Wall thickness (> 0).
    side : ShellSide
        INSIDE keeps the outer surface (default), OUTSIDE keeps the inner one (the segment
        becomes the cavity), MEDIAL centres the wall on the surface.

    Raises
    ------
    SegmentationError
        The wall is thicker than the object (an inside shell would fill it).
    """
    if not (math.isfinite(thickness_mm) and thickness_mm > 0):
        raise SegmentationError(f"shell thickness {thickness_mm!r} mm must be a positive number")
    box = _nonempty_box(model, segment_id, "hollow")
    sp = model.geometry.spacing_kji
    mask = model.mask(segment_id)
    name = model.segment(segment_id).name
    inner_mm = thickness_mm if side is ShellSide.INSIDE else (thickness_mm / 2 if side is ShellSide.MEDIAL else 0.0)
    outer_mm = thickness_mm if side is ShellSide.OUTSIDE else (thickness_mm / 2 if side is ShellSide.MEDIAL else 0.0)
    region = _grow_region(model, box, outer_mm) if outer_mm > 0 else box
    sub = mask[region.slices]
    outer = _ops.grow(sub, sp, outer_mm) if outer_mm > 0 else sub
    if inner_mm > 0:
        inner = _ops.shrink(sub, sp, inner_mm)
        if not inner.any():
            raise SegmentationError(
                f"hollow {thickness_mm:g} mm ({side.value}) is thicker than segment {name!r}: nothing is left inside a wall of "
                f"{inner_mm:g} mm; use a thinner wall or the outside side"
            )
    else:
        inner = sub
    shell = outer & ~inner
    return model.write(segment_id, region, shell, Mode.REPLACE, description=f"hollow {thickness_mm:g} mm")


def fill_holes(model: SegmentationModel, segment_id: str) -> Box | None:
    """Fill every cavity the segment encloses completely (3D, face connectivity)."""
    box = _nonempty_box(model, segment_id, "fill holes")
    filled = _ops.fill_cavities(model.mask(segment_id)[box.slices])
    return model.write(segment_id, box, filled, Mode.ADD, description="fill holes")


def close(model: SegmentationModel, segment_id: str, radius_mm: float) -> Box | None:
    """Morphological closing by ``radius_mm``: gaps and dents narrower than twice it are filled."""
    if not (math.isfinite(radius_mm) and radius_mm > 0):
        raise SegmentationError(f"closing radius {radius_mm!r} mm must be a positive number")
    box = _nonempty_box(model, segment_id, "close")
    sp = model.geometry.spacing_kji
    region = _grow_region(model, box, radius_mm, times=2)
    sub = model.mask(segment_id)[region.slices]
    grown = _ops.grow(sub, sp, radius_mm)
    closed = _ops.shrink(grown, sp, radius_mm) | sub
    return model.write(segment_id, region, closed, Mode.REPLACE, description=f"close {radius_mm:g} mm")


# ----------------------------------------------------------------------------- logic, crop
def combine(model: SegmentationModel, target_id: str, other_id: str, mode: Mode) -> Box | None:
    """Combine another segment into ``target_id``: ADD (union), SUBTRACT or INTERSECT."""
    if mode is Mode.REPLACE:
        other_box = model.bounding_box(other_id)
        region = Box.full(model.geometry.shape) if other_box is None else other_box
    elif mode is Mode.INTERSECT:
        region = Box.full(model.geometry.shape)
    else:
        other_box = model.bounding_box(other_id)
        if other_box is None:
            return None
        region = other_box
    values = model.mask(other_id)[region.slices].copy()
    return model.write(target_id, region, values, mode, description=f"{mode.value} {model.segment(other_id).name}")


def union(model: SegmentationModel, target_id: str, other_id: str) -> Box | None:
    """Add ``other_id``'s voxels to ``target_id``."""
    return combine(model, target_id, other_id, Mode.ADD)


def subtract(model: SegmentationModel, target_id: str, other_id: str) -> Box | None:
    """Remove ``other_id``'s voxels from ``target_id``."""
    return combine(model, target_id, other_id, Mode.SUBTRACT)


def intersect(model: SegmentationModel, target_id: str, other_id: str) -> Box | None:
    """Keep in ``target_id`` only what ``other_id`` also holds."""
    return combine(model, target_id, other_id, Mode.INTERSECT)


def crop(model: SegmentationModel, segment_id: str, box: Sequence[float]) -> Box | None:
    """Keep only the voxels whose centre lies inside an LPS box ``x0, y0, z0, x1, y1, z1`` (mm).

    Raises
    ------
    SegmentationError
        The box misses the volume.
    """
    region, inside = lps_box_region(model.geometry, box)
    kept = model.mask(segment_id)[region.slices].copy()
    if inside is not None:
        kept &= inside
    return model.write(segment_id, region, kept, Mode.REPLACE, description="crop")
