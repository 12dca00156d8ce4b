"""numpy <-> VTK bridges, with the axis order and copy semantics stated.

Axis order: numpy volumes are ``(k, j, i)``; VTK images are ``(i, j, k)`` with ``i``
fastest, which is the same memory as C-order numpy, so images are shared without copies
(see :meth:`vtkdicom_app.volume.Volume.to_vtk`). Meshes are ``(points (N, 3), faces (M, 3))``
arrays; the functions here copy, so the arrays and the vtkPolyData are independent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vtkdicom_app.errors import VtkDicomError

__all__ = ["mesh_to_arrays", "arrays_to_mesh"]


def mesh_to_arrays(mesh: Any) -> tuple[np.ndarray, np.ndarray]:
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


def arrays_to_mesh(points: np.ndarray, faces: np.ndarray) -> Any:
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
