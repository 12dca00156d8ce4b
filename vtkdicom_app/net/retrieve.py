"""Retrieve a study or series into the local cache by C-GET, C-MOVE or WADO-RS.

1. List what the server has (series of the study, instances of each series).
2. Compare with the cache: instances already there are not fetched again.
3. Fetch the rest: a whole series in one request when none of it is cached, else the
   missing instances only. Every instance is checked to belong to a series asked for and
   written atomically (temporary name, then rename).
4. Check that every listed instance is now in the cache.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vtkdicom_app.net.api import ServerLike, list_instances, list_series, resolve_server
from vtkdicom_app.net.cache import StudyCache
from vtkdicom_app.net.config import RetrieveMethod, ServerConfig, default_cache_dir
from vtkdicom_app.net.errors import (
    IncompleteRetrieveError,
    PacsError,
    PacsNotFoundError,
    QueryFailedError,
    ServerConfigError,
    UnexpectedInstanceError,
)
from vtkdicom_app.net.query import check_uid

__all__ = ["retrieve", "RetrieveResult", "SeriesPlan", "Receiver", "ProgressCallback"]

LOG = logging.getLogger("vtkdicom_app.net")
ProgressCallback = Callable[[int, int, str], None]


@dataclasses.dataclass
class SeriesPlan:
    """What to fetch of one series.

    Attributes
    ----------
    study_uid, series_uid : str
    expected : set of str or None
        SOPInstanceUIDs the server listed; None when nothing of the series is cached (the
        whole series is asked for without listing it) or the server refuses IMAGE-level queries.
    present : set of str
        In the cache (before the transfer, then updated as instances arrive).
    count : int or None
        NumberOfSeriesRelatedInstances as the server gave it.
    """

    study_uid: str
    series_uid: str
    expected: set[str] | None
    present: set[str]
    count: int | None = None

    @property
    def missing(self) -> set[str]:
        """Listed but not cached."""
        return (self.expected - self.present) if self.expected is not None else set()

    @property
    def fetch_all(self) -> bool:
        """Ask for the whole series (nothing of it cached, or the server lists no instances)."""
        return self.expected is None or not (self.expected & self.present)

    @property
    def total(self) -> int | None:
        """Instances the series has on the server, if known."""
        return len(self.expected) if self.expected is not None else self.count

    @property
    def todo(self) -> bool:
        """Something to transfer."""
        return self.expected is None or bool(self.missing)


class Receiver:
    """Checks and writes the instances that arrive (from any thread).

    Parameters
    ----------
    cache : StudyCache
    plans : list of SeriesPlan
        Instances of other series are refused and reported.
    where : str
        The server, for messages.
    """

    def __init__(self, cache: StudyCache, plans: list[SeriesPlan], where: str) -> None:
        self.cache = cache
        self.plans = {(p.study_uid, p.series_uid): p for p in plans}
        self.where = where
        self.count = 0
        self.bytes = 0
        self.error: PacsError | None = None
        self.abort: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def fail(self, exc: PacsError) -> None:
        """Remember the first fault (the main thread raises it at the next response)."""
        with self._lock:
            if self.error is None:
                self.error = exc

    def raise_if_failed(self) -> None:
        """Raise the fault a storage thread saw."""
        if self.error is not None:
            raise self.error

    def store(self, study: str, series: str, sop: str, data: bytes | memoryview, head: bytes = b"") -> int:
        """Check and write one instance (``head`` then ``data``); returns the C-STORE status to answer."""
        if self.error is not None:
            return 0xC000
        plan = self.plans.get((study, series))
        if plan is None:
            asked = ", ".join(sorted(s for _st, s in self.plans))
            self.fail(
                UnexpectedInstanceError(
                    f"{self.where} sent an instance of series {series or '?'} (study {study or '?'}) when asked for series {asked}; "
                    "it was not kept; check the UIDs (pacs find --level series) and the server's configuration"
                )
            )
            return 0xC000
        try:
            check_uid(sop, "SOPInstanceUID")
        except QueryFailedError:
            self.fail(
                UnexpectedInstanceError(
                    f"{self.where} sent an instance whose SOPInstanceUID is not a UID ({sop[:70]!r}); it was not kept; check the server's data"
                )
            )
            return 0xC000
        if sop in plan.present:
            return 0x0000
        try:
            self.cache.write(study, series, sop, data, head)
        except OSError as exc:
            self.fail(
                IncompleteRetrieveError(
                    f"cannot write to the study cache {self.cache.root} ({exc.strerror or exc}); "
                    "check free space and permissions, or choose another folder with -o"
                )
            )
            return 0xA700
        with self._lock:
            self.count += 1
            self.bytes += len(head) + memoryview(data).nbytes
            plan.present.add(sop)
        return 0x0000


@dataclasses.dataclass
class RetrieveResult(os.PathLike[str]):
    """Where a retrieved study or series is, and what the retrieval did.

    It is a path (``os.fspath(result)`` is the folder), so ``vtkdicom_app.load(result)`` and
    ``vtkdicom_app.scan(result)`` read it directly.

    Attributes
    ----------
    folder : Path
        ``CACHE/<study>/<series>`` for a series, ``CACHE/<study>`` for a whole study.
    study_uid : str
    series_uids : list of str
    method : RetrieveMethod
    n_instances : int
        Instances of the request now in the cache.
    n_transferred : int
        Received by this call.
    n_cached : int
        Already in the cache (not fetched again).
    bytes_transferred : int
    seconds : float
        Wall time of the whole call (listing included).
    """

    folder: Path
    study_uid: str
    series_uids: list[str]
    method: RetrieveMethod
    n_instances: int
    n_transferred: int
    n_cached: int
    bytes_transferred: int
    seconds: float

    def __fspath__(self) -> str:
        return str(self.folder)

    def __str__(self) -> str:
        return str(self.folder)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        d = dataclasses.asdict(self)
        d["folder"] = str(self.folder)
        d["method"] = self.method.value
        return d


def _noop(done: int, total: int, stage: str) -> None:
    return None


def _plan(server: ServerConfig, web: bool, cache: StudyCache, study_uid: str, series_uid: str | None, progress: ProgressCallback) -> list[SeriesPlan]:
    """One plan per series. A series with nothing cached is fetched whole without listing
    its instances (a C-FIND of every instance costs Orthanc a file read each); one partly
    cached is listed so that only what is missing is fetched."""
    where = server.describe(web=web)
    records = list_series(server, study_uid, series_uid=series_uid, web=web)
    if not records:
        if series_uid:
            raise PacsNotFoundError(f"{where} has no series {series_uid} in study {study_uid}; check the UIDs (pacs find --level series --study {study_uid})")
        raise PacsNotFoundError(f"{where} has no study {study_uid}; check the UID (pacs find)")
    plans = []
    for n, rec in enumerate(records):
        progress(n, len(records), "listing instances")
        uid = rec.series_uid
        present = cache.present(study_uid, uid)
        if not present:
            plans.append(SeriesPlan(study_uid, uid, None, present, rec.n_instances))
            continue
        try:
            instances = list_instances(server, study_uid, uid, web=web)
        except QueryFailedError as exc:
            LOG.info("instance listing refused by %s (%s): fetching the whole series", where, exc)
            plans.append(SeriesPlan(study_uid, uid, None, present, rec.n_instances))
            continue
        if not instances:
            raise PacsNotFoundError(
                f"{where} has no instances of series {uid} in study {study_uid}; check the UIDs (pacs find --level series --study {study_uid})"
            )
        foreign = [i for i in instances if (i.study_uid and i.study_uid != study_uid) or (i.series_uid and i.series_uid != uid)]
        if foreign:
            raise UnexpectedInstanceError(
                f"{where} listed instances of series {foreign[0].series_uid} when asked for series {uid}; check the UIDs and the server's configuration"
            )
        plans.append(SeriesPlan(study_uid, uid, {i.sop_instance_uid for i in instances}, present, rec.n_instances))
    progress(len(records), len(records), "listing instances")
    return plans


def retrieve(
    server: ServerLike,
    study_uid: str,
    series_uid: str | None = None,
    *,
    method: RetrieveMethod | str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    move_port: int | None = None,
    move_listen: str | None = None,
) -> RetrieveResult:
    """Fetch a study (every series) or one series into the local study cache.

    Parameters
    ----------
    server : ServerConfig or str
        A configuration or a name in servers.toml.
    study_uid : str
    series_uid : str, optional
        Default: every series of the study.
    method : RetrieveMethod or {"get", "move", "web"}, optional
        Default: the server's (C-GET for a DIMSE server, WADO-RS for a DICOMweb one).
    cache_dir : str or os.PathLike, optional
        Default :func:`~vtkdicom_app.net.config.default_cache_dir`.
    progress : callable, optional
        ``progress(done, total, stage)`` in the calling thread: instances in the cache out of
        the instances listed. It may raise to cancel: the transfer is aborted, whole files
        stay (a later call fetches the rest), and the exception propagates.
    move_port, move_listen : optional
        C-MOVE storage SCP port and address (default: the server's ``move_port`` and
        ``move_listen``, 127.0.0.1).

    Returns
    -------
    RetrieveResult
        A path-like: ``vtkdicom_app.load(result)`` loads it.

    Raises
    ------
    PacsError
        Unreachable, rejected, refused, timed out, unexpected series, 401/404, incomplete:
        one line naming the server and what to check. Files under final names are always
        whole.

    Examples
    --------
    >>> import vtkdicom_app as vda                                         # doctest: +SKIP
    >>> from vtkdicom_app import net                                       # doctest: +SKIP
    >>> study = net.find("hospital", patient_id="PHANTOM001")[0]            # doctest: +SKIP
    >>> vol = vda.load(net.retrieve("hospital", study.study_uid))           # doctest: +SKIP
    """
    t0 = time.perf_counter()
    s = resolve_server(server)
    m = RetrieveMethod(method.lower() if isinstance(method, str) else method) if method is not None else s.default_method
    web = m is RetrieveMethod.WEB
    if web and not s.has_web:
        raise ServerConfigError(f"{s.describe()} has no DICOMweb url; give --url or url in servers.toml, or use --method get/move")
    if not web and not s.has_dimse:
        raise ServerConfigError(f"{s.describe()} has no DIMSE host/port for --method {m.value}; use --method web")
    port = move_port if move_port is not None else s.move_port
    if m is RetrieveMethod.MOVE and port is None:
        raise ServerConfigError(
            f"C-MOVE from {s.describe(web=False)} needs the port of our storage SCP: "
            f"give --move-port or move_port in servers.toml (the server must know it with AE '{s.destination_aet}')"
        )
    study_uid = check_uid(study_uid, "study UID")
    series_uid = check_uid(series_uid, "series UID") if series_uid else None
    cache = StudyCache(cache_dir if cache_dir is not None else default_cache_dir())
    report = progress or _noop
    where = s.describe(web=web)

    plans = _plan(s, web, cache, study_uid, series_uid, report)
    cache.remove_stale_parts(study_uid, series_uid)
    before = sum(len(p.present & p.expected) if p.expected is not None else len(p.present) for p in plans)
    total = sum(p.total or 0 for p in plans)
    stage = {RetrieveMethod.GET: "C-GET", RetrieveMethod.MOVE: "C-MOVE", RetrieveMethod.WEB: "WADO-RS"}[m]
    todo = [p for p in plans if p.todo]
    receiver = Receiver(cache, plans, where)
    last = [-1]

    def tick() -> None:
        done = before + receiver.count
        if done != last[0]:
            last[0] = done
            report(done, max(total, done), stage)

    tick()
    if todo:
        try:
            if m is RetrieveMethod.GET:
                from vtkdicom_app.net import dimse
                from vtkdicom_app.net.api import study_sop_classes

                dimse.get(s, todo, receiver, tick, study_sop_classes(s, study_uid))
            elif m is RetrieveMethod.MOVE:
                from vtkdicom_app.net import dimse

                assert port is not None
                dimse.move(s, todo, receiver, tick, port=port, listen=move_listen or s.move_listen)
            else:
                from vtkdicom_app.net import web as _web

                _web.retrieve(s, todo, receiver, tick)
            receiver.raise_if_failed()
        except PacsError as exc:
            have = before + receiver.count
            note = f" ({have} of {total} instances are in the cache; get again fetches only the rest)" if total and have else ""
            raise type(exc)(str(exc) + note) from None
    tick()
    missing = 0
    for p in plans:
        now = cache.present(study_uid, p.series_uid)
        if p.expected is not None:
            missing += len(p.expected - now)
        elif p.count is not None and len(now) < p.count:
            missing += p.count - len(now)
    if missing:
        raise IncompleteRetrieveError(
            f"{where} sent {total - missing} of {total} instances by {stage}; check the server's log, then run get again to fetch the rest"
        )
    folder = cache.series_folder(study_uid, series_uid) if series_uid else cache.study_folder(study_uid)
    n_now = sum(len(cache.present(study_uid, p.series_uid)) for p in plans)
    return RetrieveResult(
        folder=folder,
        study_uid=study_uid,
        series_uids=[p.series_uid for p in plans],
        method=m,
        n_instances=n_now,
        n_transferred=receiver.count,
        n_cached=before,
        bytes_transferred=receiver.bytes,
        seconds=time.perf_counter() - t0,
    )
