"""Numbers from volumes: region statistics, histograms, measurements, profiles, resampling,
connected components. Everything works on numpy views of :class:`Volume` with patient-space
(LPS mm) inputs, so results do not depend on how the series was acquired.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vtkdicom_app.bridge import image_to_array
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.pipeline import run_update
from vtkdicom_app.volume import Volume

__all__ = [
    "RegionStats",
    "Component",
    "region_mask",
    "region_stats",
    "histogram",
    "plot_histogram",
    "distance",
    "angle",
    "line_profile",
    "resample_isotropic",
    "connected_components",
    "sample",
]


@dataclasses.dataclass
class RegionStats:
    """Statistics of the voxels in a region.

    Attributes
    ----------
    count : int
    volume_mm3 : float
        count x voxel volume.
    mean, std, min, max : float
    percentiles : dict of float to float
    """

    count: int
    volume_mm3: float
    mean: float
    std: float
    min: float
    max: float
    percentiles: dict[float, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        d = dataclasses.asdict(self)
        d["percentiles"] = {str(k): v for k, v in self.percentiles.items()}
        return d


def _voxel_centres(vol: Volume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LPS coordinates of every voxel centre as three (k, j, i) arrays (computed by broadcasting)."""
    nk, nj, ni = vol.shape
    a = vol.affine
    i = np.arange(ni, dtype=np.float64)[None, None, :]
    j = np.arange(nj, dtype=np.float64)[None, :, None]
    k = np.arange(nk, dtype=np.float64)[:, None, None]
    return tuple(a[r, 0] * i + a[r, 1] * j + a[r, 2] * k + a[r, 3] for r in range(3))


def region_mask(
    vol: Volume,
    *,
    box: tuple[Sequence[float], Sequence[float]] | None = None,
    sphere: tuple[Sequence[float], float] | None = None,
    mask: np.ndarray | None = None,
    lower: float | None = None,
    upper: float | None = None,
) -> np.ndarray:
    """Boolean ``(k, j, i)`` mask of voxels inside every given criterion.

    Parameters
    ----------
    vol : Volume
    box : (corner, corner), optional
        Two opposite LPS corners (mm) of an axis-aligned box in patient space.
    sphere : (centre, radius), optional
        LPS centre and radius in mm.
    mask : numpy.ndarray, optional
        A boolean array of the volume's shape.
    lower, upper : float, optional
        Value range (inclusive).

    Returns
    -------
    numpy.ndarray
        bool, shape ``(k, j, i)``; all True when no criterion is given.
    """
    out = np.ones(vol.shape, bool)
    if box is not None or sphere is not None:
        x, y, z = _voxel_centres(vol)
        if box is not None:
            lo = np.minimum(box[0], box[1])
            hi = np.maximum(box[0], box[1])
            out &= (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]) & (z >= lo[2]) & (z <= hi[2])
        if sphere is not None:
            c, r = np.asarray(sphere[0], float), float(sphere[1])
            out &= (x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 <= r * r
    if mask is not None:
        m = np.asarray(mask, bool)
        if m.shape != vol.shape:
            raise ValueError(f"mask shape {m.shape} differs from the volume's {vol.shape}")
        out &= m
    if lower is not None:
        out &= vol.array >= lower
    if upper is not None:
        out &= vol.array <= upper
    return out


def region_stats(
    vol: Volume,
    *,
    box: tuple[Sequence[float], Sequence[float]] | None = None,
    sphere: tuple[Sequence[float], float] | None = None,
    mask: np.ndarray | None = None,
    lower: float | None = None,
    upper: float | None = None,
    percentiles: Sequence[float] = (5, 25, 50, 75, 95),
) -> RegionStats:
    """Count, volume (mm3), mean, std, min, max and percentiles in a region.

    The region is the intersection of the criteria of :func:`region_mask`.

    Raises
    ------
    VtkDicomError
        The region is empty.
    """
    sel = region_mask(vol, box=box, sphere=sphere, mask=mask, lower=lower, upper=upper)
    values = vol.array[sel].astype(np.float64)
    if values.size == 0:
        raise VtkDicomError("the region holds no voxel")
    voxel = float(np.prod(vol.spacing))
    pct = {float(p): float(v) for p, v in zip(percentiles, np.percentile(values, list(percentiles)))}
    return RegionStats(
        count=int(values.size),
        volume_mm3=float(values.size * voxel),
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values.min()),
        max=float(values.max()),
        percentiles=pct,
    )


