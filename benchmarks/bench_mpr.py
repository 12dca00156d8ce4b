"""Reslice speed: one 512x512 slice of a 512x512x300 phantom, as dragging through slices does.

Times :class:`vtkdicom_app.mpr.Reslicer` (one pipeline reused, as the viewer does) for an
axial slice, a linear oblique slice and a 10 mm MIP slab, next to a bare vtkImageReslice
doing the same sampling. Targets (issue 3, 2-core machine): at most 5 ms for a linear
oblique slice and 20 ms for a 10 mm MIP, so that dragging stays above 30 frames per second.

Run: ``python benchmarks/bench_mpr.py [--repeat 30] [--no-append]``.
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
from _common import ensure_ct512, publish  # noqa: E402

SHAPE = (300, 512, 512)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and append it to RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "ct512x300")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)

    import numpy as np
    from vtkmodules.vtkCommonMath import vtkMatrix4x4
    from vtkmodules.vtkImagingCore import vtkImageReslice

    import vtkdicom_app as vda
    from vtkdicom_app.mpr import Reslicer, SlabMode
    from vtkdicom_app.pipeline import use_threads

    ensure_ct512(args.data)
    vol = vda.load(args.data)
    reslicer = Reslicer(vol)
    centre = reslicer.centre()
    oblique_normal = (0.3, 0.25, 0.92)
    cases = {
        "axial, linear": dict(plane="axial", interpolation="linear"),
        "oblique, linear": dict(plane="oblique", normal=oblique_normal, interpolation="linear"),
        "axial, 10 mm MIP": dict(plane="axial", slab_mm=10.0, slab_mode=SlabMode.MIP),
        "oblique, 10 mm MIP": dict(plane="oblique", normal=oblique_normal, slab_mm=10.0, slab_mode=SlabMode.MIP),
        "oblique, 10 mm MIP, nearest (dragging)": dict(plane="oblique", normal=oblique_normal, slab_mm=10.0, slab_mode=SlabMode.MIP, interpolation="nearest"),
    }

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        fn()
        times = []
        for step in range(args.repeat):
            t = time.perf_counter()
            fn(step)
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    ours = {}
    for name, kw in cases.items():
        kw = dict(kw)
        plane = kw.pop("plane")

        def run(step: int = 0, plane=plane, kw=kw) -> None:  # type: ignore[no-untyped-def]
            p = centre + np.array([0, 0, step * 0.7])  # a new slice every time, like dragging
            s = reslicer.reslice(plane, point=p, size=(512, 512), **kw)
            assert s.array.shape == (512, 512)

        ours[name] = timed(run)
        print(f"  {name:40s} vda {ours[name]:.1f} ms", flush=True)

    # bare vtkImageReslice: the same oblique linear sampling, nothing else
    use_threads()
    image = vol.to_vtk()
    bare = vtkImageReslice()
    bare.SetInputData(image)
    bare.SetOutputDimensionality(2)
    bare.SetOutputDirection(1, 0, 0, 0, 1, 0, 0, 0, 1)
    bare.SetInterpolationModeToLinear()
    from vtkdicom_app.mpr import plane_axes

    axes = plane_axes(__import__("vtkdicom_app.mpr", fromlist=["Plane"]).Plane.OBLIQUE, oblique_normal)
    bare.SetOutputSpacing(0.7, 0.7, 1.0)
    bare.SetOutputExtent(0, 511, 0, 511, 0, 0)
    bare.SetOutputOrigin(-179.0, -179.0, 0.0)

    def run_bare(step: int = 0) -> None:
        m = vtkMatrix4x4()
        for r in range(3):
            for c in range(3):
                m.SetElement(r, c, float(axes[r, c]))
            m.SetElement(r, 3, float(centre[r] + (step * 0.7 if r == 2 else 0.0)))
        bare.SetResliceAxes(m)
        bare.Update()

    bare_ms = timed(run_bare)
    print(f"  bare vtkImageReslice oblique {bare_ms:.1f} ms", flush=True)
    lines = [
        f"## bench_mpr {_dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; phantom {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]}; "
        f"512x512 output, median of {args.repeat} slices, each at a new position",
        "",
        "| slice | vda Reslicer ms |",
        "|---|---|",
    ]
    lines += [f"| {name} | {ms:.1f} |" for name, ms in ours.items()]
    lines += [
        f"| bare vtkImageReslice, oblique linear | {bare_ms:.1f} |",
        "",
        f"- oblique linear {ours['oblique, linear']:.1f} ms (target <= 5 ms): {'PASS' if ours['oblique, linear'] <= 5 else 'MISS'}",
        f"- 10 mm MIP slab (axial) {ours['axial, 10 mm MIP']:.1f} ms (target <= 20 ms): {'PASS' if ours['axial, 10 mm MIP'] <= 20 else 'MISS'}",
        f"- 10 mm MIP slab on an oblique plane (no target set; shown for dragging): linear {ours['oblique, 10 mm MIP']:.1f} ms, "
        f"nearest {ours['oblique, 10 mm MIP, nearest (dragging)']:.1f} ms",
        "",
    ]
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
