"""MR series speed: Siemens mosaics against plain slices, and scanning a 2,000-file 4D series.

What it measures (one process, all imports and a warm-up before any clock, page cache warm)
-------------------------------------------------------------------------------------------
1. **Mosaic unpacking**: ``--volumes`` Siemens mosaic files of 64x64x36 tiles (384x384
   images, written by :func:`vtkdicom_app.phantom_mr.write_mosaic`) against the same voxels
   as plain single-frame slices (``--volumes`` x 36 files of 64x64, the same series written
   by :func:`vtkdicom_app.phantom_mr.write_classic_4d`). Rows:

   * ``vda.load_sequence(mosaics)`` -- the function under test;
   * ``vda.load_sequence(plain slices)`` -- the same voxels from plain files (target: the
     mosaic row costs at most 1.10x this one);
   * nibabel's ``MosaicWrapper.get_data()`` over every mosaic file (the peer that unpacks
     mosaics; pydicom reads each file);
   * SimpleITK ``ImageSeriesReader`` on the plain slices of one volume x ``--volumes`` (it
     cannot unpack mosaics, and stacks repeated positions into one false volume, so it is
     timed per volume with ``GetGDCMSeriesFileNames`` on a per-volume folder).

2. **Scanning a classic 4D series of 2,000 files** (100 volumes x 20 slices of 64x64, GE
   style: only InstanceNumber tells the volumes apart): ``vda.scan`` (target < 1 s), against
   ``pydicom.dcmread(stop_before_pixels=True)`` of every file and SimpleITK's
   ``GetGDCMSeriesFileNames`` (header scan and sort by GDCM).

The table (median and best of ``--repeat`` runs, ratios) is printed and appended to
``benchmarks/RESULTS.md`` unless ``--no-append``.

Run::

    python benchmarks/bench_mr.py [--repeat 5] [--volumes 20] [--data DIR] [--no-append]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import publish  # noqa: E402

DEFAULT_DATA = HERE / ".data" / "mr"
TILE, SLICES = 64, 36


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        del result
    return statistics.median(times), min(times)


def _write_data(root: Path, volumes: int) -> tuple[Path, Path, Path, list[Path]]:
    from vtkdicom_app.phantom_mr import Classic4DStyle, write_classic_4d, write_mosaic

    mosaic = root / f"mosaic_{volumes}"
    plain = root / f"plain_{volumes}"
    big4d = root / "classic4d_2000"
    if not mosaic.is_dir() or len(list(mosaic.iterdir())) != volumes:
        shutil.rmtree(mosaic, ignore_errors=True)
        print(f"writing {volumes} mosaics ...", flush=True)
        write_mosaic(mosaic, rows=TILE, columns=TILE, slices=SLICES, volumes=volumes, pixel_spacing=(3.0, 3.0), slice_spacing=3.5)
    if not plain.is_dir() or len(list(plain.iterdir())) != volumes * SLICES:
        shutil.rmtree(plain, ignore_errors=True)
        print(f"writing {volumes * SLICES} plain slices ...", flush=True)
        write_classic_4d(plain, volumes=volumes, rows=TILE, columns=TILE, slices=SLICES, pixel_spacing=(3.0, 3.0), slice_spacing=3.5)
    if not big4d.is_dir() or len(list(big4d.iterdir())) != 2000:
        shutil.rmtree(big4d, ignore_errors=True)
        print("writing a 2,000-file classic 4D series (100 volumes x 20 slices) ...", flush=True)
        write_classic_4d(big4d, style=Classic4DStyle.INSTANCE_ONLY, volumes=100, rows=64, columns=64, slices=20)
    per_volume = root / f"plain_{volumes}_per_volume"
    if not per_volume.is_dir():
        import pydicom

        print("sorting the plain slices into one folder per volume (for SimpleITK) ...", flush=True)
        for f in sorted(plain.iterdir()):
            n = (int(pydicom.dcmread(f, stop_before_pixels=True).InstanceNumber) - 1) // SLICES
            dest = per_volume / f"v{n:03d}"
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest / f.name)
    return mosaic, plain, big4d, sorted(per_volume.iterdir())


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and append it to RESULTS.md unless ``--no-append``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--volumes", type=int, default=20, help="mosaic files (volumes) of 64x64x36")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    mosaic, plain, big4d, volume_dirs = _write_data(args.data.resolve(), args.volumes)

    import numpy as np
    import pydicom
    import SimpleITK as sitk

    import vtkdicom_app as vda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from nibabel.nicom import dicomwrappers
    warnings.simplefilter("ignore")
    load_sequence, scan = vda.load_sequence, vda.scan
    mosaic_files = sorted(mosaic.iterdir())
    big_files = sorted(big4d.iterdir())

    seq = load_sequence(mosaic)
    assert len(seq) == args.volumes and seq[0].shape == (SLICES, TILE, TILE), (len(seq), seq[0].shape)
    ref = load_sequence(plain)
    assert len(ref) == args.volumes and ref[0].shape == seq[0].shape

    def run_nibabel() -> object:
        return [dicomwrappers.wrapper_from_data(pydicom.dcmread(f)).get_data() for f in mosaic_files]

    def run_sitk() -> object:
        out = []
        for d in volume_dirs:
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(d)))
            out.append(reader.Execute())
        return out

    def run_pydicom_headers() -> object:
        return [pydicom.dcmread(f, stop_before_pixels=True) for f in big_files]

    rows: list[tuple[str, float, float]] = []
    for name, fn in (
        ("vda.load_sequence(mosaics)", lambda: load_sequence(mosaic)),
        ("vda.load_sequence(plain slices)", lambda: load_sequence(plain)),
        ("nibabel MosaicWrapper.get_data", run_nibabel),
        ("SimpleITK, one volume at a time", run_sitk),
    ):
        med, best = _timed(fn, args.repeat)
        rows.append((name, med, best))
    scan_rows: list[tuple[str, float, float]] = []
    infos = scan(big4d)
    assert len(infos) == 1 and infos[0].n_frames == 100, [(i.n_frames, i.shape) for i in infos]
    for name, fn in (
        ("vda.scan(2,000-file 4D)", lambda: scan(big4d)),
        ("pydicom headers (stop_before_pixels)", run_pydicom_headers),
        ("SimpleITK GetGDCMSeriesFileNames", lambda: sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(big4d))),
    ):
        med, best = _timed(fn, args.repeat)
        scan_rows.append((name, med, best))

    mosaic_t, plain_t = rows[0][1], rows[1][1]
    overhead = mosaic_t / plain_t
    scan_t = scan_rows[0][1]
    voxels = args.volumes * SLICES * TILE * TILE
    lines = [
        f"## bench_mr ({_dt.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}, SimpleITK {sitk.Version_VersionString()})",
        "",
        f"Mosaics: {args.volumes} files of {SLICES} tiles {TILE}x{TILE} ({voxels / 1e6:.1f} M voxels); the same voxels as "
        f"{args.volumes * SLICES} plain slices. Median / best of {args.repeat}.",
        "",
        "| contender | median s | best s | vs vda (mosaic) |",
        "|---|---|---|---|",
    ]
    for name, med, best in rows:
        lines.append(f"| {name} | {med:.4f} | {best:.4f} | {med / mosaic_t:.2f}x |")
    lines += [
        "",
        f"Mosaic cost over plain slices: {overhead:.2f}x (target <= 1.10x: {'PASS' if overhead <= 1.10 else 'MISS'})",
        "",
        "| scanning 2,000 files (100 volumes x 20 slices) | median s | best s | vs vda.scan |",
        "|---|---|---|---|",
    ]
    for name, med, best in scan_rows:
        lines.append(f"| {name} | {med:.4f} | {best:.4f} | {med / scan_t:.2f}x |")
    lines += ["", f"vda.scan of 2,000 files: {scan_t:.3f} s (target < 1 s: {'PASS' if scan_t < 1.0 else 'MISS'})", ""]
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
