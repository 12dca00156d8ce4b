"""``scan`` and ``load``: from paths to series and volumes.

Input may be a folder (searched recursively), one file, a list of files or folders, or a
DICOMDIR. Files are recognised as DICOM by their content, never by their name.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import warnings as _warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from vtkdicom_app import uids
from vtkdicom_app.errors import (
    DicomReadError,
    GeometryError,
    NotDicomError,
    SeriesNotFoundError,
)
from vtkdicom_app.io.header import NeedsPydicom, NotDicom, read_header
from vtkdicom_app.io.mosaic import is_mosaic
from vtkdicom_app.io.records import NON_IMAGE_SOP_CLASSES, FrameRecord, _int, is_image_sop_class, records_from_header, records_from_pydicom
from vtkdicom_app.io.series import Stack, group_records
from vtkdicom_app.notices import Notice, NoticeCode, as_notice, notice
from vtkdicom_app.volume import Volume, VolumeSequence

#: notes about a 4D series' structure, repeated once by load_sequence
_SEQUENCE_NOTES = frozenset({NoticeCode.VOLUME_LEFT_OUT, NoticeCode.VOLUME_COUNT_MISMATCH, NoticeCode.SEPARATE_STACK})

__all__ = [
    "Backend",
    "SeriesInfo",
    "SeriesList",
    "scan",
    "load",
    "load_sequence",
    "scan_stacks",
    "ScanResult",
    "crop_volume",
    "validate_roi",
    "validate_stride",
]

PathInput = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
ProgressCallback = Callable[[int, int, str], None]

_DICOMDIR_SOP = uids.MEDIA_STORAGE_DIRECTORY
_COLOUR_PHOTOMETRICS = frozenset({"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT"})


class Backend(enum.Enum):
    """Which reader decodes the pixels.

    ``PYDICOM``: this package's reader (fast native path, pydicom plugins for compressed data).
    ``VTK``: ``vtkDICOMImageReader`` for uncompressed series, with its origin, row order and
    slice order corrected from the headers.
    """

    PYDICOM = "pydicom"
    VTK = "vtk"


@dataclasses.dataclass
class SeriesInfo:
    """One loadable stack found by :func:`scan`.

    Attributes
    ----------
    uid : str
        Pass to ``load(path, series=uid)``: the SeriesInstanceUID, with ``#n`` appended when
        the series was split into several stacks.
    number : int or None
        SeriesNumber.
    description : str
        SeriesDescription (plus what split it, if it was split).
    modality : str
        Modality.
    n_files : int
        Number of files contributing frames.
    shape : tuple of int
        ``(k, j, i)`` of the volume it loads into.
    warnings : list of str
        Split, duplicates, gaps, tilt, missing geometry, skipped files.
    files : list of str
        Files in slice order.
    fourth_axis : str or None
        "time", "echo", "diffusion" or "index" for a 4D series (then ``load_sequence`` loads it).
    n_frames : int
        Volumes along the fourth axis (1 for a plain 3D series).
    frame_values : list of float
        The value of each volume on that axis (ms, ms or s/mm2; the index for "index").
    frame_labels : list of str
        What tells each volume apart ("b=1000, direction=(1, 0, 0)", "EchoNumbers=2, ...").
    segmentations : list of str
        DICOM SEG files found beside the series that reference it (ReferencedSeriesSequence);
        read them with :func:`vtkdicom_app.segmentation.load_segmentation`.
    """

    uid: str
    number: int | None
    description: str
    modality: str
    n_files: int
    shape: tuple[int, int, int]
    warnings: list[str]
    files: list[str]
    series_instance_uid: str = ""
    study_instance_uid: str = ""
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    study_description: str = ""
    is_localizer: bool = False
    error: str | None = None
    spacing: tuple[float, float, float] | None = None
    origin: tuple[float, float, float] | None = None
    direction: tuple[float, ...] | None = None
    geometry_known: bool = False
    transfer_syntax: str = ""
    fourth_axis: str | None = None
    n_frames: int = 1
    frame_values: list[float] = dataclasses.field(default_factory=list)
    frame_labels: list[str] = dataclasses.field(default_factory=list)
    segmentations: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ScanResult:
    """Stacks found under a path, and the files that were not used.

    Attributes
    ----------
    stacks : list of Stack
    skipped : list of tuple(str, str)
        ``(path, reason)`` of files that look like DICOM but could not be used.
    ignored : list of tuple(str, str)
        ``(path, reason)`` of files that are not slices (not DICOM, SR, RTSTRUCT, DICOMDIR...).
    notes : list of str
        Per-file remarks (read without file meta, ...).
    """

    stacks: list[Stack]
    skipped: list[tuple[str, str]]
    ignored: list[tuple[str, str]]
    notes: list[str]

    def summary_warnings(self) -> list[str]:
        """One line per kind of problem, for Volume.warnings and SeriesInfo.warnings."""
        out = list(self.notes)
        if self.skipped:
            examples = "; ".join(f"{os.path.basename(p)}: {r}" for p, r in self.skipped[:3])
            more = f" (+{len(self.skipped) - 3} more)" if len(self.skipped) > 3 else ""
            out.append(notice(f"{len(self.skipped)} file(s) skipped, the rest loaded: {examples}{more}", NoticeCode.FILES_SKIPPED))
        return out


# ---------------------------------------------------------------------------- discovery
def _walk(folder: str) -> Iterable[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            yield os.path.join(root, name)


def _dicomdir_files(path: str) -> list[str]:
    """Files referenced by a DICOMDIR (paths relative to its folder)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception as exc:
        raise DicomReadError(f"{path}: unreadable DICOMDIR ({exc})") from exc
    base = os.path.dirname(os.path.abspath(path))
    files: list[str] = []
    for record in ds.get("DirectoryRecordSequence", []):
        ref = record.get("ReferencedFileID")
        if ref is None:
            continue
        parts = [str(p) for p in (ref if not isinstance(ref, str) else [ref])]
        candidate = os.path.join(base, *parts)
        if not os.path.exists(candidate):
            # CDs written on Windows may differ in case
            lowered = os.path.join(base, *[p.lower() for p in parts])
            candidate = lowered if os.path.exists(lowered) else candidate
        files.append(candidate)
    return files


def _is_dicomdir(path: str) -> bool:
    if os.path.basename(path).upper() == "DICOMDIR":
        return True
    try:
        header = read_header(path)
    except (NotDicom, NeedsPydicom, OSError):
        return False
    return str(header.tags.get("MediaStorageSOPClassUID", "")) == _DICOMDIR_SOP