def histogram(vol: Volume, *, bins: int = 256, value_range: tuple[float, float] | None = None, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` of the values (in a mask), numpy's histogram."""
    values = vol.array[mask] if mask is not None else vol.array.ravel()
    return np.histogram(values, bins=bins, range=value_range)


def plot_histogram(
    vol: Volume, path: str | os.PathLike[str], *, bins: int = 256, value_range: tuple[float, float] | None = None, log: bool = True, title: str = ""
) -> str:
    """Save a histogram plot as PNG (matplotlib, imported here only).

    Returns
    -------
    str
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vtkdicom_app.atomic import atomic_path

    counts, edges = histogram(vol, bins=bins, value_range=value_range)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.stairs(counts, edges, fill=True)
    ax.set_xlabel("value (HU)" if vol.modality == "CT" else "value")
    ax.set_ylabel("voxels")
    if log:
        ax.set_yscale("log")
    ax.set_title(title or "Histogram")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return os.fspath(path)


def distance(p: Sequence[float], q: Sequence[float]) -> float:
    """Euclidean distance in mm between two LPS points."""
    return float(np.linalg.norm(np.asarray(p, float) - np.asarray(q, float)))


def angle(a: Sequence[float], vertex: Sequence[float], b: Sequence[float]) -> float:
    """Angle at ``vertex`` between the rays to ``a`` and ``b``, in degrees."""
    u = np.asarray(a, float) - np.asarray(vertex, float)
    v = np.asarray(b, float) - np.asarray(vertex, float)
    cos = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def sample(vol: Volume, points: npt.ArrayLike, *, outside: float = float("nan")) -> np.ndarray:
    """Trilinear interpolation of the volume at LPS points ``(..., 3)``."""
    pts = np.asarray(points, float)
    ijk = vol.patient_to_index(pts.reshape(-1, 3))
    ni, nj, nk = vol.dimensions
    base = np.floor(ijk).astype(int)
    frac = ijk - base
    out = np.zeros(len(ijk))
    valid = np.all((ijk >= 0) & (ijk <= np.array([ni - 1, nj - 1, nk - 1])), axis=1)
    arr = vol.array
    for di in (0, 1):
        for dj in (0, 1):
            for dk in (0, 1):
                i = np.clip(base[:, 0] + di, 0, ni - 1)
                j = np.clip(base[:, 1] + dj, 0, nj - 1)
                k = np.clip(base[:, 2] + dk, 0, nk - 1)
                w = (frac[:, 0] if di else 1 - frac[:, 0]) * (frac[:, 1] if dj else 1 - frac[:, 1]) * (frac[:, 2] if dk else 1 - frac[:, 2])
                out += w * arr[k, j, i]
    out[~valid] = outside
    return out.reshape(pts.shape[:-1])


def line_profile(vol: Volume, start: Sequence[float], end: Sequence[float], *, samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Values along a segment between two LPS points (trilinear).

    Returns
    -------
    distances : numpy.ndarray
        mm from ``start``.
    values : numpy.ndarray
        NaN outside the volume.
    """
    p0, p1 = np.asarray(start, float), np.asarray(end, float)
    length = float(np.linalg.norm(p1 - p0))
    n = samples or max(2, int(math.ceil(length / (min(vol.spacing) / 2))) + 1)
    t = np.linspace(0.0, 1.0, n)
    points = p0 + t[:, None] * (p1 - p0)
    return t * length, sample(vol, points)


def resample_isotropic(vol: Volume, spacing: float | None = None) -> Volume:
    """Resample to cubic voxels (default: the smallest spacing), linear, geometry kept.

    Voxel (0, 0, 0) stays at the same LPS point and the direction is unchanged.
    """
    from vtkmodules.vtkImagingCore import vtkImageResample

    target = float(spacing or min(vol.spacing))
    plain = Volume(vol.array, spacing=vol.spacing).to_vtk()  # resample in index space
    res = vtkImageResample()
    res.SetInputData(plain)
    res.SetInterpolationModeToLinear()
    for axis in range(3):
        res.SetAxisOutputSpacing(axis, target)
    out = run_update(res, "isotropic resampling")
    array, out_spacing, _origin, _dir = image_to_array(out)
    if vol.array.dtype.kind in "iu":
        array = np.rint(array).astype(vol.array.dtype) if array.dtype.kind == "f" else array.astype(vol.array.dtype)
    return vol.with_array(array, spacing=out_spacing, metadata=dict(vol.metadata), warnings=list(vol.warnings))


@dataclasses.dataclass
class Component:
    """One connected piece of a thresholded volume."""

    label: int
    voxels: int
    volume_mm3: float
    centroid: tuple[float, float, float]


def connected_components(vol: Volume, *, lower: float, upper: float | None = None, min_voxels: int = 1) -> tuple[list[Component], np.ndarray]:
    """Face-connected pieces of the voxels in ``[lower, upper]``, largest first.

    Returns
    -------
    components : list of Component
        label (1 = largest), voxel count, volume in mm3, LPS centroid.
    labels : numpy.ndarray
        ``(k, j, i)`` int32 label map (0 = background).
    """
    from vtkmodules.vtkImagingMorphological import vtkImageConnectivityFilter

    hi = float(upper) if upper is not None else float(max(vol.array.max(), lower))
    conn = vtkImageConnectivityFilter()
    conn.SetInputData(Volume(vol.array, spacing=vol.spacing).to_vtk())
    conn.SetScalarRange(float(lower), hi)
    conn.SetExtractionModeToAllRegions()
    conn.SetLabelModeToSizeRank()
    conn.SetSizeRange(int(min_voxels), 2**62)
    conn.SetLabelScalarTypeToInt()
    out = run_update(conn, "connected components")
    labels, _, _, _ = image_to_array(out)
    labels = labels.astype(np.int32)
    voxel = float(np.prod(vol.spacing))
    counts = np.bincount(labels.ravel())
    comps: list[Component] = []
    for label in range(1, len(counts)):
        if counts[label] == 0:
            continue
        k, j, i = np.nonzero(labels == label)
        centre = vol.index_to_patient(np.array([i.mean(), j.mean(), k.mean()]))
        comps.append(Component(label, int(counts[label]), float(counts[label] * voxel), tuple(float(v) for v in centre)))  # type: ignore[arg-type]
    comps.sort(key=lambda c: -c.voxels)
    return comps, labels
