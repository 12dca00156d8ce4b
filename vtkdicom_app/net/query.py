"""Queries (C-FIND / QIDO-RS filters) and their typed result records.

Pure Python: pydicom is imported only by the functions that turn a C-FIND identifier into
a record, so building a :class:`Query` costs nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any

from vtkdicom_app.net.errors import QueryFailedError

__all__ = [
    "QueryLevel",
    "DateRange",
    "Query",
    "PatientRecord",
    "StudyRecord",
    "SeriesRecord",
    "InstanceRecord",
    "Record",
    "parse_date_range",
    "check_uid",
]

_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def check_uid(uid: str, what: str = "UID") -> str:
    """Return ``uid`` if it is a DICOM UID (digits and dots, at most 64 characters).

    UIDs name folders in the study cache, so anything else (``..``, ``/``) is refused.

    Raises
    ------
    QueryFailedError
        Not a UID.
    """
    text = str(uid).strip().rstrip("\x00")
    if len(text) > 64 or not _UID_RE.match(text):
        shown = text if len(text) <= 70 else text[:67] + "..."
        raise QueryFailedError(f"{what} {shown!r} is not a DICOM UID (digits and dots, at most 64 characters)")
    return text


class QueryLevel(enum.Enum):
    """Query/retrieve level; the value is the DICOM QueryRetrieveLevel."""

    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"


@dataclasses.dataclass(frozen=True)
class DateRange:
    """An inclusive date range; either end may be open.

    Attributes
    ----------
    start, end : datetime.date or None
    """

    start: _dt.date | None = None
    end: _dt.date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise QueryFailedError(f"study date range {self.to_dicom()} ends before it starts")

    def to_dicom(self) -> str:
        """``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD``, ``YYYYMMDD-`` or ``-YYYYMMDD``."""
        a = self.start.strftime("%Y%m%d") if self.start else ""
        b = self.end.strftime("%Y%m%d") if self.end else ""
        if a and a == b:
            return a
        return f"{a}-{b}"

    def __str__(self) -> str:
        return self.to_dicom()


def _date(text: str, whole: str) -> _dt.date:
    t = text.strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return _dt.datetime.strptime(t, fmt).date()
        except ValueError:
            continue
    raise QueryFailedError(f"study date {whole!r}: {t!r} is not a date (YYYYMMDD or YYYY-MM-DD); a range is FROM-TO, FROM- or -TO")


def parse_date_range(text: str | DateRange | _dt.date | None) -> DateRange | None:
    """Parse ``20240101``, ``20240101-20241231``, ``20240101-``, ``-20241231`` or
    ``2024-01-01..2024-12-31`` (ISO dates with ``..``).

    Raises
    ------
    QueryFailedError
        Not a date or a range.
    """
    if text is None or isinstance(text, DateRange):
        return text
    if isinstance(text, _dt.date):
        return DateRange(text, text)
    t = str(text).strip()
    if not t:
        return None
    if ".." in t:
        a, _, b = t.partition("..")
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        a = b = t
    elif "-" in t:
        a, _, b = t.partition("-")
    else:
        a = b = t
    if not a.strip() and not b.strip():
        raise QueryFailedError(f"study date {t!r}: give at least one end of the range")
    return DateRange(_date(a, t) if a.strip() else None, _date(b, t) if b.strip() else None)


@dataclasses.dataclass(frozen=True)
class Query:
    """What :func:`vtkdicom_app.net.find` looks for.

    Attributes
    ----------
    level : QueryLevel
        PATIENT, STUDY (default) or SERIES.
    patient_id, patient_name : str
        ``*`` and ``?`` wildcards allowed (``"DOE^*"``).
    study_date : DateRange
        See :func:`parse_date_range`.
    modality : str
        ModalitiesInStudy at study level, Modality at series level.
    accession_number : str
    study_uid, series_uid : str
    """

    level: QueryLevel = QueryLevel.STUDY
    patient_id: str | None = None
    patient_name: str | None = None
    study_date: DateRange | None = None
    modality: str | None = None
    accession_number: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.level, QueryLevel):
            object.__setattr__(self, "level", QueryLevel(str(self.level).upper()))
        if self.study_date is not None and not isinstance(self.study_date, DateRange):
            object.__setattr__(self, "study_date", parse_date_range(self.study_date))
        for key in ("study_uid", "series_uid"):
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, check_uid(value, key.replace("_", " ")))
        if self.modality is not None and not re.fullmatch(r"[A-Za-z0-9*?]{1,16}", self.modality):
            raise QueryFailedError(f"modality {self.modality!r} is not a DICOM modality (CT, MR, PT, ...)")
        for key in ("patient_id", "patient_name", "accession_number"):
            value = getattr(self, key)
            if value is not None and "\\" in value:
                raise QueryFailedError(f"{key.replace('_', ' ')} must not contain a backslash")

    def study_filters(self) -> dict[str, str]:
        """Keyword -> matching value of the study-level keys (empty ones left out)."""
        out: dict[str, str] = {}
        if self.patient_id:
            out["PatientID"] = self.patient_id
        if self.patient_name:
            out["PatientName"] = self.patient_name
        if self.study_date:
            out["StudyDate"] = self.study_date.to_dicom()
        if self.accession_number:
            out["AccessionNumber"] = self.accession_number
        if self.study_uid:
            out["StudyInstanceUID"] = self.study_uid
        if self.modality and self.level is QueryLevel.STUDY:
            out["ModalitiesInStudy"] = self.modality.upper()
        return out

    def has_study_filters(self) -> bool:
        """Whether anything narrows the studies (patient, date, accession, study UID)."""
        return any((self.patient_id, self.patient_name, self.study_date, self.accession_number, self.study_uid))


def _s(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\\".join(_s(v) for v in value)
    return str(value).strip()


def _i(value: Any) -> int | None:
    try:
        text = _s(value)
        return int(float(text)) if text else None
    except (TypeError, ValueError):
        return None


@dataclasses.dataclass(frozen=True)
class PatientRecord:
    """One patient found at PATIENT level."""

    patient_id: str
    patient_name: str = ""
    birth_date: str = ""
    sex: str = ""
    n_studies: int | None = None

    level = QueryLevel.PATIENT
    COLUMNS = ("patient_id", "patient_name", "birth_date", "sex", "n_studies")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class StudyRecord:
    """One study found at STUDY level."""

    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""
    study_time: str = ""
    accession_number: str = ""
    description: str = ""
    modalities: tuple[str, ...] = ()
    n_series: int | None = None
    n_instances: int | None = None

    level = QueryLevel.STUDY
    COLUMNS = ("study_date", "patient_id", "patient_name", "modalities", "n_series", "n_instances", "accession_number", "description", "study_uid")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        d = dataclasses.asdict(self)
        d["modalities"] = list(self.modalities)
        return d


@dataclasses.dataclass(frozen=True)
class SeriesRecord:
    """One series found at SERIES level."""

    study_uid: str
    series_uid: str
    modality: str = ""
    series_number: int | None = None
    description: str = ""
    n_instances: int | None = None
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""

    level = QueryLevel.SERIES
    COLUMNS = ("study_date", "patient_id", "modality", "series_number", "n_instances", "description", "series_uid")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class InstanceRecord:
    """One instance (image) of a series, as listed before a retrieval."""

    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str = ""
    instance_number: int | None = None

    level = QueryLevel.IMAGE
    COLUMNS = ("instance_number", "sop_class_uid", "sop_instance_uid")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return dataclasses.asdict(self)


Record = PatientRecord | StudyRecord | SeriesRecord | InstanceRecord

# the return keys asked for at each level (C-FIND identifiers, QIDO includefield)
RETURN_KEYS: dict[QueryLevel, tuple[str, ...]] = {
    QueryLevel.PATIENT: ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "NumberOfPatientRelatedStudies"),
    QueryLevel.STUDY: (
        "StudyInstanceUID",
        "PatientID",
        "PatientName",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyDescription",
        "ModalitiesInStudy",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ),
    QueryLevel.SERIES: ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription", "NumberOfSeriesRelatedInstances"),
    # no SOPClassUID: servers that do not index it (Orthanc) read every file to answer
    QueryLevel.IMAGE: ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "InstanceNumber"),
}


def record_from_values(level: QueryLevel, get: Any, parent: StudyRecord | None = None) -> Record:
    """Build a record from ``get(keyword) -> value`` (a C-FIND identifier or a DICOM JSON object)."""
    if level is QueryLevel.PATIENT:
        return PatientRecord(
            _s(get("PatientID")), _s(get("PatientName")), _s(get("PatientBirthDate")), _s(get("PatientSex")), _i(get("NumberOfPatientRelatedStudies"))
        )
    if level is QueryLevel.STUDY:
        mods = get("ModalitiesInStudy")
        modalities = tuple(m for m in (_s(x) for x in (mods if isinstance(mods, (list, tuple)) else _s(mods).split("\\"))) if m)
        return StudyRecord(
            study_uid=_s(get("StudyInstanceUID")),
            patient_id=_s(get("PatientID")),
            patient_name=_s(get("PatientName")),
            study_date=_s(get("StudyDate")),
            study_time=_s(get("StudyTime")),
            accession_number=_s(get("AccessionNumber")),
            description=_s(get("StudyDescription")),
            modalities=modalities,
            n_series=_i(get("NumberOfStudyRelatedSeries")),
            n_instances=_i(get("NumberOfStudyRelatedInstances")),
        )
    if level is QueryLevel.SERIES:
        return SeriesRecord(
            study_uid=_s(get("StudyInstanceUID")) or (parent.study_uid if parent else ""),
            series_uid=_s(get("SeriesInstanceUID")),
            modality=_s(get("Modality")),
            series_number=_i(get("SeriesNumber")),
            description=_s(get("SeriesDescription")),
            n_instances=_i(get("NumberOfSeriesRelatedInstances")),
            patient_id=parent.patient_id if parent else "",
            patient_name=parent.patient_name if parent else "",
            study_date=parent.study_date if parent else "",
        )
    return InstanceRecord(
        _s(get("StudyInstanceUID")), _s(get("SeriesInstanceUID")), _s(get("SOPInstanceUID")), _s(get("SOPClassUID")), _i(get("InstanceNumber"))
    )


def record_from_dataset(level: QueryLevel, ds: Any, parent: StudyRecord | None = None) -> Record:
    """A record from a C-FIND response identifier (a pydicom Dataset)."""

    def get(keyword: str) -> Any:
        value = getattr(ds, keyword, None)
        if value is None:
            return None
        if keyword == "PatientName":
            return str(value)
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            return [str(v) for v in value]
        return value

    return record_from_values(level, get, parent)


def record_from_json(level: QueryLevel, obj: Mapping[str, Any], parent: StudyRecord | None = None) -> Record:
    """A record from a QIDO-RS result (DICOM JSON, keyed by tag)."""
    from pydicom.datadict import tag_for_keyword

    def get(keyword: str) -> Any:
        tag = tag_for_keyword(keyword)
        if tag is None:
            return None
        item = obj.get(f"{tag:08X}")
        if not item or "Value" not in item:
            return None
        values = item["Value"]
        if item.get("vr") == "PN":
            values = [v.get("Alphabetic", "") if isinstance(v, dict) else str(v) for v in values]
        return values[0] if len(values) == 1 and keyword != "ModalitiesInStudy" else values

    return record_from_values(level, get, parent)


def format_table(records: Sequence[Record]) -> str:
    """Records as an aligned text table (one header line, one line per record)."""
    if not records:
        return "(nothing found)"
    cols = type(records[0]).COLUMNS
    rows = []
    for r in records:
        d = r.as_dict()
        rows.append(["/".join(d[c]) if isinstance(d[c], list) else ("" if d[c] is None else str(d[c])) for c in cols])
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
