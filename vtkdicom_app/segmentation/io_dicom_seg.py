"""DICOM SEG for a :class:`SegmentationModel` (the DICOM work is in :mod:`vtkdicom_app.io.dicom_seg`).

Writing needs the source series' files (the loaded Volume's ``files``): the SEG references
their instances. Reading places the SEG on the open series' grid when one is given, and
refuses a SEG of another frame of reference or grid.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vtkdicom_app.segmentation.geometry import Geometry, GridMismatchError, embed
from vtkdicom_app.segmentation.io_nrrd import SegmentationFileError
from vtkdicom_app.segmentation.model import SegmentationModel

__all__ = ["save_dicom_seg", "load_dicom_seg"]


def save_dicom_seg(
    model: SegmentationModel,
    path: str | os.PathLike[str],
    *,
    source_files: Sequence[str | os.PathLike[str]] | None = None,
    series_description: str = "Segmentation",
) -> Path:
    """Write every segment to one binary DICOM SEG referencing the source series.

    Parameters
    ----------
    model : SegmentationModel
    path : str or os.PathLike
    source_files : sequence of path, optional
        The source series' files (default: the model's volume's ``files``).
    series_description : str

    Raises
    ------
    SegmentationFileError
        No source files, or no segment.
    vtkdicom_app.io.dicom_seg.DicomSegError
        An empty segment, or source files that are not this grid.
    """
    from vtkdicom_app import __version__
    from vtkdicom_app.io.dicom_seg import SegSegment, write_dicom_seg

    files = list(source_files) if source_files is not None else list(getattr(model.volume, "files", []) or [])
    if not files:
        raise SegmentationFileError(
            "a DICOM SEG references the images it was drawn on, and this segmentation has none: "
            "make it from a loaded DICOM series (SegmentationModel.from_volume) or pass source_files="
        )
    if not len(model):
        raise SegmentationFileError("the segmentation has no segment: nothing to save; add one first")
    segments = [SegSegment(n, seg.name, seg.color) for n, seg in enumerate(model.segments, start=1)]
    masks = [model.mask(seg.segment_id) for seg in model.segments]
    return write_dicom_seg(
        path,
        [os.fspath(f) for f in files],
        masks,
        segments,
        affine=model.geometry.affine,
        series_description=series_description,
        software_version=__version__,
    )


def load_dicom_seg(path: str | os.PathLike[str], *, reference: Any = None) -> SegmentationModel:
    """Read a DICOM SEG into a model (on ``reference``'s grid when given).

    Raises
    ------
    GridMismatchError
        The SEG belongs to another frame of reference or grid than ``reference``.
    """
    from vtkdicom_app.io.dicom_seg import read_dicom_seg
    from vtkdicom_app.segmentation.io_files import reference_geometry

    data = read_dicom_seg(path)
    file_geo = Geometry.from_affine(data.shape, data.affine, frame_of_reference_uid=data.frame_of_reference_uid, series_uid=data.referenced_series_uid)
    target_geo, volume = reference_geometry(reference)
    masks = data.masks
    geo = file_geo
    if target_geo is not None:
        a, b = data.frame_of_reference_uid, target_geo.frame_of_reference_uid
        if a and b and a != b:
            raise GridMismatchError(
                f"{os.fspath(path)} belongs to FrameOfReferenceUID {a}, not the open series' {b}; open the series it was made on"
                + (f" (SeriesInstanceUID {data.referenced_series_uid})" if data.referenced_series_uid else "")
            )
        masks = embed(masks, file_geo.with_uids(frame_of_reference_uid=None, series_uid=None), target_geo, what=os.fspath(path))
        geo = target_geo
    model = SegmentationModel(geo, volume=volume)
    for seg, mask in zip(data.segments, masks):
        model.add_segment(seg.label or f"Segment_{seg.number}", seg.color, segment_id=f"Segment_{seg.number}", mask=mask)
    model.clear_history()
    return model
