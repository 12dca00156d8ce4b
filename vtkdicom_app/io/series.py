"""Group frame records into stacks and compute each stack's patient geometry.

Rules (docs/ARCHITECTURE.md, "Geometry rules" and "From files to a volume"):

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
from collections.abc import Sequence
from typing import Any

import numpy as np

from vtkdicom_app.errors import GeometryError
from vtkdicom_app.io.records import FrameRecord, declared_slice_step, first_number
from vtkdicom_app.notices import Notice, NoticeCode, notice

__all__ = ["Stack", "Geometry", "group_records", "compute_geometry"]

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
        "time", "echo", "diffusion" or "index" when this stack is one volume of a 4D series.
    sequence_value : float or None
        The volume's value on that axis (ms, ms, s/mm2), or its index when no value tells.
    sequence_id : str
        Identifies the 4D series this volume belongs to (the ``uid`` of its SeriesInfo).
    sequence_label : str
        What tells this volume apart from the others ("b=1000, direction=(0.707, 0.707, 0)"...).
    bvalue, gradient : float or None, tuple of float or None
        Diffusion encoding of the volume (gradient in LPS), when it has one.
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
    sequence_id: str = ""
    sequence_label: str = ""

    @property
    def bvalue(self) -> float | None:
        """Diffusion b-value of this volume (s/mm2), None outside a diffusion series."""
        if self.sequence_axis != "diffusion":
            return None
        return first_number(_attr(self.records[0], "DiffusionBValue"))

    @property
    def gradient(self) -> tuple[float, float, float] | None:
        """Diffusion gradient direction (LPS) of this volume, None for b = 0 or unknown."""
        if self.sequence_axis != "diffusion":
            return None
        g = _attr(self.records[0], "DiffusionGradient")
        return (float(g[0]), float(g[1]), float(g[2])) if isinstance(g, tuple) and len(g) == 3 else None

    @property
    def tags(self) -> dict[str, Any]:
        """Attributes of the first file of the stack."""
        return self.records[0].file.tags

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(k, j, i)`` of the volume this stack loads into."""
        first = self.records[0]
        return (len(self.records), first.rows, first.columns)

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


def _static_split(records: list[FrameRecord]) -> tuple[list[tuple[str, list[FrameRecord]]], str | None]:
    """Split by localizer, orientation, size and pixel spacing; return parts and the tag used."""
    keyed: dict[tuple[Any, ...], list[FrameRecord]] = defaultdict(list)
    for rec in records:
        key = (
            rec.split.get("localizer", False),
            _rounded(rec.iop, 4),
            rec.rows,
            rec.columns,
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


# Attributes that may tell apart images repeating a position, in the order they are tried
# (combined when one alone is not enough); the InstanceNumber rank at each position comes last.
_REPEAT_KEYS: tuple[str, ...] = (
    "FrameType",
    "ImageType",
    "StackID",
    "LabelType",
    "DiffusionBValue",
    "DiffusionGradient",
    "EchoNumbers",
    "EffectiveEchoTime",
    "EchoTime",
    "TemporalPositionIndex",
    "TemporalPositionIdentifier",
    "TriggerTime",
    "AcquisitionNumber",
)
_RANK = "InstanceNumber rank"
_DIFFUSION_KEYS = frozenset({"DiffusionBValue", "DiffusionGradient"})
_ECHO_KEYS = frozenset({"EchoNumbers", "EffectiveEchoTime", "EchoTime"})
_TIME_KEYS = frozenset({"TemporalPositionIndex", "TemporalPositionIdentifier", "TriggerTime", "AcquisitionNumber", _RANK})
_SHORT_NAMES = {
    "DiffusionBValue": "b",
    "DiffusionGradient": "direction",
    "LabelType": "",
    _RANK: "volume",
}


def _pos_key(rec: FrameRecord) -> tuple[int, int, int] | None:
    """Position rounded to 0.01 mm (images closer than that share a position)."""
    p = rec.ipp
    if p is None or not all(math.isfinite(v) for v in p):
        return None
    return (round(p[0] * 100), round(p[1] * 100), round(p[2] * 100))


def _attr(rec: FrameRecord, key: str) -> Any:
    """Value of a splitting attribute, hashable and rounded (None when absent)."""
    if key == _RANK:
        return None
    value = rec.split.get(key)
    if value is None and key not in _DIFFUSION_KEYS and key != "LabelType":
        value = rec.file.tags.get(key)
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, float):
        value = round(value, 4) + 0.0
    elif isinstance(value, tuple):
        value = tuple(round(v, 4) + 0.0 if isinstance(v, float) else v for v in value)
    elif isinstance(value, bytes):
        value = None
    return value


