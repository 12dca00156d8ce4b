"""Segmentation for printing: pick the anatomy, edit it, export each part (Slicer's Segment Editor workflow).

* :class:`SegmentationModel` (``model.py``): named, coloured, possibly overlapping segments on
  a volume's grid, with visibility, bounded undo/redo and change events. Qt-free.
* :mod:`~vtkdicom_app.segmentation.tools`: threshold, seed region, islands, paint/erase,
  scissors, margin, hollow, fill holes, close, logical operations, crop (mm, LPS).
* :mod:`~vtkdicom_app.segmentation.surfaces`: smooth closed surfaces, STL/OBJ/PLY per
  segment, one 3MF (names and colours) or GLB for all.
* Files (:func:`save_segmentation`, :func:`load_segmentation`): ``.seg.nrrd`` (Slicer),
  NIfTI labelmaps, DICOM SEG (:mod:`vtkdicom_app.io.dicom_seg`, highdicom).
* :mod:`~vtkdicom_app.segmentation.commands`: the ``segment`` command and the ``export-mesh
  --segmentation`` options, for the CLI to wire in.

Example::

    from vtkdicom_app import load
    from vtkdicom_app.segmentation import SegmentationModel, tools, save_segmentation, export_segments

    vol = load("CT/")
    model = SegmentationModel.from_volume(vol)
    bone = model.add_segment("bone", (0.95, 0.84, 0.57))
    tools.seed_region(model, bone.segment_id, seeds=(0, -20, -10), lower=300)
    tools.margin(model, bone.segment_id, 1.0)
    save_segmentation(model, "bone.seg.nrrd")
    export_segments(model, "bone.3mf")
"""

from __future__ import annotations

from vtkdicom_app._lazy import lazy_names

# names -> their module, imported on first use: ``vtkdicom-app --help`` (which registers the
# segment command from ``commands.py``) must not import numpy or VTK
_LAZY: dict[str, str] = {
    "tools": "vtkdicom_app.segmentation.tools",
    "Box": "vtkdicom_app.segmentation.geometry",
    "Geometry": "vtkdicom_app.segmentation.geometry",
    "GridMismatchError": "vtkdicom_app.segmentation.geometry",
    "SegmentationError": "vtkdicom_app.segmentation.geometry",
    "SegmentationFormat": "vtkdicom_app.segmentation.io_files",
    "load_segmentation": "vtkdicom_app.segmentation.io_files",
    "save_segmentation": "vtkdicom_app.segmentation.io_files",
    "SegmentationFileError": "vtkdicom_app.segmentation.io_nrrd",
    "DEFAULT_UNDO_BUDGET": "vtkdicom_app.segmentation.model",
    "EventKind": "vtkdicom_app.segmentation.model",
    "Mode": "vtkdicom_app.segmentation.model",
    "Segment": "vtkdicom_app.segmentation.model",
    "SegmentationEvent": "vtkdicom_app.segmentation.model",
    "SegmentationModel": "vtkdicom_app.segmentation.model",
    "EmptySegmentError": "vtkdicom_app.segmentation.surfaces",
    "SurfaceMethod": "vtkdicom_app.segmentation.surfaces",
    "SurfaceOptions": "vtkdicom_app.segmentation.surfaces",
    "export_segments": "vtkdicom_app.segmentation.surfaces",
    "segment_surface": "vtkdicom_app.segmentation.surfaces",
    "segment_surfaces": "vtkdicom_app.segmentation.surfaces",
    "ScissorsOperation": "vtkdicom_app.segmentation.tools",
    "ShellSide": "vtkdicom_app.segmentation.tools",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [
    "Box",
    "DEFAULT_UNDO_BUDGET",
    "EmptySegmentError",
    "EventKind",
    "Geometry",
    "GridMismatchError",
    "Mode",
    "ScissorsOperation",
    "Segment",
    "SegmentationError",
    "SegmentationEvent",
    "SegmentationFileError",
    "SegmentationFormat",
    "SegmentationModel",
    "ShellSide",
    "SurfaceMethod",
    "SurfaceOptions",
    "export_segments",
    "load_segmentation",
    "save_segmentation",
    "segment_surface",
    "segment_surfaces",
    "tools",
]
