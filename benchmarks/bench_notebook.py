"""Notebook viewer speed: a slice change shows the new 512x512 image in < 100 ms.

On the 512x512x300 phantom (0.7 mm pixels, 1 mm slices) it times, after a warm-up:

* the whole slice change as the browser triggers it: the axial slider's new value -> the
  model reslices the axial plane (vtkImageReslice, linear), windows it, draws the crosshair,
  redraws the two other views (their crosshair line moved) -> PNG encoding of the three views
  -> the ``Image`` widgets' new values (what ipywidgets sends; the browser's PNG decode is not
  included). Also with the crosshair off (one view re-rendered) and split into its parts;
* ``vol._repr_html_()`` (summary table + three-plane thumbnail) of the same volume;
* building the viewer with its 3D view, and one 3D re-render (CPU ray casting on software
  OpenGL when there is no GPU).

Target: slice change < 100 ms (median). Run: ``python benchmarks/bench_notebook.py [--repeat 20]
[--no-append]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import ensure_ct512, publish  # noqa: E402

TARGET_S = 0.100


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table (and append it to RESULTS.md unless --no-append)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "ct512x300")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)

    import ipywidgets  # type: ignore[import-untyped]
    import numpy as np
    from vtkmodules.vtkCommonCore import vtkVersion

    import vtkdicom_app as vda
    import vtkdicom_app.notebook as nb
    from vtkdicom_app.mpr import Plane
    from vtkdicom_app.notebook.widget import encode_png

    ensure_ct512(args.data)
    vol = vda.load(args.data)
    rows: list[tuple[str, float, float]] = []

    t = time.perf_counter()
    html = vol._repr_html_()
    first_repr = time.perf_counter() - t
    med, low = _timed(vol._repr_html_, max(3, args.repeat // 4))
    rows.append(("vol._repr_html_() (table + thumbnail)", med, low))

    t = time.perf_counter()
    viewer = nb.view(vol, size_3d=(400, 400))
    build = time.perf_counter() - t
    model = viewer.model
    slider = viewer.sliders[Plane.AXIAL]
    shape = model.slices[Plane.AXIAL].shape
    n = model.n_positions(Plane.AXIAL)
    positions = iter(int(v) for v in np.tile(np.r_[np.arange(n // 4, 3 * n // 4), np.arange(3 * n // 4, n // 4, -1)], 100))

    def slider_change() -> None:
        slider.value = next(positions)

    rows.append((f"slice change, slider -> 3 PNGs sent (axial {shape[1]}x{shape[0]}, crosshair on)", *_timed(slider_change, args.repeat)))
    viewer.crosshair.value = False
    rows.append(("slice change, crosshair off (1 PNG sent)", *_timed(slider_change, args.repeat)))
    viewer.crosshair.value = True

    reslicer = model._reslicer
    rows.append(("  part: reslice the axial plane (linear)", *_timed(lambda: reslicer.reslice(Plane.AXIAL, point=model.point.tolist()), args.repeat)))

    def window_and_crosshair() -> None:
        model._grey.clear()  # forget the windowed grey: window it again
        model.render(Plane.AXIAL)

    rows.append(("  part: window + crosshair of one view", *_timed(window_and_crosshair, args.repeat)))
    picture = model.images[Plane.AXIAL]
    rows.append(("  part: PNG encoding of one 512x512 view", *_timed(lambda: encode_png(picture), args.repeat)))
    rows.append(("3D: one off-screen render to PNG (400x400)", *_timed(lambda: viewer.scene.png(), max(3, args.repeat // 4))))
    gl = viewer.scene.opengl()

    slice_change = rows[1][1]
    stamp = _dt.datetime.now().isoformat(timespec="seconds")
    lines = [
        f"## bench_notebook {stamp}",
        "",
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}, vtk {vtkVersion.GetVTKVersion()}, "
        f"numpy {np.__version__}, ipywidgets {ipywidgets.__version__}; phantom {vol.shape} int16; {args.repeat} runs after a warm-up; "
        f"3D: {gl['mapper']} ray caster on {gl['renderer']} ({gl['window']})",
        "",
        "| what | median ms | min ms |",
        "|---|---|---|",
        *[f"| {name} | {1000 * med:.1f} | {1000 * low:.1f} |" for name, med, low in rows],
        "",
        f"- slice change (slider -> new PNGs) = {1000 * slice_change:.1f} ms (target < {1000 * TARGET_S:.0f} ms): {'PASS' if slice_change < TARGET_S else 'MISS'}",
        f"- first `_repr_html_` {1000 * first_repr:.0f} ms, {len(html) / 1024:.0f} KiB of HTML; building the viewer with its 3D view {build:.2f} s",
    ]
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