def _repeats(records: list[FrameRecord]) -> bool:
    keys = [_pos_key(r) for r in records]
    known = [k for k in keys if k is not None]
    return len(set(known)) < len(known)


def _drop_true_duplicates(records: list[FrameRecord]) -> tuple[list[FrameRecord], list[Notice]]:
    """Drop images that repeat another's SOPInstanceUID (the same image twice)."""
    seen: dict[tuple[Any, ...], FrameRecord] = {}
    kept: list[FrameRecord] = []
    dropped: list[tuple[FrameRecord, FrameRecord]] = []
    for rec in records:
        sop = rec.file.tags.get("SOPInstanceUID")
        if not sop:
            kept.append(rec)
            continue
        key = (str(sop), rec.frame, rec.tile)
        if key in seen:
            dropped.append((seen[key], rec))
            continue
        seen[key] = rec
        kept.append(rec)
    notes: list[Notice] = []
    if dropped:
        first, gone = dropped[0]
        notes.append(
            notice(
                f"{len(dropped)} image(s) at duplicate positions dropped (same SOPInstanceUID), e.g. "
                f"{os.path.basename(gone.file.path)} repeats {os.path.basename(first.file.path)}",
                NoticeCode.DUPLICATES_DROPPED,
            )
        )
    return kept, notes


