"""One record per 2D frame: the unit the loader groups, sorts and decodes.

A single-frame file gives one :class:`FrameRecord`; a multi-frame file gives one per frame,
with the per-frame functional groups (enhanced CT/MR) or the GridFrameOffsetVector (RT dose,
classic multi-frame) turned into a position per frame. Grouping and sorting then treat every
frame the same way, whatever file it came from.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Literal, overload

from vtkdicom_app import uids
from vtkdicom_app.errors import DicomReadError
from vtkdicom_app.io.header import NATIVE_LE_SYNTAXES, PRIVATE_OFFSETS, WANTED, FileHeader, open_dicom, private_key
from vtkdicom_app.notices import NoticeCode, notice

__all__ = ["FileInfo", "FrameRecord", "records_from_header", "records_from_pydicom", "NON_IMAGE_SOP_CLASSES", "is_image_sop_class"]

# SOP classes that hold pixel data but are not slices of a grey-scale volume.
NON_IMAGE_SOP_CLASSES: dict[str, str] = {
    uids.SEGMENTATION_STORAGE: "Segmentation (SEG)",
    uids.RT_STRUCTURE_SET_STORAGE: "RT Structure Set",
    uids.GRAYSCALE_PRESENTATION_STATE: "Presentation State",
    uids.MEDIA_STORAGE_DIRECTORY: "Media Storage Directory (DICOMDIR)",
    uids.ENCAPSULATED_PDF_STORAGE: "Encapsulated PDF",
}


def _int(value: Any, default: int) -> int:
    """First value of an attribute as int; ``default`` when missing or not a number."""
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    try:
        return int(value) if value is not None and value != "" else default
    except (TypeError, ValueError):
        return default


def is_image_sop_class(uid: str) -> bool:
    """True for storage SOP classes whose instances hold an image (CT, MR, PET, RT dose...)."""
    return uid.startswith(uids.STORAGE_PREFIX) and not uid.startswith(uids.NON_IMAGE_SOP_PREFIXES)


@dataclasses.dataclass(slots=True)
class FileInfo:
    """Per-file facts shared by the frames of one file.

    Attributes
    ----------
    path : str
        The file.
    tags : dict
        Attribute values by keyword (top level of the dataset).
    transfer_syntax : str
        TransferSyntaxUID.
    pixel_offset : int
        Byte offset of native pixel data (-1 when pydicom must decode).
    warnings : list of str
        Notes about this file (missing meta, ...).
    """

    path: str
    tags: dict[str, Any]
    transfer_syntax: str
    pixel_offset: int = -1
    warnings: list[str] = dataclasses.field(default_factory=list)
    gzipped: bool = False
    csa: Any = None

    @property
    def rows(self) -> int:
        """Rows (0028,0010)."""
        return _int(self.tags.get("Rows"), 0)

    @property
    def columns(self) -> int:
        """Columns (0028,0011)."""
        return _int(self.tags.get("Columns"), 0)

    @property
    def bits_allocated(self) -> int:
        """BitsAllocated (0028,0100)."""
        return _int(self.tags.get("BitsAllocated"), 16) or 16

    @property
    def bits_stored(self) -> int:
        """BitsStored (0028,0101), defaulting to BitsAllocated."""
        return _int(self.tags.get("BitsStored"), self.bits_allocated) or self.bits_allocated

    @property
    def signed(self) -> bool:
        """PixelRepresentation == 1."""
        return _int(self.tags.get("PixelRepresentation"), 0) == 1

    @property
    def fast_native(self) -> bool:
        """True when the pixel bytes can be read straight from the file (native little endian)."""
        return self.pixel_offset >= 0 and self.transfer_syntax in NATIVE_LE_SYNTAXES and not self.gzipped

    @property
    def frame_bytes(self) -> int:
        """Bytes of one native frame."""
        spp = _int(self.tags.get("SamplesPerPixel"), 1)
        return self.rows * self.columns * spp * self.bits_allocated // 8


@dataclasses.dataclass(slots=True)
class FrameRecord:
    """One 2D frame: where its pixels are and where it lies in patient space.

    Attributes
    ----------
    file : FileInfo
        The file holding the frame.
    frame : int
        Frame index inside the file (0 for single-frame files).
    ipp : tuple of float or None
        ImagePositionPatient of the frame (LPS mm).
    iop : tuple of float or None
        ImageOrientationPatient (row direction, then column direction).
    pixel_spacing : tuple of float or None
        PixelSpacing (row spacing, column spacing) in mm.
    slope, intercept : float
        Rescale of this frame.
    split : dict
        Values of the attributes that may split a series into stacks (acquisition, echo,
        temporal position, frame type, stack id, localizer).
    instance : int
        InstanceNumber (ties in sorting, and the order when positions are missing).
    tile : tuple of int or None
        ``(first row, first column, rows, columns)`` of this slice inside the stored frame:
        set for the tiles of a Siemens mosaic, None for an ordinary frame.
    """

    file: FileInfo
    frame: int
    ipp: tuple[float, float, float] | None
    iop: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    slope: float
    intercept: float
    split: dict[str, Any]
    instance: int = 0
    tile: tuple[int, int, int, int] | None = None

    @property
    def rows(self) -> int:
        """Rows of this slice (a mosaic tile's, or the file's)."""
        return self.tile[2] if self.tile is not None else self.file.rows

    @property
    def columns(self) -> int:
        """Columns of this slice (a mosaic tile's, or the file's)."""
        return self.tile[3] if self.tile is not None else self.file.columns


@overload
def _floats(value: Any, count: Literal[2]) -> tuple[float, float] | None: ...
@overload
def _floats(value: Any, count: Literal[3]) -> tuple[float, float, float] | None: ...
@overload
def _floats(value: Any, count: int) -> tuple[float, ...] | None: ...
def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = (value,)
    try:
        vals = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return vals if len(vals) == count else None


def _number(value: Any, default: float) -> float:
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    try:
        return float(value) if value is not None and value != "" else default
    except (TypeError, ValueError):
        return default


def first_number(value: Any) -> float | None:
    """The first value of an attribute as a finite float; None when missing, text or raw bytes."""
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    if value is None or isinstance(value, (bytes, bytearray)):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def unit_vector(values: Any) -> tuple[float, float, float] | None:
    """Three finite numbers scaled to unit length; None when missing, not three, or zero."""
    g = _floats(values, 3) if not isinstance(values, (bytes, str)) else None
    if g is None or not all(math.isfinite(v) for v in g):
        return None
    norm = math.sqrt(sum(v * v for v in g))
    return (g[0] / norm, g[1] / norm, g[2] / norm) if norm > 1e-6 else None


def declared_slice_step(rec: FrameRecord) -> float | None:
    """SpacingBetweenSlices, else SliceThickness, when positive: the header's slice step."""
    for key in ("SpacingBetweenSlices", "SliceThickness"):
        v = first_number(rec.file.tags.get(key))
        if v is not None and v > 0:
            return v
    return None


