"""DICOM Segmentation objects (SEG, binary), written and read with highdicom.

A SEG written here references its source series: every source instance in
ReferencedSeriesSequence and, per frame, the instance it was drawn on
(DerivationImageSequence/SourceImageSequence), with the source's FrameOfReferenceUID, study
and patient, so a PACS or OHIF shows it over the images. Each segment is a binary segment
(BINARY, 1 bit per pixel) labelled with its name, coloured with its colour
(RecommendedDisplayCIELabValue) and typed as generic "Tissue"; empty frames are left out.
Overlapping segments are allowed (each frame belongs to one segment).

This module speaks arrays, not the segmentation model (``io`` sits below it): masks are
bool ``(k, j, i)`` arrays on a grid given by its shape and 4x4 LPS affine (``(i, j, k, 1)``
-> mm), as :class:`vtkdicom_app.volume.Volume` has them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vtkdicom_app import uids
from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.errors import DicomReadError

__all__ = ["DicomSegError", "SegSegment", "SegData", "write_dicom_seg", "read_dicom_seg", "is_dicom_seg", "SEG_STORAGE"]

#: Segmentation Storage SOP Class UID.
SEG_STORAGE = uids.SEGMENTATION_STORAGE

#: study/patient attributes of type 2 (present, possibly empty) that highdicom copies from the
#: source images; files that omit them still get a valid SEG (with them empty)
_TYPE2_STUDY_ATTRIBUTES = ("AccessionNumber", "ReferringPhysicianName", "StudyID", "StudyDate", "StudyTime", "PatientBirthDate", "PatientSex")


class DicomSegError(DicomReadError):
    """A DICOM SEG cannot be written or read as asked (the message names the value and the fix)."""


@dataclasses.dataclass(frozen=True)
class SegSegment:
    """One segment of a SEG: its number, label (name) and display colour (RGB 0..1)."""

    number: int
    label: str
    color: tuple[float, float, float] | None


@dataclasses.dataclass
class SegData:
    """What :func:`read_dicom_seg` found.

    Attributes
    ----------
    segments : list of SegSegment
    masks : list of numpy.ndarray
        bool ``(k, j, i)``, one per segment, on the grid below.
    shape : tuple of int
        ``(k, j, i)``.
    affine : numpy.ndarray
        4x4, ``(i, j, k, 1)`` -> LPS mm, right-handed.
    frame_of_reference_uid : str or None
    referenced_series_uid : str or None
    referenced_instance_uids : list of str
    number_of_frames : int
    """

    segments: list[SegSegment]
    masks: list[np.ndarray]
    shape: tuple[int, int, int]
    affine: np.ndarray
    frame_of_reference_uid: str | None
    referenced_series_uid: str | None
    referenced_instance_uids: list[str]
    number_of_frames: int


def referenced_series_uids(path: str | os.PathLike[str]) -> list[str]:
    """SeriesInstanceUIDs a DICOM SEG references (ReferencedSeriesSequence); empty when unreadable."""
    import pydicom

    try:
        ds = pydicom.dcmread(os.fspath(path), stop_before_pixels=True)
    except Exception:
        return []
    return [str(item.SeriesInstanceUID) for item in ds.get("ReferencedSeriesSequence", []) if "SeriesInstanceUID" in item]


def is_dicom_seg(path: str | os.PathLike[str]) -> bool:
    """True when a file is a DICOM Segmentation object (by its SOP Class UID)."""
    import pydicom

    try:
        ds = pydicom.dcmread(os.fspath(path), stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except Exception:
        return False
    return str(getattr(ds, "SOPClassUID", "")) == SEG_STORAGE


def _frames_of(ds: object) -> list[np.ndarray] | None:
    """IPP of each frame of an enhanced multi-frame dataset (None for single-frame)."""
    n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if n <= 1:
        return None
    per_frame = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    if per_frame is None or len(per_frame) != n:
        raise DicomSegError(
            "the source is a multi-frame image without per-frame positions (classic multi-frame): a SEG cannot "
            "reference its frames; convert the series to single-frame files"
        )
    return [np.asarray(item.PlanePositionSequence[0].ImagePositionPatient, float) for item in per_frame]


def _orientation_and_spacing(ds: object) -> tuple[np.ndarray, np.ndarray]:
    iop = getattr(ds, "ImageOrientationPatient", None)
    spacing = getattr(ds, "PixelSpacing", None)
    shared = getattr(ds, "SharedFunctionalGroupsSequence", None)
    if (iop is None or spacing is None) and shared:
        item = shared[0]
        if iop is None and "PlaneOrientationSequence" in item:
            iop = item.PlaneOrientationSequence[0].ImageOrientationPatient
        if spacing is None and "PixelMeasuresSequence" in item:
            spacing = item.PixelMeasuresSequence[0].PixelSpacing
    if iop is None or spacing is None:
        raise DicomSegError("a source image has no ImageOrientationPatient/PixelSpacing: a SEG needs the source geometry")
    return np.asarray(iop, float), np.asarray(spacing, float)


def _slice_order(datasets: Sequence[object], shape: Sequence[int], affine: np.ndarray) -> tuple[list[int], list[int]]:
    """For each source frame (file order, then frame order) the slice k it is, checked against the grid.

    Returns ``(ks, frames_per_dataset)``.
    """
    nk, nj, ni = (int(v) for v in shape)
    origin = affine[:3, 3]
    col_step = affine[:3, 0]  # along i (the DICOM row direction)
    row_step = affine[:3, 1]  # along j
    di, dj = np.linalg.norm(col_step), np.linalg.norm(row_step)
    fix = "the segmentation must be on the series' own grid: load the series without roi, stride or tilt correction"
    ks: list[int] = []
    counts: list[int] = []
    for ds in datasets:
        rows, cols = int(ds.Rows), int(ds.Columns)  # type: ignore[attr-defined]
        if (rows, cols) != (nj, ni):
            raise DicomSegError(f"source image of {rows}x{cols} pixels does not match the segmentation's {nj}x{ni}; {fix}")
        iop, spacing = _orientation_and_spacing(ds)
        if not (np.allclose(iop[:3], col_step / di, atol=1e-4) and np.allclose(iop[3:], row_step / dj, atol=1e-4)):
            raise DicomSegError(f"source orientation {list(iop)} differs from the segmentation's; {fix}")
        if not np.allclose(spacing, [dj, di], atol=1e-4):
            raise DicomSegError(f"source PixelSpacing {list(spacing)} differs from the segmentation's {[dj, di]}; {fix}")
        frames = _frames_of(ds)
        positions = frames if frames is not None else [np.asarray(ds.ImagePositionPatient, dtype=np.float64)]  # type: ignore[attr-defined]
        counts.append(len(positions))
        for ipp in positions:
            rel = np.linalg.solve(affine[:3, :3], ipp - origin)  # (i, j, k) of the frame's first pixel
            k = int(round(rel[2]))
            if not (np.allclose(rel[:2], 0, atol=1e-2) and abs(rel[2] - k) < 1e-2 and 0 <= k < nk):
                raise DicomSegError(f"source image at {list(np.round(ipp, 3))} mm is not a slice of the segmentation's grid; {fix}")
            ks.append(k)
    if sorted(ks) != list(range(nk)):
        missing = sorted(set(range(nk)) - set(ks))
        raise DicomSegError(
            f"the source files give {len(ks)} slices for a grid of {nk}"
            f"{f' (slices {missing[:5]} missing)' if missing else ' (some twice)'}; pass every file of the series, once"
        )
    return ks, counts


def write_dicom_seg(
    path: str | os.PathLike[str],
    source_files: Sequence[str | os.PathLike[str]],
    masks: Sequence[np.ndarray],
    segments: Sequence[SegSegment],
    *,
    affine: np.ndarray,
    series_description: str = "Segmentation",
    series_number: int = 300,
    software_version: str = "",
) -> Path:
    """Write a binary DICOM SEG referencing its source series (atomically).

    Parameters
    ----------
    path : str or os.PathLike
        The output file (``.dcm``).
    source_files : sequence of path
        Every file of the series the masks were drawn on (any order).
    masks : sequence of numpy.ndarray
        bool ``(k, j, i)`` per segment, on the source series' grid.
    segments : sequence of SegSegment
        Number (1..n), label and colour per mask.
    affine : numpy.ndarray
        4x4 ``(i, j, k, 1)`` -> LPS mm of the grid (the loaded Volume's ``affine``).
    series_description, series_number, software_version
        Of the new SEG series.

    Returns
    -------
    Path

    Raises
    ------
    DicomSegError
        No segment, an empty segment, source files that do not make the grid.
    """
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    if not masks:
        raise DicomSegError("no segment to write; add one first")
    if len(masks) != len(segments):
        raise ValueError("one SegSegment per mask")
    if not source_files:
        raise DicomSegError("a DICOM SEG references its source series: pass the series' files (Volume.files)")
    shape = tuple(int(v) for v in masks[0].shape)
    for seg, m in zip(segments, masks):
        if tuple(m.shape) != shape:
            raise ValueError("every mask must have the same shape")
        if not np.any(m):
            raise DicomSegError(f"segment {seg.label!r} is empty: a SEG cannot hold it; paint or threshold it, or leave it out")
    try:
        datasets = [pydicom.dcmread(os.fspath(f), stop_before_pixels=True) for f in source_files]
        for ds in datasets:  # type 2 attributes some writers leave out; highdicom copies them
            for keyword in _TYPE2_STUDY_ATTRIBUTES:
                if keyword not in ds:
                    setattr(ds, keyword, None)
    except Exception as exc:
        raise DicomSegError(f"cannot read the source files ({exc}); pass the series' DICOM files") from exc
    ks, _counts = _slice_order(datasets, shape, np.asarray(affine, float))
    stack = np.stack([np.asarray(m, bool) for m in masks], axis=-1)  # (k, j, i, s)
    pixel = stack[np.asarray(ks)]  # source frame order
    descriptions = []
    for seg in segments:
        color = None
        if seg.color is not None:
            r, g, b = (int(round(255 * min(1.0, max(0.0, c)))) for c in seg.color)
            color = hd.color.CIELabColor.from_rgb(r, g, b)
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=int(seg.number),
                segment_label=str(seg.label)[:64],
                segmented_property_category=codes.SCT.Tissue,
                segmented_property_type=codes.SCT.Tissue,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
                display_color=color,
            )
        )
    try:
        seg_ds = hd.seg.Segmentation(
            source_images=datasets,
            pixel_array=pixel,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=generate_uid(),
            series_number=int(series_number),
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer="vtkdicom_app",
            manufacturer_model_name="vtkdicom_app",
            software_versions=software_version or "vtkdicom_app",
            device_serial_number="0",
            series_description=series_description,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise DicomSegError(f"highdicom refused the SEG: {exc}") from exc
    with atomic_path(path, suffix=".dcm") as tmp:
        seg_ds.save_as(tmp, enforce_file_format=True)
    return Path(path)


def read_dicom_seg(path: str | os.PathLike[str]) -> SegData:
    """Read a DICOM SEG (binary or fractional) onto the grid its frames span.

    Returns
    -------
    SegData
        One bool mask per segment (fractional ones above half), the grid (right-handed,
        ``(k, j, i)``), frame of reference and referenced series and instances.

    Raises
    ------
    DicomSegError
        Not a SEG, or frames that do not make a regular grid.
    """
    import highdicom as hd

    name = os.fspath(path)
    try:
        seg = hd.seg.segread(name)
    except Exception as exc:
        raise DicomSegError(f"{name}: not a readable DICOM SEG ({exc})") from exc
    try:
        vol = seg.get_volume(combine_segments=False)
    except Exception as exc:
        raise DicomSegError(f"{name}: its frames do not make a regular 3D grid ({exc}); it cannot be placed on a series") from exc
    arr = np.asarray(vol.array)
    if arr.ndim == 3:
        arr = arr[..., None]
    a = np.asarray(vol.affine, float)
    # highdicom's affine maps (axis 0, axis 1, axis 2) of the array; ours maps (i, j, k) of array[k, j, i]
    ours = np.eye(4)
    ours[:3, 0], ours[:3, 1], ours[:3, 2], ours[:3, 3] = a[:3, 2], a[:3, 1], a[:3, 0], a[:3, 3]
    if np.linalg.det(ours[:3, :3]) < 0:  # slices stacked against the normal: reverse them
        nk = arr.shape[0]
        ours[:3, 3] = ours[:3, 3] + ours[:3, 2] * (nk - 1)
        ours[:3, 2] = -ours[:3, 2]
        arr = arr[::-1]
    segments: list[SegSegment] = []
    for item in seg.SegmentSequence:
        color = None
        if "RecommendedDisplayCIELabValue" in item:
            rgb = hd.color.CIELabColor.from_dicom_value(item.RecommendedDisplayCIELabValue).to_rgb(clip=True)
            color = tuple(float(c) / 255.0 for c in rgb)
        segments.append(SegSegment(int(item.SegmentNumber), str(item.SegmentLabel), color))  # type: ignore[arg-type]
    threshold = 0.5 if str(getattr(seg, "SegmentationType", "BINARY")) == "FRACTIONAL" else 0
    masks = [np.ascontiguousarray(arr[..., n] > threshold) for n in range(arr.shape[-1])]
    ref_series = None
    instances: list[str] = []
    if "ReferencedSeriesSequence" in seg:
        first = seg.ReferencedSeriesSequence[0]
        ref_series = str(first.SeriesInstanceUID)
        instances = [str(x.ReferencedSOPInstanceUID) for x in first.get("ReferencedInstanceSequence", [])]
    return SegData(
        segments=segments,
        masks=masks,
        shape=tuple(int(v) for v in masks[0].shape),  # type: ignore[arg-type]
        affine=ours,
        frame_of_reference_uid=str(getattr(seg, "FrameOfReferenceUID", "")) or None,
        referenced_series_uid=ref_series,
        referenced_instance_uids=instances,
        number_of_frames=int(getattr(seg, "NumberOfFrames", 0) or 0),
    )
