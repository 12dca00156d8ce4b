"""Group frame records into stacks and compute each stack's patient geometry.

Rules (DESIGN.md, "Geometry rules"):

* group by SeriesInstanceUID, then split by localizer flag, orientation, size and pixel
  spacing; when positions repeat, split by the attribute that explains the repetition
  (frame type, stack, echo, temporal position, acquisition, b-value); never merge stacks,
  and say which attribute split them;
* sort by the projection of ImagePositionPatient on the normal ``n = r x c``;
* slice spacing from the sorted positions, never SliceThickness;
* report duplicates, gaps, irregular spacing and gantry tilt.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from vtkdicom_app.errors import GeometryError
from vtkdicom_app.io.records import FrameRecord

__all__ = ["Stack", "Geometry", "group_records", "compute_geometry"]

# Attributes that may explain repeated positions, in the order they are tried.
_REPEAT_SPLITTERS = (
    "FrameType",
    "StackID",
    "EffectiveEchoTime",
    "EchoNumbers",
    "TemporalPositionIndex",
    "TemporalPositionIdentifier",
    "DiffusionBValue",
    "AcquisitionNumber",
    "TriggerTime",
)
_POSITION_TOL_MM = 1e-3
_ORIENTATION_TOL = 1e-3


@dataclasses.dataclass
class Geometry:
    """Geometry of a sorted stack.

    Attributes
    ----------
    origin : numpy.ndarray
        LPS position of voxel (0, 0, 0).
    spacing : tuple of float
        ``(di, dj, dk)`` mm.
    direction : numpy.ndarray
        3x3, columns r, c, n.
    known : bool
        False when positions or orientation were missing.
    tilt_deg : float
        Gantry tilt detected from the positions (0 when none).
    shear : numpy.ndarray
        In-plane displacement per slice (mm, LPS) caused by tilt.
    warnings : list of str
        Gaps, irregular spacing, tilt, missing geometry.
    """

    origin: np.ndarray
    spacing: tuple[float, float, float]
    direction: np.ndarray
    known: bool = True
    tilt_deg: float = 0.0
    shear: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Stack:
    """A set of frames forming one 3D volume, sorted along the normal.

    Attributes
    ----------
    uid : str
        The SeriesInstanceUID, with ``#n`` appended when the series was split.
    series_uid : str
        SeriesInstanceUID.
    label : str
        What distinguishes this stack inside its series ("" when not split).
    records : list of FrameRecord
        Frames in slice order (after sorting and dropping duplicates).
    geometry : Geometry or None
        None when ``error`` is set.
    warnings : list of str
        Split, duplicate and geometry warnings.
    error : str or None
        Why this stack cannot be loaded (invalid orientation, ...).
    is_localizer : bool
        True for localizer/scout images.
    sequence_axis : str or None
        "time", "echo" or "diffusion" when this stack is one frame of a 4D series.
    sequence_value : float or None
        The frame's value on that axis (ms, ms, s/mm2), or its index when no value is given.
    """

    uid: str
    series_uid: str
    label: str
    records: list[FrameRecord]
    geometry: Geometry | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None
    is_localizer: bool = False
    sequence_axis: str | None = None
    sequence_value: float | None = None

    @property
    def tags(self) -> dict[str, Any]:
        """Attributes of the first file of the stack."""
        return self.records[0].file.tags

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(k, j, i)`` of the volume this stack loads into."""
        f = self.records[0].file
        return (len(self.records), f.rows, f.columns)

    @property
    def files(self) -> list[str]:
        """Distinct files in slice order."""
        seen: dict[str, None] = {}
        for rec in self.records:
            seen.setdefault(rec.file.path, None)
        return list(seen)


def _rounded(values: Sequence[float] | None, digits: int) -> tuple[float, ...] | None:
    return None if values is None else tuple(round(float(v), digits) + 0.0 for v in values)


def _describe(value: Any) -> str:
    if isinstance(value, tuple):
        return "\\".join(str(v) for v in value)
    return str(value)


def _split_by_attribute(records: list[FrameRecord], key: str) -> dict[Any, list[FrameRecord]]:
    out: dict[Any, list[FrameRecord]] = defaultdict(list)
    for rec in records:
        out[rec.split.get(key)].append(rec)
    return out


def _has_repeats(records: list[FrameRecord]) -> bool:
    positions = [r.ipp for r in records if r.ipp is not None and all(math.isfinite(v) for v in r.ipp)]
    if len(positions) < 2:
        return False
    rounded = {tuple(round(v / _POSITION_TOL_MM) for v in p) for p in positions}
    return len(rounded) < len(positions)


