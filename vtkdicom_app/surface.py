"""Print-ready iso-surfaces in patient space (LPS, mm).

Pipeline of :func:`extract_surface`::

    Volume --[Gaussian smoothing of the values]--> (pad one voxel below the threshold:
      closed surfaces) --> vtkFlyingEdges3D (points in LPS: it honours the image's direction
      matrix; a band's in index space, then moved onto the data's crossings and to LPS)
      --> [largest component | islands below a size in mm3 removed] --> [hole filling]
      --> windowed-sinc smoothing (volume-preserving) --> [decimation: fast-simplification]
      --> outward winding (checked by signed volume, cells reversed if needed)

A band ``[lower, upper]`` takes its topology from the zero level of
``min(v - lower, upper - v)`` (one closed surface around the voxels in the band) and its
geometry from the data: each vertex is then moved along its grid edge to where the edge's
values cross ``lower`` or ``upper``, whichever that edge crosses. Every VTK update goes
through :func:`vtkdicom_app.pipeline.run_update`.

The mesh checks (:class:`MeshReport`, :func:`mesh_report`, :class:`CoordinateSystem`) live
in :mod:`vtkdicom_app.mesh` and :class:`MeshError` in :mod:`vtkdicom_app.errors`; they are
re-exported here.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from vtkdicom_app.bridge import arrays_to_mesh, mesh_to_arrays
from vtkdicom_app.errors import ColourVolumeError, GeometryError, MeshError, ModalityWarning, SingleSliceError, VtkDicomError
from vtkdicom_app.geometry import sample_values
from vtkdicom_app.mesh import (
    CoordinateSystem,
    MeshReport,
    edge_topology,
    face_components,
    mesh_report,
    repair_manifold,
    restore_volume,
    signed_volume,
)
from vtkdicom_app.pipeline import run_update
from vtkdicom_app.volume import Volume

if TYPE_CHECKING:
    from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPolyData

__all__ = [
    "CoordinateSystem",
    "SurfacePreset",
    "MeshReport",
    "MeshError",
    "load_surface_presets",
    "extract_surface",
    "extract_label_surface",
    "mesh_report",
    "mesh_to_arrays",
    "arrays_to_mesh",
    "otsu_threshold",
    "default_threshold",
    "decimate",
    "inside_body_mask",
    "ModalityWarning",
    "DEFAULT_THRESHOLD",
    "Threshold",
]

ProgressCallback = Callable[[int, int, str], None]


@dataclasses.dataclass(frozen=True)
class SurfacePreset:
    """A named threshold range from ``data/surface_presets.json``.

    Attributes
    ----------
    name : str
    modality : str
        "CT" (HU thresholds) or "MR" (automatic threshold).
    lower, upper : float or None
        The band; ``upper`` None means everything above ``lower``; ``lower`` None means
        automatic (Otsu).
    smooth : int
        Windowed-sinc iterations.
    reduce : float
        Fraction of triangles removed by decimation.
    color : tuple of float
        RGB in 0..1 for display.
    description : str
    inside_body : bool
        Keep only what lies inside the body (lung, airways): not what is connected, in its
        axial plane, to the border of the image through anything but the body.
    """

    name: str
    modality: str
    lower: float | None
    upper: float | None
    smooth: int
    reduce: float
    color: tuple[float, float, float]
    description: str
    inside_body: bool = False


@lru_cache(maxsize=1)
def load_surface_presets() -> dict[str, SurfacePreset]:
    """Presets from the package's JSON data file, validated; keyed by name.

    Returns
    -------
    dict of str to SurfacePreset

    Raises
    ------
    VtkDicomError
        The data file is malformed.
    """
    from vtkdicom_app.presets import PresetKind, load_presets

    return load_presets(PresetKind.SURFACE, _surface_preset)


def _surface_preset(item: dict[str, Any]) -> SurfacePreset:
    """One surface preset from its JSON object (the preset loader's builder)."""
    preset = SurfacePreset(
        name=str(item["name"]),
        modality=str(item["modality"]),
        lower=None if item["lower"] is None else float(item["lower"]),
        upper=None if item["upper"] is None else float(item["upper"]),
        smooth=int(item["smooth"]),
        reduce=float(item["reduce"]),
        color=tuple(float(c) for c in item["color"]),  # type: ignore[arg-type]
        description=str(item["description"]),
        inside_body=bool(item.get("inside_body", False)),
    )
    if not 0.0 <= preset.reduce < 1.0 or preset.smooth < 0 or len(preset.color) != 3:
        raise ValueError("reduce must be in [0, 1), smooth >= 0 and color three numbers")
    return preset


_signed_volume = signed_volume


# ----------------------------------------------------------------------------- thresholds
def otsu_threshold(values: np.ndarray, *, bins: int = 256, exclude: float | None = None) -> float:
    """Otsu's threshold of a value distribution (MR has no HU scale).

    Parameters
    ----------
    values : numpy.ndarray
    bins : int
    exclude : float, optional
        A value left out (PixelPaddingValue).

    Returns
    -------
    float
    """
    v = sample_values(values, exclude=exclude).astype(np.float64)
    hist, edges = np.histogram(v, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mean1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(edges[int(np.argmax(between)) + 1])


# ----------------------------------------------------------------------------- extraction
def _push_from_zero(field: np.ndarray, delta: float) -> None:
    """Move values within ``delta`` of 0 to +-delta, in place, keeping their sign (0 -> +delta).

    Flying edges puts a vertex at ``t = f0 / (f0 - f1)`` along each grid edge the zero level
    crosses; a grid value at (or within float32 noise of) the level puts the vertices of up to
    six edges at the same point. Merged by position (as every slicer merges an STL's corners)
    they give zero-area faces and edges shared by 4-24 triangles. Pushed away from the level,
    every vertex keeps at least ``delta / |f1|`` of a voxel from the grid point, and no voxel
    changes side.
    """
    d = np.float32(delta)
    for k in range(field.shape[0]):  # slice by slice: no volume-sized temporaries
        sl = field[k]
        near = np.abs(sl) < d
        if near.any():
            sl[near & (sl >= 0)] = d
            sl[near & (sl < 0)] = -d


def _level_margin(vol: Volume) -> float:
    """How far (in the volume's units) grid values are kept from the iso-level: 1e-4 of the range."""
    span = float(vol.array.max()) - float(vol.array.min())
    return max(span, 1e-6) * 1e-4


@dataclasses.dataclass
class _BandGrid:
    """What :func:`_place_band_vertices` needs to put a band's vertices on the data's crossings.

    The band's image is contoured in the index space of ``field`` (origin 0, spacing 1,
    identity direction), so that every vertex names its grid edge exactly: two of its
    coordinates are integers, the third lies strictly between two.

    Attributes
    ----------
    field : numpy.ndarray
        The padded float32 field ``(nk + 2, nj + 2, ni + 2)`` that was contoured at 0: its
        sign says which end of an edge is inside.
    values : numpy.ndarray
        ``(nk, nj, ni)``: the values the band was taken from (the volume's own array, or its
        Gaussian-smoothed float32 copy).
    raw : numpy.ndarray
        The volume's own array (to recognise PixelPaddingValue voxels).
    lower, upper : float
    delta : float
        The margin of :func:`_push_from_zero`, kept between a vertex and a grid point.
    pad_value : float or None
        PixelPaddingValue, when the volume has one.
    origin, spacing, direction
        Geometry of ``field``'s voxel (0, 0, 0) in LPS: index -> patient space.
    """

    field: np.ndarray
    values: np.ndarray
    raw: np.ndarray
    lower: float
    upper: float
    delta: float
    pad_value: float | None
    origin: np.ndarray
    spacing: np.ndarray
    direction: np.ndarray


def _gaussian_values(vol: Volume, sigma_mm: float, *, pad_value: float | None, pad_fill: float) -> np.ndarray:
    """The volume's values smoothed by a Gaussian of ``sigma_mm``, as float32 ``(k, j, i)``.

    PixelPaddingValue voxels count as ``pad_fill`` (just outside) in the smoothing, so the
    padding's own value (often -2000 or -3024) does not bleed into the body's edge.
    """
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkImagingGeneral import vtkImageGaussianSmooth

    src = vol.array.astype(np.float32)  # VTK smooths in the input's type: int16 would round
    if pad_value is not None:
        for k in range(src.shape[0]):
            src[k][vol.array[k] == pad_value] = np.float32(pad_fill)
    smooth = vtkImageGaussianSmooth()
    smooth.SetInputData(Volume(src).to_vtk(deep=False))
    smooth.SetDimensionality(3)
    smooth.SetStandardDeviations(*(sigma_mm / s for s in vol.spacing))  # in voxels
    smooth.SetRadiusFactors(3.0, 3.0, 3.0)
    out = run_update(smooth, "Gaussian smoothing")
    # the numpy view keeps the VTK array alive; the float32 source is freed with the filter
    return vtk_to_numpy(out.GetPointData().GetScalars()).reshape(vol.array.shape)


def _prepared_image(
    vol: Volume, lower: float, upper: float | None, sigma_mm: float, *, inside: np.ndarray | None = None
) -> tuple[vtkImageData, float, _BandGrid | None]:
    """An image with one voxel of padding whose level ``iso`` is the wanted surface.

    A plain threshold on integers keeps the volume's own dtype (no float copy) and contours at
    ``ceil(lower) - 0.5``: the same voxels are inside (``v >= lower``) and no grid value lies
    on the level. A band, a PixelPaddingValue, float values near the threshold, an
    ``inside`` mask or Gaussian smoothing need a float32 field contoured at 0, whose values
    are kept away from 0 (:func:`_push_from_zero`); Gaussian smoothing applies to the values
    before the field is made. A band's field ``min(v - lower, upper - v)`` has the band's
    topology but not its geometry (on an edge from a value near ``lower`` to one above
    ``upper``, the ``lower`` term places the ``upper`` crossing): its image is in index space
    and its vertices are moved afterwards (:func:`_place_band_vertices`, with the returned
    :class:`_BandGrid`). Returns ``(vtkImageData, iso, band grid or None)``.
    """
    nk, nj, ni = vol.array.shape
    pad_value = vol.padding_value
    has_padding = pad_value is not None
    dtype = vol.array.dtype
    delta = _level_margin(vol)
    if upper is None and not has_padding and dtype.kind in "iuf" and sigma_mm <= 0 and inside is None:
        arr = vol.array
        if dtype.kind in "iu":
            iso = float(np.ceil(lower)) - 0.5
        else:
            iso = float(lower)
            if any(bool((np.abs(arr[k] - np.float32(lower)) < delta).any()) for k in range(nk)):
                iso = float("nan")  # values on the level: the float path moves them off it
        if not np.isnan(iso):
            faces = (arr[0], arr[-1], arr[:, 0], arr[:, -1], arr[:, :, 0], arr[:, :, -1])
            if all(float(f.max()) < iso for f in faces):
                # nothing reaches the border: the surface is closed as it is, no padded copy needed
                return vol.to_vtk(), iso, None
            low_value = np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min
            if low_value < iso:
                # same dtype, no temporaries: the border sits at the dtype's minimum, below the level
                padded = np.empty((nk + 2, nj + 2, ni + 2), dtype)
                padded[1:-1, 1:-1, 1:-1] = vol.array
                border = np.array(min(low_value, vol.array.min()), dtype)
                padded[0], padded[-1] = border, border
                padded[:, 0], padded[:, -1] = border, border
                padded[:, :, 0], padded[:, :, -1] = border, border
                return _image_of(vol, padded), iso, None
    values = vol.array
    if sigma_mm > 0:
        values = _gaussian_values(vol, sigma_mm, pad_value=pad_value if has_padding else None, pad_fill=lower - 1.0)
    # One float32 array with a voxel of padding on every side, filled in place (no temporaries
    # of the volume's size): its zero level is the surface, its border is outside.
    padded = np.empty((nk + 2, nj + 2, ni + 2), np.float32)
    inner = padded[1:-1, 1:-1, 1:-1]
    np.subtract(values, np.float32(lower), out=inner, dtype=np.float32)
    if upper is not None:
        for k in range(nk):  # min(v - lower, upper - v), slice by slice to stay small
            np.minimum(inner[k], np.float32(upper) - values[k].astype(np.float32), out=inner[k])
    if has_padding:
        for k in range(nk):
            inner[k][vol.array[k] == pad_value] = -1.0  # padding is outside whatever its value
    if inside is not None:
        for k in range(nk):
            sl = inner[k]
            sl[~inside[k]] = np.minimum(sl[~inside[k]], np.float32(-1.0))  # outside the mask: outside
    outside = np.float32(min(-1.0, float(inner.min())))
    padded[0], padded[-1] = outside, outside
    padded[:, 0], padded[:, -1] = outside, outside
    padded[:, :, 0], padded[:, :, -1] = outside, outside
    _push_from_zero(padded, delta)
    if upper is None:
        return _image_of(vol, padded), 0.0, None
    direction = np.asarray(vol.direction, np.float64)
    spacing = np.asarray(vol.spacing, np.float64)
    grid = _BandGrid(
        field=padded,
        values=values,
        raw=vol.array,
        lower=float(lower),
        upper=float(upper),
        delta=delta,
        pad_value=float(pad_value) if isinstance(pad_value, (int, float)) else None,
        origin=np.asarray(vol.origin, np.float64) - direction @ spacing,
        spacing=spacing,
        direction=direction,
    )
    return Volume(padded).to_vtk(deep=False), 0.0, grid  # index space: origin 0, spacing 1, identity


def _place_band_vertices(mesh: vtkPolyData, grid: _BandGrid) -> None:
    """Move a band's vertices, in place, to their edges' crossings of the data; to LPS mm.

    ``mesh`` was contoured from ``grid.field`` in its index space, so every vertex lies on one
    grid edge: the coordinate that is not an integer names the edge's axis. Of the edge's two
    voxels, the one inside the band (field > 0) has a value in ``[lower, upper]``; the other
    lies below ``lower`` or above ``upper``, which says which limit the edge crosses. The
    vertex goes where the linear interpolation of the two values meets that limit, each value
    kept at least ``delta`` from it (as :func:`_push_from_zero` keeps the field from 0), so no
    vertex lands on a grid point. Only positions along their own edges change: the band's
    topology (a closed 2-manifold) is kept. Vertices whose outer voxel is outside for another
    reason than its value (the one-voxel border, a PixelPaddingValue voxel, a voxel outside
    the ``inside`` mask whose value is in the band) keep their place. Finally every point goes
    from index space to LPS mm.
    """
    from vtkmodules.util.numpy_support import vtk_to_numpy

    if mesh.GetNumberOfPoints() == 0:
        return
    data = mesh.GetPoints().GetData()
    points = vtk_to_numpy(data)  # a view: float32 (i, j, k) of the padded grid
    nk, nj, ni = grid.values.shape
    chunk = 1 << 20  # vertices at a time: temporaries stay a few tens of MB
    for start in range(0, len(points), chunk):
        idx = points[start : start + chunk].astype(np.float64)
        base = np.floor(idx)
        on_edge = idx != base
        ok = on_edge.sum(axis=1) == 1
        axis = np.argmax(on_edge, axis=1)
        a = base.astype(np.int64)[:, ::-1] - 1  # (k, j, i) of the edge's first voxel in the volume
        b = a.copy()
        rows = np.arange(len(a))
        b[rows, 2 - axis] += 1
        ok &= (a.min(axis=1) >= 0) & (b[:, 0] < nk) & (b[:, 1] < nj) & (b[:, 2] < ni)
        sel = np.nonzero(ok)[0]
        ka, ja, ia = a[sel].T
        kb, jb, ib = b[sel].T
        a_in = grid.field[ka + 1, ja + 1, ia + 1] > 0
        b_in = grid.field[kb + 1, jb + 1, ib + 1] > 0
        va = grid.values[ka, ja, ia].astype(np.float64)
        vb = grid.values[kb, jb, ib].astype(np.float64)
        v_in = np.where(a_in, va, vb)
        v_out = np.where(a_in, vb, va)
        level = np.where(v_out < grid.lower, grid.lower, np.where(v_out > grid.upper, grid.upper, np.nan))
        good = (a_in != b_in) & ~np.isnan(level)
        if grid.pad_value is not None:
            raw_out = np.where(a_in, grid.raw[kb, jb, ib], grid.raw[ka, ja, ia])
            good &= raw_out != grid.pad_value
        d_in = np.maximum(np.abs(v_in - level), grid.delta)
        d_out = np.maximum(np.abs(v_out - level), grid.delta)
        t_in = d_in / (d_in + d_out)  # from the inner voxel towards the outer one
        t = np.where(a_in, t_in, 1.0 - t_in)  # from voxel a
        sel, t = sel[good], t[good]
        idx[sel, axis[sel]] = base[sel, axis[sel]] + t
        lps = grid.origin + (idx * grid.spacing) @ grid.direction.T
        points[start : start + chunk] = lps
    data.Modified()


def _image_of(vol: Volume, padded: np.ndarray) -> vtkImageData:
    """VtkImageData of a padded array (one voxel added on every side of ``vol``)."""
    origin = np.asarray(vol.origin) - vol.direction @ np.asarray(vol.spacing)
    shifted = Volume(padded, spacing=vol.spacing, origin=tuple(origin), direction=vol.direction)
    return shifted.to_vtk(deep=False)  # the VTK array keeps ``padded`` alive


def _any_inside(array: np.ndarray, lower: float, upper: float | None) -> bool:
    """Whether any voxel is in [lower, upper], slice by slice (no volume-sized temporary)."""
    for k in range(array.shape[0]):
        sl = array[k]
        if upper is None:
            if (sl >= lower).any():
                return True
        elif ((sl >= lower) & (sl <= upper)).any():
            return True
    return False


def _keep_components(mesh: vtkPolyData, *, largest: bool, min_island_mm3: float) -> vtkPolyData:
    if not largest and min_island_mm3 <= 0:
        return mesh
    points, faces = mesh_to_arrays(mesh)
    if len(faces) == 0:
        return mesh
    labels = face_components(len(points), faces)
    a, b, c = points[faces[:, 0]], points[faces[:, 1]], points[faces[:, 2]]
    per_face = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0
    uniq, inverse = np.unique(labels, return_inverse=True)
    volumes = np.abs(np.bincount(inverse, weights=per_face))
    if largest:
        keep = {int(np.argmax(volumes))}
    else:
        keep = {int(i) for i in np.nonzero(volumes >= min_island_mm3)[0]}
        if not keep:
            raise MeshError(f"every piece of the surface is smaller than min_island_mm3={min_island_mm3:g} mm3 (largest {volumes.max():.1f} mm3); lower it")
    mask = np.isin(inverse, list(keep))
    used = np.unique(faces[mask])
    remap = np.full(len(points), -1, np.int64)
    remap[used] = np.arange(len(used))
    return arrays_to_mesh(points[used], remap[faces[mask]])


def decimate(mesh: vtkPolyData, reduce: float) -> vtkPolyData:
    """Remove a fraction of the triangles; a closed 2-manifold stays closed.

    fast-simplification (a maintained binding of Sven Forstmann's quadric simplifier) took
    2.4 s where vtkQuadricDecimation took 20.5 s for 1.5 M -> 150 k triangles on this
    machine, but it does not check the link condition: on real data (thin structures, many
    small pieces) it leaves edges shared by three or more triangles and pinched fins. Its
    output therefore goes through :func:`vtkdicom_app.mesh.repair_manifold`: vertices merged
    by position, degenerate and duplicate faces dropped, the faces around every non-manifold
    or misoriented edge removed and the small holes this opens closed by fans wound like
    their neighbours. The enclosed volume is then given back by one uniform move along the
    vertex normals of at most a tenth of an edge (:func:`vtkdicom_app.mesh.restore_volume`);
    see ``benchmarks/bench_decimate.py`` for times and volume errors.

    Parameters
    ----------
    mesh : vtkPolyData
    reduce : float
        Fraction in [0, 1) of triangles to remove.

    Returns
    -------
    vtkPolyData
    """
    if not 0.0 <= reduce < 1.0:
        raise ValueError(f"reduce must be in [0, 1), got {reduce}")
    if reduce == 0.0:
        return mesh
    import fast_simplification
    from vtkmodules.util.numpy_support import vtk_to_numpy

    if mesh.GetNumberOfPoints() == 0 or mesh.GetNumberOfPolys() < 100:
        return mesh
    points = vtk_to_numpy(mesh.GetPoints().GetData()).astype(np.float32, copy=False)  # flying edges' own float32
    faces = vtk_to_numpy(mesh.GetPolys().GetConnectivityArray())
    if len(faces) != 3 * mesh.GetNumberOfPolys() or mesh.GetNumberOfCells() != mesh.GetNumberOfPolys():
        raise MeshError("decimation needs a mesh of triangles only; triangulate it first (vtkTriangleFilter)")
    faces = faces.reshape(-1, 3).astype(np.int32)
    # aggressiveness 7 (the library's default) keeps thin structures better than 10 and
    # costs ~0.3 s more on 1.5 M triangles; see benchmarks/bench_decimate.py
    new_points, new_faces = fast_simplification.simplify(points, faces, target_reduction=reduce, agg=_DECIMATION_AGGRESSIVENESS)
    fixed_points, fixed_faces = repair_manifold(np.asarray(new_points, np.float64), np.asarray(new_faces, np.int64))
    if edge_topology(fixed_faces).watertight:
        # quadric decimation cuts the corners of convex parts: the enclosed volume shrinks with
        # the reduction (-2 % at 0.95 on noisy unsmoothed bone); one uniform move along the
        # vertex normals, at most a tenth of an edge, gives it back (Lindstrom and Turk's
        # volume constraint, applied once to the whole surface)
        fixed_points = restore_volume(fixed_points, fixed_faces, signed_volume(points, faces))
    return arrays_to_mesh(fixed_points, fixed_faces)


_DECIMATION_AGGRESSIVENESS = 7.0


def _smooth(mesh: vtkPolyData, iterations: int, *, pass_band: float) -> vtkPolyData:
    """Windowed-sinc smoothing (Taubin): smooths without the shrinking of Laplacian smoothing."""
    from vtkmodules.vtkFiltersCore import vtkWindowedSincPolyDataFilter

    sinc = vtkWindowedSincPolyDataFilter()
    sinc.SetInputData(mesh)
    sinc.SetNumberOfIterations(int(iterations))
    sinc.SetPassBand(pass_band)
    sinc.NormalizeCoordinatesOn()
    sinc.BoundarySmoothingOff()
    sinc.FeatureEdgeSmoothingOff()
    sinc.NonManifoldSmoothingOn()
    return run_update(sinc, "windowed-sinc smoothing")


def _orient_outward(mesh: vtkPolyData) -> vtkPolyData:
    from vtkmodules.vtkFiltersCore import vtkReverseSense

    points, faces = mesh_to_arrays(mesh)
    if _signed_volume(points, faces) >= 0:
        return mesh
    rev = vtkReverseSense()
    rev.SetInputData(mesh)
    rev.ReverseCellsOn()
    rev.ReverseNormalsOn()
    return run_update(rev, "reversing the winding")


#: The threshold (HU) extract_surface uses when none is given and no preset sets one, on
#: a volume with a Hounsfield scale. Passed explicitly, 300 is an ordinary number.
DEFAULT_THRESHOLD = 300.0


class Threshold(enum.Enum):
    """The two threshold choices of :func:`extract_surface` that are not numbers.

    Attributes
    ----------
    NOT_GIVEN
        The default of ``threshold``: the preset's lower limit, else :data:`DEFAULT_THRESHOLD`
        (300 HU); on an MR or PET volume with no preset (or a CT preset) and no ``upper``,
        Otsu's threshold, with a :class:`ModalityWarning`.
    AUTO
        Otsu's threshold of the volume's values (``threshold="auto"``).
    """

    NOT_GIVEN = "not-given"
    AUTO = "auto"


def _threshold_choice(threshold: float | str | Threshold | None) -> float | Threshold:
    """``threshold`` as a number or a :class:`Threshold`; ``None`` and ``"auto"`` mean AUTO."""
    if threshold is None:
        return Threshold.AUTO
    if isinstance(threshold, Threshold):
        return threshold
    if isinstance(threshold, str):
        if threshold.strip().lower() == Threshold.AUTO.value:
            return Threshold.AUTO
        raise ValueError(f"threshold must be a number or 'auto', got {threshold!r}")
    value = float(threshold)
    if not np.isfinite(value):
        raise ValueError(f"threshold must be a finite number or 'auto', got {threshold!r}")
    return value


_NO_HU_MODALITIES = ("MR", "PT")


def default_threshold(vol: Volume) -> float:
    """The threshold when none is given and no preset sets one.

    :data:`DEFAULT_THRESHOLD` (300 HU) on a volume with a Hounsfield scale; on MR or PET,
    which have none, Otsu's threshold of the values (padding left out), with a
    :class:`~vtkdicom_app.errors.ModalityWarning` saying so. The rule
    :func:`extract_surface` follows too (there through the ``mr-auto`` preset).
    """
    if vol.modality not in _NO_HU_MODALITIES:
        return DEFAULT_THRESHOLD
    import warnings

    value = otsu_threshold(vol.array, exclude=vol.padding_value)
    warnings.warn(
        f"the volume is {vol.modality}, which has no Hounsfield scale: threshold {value:g} (Otsu's); pass --threshold/threshold= to choose one",
        ModalityWarning,
        stacklevel=2,
    )
    return value


def _slice_axis(vol: Volume) -> int:
    """Numpy axis (0 = k, 1 = j, 2 = i) closest to the patient's feet-head (LPS z) axis."""
    z = np.abs(np.asarray(vol.direction)[2])  # z components of the i, j, k axes
    return 2 - int(np.argmax(z))


def _connected_to(array: np.ndarray, *, seed: vtkPolyData | None = None, what: str) -> np.ndarray:
    """Voxels of value 1 in a uint8 array connected (faces) to ``seed`` points (vtkPolyData),
    or, without seeds, the largest such region; VTK's connectivity filter, as a bool array."""
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkImagingMorphological import vtkImageConnectivityFilter

    conn = vtkImageConnectivityFilter()
    conn.SetInputData(Volume(array).to_vtk())
    conn.SetScalarRange(1, 1)
    if seed is None:
        conn.SetExtractionModeToLargestRegion()
    else:
        conn.SetSeedData(seed)
        conn.SetExtractionModeToSeededRegions()
    conn.SetLabelScalarTypeToUnsignedChar()
    conn.SetLabelModeToConstantValue()
    conn.SetLabelConstantValue(1)
    out = run_update(conn, what)
    return vtk_to_numpy(out.GetPointData().GetScalars()).reshape(array.shape) > 0


def _largest_region(mask: np.ndarray) -> np.ndarray:
    """The largest face-connected region of a 3D boolean mask (VTK's connectivity filter)."""
    return _connected_to(mask.view(np.uint8), what="largest connected region")


def _outside_in_plane(body: np.ndarray, chunk: int = 48) -> np.ndarray:
    """Pixels reached from the border of their own plane (axis 0) without crossing ``body``.

    The planes are laid out as one 2D mosaic separated by lines of "not body" joined to a
    frame, so one seeded flood fill from the frame finds, in every plane, what is connected
    to that plane's border: a hole filling of the body slice by slice, ``chunk`` planes at a
    time.
    """
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkPolyData

    n, rows, cols = body.shape
    outside = np.empty(body.shape, bool)
    seed = vtkPolyData()
    pts = vtkPoints()
    pts.InsertNextPoint(0.0, 0.0, 0.0)
    seed.SetPoints(pts)
    for start in range(0, n, chunk):
        block = body[start : start + chunk]
        m = len(block)
        mosaic = np.ones((1, m * (rows + 1) + 1, cols + 2), np.uint8)
        tiles = mosaic[0, 1:, 1:-1].reshape(m, rows + 1, cols)[:, :rows]
        tiles[...] = ~block
        labels = _connected_to(mosaic, seed=seed, what="flood fill of the outside, plane by plane")
        outside[start : start + m] = labels[0, 1:, 1:-1].reshape(m, rows + 1, cols)[:, :rows]
    return outside


def inside_body_mask(vol: Volume, *, body_above: float) -> np.ndarray:
    """Voxels inside the body: within its outline in their own axial plane.

    The body is the largest connected region above ``body_above`` (the table and clothes,
    which do not touch it, are left out); a voxel is inside when, in its plane across the
    patient's feet-head axis, it cannot reach the border of the image without crossing the
    body. Air around the body (and anything touching the image's border in its plane) is
    outside; lungs and airways are inside, also where the scan range cuts them.

    Parameters
    ----------
    vol : Volume
    body_above : float
        Values above this are body tissue (for lung: the band's upper limit).

    Returns
    -------
    numpy.ndarray
        bool, shape ``(k, j, i)``.
    """
    tissue = np.empty(vol.array.shape, bool)
    for k in range(vol.array.shape[0]):
        np.greater(vol.array[k], body_above, out=tissue[k])
    if not tissue.any():
        return tissue
    body = _largest_region(tissue)
    axis = _slice_axis(vol)
    planes = np.ascontiguousarray(np.moveaxis(body, axis, 0))
    outside = _outside_in_plane(planes)
    return np.moveaxis(~outside, 0, axis)


def extract_surface(
    vol: Volume,
    *,
    threshold: float | str | Threshold | None = Threshold.NOT_GIVEN,
    upper: float | None = None,
    preset: str | None = None,
    smooth: int | None = None,
    reduce: float | None = None,
    largest: bool = False,
    min_island_mm3: float = 0.0,
    fill_holes: bool = False,
    gaussian_sigma_mm: float = 0.0,
    force: bool = False,
    progress: ProgressCallback | None = None,
    inside_body: bool | None = None,
) -> vtkPolyData:
    """Iso-surface of a volume, in patient space (LPS, mm), closed and outward wound.

    Parameters
    ----------
    vol : Volume
    threshold : float, "auto" or Threshold, optional
        Lower limit of the surface (HU for CT). A number is used as given, 300 included, with
        or without a preset. ``"auto"`` (:attr:`Threshold.AUTO`): Otsu's threshold of the
        volume. Not given (:attr:`Threshold.NOT_GIVEN`): the preset's lower limit (Otsu for
        ``mr-auto``), else :data:`DEFAULT_THRESHOLD` (300 HU); on a volume whose Modality is
        MR or PT (no HU scale) with no preset or a CT preset and no ``upper``, preset
        ``mr-auto`` (Otsu) instead, with a :class:`ModalityWarning`. ``None`` is kept as an
        alias of ``"auto"`` (also with a preset). The value used is recorded in the mesh's
        field data ``threshold`` and in :func:`mesh_report`.
    upper : float, optional
        Upper bound of a band (soft tissue, fat, lung). Each vertex of a band's surface lies
        where the linear interpolation of its grid edge's two values crosses the limit that
        edge crosses (``threshold`` or ``upper``).
    preset : str, optional
        A name from :func:`load_surface_presets` (bone, skin, soft-tissue, fat, lung,
        teeth, mr-auto); sets threshold, upper, smooth and reduce unless given.
    smooth : int, optional
        Windowed-sinc iterations (volume preserving); default 15, 0 disables.
    reduce : float, optional
        Fraction of triangles removed by decimation (default 0).
    largest : bool
        Keep only the largest connected piece.
    min_island_mm3 : float
        Remove pieces smaller than this volume (mm3); never empties the mesh silently.
    fill_holes : bool
        Close open boundaries (only needed for meshes cut by a clipping box).
    gaussian_sigma_mm : float
        Gaussian pre-smoothing of the volume (mm).
    force : bool
        Extract even when the volume's geometry is unknown.
    progress : callable, optional
        ``progress(done, total, stage)`` per pipeline step.
    inside_body : bool, optional
        Keep only what lies inside the body (:func:`inside_body_mask`, the body being above
        ``upper``); default: the preset's setting (True for ``lung``), else False.

    Returns
    -------
    vtkPolyData
        Triangles with points in LPS mm; field data ``threshold`` (and ``upper`` for a band)
        and ``coordinate_system``. Its vertices are distinct points: merged by position (as
        a slicer merges an STL's corners) it stays a closed 2-manifold.

    Raises
    ------
    ColourVolumeError
        The volume is RGB (``array`` of shape ``(k, j, i, 3)``).
    SingleSliceError
        The volume has fewer than two voxels along an axis: a surface would have no
        thickness.
    GeometryError
        The volume's geometry is unknown and ``force`` is False.
    MeshError
        Nothing lies above the threshold, or island removal would empty the mesh.
    ValueError
        ``threshold`` is neither a finite number nor ``"auto"``.

    Warns
    -----
    ModalityWarning
        A CT default on an MR or PET volume was replaced by Otsu's threshold.

    Examples
    --------
    >>> mesh = extract_surface(vol, preset="bone", largest=True)   # doctest: +SKIP
    """
    if vol.array.ndim == 4:
        raise ColourVolumeError(f"a colour (RGB) volume {vol.array.shape[:3]} has no single value per voxel to threshold: surfaces need a grey-scale series")
    if min(vol.array.shape) < 2:
        axes = ", ".join(name for name, n in zip(("slices", "rows", "columns"), vol.array.shape) if n < 2)
        raise SingleSliceError(
            f"the volume {vol.array.shape} has a single voxel along its {axes}: a surface would have no "
            "thickness and could not be printed; load a series with at least two slices"
        )
    from vtkmodules.vtkCommonCore import vtkDoubleArray, vtkStringArray
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

    if not vol.geometry_known and not force:
        raise GeometryError(
            "the volume's geometry is unknown (no ImagePositionPatient/ImageOrientationPatient): "
            "a mesh would have no true size or side; pass force=True (--force) to extract anyway"
        )
    presets = load_surface_presets()
    if preset is not None and preset not in presets:
        raise VtkDicomError(f"unknown surface preset {preset!r}; choose one of {', '.join(presets)}")
    choice = _threshold_choice(threshold)
    modality = vol.modality
    if modality in _NO_HU_MODALITIES and choice is Threshold.NOT_GIVEN and upper is None and (preset is None or presets[preset].modality == "CT"):
        import warnings

        given = f"preset {preset!r} ({presets[preset].description})" if preset is not None else f"the default threshold {DEFAULT_THRESHOLD:g} HU"
        warnings.warn(
            f"the volume is {modality}, which has no Hounsfield scale: {given} would mean nothing here; "
            "using Otsu's threshold (preset mr-auto) instead; pass --threshold/threshold= to choose one",
            ModalityWarning,
            stacklevel=2,
        )
        preset, choice = "mr-auto", Threshold.AUTO
    if preset is not None:
        p = presets[preset]
        if choice is Threshold.NOT_GIVEN:
            choice = Threshold.AUTO if p.lower is None else p.lower
        upper = p.upper if upper is None else upper
        smooth = p.smooth if smooth is None else smooth
        reduce = p.reduce if reduce is None else reduce
        inside_body = p.inside_body if inside_body is None else inside_body
    smooth = 15 if smooth is None else int(smooth)
    reduce = 0.0 if reduce is None else float(reduce)
    steps = 6
    step = 0

    def report(stage: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(min(step, steps), steps, stage)

    if choice is Threshold.NOT_GIVEN:
        choice = DEFAULT_THRESHOLD
    if choice is Threshold.AUTO:
        threshold = otsu_threshold(vol.array, exclude=vol.padding_value)
    else:
        threshold = float(choice)
    if upper is not None and upper <= threshold:
        raise MeshError(f"upper ({upper:g}) must be above the threshold ({threshold:g})")
    if not _any_inside(vol.array, float(threshold), upper):
        rng = f"{threshold:g}..{upper:g}" if upper is not None else f">= {threshold:g}"
        raise MeshError(f"no voxel has a value {rng} (values span {vol.array.min():g}..{vol.array.max():g})")
    report("Preparing the volume")
    inside = None
    if inside_body:
        if upper is None:
            raise MeshError("inside_body needs a band (threshold and upper): the body is what lies above upper")
        inside = inside_body_mask(vol, body_above=float(upper))
        if not inside.any():
            raise MeshError(f"no body found: nothing above {upper:g} encloses anything in its plane")
    image, iso, band_grid = _prepared_image(vol, float(threshold), upper, gaussian_sigma_mm, inside=inside)
    report("Extracting the iso-surface")
    fe = vtkFlyingEdges3D()
    fe.SetInputData(image)
    fe.SetValue(0, iso)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    fe.ComputeScalarsOff()
    mesh = run_update(fe, "iso-surface extraction (flying edges)")
    if mesh.GetNumberOfCells() == 0:
        raise MeshError("the iso-surface is empty")
    if band_grid is not None:
        _place_band_vertices(mesh, band_grid)  # on the data's crossings, in LPS mm
        del band_grid
    report("Removing small pieces")
    mesh = _keep_components(mesh, largest=largest, min_island_mm3=min_island_mm3)
    if fill_holes:
        from vtkmodules.vtkFiltersModeling import vtkFillHolesFilter

        holes = vtkFillHolesFilter()
        holes.SetInputData(mesh)
        holes.SetHoleSize(1e9)
        mesh = run_update(holes, "hole filling")
    report("Smoothing")
    if smooth > 0:
        mesh = _smooth(mesh, smooth, pass_band=0.1)
    report("Decimating")
    mesh = decimate(mesh, reduce)
    report("Orienting normals outward")
    mesh = _orient_outward(mesh)
    out = mesh
    if out.GetPointData() is not None:
        out.GetPointData().Initialize()
    t = vtkDoubleArray()
    t.SetName("threshold")
    t.InsertNextValue(float(threshold))
    out.GetFieldData().AddArray(t)
    if upper is not None:
        u = vtkDoubleArray()
        u.SetName("upper")
        u.InsertNextValue(float(upper))
        out.GetFieldData().AddArray(u)
    cs = vtkStringArray()
    cs.SetName("coordinate_system")
    cs.InsertNextValue("LPS")
    out.GetFieldData().AddArray(cs)
    return out


def extract_label_surface(labels: Volume, label: int, *, smooth: int = 20, force: bool = False) -> vtkPolyData:
    """Surface of one label of a label map, with discrete flying edges, in LPS mm.

    Parameters
    ----------
    labels : Volume
        Integer label map.
    label : int
    smooth : int
        Windowed-sinc iterations.
    force : bool
        Extract even when the geometry is unknown.

    Returns
    -------
    vtkPolyData
    """
    from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D

    if not labels.geometry_known and not force:
        raise GeometryError("the label map's geometry is unknown; pass force=True to extract anyway")
    arr = np.pad(labels.array.astype(np.int32), 1, mode="constant", constant_values=np.int32(label) - 1 if label != 0 else 1)
    if not (arr == label).any():
        raise MeshError(f"label {label} is not in the label map")
    origin = np.asarray(labels.origin) - labels.direction @ np.asarray(labels.spacing)
    image = Volume(arr, spacing=labels.spacing, origin=tuple(origin), direction=labels.direction).to_vtk()
    dfe = vtkDiscreteFlyingEdges3D()
    dfe.SetInputData(image)
    dfe.SetValue(0, float(label))
    dfe.ComputeNormalsOff()
    dfe.ComputeGradientsOff()
    dfe.ComputeScalarsOff()
    mesh = run_update(dfe, "label surface extraction (discrete flying edges)")
    if smooth > 0:
        mesh = _smooth(mesh, smooth, pass_band=0.05)
    return _orient_outward(mesh)
