"""4D stepping: the viewer's data path for the next frame of a 256x256x40x30 sequence.

Loads a beating-sphere sequence (30 time points, 256x256x40, cached under benchmarks/.data)
with ``load_sequence`` and times, per step, what the viewer does when the frame slider or
play moves on: switch the cursor to the next frame and reslice the current plane (axial,
and the oblique-free coronal as a second plane). Also reports the load time of the whole
sequence. Target (issue 9): under 20 ms per step.

Run: ``python benchmarks/bench_sequence.py [--no-append]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import publish  # noqa: E402

FRAMES, SHAPE = 30, (40, 256, 256)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and append it to RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "seq256x40x30")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)

    import vtkdicom_app as vda
    from vtkdicom_app.mpr import MprCursor, Plane
    from vtkdicom_app.phantom import SequenceKind, write_sequence

    done = args.data / ".complete"
    if not done.exists():
        print(f"writing the {FRAMES}-frame sequence to {args.data} ...", flush=True)
        write_sequence(
            args.data, kind=SequenceKind.TIME, frames=FRAMES, rows=SHAPE[1], columns=SHAPE[2], slices=SHAPE[0], pixel_spacing=(1.0, 1.0), slice_spacing=2.0
        )
        done.write_text("ok")
    t = time.perf_counter()
    seq = vda.load_sequence(args.data)
    load_s = time.perf_counter() - t
    cursor = MprCursor(seq[0])
    rows = []
    for plane in (Plane.AXIAL, Plane.CORONAL):
        times = []
        for n in range(1, 3 * FRAMES):
            t = time.perf_counter()
            cursor.set_volume(seq[n % FRAMES])
            cursor.slice(plane)
            times.append(time.perf_counter() - t)
        rows.append((plane.value, statistics.median(times) * 1000, max(times) * 1000))
        print(f"  {plane.value:8s} median {rows[-1][1]:.1f} ms  max {rows[-1][2]:.1f} ms", flush=True)
    worst = max(r[1] for r in rows)
    lines = [
        f"## bench_sequence {_dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; {FRAMES} frames of {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} "
        f"({FRAMES * SHAPE[0]} files); load_sequence {load_s:.2f} s",
        "",
        "| plane | median ms per frame step | max ms |",
        "|---|---|---|",
        *[f"| {name} | {med:.1f} | {mx:.1f} |" for name, med, mx in rows],
        "",
        f"- frame step (set the next frame + reslice) {worst:.1f} ms (target < 20 ms): {'PASS' if worst < 20 else 'MISS'}",
        "",
    ]
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