def _static_split(records: list[FrameRecord]) -> tuple[list[tuple[str, list[FrameRecord]]], str | None]:
    """Split by localizer, orientation, size and pixel spacing; return parts and the tag used."""
    keyed: dict[tuple[Any, ...], list[FrameRecord]] = defaultdict(list)
    for rec in records:
        key = (
            rec.split.get("localizer", False),
            _rounded(rec.iop, 4),
            rec.file.rows,
            rec.file.columns,
            _rounded(rec.pixel_spacing, 4),
        )
        keyed[key].append(rec)
    if len(keyed) == 1:
        return [("", records)], None
    keys = list(keyed)
    names = ("ImageType LOCALIZER", "ImageOrientationPatient", "Rows", "Columns", "PixelSpacing")
    differing = [names[n] for n in range(len(names)) if len({k[n] for k in keys}) > 1]
    parts: list[tuple[str, list[FrameRecord]]] = []
    for key, recs in keyed.items():
        bits = []
        if key[0]:
            bits.append("localizer")
        if "ImageOrientationPatient" in differing:
            bits.append(f"orientation {_describe(key[1])}")
        if "Rows" in differing or "Columns" in differing:
            bits.append(f"{key[2]}x{key[3]}")
        if "PixelSpacing" in differing:
            bits.append(f"PixelSpacing {_describe(key[4])}")
        parts.append((", ".join(bits), recs))
    return parts, ", ".join(differing)


def _repeat_split(records: list[FrameRecord]) -> tuple[list[tuple[str, list[FrameRecord]]], str | None]:
    if not _has_repeats(records):
        return [("", records)], None
    for key in _REPEAT_SPLITTERS:
        parts = _split_by_attribute(records, key)
        if len(parts) > 1 and not any(_has_repeats(p) for p in parts.values()):
            return [(f"{key}={_describe(v)}", recs) for v, recs in parts.items()], key
    return [("", records)], None


# attribute that split repeated positions -> (axis, attributes whose value labels the frame)
_SEQUENCE_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "TemporalPositionIdentifier": ("time", ("TriggerTime", "TemporalPositionIdentifier")),
    "TemporalPositionIndex": ("time", ("TriggerTime", "TemporalPositionIndex")),
    "TriggerTime": ("time", ("TriggerTime",)),
    "EchoNumbers": ("echo", ("EchoTime", "EchoNumbers")),
    "EffectiveEchoTime": ("echo", ("EffectiveEchoTime",)),
    "DiffusionBValue": ("diffusion", ("DiffusionBValue",)),
}


def _sequence_axis(parts: list[tuple[str, list[FrameRecord], str | None]]) -> tuple[str, tuple[str, ...]] | None:
    """(axis, value attributes) when the stacks are frames of one 4D series, else None.

    They are when one of the 4D attributes split them and every stack covers the same
    positions with the same size.
    """
    if len(parts) < 2:
        return None
    tags = {tag for _label, _recs, tag in parts}
    if len(tags) != 1:
        return None
    tag = next(iter(tags))
    if tag not in _SEQUENCE_KEYS:
        return None
    sizes = {(len(recs), recs[0].file.rows, recs[0].file.columns) for _l, recs, _t in parts}
    if len(sizes) != 1:
        return None
    return _SEQUENCE_KEYS[tag]


def _sequence_value(rec: FrameRecord, keys: tuple[str, ...]) -> float:
    for key in keys:
        value = rec.split.get(key) if key in rec.split else rec.file.tags.get(key)
        if isinstance(value, (tuple, list)):
            value = value[0] if value else None
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return float(rec.instance)


