"""The segmentation model: named, coloured, possibly overlapping segments on one voxel grid.

Qt-free. The viewer, the command line and scripts edit it through the functions of
:mod:`vtkdicom_app.segmentation.tools` (or :meth:`SegmentationModel.write`), subscribe to its
changes with :meth:`SegmentationModel.subscribe`, and undo and redo whole tool calls.

Memory
------
Each segment is one ``bool`` array of the grid's shape (one byte per voxel: 79 MB for a
512x512x300 CT, half the CT's own int16 voxels). Bit-packing would be 8x smaller but every
tool, overlay and surface would pay an unpack of the whole mask (~30 ms for that grid) first;
a handful of segments is the normal case, so masks stay unpacked and overlapping segments
need no layers. Undo records are packed.

Undo
----
A tool call is one step. A step stores, per changed segment, the XOR of the mask before and
after over the tightest box of the change, bit-packed (``numpy.packbits``): applying it again
swaps before and after, so one record serves undo and redo. A brush stroke costs a few
hundred bytes; a full-volume threshold on a 512x512x300 grid ~10 MB. Steps are dropped,
oldest first, past ``undo_budget_bytes`` (default 256 MiB).

Not thread-safe: edit it from one thread. A worker that reads a mask takes a copy and the
segment's :meth:`SegmentationModel.revision`, and throws its result away when the revision
has moved on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from vtkdicom_app.segmentation.geometry import Box, Geometry, GridMismatchError, SegmentationError

if TYPE_CHECKING:  # pragma: no cover
    from vtkdicom_app.volume import Volume

__all__ = [
    "Segment",
    "SegmentationModel",
    "SegmentationEvent",
    "EventKind",
    "Mode",
    "DEFAULT_UNDO_BUDGET",
    "DEFAULT_COLORS",
    "SegmentationError",
    "GridMismatchError",
]

#: Default byte budget of the undo history.
DEFAULT_UNDO_BUDGET = 256 * 1024 * 1024

#: Colours given to new segments in turn (RGB 0..1): Slicer's first generic anatomy colours.
DEFAULT_COLORS: tuple[tuple[float, float, float], ...] = (
    (0.945, 0.839, 0.569),  # bone
    (0.502, 0.682, 0.502),  # tissue
    (0.847, 0.396, 0.310),  # red
    (0.345, 0.416, 0.843),  # blue
    (0.863, 0.753, 0.235),  # yellow
    (0.435, 0.722, 0.824),  # cyan
    (0.729, 0.439, 0.765),  # violet
    (0.933, 0.592, 0.286),  # orange
)


class Mode(enum.Enum):
    """How a tool's result combines with what the segment holds."""

    REPLACE = "replace"  # the segment becomes the result
    ADD = "add"  # union
    SUBTRACT = "subtract"  # the result is removed from the segment
    INTERSECT = "intersect"  # only what is in both stays


class EventKind(enum.Enum):
    """What a :class:`SegmentationEvent` reports."""

    SEGMENT_ADDED = "segment_added"
    SEGMENT_REMOVED = "segment_removed"
    SEGMENT_PROPERTIES = "segment_properties"  # name, colour, visibility or tags
    MASK_CHANGED = "mask_changed"  # voxels of a segment changed, inside ``box``
    HISTORY = "history"  # a step was recorded, undone or redone (undo/redo availability)


@dataclasses.dataclass(frozen=True)
class SegmentationEvent:
    """One change of a :class:`SegmentationModel`, sent to its listeners after the change.

    Attributes
    ----------
    kind : EventKind
    segment_id : str or None
    box : Box or None
        For MASK_CHANGED: the index box the change lies in (redraw only that).
    description : str
        The step's description ("threshold", "paint", "undo paint", ...).
    """

    kind: EventKind
    segment_id: str | None = None
    box: Box | None = None
    description: str = ""


Listener = Callable[[SegmentationEvent], None]


