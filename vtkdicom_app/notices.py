"""Typed warning records: what went wrong, of which kind, in words.

A :class:`Notice` is created where a problem is found (a skipped file, a gap between slices,
a volume left out of a 4D series) and carries its :class:`NoticeCode` and the warning
category it is emitted with. Code that later emits, filters or groups notices reads those
fields; it never guesses the kind of a problem from the text of its message.

A Notice *is* its message (a ``str`` subclass), so ``Volume.warnings`` and
``SeriesInfo.warnings`` stay plain lists of strings for every existing caller, while
``notice.code`` and ``notice.category`` are there for code that needs them::

    >>> n = Notice("2 file(s) skipped", NoticeCode.FILES_SKIPPED, SkippedFileWarning)
    >>> n == "2 file(s) skipped", n.code.value, n.category.__name__
    (True, 'files_skipped', 'SkippedFileWarning')
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from vtkdicom_app.errors import (
    GeometryWarning,
    SeriesSplitWarning,
    SkippedFileWarning,
    VtkDicomWarning,
)

__all__ = ["Notice", "NoticeCode", "as_notice", "emit"]


class NoticeCode(str, enum.Enum):
    """What a :class:`Notice` is about (a str enum: equal to its value)."""

    # files
    NO_FILE_META = "no_file_meta"  #: read without preamble or file meta information
    FILES_SKIPPED = "files_skipped"  #: files that look like DICOM but could not be used
    FILE_NOTE = "file_note"  #: another remark about one file (e.g. a mosaic header fallback)
    DECODE_FAILED = "decode_failed"  #: slices that could not be decoded and were filled
    # series structure
    SERIES_SPLIT = "series_split"  #: one SeriesInstanceUID split into several stacks
    DUPLICATES_DROPPED = "duplicates_dropped"  #: images at repeated positions dropped
    VOLUME_LEFT_OUT = "volume_left_out"  #: an incomplete volume left out of a 4D series
    SEPARATE_STACK = "separate_stack"  #: a volume covering other positions, loaded apart
    VOLUME_COUNT_MISMATCH = "volume_count_mismatch"  #: NumberOfTemporalPositions disagrees
    # geometry
    GEOMETRY_UNKNOWN = "geometry_unknown"  #: no ImagePositionPatient/ImageOrientationPatient
    GEOMETRY_INVALID = "geometry_invalid"  #: a stack whose geometry could not be computed
    IRREGULAR_SPACING = "irregular_spacing"  #: gaps or uneven steps between slices
    GANTRY_TILT = "gantry_tilt"  #: sheared slices
    TILT_CORRECTED = "tilt_corrected"  #: a sheared stack resampled onto an orthogonal grid
    SPACING_FALLBACK = "spacing_fallback"  #: pixel spacing from another tag, or 1 mm
    # requests
    ROI_ADJUSTED = "roi_adjusted"  #: a crop box clipped to the volume or taken in index space
    SEQUENCE_VOLUME_LOADED = "sequence_volume_loaded"  #: one volume of a 4D series loaded as 3D
    SEGMENTATION = "segmentation"  #: a DICOM SEG file: listed with the series it segments
    OTHER = "other"


class Notice(str):
    """A warning message with its code and category (a ``str`` equal to the message).

    Parameters
    ----------
    message : str
        The sentence shown to people.
    code : NoticeCode
        What the message is about.
    category : type of Warning, optional
        The class it is emitted with; default :class:`~vtkdicom_app.errors.VtkDicomWarning`.
    """

    code: NoticeCode
    category: type[Warning]

    def __new__(cls, message: str, code: NoticeCode = NoticeCode.OTHER, category: type[Warning] | None = None) -> Notice:
        """A new Notice; see the class for the parameters."""
        self = super().__new__(cls, message)
        self.code = NoticeCode(code)
        self.category = category if category is not None else VtkDicomWarning
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled (Dask batches) with its fields, not as a bare str
        return (Notice, (str(self), self.code, self.category))

    @property
    def message(self) -> str:
        """The message as a plain ``str``."""
        return str(self)

    def __repr__(self) -> str:
        return f"Notice({str(self)!r}, {self.code.name}, {self.category.__name__})"


#: default category of each code, used by :func:`as_notice` and by ``Notice(message, code)``
#: callers that want the usual one.
CATEGORY: dict[NoticeCode, type[Warning]] = {
    NoticeCode.NO_FILE_META: VtkDicomWarning,
    NoticeCode.FILES_SKIPPED: SkippedFileWarning,
    NoticeCode.FILE_NOTE: VtkDicomWarning,
    NoticeCode.DECODE_FAILED: SkippedFileWarning,
    NoticeCode.SERIES_SPLIT: SeriesSplitWarning,
    NoticeCode.DUPLICATES_DROPPED: SeriesSplitWarning,
    NoticeCode.VOLUME_LEFT_OUT: SeriesSplitWarning,
    NoticeCode.SEPARATE_STACK: SeriesSplitWarning,
    NoticeCode.VOLUME_COUNT_MISMATCH: SeriesSplitWarning,
    NoticeCode.GEOMETRY_UNKNOWN: GeometryWarning,
    NoticeCode.GEOMETRY_INVALID: GeometryWarning,
    NoticeCode.IRREGULAR_SPACING: GeometryWarning,
    NoticeCode.GANTRY_TILT: GeometryWarning,
    NoticeCode.TILT_CORRECTED: GeometryWarning,
    NoticeCode.SPACING_FALLBACK: GeometryWarning,
    NoticeCode.ROI_ADJUSTED: VtkDicomWarning,
    NoticeCode.SEQUENCE_VOLUME_LOADED: VtkDicomWarning,
    NoticeCode.SEGMENTATION: VtkDicomWarning,
    NoticeCode.OTHER: VtkDicomWarning,
}


def notice(message: str, code: NoticeCode) -> Notice:
    """A :class:`Notice` with the usual category of ``code``."""
    return Notice(message, code, CATEGORY[code])


def as_notice(message: str, code: NoticeCode = NoticeCode.OTHER) -> Notice:
    """``message`` itself when it is already a Notice, else a Notice of ``code``."""
    return message if isinstance(message, Notice) else notice(message, code)


def emit(notices: Iterable[str], *, stacklevel: int = 2) -> None:
    """Emit each notice once with :func:`warnings.warn`, with its own category."""
    import warnings

    seen: set[str] = set()
    for n in notices:
        if n in seen:
            continue
        seen.add(n)
        warnings.warn(str(n), as_notice(n).category, stacklevel=stacklevel + 1)
