"""C-ECHO / QIDO ping and C-FIND / QIDO-RS searches returning typed records."""

from __future__ import annotations

import os
from typing import Any

from vtkdicom_app.net.config import RetrieveMethod, ServerConfig, get_server
from vtkdicom_app.net.errors import QueryFailedError, ServerConfigError, UnexpectedInstanceError
from vtkdicom_app.net.query import (
    RETURN_KEYS,
    InstanceRecord,
    PatientRecord,
    Query,
    QueryLevel,
    Record,
    SeriesRecord,
    StudyRecord,
    check_uid,
    record_from_dataset,
    record_from_json,
)

__all__ = ["echo", "find", "list_series", "list_instances", "study_sop_classes", "resolve_server", "use_web"]

ServerLike = ServerConfig | str | None


def resolve_server(server: ServerLike, config: str | os.PathLike[str] | None = None) -> ServerConfig:
    """A :class:`ServerConfig` as given, or the one of that name in servers.toml (None: the default)."""
    if isinstance(server, ServerConfig):
        return server
    return get_server(server, config)


def use_web(server: ServerConfig, web: bool | RetrieveMethod | None) -> bool:
    """Whether to talk DICOMweb to this server (explicit choice, else its default method)."""
    if isinstance(web, RetrieveMethod):
        web = web is RetrieveMethod.WEB
    if web is None:
        web = server.default_method is RetrieveMethod.WEB
    if web and not server.has_web:
        raise ServerConfigError(f"{server.describe()} has no DICOMweb url; give --url or url in servers.toml")
    if not web and not server.has_dimse:
        raise ServerConfigError(f"{server.describe()} has no DIMSE host/port; give --host/--port/--aet or use --method web")
    return bool(web)


def echo(server: ServerLike, *, web: bool | None = None) -> float:
    """Check that a server answers: C-ECHO, or a one-result QIDO-RS search for DICOMweb.

    Parameters
    ----------
    server : ServerConfig or str
        A configuration or a name in servers.toml.
    web : bool, optional
        Use DICOMweb (default: the server's default method).

    Returns
    -------
    float
        Round trip in seconds.

    Raises
    ------
    PacsError
        Unreachable, association rejected, authentication failed; the message says what to check.
    """
    s = resolve_server(server)
    if use_web(s, web):
        from vtkdicom_app.net import web as _web

        return _web.echo(s)
    from vtkdicom_app.net import dimse

    return dimse.echo(s)


def _search(
    s: ServerConfig, web: bool, level: QueryLevel, filters: dict[str, str], *, parent: StudyRecord | None = None, series_uid: str | None = None
) -> list[Record]:
    keys = RETURN_KEYS[level]
    if web:
        from vtkdicom_app.net import web as _web

        study_uid = filters.pop("StudyInstanceUID", None) if level in (QueryLevel.SERIES, QueryLevel.IMAGE) else None
        objs = _web.search(s, level, filters, keys, study_uid=study_uid, series_uid=series_uid)
        return [record_from_json(level, o, parent) for o in objs]
    from vtkdicom_app.net import dimse

    if series_uid:
        filters = dict(filters, SeriesInstanceUID=series_uid)
    return [record_from_dataset(level, ds, parent) for ds in dimse.find(s, level, filters, keys)]