_SPLIT_KEYS = (
    "AcquisitionNumber",
    "EchoNumbers",
    "EchoTime",
    "TemporalPositionIdentifier",
    "TriggerTime",
    "DiffusionBValue",
    "DiffusionGradient",
    "ImageType",
    "LabelType",
    "localizer",
)


class _SplitKeys(dict[str, Any]):
    """The attributes that may split a series, read from a file's tags only when asked.

    Most series never need them (no repeated positions), so decoding them for every file
    would be wasted work.
    """

    __slots__ = ("_tags", "_info")

    def __init__(self, tags: dict[str, Any], info: FileInfo | None = None) -> None:
        super().__init__()
        self._tags = tags
        self._info = info

    def get(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if key == "localizer":
            image_type = self._tags.get("ImageType") or ()
            if isinstance(image_type, str):
                image_type = (image_type,)
            value: Any = any(str(t).upper() == "LOCALIZER" for t in image_type)
        elif key in ("DiffusionBValue", "DiffusionGradient"):
            from vtkdicom_app.io.vendor import diffusion_info

            diff = diffusion_info(self._tags, getattr(self._info, "csa", None))
            if diff is not None and diff.problem and self._info is not None and diff.problem not in self._info.warnings:
                self._info.warnings.append(notice(f"{os.path.basename(self._info.path)}: {diff.problem}", NoticeCode.FILE_NOTE))
            bvalue = diff.bvalue if diff is not None else None
            gradient = diff.gradient if diff is not None else None
            if bvalue and gradient is None and self._info is not None:
                # classic files (Canon, Toshiba) may keep the direction in MRDiffusionSequence,
                # which the fast header reader skips: read it with pydicom, for these files only
                gradient = _nested_gradient(self._info.path)
            dict.__setitem__(self, "DiffusionBValue", bvalue)
            dict.__setitem__(self, "DiffusionGradient", None if gradient is None else tuple(round(v, 4) + 0.0 for v in gradient))
            return dict.__getitem__(self, key)
        elif key == "LabelType":
            from vtkdicom_app.io.vendor import label_type

            value = label_type(self._tags)
        elif key == "ImageType":
            image_type = self._tags.get("ImageType")
            value = tuple(str(t).upper() for t in image_type) if isinstance(image_type, (tuple, list)) else image_type
        elif key in _SPLIT_KEYS:
            value = self._tags.get(key)
        else:
            return default
        dict.__setitem__(self, key, value)
        return value

    def __getitem__(self, key: str) -> Any:
        if key not in _SPLIT_KEYS and not dict.__contains__(self, key):
            raise KeyError(key)
        return self.get(key)


def _nested_gradient(path: str) -> tuple[float, float, float] | None:
    """DiffusionGradientOrientation from MRDiffusionSequence > DiffusionGradientDirectionSequence."""
    import pydicom

    try:
        with open_dicom(path) as fh:
            ds = pydicom.dcmread(fh, stop_before_pixels=True, force=True, specific_tags=["MRDiffusionSequence"])
        item = _seq_item(_seq_item(ds, "MRDiffusionSequence"), "DiffusionGradientDirectionSequence")
        if item is None or "DiffusionGradientOrientation" not in item:
            return None
        return unit_vector(_plain(item.DiffusionGradientOrientation))
    except Exception:  # a damaged sequence: the direction stays unknown
        return None


def _split_keys(tags: dict[str, Any], info: FileInfo | None = None) -> dict[str, Any]:
    return _SplitKeys(tags, info)


def records_from_header(header: FileHeader) -> list[FrameRecord]:
    """Frame records of a file read by the fast header reader.

    Parameters
    ----------
    header : FileHeader
        Result of :func:`vtkdicom_app.io.header.read_header`; must not be enhanced.

    Returns
    -------
    list of FrameRecord
        One per frame; classic multi-frame files get positions from GridFrameOffsetVector.
    """
    tags = header.tags
    info = FileInfo(header.path, tags, header.transfer_syntax, header.pixel_offset, gzipped=header.gzipped)
    return _records(info)


def _records(info: FileInfo) -> list[FrameRecord]:
    tags = info.tags
    n_frames = int(_number(tags.get("NumberOfFrames"), 1)) or 1
    ipp = _floats(tags.get("ImagePositionPatient"), 3)
    iop = _floats(tags.get("ImageOrientationPatient"), 6)
    spacing = _floats(tags.get("PixelSpacing"), 2)
    slope = _number(tags.get("RescaleSlope"), 1.0)
    intercept = _number(tags.get("RescaleIntercept"), 0.0)
    if "DoseGridScaling" in tags and "RescaleSlope" not in tags:
        slope = _number(tags.get("DoseGridScaling"), 1.0)
    split = _split_keys(tags, info)
    instance = int(_number(tags.get("InstanceNumber"), 0))
    if n_frames == 1:
        return [FrameRecord(info, 0, ipp, iop, spacing, slope, intercept, split, instance)]
    offsets = tags.get("GridFrameOffsetVector")
    if isinstance(offsets, (int, float)):
        offsets = (offsets,)
    positions: list[tuple[float, float, float] | None] = [None] * n_frames
    if ipp is not None and iop is not None and offsets is not None and len(offsets) == n_frames:
        r = iop[:3]
        c = iop[3:]
        normal = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
        base = offsets[0]
        # Offsets are relative to the first frame's position (the usual case, first = 0),
        # or absolute along the normal when the first offset is not zero (RT dose type 2).
        relative = abs(base) < 1e-6
        for f, off in enumerate(offsets):
            d = off if relative else off - base
            positions[f] = (ipp[0] + d * normal[0], ipp[1] + d * normal[1], ipp[2] + d * normal[2])
    elif n_frames > 1:
        info.warnings.append(
            notice(
                f"{os.path.basename(info.path)}: {n_frames} frames without per-frame positions; frames are stacked in file order and their spacing is unknown",
                NoticeCode.FILE_NOTE,
            )
        )
        iop = iop if ipp is not None else None
    return [FrameRecord(info, f, positions[f], iop if positions[f] is not None else None, spacing, slope, intercept, split, f + 1) for f in range(n_frames)]


def _seq_item(ds: Any, keyword: str) -> Any:
    seq = getattr(ds, keyword, None) if ds is not None else None
    if seq is None or len(seq) == 0:
        return None
    return seq[0]


def _fg_value(frame_fg: Any, shared_fg: Any, seq_keyword: str, attr: str) -> Any:
    for fg in (frame_fg, shared_fg):
        item = _seq_item(fg, seq_keyword)
        if item is not None and attr in item:
            return item[attr].value
    return None


def _plain(value: Any) -> Any:
    """Pydicom value -> plain Python (str, float, int, tuple)."""
    from pydicom.multival import MultiValue
    from pydicom.valuerep import IS, DSfloat, PersonName

    if isinstance(value, MultiValue) or isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, DSfloat):
        return float(value)
    if isinstance(value, IS):
        return int(value)
    if isinstance(value, bytes):
        return value
    return value


