"""Mesh files for printing and exchange: STL, OBJ, PLY, VTP and 3MF, in millimetres.

* Points are written in LPS (the default, Slicer's file convention) or RAS (x and y negated:
  a rotation by 180 degrees about z, so the winding and the outward normals stay right).
* STL headers say ``SPACE=LPS`` or ``SPACE=RAS`` and ``UNITS=mm``, and nothing about the
  patient. 3MF files carry ``unit="millimeter"`` (written by trimesh).
* Writes are atomic: the file is written next to its destination under a temporary name and
  renamed, so a failure (unwritable folder, full disk) never leaves a half-written file.
* What is written is what the report judges: points rounded to float32 and merged by
  position (as a slicer reads an STL back), degenerate (zero-area) and duplicate faces
  dropped (:func:`vtkdicom_app.mesh.clean_arrays`), in every format.
* A mesh that is not watertight is refused unless ``allow_open=True``, with the reason.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.bridge import arrays_to_mesh, mesh_to_arrays
from vtkdicom_app.errors import MeshError
from vtkdicom_app.mesh import CoordinateSystem, MeshReport, clean_arrays, field_values, report_arrays

if TYPE_CHECKING:
    from vtkmodules.vtkCommonDataModel import vtkPolyData
    from vtkmodules.vtkIOGeometry import vtkOBJWriter, vtkSTLWriter
    from vtkmodules.vtkIOPLY import vtkPLYWriter
    from vtkmodules.vtkIOXML import vtkXMLPolyDataWriter

__all__ = ["MeshFormat", "export_mesh", "read_mesh", "CoordinateSystem"]


class MeshFormat(enum.Enum):
    """File formats, by suffix."""

    STL = ".stl"
    OBJ = ".obj"
    PLY = ".ply"
    VTP = ".vtp"
    THREE_MF = ".3mf"

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> MeshFormat:
        """The format named by a file's suffix."""
        suffix = Path(path).suffix.lower()
        for fmt in cls:
            if fmt.value == suffix:
                return fmt
        raise MeshError(f"unknown mesh format {suffix or '(no suffix)'} for {path}; use one of {', '.join(f.value for f in cls)}")


def _as_written(mesh: vtkPolyData, system: CoordinateSystem) -> tuple[vtkPolyData, MeshReport]:
    """The mesh exactly as it will be written (in ``system``, cleaned) and its report."""
    points, faces = mesh_to_arrays(mesh)
    if system is CoordinateSystem.RAS:
        points = points * np.array([-1.0, -1.0, 1.0])  # LPS -> RAS keeps the handedness: winding unchanged
    points, faces, _stats = clean_arrays(points, faces)
    report = report_arrays(points, faces, coordinate_system=system, field=field_values(mesh), cleaned=True)
    out = arrays_to_mesh(points, faces)
    fd = mesh.GetFieldData()
    if fd is not None:
        out.GetFieldData().ShallowCopy(fd)
    return out, report


def _stl_header(system: CoordinateSystem) -> str:
    return f"vtkdicom_app SPACE={system.name} UNITS=mm"


def _write_vtk(mesh: vtkPolyData, fmt: MeshFormat, tmp: str, system: CoordinateSystem, binary: bool) -> None:
    # each writer's module imported only when used (they cost 5-20 ms each at start-up)
    writer: vtkSTLWriter | vtkOBJWriter | vtkPLYWriter | vtkXMLPolyDataWriter
    if fmt is MeshFormat.STL:
        from vtkmodules.vtkIOGeometry import vtkSTLWriter

        writer = vtkSTLWriter()
        writer.SetHeader(_stl_header(system))
        if binary:
            writer.SetFileTypeToBinary()
        else:
            writer.SetFileTypeToASCII()
    elif fmt is MeshFormat.OBJ:
        from vtkmodules.vtkIOGeometry import vtkOBJWriter

        writer = vtkOBJWriter()
    elif fmt is MeshFormat.PLY:
        from vtkmodules.vtkIOPLY import vtkPLYWriter

        writer = vtkPLYWriter()
        if binary:
            writer.SetFileTypeToBinary()
        else:
            writer.SetFileTypeToASCII()
    else:
        from vtkmodules.vtkIOXML import vtkXMLPolyDataWriter

        writer = vtkXMLPolyDataWriter()
        if binary:
            writer.SetDataModeToBinary()
        else:
            writer.SetDataModeToAscii()
    writer.SetInputData(mesh)
    writer.SetFileName(tmp)
    ok = writer.Write()
    code = writer.GetErrorCode()
    if not ok or code:
        from vtkmodules.vtkCommonMisc import vtkErrorCode

        raise MeshError(f"writing {fmt.name} failed: {vtkErrorCode.GetStringFromErrorCode(code) or 'VTK writer error'}")