def find(server: ServerLike, query: Query | None = None, *, web: bool | None = None, **filters: Any) -> list[Record]:
    """Search a PACS at patient, study or series level.

    Parameters
    ----------
    server : ServerConfig or str
    query : Query, optional
        The filters; or give them as keywords (``level="series", patient_id="PHANTOM*"``).
    web : bool, optional
        QIDO-RS instead of C-FIND (default: the server's default method).
    **filters
        Fields of :class:`Query`.

    Returns
    -------
    list of PatientRecord, StudyRecord or SeriesRecord
        Studies sorted by date and time, series by study then number.

    Raises
    ------
    PacsError

    Notes
    -----
    A series search with patient or date filters first finds the studies, then their series
    (what a strictly hierarchical PACS wants). Over DICOMweb, patients are the studies found,
    grouped by patient ID.

    Examples
    --------
    >>> from vtkdicom_app import net                                       # doctest: +SKIP
    >>> net.find("hospital", patient_id="PHANTOM*", study_date="20260101-")  # doctest: +SKIP
    [StudyRecord(study_uid='1.2...', patient_id='PHANTOM001', ...)]
    """
    q = query if query is not None else Query(**filters)
    if query is not None and filters:
        raise TypeError("give a Query or keyword filters, not both")
    s = resolve_server(server)
    w = use_web(s, web)
    if q.level is QueryLevel.IMAGE:
        if not (q.study_uid and q.series_uid):
            raise QueryFailedError("an image-level search needs study_uid and series_uid")
        return list(list_instances(s, q.study_uid, q.series_uid, web=w))
    if q.level is QueryLevel.PATIENT:
        if w:
            studies = _search(s, True, QueryLevel.STUDY, q.study_filters())
            by_patient: dict[str, list[StudyRecord]] = {}
            for st in studies:
                assert isinstance(st, StudyRecord)
                by_patient.setdefault(st.patient_id, []).append(st)
            return [PatientRecord(pid, sts[0].patient_name, n_studies=len(sts)) for pid, sts in sorted(by_patient.items())]
        filters = {k: v for k, v in q.study_filters().items() if k in ("PatientID", "PatientName")}
        if len(filters) != len(q.study_filters()):
            raise QueryFailedError("a patient-level search takes only patient id and patient name; use --level study for dates, modality or accession")
        return sorted(_search(s, False, QueryLevel.PATIENT, filters), key=lambda r: (r.patient_id,))  # type: ignore[union-attr]
    if q.level is QueryLevel.STUDY:
        out = _search(s, w, QueryLevel.STUDY, q.study_filters())
        return sorted(out, key=lambda r: (r.study_date, r.study_time, r.study_uid))  # type: ignore[union-attr]
    # SERIES: below one study, or below the studies that match the study-level filters
    series_filters = {"Modality": q.modality.upper()} if q.modality else {}
    if q.series_uid:
        series_filters["SeriesInstanceUID"] = q.series_uid
    if q.study_uid and not (q.patient_id or q.patient_name or q.study_date or q.accession_number):
        parents: list[StudyRecord] = [StudyRecord(q.study_uid)]
    elif q.has_study_filters():
        parents = [r for r in _search(s, w, QueryLevel.STUDY, q.study_filters()) if isinstance(r, StudyRecord)]
    else:
        raise QueryFailedError("a series search needs a study UID or study filters (patient id/name, study date, accession)")
    results: list[Record] = []
    for st in parents:
        results += _search(s, w, QueryLevel.SERIES, dict(series_filters, StudyInstanceUID=st.study_uid), parent=st if st.patient_id else None)
    return sorted(results, key=lambda r: (r.study_date, r.study_uid, r.series_number if r.series_number is not None else 1 << 30, r.series_uid))  # type: ignore[union-attr]


def list_series(server: ServerLike, study_uid: str, *, series_uid: str | None = None, web: bool | None = None) -> list[SeriesRecord]:
    """The series of one study (or the one with ``series_uid``), with their instance counts."""
    s = resolve_server(server)
    filters = {"StudyInstanceUID": check_uid(study_uid, "study UID")}
    if series_uid:
        filters["SeriesInstanceUID"] = check_uid(series_uid, "series UID")
    recs = _search(s, use_web(s, web), QueryLevel.SERIES, filters)
    out: dict[str, SeriesRecord] = {}
    for r in recs:
        if isinstance(r, SeriesRecord) and r.series_uid not in out:
            _checked(s, r.series_uid, "SeriesInstanceUID")
            if series_uid and r.series_uid != series_uid:
                raise UnexpectedInstanceError(
                    f"{s.describe(web=use_web(s, web))} listed series {r.series_uid} when asked for series {series_uid}; "
                    "check the UIDs and the server's configuration"
                )
            out[r.series_uid] = r
    return list(out.values())


def study_sop_classes(server: ServerLike, study_uid: str) -> list[str]:
    """SOPClassesInStudy from a study-level C-FIND (empty when the server does not say)."""
    from vtkdicom_app.net import dimse

    s = resolve_server(server)
    try:
        found = dimse.find(s, QueryLevel.STUDY, {"StudyInstanceUID": check_uid(study_uid, "study UID")}, ["SOPClassesInStudy"])
    except QueryFailedError:
        return []
    classes: list[str] = []
    for ds in found:
        value = ds.get("SOPClassesInStudy")
        if value:
            classes += [str(v) for v in (value if not isinstance(value, str) else [value])]
    return sorted({c for c in classes if c})


def list_instances(server: ServerLike, study_uid: str, series_uid: str, *, web: bool | None = None) -> list[InstanceRecord]:
    """The instances of one series (IMAGE-level C-FIND or QIDO-RS)."""
    s = resolve_server(server)
    recs = _search(
        s, use_web(s, web), QueryLevel.IMAGE, {"StudyInstanceUID": check_uid(study_uid, "study UID")}, series_uid=check_uid(series_uid, "series UID")
    )
    out = [r for r in recs if isinstance(r, InstanceRecord)]
    for r in out:
        _checked(s, r.sop_instance_uid, "SOPInstanceUID")
    return out


def _checked(s: ServerConfig, uid: str, what: str) -> str:
    try:
        return check_uid(uid, what)
    except QueryFailedError:
        raise UnexpectedInstanceError(f"{s.describe()} listed a {what} that is not a UID ({uid[:70]!r}); check the server's data") from None
