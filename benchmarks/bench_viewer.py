"""Viewer speed: start to the first painted frame with a study loaded, and crosshair drags.

Runs the real viewer (PyQt5 + VTK) on a display (Xvfb is started when there is none) in a
fresh process on the 512x512x300 phantom, and measures: the time from process start
(before imports) until the four views are painted with the volume loaded, and the median
time of one crosshair move (three slices resliced and rendered) while dragging. Targets
(issue 6, 2-core machine): first frame under 3 s, drag frame under 50 ms.

Run: ``python benchmarks/bench_viewer.py [--no-append]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import ensure_ct512, publish  # noqa: E402

ROOT = HERE.parent
SHAPE = (300, 512, 512)

CHILD = r"""
import time
T0 = time.perf_counter()
import json, statistics, sys
from PyQt5 import QtWidgets
app = QtWidgets.QApplication(sys.argv[:1])
from vtkdicom_app.app.main_window import MainWindow, wait_for
w = MainWindow(); w.resize(1200, 860); w.show(); app.processEvents(); w.init_vtk()
wait_for(w.open_path(sys.argv[1]))
for pane in w.panes.values():
    pane.GetRenderWindow().Render()
w.view3d.GetRenderWindow().Render()
app.processEvents()
first = time.perf_counter() - T0
import numpy as np
start = w.model.cursor.point.copy()
times = []
for n in range(40):
    p = start + np.array([np.sin(n / 6.0) * 40.0, np.cos(n / 6.0) * 30.0, (n % 10) * 2.0])
    t = time.perf_counter(); w.set_crosshair(p); app.processEvents(); times.append(time.perf_counter() - t)
print(json.dumps({"first": first, "drag_median": statistics.median(times), "drag_max": max(times), "mapper": w.scene.mapper_kind.value}))
"""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and append it to RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "ct512x300")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from vtkdicom_app.cli import _virtual_display

    ensure_ct512(args.data)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "xcb"}
    xvfb = None
    if not env.get("DISPLAY"):
        started = _virtual_display()
        if started is None:
            print("no display and no Xvfb: cannot run the viewer", file=sys.stderr)
            return 1
        env["DISPLAY"], xvfb = started
    try:
        runs = []
        for _ in range(3):
            out = subprocess.run([sys.executable, "-c", CHILD, str(args.data)], capture_output=True, text=True, env=env, timeout=300)
            line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if not line:
                print(out.stderr[-2000:], file=sys.stderr)
                return 1
            runs.append(json.loads(line[-1]))
    finally:
        if xvfb is not None:
            xvfb.terminate()
    first = sorted(r["first"] for r in runs)[1]
    drag = sorted(r["drag_median"] for r in runs)[1]
    lines = [
        f"## bench_viewer {_dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; phantom {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]}; 1200x860 window on "
        f"{'Xvfb' if xvfb is not None else 'the display'}; {runs[0]['mapper']} volume mapper; median of 3 processes",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| process start to first painted frame, study loaded | {first:.2f} s | < 3 s: {'PASS' if first < 3 else 'MISS'} |",
        f"| crosshair drag, one move (3 reslices + renders), median | {drag * 1000:.0f} ms | < 50 ms: {'PASS' if drag < 0.05 else 'MISS'} |",
        f"| crosshair drag, worst move | {max(r['drag_max'] for r in runs) * 1000:.0f} ms | |",
        "",
    ]
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
