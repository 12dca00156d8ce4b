"""Scanning scales linearly (issue 16): ``vda.scan`` of 20,000 files of 80 series in one folder.

The files (64x64 CT slices, 80 series of 171..329 slices, random hex names so that the folder's order
mixes the series) are written once into ``benchmarks/.data/scan_20000x80`` (git-ignored).
Timed, in this process with a warm page cache:

* ``vda.scan(folder, progress=bar)`` with the command line's terminal progress bar (drawn
  on stderr), the median of ``--repeat`` runs after one warm-up; and the same on the first
  quarter and half of the files (a list of paths), to show the time per file stays flat;
* SimpleITK's series lookup on the same folder, as a user of it would write it:
  ``ImageSeriesReader.GetGDCMSeriesIDs`` then ``GetGDCMSeriesFileNames`` per series, in a
  child process stopped after ``--sitk-cap`` seconds (it rescans the folder for every
  series).

Target: 20,000 files in < 10 s. Usage: ``python benchmarks/bench_scan.py [--files 20000]
[--series 80] [--repeat 3] [--sitk-cap 120] [--no-sitk] [--profile] [--no-append]``
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import HERE, publish

DATA = HERE / ".data"
TARGET_S = 10.0

_SITK_CHILD = """
import json, sys, time
import SimpleITK as sitk
folder = sys.argv[1]
t = time.perf_counter()
ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder)
print(json.dumps({"ids": len(ids), "t": time.perf_counter() - t}), flush=True)
files = 0
for n, uid in enumerate(ids):
    files += len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, uid))
    print(json.dumps({"series": n + 1, "files": files, "t": time.perf_counter() - t}), flush=True)
"""


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _loadavg() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def ensure_files(folder: Path, n_files: int, n_series: int) -> None:
    """Write ``n_series`` series of 64x64 slices, ``n_files`` in all, unless they are there."""
    marker = folder / ".complete"
    if marker.exists():
        return
    from vtkdicom_app.testing.phantom import write_phantom

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    # the phantom writer gives each later series 2 slices fewer: series s has slices - 2 s
    slices = -(-(n_files + n_series * (n_series - 1)) // n_series)
    print(f"writing {n_series} series of {slices - 2 * (n_series - 1)}..{slices} 64x64 slices to {folder} ...", flush=True)
    t = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 2000 == 0 or done == total:
            print(f"  {done}/{total} slices rendered", flush=True)

    write_phantom(folder, rows=64, columns=64, slices=slices, n_series=n_series, shuffle_names=True, pixel_spacing=(4.0, 4.0), progress=progress)
    marker.write_text("ok")
    print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)


def _time_scan(paths: str | list[str], repeat: int) -> tuple[float, int, int]:
    """Median seconds of ``vda.scan`` with a progress bar; series and files found."""
    import vtkdicom_app as vda
    from vtkdicom_app.cli._progress import TerminalProgress

    times = []
    found = (0, 0)
    for _ in range(repeat):
        with TerminalProgress(enabled=True) as bar:
            t = time.perf_counter()
            series = vda.scan(paths, progress=bar)
            times.append(time.perf_counter() - t)
        found = (len(series), sum(s.n_files for s in series))
    return statistics.median(times), found[0], found[1]


def _sitk(folder: Path, cap: float) -> tuple[float | None, str]:
    """SimpleITK's lookup in a child process: (seconds or None when stopped, what it did)."""
    proc = subprocess.Popen([sys.executable, "-c", _SITK_CHILD, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate(timeout=cap)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        if not rows:
            return None, f"stopped after {cap:.0f} s, the series IDs not yet listed"
        first, done = rows[0], rows[-1]
        return None, f"{first['ids']} series IDs in {first['t']:.1f} s; stopped after {cap:.0f} s with {done.get('series', 0)} series' file lists"
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    if proc.returncode != 0 or not rows:
        return None, f"failed (exit {proc.returncode})"
    first, last = rows[0], rows[-1]
    return float(last["t"]), f"{first['ids']} series IDs in {first['t']:.1f} s, {last.get('files', 0)} files listed"


def _profile(folder: Path) -> list[str]:
    import vtkdicom_app as vda

    prof = cProfile.Profile()
    prof.enable()
    vda.scan(folder)
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
    return ["", "```", *text.getvalue().strip().splitlines(), "```"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--series", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sitk-cap", type=float, default=120.0, help="stop SimpleITK's lookup after this many seconds")
    parser.add_argument("--no-sitk", action="store_true", help="leave SimpleITK out")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one scan")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    folder = DATA / f"scan_{args.files}x{args.series}"
    ensure_files(folder, args.files, args.series)
    files = sorted(str(p) for p in folder.iterdir() if not p.name.startswith("."))
    n = len(files)
    print(f"{platform.machine()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average {_loadavg()}", flush=True)

    _time_scan(str(folder), 1)  # warm-up: page cache, imports
    rows: list[tuple[str, int, float, int, int]] = []
    for part in (4, 2):
        s, n_series, n_found = _time_scan(files[: n // part], args.repeat)
        rows.append((f"vda.scan, the first 1/{part} of the files (a list)", n // part, s, n_series, n_found))
    s, n_series, n_found = _time_scan(str(folder), args.repeat)
    rows.append(("vda.scan, the folder", n, s, n_series, n_found))
    full_s = s

    lines = [
        f"## bench_scan {datetime.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{n} files (64x64 CT slices) of {args.series} series in one folder, names in random order; warm page cache; "
        f"{os.cpu_count()} CPUs, load average {_loadavg()}; median of {args.repeat} runs with the terminal progress bar",
        "",
        "| what | files | s | ms per 1000 files | series found | files in series |",
        "|---|---|---|---|---|---|",
    ]
    for what, count, secs, n_series, n_found in rows:
        lines.append(f"| {what} | {count} | {secs:.2f} | {secs / count * 1e6:.0f} | {n_series} | {n_found} |")
    if not args.no_sitk:
        secs_sitk, how = _sitk(folder, args.sitk_cap)
        shown = f"{secs_sitk:.1f}" if secs_sitk is not None else f"> {args.sitk_cap:.0f}"
        lines.append(f"| SimpleITK GetGDCMSeriesIDs + GetGDCMSeriesFileNames per series ({how}) | {n} | {shown} | | | |")
    per_file = [secs / count for _w, count, secs, _s, _f in rows]
    growth = per_file[-1] / per_file[0]
    ok_found = rows[-1][3] == args.series and rows[-1][4] == n
    lines += [
        "",
        f"- {n} files in {full_s:.2f} s (target < {TARGET_S:g} s): {_verdict(full_s < TARGET_S)}",
        f"- time per file at {n} files / at {n // 4}: {growth:.2f}x (linear: about 1): {_verdict(growth < 1.3)}",
        f"- every series found whole ({rows[-1][3]} series, {rows[-1][4]} files): {_verdict(ok_found)}",
    ]
    if not args.no_sitk:
        if secs_sitk is None:
            lines.append(f"- SimpleITK's lookup did not finish within {args.sitk_cap:.0f} s ({how}): skipped beyond that")
        else:
            lines.append(f"- SimpleITK's lookup / vda.scan: {secs_sitk / full_s:.1f}x")
    if args.profile:
        lines += _profile(folder)
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