@dataclasses.dataclass(frozen=True)
class Segment:
    """A segment's properties (its voxels are held by the model: :meth:`SegmentationModel.mask`).

    Attributes
    ----------
    segment_id : str
        Unique within the model, stable when the name changes (Slicer's ``SegmentN_ID``).
    name : str
        Display name.
    color : tuple of float
        RGB in 0..1.
    visible : bool
    tags : dict of str to str
        Free key-value pairs (Slicer's ``SegmentN_Tags``, e.g. a TerminologyEntry).
    """

    segment_id: str
    name: str
    color: tuple[float, float, float]
    visible: bool = True
    tags: dict[str, str] = dataclasses.field(default_factory=dict, compare=False, hash=False)


def _check_color(color: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(c) for c in color)
    if len(values) != 3 or not all(0.0 <= c <= 1.0 for c in values):
        raise SegmentationError(f"colour {tuple(color)!r} must be three numbers 0..1 (R, G, B); for 0..255 values divide by 255")
    return (values[0], values[1], values[2])


# ----------------------------------------------------------------------------- undo records
@dataclasses.dataclass
class _MaskDelta:
    """XOR of a mask before and after a change, over a box, bit-packed."""

    segment_id: str
    box: Box
    packed: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.packed.nbytes) + 64

    def toggle(self, mask: np.ndarray) -> None:
        bits = np.unpackbits(self.packed, count=self.box.size).view(bool).reshape(self.box.shape)
        np.bitwise_xor(mask[self.box.slices], bits, out=mask[self.box.slices])


@dataclasses.dataclass
class _SegmentRecord:
    """A segment added (``added`` True) or removed, with its voxels and its place in the list."""

    added: bool
    index: int
    segment: Segment
    box: Box | None
    packed: np.ndarray | None

    @property
    def nbytes(self) -> int:
        return (0 if self.packed is None else int(self.packed.nbytes)) + 256


@dataclasses.dataclass
class _PropertyRecord:
    before: Segment
    after: Segment

    @property
    def nbytes(self) -> int:
        return 256


_Record = _MaskDelta | _SegmentRecord | _PropertyRecord


@dataclasses.dataclass
class _Step:
    description: str
    records: list[_Record]

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.records)


def _add(a: Sequence[int], b: Sequence[int]) -> tuple[int, int, int]:
    return (int(a[0]) + int(b[0]), int(a[1]) + int(b[1]), int(a[2]) + int(b[2]))


def _pack(mask_box: np.ndarray) -> np.ndarray:
    return np.packbits(mask_box.view(np.uint8), axis=None)