def group_records(records: list[FrameRecord]) -> list[Stack]:
    """Group frame records into stacks (one per volume), sorted and with geometry.

    Parameters
    ----------
    records : list of FrameRecord
        Image frames from any number of files and series.

    Returns
    -------
    list of Stack
        Ordered by SeriesNumber, then SeriesInstanceUID, then size (largest first).
    """
    by_series: dict[str, list[FrameRecord]] = defaultdict(list)
    for rec in records:
        uid = str(rec.file.tags.get("SeriesInstanceUID") or "")
        if not uid:
            # No SeriesInstanceUID: files of one folder form one series.
            uid = "unknown:" + os.path.dirname(rec.file.path)
        by_series[uid].append(rec)

    stacks: list[Stack] = []
    for series_uid, recs in by_series.items():
        parts, static_tag = _static_split(recs)
        final: list[tuple[str, list[FrameRecord], str | None]] = []
        for label, part in parts:
            sub, repeat_tag = _repeat_split(part)
            for sublabel, subrecs in sub:
                full = ", ".join(x for x in (label, sublabel) if x)
                tag = ", ".join(x for x in (static_tag if label else None, repeat_tag) if x) or None
                final.append((full, subrecs, tag))
        final.sort(key=lambda t: -len(t[1]))
        axis = _sequence_axis(final)
        if axis is not None:  # frames of a 4D series: in the order of their values
            final.sort(key=lambda t: _sequence_value(t[1][0], axis[1]))
        split = len(final) > 1
        for n, (label, subrecs, tag) in enumerate(final, start=1):
            uid = f"{series_uid}#{n}" if split else series_uid
            stack = Stack(uid=uid, series_uid=series_uid, label=label, records=subrecs, is_localizer=bool(subrecs[0].split.get("localizer")))
            if axis is not None:
                stack.sequence_axis = axis[0]
                stack.sequence_value = _sequence_value(subrecs[0], axis[1])
            elif split:
                stack.warnings.append(
                    f"series {series_uid} split into {len(final)} stacks by {tag or 'attributes'}; "
                    f"this one ({label or 'main'}) has {len(subrecs)} images"
                )
            try:
                stack.records, stack.geometry, notes = compute_geometry(subrecs)
                stack.warnings.extend(notes)
            except GeometryError as exc:
                stack.error = str(exc)
                stack.warnings.append(str(exc))
            stacks.append(stack)

    def order(s: Stack) -> tuple[Any, ...]:
        number = s.tags.get("SeriesNumber")
        try:
            num = int(number) if number is not None else 1 << 30
        except (TypeError, ValueError):
            num = 1 << 30
        return (num, s.series_uid, -len(s.records))

    stacks.sort(key=order)
    return stacks


