"""numpy <-> VTK bridges, with the axis order and copy semantics stated.

Axis order: numpy volumes are ``(k, j, i)``; VTK images are ``(i, j, k)`` with ``i``
fastest, which is the same memory as C-order numpy, so images are shared without copies
(see :meth:`vtkdicom_app.volume.Volume.to_vtk`). Meshes are ``(points (N, 3), faces (M, 3))``
arrays; the functions here copy, so the arrays and the vtkPolyData are independent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.volume import Volume

if TYPE_CHECKING:
    from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPolyData

__all__ = ["mesh_to_arrays", "arrays_to_mesh", "array_to_image", "image_to_array", "image_to_volume", "volume_to_image"]


def array_to_image(
    array: np.ndarray,
    *,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
    direction: np.ndarray | None = None,
    deep: bool = False,
) -> vtkImageData:
    """Numpy ``(k, j, i)`` -> vtkImageData ``(i, j, k)`` with geometry.

    Parameters
    ----------
    array : numpy.ndarray
        3D, indexed ``array[k, j, i]`` (C order is made if needed, which copies).
    spacing, origin : tuple of float
        ``(di, dj, dk)`` mm and the LPS position of voxel (0, 0, 0).
    direction : numpy.ndarray, optional
        3x3, columns are the i, j, k axes in LPS (default identity).
    deep : bool
        False (default): VTK shares the numpy buffer and holds a reference to it, so the
        buffer lives as long as the image; writes on either side are seen by the other.
        True: VTK gets its own copy.

    Returns
    -------
    vtkImageData
    """
    return Volume(array, spacing=spacing, origin=origin, direction=np.eye(3) if direction is None else direction).to_vtk(deep=deep)


def volume_to_image(vol: Volume, *, deep: bool = False) -> vtkImageData:
    """The same as :meth:`Volume.to_vtk` (kept here so every bridge is in one module)."""
    return vol.to_vtk(deep=deep)


def image_to_array(image: vtkImageData, *, copy: bool = True) -> tuple[np.ndarray, tuple[float, float, float], tuple[float, float, float], np.ndarray]:
    """VtkImageData -> ``(array (k, j, i), spacing, origin, direction)``.

    Parameters
    ----------
    image : vtkImageData
        One-component point scalars.
    copy : bool
        True (default) returns an independent array. False returns a view of VTK's memory:
        zero-copy, but valid only while ``image`` (and its scalars) stay alive and unchanged;
        keep a reference to the image for as long as you use the view.

    Returns
    -------
    tuple
        The array in numpy order ``(k, j, i)``, ``(di, dj, dk)``, origin, 3x3 direction.
    """
    from vtkmodules.util.numpy_support import vtk_to_numpy

    scalars = image.GetPointData().GetScalars()
    if scalars is None:
        raise VtkDicomError("the image has no point scalars")
    if scalars.GetNumberOfComponents() != 1:
        raise VtkDicomError(f"expected one component per voxel, got {scalars.GetNumberOfComponents()}")
    ni, nj, nk = image.GetDimensions()
    flat = vtk_to_numpy(scalars)
    array = flat.reshape(nk, nj, ni)
    if copy:
        array = array.copy()
    m = image.GetDirectionMatrix()
    direction = np.array([[m.GetElement(r, c) for c in range(3)] for r in range(3)])
    di, dj, dk = image.GetSpacing()
    ox, oy, oz = image.GetOrigin()
    return array, (di, dj, dk), (ox, oy, oz), direction


def image_to_volume(image: vtkImageData, *, copy: bool = True) -> Volume:
    """VtkImageData -> :class:`Volume` (geometry kept; see :func:`image_to_array` for ``copy``)."""
    array, spacing, origin, direction = image_to_array(image, copy=copy)
    # without a copy the array is a view of VTK's memory: the volume holds the image alive
    return Volume(array, spacing=spacing, origin=origin, direction=direction, owner=None if copy else image)


def mesh_to_arrays(mesh: vtkPolyData) -> tuple[np.ndarray, np.ndarray]:
    """``(points (N, 3) float64, faces (M, 3) int64)`` of a triangle vtkPolyData (copies).

    Raises
    ------
    VtkDicomError
        The mesh holds cells that are not triangles.
    """
    from vtkmodules.util.numpy_support import vtk_to_numpy

    if mesh.GetNumberOfPoints() == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    points = vtk_to_numpy(mesh.GetPoints().GetData()).astype(np.float64)
    polys = mesh.GetPolys()
    offsets = vtk_to_numpy(polys.GetOffsetsArray())
    conn = vtk_to_numpy(polys.GetConnectivityArray()).astype(np.int64)
    sizes = np.diff(offsets)
    if sizes.size and not np.all(sizes == 3):
        raise VtkDicomError("the mesh has non-triangle cells; triangulate it first (vtkTriangleFilter)")
    return points, conn.reshape(-1, 3)


def arrays_to_mesh(points: np.ndarray, faces: np.ndarray) -> vtkPolyData:
    """A triangle vtkPolyData from ``points (N, 3)`` and ``faces (M, 3)`` (copies)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

    pts = vtkPoints()
    pts.SetData(numpy_to_vtk(np.ascontiguousarray(points, dtype=np.float64), deep=True))
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    cells = vtkCellArray()
    offsets = np.arange(0, 3 * len(faces) + 1, 3, dtype=np.int64)
    cells.SetData(numpy_to_vtkIdTypeArray(offsets, deep=True), numpy_to_vtkIdTypeArray(faces.reshape(-1), deep=True))
    poly = vtkPolyData()
    poly.SetPoints(pts)
    poly.SetPolys(cells)
    return poly