def _choose_keys(records: list[FrameRecord]) -> tuple[list[str], dict[tuple[Any, ...], list[FrameRecord]]]:
    """The attributes (in priority order, combined) that tell repeated images apart.

    An attribute is taken when it splits the images further and every part it makes is at
    least half a volume (it does not change from slice to slice within a volume, as a
    per-slice trigger or acquisition time would).
    """
    positions = [_pos_key(r) for r in records]
    n_positions = len(set(positions))
    keys: list[str] = []
    current: list[tuple[Any, ...]] = [()] * len(records)
    n_parts = 1
    distinct_pairs = n_positions  # distinct (key values, position): len(records) when nothing repeats
    for key in _REPEAT_KEYS:
        cache: dict[int, Any] = {}  # the frames of one file (mosaic tiles) share their attributes
        column = []
        for r in records:
            ident = id(r.split)
            if ident not in cache:
                cache[ident] = _attr(r, key)
            column.append(cache[ident])
        if len(set(column)) == 1:
            continue
        trial = [c + (v,) for c, v in zip(current, column)]
        counts: dict[tuple[Any, ...], int] = defaultdict(int)
        for t in trial:
            counts[t] += 1
        if len(counts) <= n_parts:
            continue
        pairs = len(set(zip(trial, positions)))
        if pairs <= distinct_pairs:
            continue  # constant at each position (one value per slice location): tells no repeat apart
        sizes = sorted(counts.values())
        if sizes[len(sizes) // 2] < max(1, n_positions // 2):
            continue  # changes within a volume (a per-slice time)
        keys.append(key)
        current, n_parts, distinct_pairs = trial, len(counts), pairs
        if pairs == len(records):
            break
    parts: dict[tuple[Any, ...], list[FrameRecord]] = defaultdict(list)
    for t, rec in zip(current, records):
        parts[t].append(rec)
    return keys, dict(parts)


def _rank_split(records: list[FrameRecord]) -> tuple[list[list[FrameRecord]], list[tuple[FrameRecord, FrameRecord]]]:
    """Volumes told apart by InstanceNumber only; images with equal numbers are duplicates.

    When the numbers run volume after volume (the two lowest are at different positions, as
    GE and most scanners number an fMRI run), images are taken in InstanceNumber order and a
    new volume starts where a position comes back: a missing image then leaves its own
    volume incomplete instead of shifting the later volumes. Otherwise (numbers running
    position after position) volume ``n`` is the ``n``-th number at each position.
    """
    ordered = sorted(records, key=lambda r: (r.instance, r.file.path, r.frame))
    dups: list[tuple[FrameRecord, FrameRecord]] = []
    unique: list[FrameRecord] = []
    last_at: dict[Any, FrameRecord] = {}
    for rec in ordered:
        key = _pos_key(rec)
        prev = last_at.get(key)
        if prev is not None and prev.instance == rec.instance:
            dups.append((prev, rec))
            continue
        last_at[key] = rec
        unique.append(rec)
    if len(unique) >= 2 and _pos_key(unique[0]) != _pos_key(unique[1]):
        volumes: list[list[FrameRecord]] = [[]]
        seen: set[Any] = set()
        for rec in unique:
            key = _pos_key(rec)
            if key in seen:
                volumes.append([])
                seen = set()
            volumes[-1].append(rec)
            seen.add(key)
        return volumes, dups
    by_pos: dict[Any, list[FrameRecord]] = defaultdict(list)
    for rec in unique:
        by_pos[_pos_key(rec)].append(rec)
    ranked: dict[int, list[FrameRecord]] = defaultdict(list)
    for recs in by_pos.values():
        for n, r in enumerate(recs):
            ranked[n].append(r)
    return [ranked[n] for n in sorted(ranked)], dups


@dataclasses.dataclass
class _Volume:
    """One candidate volume of a series whose images repeat positions."""

    records: list[FrameRecord]
    values: dict[str, Any]
    rank: int = 0

    @property
    def positions(self) -> frozenset[Any]:
        return frozenset(_pos_key(r) for r in self.records)

    @property
    def first_instance(self) -> int:
        return min(r.instance for r in self.records)

    def label(self, keys: list[str]) -> str:
        bits = []
        for key in keys:
            value: Any = self.rank + 1 if key == _RANK else self.values.get(key)
            name = _SHORT_NAMES.get(key, key)
            if key == "DiffusionGradient" and value is not None:
                text = "(" + ", ".join(f"{v:.3g}" for v in value) + ")"
            elif isinstance(value, float):
                text = f"{value:g}"
            else:
                text = _describe(value) if value is not None else "none"
            bits.append(f"{name}={text}" if name else text)
        return ", ".join(bits)


def _sort_key(vol: _Volume, keys: list[str]) -> tuple[Any, ...]:
    out: list[Any] = []
    for key in keys:
        if key == _RANK:
            out.append((0, vol.rank))
            continue
        if key == "DiffusionGradient":  # acquisition order within a b-value
            out.append((0, vol.first_instance))
            continue
        value = vol.values.get(key)
        if key in ("ImageType", "FrameType") and isinstance(value, tuple) and value:
            # original images before derived ones (a trace or ADC volume in a DWI series)
            out.append((0 if str(value[0]).upper() == "ORIGINAL" else 1, _describe(value)))
            continue
        if value is None:
            out.append((-1, 0))
        elif isinstance(value, (int, float)):
            out.append((0, float(value)))
        else:
            out.append((1, _describe(value)))
    out.append((0, vol.first_instance))
    return tuple(out)


def _axis_of(keys: list[str]) -> str:
    ks = set(keys)
    if ks & _DIFFUSION_KEYS:
        return "diffusion"
    if ks and ks <= _ECHO_KEYS:
        return "echo"
    if ks and ks <= _TIME_KEYS:
        return "time"
    return "index"


def _axis_values(axis: str, volumes: list[_Volume]) -> list[float]:
    """Each volume's value on the fourth axis (ms, ms, s/mm2; the index where nothing tells)."""
    n = len(volumes)
    if axis == "diffusion":
        return [float(first_number(_attr(v.records[0], "DiffusionBValue")) or 0.0) for v in volumes]
    if axis == "echo":
        for key in ("EchoTime", "EffectiveEchoTime", "EchoNumbers"):
            vals = [first_number(_attr(v.records[0], key)) for v in volumes]
            if all(x is not None for x in vals) and len(set(vals)) == n:
                return [float(x) for x in vals]  # type: ignore[arg-type]
        return [float(t) for t in range(n)]
    if axis == "time":
        trig = []
        for v in volumes:
            ts = [first_number(_attr(r, "TriggerTime")) for r in v.records]
            known = [t for t in ts if t is not None]
            trig.append(float(np.median(known)) if len(known) == len(ts) and known else None)
        if all(t is not None for t in trig) and len({round(t, 3) for t in trig}) == n:  # type: ignore[arg-type]
            return [float(t) for t in trig]  # type: ignore[arg-type]
        tr = first_number(volumes[0].records[0].file.tags.get("RepetitionTime"))
        if tr is not None and tr > 0:
            return [round(t * tr, 6) for t in range(n)]
    return [float(t) for t in range(n)]


def _split_repeats(
    records: list[FrameRecord],
) -> tuple[list[_Volume], list[str], list[str]]:
    """Volumes of a stack whose images repeat positions, the keys that told them apart, notes."""
    notes: list[str] = []
    keys, parts = _choose_keys(records)
    volumes: list[_Volume] = []
    rank_used = False
    all_dups: list[tuple[FrameRecord, FrameRecord]] = []
    for keyvals, recs in parts.items():
        values = dict(zip(keys, keyvals))
        if _repeats(recs):
            ranked, dups = _rank_split(recs)
            all_dups.extend(dups)
            if len(ranked) > 1:
                rank_used = True
            for n, sub in enumerate(ranked):
                volumes.append(_Volume(sub, values, n))
        else:
            volumes.append(_Volume(recs, values))
    if rank_used:
        keys = keys + [_RANK]
    if all_dups:
        kept, gone = all_dups[0]
        notes.append(
            notice(
                f"{len(all_dups)} image(s) at duplicate positions dropped (same position and InstanceNumber, nothing "
                f"else tells them apart), e.g. {os.path.basename(gone.file.path)} repeats {os.path.basename(kept.file.path)}",
                NoticeCode.DUPLICATES_DROPPED,
            )
        )
    volumes.sort(key=lambda v: _sort_key(v, keys))
    return volumes, keys, notes


def _missing_positions(vol: _Volume, reference: frozenset[Any], normal_of: FrameRecord) -> str:
    """Where a volume lacks slices, as mm along the normal."""
    missing = sorted(reference - vol.positions, key=lambda p: p if p is not None else (0, 0, 0))
    iop = normal_of.iop
    if iop is None or not missing or missing[0] is None:
        return f"{len(missing)} slice(s)"
    n = np.cross(np.asarray(iop[:3]), np.asarray(iop[3:]))
    where = sorted(float(np.dot(np.asarray(p) / 100.0, n)) for p in missing if p is not None)
    shown = ", ".join(f"{w:.2f}" for w in where[:5]) + (" ..." if len(where) > 5 else "")
    return f"{len(missing)} slice(s), at {shown} mm along the normal"


def _series_groups(records: list[FrameRecord]) -> dict[tuple[str, Any], list[FrameRecord]]:
    """Records by (SeriesInstanceUID, SeriesNumber)."""
    out: dict[tuple[str, Any], list[FrameRecord]] = defaultdict(list)
    for rec in records:
        uid = str(rec.file.tags.get("SeriesInstanceUID") or "")
        if not uid:
            # No SeriesInstanceUID: files of one folder form one series.
            uid = "unknown:" + os.path.dirname(rec.file.path)
        number = rec.file.tags.get("SeriesNumber")
        if isinstance(number, (tuple, list)):
            number = number[0] if number else None
        out[(uid, number if isinstance(number, (int, float)) else None)].append(rec)
    return out


@dataclasses.dataclass
class _Part:
    label: str
    records: list[FrameRecord]
    tag: str | None
    axis: str | None = None
    value: float | None = None
    seq_label: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)
    in_sequence: bool = False