def _write_3mf(mesh: vtkPolyData, tmp: str) -> None:
    import trimesh

    points, faces = mesh_to_arrays(mesh)
    tm = trimesh.Trimesh(vertices=points, faces=faces, process=False)
    tm.units = "millimeters"
    data = tm.export(file_type="3mf")
    if not isinstance(data, bytes):  # 3MF is a zip archive: export returns bytes
        raise MeshError(f"writing THREE_MF failed: trimesh returned {type(data).__name__}, not bytes")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def export_mesh(
    mesh: vtkPolyData,
    path: str | os.PathLike[str],
    *,
    coords: CoordinateSystem | str = CoordinateSystem.LPS,
    binary: bool = True,
    allow_open: bool = False,
) -> MeshReport:
    """Write a mesh atomically in millimetres; refuse an unprintable one unless asked.

    Parameters
    ----------
    mesh : vtkPolyData
        Triangles in LPS mm (as :func:`vtkdicom_app.surface.extract_surface` makes them).
    path : str or os.PathLike
        ``.stl``, ``.obj``, ``.ply``, ``.vtp`` or ``.3mf``.
    coords : CoordinateSystem or {"lps", "ras"}
        Coordinate convention of the written points (default LPS).
    binary : bool
        Binary STL/PLY/VTP (default) or ASCII.
    allow_open : bool
        Write even when the mesh is not watertight, manifold and consistently wound.

    Returns
    -------
    MeshReport
        The report of what was written (in the written coordinate system): the points as
        float32, merged by position, without degenerate or duplicate faces.

    Raises
    ------
    MeshError
        Unknown format, unprintable mesh without ``allow_open``, or the write failed.
    OSError
        The destination folder is not writable (nothing is left behind).
    """
    system = CoordinateSystem(coords) if not isinstance(coords, CoordinateSystem) else coords
    fmt = MeshFormat.from_path(path)
    out, report = _as_written(mesh, system)
    if report.triangles == 0:
        raise MeshError("the mesh is empty: nothing to write")
    if report.problems and not allow_open:
        raise MeshError("not printable: " + "; ".join(report.problems) + " (use allow_open=True / --allow-open to write it anyway)")
    with atomic_path(path, suffix=fmt.value) as tmp:
        if fmt is MeshFormat.THREE_MF:
            _write_3mf(out, tmp)
        else:
            _write_vtk(out, fmt, tmp, system, binary)
    return report


def read_mesh(path: str | os.PathLike[str]) -> vtkPolyData:
    """Read a mesh written by :func:`export_mesh` (any of its formats) as vtkPolyData.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    vtkPolyData
        Triangles, points as stored in the file (LPS or RAS, see the STL header).
    """
    from vtkdicom_app.pipeline import run_update

    fmt = MeshFormat.from_path(path)
    if fmt is MeshFormat.THREE_MF:
        import trimesh

        loaded = trimesh.load(os.fspath(path), file_type="3mf", process=False)
        # a Scene; trimesh releases without Scene.to_mesh concatenate with dump(concatenate=True)
        tm = loaded.to_mesh() if hasattr(loaded, "to_mesh") else loaded.dump(concatenate=True)  # type: ignore[attr-defined]
        return arrays_to_mesh(np.asarray(tm.vertices, np.float64), np.asarray(tm.faces, np.int64))
    from vtkmodules.vtkFiltersCore import vtkCleanPolyData
    from vtkmodules.vtkIOGeometry import vtkOBJReader, vtkSTLReader
    from vtkmodules.vtkIOPLY import vtkPLYReader
    from vtkmodules.vtkIOXML import vtkXMLPolyDataReader

    readers: dict[MeshFormat, type[vtkSTLReader | vtkOBJReader | vtkPLYReader | vtkXMLPolyDataReader]] = {
        MeshFormat.STL: vtkSTLReader,
        MeshFormat.OBJ: vtkOBJReader,
        MeshFormat.PLY: vtkPLYReader,
        MeshFormat.VTP: vtkXMLPolyDataReader,
    }
    reader = readers[fmt]()
    reader.SetFileName(os.fspath(path))
    mesh = run_update(reader, f"reading {path}")
    clean = vtkCleanPolyData()  # STL repeats vertices per triangle: merge them back
    clean.SetInputData(mesh)
    clean.PointMergingOn()
    clean.SetTolerance(0.0)
    return run_update(clean, "merging duplicate points")