def discover(path: PathInput) -> list[str]:
    """List candidate files for a folder, a file, a list of paths or a DICOMDIR.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them

    Returns
    -------
    list of str

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    """
    if isinstance(path, (str, os.PathLike)):
        items = [os.fspath(path)]
    else:
        items = [os.fspath(p) for p in path]
    out: list[str] = []
    for item in items:
        if os.path.isdir(item):
            out.extend(_walk(item))
        elif os.path.isfile(item):
            if _is_dicomdir(item):
                out.extend(_dicomdir_files(item))
            else:
                out.append(item)
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")
    seen: dict[str, None] = {}
    for f in out:
        seen.setdefault(f, None)
    return list(seen)


# ---------------------------------------------------------------------------- headers
def _file_records(path: str) -> tuple[list[FrameRecord], str | None, str | None, str | None]:
    """Records of one file, or why it is skipped/ignored: (records, skipped, ignored, note)."""
    note = None
    try:
        header = read_header(path)
    except NotDicom as exc:
        return [], None, f"not DICOM ({exc})", None
    except OSError as exc:
        return [], f"cannot open: {exc.strerror or exc}", None, None
    except NeedsPydicom:
        header = None
    if header is None or header.enhanced:
        try:
            records = records_from_pydicom(path, force=True)
        except DicomReadError as exc:
            return [], str(exc).replace(path + ": ", ""), None, None
        if not records:
            return [], None, "no image frames", None
        info = records[0].file
        if not info.tags.get("MediaStorageSOPClassUID") and header is None:
            note = notice(
                f"{os.path.basename(path)} read without file meta information (no preamble/meta group)",
                NoticeCode.NO_FILE_META,
            )
    else:
        info_tags = header.tags
        if info_tags.get("_NoMeta") or info_tags.get("_NoPreamble"):
            what = "file meta information" if info_tags.get("_NoMeta") else "the 128-byte preamble"
            note = notice(f"{os.path.basename(path)} read without {what}", NoticeCode.NO_FILE_META)
        if header.pixel_offset < 0:
            sop = str(info_tags.get("SOPClassUID") or info_tags.get("MediaStorageSOPClassUID") or "")
            if is_image_sop_class(sop):
                return [], "an image object without pixel data (damaged or truncated?)", None, None
            kind = NON_IMAGE_SOP_CLASSES.get(sop, f"SOP class {sop}" if sop else "no pixel data")
            return [], None, f"not an image ({kind})", None
        records = records_from_header(header)
        info = records[0].file
        expected = info.frame_bytes * len(records)
        if info.fast_native:
            if expected == 0:
                return [], "Rows (0028,0010) or Columns (0028,0011) is zero", None, None
            if header.pixel_length >= 0 and header.pixel_length + (header.pixel_length & 1) < expected:
                return [], (f"PixelData (7FE0,0010) holds {header.pixel_length} bytes but Rows x Columns x frames x BitsAllocated needs {expected}"), None, None
            if header.pixel_offset + expected > header.file_size:
                got = max(0, header.file_size - header.pixel_offset)
                return [], f"truncated pixel data: {got} of {expected} bytes present", None, None
    tags = records[0].file.tags
    sop = str(tags.get("SOPClassUID") or tags.get("MediaStorageSOPClassUID") or "")
    if sop == uids.SEGMENTATION_STORAGE:  # listed with the series it segments (scan)
        return [], None, notice(f"a segmentation ({NON_IMAGE_SOP_CLASSES[sop]}), not a slice", NoticeCode.SEGMENTATION), note
    if sop in NON_IMAGE_SOP_CLASSES:
        return [], None, f"not a slice ({NON_IMAGE_SOP_CLASSES[sop]})", note
    if tags.get("_NoPixels"):
        if is_image_sop_class(sop):  # an image object that lost its pixels: damaged, say so
            return [], "an image object without pixel data or Rows/Columns (damaged or truncated?)", None, note
        return [], None, "not an image (no pixel data)", note
    spp = _int(tags.get("SamplesPerPixel"), 1)
    photometric = str(tags.get("PhotometricInterpretation") or "MONOCHROME2").strip().upper()
    if spp == 3 and photometric in _COLOUR_PHOTOMETRICS:
        pass  # colour slices: loaded as (k, j, i, 3) uint8
    elif spp != 1:
        return [], None, f"colour image (SamplesPerPixel {spp}, {photometric}) that is neither RGB nor YBR", note
    elif not photometric.startswith("MONOCHROME"):
        return [], None, f"PhotometricInterpretation {photometric} is not grey-scale or RGB", note
    if not records[0].file.rows or not records[0].file.columns:
        return [], "Rows (0028,0010) or Columns (0028,0011) missing or zero", None, note
    if any(is_mosaic(r) for r in records[:1]):
        from vtkdicom_app.io.mosaic import MosaicError, unpack_mosaic

        tiles: list[FrameRecord] = []
        try:
            for rec in records:
                recs, mosaic_notes = unpack_mosaic(rec)
                tiles.extend(recs)
        except MosaicError as exc:
            return [], str(exc), None, note
        records[0].file.warnings.extend(m for m in mosaic_notes if m not in records[0].file.warnings)
        records = tiles
    return records, None, None, note