def records_from_pydicom(path: str, *, force: bool = False) -> list[FrameRecord]:
    """Frame records of a file read with pydicom (enhanced multi-frame, big endian, ...).

    Parameters
    ----------
    path : str
        The file.
    force : bool
        Read files without preamble/meta (pydicom's ``force``).

    Returns
    -------
    list of FrameRecord

    Raises
    ------
    DicomReadError
        pydicom could not parse the file (pydicom decodes values lazily, so any error while
        reading attributes is turned into this one).
    """
    try:
        return _records_from_pydicom(path, force=force)
    except DicomReadError:
        raise
    except Exception as exc:  # pydicom raises many types on broken files
        raise DicomReadError(f"{path}: unreadable DICOM header ({type(exc).__name__}: {exc})") from exc


def _records_from_pydicom(path: str, *, force: bool = False) -> list[FrameRecord]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with open_dicom(path) as fh:
            ds = pydicom.dcmread(fh, stop_before_pixels=True, force=force)
            # dcmread stops at the pixel data element: a file cut before it has nothing left
            # (a deflated file is read from pydicom's own inflated copy: nothing to tell there)
            deflated = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "")) == uids.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
            pixel_tag_follows = deflated or len(fh.read(4)) == 4
    except InvalidDicomError as exc:
        raise DicomReadError(f"{path}: not a DICOM file ({exc})") from exc
    except Exception as exc:  # pydicom raises many types on broken files
        raise DicomReadError(f"{path}: unreadable DICOM header ({type(exc).__name__}: {exc})") from exc
    tags: dict[str, Any] = {}
    for keyword, _vr in WANTED.values():
        if keyword.startswith(("MediaStorage", "TransferSyntax")):
            continue
        try:
            if keyword in ds:
                tags[keyword] = _plain(ds[keyword].value)
        except Exception:  # an invalid value of one attribute: leave it out
            continue
    for group, offsets in PRIVATE_OFFSETS.items():
        for elem in ds.group_dataset(group):
            element = elem.tag.element
            if not (0x10 <= element <= 0xFF or (element > 0xFF and (element & 0xFF) in offsets)):
                continue
            try:
                value = elem.value
                tags[private_key(group, element)] = value if isinstance(value, (bytes, bytearray)) else _plain(value)
                tags.setdefault("_pgroups", set()).add(group)
            except Exception:  # an undecodable private value: leave it out
                continue
    meta = getattr(ds, "file_meta", None)
    ts = str(getattr(meta, "TransferSyntaxUID", "") or "")
    if not ts:
        ts = uids.IMPLICIT_VR_LITTLE_ENDIAN if ds.is_implicit_VR else (uids.EXPLICIT_VR_LITTLE_ENDIAN if ds.is_little_endian else uids.EXPLICIT_VR_BIG_ENDIAN)
    if meta is not None and "MediaStorageSOPClassUID" in meta:
        tags["MediaStorageSOPClassUID"] = str(meta.MediaStorageSOPClassUID)
    tags["TransferSyntaxUID"] = ts
    has_pixels = any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")) or (
        # stop_before_pixels drops PixelData: tell from Rows/Columns and what follows them
        "Rows" in ds and "Columns" in ds and pixel_tag_follows
    )
    from vtkdicom_app.io.header import is_gzip

    info = FileInfo(path, tags, ts, -1, gzipped=is_gzip(path))
    if not has_pixels:
        info.tags["_NoPixels"] = True
    if "PerFrameFunctionalGroupsSequence" not in ds:
        return _records(info)
    return _enhanced_records(ds, info)


