"""``batch``: one job over every series under a folder, on Dask (:mod:`vtkdicom_app.batch`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from vtkdicom_app.cli._common import Command, UsageError, check_range, parse_surface_threshold, quiet_parent
from vtkdicom_app.cli._progress import progress_for
from vtkdicom_app.cli.mesh import check_reduce, surface_options

__all__ = ["COMMANDS"]


def _has_files(root: str) -> bool:
    """Whether a folder holds any (non-hidden) file, at any depth; stops at the first."""
    for _folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(not f.startswith(".") for f in files):
            return True
    return False


def _arguments(p: argparse.ArgumentParser) -> None:
    from vtkdicom_app.batch import BatchJob
    from vtkdicom_app.cli._common import enum_values
    from vtkdicom_app.surface import load_surface_presets

    p.add_argument("root", help="folder searched recursively")
    p.add_argument("-o", "--output", required=True, help="output folder (outputs and manifest; created if needed)")
    p.add_argument("--job", required=True, choices=enum_values(BatchJob))
    p.add_argument("--scheduler", help="tcp://host:port of an existing Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per CPU)")
    p.add_argument("--memory-limit", help="per worker, e.g. 4GB (default: auto)")
    p.add_argument("--preset", choices=list(load_surface_presets()), help="surface preset for export-mesh (default bone)")
    p.add_argument("--threshold", type=parse_surface_threshold, help="export-mesh threshold: auto (Otsu's), LO or LO:HI (default: the preset's)")
    p.add_argument("--largest", action="store_true")
    p.add_argument("--reduce", type=float)
    p.add_argument("--retry-failed", action="store_true", help="run series that failed last time again")


def check_batch(args: argparse.Namespace) -> None:
    """Usage errors of ``batch``, before a cluster is started or anything written."""
    if not os.path.exists(args.root):
        raise UsageError(f"ROOT {args.root} does not exist; give the folder that holds the studies")
    if not os.path.isdir(args.root):
        raise UsageError(f"ROOT {args.root} is a file; batch runs over a folder of studies (for one series: vtkdicom-app {args.job} PATH)")
    if not _has_files(args.root):
        raise UsageError(f"ROOT {args.root} is empty: no files to process")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise UsageError(f"-o {args.output} is a file; give the output folder")
    if os.path.realpath(args.output) == os.path.realpath(args.root):
        raise UsageError("-o must not be ROOT itself: the outputs would be scanned as input next time")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give at least 1")
    check_reduce(args.reduce)
    check_range("--threshold", args.threshold)


def run_batch(args: argparse.Namespace) -> int:
    """``vtkdicom-app batch``: 0 when every series is done, else 1 (never the count: exit
    statuses wrap at 256), the counts in the summary line."""
    from vtkdicom_app import batch

    options: dict[str, Any] = surface_options(args.threshold)
    if args.preset:
        options["preset"] = args.preset
    if args.largest:
        options["largest"] = True
    if args.reduce is not None:
        options["reduce"] = args.reduce
    rows = batch.run(
        args.root,
        job=args.job,
        outdir=args.output,
        scheduler=args.scheduler,
        workers=args.workers,
        memory_limit=args.memory_limit,
        progress=progress_for(args).enabled,
        retry_failed=args.retry_failed,
        **options,
    )
    if not rows:
        raise UsageError(f"no DICOM image series found under ROOT {args.root}")
    folders = [r for r in rows if r.get("folder") is not None]
    series = [r for r in rows if r.get("folder") is None]
    failed = [r for r in series if r["status"] == "error"]
    done = sum(r["status"] == "ok" for r in series)
    skipped = sum(r["status"] == "skipped" for r in series)
    unloadable = f"; {len(folders)} study folder(s) with no loadable series" if folders else ""
    manifest = os.path.join(args.output, "manifest.csv")
    print(f"{len(series)} series: {done} done, {skipped} already complete, {len(failed)} failed{unloadable}; manifest in {manifest}")
    problems = folders + failed
    for r in problems[:10]:
        print(f"failed {r['key']}: {r['error']}", file=sys.stderr)
    if len(problems) > 10:
        print(f"... and {len(problems) - 10} more failures (the manifest lists them)", file=sys.stderr)
    return 1 if problems else 0


COMMANDS = (
    Command(
        "batch",
        "one job over every series under ROOT, on Dask",
        run_batch,
        _arguments,
        check_batch,
        parents=lambda: [quiet_parent()],
    ),
)