def _parts_of_group(recs: list[FrameRecord]) -> tuple[list[_Part], list[str]]:
    """Split one series group into 3D parts; mark those forming a 4D sequence."""
    group_notes: list[str] = []
    parts, static_tag = _static_split(recs)
    out: list[_Part] = []
    for label, part in parts:
        if any(r.ipp is None for r in part) or not _repeats(part):
            out.append(_Part(label, part, static_tag if label else None))
            continue
        # a copy of an image repeats its position too: only then are SOPInstanceUIDs compared
        part, dup_notes = _drop_true_duplicates(part)
        group_notes.extend(dup_notes)
        if not _repeats(part):
            out.append(_Part(label, part, static_tag if label else None))
            continue
        volumes, keys, notes = _split_repeats(part)
        group_notes.extend(notes)
        if len(volumes) == 1:
            out.append(_Part(label, volumes[0].records, static_tag if label else None))
            continue
        counts: dict[frozenset[Any], int] = defaultdict(int)
        for v in volumes:
            counts[v.positions] += 1
        reference = max(counts, key=lambda s: (counts[s], len(s)))
        members = [v for v in volumes if v.positions == reference or len(v.positions) == len(reference)]
        tag = ", ".join(x for x in (static_tag if label else None, " + ".join(keys)) if x)
        if len(members) < 2:
            for v in volumes:
                sub = v.label(keys)
                out.append(_Part(", ".join(x for x in (label, sub) if x), v.records, tag))
            continue
        axis = _axis_of(keys)
        values = _axis_values(axis, members)
        seq_notes: list[str] = []
        if _RANK in keys:
            declared = first_number(members[0].records[0].file.tags.get("NumberOfTemporalPositions"))
            if declared is not None and int(declared) != len(members):
                seq_notes.append(
                    notice(
                        f"volumes told apart by InstanceNumber only: {len(members)} found, but NumberOfTemporalPositions "
                        f"(0020,0105) says {int(declared)}; check the series for missing or extra images",
                        NoticeCode.VOLUME_COUNT_MISMATCH,
                    )
                )
        for n, v in enumerate(volumes):
            sub = v.label(keys)
            full = ", ".join(x for x in (label, sub) if x)
            if v in members:
                continue
            if v.positions < reference:
                what = _missing_positions(v, reference, v.records[0])
                msg = notice(
                    f"volume '{sub}' ({n + 1} of {len(volumes)}) lacks {what}; it is left out of the 4D series, "
                    f"which keeps the {len(members)} complete volumes",
                    NoticeCode.VOLUME_LEFT_OUT,
                )
            else:
                msg = notice(
                    f"volume '{sub}' covers other positions than the rest of the 4D series; loaded as a separate stack",
                    NoticeCode.SEPARATE_STACK,
                )
            seq_notes.append(msg)
            out.append(_Part(full, v.records, tag, notes=[msg]))
        for n, v in enumerate(members):
            sub = v.label(keys)
            out.append(
                _Part(
                    ", ".join(x for x in (label, sub) if x),
                    v.records,
                    tag,
                    axis=axis,
                    value=values[n],
                    seq_label=sub,
                    notes=list(seq_notes),
                    in_sequence=True,
                )
            )
    return out, group_notes