def _check_orientation(iop: tuple[float, ...], path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vals = np.asarray(iop, dtype=np.float64)
    if vals.shape != (6,) or not np.all(np.isfinite(vals)):
        raise GeometryError(f"ImageOrientationPatient (0020,0037) in {path} is not six finite numbers: {iop}")
    r, c = vals[:3], vals[3:]
    nr, nc = np.linalg.norm(r), np.linalg.norm(c)
    if abs(nr - 1) > _ORIENTATION_TOL or abs(nc - 1) > _ORIENTATION_TOL:
        raise GeometryError(
            f"ImageOrientationPatient (0020,0037) in {path} is not made of unit vectors "
            f"(|row| = {nr:.4f}, |column| = {nc:.4f})"
        )
    if abs(float(r @ c)) > _ORIENTATION_TOL:
        angle = math.degrees(math.acos(max(-1.0, min(1.0, float(r @ c) / (nr * nc)))))
        raise GeometryError(
            f"ImageOrientationPatient (0020,0037) in {path} is not orthogonal: the row and "
            f"column directions are {angle:.2f} degrees apart"
        )
    r = r / nr
    c = c / nc
    n = np.cross(r, c)
    n /= np.linalg.norm(n)
    return r, c, n


def _pixel_spacing(rec: FrameRecord) -> tuple[float, float]:
    ps = rec.pixel_spacing
    if ps is None:
        return (1.0, 1.0)
    if not all(math.isfinite(v) and v > 0 for v in ps):
        raise GeometryError(f"PixelSpacing (0028,0030) in {rec.file.path} must be positive, got {_describe(ps)}")
    return (float(ps[0]), float(ps[1]))


def _fallback_slice_step(rec: FrameRecord) -> float:
    for key in ("SpacingBetweenSlices", "SliceThickness"):
        value = rec.file.tags.get(key)
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(v) and v > 0:
            return v
    return 1.0


def compute_geometry(records: list[FrameRecord]) -> tuple[list[FrameRecord], Geometry, list[str]]:
    """Sort frames along the normal and derive origin, spacing and direction.

    Parameters
    ----------
    records : list of FrameRecord
        Frames of one stack (same orientation and size).

    Returns
    -------
    records : list of FrameRecord
        Sorted, duplicates removed.
    geometry : Geometry
    notes : list of str
        Warnings about duplicates (gaps and tilt are in ``geometry.warnings``).

    Raises
    ------
    GeometryError
        Invalid orientation or pixel spacing; the message names the tag and the file.
    """
    notes: list[str] = []
    first = records[0]
    row_sp, col_sp = _pixel_spacing(first)
    have_geometry = all(r.ipp is not None and r.iop is not None for r in records)
    if have_geometry:
        ipps = np.array([r.ipp for r in records], dtype=np.float64)
        if not np.all(np.isfinite(ipps)):
            bad = next(r for r in records if not all(math.isfinite(v) for v in r.ipp))  # type: ignore[union-attr]
            raise GeometryError(f"ImagePositionPatient (0020,0032) in {bad.file.path} is not finite: {bad.ipp}")
    if not have_geometry:
        missing = sum(1 for r in records if r.ipp is None or r.iop is None)
        ordered = sorted(records, key=lambda r: (r.instance, r.file.path, r.frame))
        step = _fallback_slice_step(first) if len(records) > 1 else 1.0
        geo = Geometry(origin=np.zeros(3), spacing=(col_sp, row_sp, step), direction=np.eye(3), known=False)
        if len(records) > 1 or first.ipp is None:
            geo.warnings.append(
                f"{missing} of {len(records)} images lack ImagePositionPatient/ImageOrientationPatient: "
                "geometry unknown (slices ordered by InstanceNumber, identity orientation); "
                "mesh export refuses this volume without --force"
            )
        if first.ipp is not None and first.iop is not None and len(records) == 1:
            r, c, n = _check_orientation(first.iop, first.file.path)
            geo = Geometry(origin=np.asarray(first.ipp), spacing=(col_sp, row_sp, step), direction=np.column_stack([r, c, n]))
        return ordered, geo, notes

    r, c, n = _check_orientation(first.iop, first.file.path)  # type: ignore[arg-type]
    proj = ipps @ n
    order = sorted(range(len(records)), key=lambda m: (proj[m], records[m].instance, records[m].file.path, records[m].frame))
    sorted_recs = [records[m] for m in order]
    proj = proj[order]
    ipps = ipps[order]

    keep = [0]
    dropped: list[tuple[FrameRecord, FrameRecord]] = []
    for m in range(1, len(sorted_recs)):
        if abs(proj[m] - proj[keep[-1]]) < _POSITION_TOL_MM:
            dropped.append((sorted_recs[keep[-1]], sorted_recs[m]))
        else:
            keep.append(m)
    if dropped:
        kept, gone = dropped[0]
        notes.append(
            f"{len(dropped)} image(s) at duplicate positions dropped, e.g. {os.path.basename(gone.file.path)} "
            f"repeats the position of {os.path.basename(kept.file.path)} "
            f"({_describe(tuple(round(v, 3) for v in gone.ipp))})"  # type: ignore[union-attr]
        )
        sorted_recs = [sorted_recs[m] for m in keep]
        proj = proj[keep]
        ipps = ipps[keep]

    count = len(sorted_recs)
    geo_warnings: list[str] = []
    tilt = 0.0
    shear = np.zeros(3)
    if count == 1:
        step = 1.0  # as SimpleITK: one slice has no slice step (SliceThickness is in metadata)
    else:
        step = float(proj[-1] - proj[0]) / (count - 1)
        diffs = np.diff(proj)
        median = float(np.median(diffs))
        tol = max(0.01, 0.01 * median)
        odd = np.nonzero(np.abs(diffs - median) > tol)[0]
        if odd.size:
            details = []
            for m in odd[:5]:
                d = float(diffs[m])
                missing = round(d / median) - 1 if median > 0 else 0
                what = f", about {missing} missing slice(s)" if missing >= 1 else ""
                details.append(
                    f"{d:.3f} mm between slices {m} and {m + 1} "
                    f"(at {proj[m]:.2f} mm along the normal; expected {median:.3f} mm{what})"
                )
            more = f" and {odd.size - 5} more" if odd.size > 5 else ""
            geo_warnings.append(
                "irregular slice spacing: " + "; ".join(details) + more + f". The volume uses a uniform step of {step:.3f} mm, "
                "so positions past the gap are off; check the series for missing files"
            )
        total = ipps[-1] - ipps[0]
        in_plane = total - (total @ n) * n
        if np.linalg.norm(in_plane) > 0.01 * max(1.0, abs(step)):
            shear = in_plane / (count - 1)
            tilt = math.degrees(math.atan2(float(np.linalg.norm(shear)), step))
            declared = sorted_recs[0].file.tags.get("GantryDetectorTilt")
            geo_warnings.append(
                f"gantry tilt of {tilt:.2f} degrees detected from ImagePositionPatient"
                + (f" (GantryDetectorTilt = {declared})" if declared is not None else "")
                + "; slices are sheared: load(..., correct_tilt=True) resamples onto an orthogonal grid"
            )
    geo = Geometry(
        origin=ipps[0].copy(),
        spacing=(col_sp, row_sp, float(step)),
        direction=np.column_stack([r, c, n]),
        tilt_deg=tilt,
        shear=shear,
        warnings=geo_warnings,
    )
    return sorted_recs, geo, notes