# ----------------------------------------------------------------------------- the model
class SegmentationModel:
    """Segments on one grid, with undo/redo and change events.

    Parameters
    ----------
    geometry : Geometry
        The grid (normally the source volume's: :meth:`from_volume`).
    volume : Volume, optional
        The image the segments are drawn on (threshold and seed tools read its values).
    undo_budget_bytes : int
        Most bytes the undo history may hold; older steps are dropped past it. 0 disables undo.

    Examples
    --------
    >>> from vtkdicom_app.segmentation import SegmentationModel, tools
    >>> model = SegmentationModel.from_volume(vol)                          # doctest: +SKIP
    >>> bone = model.add_segment("bone")                                    # doctest: +SKIP
    >>> tools.threshold(model, bone.segment_id, 300)                        # doctest: +SKIP
    >>> model.undo()                                                        # doctest: +SKIP
    'threshold'
    """

    def __init__(self, geometry: Geometry, *, volume: Volume | None = None, undo_budget_bytes: int = DEFAULT_UNDO_BUDGET) -> None:
        self.geometry = geometry
        self._volume: Volume | None = None
        if volume is not None:
            self.volume = volume
        self._segments: dict[str, Segment] = {}
        self._masks: dict[str, np.ndarray] = {}
        self._revisions: dict[str, int] = {}
        self._extent: dict[str, Box | None] = {}  # a box holding every voxel of the segment (None: empty)
        self._listeners: list[Listener] = []
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._budget = int(undo_budget_bytes)
        self._open: list[_Step] = []  # transactions in progress (nested ones join the outer one)
        self._ids = itertools.count(1)
        self._generation = 0

    @classmethod
    def from_volume(cls, vol: Volume, *, undo_budget_bytes: int = DEFAULT_UNDO_BUDGET) -> SegmentationModel:
        """An empty model on a volume's grid, keeping the volume for the value-based tools."""
        if vol.array.ndim != 3:
            raise SegmentationError(f"a segmentation needs a grey-scale volume; this one has shape {vol.array.shape} (colour?)")
        return cls(Geometry.from_volume(vol), volume=vol, undo_budget_bytes=undo_budget_bytes)

    # ------------------------------------------------------------------ the image
    @property
    def volume(self) -> Volume | None:
        """The image the segments are drawn on (None: only geometry)."""
        return self._volume

    @volume.setter
    def volume(self, vol: Volume | None) -> None:
        if vol is not None:
            self.geometry.require_same(Geometry.from_volume(vol), what="the volume")
        self._volume = vol

    # ------------------------------------------------------------------ events
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, event: SegmentationEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # ------------------------------------------------------------------ segments
    @property
    def segments(self) -> list[Segment]:
        """The segments, in order."""
        return list(self._segments.values())

    @property
    def segment_ids(self) -> list[str]:
        """Their IDs, in order."""
        return list(self._segments)

    def __len__(self) -> int:
        return len(self._segments)

    def __contains__(self, segment_id: object) -> bool:
        return segment_id in self._segments

    def segment(self, segment_id: str) -> Segment:
        """The segment with this ID (or, failing that, the only one with this name)."""
        if segment_id in self._segments:
            return self._segments[segment_id]
        named = [s for s in self._segments.values() if s.name == segment_id]
        if len(named) == 1:
            return named[0]
        known = ", ".join(f"{s.segment_id} ({s.name})" for s in self._segments.values()) or "none"
        raise SegmentationError(f"no segment {segment_id!r}; the segmentation has: {known}")

    def _id(self, segment_id: str) -> str:
        return self.segment(segment_id).segment_id

    def mask(self, segment_id: str) -> np.ndarray:
        """A read-only view of a segment's voxels (bool, ``(k, j, i)``); copy it to keep it."""
        view = self._masks[self._id(segment_id)].view()
        view.flags.writeable = False
        return view

    def revision(self, segment_id: str) -> int:
        """A number that grows with every change of the segment's voxels."""
        return self._revisions[self._id(segment_id)]

    @property
    def generation(self) -> int:
        """A number that grows with every change of the model."""
        return self._generation

    def voxel_count(self, segment_id: str) -> int:
        """Number of voxels in the segment."""
        return int(np.count_nonzero(self._masks[self._id(segment_id)]))

    def volume_mm3(self, segment_id: str) -> float:
        """The segment's voxel volume (mm3)."""
        return self.voxel_count(segment_id) * self.geometry.voxel_volume_mm3

    def bounding_box(self, segment_id: str) -> Box | None:
        """Index box of the segment's voxels; None when it is empty."""
        sid = self._id(segment_id)
        extent = self._extent.get(sid)
        if extent is None:
            return None
        tight = Box.of_mask(self._masks[sid][extent.slices])
        exact = None if tight is None else Box(_add(extent.lo, tight.lo), _add(extent.lo, tight.hi))
        self._extent[sid] = exact
        return exact

    def _grow_extent(self, sid: str, box: Box | None) -> None:
        if box is not None:
            current = self._extent.get(sid)
            self._extent[sid] = box if current is None else current.union(box)

    def _new_id(self) -> str:
        while True:
            candidate = f"Segment_{next(self._ids)}"
            if candidate not in self._segments:
                return candidate

    def add_segment(
        self,
        name: str | None = None,
        color: Sequence[float] | None = None,
        *,
        segment_id: str | None = None,
        mask: np.ndarray | None = None,
        visible: bool = True,
        tags: dict[str, str] | None = None,
    ) -> Segment:
        """Add a segment (empty, or holding ``mask``); one undo step.

        Parameters
        ----------
        name : str, optional
            Default: its ID.
        color : sequence of 3 float, optional
            RGB 0..1; default: the next of :data:`DEFAULT_COLORS`.
        segment_id : str, optional
            Unique ID; default ``Segment_N``.
        mask : numpy.ndarray, optional
            bool (or 0/1) array of the grid's shape ``(k, j, i)``.
        visible : bool
        tags : dict, optional

        Returns
        -------
        Segment
        """
        sid = segment_id or self._new_id()
        if sid in self._segments:
            raise SegmentationError(f"segment ID {sid!r} is already used; choose another or leave it out")
        rgb = _check_color(color) if color is not None else DEFAULT_COLORS[len(self._segments) % len(DEFAULT_COLORS)]
        seg = Segment(sid, str(name) if name else sid, rgb, bool(visible), dict(tags or {}))
        data = np.zeros(self.geometry.shape, bool)
        if mask is not None:
            m = np.asarray(mask)
            if m.shape != tuple(self.geometry.shape):
                raise GridMismatchError(f"mask of shape {m.shape} does not fit the grid {tuple(self.geometry.shape)} (k, j, i)")
            np.not_equal(m, 0, out=data)
        box = Box.of_mask(data)
        record = _SegmentRecord(True, len(self._segments), seg, box, None if box is None else _pack(data[box.slices]))
        self._insert(record)
        self._record(record, f"add segment {seg.name}")
        return seg

    def remove_segment(self, segment_id: str) -> None:
        """Remove a segment; one undo step."""
        sid = self._id(segment_id)
        index = list(self._segments).index(sid)
        data = self._masks[sid]
        box = self.bounding_box(sid)
        seg = self._segments[sid]
        record = _SegmentRecord(False, index, seg, box, None if box is None else _pack(data[box.slices]))
        self._delete(sid)
        self._record(record, f"remove segment {seg.name}")

    def set_properties(
        self,
        segment_id: str,
        *,
        name: str | None = None,
        color: Sequence[float] | None = None,
        visible: bool | None = None,
        tags: dict[str, str] | None = None,
    ) -> Segment:
        """Rename, recolour, show/hide or retag a segment; one undo step.

        Returns
        -------
        Segment
            The segment's new properties.
        """
        sid = self._id(segment_id)
        before = self._segments[sid]
        after = dataclasses.replace(
            before,
            name=before.name if name is None else str(name),
            color=before.color if color is None else _check_color(color),
            visible=before.visible if visible is None else bool(visible),
            tags=dict(before.tags) if tags is None else dict(tags),
        )
        if after == before and after.tags == before.tags:
            return before
        if not after.name:
            raise SegmentationError("a segment name cannot be empty")
        self._segments[sid] = after
        self._touch()
        self._emit(SegmentationEvent(EventKind.SEGMENT_PROPERTIES, sid, None, "properties"))
        self._record(_PropertyRecord(before, after), f"properties of {after.name}")
        return after

    # ------------------------------------------------------------------ writing voxels
    def write(self, segment_id: str, box: Box, values: np.ndarray, mode: Mode = Mode.ADD, *, description: str = "edit") -> Box | None:
        """Combine ``values`` (bool, of ``box``'s shape) with the segment inside ``box``.

        With :attr:`Mode.REPLACE` the segment is cleared outside ``box`` too. One undo step
        (or part of the open :meth:`transaction`).

        Returns
        -------
        Box or None
            The tightest box of the voxels that changed; None when nothing changed.
        """
        sid = self._id(segment_id)
        if tuple(values.shape) != box.shape:
            raise ValueError(f"values of shape {values.shape} do not fit the box {box.shape}")
        mask = self._masks[sid]
        old = mask[box.slices]
        if mode is Mode.REPLACE:
            new = values.astype(bool, copy=False)
        elif mode is Mode.ADD:
            new = old | values
        elif mode is Mode.SUBTRACT:
            new = old & ~values
        else:
            new = old & values
        diff = np.not_equal(old, new)
        outside: Box | None = None
        if mode in (Mode.REPLACE, Mode.INTERSECT):
            current = self._extent.get(sid)
            if current is not None and current.intersect(box) != current:
                outside = current  # voxels outside ``box`` are cleared too
        if outside is None:
            tight = Box.of_mask(diff)
            if tight is None:
                return None
            full_box = Box(_add(box.lo, tight.lo), _add(box.lo, tight.hi))
            full_diff = diff[tight.slices]
        else:
            full_box = outside.union(box)
            full_diff = mask[full_box.slices].copy()  # cleared everywhere but in ``box``: xor = old
            inner = box.relative_to(full_box)
            full_diff[inner] = diff
            tight = Box.of_mask(full_diff)
            if tight is None:
                return None
            full_diff = full_diff[tight.slices]
            full_box = Box(_add(full_box.lo, tight.lo), _add(full_box.lo, tight.hi))
        record = _MaskDelta(sid, full_box, _pack(full_diff))
        record.toggle(mask)
        if mode is Mode.REPLACE:
            inside = Box.of_mask(new)
            self._extent[sid] = None if inside is None else Box(_add(box.lo, inside.lo), _add(box.lo, inside.hi))
        elif mode is Mode.INTERSECT:
            current = self._extent.get(sid)
            self._extent[sid] = None if current is None or current.intersect(box).empty else current.intersect(box)
        elif mode is Mode.ADD:
            self._grow_extent(sid, full_box)
        self._revisions[sid] += 1
        self._touch()
        self._emit(SegmentationEvent(EventKind.MASK_CHANGED, sid, full_box, description))
        self._record(record, description)
        return full_box

    def set_mask(self, segment_id: str, mask: np.ndarray, *, description: str = "set mask") -> Box | None:
        """Replace a segment's voxels with a whole-grid bool array; one undo step."""
        m = np.asarray(mask)
        if m.shape != tuple(self.geometry.shape):
            raise GridMismatchError(f"mask of shape {m.shape} does not fit the grid {tuple(self.geometry.shape)} (k, j, i)")
        return self.write(segment_id, Box.full(self.geometry.shape), m != 0, Mode.REPLACE, description=description)

    # ------------------------------------------------------------------ transactions, undo
    @contextlib.contextmanager
    def transaction(self, description: str) -> Iterator[None]:
        """Group every change made inside into one undo step; on an exception, undo them all.

        Nested transactions join the outermost one.
        """
        if self._open:
            yield
            return
        step = _Step(description, [])
        self._open.append(step)
        try:
            yield
        except BaseException:
            self._open.pop()
            for record in reversed(step.records):
                self._apply(record, forward=False, description=f"cancel {description}")
            raise
        self._open.pop()
        if step.records:
            self._push(step)

    def _record(self, record: _Record, description: str) -> None:
        if self._open:
            self._open[-1].records.append(record)
        else:
            self._push(_Step(description, [record]))

    def _push(self, step: _Step) -> None:
        self._redo.clear()
        self._undo.append(step)
        self._trim()
        self._emit(SegmentationEvent(EventKind.HISTORY, None, None, step.description))

    def _trim(self) -> None:
        total = sum(s.nbytes for s in self._undo) + sum(s.nbytes for s in self._redo)
        while self._undo and total > self._budget:
            total -= self._undo.pop(0).nbytes
        while self._redo and total > self._budget:
            total -= self._redo.pop(0).nbytes

    @property
    def undo_budget_bytes(self) -> int:
        """Most bytes the undo history may hold (set it to trim the history at once)."""
        return self._budget

    @undo_budget_bytes.setter
    def undo_budget_bytes(self, value: int) -> None:
        self._budget = int(value)
        self._trim()

    @property
    def history_bytes(self) -> int:
        """Bytes the undo and redo history hold now."""
        return sum(s.nbytes for s in self._undo) + sum(s.nbytes for s in self._redo)

    @property
    def can_undo(self) -> bool:
        """True when there is a step to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """True when there is a step to redo."""
        return bool(self._redo)

    @property
    def undo_description(self) -> str | None:
        """What :meth:`undo` would undo, or None."""
        return self._undo[-1].description if self._undo else None

    @property
    def redo_description(self) -> str | None:
        """What :meth:`redo` would redo, or None."""
        return self._redo[-1].description if self._redo else None

    def undo(self) -> str | None:
        """Undo the last step; returns its description (None when there is nothing to undo)."""
        if self._open:
            raise SegmentationError("cannot undo inside a transaction")
        if not self._undo:
            return None
        step = self._undo.pop()
        for record in reversed(step.records):
            self._apply(record, forward=False, description=f"undo {step.description}")
        self._redo.append(step)
        self._emit(SegmentationEvent(EventKind.HISTORY, None, None, f"undo {step.description}"))
        return step.description

    def redo(self) -> str | None:
        """Redo the last undone step; returns its description (None when there is nothing to redo)."""
        if self._open:
            raise SegmentationError("cannot redo inside a transaction")
        if not self._redo:
            return None
        step = self._redo.pop()
        for record in step.records:
            self._apply(record, forward=True, description=f"redo {step.description}")
        self._undo.append(step)
        self._emit(SegmentationEvent(EventKind.HISTORY, None, None, f"redo {step.description}"))
        return step.description

    def clear_history(self) -> None:
        """Forget every undo and redo step."""
        self._undo.clear()
        self._redo.clear()
        self._emit(SegmentationEvent(EventKind.HISTORY, None, None, "clear history"))

    # ------------------------------------------------------------------ record application
    def _touch(self) -> None:
        self._generation += 1

    def _insert(self, record: _SegmentRecord) -> None:
        seg = record.segment
        data = np.zeros(self.geometry.shape, bool)
        if record.box is not None and record.packed is not None:
            data[record.box.slices] = np.unpackbits(record.packed, count=record.box.size).view(bool).reshape(record.box.shape)
        items = list(self._segments.items())
        items.insert(record.index, (seg.segment_id, seg))
        self._segments = dict(items)
        self._masks[seg.segment_id] = data
        self._extent[seg.segment_id] = record.box
        self._revisions[seg.segment_id] = self._revisions.get(seg.segment_id, 0) + 1
        self._touch()
        self._emit(SegmentationEvent(EventKind.SEGMENT_ADDED, seg.segment_id, record.box, "add segment"))

    def _delete(self, sid: str) -> None:
        box = self._extent.pop(sid, None)
        del self._segments[sid]
        del self._masks[sid]
        self._touch()
        self._emit(SegmentationEvent(EventKind.SEGMENT_REMOVED, sid, box, "remove segment"))

    def _apply(self, record: _Record, *, forward: bool, description: str) -> None:
        if isinstance(record, _MaskDelta):
            record.toggle(self._masks[record.segment_id])
            self._grow_extent(record.segment_id, record.box)
            self._revisions[record.segment_id] += 1
            self._touch()
            self._emit(SegmentationEvent(EventKind.MASK_CHANGED, record.segment_id, record.box, description))
        elif isinstance(record, _SegmentRecord):
            if record.added == forward:
                self._insert(record)
            else:
                self._delete(record.segment.segment_id)
        else:
            seg = record.after if forward else record.before
            self._segments[seg.segment_id] = seg
            self._touch()
            self._emit(SegmentationEvent(EventKind.SEGMENT_PROPERTIES, seg.segment_id, None, description))

    # ------------------------------------------------------------------ conveniences
    def labelmap(self, segment_ids: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
        """One label per voxel: segment ``n`` of ``segment_ids`` gets label ``n + 1``.

        Returns
        -------
        (numpy.ndarray, list of str)
            uint8 (uint16 past 255 segments) ``(k, j, i)`` labels, and the IDs of the
            segments that overlap another one (empty when none do; a later segment then wins).
        """
        ids = [self._id(s) for s in (segment_ids if segment_ids is not None else self.segment_ids)]
        dtype = np.uint8 if len(ids) < 256 else np.uint16
        labels = np.zeros(self.geometry.shape, dtype)
        overlapping: list[str] = []
        for n, sid in enumerate(ids, start=1):
            mask = self._masks[sid]
            box = self.bounding_box(sid)
            if box is None:
                continue
            sub = labels[box.slices]
            m = mask[box.slices]
            if np.any(sub[m] != 0):
                overlapping.append(sid)
            sub[m] = n
        return labels, overlapping

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self._segments.values())
        return f"SegmentationModel(grid (k, j, i)={self.geometry.shape}, segments=[{names}], undo={len(self._undo)}, redo={len(self._redo)})"


def copy_model(model: SegmentationModel) -> SegmentationModel:
    """A copy of a model's segments and grid (no history, no listeners)."""
    out = SegmentationModel(model.geometry, volume=model.volume, undo_budget_bytes=model.undo_budget_bytes)
    for seg in model.segments:
        out.add_segment(seg.name, seg.color, segment_id=seg.segment_id, mask=model.mask(seg.segment_id), visible=seg.visible, tags=seg.tags)
    out.clear_history()
    return out