def scan_stacks(path: PathInput, *, progress: ProgressCallback | None = None) -> ScanResult:
    """Read headers under ``path`` and group them into stacks (internal form of :func:`scan`).

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
    progress : callable, optional
        ``progress(done, total, stage)``; may raise to cancel.

    Returns
    -------
    ScanResult
    """
    files = discover(path)
    records: list[FrameRecord] = []
    skipped: list[tuple[str, str]] = []
    ignored: list[tuple[str, str]] = []
    notes: list[str] = []
    total = len(files)
    step = max(1, total // 100)
    for n, f in enumerate(files):
        recs, skip, ignore, note = _file_records(f)
        records.extend(recs)
        if skip:
            skipped.append((f, skip))
        if ignore:
            ignored.append((f, ignore))
        if note and recs:  # the note belongs to the series this file joins
            recs[0].file.warnings.append(note)
        if progress is not None and (n % step == 0 or n + 1 == total):
            progress(n + 1, total, "Reading headers")
    stacks = group_records(records) if records else []
    for stack in stacks:
        _attach_file_warnings(stack)
    return ScanResult(stacks, skipped, ignored, notes)


def _attach_file_warnings(stack: Stack) -> None:
    """Add the per-file notes of a stack's files (no file meta, mosaic fallbacks...) to its warnings."""
    seen: dict[str, None] = {}
    last = None
    for rec in stack.records:
        if rec.file is last:
            continue
        last = rec.file
        for w in rec.file.warnings:
            seen.setdefault(w, None)
    if not seen:
        return
    found = list(seen)
    no_meta = [w for w in found if as_notice(w, NoticeCode.FILE_NOTE).code is NoticeCode.NO_FILE_META]
    other: list[str] = [as_notice(w, NoticeCode.FILE_NOTE) for w in found if w not in no_meta]
    if len(no_meta) > 2:
        more = notice(f"... and {len(no_meta) - 2} more files read without preamble or file meta", NoticeCode.NO_FILE_META)
        no_meta = no_meta[:2] + [more]
    if len(other) > 3:
        other = other[:3] + [notice(f"... and {len(other) - 3} more notes about single files", NoticeCode.FILE_NOTE)]
    stack.warnings.extend(no_meta + other)


def _series_info(stack: Stack, extra: list[str]) -> SeriesInfo:
    tags = stack.tags
    geo = stack.geometry
    desc = str(tags.get("SeriesDescription") or "")
    if stack.label:
        desc = f"{desc} [{stack.label}]" if desc else f"[{stack.label}]"
    number = tags.get("SeriesNumber")
    return SeriesInfo(
        uid=stack.uid,
        number=int(number) if isinstance(number, (int, float)) else None,
        description=desc,
        modality=str(tags.get("Modality") or ""),
        n_files=len(stack.files),
        shape=stack.shape,
        warnings=list(stack.warnings) + (list(geo.warnings) if geo else []) + extra,
        files=stack.files,
        series_instance_uid=stack.series_uid,
        study_instance_uid=str(tags.get("StudyInstanceUID") or ""),
        patient_name=str(tags.get("PatientName") or ""),
        patient_id=str(tags.get("PatientID") or ""),
        study_date=str(tags.get("StudyDate") or ""),
        study_description=str(tags.get("StudyDescription") or ""),
        is_localizer=stack.is_localizer,
        error=stack.error,
        spacing=(geo.spacing[0], geo.spacing[1], geo.spacing[2]) if geo else None,
        origin=(float(geo.origin[0]), float(geo.origin[1]), float(geo.origin[2])) if geo else None,
        direction=tuple(float(v) for v in geo.direction.ravel()) if geo else None,
        geometry_known=bool(geo.known) if geo else False,
        transfer_syntax=stack.records[0].file.transfer_syntax,
    )


def _collapse_sequences(stacks: list[Stack], extra: list[str]) -> list[SeriesInfo]:
    """One SeriesInfo per 3D stack, and one per 4D series (its volumes together)."""
    out: list[SeriesInfo] = []
    seen: dict[str, SeriesInfo] = {}
    for s in stacks:
        if s.sequence_axis is None:
            out.append(_series_info(s, extra))
            continue
        info = seen.get(s.sequence_id)
        if info is None:
            info = _series_info(s, extra)
            info.uid = s.sequence_id
            info.description = str(s.tags.get("SeriesDescription") or "")
            info.fourth_axis = s.sequence_axis
            info.n_frames = 0
            info.files = []
            info.n_files = 0
            seen[s.sequence_id] = info
            out.append(info)
        else:
            info.warnings.extend(w for w in s.warnings if w not in info.warnings)
        info.n_frames += 1
        info.frame_values.append(float(s.sequence_value or 0.0))
        info.frame_labels.append(s.sequence_label)
        info.files.extend(s.files)
        info.n_files = len(set(info.files))
    return out


def _attach_segmentations(infos: list[SeriesInfo], ignored: list[tuple[str, str]]) -> None:
    """List each DICOM SEG file with the series it references (ReferencedSeriesSequence)."""
    segs = [path for path, why in ignored if isinstance(why, Notice) and why.code is NoticeCode.SEGMENTATION]
    if not segs:
        return
    from vtkdicom_app.io.dicom_seg import referenced_series_uids

    by_uid: dict[str, list[SeriesInfo]] = {}
    for info in infos:
        by_uid.setdefault(info.series_instance_uid, []).append(info)
    for path in segs:
        for uid in referenced_series_uids(path):
            for info in by_uid.get(uid, []):
                info.segmentations.append(path)


def scan(path: PathInput, *, progress: ProgressCallback | None = None) -> SeriesList:
    """Find the series (stacks) under a path without decoding pixels.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        A folder (searched recursively), a file, a list of files or folders, or a DICOMDIR.
    progress : callable, optional
        ``progress(done, total, stage)``; it may raise to cancel.

    Returns
    -------
    SeriesList
        A list of SeriesInfo ordered by SeriesNumber (split series appear as several
        entries, a 4D series as one), with ``.skipped``, ``.ignored`` and ``.notes``;
        ``load(entry)`` loads from this scan without reading headers again.

    Examples
    --------
    >>> import vtkdicom_app as vda                    # doctest: +SKIP
    >>> [s.description for s in vda.scan("study/")]   # doctest: +SKIP
    ['Phantom CT']
    """
    result = scan_stacks(path, progress=progress)
    extra = result.summary_warnings()
    infos = _collapse_sequences(result.stacks, extra)
    _attach_segmentations(infos, result.ignored)
    for info in infos:
        object.__setattr__(info, "_scan", result)  # load(info) uses it: no second scan
    return SeriesList(infos, result, source=path)


class SeriesList(list[SeriesInfo]):
    """What :func:`scan` returns: a list of :class:`SeriesInfo`, plus what was not used.

    ``load(series_list)`` and ``load(series_list[n])`` load from this scan without reading
    the headers again.

    Attributes
    ----------
    result : ScanResult
        The stacks behind the entries.
    """

    def __init__(self, infos: Iterable[SeriesInfo], result: ScanResult, *, source: Any = None) -> None:
        super().__init__(infos)
        self.result = result
        self.source = source

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of files that look like DICOM but could not be used."""
        return list(self.result.skipped)

    @property
    def ignored(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of files that are not slices (not DICOM, SR, DICOMDIR...)."""
        return list(self.result.ignored)

    @property
    def notes(self) -> list[str]:
        """Remarks about the scan as a whole."""
        return list(self.result.notes)


ScanSource = PathInput | SeriesInfo | SeriesList | ScanResult


def _scan_for(path: Any, series: str | int | None, progress: ProgressCallback | None) -> tuple[ScanResult, str | int | None, str]:
    """The scan behind a path, a SeriesInfo, a SeriesList or a ScanResult (scanned only once).

    Returns the scan (a copy whose notes may be appended to), the series to pick and a name
    for messages.
    """
    if isinstance(path, SeriesInfo):
        cached = getattr(path, "_scan", None)
        result = cached if isinstance(cached, ScanResult) else scan_stacks(path.files, progress=progress)
        name = os.path.dirname(path.files[0]) if path.files else path.uid
        return dataclasses.replace(result, notes=list(result.notes)), series if series is not None else path.uid, name
    if isinstance(path, SeriesList):
        name = str(path.source) if isinstance(path.source, (str, os.PathLike)) else "the scanned files"
        return dataclasses.replace(path.result, notes=list(path.result.notes)), series, name
    if isinstance(path, ScanResult):
        return dataclasses.replace(path, notes=list(path.notes)), series, "the scanned files"
    return scan_stacks(path, progress=progress), series, str(path) if isinstance(path, (str, os.PathLike)) else "the given files"


# ---------------------------------------------------------------------------- load
def _match_series(stacks: list[Stack], series: str | int) -> list[Stack]:
    """Stacks a ``series=`` argument names: a stack uid, a 4D series uid, a SeriesInstanceUID
    (with or without a ``#n`` suffix from a scan of other files) or a SeriesNumber."""
    key = str(series).strip()
    exact = [s for s in stacks if s.uid == key]
    if not exact:
        exact = [s for s in stacks if s.sequence_id == key and s.sequence_axis is not None]
    if not exact:
        exact = [s for s in stacks if s.series_uid == key]
    if not exact and "#" in key:
        # a uid from scan() of another file list: its #n numbering may differ here
        base, _sep, suffix = key.rpartition("#")
        same = [s for s in stacks if s.series_uid == base]
        if len(same) == 1 or len({s.sequence_id for s in same if s.sequence_axis is not None} | {s.uid for s in same if s.sequence_axis is None}) == 1:
            exact = same
        elif suffix.isdigit() and 1 <= int(suffix) <= len(same):
            exact = [same[int(suffix) - 1]]
    if not exact and (isinstance(series, int) or key.lstrip("-").isdigit()):
        number = int(key)
        exact = [s for s in stacks if _int(s.tags.get("SeriesNumber"), -(1 << 40)) == number]
    return exact


def _choose(result: ScanResult, series: str | int | None, path: PathInput) -> Stack:
    stacks = result.stacks
    if not stacks:
        reasons = result.skipped or result.ignored
        detail = "; ".join(f"{os.path.basename(p)}: {r}" for p, r in reasons[:3])
        raise NotDicomError(f"no DICOM image series found in {path}" + (f" ({detail})" if detail else ""))
    if series is not None:
        exact = _match_series(stacks, series)
        if not exact:
            known = ", ".join(f"{s.uid} ({s.tags.get('SeriesDescription', '')})" for s in stacks[:8])
            raise SeriesNotFoundError(f"series {series} not found in {path}; found: {known}")
        candidates = exact
    else:
        candidates = [s for s in stacks if not s.is_localizer and s.error is None] or stacks

    def size(s: Stack) -> tuple[int, int, int]:
        k, j, i = s.shape
        return (0 if s.error else 1, k * j * i, 1 if s.sequence_axis is not None else 0)

    chosen = max(candidates, key=size)
    if chosen.sequence_axis is not None and chosen.uid != str(series):
        frames = [s for s in stacks if s.sequence_id == chosen.sequence_id and s.sequence_axis is not None]
        chosen = frames[0]  # the first volume along the fourth axis
        unit = {"time": " ms", "echo": " ms", "diffusion": " s/mm2"}.get(chosen.sequence_axis or "", "")
        result.notes.append(
            notice(
                f"series {chosen.sequence_id} is a 4D series of {len(frames)} volumes along {chosen.sequence_axis} "
                f"({frames[0].sequence_value:g}..{frames[-1].sequence_value:g}{unit}); loaded volume 0 "
                f"({chosen.sequence_label}): vda.load_sequence(path) loads them all, --frame N picks one (0..{len(frames) - 1})",
                NoticeCode.SEQUENCE_VOLUME_LOADED,
            )
        )
    others = [s for s in stacks if s is not chosen and not s.is_localizer and s.series_uid != chosen.series_uid]
    if series is None and others:
        listed = ", ".join(f"{s.uid} ({s.tags.get('SeriesDescription') or 'no description'}, {s.shape[0]} images)" for s in others[:4])
        result.notes.append(
            notice(
                f"{path} holds {len(others) + 1} stacks; loaded the largest, {chosen.uid} "
                f"({chosen.tags.get('SeriesDescription') or 'no description'}); others: {listed}; "
                "pass series=uid to choose",
                NoticeCode.SERIES_SPLIT,
            )
        )
    return chosen


def _metadata(stack: Stack) -> dict[str, Any]:
    tags = stack.tags
    keys = (
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "PatientSex",
        "Modality",
        "Manufacturer",
        "StudyDate",
        "StudyTime",
        "StudyDescription",
        "SeriesDescription",
        "SeriesNumber",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "FrameOfReferenceUID",
        "SOPClassUID",
        "SliceThickness",
        "WindowCenter",
        "WindowWidth",
        "RescaleType",
        "PhotometricInterpretation",
        "PatientPosition",
        "GantryDetectorTilt",
        "BitsStored",
        "PixelRepresentation",
    )
    meta: dict[str, Any] = {}
    for key in keys:
        value = tags.get(key)
        if value is None or isinstance(value, bytes):
            continue
        meta[key] = value
    meta["TransferSyntaxUID"] = stack.records[0].file.transfer_syntax
    from vtkdicom_app.io.vendor import philips_scale

    scale = philips_scale(tags)
    if scale is not None:
        # values stay display values (RescaleSlope/Intercept, as pydicom gives them); Philips'
        # floating-point value is (stored - PhilipsScaleIntercept) / PhilipsScaleSlope
        meta["PhilipsScaleSlope"], meta["PhilipsScaleIntercept"] = scale
    first = stack.records[0]
    if first.tile is not None:  # the tiles one stored mosaic image holds
        meta["MosaicSlices"] = sum(1 for r in stack.records if r.file is first.file and r.frame == first.frame)
    if stack.sequence_axis is not None:
        meta["fourth_axis"] = stack.sequence_axis
        meta["frame_label"] = stack.sequence_label
        if stack.bvalue is not None:
            meta["DiffusionBValue"] = stack.bvalue
        if stack.gradient is not None:
            meta["DiffusionGradientOrientation"] = tuple(stack.gradient)
    meta["PhotometricInterpretation"] = str(tags.get("PhotometricInterpretation") or "MONOCHROME2")
    pad = tags.get("PixelPaddingValue")
    if isinstance(pad, (int, float)):
        first = stack.records[0]
        stored = int(pad)
        if first.file.signed and stored >= 1 << 15:
            stored -= 1 << 16  # the reader decodes US; the value is signed with the pixels
        meta["PixelPaddingValue"] = stored  # as the file holds it; Volume.padding_value is real-world
        meta["_padding_real"] = stored * first.slope + first.intercept
    return meta


def _typed_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """Volume's typed fields from the metadata :func:`_metadata` gathered."""
    pad = meta.pop("_padding_real", None)
    return {
        "modality": str(meta.get("Modality") or ""),
        "padding_value": float(pad) if pad is not None else None,
        "invert_display": meta.get("PhotometricInterpretation") == "MONOCHROME1",
    }


def _correct_tilt(array: np.ndarray, shear: np.ndarray, direction: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Resample a sheared (tilted) stack onto the orthogonal grid sharing its first slice.

    Slice k is displaced in-plane by ``k * shear`` mm; its voxel at continuous index
    ``(i, j)`` holds the patient point that the orthogonal grid has at
    ``(i + k*si, j + k*sj)``, so the output takes each slice shifted back by that amount
    (linear interpolation, edges filled with the slice's minimum).
    """
    si = float(shear @ direction[:, 0]) / spacing[0]
    sj = float(shear @ direction[:, 1]) / spacing[1]
    out = np.empty(array.shape, np.float32 if array.dtype.kind == "f" else array.dtype)
    nk, nj, ni = array.shape
    jj = np.arange(nj, dtype=np.float64)
    ii = np.arange(ni, dtype=np.float64)
    for k in range(nk):
        src = array[k].astype(np.float64)
        fill = float(src.min())
        # orthogonal index (i, j) -> sheared slice index (i - k*si, j - k*sj)
        y = jj - k * sj
        x = ii - k * si
        y0 = np.floor(y).astype(int)
        x0 = np.floor(x).astype(int)
        fy = (y - y0)[:, None]
        fx = (x - x0)[None, :]

        def take(yy: np.ndarray, xx: np.ndarray, src: np.ndarray = src, fill: float = fill) -> np.ndarray:
            valid = (yy[:, None] >= 0) & (yy[:, None] < nj) & (xx[None, :] >= 0) & (xx[None, :] < ni)
            vals = src[np.clip(yy, 0, nj - 1)][:, np.clip(xx, 0, ni - 1)]
            return np.where(valid, vals, fill)

        res = take(y0, x0) * (1 - fy) * (1 - fx) + take(y0, x0 + 1) * (1 - fy) * fx + take(y0 + 1, x0) * fy * (1 - fx) + take(y0 + 1, x0 + 1) * fy * fx
        out[k] = np.rint(res) if out.dtype.kind in "iu" else res
    return out


# ---------------------------------------------------------------------------- crop and stride
RoiCorners = tuple[Sequence[float], Sequence[float]]
_AXES = "xyz"


def _fmt_point(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(v):g}" for v in values) + ")"


def _fmt_bytes(n: float) -> str:
    """A size in whole MiB, as the loader's memory messages give it, with the bytes when small."""
    mib = f"{n / (1 << 20):.0f} MiB"
    return mib if n >= 10 << 20 else f"{mib} ({int(n)} bytes)"


def validate_stride(stride: object, name: str = "stride") -> int:
    """Check a ``stride`` argument of :func:`load` (a positive integer).

    Parameters
    ----------
    stride : object
    name : str
        What to call it in the message (the command line's ``--downsample``).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        Not an integer, or below 1; the message names the value.
    """
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"{name} must be a positive integer (1 keeps every voxel, 2 every second one), got {stride!r}")
    return int(stride)


def validate_roi(roi: object, name: str = "roi") -> np.ndarray:
    """Check a ``roi`` argument of :func:`load`: two opposite corners of a box in LPS mm.

    Parameters
    ----------
    roi : object
        ``((x0, y0, z0), (x1, y1, z1))``.
    name : str
        What to call it in the message (the command line's ``--crop``).

    Returns
    -------
    numpy.ndarray
        The corners as a ``(2, 3)`` float array.

    Raises
    ------
    ValueError
        Not two triples of finite numbers, or a box of zero size along x, y or z (it holds
        no volume, so no voxel is inside it); the message names the values.
    """
    try:
        box = np.asarray(roi, dtype=np.float64)
    except (TypeError, ValueError):
        box = np.empty(0)
    if box.shape != (2, 3):
        raise ValueError(f"{name} must be two (x, y, z) corners in LPS mm, got {roi!r}")
    if not np.all(np.isfinite(box)):
        raise ValueError(f"{name} must be finite, got {_fmt_point(box[0])}..{_fmt_point(box[1])}")
    flat = [a for a in range(3) if box[0, a] == box[1, a]]
    if flat:
        which = ", ".join(f"{_AXES[a]} ({_AXES[a]}0 = {_AXES[a]}1 = {box[0, a]:g} mm)" for a in flat)
        raise ValueError(
            f"{name} {_fmt_point(box[0])}..{_fmt_point(box[1])} mm has zero size along {which}: give two opposite corners of a box "
            "that spans part of a voxel on every axis"
        )
    return box


def _box_corners(box: np.ndarray) -> np.ndarray:
    return np.array([[box[a, 0], box[b, 1], box[c, 2]] for a in (0, 1) for b in (0, 1) for c in (0, 1)])


def _grid_extent(origin: np.ndarray, axes: np.ndarray, shape_kji: tuple[int, int, int]) -> str:
    """The LPS bounding box of a grid's voxel centres, for messages."""
    nk, nj, ni = shape_kji
    idx = np.array([[i, j, k] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)], dtype=np.float64)
    pts = origin + idx @ axes.T
    return f"{np.round(pts.min(axis=0), 1).tolist()}..{np.round(pts.max(axis=0), 1).tolist()} mm (LPS)"


def _index_box(box: np.ndarray, origin: np.ndarray, axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` (i, j, k) of the smallest index box whose voxel centres contain ``box``.

    ``axes``' columns are the LPS steps of i, j and k (a sheared k step for a tilted stack).
    """
    ijk = (_box_corners(box) - origin) @ np.linalg.inv(axes).T
    return np.floor(ijk.min(axis=0) + 1e-6).astype(int), np.ceil(ijk.max(axis=0) - 1e-6).astype(int)


def _clip_to_grid(
    box: np.ndarray, want_lo: np.ndarray, want_hi: np.ndarray, shape_kji: tuple[int, int, int], origin: np.ndarray, axes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The wanted index box clipped to the grid; GeometryError when nothing is left."""
    nk, nj, ni = shape_kji
    top = np.array([ni - 1, nj - 1, nk - 1])
    lo, hi = np.maximum(want_lo, 0), np.minimum(want_hi, top)
    if np.any(lo > hi):
        raise GeometryError(
            f"roi {_fmt_point(box[0])}..{_fmt_point(box[1])} mm lies outside the volume, which spans {_grid_extent(origin, axes, shape_kji)}"
        )
    note = None
    if np.any(lo != want_lo) or np.any(hi != want_hi):
        note = f"roi {_fmt_point(box[0])}..{_fmt_point(box[1])} mm reaches beyond the volume; cropped to the volume's edge"
    return lo, hi, note


def _is_irregular(geo: Any) -> bool:
    return any(isinstance(w, Notice) and w.code is NoticeCode.IRREGULAR_SPACING for w in geo.warnings)


@dataclasses.dataclass
class _Crop:
    """What :func:`_crop_window` found: the frames to read, their window and geometry."""

    records: list[FrameRecord]
    window: tuple[int, int, int, int, int]
    origin: np.ndarray
    spacing: tuple[float, float, float]
    notes: list[str]
    #: stack warnings that no longer hold for the crop (irregular spacing it avoids)
    drop: frozenset[NoticeCode] = frozenset()


def _crop_window(stack: Stack, geo: Any, box: np.ndarray | None, stride: int, *, correct_tilt: bool = False) -> _Crop:
    """Records, pixel window, origin and spacing of the part of a stack inside ``box``.

    A gantry-tilted stack is cropped on its sheared grid (the index box covering ``box``,
    with the crop's origin at its first voxel's true position); a stack with irregular slice
    spacing picks its slices by their own positions. Either says so in a note.
    """
    stride = validate_stride(stride)
    nk, nj, ni = stack.shape
    origin = np.asarray(geo.origin, dtype=np.float64)
    axes = geo.direction * np.asarray(geo.spacing, dtype=np.float64)[None, :]
    if geo.tilt_deg:
        axes[:, 2] = axes[:, 2] + np.asarray(geo.shear, dtype=np.float64)  # one slice step on the sheared stack
    lo = np.zeros(3, dtype=int)
    hi = np.array([ni - 1, nj - 1, nk - 1])
    notes: list[str] = []
    drop: frozenset[NoticeCode] = frozenset()
    spacing = tuple(float(v) * stride for v in geo.spacing)
    irregular = _is_irregular(geo) and all(r.ipp is not None for r in stack.records)
    if box is not None:
        want_lo, want_hi = _index_box(box, origin, axes)
        if irregular:  # slices by their own positions along the normal, not a uniform step
            normal = geo.direction[:, 2]
            positions = np.array([np.asarray(r.ipp, dtype=np.float64) @ normal for r in stack.records])
            along = _box_corners(box) @ normal
            tol = 1e-3  # mm
            want_lo[2] = int(np.searchsorted(positions, along.min() + tol, side="right")) - 1
            want_hi[2] = int(np.searchsorted(positions, along.max() - tol, side="left"))
        lo, hi, clipped = _clip_to_grid(box, want_lo, want_hi, stack.shape, origin, axes)
        if clipped:
            notes.append(clipped)
        if geo.tilt_deg:
            what = "then resampled onto an orthogonal grid" if correct_tilt else "its slices stay sheared (correct_tilt=True resamples them)"
            notes.append(
                f"roi on a gantry-tilted stack ({geo.tilt_deg:.2f} degrees): loaded the index box that covers it on the sheared slices "
                f"(slices {lo[2]}..{hi[2]}), with the crop's origin at its first voxel's true position; {what}"
            )
    ks = list(range(int(lo[2]), int(hi[2]) + 1, stride))
    records = [stack.records[k] for k in ks]
    window = (int(lo[1]), int(hi[1]) + 1, int(lo[0]), int(hi[0]) + 1, int(stride))
    crop_origin = origin + axes @ lo
    if box is not None and irregular:
        normal = geo.direction[:, 2]
        positions = np.array([np.asarray(r.ipp, dtype=np.float64) @ normal for r in records])
        first = np.asarray(records[0].ipp, dtype=np.float64)
        crop_origin = first + axes[:, :2] @ lo[:2]  # the first chosen slice where it really is
        if len(records) > 1:
            diffs = np.diff(positions)
            median = float(np.median(diffs))
            step = float(positions[-1] - positions[0]) / (len(records) - 1)
            spacing = (spacing[0], spacing[1], step)
            uneven = bool(np.any(np.abs(diffs - median) > max(0.01, 0.01 * median)))
        else:
            uneven = False
        where = f"slices {ks[0]}..{ks[-1]} ({positions[0]:.2f}..{positions[-1]:.2f} mm along the slice normal)"
        if uneven:
            notes.append(
                f"roi cuts through irregular slice spacing: {where} chosen by their own positions; the crop uses their mean step of "
                f"{spacing[2]:.3f} mm, so positions past a gap are off"
            )
        else:
            drop = frozenset({NoticeCode.IRREGULAR_SPACING})
            notes.append(
                f"the series' slice spacing is irregular, but the roi's {where} are evenly spaced ({spacing[2]:.3f} mm): the crop holds no gap"
            )
    return _Crop(records, window, crop_origin, spacing, notes, drop)  # type: ignore[arg-type]


def _check_fits(stack: Stack, crop: _Crop | None, backend: Backend) -> None:
    """Raise MemoryLimitError before reading when the (cropped) volume exceeds the limit.

    The message names the size needed and the limit and, where one would fit, a stride and
    a crop that do.
    """
    from vtkdicom_app.errors import MemoryLimitError
    from vtkdicom_app.io.pixels import OutputKind, _is_colour, choose_output, memory_limit_bytes

    records = stack.records if crop is None else crop.records
    nk, nj, ni = stack.shape
    window = crop.window if crop is not None else (0, nj, 0, ni, 1)
    j0, j1, i0, i1, st = window
    k_count = len(records)
    colour = _is_colour(records)
    if backend is Backend.VTK:
        item, shape = 4, (nk, nj, ni)  # vtkDICOMImageReader reads the whole stack, as float
    elif colour:
        item, shape = 3, (k_count, nj, ni)  # RGB slices are decoded whole, then cropped
    else:
        item = 4 if choose_output(records) is OutputKind.FLOAT32 else 2
        shape = (k_count, len(range(j0, j1, st)), len(range(i0, i1, st)))
    need = int(np.prod(shape, dtype=np.int64)) * item
    limit = memory_limit_bytes()
    if need <= limit:
        return
    what = "the cropped volume" if crop is not None and (k_count < nk or shape[1:] != (nj, ni)) else "the volume"
    number, desc = stack.tags.get("SeriesNumber"), str(stack.tags.get("SeriesDescription") or "")
    name = f"series {number}" if isinstance(number, (int, float)) else f"series {stack.uid}"
    message = (
        f"{name}{f' ({desc})' if desc else ''}: {what} needs {need / (1 << 20):.0f} MiB ({' x '.join(map(str, shape))} x {item} = {need} bytes) "
        f"but the memory limit is {_fmt_bytes(limit)}"
    )
    hints: list[str] = []
    if backend is Backend.VTK:
        hints.append("backend='pydicom' reads only the crop")
    else:
        k_lo = stack.records.index(records[0])
        k_hi = stack.records.index(records[-1]) + 1
        for s in range(st + 1, max(nk, nj, ni) + 1):
            ks = len(range(k_lo, k_hi, s))
            rows_cols = (nj * ni) if colour else len(range(j0, j1, s)) * len(range(i0, i1, s))
            if ks * rows_cols * item <= limit:
                hints.append(f"stride={s} (--downsample {s}) needs {_fmt_bytes(ks * rows_cols * item)}")
                break
        per_slice = (nj * ni if colour else shape[1] * shape[2]) * item
        fit = limit // per_slice
        if 1 <= fit < k_count:
            hints.append(f"a roi of at most {fit} of these {k_count} slices fits (roi=..., --crop x0,y0,z0,x1,y1,z1 in LPS mm)")
    hints.append("or raise the limit (VTKDICOM_APP_MEMORY_LIMIT, --memory-limit)")
    raise MemoryLimitError(message + "; " + "; ".join(hints))


def crop_volume(volume: Volume, roi: RoiCorners | None = None, stride: int = 1) -> Volume:
    """The part of a volume in memory inside ``roi``, every ``stride``-th voxel.

    What ``load(..., roi=, stride=)`` gives, for a volume that is already loaded (a NIfTI
    file, one frame of a 4D series): the smallest index box whose voxel centres contain the
    box, clipped to the volume.

    Parameters
    ----------
    volume : Volume
    roi : pair of (x, y, z), optional
        Two opposite corners in LPS mm.
    stride : int
        Keep every ``stride``-th voxel along i, j and k.

    Returns
    -------
    Volume
        A copy holding only the cropped voxels (``volume`` itself when nothing changes).

    Raises
    ------
    ValueError
        A roi of zero size or not two corners, a stride below 1.
    GeometryError
        The roi misses the volume.
    """
    box = None if roi is None else validate_roi(roi)
    stride = validate_stride(stride)
    if box is None and stride == 1:
        return volume
    origin = np.asarray(volume.origin, dtype=np.float64)
    axes = volume.direction * np.asarray(volume.spacing, dtype=np.float64)[None, :]
    nk, nj, ni = volume.shape
    lo, hi = np.zeros(3, dtype=int), np.array([ni - 1, nj - 1, nk - 1])
    notes: list[str] = []
    if box is not None:
        want_lo, want_hi = _index_box(box, origin, axes)
        lo, hi, clipped = _clip_to_grid(box, want_lo, want_hi, volume.shape, origin, axes)
        if clipped:
            notes.append(clipped)
    array = np.ascontiguousarray(volume.array[lo[2] : hi[2] + 1 : stride, lo[1] : hi[1] + 1 : stride, lo[0] : hi[0] + 1 : stride])
    tagged = [notice(n, NoticeCode.ROI_ADJUSTED) for n in notes]
    _emit(tagged)
    metadata = dict(volume.metadata, crop={"roi": None if box is None else box.tolist(), "stride": stride})
    return volume.with_array(
        array,
        origin=tuple(float(v) for v in origin + axes @ lo),
        spacing=tuple(float(v) * stride for v in volume.spacing),
        metadata=metadata,
        warnings=[*volume.warnings, *tagged],
        owner=None,
    )


def _emit(messages: list[Notice]) -> None:
    for msg in messages:
        _warnings.warn(str(msg), msg.category, stacklevel=3)


def load(
    path: ScanSource,
    series: str | int | None = None,
    progress: ProgressCallback | None = None,
    *,
    backend: Backend | str = Backend.PYDICOM,
    correct_tilt: bool = False,
    workers: int | None = None,
    roi: RoiCorners | None = None,
    stride: int = 1,
) -> Volume:
    """Load one series as a :class:`~vtkdicom_app.volume.Volume` in patient space (LPS).

    Parameters
    ----------
    path : str, os.PathLike, sequence of them, SeriesInfo, SeriesList or ScanResult
        A folder (searched recursively), a file, a list of files or folders, a DICOMDIR, or
        what :func:`scan` returned (an entry or the whole list: no second scan).
    series : str or int, optional
        A ``SeriesInfo.uid`` from :func:`scan`, a SeriesInstanceUID (its largest stack) or a
        SeriesNumber. Default: the largest non-localizer stack (or the given SeriesInfo).
    progress : callable, optional
        ``progress(done, total, stage)`` for headers then pixels; it may raise to cancel.
    backend : Backend or {"pydicom", "vtk"}
        ``"vtk"`` decodes uncompressed series with vtkDICOMImageReader and fixes its geometry.
    correct_tilt : bool
        Resample a gantry-tilted stack onto an orthogonal grid (otherwise only warn).
    workers : int, optional
        Threads for pixel reading.
    roi : pair of (x, y, z), optional
        Two opposite corners of a box in patient coordinates (LPS mm): only the voxels inside
        it are loaded (the smallest index box whose voxel centres contain it, clipped to the
        volume), and only the files and rows they need are read, so time and memory follow
        the crop. On a gantry-tilted stack the box is taken on the sheared slices; on a stack
        with irregular slice spacing the slices are picked by their own positions; a
        warning (``NoticeCode.ROI_ADJUSTED``) says what was done.
    stride : int
        Keep every ``stride``-th voxel along i, j and k (spacing grows by the same factor).

    Returns
    -------
    Volume
        ``array`` is ``(k, j, i)``, int16 when the rescale is exact, float32 otherwise.

    Raises
    ------
    NotDicomError
        No image series under ``path``.
    SeriesNotFoundError
        ``series`` matches nothing.
    GeometryError
        Invalid orientation or spacing (the message names the tag and file), or a ``roi``
        outside the volume (the message gives the volume's extent).
    ValueError
        A ``roi`` that is not two corners or has zero size along x, y or z, a ``stride``
        below 1 (checked before any file is read).
    DecoderMissingError
        Compressed pixel data without a decoder (the message names the package).
    MemoryLimitError
        The (cropped) volume exceeds the memory limit, checked before allocating; the
        message names the size needed and, where one fits, a stride or crop that does.

    Examples
    --------
    >>> import vtkdicom_app as vda          # doctest: +SKIP
    >>> vol = vda.load("study/")            # doctest: +SKIP
    >>> vol.array.shape, vol.spacing        # doctest: +SKIP
    ((64, 128, 128), (1.5, 1.5, 2.0))
    """
    backend = Backend(backend) if not isinstance(backend, Backend) else backend
    box = None if roi is None else validate_roi(roi)  # bad arguments fail before any file is read
    stride = validate_stride(stride)
    result, series, where = _scan_for(path, series, progress)
    stack = _choose(result, series, where)
    if stack.error:
        raise GeometryError(stack.error)
    geo = stack.geometry
    assert geo is not None
    records = stack.records
    window: tuple[int, int, int, int, int] | None = None
    origin = np.asarray(geo.origin, dtype=np.float64)
    spacing = tuple(geo.spacing)
    crop = None
    if box is not None or stride != 1:
        crop = _crop_window(stack, geo, box, stride, correct_tilt=correct_tilt)
        records, window, origin, spacing = crop.records, crop.window, crop.origin, crop.spacing
    _check_fits(stack, crop, backend)  # before anything is allocated
    if backend is Backend.VTK:
        from vtkdicom_app.io.vtk_backend import read_with_vtk

        array = read_with_vtk(stack)
        if window is not None:
            keep = [stack.records.index(r) for r in records]
            j0, j1, i0, i1, st = window
            array = np.ascontiguousarray(array[keep][:, j0:j1:st, i0:i1:st])
        decode_warnings: list[str] = []
    else:
        from vtkdicom_app.io.pixels import read_frames

        array, decode_warnings = read_frames(records, progress=progress, workers=workers, window=window)
    # each message keeps its own code and category (a Notice); plain strings get the
    # category of where they come from
    tagged: list[Notice] = [as_notice(m, NoticeCode.SERIES_SPLIT) for m in stack.warnings]
    tagged += [as_notice(m, NoticeCode.IRREGULAR_SPACING) for m in geo.warnings]
    tagged += [as_notice(m, NoticeCode.DECODE_FAILED) for m in decode_warnings]
    tagged += [as_notice(m) for m in result.summary_warnings()]
    if crop is not None:
        tagged = [m for m in tagged if m.code not in crop.drop]
        tagged += [notice(n, NoticeCode.ROI_ADJUSTED) for n in crop.notes]
    if geo.tilt_deg and correct_tilt:
        array = _correct_tilt(array, geo.shear * stride, geo.direction, spacing)  # type: ignore[arg-type]
        tagged = [m for m in tagged if m.code is not NoticeCode.GANTRY_TILT]
        tagged.append(
            notice(
                f"gantry tilt of {geo.tilt_deg:.2f} degrees corrected by resampling onto an orthogonal grid",
                NoticeCode.TILT_CORRECTED,
            )
        )
    _emit(tagged)
    messages: list[str] = list(tagged)
    metadata = _metadata(stack)
    metadata["n_frames"] = len(stack.records)
    if window is not None:
        metadata["crop"] = {"roi": None if box is None else box.tolist(), "stride": int(stride)}
    files = stack.files if window is None else list(dict.fromkeys(r.file.path for r in records))
    return Volume(
        array=array,
        spacing=spacing,  # type: ignore[arg-type]
        origin=tuple(float(v) for v in origin),  # type: ignore[arg-type]
        direction=geo.direction,
        metadata=metadata,
        warnings=messages,
        geometry_known=geo.known,
        files=files,
        **_typed_fields(metadata),
        gantry_tilt_deg=round(geo.tilt_deg, 4),
        tilt_corrected=bool(geo.tilt_deg and correct_tilt),
    )


def load_sequence(
    path: ScanSource,
    series: str | int | None = None,
    axis: str | None = None,
    progress: ProgressCallback | None = None,
    *,
    lazy: bool | None = None,
) -> VolumeSequence:
    """Load a 4D series (time, echo or diffusion frames) as a :class:`VolumeSequence`.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
    series : str or int, optional
        SeriesInstanceUID (or SeriesNumber) of the 4D series; default the one with most frames.
    axis : {"time", "echo", "diffusion", "index"}, optional
        Refuse a series whose fourth axis is another one.
    progress : callable, optional
        ``progress(done, total, stage)``.
    lazy : bool, optional
        Read frames on demand; default: only when the whole sequence exceeds the memory limit.

    Returns
    -------
    VolumeSequence
        Frames ordered by their value (trigger time, echo time, b-value), not by file name.

    Raises
    ------
    SeriesNotFoundError
        No 4D series (or none with that axis) under ``path``.
    GeometryError
        Frames whose geometry differs; the message says which.
    """
    from vtkdicom_app.io.pixels import memory_limit_bytes, read_frames

    result, series, path = _scan_for(path, series, progress)
    groups: dict[str, list[Stack]] = {}
    for s in result.stacks:
        if s.sequence_axis is not None and (axis is None or s.sequence_axis == str(axis)):
            groups.setdefault(s.sequence_id, []).append(s)
    if series is not None:
        wanted = {s.sequence_id for s in _match_series([s for fr in groups.values() for s in fr], series)}
        groups = {uid: fr for uid, fr in groups.items() if uid in wanted}
    if not groups:
        found = ", ".join(f"{s.uid} ({s.sequence_axis or '3D'})" for s in result.stacks[:6])
        raise SeriesNotFoundError(f"no 4D series{' along ' + axis if axis else ''} in {path}; found: {found or 'nothing'}")
    frames = max(groups.values(), key=len)
    first = frames[0]
    for n, s in enumerate(frames):
        if s.error:
            raise GeometryError(f"frame {n + 1} ({s.sequence_axis} {s.sequence_value:g}): {s.error}")
        g, g0 = s.geometry, first.geometry
        assert g is not None and g0 is not None
        problems = []
        if s.shape != first.shape:
            problems.append(f"size {s.shape} instead of {first.shape}")
        if not np.allclose(g.origin, g0.origin, atol=1e-3):
            problems.append(f"origin {tuple(np.round(g.origin, 3))} instead of {tuple(np.round(g0.origin, 3))}")
        if not np.allclose(g.spacing, g0.spacing, atol=1e-4):
            problems.append(f"spacing {g.spacing} instead of {g0.spacing}")
        if not np.allclose(g.direction, g0.direction, atol=1e-4):
            problems.append("orientation")
        if problems:
            raise GeometryError(
                f"frame {n + 1} ({s.sequence_axis} {s.sequence_value:g}) of series {s.series_uid} differs from frame 1 in "
                + ", ".join(problems)
                + "; frames of a sequence must share one geometry"
            )
    k, j, i = first.shape
    itemsize = 4 if any(r.slope != round(r.slope) for r in first.records) else 2
    total = len(frames) * k * j * i * itemsize
    if lazy is None:
        lazy = total > memory_limit_bytes()
    meta = _metadata(first)

    def loader(stack: Stack) -> Any:
        def load_frame() -> Volume:
            array, warnings_ = read_frames(stack.records)
            geo = stack.geometry
            assert geo is not None
            md = dict(meta, frame_value=stack.sequence_value, fourth_axis=stack.sequence_axis)
            return Volume(
                array,
                spacing=geo.spacing,
                origin=tuple(geo.origin),
                direction=geo.direction,
                metadata=md,
                warnings=list(warnings_),
                geometry_known=geo.known,
                files=stack.files,
                gantry_tilt_deg=round(geo.tilt_deg, 4),
                **_typed_fields(md),
            )

        return load_frame

    notes: dict[str, None] = {}
    for s in frames:
        for w in s.warnings:
            if as_notice(w).code in _SEQUENCE_NOTES:
                notes.setdefault(w, None)
    for m in notes:
        _warnings.warn(str(m), as_notice(m).category, stacklevel=2)
    seq = VolumeSequence(
        [loader(s) for s in frames],
        [float(s.sequence_value or 0.0) for s in frames],
        str(first.sequence_axis),
        lazy=lazy,
        labels=[s.sequence_label for s in frames],
        bvalues=[s.bvalue if s.bvalue is not None else 0.0 for s in frames] if first.sequence_axis == "diffusion" else None,
        gradients=[s.gradient for s in frames] if first.sequence_axis == "diffusion" else None,
        warnings=list(notes),
    )
    return seq
