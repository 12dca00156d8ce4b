"""Batch throughput: series per minute for 16 phantom studies, export-mesh job.

A sequential loop in one process (``run_task`` for each series) against ``batch.run`` on a
Dask LocalCluster with 1 and with 2 worker processes, measured in one run (cluster start-up
excluded: the cluster is made and its workers import the package first, then the timed
work is submitted; the timed part includes scanning the headers of every study). Target (issue 10,
2-core machine): 2 workers at least 1.7x the series per minute of 1 worker.

Run: ``python benchmarks/bench_batch.py [--no-append]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import publish  # noqa: E402

N_STUDIES, GRID = 16, dict(rows=384, columns=384, slices=200, pixel_spacing=(0.8, 0.8), slice_spacing=1.25)


def _warm() -> None:
    import vtkmodules.vtkFiltersCore  # noqa: F401

    import vtkdicom_app.io.loader  # noqa: F401
    import vtkdicom_app.mesh_io  # noqa: F401
    import vtkdicom_app.surface  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and append it to RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "cohort16x384")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    from dask.distributed import Client

    from vtkdicom_app.batch import find_series, local_cluster, run, run_task
    from vtkdicom_app.phantom import write_phantom

    if not (args.data / ".complete").exists():
        for n in range(N_STUDIES):
            write_phantom(args.data / f"study{n:02d}", seed=500 + n, partial_volume=True, **GRID)
        (args.data / ".complete").write_text("ok")
    tasks = find_series(args.data)
    results = []
    out = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    t = time.perf_counter()
    for task in tasks:
        assert run_task(task, "export-mesh", str(out), {"largest": True, "threads_per_task": 1})["status"] == "ok"
    seq_s = time.perf_counter() - t
    results.append(("sequential loop, 1 process", seq_s))
    for workers in (1, 2):
        cluster = local_cluster(workers)
        client = Client(cluster)
        client.run(_warm)  # imports done on every worker: time the work, not the start-up
        times = []
        for _ in range(3):  # median of three batches on the same cluster
            shutil.rmtree(out, ignore_errors=True)
            t = time.perf_counter()
            rows = run(args.data, job="export-mesh", outdir=out, client=client, largest=True)
            times.append(time.perf_counter() - t)
            assert all(r["status"] == "ok" for r in rows)
        results.append((f"Dask LocalCluster, {workers} worker(s)", sorted(times)[1]))
        client.close()
        cluster.close()
    shutil.rmtree(out, ignore_errors=True)
    per_min = [(name, len(tasks) / s * 60) for name, s in results]
    speedup = per_min[2][1] / per_min[1][1]
    lines = [
        f"## bench_batch {_dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; {len(tasks)} studies of {GRID['columns']}x{GRID['rows']}x{GRID['slices']}, "
        "export-mesh (bone, largest), outputs written to local disk",
        "",
        "| runner | seconds | series per minute |",
        "|---|---|---|",
        *[f"| {name} | {s:.1f} | {pm:.0f} |" for (name, s), (_n, pm) in zip(results, per_min)],
        "",
        f"- 2 workers / 1 worker = {speedup:.2f}x (target >= 1.7x): {'PASS' if speedup >= 1.7 else 'MISS'}",
        "",
    ]
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