def group_records(records: list[FrameRecord]) -> list[Stack]:
    """Group frame records into stacks (one per volume), sorted and with geometry.

    Records are grouped by SeriesInstanceUID and SeriesNumber; each group is split by
    localizer flag, orientation, size and pixel spacing; images repeating positions are
    told apart by the first attributes that do so (combined where one is not enough),
    else by the rank of their InstanceNumber at each position, and become the volumes of a
    4D series (never dropped).

    Parameters
    ----------
    records : list of FrameRecord
        Image frames from any number of files and series.

    Returns
    -------
    list of Stack
        Ordered by SeriesNumber, then SeriesInstanceUID, then the 4D order or size.
    """
    groups = _series_groups(records)
    per_uid: dict[str, int] = defaultdict(int)
    built: list[tuple[str, Any, list[_Part], list[str]]] = []
    for (series_uid, number), recs in groups.items():
        parts, notes = _parts_of_group(recs)
        per_uid[series_uid] += len(parts)
        built.append((series_uid, number, parts, notes))
    counters: dict[str, int] = defaultdict(int)
    stacks: list[Stack] = []
    for series_uid, _number, parts, notes in built:
        sequence = [p for p in parts if p.in_sequence]
        others = [p for p in parts if not p.in_sequence]
        others.sort(key=lambda p: -len(p.records))
        ordered = sequence + others
        split = per_uid[series_uid] > 1
        sequence_id = ""
        for part in ordered:
            counters[series_uid] += 1
            uid = f"{series_uid}#{counters[series_uid]}" if split else series_uid
            if part.in_sequence and not sequence_id:
                # the 4D series is named by its SeriesInstanceUID unless that UID spans several SeriesNumbers
                sequence_id = series_uid if sum(1 for b in built if b[0] == series_uid) == 1 else uid
            stack = Stack(
                uid=uid,
                series_uid=series_uid,
                label=part.label,
                records=part.records,
                is_localizer=bool(part.records[0].split.get("localizer")),
            )
            stack.warnings.extend(notes)
            stack.warnings.extend(part.notes)
            if part.in_sequence:
                stack.sequence_axis = part.axis
                stack.sequence_value = part.value
                stack.sequence_id = sequence_id
                stack.sequence_label = part.seq_label
            elif len(parts) > 1:
                stack.warnings.append(
                    notice(
                        f"series {series_uid} split into {len(parts)} stacks by {part.tag or 'attributes'}; "
                        f"this one ({part.label or 'main'}) has {len(part.records)} images",
                        NoticeCode.SERIES_SPLIT,
                    )
                )
            try:
                stack.records, stack.geometry, geo_notes = compute_geometry(part.records)
                stack.warnings.extend(geo_notes)
            except GeometryError as exc:
                stack.error = str(exc)
                stack.warnings.append(notice(str(exc), NoticeCode.GEOMETRY_INVALID))
            stacks.append(stack)

    def order(s: Stack) -> tuple[Any, ...]:
        number = s.tags.get("SeriesNumber")
        try:
            num = int(number) if number is not None else 1 << 30
        except (TypeError, ValueError):
            num = 1 << 30
        return (num, s.series_uid)

    stacks.sort(key=order)  # stable: keeps the 4D order, then size, inside a series
    return stacks


