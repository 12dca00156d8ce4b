"""vtkdicom_app: DICOM folders to correctly oriented 3D volumes, MPR, 3D views and meshes.

The public API is Qt-free::

    import vtkdicom_app as vda
    series = vda.scan("study/")      # list[SeriesInfo]
    vol = vda.load("study/")         # Volume in LPS, array (k, j, i)
    image = vol.to_vtk()             # vtkImageData with origin, spacing and direction
    mesh = vda.extract_surface(vol, preset="bone", largest=True)   # LPS mm, closed
    vda.export_mesh(mesh, "bone.stl")                               # atomic, SPACE=LPS

Names are imported lazily so that ``import vtkdicom_app`` (and ``vtkdicom-app --help``)
stays cheap: numpy, pydicom and VTK load only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vtkdicom_app._lazy import lazy_names

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "scan": "vtkdicom_app.io.loader",
    "load": "vtkdicom_app.io.loader",
    "load_sequence": "vtkdicom_app.io.loader",
    "VolumeSequence": "vtkdicom_app.volume",
    "SeriesInfo": "vtkdicom_app.io.loader",
    "Backend": "vtkdicom_app.io.loader",
    "Volume": "vtkdicom_app.volume",
    "write_phantom": "vtkdicom_app.testing.phantom",
    "notebook": "vtkdicom_app.notebook",
    "interop": "vtkdicom_app.interop",
    "segmentation": "vtkdicom_app.segmentation",
    "extract_surface": "vtkdicom_app.surface",
    "extract_label_surface": "vtkdicom_app.surface",
    "mesh_report": "vtkdicom_app.mesh",
    "MeshReport": "vtkdicom_app.mesh",
    "MeshError": "vtkdicom_app.errors",
    "CoordinateSystem": "vtkdicom_app.mesh",
    "load_surface_presets": "vtkdicom_app.surface",
    "export_mesh": "vtkdicom_app.mesh_io",
    "read_volume": "vtkdicom_app.io.formats",
    "write_volume": "vtkdicom_app.io.formats",
    "region_stats": "vtkdicom_app.analysis",
    "reslice": "vtkdicom_app.mpr",
    "read_mesh": "vtkdicom_app.mesh_io",
    "VtkDicomError": "vtkdicom_app.errors",
    "NotDicomError": "vtkdicom_app.errors",
    "DicomReadError": "vtkdicom_app.errors",
    "DecoderMissingError": "vtkdicom_app.errors",
    "SeriesNotFoundError": "vtkdicom_app.errors",
    "GeometryError": "vtkdicom_app.errors",
    "MemoryLimitError": "vtkdicom_app.errors",
    "PipelineError": "vtkdicom_app.errors",
    "VtkDicomWarning": "vtkdicom_app.errors",
    "GeometryWarning": "vtkdicom_app.errors",
    "SkippedFileWarning": "vtkdicom_app.errors",
    "SeriesSplitWarning": "vtkdicom_app.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from vtkdicom_app.analysis import region_stats  # noqa: F401
    from vtkdicom_app.errors import (  # noqa: F401
        DecoderMissingError,
        DicomReadError,
        GeometryError,
        GeometryWarning,
        MemoryLimitError,
        MeshError,
        NotDicomError,
        PipelineError,
        SeriesNotFoundError,
        SeriesSplitWarning,
        SkippedFileWarning,
        VtkDicomError,
        VtkDicomWarning,
    )
    from vtkdicom_app.io.formats import read_volume, write_volume  # noqa: F401
    from vtkdicom_app.io.loader import Backend, SeriesInfo, load, load_sequence, scan  # noqa: F401
    from vtkdicom_app.mesh import CoordinateSystem, MeshReport, mesh_report  # noqa: F401
    from vtkdicom_app.mesh_io import export_mesh, read_mesh  # noqa: F401
    from vtkdicom_app.mpr import reslice  # noqa: F401
    from vtkdicom_app.phantom import write_phantom  # noqa: F401
    from vtkdicom_app.surface import extract_label_surface, extract_surface, load_surface_presets  # noqa: F401
    from vtkdicom_app.volume import Volume, VolumeSequence  # noqa: F401


__getattr__, __dir__ = lazy_names(__name__, _LAZY)