def _enhanced_records(ds: Any, info: FileInfo) -> list[FrameRecord]:
    shared = _seq_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.PerFrameFunctionalGroupsSequence
    n_frames = int(ds.get("NumberOfFrames", len(per_frame)) or len(per_frame))
    tags = info.tags
    records: list[FrameRecord] = []
    for f in range(n_frames):
        fg = per_frame[f] if f < len(per_frame) else None
        ipp = _floats(_plain(_fg_value(fg, shared, "PlanePositionSequence", "ImagePositionPatient")), 3)
        iop = _floats(_plain(_fg_value(fg, shared, "PlaneOrientationSequence", "ImageOrientationPatient")), 6)
        spacing = _floats(_plain(_fg_value(fg, shared, "PixelMeasuresSequence", "PixelSpacing")), 2)
        slope = _number(_plain(_fg_value(fg, shared, "PixelValueTransformationSequence", "RescaleSlope")), _number(tags.get("RescaleSlope"), 1.0))
        intercept = _number(_plain(_fg_value(fg, shared, "PixelValueTransformationSequence", "RescaleIntercept")), _number(tags.get("RescaleIntercept"), 0.0))
        frame_type = _plain(_fg_value(fg, shared, "MRImageFrameTypeSequence", "FrameType") or _fg_value(fg, shared, "CTImageFrameTypeSequence", "FrameType"))
        echo = _plain(_fg_value(fg, shared, "MREchoSequence", "EffectiveEchoTime"))
        content = _seq_item(fg, "FrameContentSequence")
        stack_id = str(content.StackID) if content is not None and "StackID" in content else None
        temporal = int(content.TemporalPositionIndex) if content is not None and "TemporalPositionIndex" in content else None
        in_stack = int(content.InStackPositionNumber) if content is not None and "InStackPositionNumber" in content else f + 1
        bvalue = _plain(_fg_value(fg, shared, "MRDiffusionSequence", "DiffusionBValue"))
        gradient = None
        diffusion = _seq_item(fg, "MRDiffusionSequence") or _seq_item(shared, "MRDiffusionSequence")
        direction_item = _seq_item(diffusion, "DiffusionGradientDirectionSequence")
        if direction_item is not None and "DiffusionGradientOrientation" in direction_item:
            unit = unit_vector(_plain(direction_item.DiffusionGradientOrientation))
            gradient = None if unit is None else tuple(round(v, 4) + 0.0 for v in unit)
        split = {
            "FrameType": tuple(frame_type) if isinstance(frame_type, tuple) else frame_type,
            "EffectiveEchoTime": echo,
            "StackID": stack_id,
            "TemporalPositionIndex": temporal,
            "DiffusionBValue": bvalue,
            "DiffusionGradient": gradient,
            "localizer": False,
        }
        records.append(FrameRecord(info, f, ipp, iop, spacing, slope, intercept, split, in_stack))
    # Attributes that enhanced files keep in the functional groups but the metadata needs.
    first = records[0] if records else None
    if first is not None:
        if first.pixel_spacing is not None:
            tags.setdefault("PixelSpacing", first.pixel_spacing)
        wc = _plain(_fg_value(per_frame[0], shared, "FrameVOILUTSequence", "WindowCenter"))
        ww = _plain(_fg_value(per_frame[0], shared, "FrameVOILUTSequence", "WindowWidth"))
        if wc is not None:
            tags.setdefault("WindowCenter", wc)
        if ww is not None:
            tags.setdefault("WindowWidth", ww)
        thickness = _plain(_fg_value(per_frame[0], shared, "PixelMeasuresSequence", "SliceThickness"))
        if thickness is not None:
            tags.setdefault("SliceThickness", thickness)
    return records
