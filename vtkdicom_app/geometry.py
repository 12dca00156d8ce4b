"""Small geometry helpers shared by every layer: one home for each.

Everything here is plain numpy on LPS millimetres and ``(i, j, k)`` indices (see
:mod:`vtkdicom_app.volume` for the conventions):

- :func:`affine` builds the 4x4 voxel-to-patient matrix from origin, spacing and direction;
- :func:`grid_corners` gives the eight corner voxel centres of a grid in patient space;
- :data:`LPS_TO_RAS` and :func:`lps_to_ras_affine` convert between DICOM's LPS and the
  RAS of NIfTI, nibabel, napari and 3D Slicer's files;
- :func:`sampled_percentiles` estimates percentiles of a large array from a strided sample;
- :func:`shift_origin` moves an origin by whole voxels (padding or cropping a grid);
- :func:`as_enum` is the one idiom for accepting an enum member or its value.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "LPS_TO_RAS",
    "affine",
    "as_enum",
    "grid_corners",
    "lps_to_ras_affine",
    "ras_to_lps_affine",
    "sample_values",
    "sampled_percentiles",
    "shift_origin",
]

#: diagonal flip between LPS (DICOM) and RAS (NIfTI, Slicer); its own inverse
LPS_TO_RAS: np.ndarray = np.diag([-1.0, -1.0, 1.0])
LPS_TO_RAS.setflags(write=False)

_E = TypeVar("_E", bound=enum.Enum)


def affine(origin: Sequence[float], spacing: Sequence[float], direction: npt.ArrayLike) -> np.ndarray:
    """4x4 matrix mapping homogeneous ``(i, j, k, 1)`` to LPS mm.

    Parameters
    ----------
    origin : sequence of float
        LPS position of voxel ``(0, 0, 0)``.
    spacing : sequence of float
        ``(di, dj, dk)`` in mm.
    direction : array_like
        3x3 matrix whose columns are the i, j and k unit vectors in LPS.

    Returns
    -------
    numpy.ndarray
        ``M`` with ``M[:3, :3] = direction * spacing`` (column-scaled) and ``M[:3, 3] = origin``.
    """
    m = np.eye(4)
    m[:3, :3] = np.asarray(direction, dtype=np.float64).reshape(3, 3) * np.asarray(spacing, dtype=np.float64)[None, :]
    m[:3, 3] = np.asarray(origin, dtype=np.float64)
    return m


def grid_corners(dimensions: Sequence[int], matrix: npt.ArrayLike) -> np.ndarray:
    """The eight corner voxel centres of a grid, in patient space.

    Parameters
    ----------
    dimensions : sequence of int
        ``(ni, nj, nk)``.
    matrix : array_like
        The grid's 4x4 affine (:func:`affine`).

    Returns
    -------
    numpy.ndarray
        ``(8, 3)`` LPS points, ``i`` varying slowest, then ``j``, then ``k``.
    """
    ni, nj, nk = (int(n) for n in dimensions)
    ijk = np.array([[i, j, k, 1.0] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)])
    return (ijk @ np.asarray(matrix, dtype=np.float64).T)[:, :3]


def lps_to_ras_affine(matrix_lps: npt.ArrayLike) -> np.ndarray:
    """An LPS 4x4 affine expressed in RAS (as NIfTI and nibabel store it)."""
    out = np.asarray(matrix_lps, dtype=np.float64).copy()
    out[:3, :] = LPS_TO_RAS @ out[:3, :]
    return out


def ras_to_lps_affine(matrix_ras: npt.ArrayLike) -> np.ndarray:
    """A RAS 4x4 affine expressed in LPS (the flip is its own inverse)."""
    return lps_to_ras_affine(matrix_ras)


def sampled_percentiles(
    values: npt.ArrayLike,
    percentiles: Sequence[float],
    *,
    max_samples: int = 2_000_000,
    exclude: float | None = None,
) -> np.ndarray:
    """Percentiles of a (large) array from an evenly strided sample.

    Parameters
    ----------
    values : array_like
        Any shape; flattened.
    percentiles : sequence of float
        In 0..100.
    max_samples : int
        At most about this many values are used (every ``size // max_samples``-th one).
    exclude : float, optional
        A value left out (e.g. the padding value); if nothing else is left, all are used.

    Returns
    -------
    numpy.ndarray
        One value per percentile (float64); zeros for an empty array.
    """
    sample = sample_values(values, max_samples=max_samples, exclude=exclude)
    if sample.size == 0:
        return np.zeros(len(percentiles))
    return np.percentile(sample, list(percentiles)).astype(np.float64)


def sample_values(values: npt.ArrayLike, *, max_samples: int = 2_000_000, exclude: float | None = None) -> np.ndarray:
    """An evenly strided sample of at most about ``max_samples`` values of an array.

    Non-finite values are dropped, and ``exclude`` (e.g. the padding value) unless nothing
    else is left. A view when nothing is dropped, so it costs no copy of a big volume.
    """
    flat = np.asarray(values).reshape(-1)
    sample = flat[:: max(1, flat.size // max(1, int(max_samples)))]
    if sample.dtype.kind == "f":
        finite = np.isfinite(sample)
        if not finite.all():
            sample = sample[finite]
    if exclude is not None:
        kept = sample[sample != exclude]
        if kept.size:
            sample = kept
    return sample


def shift_origin(origin: Sequence[float], spacing: Sequence[float], direction: npt.ArrayLike, voxels: Sequence[float]) -> np.ndarray:
    """The origin of a grid whose voxel ``(0, 0, 0)`` sits ``voxels`` = ``(di, dj, dk)`` index
    steps from the given grid's (negative when padding, positive when cropping)."""
    steps = np.asarray(voxels, dtype=np.float64) * np.asarray(spacing, dtype=np.float64)
    return np.asarray(origin, dtype=np.float64) + np.asarray(direction, dtype=np.float64).reshape(3, 3) @ steps


def as_enum(cls: type[_E], value: _E | str) -> _E:
    """``value`` as a member of ``cls``: the member itself, or the member with that value
    (case-insensitive for strings), or that name.

    Raises
    ------
    ValueError
        No member matches; the message lists the choices.
    """
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        wanted = value.strip()
        for member in cls:
            if isinstance(member.value, str) and member.value.lower() == wanted.lower():
                return member
            if member.name.lower() == wanted.lower():
                return member
    choices = ", ".join(str(m.value) for m in cls)
    raise ValueError(f"unknown {cls.__name__} {value!r}; choose one of {choices}")