def _check_orientation(iop: tuple[float, ...], path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vals = np.asarray(iop, dtype=np.float64)
    if vals.shape != (6,) or not np.all(np.isfinite(vals)):
        raise GeometryError(f"ImageOrientationPatient (0020,0037) in {path} is not six finite numbers: {iop}")
    r, c = vals[:3], vals[3:]
    nr, nc = float(np.linalg.norm(r)), float(np.linalg.norm(c))
    if abs(nr - 1) > _ORIENTATION_TOL or abs(nc - 1) > _ORIENTATION_TOL:
        raise GeometryError(f"ImageOrientationPatient (0020,0037) in {path} is not made of unit vectors (|row| = {nr:.4f}, |column| = {nc:.4f})")
    if abs(float(r @ c)) > _ORIENTATION_TOL:
        angle = math.degrees(math.acos(max(-1.0, min(1.0, float(r @ c) / (nr * nc)))))
        raise GeometryError(f"ImageOrientationPatient (0020,0037) in {path} is not orthogonal: the row and column directions are {angle:.2f} degrees apart")
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


def _projection_spacing(rec: FrameRecord) -> tuple[float, float, str | None]:
    """Pixel spacing of an image without patient geometry (CR, DX, secondary capture).

    PixelSpacing when valid, else ImagerPixelSpacing (0018,1164) (the detector's, as
    projection radiographs give it), else 1 mm with a note.
    """
    for key, value in (("PixelSpacing", rec.pixel_spacing), ("ImagerPixelSpacing", rec.file.tags.get("ImagerPixelSpacing"))):
        if isinstance(value, (tuple, list)) and len(value) == 2:
            try:
                a, b = float(value[0]), float(value[1])
            except (TypeError, ValueError):
                continue
            if math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0:
                note = None
                if key != "PixelSpacing" and rec.pixel_spacing is not None:
                    note = notice(
                        f"PixelSpacing (0028,0030) in {os.path.basename(rec.file.path)} is "
                        f"{_describe(tuple(rec.pixel_spacing))}; using ImagerPixelSpacing {a:g}\\{b:g}",
                        NoticeCode.SPACING_FALLBACK,
                    )
                return a, b, note
    given = _describe(tuple(rec.pixel_spacing)) if rec.pixel_spacing is not None else "missing"
    return (
        1.0,
        1.0,
        notice(
            f"PixelSpacing (0028,0030) in {os.path.basename(rec.file.path)} is {given} and there is no ImagerPixelSpacing: "
            "pixels are shown 1 mm square and distances are not in mm",
            NoticeCode.SPACING_FALLBACK,
        ),
    )


def _fallback_slice_step(rec: FrameRecord) -> float:
    return declared_slice_step(rec) or 1.0


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
    have_geometry = all(r.ipp is not None and r.iop is not None for r in records)
    spacing_note = None
    if have_geometry:
        row_sp, col_sp = _pixel_spacing(first)
    else:
        row_sp, col_sp, spacing_note = _projection_spacing(first)
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
                notice(
                    f"{missing} of {len(records)} images lack ImagePositionPatient/ImageOrientationPatient: "
                    "geometry unknown (slices ordered by InstanceNumber, identity orientation); "
                    "mesh export refuses this volume without --force",
                    NoticeCode.GEOMETRY_UNKNOWN,
                )
            )
        if first.ipp is not None and first.iop is not None and len(records) == 1:
            r, c, n = _check_orientation(first.iop, first.file.path)
            geo = Geometry(origin=np.asarray(first.ipp), spacing=(col_sp, row_sp, step), direction=np.column_stack([r, c, n]))
        if spacing_note:
            geo.warnings.insert(0, spacing_note)
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
            notice(
                f"{len(dropped)} image(s) at duplicate positions dropped, e.g. {os.path.basename(gone.file.path)} "
                f"repeats the position of {os.path.basename(kept.file.path)} "
                f"({_describe(tuple(round(v, 3) for v in gone.ipp))})",  # type: ignore[union-attr]
                NoticeCode.DUPLICATES_DROPPED,
            )
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
                details.append(f"{d:.3f} mm between slices {m} and {m + 1} (at {proj[m]:.2f} mm along the normal; expected {median:.3f} mm{what})")
            more = f" and {odd.size - 5} more" if odd.size > 5 else ""
            geo_warnings.append(
                notice(
                    "irregular slice spacing: " + "; ".join(details) + more + f". The volume uses a uniform step of "
                    f"{step:.3f} mm, so positions past the gap are off; check the series for missing files",
                    NoticeCode.IRREGULAR_SPACING,
                )
            )
        total = ipps[-1] - ipps[0]
        in_plane = total - (total @ n) * n
        if np.linalg.norm(in_plane) > 0.01 * max(1.0, abs(step)):
            shear = in_plane / (count - 1)
            tilt = math.degrees(math.atan2(float(np.linalg.norm(shear)), step))
            declared = sorted_recs[0].file.tags.get("GantryDetectorTilt")
            geo_warnings.append(
                notice(
                    f"gantry tilt of {tilt:.2f} degrees detected from ImagePositionPatient"
                    + (f" (GantryDetectorTilt = {declared})" if declared is not None else "")
                    + "; slices are sheared: load(..., correct_tilt=True) resamples onto an orthogonal grid",
                    NoticeCode.GANTRY_TILT,
                )
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
