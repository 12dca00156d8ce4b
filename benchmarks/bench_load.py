"""Loading speed: ``vda.load`` against SimpleITK, vtkDICOMImageReader and a raw read.

Writes (once, cached) a 512x512x300 uncompressed CT phantom with shuffled file names, then in
one process, after imports and one warm-up run of each contender, times ``--repeat`` runs of:

* ``vtkdicom_app.load(folder)`` (and ``backend="vtk"`` as an extra row);
* SimpleITK: ``GetGDCMSeriesFileNames`` + ``ImageSeriesReader.Execute``;
* ``vtkDICOMImageReader`` (``SetDirectoryName`` + ``Update``; its geometry is wrong);
* a raw read of every file's bytes (the floor).

All contenders read from a warm page cache (after the warm-up). It then runs a whole
``vtkdicom-app info FOLDER --json`` process and reports its wall time and peak RSS, and the
import time of the loader. Targets (issue 2): >= 3x faster than SimpleITK, >= 1.5x faster than
vtkDICOMImageReader, within 4x of the raw read, info peak RSS <= 1.2 x volume + 100 MB.

Run: ``python benchmarks/bench_load.py [--repeat 5] [--data DIR] [--no-append]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHAPE = (300, 512, 512)


def _ensure_phantom(folder: Path) -> None:
    if folder.is_dir() and len(list(folder.iterdir())) == SHAPE[0]:
        return
    from vtkdicom_app.phantom import write_phantom

    print(f"writing the {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} phantom to {folder} ...", flush=True)
    t = time.perf_counter()
    write_phantom(folder, rows=SHAPE[1], columns=SHAPE[2], slices=SHAPE[0], pixel_spacing=(0.7, 0.7), slice_spacing=1.0, shuffle_names=True)
    print(f"  done in {time.perf_counter() - t:.1f} s", flush=True)


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def _info_process(folder: Path) -> tuple[float, float, int]:
    """Wall time (s), peak RSS (MB) and exit code of a whole `vtkdicom-app info --json` process."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        f"p = subprocess.run([sys.executable, '-m', 'vtkdicom_app', 'info', {str(folder)!r}, '--json'], capture_output=True)\n"
        "dt = time.perf_counter() - t\n"
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, p.returncode)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall, rss, rc = out.stdout.split()
    return float(wall), float(rss), int(rc)


def _import_time() -> float:
    code = "import time; t = time.perf_counter(); from vtkdicom_app.io.loader import load; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(out.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and append it to RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "ct512x300")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)

    import numpy as np
    import SimpleITK as sitk
    import vtk as _vtk_version_only  # noqa: F401  (version string for the report; not used by the package)
    from vtkmodules.vtkIOImage import vtkDICOMImageReader

    import vtkdicom_app as vda

    folder = args.data
    _ensure_phantom(folder)
    files = sorted(str(p) for p in folder.iterdir())

    def run_vda() -> object:
        vol = vda.load(folder)
        assert vol.array.shape == SHAPE, vol.array.shape
        return vol

    def run_vda_vtk() -> object:
        return vda.load(folder, backend="vtk")

    def run_sitk() -> object:
        reader = sitk.ImageSeriesReader()
        names = reader.GetGDCMSeriesFileNames(str(folder))
        reader.SetFileNames(names)
        return reader.Execute()

    def run_vtk() -> object:
        reader = vtkDICOMImageReader()
        reader.SetDirectoryName(str(folder))
        reader.Update()
        return reader.GetOutput()

    def run_raw() -> object:
        total = 0
        for f in files:
            with open(f, "rb") as fh:
                total += len(fh.read())
        return total

    # correctness first: the same voxels as SimpleITK
    ref = sitk.GetArrayFromImage(run_sitk())
    same = bool(np.array_equal(ref, run_vda().array))  # type: ignore[attr-defined]

    rows: list[tuple[str, float, float]] = []
    for name, fn in (
        ("vda.load", run_vda),
        ("vda.load(backend='vtk')", run_vda_vtk),
        ("SimpleITK ImageSeriesReader", run_sitk),
        ("vtkDICOMImageReader", run_vtk),
        ("raw read of the bytes", run_raw),
    ):
        med, best = _time(fn, args.repeat)
        rows.append((name, med, best))
        print(f"  {name:30s} median {med:.3f} s  min {best:.3f} s", flush=True)
    base = rows[0][1]
    by_name = {r[0]: r[1] for r in rows}
    sitk_ratio = by_name["SimpleITK ImageSeriesReader"] / base
    vtk_ratio = by_name["vtkDICOMImageReader"] / base
    raw_ratio = base / by_name["raw read of the bytes"]
    wall, rss, rc = _info_process(folder)
    volume_mb = np.prod(SHAPE) * 2 / 2**20
    rss_limit = 1.2 * volume_mb + 100
    imp = _import_time()

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    lines = [
        f"## bench_load {_dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, vtk {_vtk_version_only.vtkVersion.GetVTKVersion()}, "
        f"SimpleITK {sitk.Version.VersionString()}, pydicom {__import__('pydicom').__version__}, numpy {np.__version__}; "
        f"phantom {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} uncompressed, shuffled names; {args.repeat} runs after a warm-up; "
        f"voxels equal to SimpleITK: {same}",
        "",
        "| contender | median s | min s | ratio to vda.load |",
        "|---|---|---|---|",
    ]
    for name, med, best in rows:
        lines.append(f"| {name} | {med:.3f} | {best:.3f} | {med / base:.2f}x |")
    lines += [
        "",
        f"- SimpleITK / vda = {sitk_ratio:.1f}x (target >= 3x): {verdict(sitk_ratio >= 3)}",
        f"- vtkDICOMImageReader / vda = {vtk_ratio:.1f}x (target >= 1.5x): {verdict(vtk_ratio >= 1.5)}",
        f"- vda / raw read = {raw_ratio:.1f}x (target <= 4x): {verdict(raw_ratio <= 4)}",
        f"- `vtkdicom-app info --json` process: {wall:.2f} s wall, peak RSS {rss:.0f} MB "
        f"(target <= 1.2 x {volume_mb:.0f} + 100 = {rss_limit:.0f} MB): {verdict(rss <= rss_limit and rc == 0)}",
        f"- import of the loader (`from vtkdicom_app.io.loader import load`): {imp:.3f} s",
        "",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    if not args.no_append:
        results = HERE / "RESULTS.md"
        if not results.exists():
            results.write_text("# Benchmark results\n\nAppended by the scripts in this folder; newest last.\n\n")
        with results.open("a") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
