"""Cohort jobs on Dask: the same export-mesh, stats, convert and render jobs over every
series under a folder, on a LocalCluster sized to the machine or an existing scheduler.

* One task per series; tasks carry file paths, never arrays: each worker loads its series
  and writes its own output (atomically) under the output folder.
* Output names are stable and anonymous: a hash of the Study and Series Instance UIDs.
* A failing series never stops the batch: its error is a manifest row. Lost workers are
  handled by Dask (the task runs again elsewhere); a series or a folder scan whose workers
  died more often than the scheduler allows (``distributed.scheduler.allowed-failures``,
  3 by default) is an error row too (``KilledWorker``), and the batch goes on.
* A study folder that holds DICOM files but no series a job can run on (every file skipped:
  truncated, damaged; or only localizers) is an error row too, with the files and why.
* The manifest (``manifest.jsonl`` appended as tasks finish, ``manifest.json`` and
  ``manifest.csv`` at the end) makes a re-run skip series whose output is complete.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import hashlib
import json
import os
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["BatchJob", "SeriesTask", "UnloadableFolder", "find_series", "run_task", "run", "load_manifest", "local_cluster"]

MANIFEST_FIELDS = ("key", "job", "status", "output", "seconds", "series_uid_hash", "n_files", "shape", "warnings", "error", "result")


class BatchJob(enum.Enum):
    """What each task does to its series."""

    EXPORT_MESH = "export-mesh"
    STATS = "stats"
    CONVERT = "convert"
    RENDER = "render"

    @property
    def suffix(self) -> str:
        """File suffix of the job's output."""
        return {"export-mesh": ".stl", "stats": ".json", "convert": ".nii.gz", "render": ".png"}[self.value]


@dataclasses.dataclass(frozen=True)
class SeriesTask:
    """One series to process: its files and its anonymous key."""

    key: str
    series_uid_hash: str
    files: tuple[str, ...]
    shape: tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class UnloadableFolder:
    """A study folder (or the loose files) under the batch root that holds DICOM files but
    no series a job can run on; it becomes an error row of the manifest.

    Attributes
    ----------
    key : str
        Stable, anonymous: a hash of the folder's path relative to the root.
    folder : str
        The folder, relative to the root ("." for loose files at the top).
    n_files : int
        Files found there.
    reason : str
        Why nothing loads: the skipped files (relative to the folder) and why, from the scan.
    """

    key: str
    folder: str
    n_files: int
    reason: str

    def row(self, job: BatchJob) -> dict[str, Any]:
        """The manifest row (status "error")."""
        return {
            "key": self.key,
            "job": job.value,
            "status": "error",
            "output": "",
            "seconds": 0.0,
            "series_uid_hash": "",
            "n_files": self.n_files,
            "shape": "",
            "warnings": "",
            "error": self.reason[:2000],
            "result": "",
            "folder": self.folder,
        }


def _lost_row(task: SeriesTask, job: BatchJob, exc: BaseException) -> dict[str, Any]:
    """The error row of a series whose task raised on the cluster (its worker died, say)."""
    return {
        "key": task.key,
        "job": job.value,
        "status": "error",
        "output": "",
        "seconds": 0.0,
        "series_uid_hash": task.series_uid_hash,
        "n_files": len(task.files),
        "shape": "x".join(map(str, task.shape)),
        "warnings": "",
        "error": f"{type(exc).__name__}: {exc}"[:2000],
        "result": "",
    }


def _hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]


def _tasks(scanned: Iterable[Any]) -> list[SeriesTask]:
    tasks = []
    for info in scanned:
        if info.is_localizer:
            continue
        key = _hash(info.study_instance_uid, info.uid)
        tasks.append(SeriesTask(key=key, series_uid_hash=_hash(info.uid), files=tuple(info.files), shape=info.shape))
    return tasks


def _unloadable(scanned: Any, where: str, folder: str, shown: int = 5) -> UnloadableFolder | None:
    """Why a scan that gave no task is a failure; None when it found no DICOM file at all."""
    n_files = len(scanned.skipped) + len(scanned.ignored) + len({f for info in scanned for f in info.files})
    label = "the loose files" if folder == "." else f"{folder}/"
    if scanned.skipped:
        listed = "; ".join(f"{os.path.relpath(p, where)}: {r}" for p, r in scanned.skipped[:shown])
        more = f" (+{len(scanned.skipped) - shown} more)" if len(scanned.skipped) > shown else ""
        reason = f"no loadable series in {label}: {len(scanned.skipped)} file(s) skipped: {listed}{more}"
    elif len(scanned):
        reason = f"no loadable series in {label}: only localizer images ({len(scanned)} series), which batch jobs leave out"
    else:
        return None
    return UnloadableFolder(key=_hash("folder", folder), folder=folder, n_files=n_files, reason=reason)


