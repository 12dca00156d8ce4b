"""Retrieval speed from a local Orthanc: ``vtkdicom_app.net.retrieve`` against dcmtk's ``getscu``.

What it measures
----------------
1. Writes, once, the 512x512x300 uncompressed CT phantom (``vtkdicom_app.phantom.write_phantom``
   through ``_common.ensure_ct512``, 157 MB of pixel data) into ``--data DIR`` (default
   ``benchmarks/.data/ct512x300``).
2. Starts Orthanc (``/usr/sbin/Orthanc``, DICOMweb plugin on, storage in a temporary folder,
   uncompressed) on free 127.0.0.1 ports and uploads the series through its REST API.
3. Times, after one warm-up each (Orthanc's storage is then in the page cache), ``--repeat``
   retrievals of the whole series into a fresh empty folder:

   * ``net.retrieve(method="get")``: C-GET (pynetdicom; instance listing by C-FIND included);
   * ``net.retrieve(method="web")``: WADO-RS (dicomweb-client; QIDO-RS listing included);
   * ``net.retrieve(method="move")``: C-MOVE to our storage SCP;
   * ``getscu`` (dcmtk): ``getscu -S -k QueryRetrieveLevel=SERIES ... -od DIR``, default
     options, and with ``-pdu 131072`` (its largest PDU; ours accepts any size); the whole
     process is timed.

   Throughput is the bytes of the files written divided by the median wall time.
4. Does it twice: with Orthanc as Debian ships it (DCMTK with Nagle's algorithm on: every
   small PDU waits for the client's ACK, ~40 ms per instance against delayed ACKs), and with
   ``TCP_NODELAY=1`` in the environment of Orthanc and getscu (Nagle off, both DCMTK).

Target: the throughput of each of our protocols (C-GET, DICOMweb, C-MOVE) >= 0.8x getscu's
best on the same server settings; one PASS/MISS line per protocol and setting (a contender
that failed is a MISS). The table, with a date/time header and the machine's details, is
appended to ``benchmarks/RESULTS.md`` unless ``--no-append``; ``--repeat 1`` is a quick run.

Run::

    python benchmarks/bench_pacs.py [--repeat 3] [--data DIR] [--no-append]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from _common import CT512, ensure_ct512, publish  # noqa: E402

DEFAULT_DATA = HERE / ".data" / "ct512x300"
ME = "VDABENCH"
TARGET = 0.8  # each protocol's throughput against getscu's best, same server settings
OURS = ("vtkdicom_app C-GET", "vtkdicom_app DICOMweb (WADO-RS)", "vtkdicom_app C-MOVE")


def _folder_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def _time(run: Callable[[Path], None], work: Path, repeat: int) -> tuple[list[float], int, int]:
    """Warm-up, then ``repeat`` timed runs into a fresh folder; (times, files, bytes)."""
    times = []
    n_files = n_bytes = 0
    for i in range(repeat + 1):
        out = work / f"run{i}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        t = time.perf_counter()
        run(out)
        elapsed = time.perf_counter() - t
        n_files, n_bytes = _folder_bytes(out)
        if n_files != CT512[0]:
            raise RuntimeError(f"{n_files} files retrieved instead of {CT512[0]}")
        shutil.rmtree(out, ignore_errors=True)
        if i:
            times.append(elapsed)
    return times, n_files, n_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per contender after one warm-up (1: a quick run)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-append", action="store_true", help="print the table only, do not append it to RESULTS.md")
    args = parser.parse_args(argv)

    from tests.net_orthanc import LocalOrthanc, free_port, missing_reason

    reason = missing_reason()
    if reason or shutil.which("getscu") is None:
        print(f"cannot run: {reason or 'getscu (dcmtk) is not installed: run scripts/setup-system.sh'}", file=sys.stderr)
        return 1
    import pydicom

    from vtkdicom_app import net

    ensure_ct512(args.data)
    files = sorted(p for p in args.data.iterdir() if p.is_file())
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    study, series = str(first.StudyInstanceUID), str(first.SeriesInstanceUID)
    source_mb = sum(p.stat().st_size for p in files) / 1e6

    base = Path(tempfile.mkdtemp(prefix="bench_pacs_"))
    move_port = free_port()
    rows: list[tuple[str, str, float, float, float]] = []  # setting, contender, median s, best s, MB/s
    verdicts: list[str] = []
    try:
        for setting, env in (("as shipped (Nagle on)", {}), ("TCP_NODELAY=1", {"TCP_NODELAY": "1"})):
            orthanc = LocalOrthanc(base / "orthanc", modalities={ME: move_port}, env=env).start()
            try:
                if not orthanc.rest("/instances"):
                    t = time.perf_counter()
                    print(f"uploading {len(files)} files ({source_mb:.0f} MB) to Orthanc ...", flush=True)
                    orthanc.upload(files)
                    print(f"  {time.perf_counter() - t:.1f} s", flush=True)
                server = net.ServerConfig.adhoc(
                    host="127.0.0.1", port=orthanc.dicom_port, called_aet="ORTHANC", calling_aet=ME, url=orthanc.dicomweb_url, move_port=move_port, timeout=60
                )

                def ours(method: str) -> Callable[[Path], None]:
                    def run(out: Path) -> None:
                        r = net.retrieve(server, study, series, method=method, cache_dir=out)
                        assert r.n_transferred == CT512[0]

                    return run

                def getscu(*extra: str) -> Callable[[Path], None]:
                    cmd = [
                        "getscu",
                        "-aet",
                        ME,
                        "-aec",
                        "ORTHANC",
                        "-S",
                        *extra,
                        "-k",
                        "QueryRetrieveLevel=SERIES",
                        "-k",
                        f"StudyInstanceUID={study}",
                        "-k",
                        f"SeriesInstanceUID={series}",
                    ]

                    def run(out: Path) -> None:
                        subprocess.run(
                            [*cmd, "-od", str(out), "127.0.0.1", str(orthanc.dicom_port)],
                            check=True,
                            capture_output=True,
                            env={**os.environ, **env},
                            timeout=600,
                        )

                    return run

                contenders: list[tuple[str, Callable[[Path], None]]] = [
                    ("vtkdicom_app C-GET", ours("get")),
                    ("vtkdicom_app DICOMweb (WADO-RS)", ours("web")),
                    ("vtkdicom_app C-MOVE", ours("move")),
                    ("getscu", getscu()),
                    ("getscu -pdu 131072", getscu("-pdu", "131072")),
                ]
                results: dict[str, float] = {}
                for name, run in contenders:
                    print(f"[{setting}] {name} ...", flush=True)
                    try:
                        times, _n, nbytes = _time(run, base / "out", args.repeat)
                    except Exception as exc:  # a failing contender is a row, not the end of the run
                        rows.append((setting, f"{name} (n/a: {type(exc).__name__}: {str(exc)[:80]})", float("nan"), float("nan"), float("nan")))
                        continue
                    med = statistics.median(times)
                    mbs = nbytes / 1e6 / med
                    results[name] = mbs
                    rows.append((setting, name, med, min(times), mbs))
                    print(f"  median {med:.2f} s, {mbs:.0f} MB/s", flush=True)
                best_getscu = max((v for k, v in results.items() if k.startswith("getscu")), default=float("nan"))
                for name in OURS:
                    if name not in results or best_getscu != best_getscu:
                        verdicts.append(f"- [{setting}] {name}: n/a (no throughput for it or for getscu): MISS")
                        continue
                    ratio = results[name] / best_getscu
                    verdict = "PASS" if ratio >= TARGET else "MISS"
                    verdicts.append(f"- [{setting}] {name} / best getscu = {ratio:.2f}x (target >= {TARGET}x): {verdict}")
            finally:
                orthanc.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)

    import dicomweb_client
    import pynetdicom

    lines = [
        f"## bench_pacs ({_dt.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, pynetdicom {pynetdicom.__version__}, dicomweb-client {dicomweb_client.__version__})",
        "",
        f"One series of {CT512[0]} uncompressed 512x512 CT slices ({source_mb:.0f} MB) from a local Orthanc "
        f"(127.0.0.1, page cache warm) into an empty folder; median / best of {args.repeat} after a warm-up. "
        "Ours includes its queries (series-level C-FIND / QIDO-RS for the instance count, SOPClassesInStudy for C-GET) and the atomic writes.",
        "",
        "| server | contender | median s | best s | MB/s |",
        "|---|---|---|---|---|",
        *[f"| {s} | {n} | {m:.2f} | {b:.2f} | {mb:.0f} |" for s, n, m, b, mb in rows],
        "",
        *verdicts,
        "",
    ]
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
