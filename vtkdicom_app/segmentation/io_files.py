"""Save and load a segmentation by its file name: ``.seg.nrrd``/``.nrrd``, ``.nii.gz``/``.nii``, ``.dcm`` (DICOM SEG)."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

from vtkdicom_app.segmentation.geometry import Geometry
from vtkdicom_app.segmentation.io_nrrd import SegmentationFileError
from vtkdicom_app.segmentation.model import SegmentationModel

__all__ = ["SegmentationFormat", "save_segmentation", "load_segmentation", "reference_geometry"]


class SegmentationFormat(enum.Enum):
    """Segmentation files, by suffix."""

    SEG_NRRD = ".seg.nrrd"
    NRRD = ".nrrd"
    NIFTI_GZ = ".nii.gz"
    NIFTI = ".nii"
    DICOM_SEG = ".dcm"

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> SegmentationFormat:
        """The format a file name's suffix names (a file without one is read as DICOM SEG)."""
        name = os.fspath(path).lower()
        for fmt in sorted(cls, key=lambda f: -len(f.value)):
            if name.endswith(fmt.value):
                return fmt
        raise SegmentationFileError(f"cannot tell the segmentation format of {os.fspath(path)}; use .seg.nrrd, .nii.gz, .nii or .dcm (DICOM SEG)")


def reference_geometry(reference: Any) -> tuple[Geometry | None, Any]:
    """``(Geometry, Volume or None)`` of a reference given as a Volume, a Geometry or None."""
    if reference is None:
        return None, None
    if isinstance(reference, Geometry):
        return reference, None
    if isinstance(reference, SegmentationModel):
        return reference.geometry, reference.volume
    return Geometry.from_volume(reference), reference


def save_segmentation(model: SegmentationModel, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write a model in the format its suffix names (atomically; see the format's writer for ``options``)."""
    fmt = SegmentationFormat.from_path(path)
    if fmt in (SegmentationFormat.SEG_NRRD, SegmentationFormat.NRRD):
        from vtkdicom_app.segmentation.io_nrrd import save_seg_nrrd

        return save_seg_nrrd(model, path, **options)
    if fmt in (SegmentationFormat.NIFTI_GZ, SegmentationFormat.NIFTI):
        from vtkdicom_app.segmentation.io_nifti import save_nifti

        return save_nifti(model, path, **options)
    from vtkdicom_app.segmentation.io_dicom_seg import save_dicom_seg

    return save_dicom_seg(model, path, **options)


def load_segmentation(path: str | os.PathLike[str], *, reference: Any = None, **options: Any) -> SegmentationModel:
    """Read a segmentation file (by suffix), on ``reference``'s grid (a Volume or Geometry) when given.

    Raises
    ------
    SegmentationFileError
        Unknown suffix, a missing or unreadable file.
    GridMismatchError
        The file does not lie on ``reference``'s grid or frame of reference.
    """
    if not os.path.isfile(path):
        raise SegmentationFileError(f"segmentation file {os.fspath(path)} does not exist; check the path")
    fmt = SegmentationFormat.from_path(path)
    if fmt in (SegmentationFormat.SEG_NRRD, SegmentationFormat.NRRD):
        from vtkdicom_app.segmentation.io_nrrd import load_seg_nrrd

        return load_seg_nrrd(path, reference=reference, **options)
    if fmt in (SegmentationFormat.NIFTI_GZ, SegmentationFormat.NIFTI):
        from vtkdicom_app.segmentation.io_nifti import load_nifti

        return load_nifti(path, reference=reference)
    from vtkdicom_app.segmentation.io_dicom_seg import load_dicom_seg

    return load_dicom_seg(path, reference=reference)