def _nested_unloadable(scanned: Any, root: str, shown: int = 5) -> list[UnloadableFolder]:
    """The folders inside a scanned study folder whose DICOM files all failed to load.

    A study folder may hold more study folders (``ROOT/patient/study/...``): a nested folder
    whose every DICOM file was skipped, and which holds no loaded series below it, gets its own
    error row even when its siblings load.
    """
    used = {os.path.dirname(f) for info in scanned for f in info.files}
    by_dir: dict[str, list[tuple[str, str]]] = {}
    for path, reason in scanned.skipped:
        by_dir.setdefault(os.path.dirname(path), []).append((path, reason))
    found = []
    for folder, skipped in sorted(by_dir.items()):
        if any(u == folder or u.startswith(folder + os.sep) for u in used):
            continue  # its files loaded, or a series below it did: a damaged file among good ones
        rel = os.path.relpath(folder, root)
        listed = "; ".join(f"{os.path.relpath(p, folder)}: {r}" for p, r in skipped[:shown])
        more = f" (+{len(skipped) - shown} more)" if len(skipped) > shown else ""
        reason = f"no loadable series in {rel}/: {len(skipped)} file(s) skipped: {listed}{more}"
        found.append(UnloadableFolder(key=_hash("folder", rel), folder=rel, n_files=len(skipped), reason=reason))
    return found


def _scan_folder(folder: str, root: str) -> tuple[list[SeriesTask], list[UnloadableFolder]]:
    """The tasks of one study folder (on a worker), and the folders in it that hold none.

    A folder that holds no DICOM file gives neither (not a study); one whose DICOM files all
    failed to load (truncated, damaged) or hold only localizers is an :class:`UnloadableFolder`,
    and so is each folder inside it whose files all failed (:func:`_nested_unloadable`).
    """
    from vtkdicom_app.errors import NotDicomError
    from vtkdicom_app.io.loader import scan

    try:
        scanned = scan(folder)
    except NotDicomError:
        return [], []
    tasks = _tasks(scanned)
    if not tasks:
        problem = _unloadable(scanned, folder, os.path.relpath(folder, root))
        return tasks, [] if problem is None else [problem]
    return tasks, _nested_unloadable(scanned, root)


def find_series(root: str | os.PathLike[str] | list[str]) -> list[SeriesTask]:
    """Every series (stack) under ``root``, as tasks (localizers left out)."""
    from vtkdicom_app.io.loader import scan

    return _tasks(scan(root))


def run_task(task: SeriesTask, job: BatchJob | str, outdir: str, options: dict[str, Any]) -> dict[str, Any]:
    """Process one series (runs on a worker); never raises: errors become the row."""
    import warnings

    job = BatchJob(job) if not isinstance(job, BatchJob) else job
    out = os.path.join(outdir, task.key + job.suffix)
    row: dict[str, Any] = {
        "key": task.key,
        "job": job.value,
        "status": "ok",
        "output": os.path.basename(out),
        "series_uid_hash": task.series_uid_hash,
        "n_files": len(task.files),
        "shape": "x".join(map(str, task.shape)),
        "warnings": "",
        "error": "",
        "result": "",
    }
    start = time.perf_counter()
    threads = int(options.get("threads_per_task", 1))
    try:
        from vtkmodules.vtkCommonCore import vtkSMPTools

        from vtkdicom_app.io.loader import load
        from vtkdicom_app.pipeline import use_threads

        use_threads()
        vtkSMPTools.Initialize(threads)  # one task per core: Dask runs one per worker process
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vol = load(list(task.files), workers=threads)
            row["result"] = json.dumps(_do(job, vol, out, options))
        row["warnings"] = " | ".join(sorted({str(w.message) for w in caught}))[:2000]
    except Exception as exc:  # a failed series is a row, never the end of the batch
        row["status"] = "error"
        row["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        row["output"] = ""
        row["traceback"] = traceback.format_exc()[-4000:]
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def _do(job: BatchJob, vol: Any, out: str, options: dict[str, Any]) -> dict[str, Any]:
    if job is BatchJob.EXPORT_MESH:
        from vtkdicom_app.mesh_io import export_mesh
        from vtkdicom_app.surface import extract_surface

        # threshold and upper only when given: otherwise the preset's (auto: Otsu's)
        given = {name: options[name] for name in ("threshold", "upper", "smooth", "reduce") if options.get(name) is not None}
        mesh = extract_surface(vol, preset=options.get("preset", "bone"), largest=bool(options.get("largest", False)), **given)
        report = export_mesh(mesh, out, coords=options.get("coords", "lps"))
        return {"triangles": report.triangles, "volume_mm3": round(report.volume_mm3, 3), "watertight": report.watertight}
    if job is BatchJob.STATS:
        from vtkdicom_app.analysis import region_stats
        from vtkdicom_app.atomic import atomic_path

        stats = region_stats(vol).as_dict()
        with atomic_path(out, suffix=".json") as tmp:
            Path(tmp).write_text(json.dumps(stats, indent=2))
        return {"mean": stats["mean"], "count": stats["count"]}
    if job is BatchJob.CONVERT:
        from vtkdicom_app.io.formats import write_volume

        write_volume(vol, out)
        return {"bytes": os.path.getsize(out)}
    from vtkdicom_app.rendering import VolumeScene

    scene = VolumeScene(vol, preset=options.get("render_preset", "ct-bone"), size=(int(options.get("size", 512)),) * 2)
    scene.screenshot(out)
    return {"mapper": scene.mapper_kind.value}


def load_manifest(outdir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Rows already recorded in ``outdir`` (the last row of each key wins)."""
    rows: dict[str, dict[str, Any]] = {}
    path = Path(outdir) / "manifest.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interruption
            rows[row["key"]] = row
    return rows


def _complete(row: dict[str, Any] | None, outdir: Path) -> bool:
    return bool(row and row.get("status") == "ok" and row.get("output") and (outdir / row["output"]).is_file() and (outdir / row["output"]).stat().st_size > 0)


def _write_manifests(rows: Iterable[dict[str, Any]], outdir: Path) -> None:
    from vtkdicom_app.atomic import atomic_path

    rows = sorted(rows, key=lambda r: r["key"])
    with atomic_path(outdir / "manifest.json", suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(rows, indent=2))
    with atomic_path(outdir / "manifest.csv", suffix=".csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)


def local_cluster(workers: int | None = None, *, memory_limit: str | None = None, dashboard: bool = False) -> Any:
    """A LocalCluster of one single-threaded worker process per core, tuned for these tasks.

    Dask's nannies export MALLOC_TRIM_THRESHOLD_=65536 to their workers, which makes glibc
    return every volume-sized buffer to the OS and fault it back in: measured here, tasks ran
    1.7x slower inside such workers than in a plain process. The workers are started without
    it (the one-thread settings for numerical libraries are kept).
    """
    import dask
    from dask.distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit or "auto",
            dashboard_address=":0" if dashboard else None,
            host="127.0.0.1",
        )


def run(
    root: str | os.PathLike[str],
    *,
    job: BatchJob | str = BatchJob.EXPORT_MESH,
    outdir: str | os.PathLike[str],
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    memory_limit: str | None = None,
    progress: bool = False,
    retry_failed: bool = False,
    **options: Any,
) -> list[dict[str, Any]]:
    """Run one job over every series under ``root`` on Dask; return the manifest rows.

    Parameters
    ----------
    root : path
        Folder searched recursively for DICOM series.
    job : BatchJob or str
        export-mesh, stats, convert or render.
    outdir : path
        Outputs ``<key><suffix>`` and the manifests go here.
    client : dask.distributed.Client, optional
        Use this client (a notebook's). Otherwise ``scheduler`` (an address such as
        ``tcp://host:8786``) or a LocalCluster of ``workers`` processes (default: one per
        CPU), ``memory_limit`` each (e.g. "4GB").
    progress : bool
        A terminal progress bar for the whole batch (and the dashboard link).
    retry_failed : bool
        Run series that failed last time again (default: keep their error rows).
    **options
        Job options: preset (default bone), threshold (a number or "auto" for Otsu's; default
        the preset's), upper, smooth, reduce, largest, coords, render_preset, size,
        threads_per_task (default 1: one core per task, the cluster gives the parallelism).

    Returns
    -------
    list of dict
        One row per series: key, job, status (ok, error, skipped), output, seconds,
        warnings, error; series complete from an earlier run have status "skipped", and
        earlier failures keep their error row unless ``retry_failed``. A study folder with
        DICOM files but no loadable series adds an error row naming the folder
        (``row["folder"]``) and its skipped files. Empty when no DICOM file is under
        ``root``.

    Raises
    ------
    FileNotFoundError
        ``root`` does not exist.
    NotADirectoryError
        ``root`` is a file (load a single series with :func:`vtkdicom_app.load`).
    """
    from dask.distributed import Client, as_completed

    job = BatchJob(job) if not isinstance(job, BatchJob) else job
    root_path = Path(root)
    if not root_path.exists():
        raise FileNotFoundError(f"batch root {root_path} does not exist")
    if not root_path.is_dir():
        raise NotADirectoryError(f"batch root {root_path} is a file, not a folder of studies")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    previous = load_manifest(out)

    def done_before(t: SeriesTask) -> bool:
        row = previous.get(t.key)
        if row is None or row.get("job") != job.value:
            return False
        return _complete(row, out) or (row.get("status") == "error" and not retry_failed)

    own_cluster = None
    if client is None:
        if scheduler:
            client = Client(scheduler)
        else:
            own_cluster = local_cluster(workers, memory_limit=memory_limit, dashboard=progress)
            client = Client(own_cluster)
    tasks: list[SeriesTask] = []
    rows: dict[str, dict[str, Any]] = {}
    unloadable: list[dict[str, Any]] = []
    work = as_completed()
    submitted: dict[Any, SeriesTask] = {}
    bar = None

    def consider(found: list[SeriesTask], problems: Iterable[UnloadableFolder] = ()) -> None:
        """Record skipped series; submit the others at once (processing overlaps scanning)."""
        for problem in problems:
            unloadable.append(problem.row(job))
        for t in found:
            tasks.append(t)
            if done_before(t):
                prev = previous[t.key]
                rows[t.key] = {**prev, "status": "error" if prev.get("status") == "error" else "skipped"}
            else:
                future = client.submit(run_task, t, job=job.value, outdir=str(out), options=options, pure=False)
                submitted[future.key] = t
                work.add(future)
                if bar is not None:
                    bar.total = (bar.total or 0) + 1
                    bar.refresh()

    try:
        if progress:
            import sys

            from tqdm import tqdm

            link = getattr(client, "dashboard_link", None)
            if link:
                print(f"Dask dashboard: {link}", file=sys.stderr)
            # counts, no rate: the total grows while the study folders are scanned
            bar = tqdm(total=0, desc=f"batch {job.value}", unit="series", file=sys.stderr, bar_format="{desc}: {n}/{total} {unit} |{bar}| [{elapsed}]")
        # scan each study folder on the workers (the client only lists the top level)
        entries = sorted(root_path.iterdir())
        folders = [str(e) for e in entries if e.is_dir() and not e.name.startswith(".")]
        loose = [str(e) for e in entries if e.is_file() and not e.name.startswith(".")]
        if loose:
            from vtkdicom_app.io.loader import scan

            scanned_loose = scan(loose)
            loose_tasks = _tasks(scanned_loose)
            loose_problem = None if loose_tasks else _unloadable(scanned_loose, str(root_path), ".")
            consider(loose_tasks, [] if loose_problem is None else [loose_problem])
        scans = client.map(_scan_folder, folders, root=str(root_path), pure=False)
        scanned_folder = {f.key: folder for f, folder in zip(scans, folders, strict=True)}
        for scanned in as_completed(scans):
            try:
                consider(*scanned.result())
            except Exception as exc:  # the scan's workers died (KilledWorker): an error row, not the end
                rel = os.path.relpath(scanned_folder[scanned.key], root_path)
                consider([], [UnloadableFolder(key=_hash("folder", rel), folder=rel, n_files=0, reason=f"scanning {rel}/ failed: {type(exc).__name__}: {exc}")])
        with open(out / "manifest.jsonl", "a") as journal:
            for row in unloadable:
                journal.write(json.dumps(row) + "\n")
            journal.flush()
            for future in work:
                try:
                    row = future.result()
                except Exception as exc:  # lost with its workers (KilledWorker) or cancelled: an error row
                    row = _lost_row(submitted[future.key], job, exc)
                row.pop("traceback", None)
                rows[row["key"]] = row
                journal.write(json.dumps(row) + "\n")
                journal.flush()
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if own_cluster is not None:
            client.close()
            own_cluster.close()
        elif scheduler and client is not None:
            client.close()
    manifest = [rows[t.key] for t in tasks] + sorted(unloadable, key=lambda r: r["folder"])
    _write_manifests(manifest, out)
    return manifest
