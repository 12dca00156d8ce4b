"""Volume rendering speed: first frame and frames while orbiting, 512x512 window.

On a 512x512x300 CT phantom (cached), for the mapper AUTO picks on this machine and for
the other one, measures: the first frame (scene set-up + first render, full quality), the
median frame while orbiting with interaction on (sample distances adapt to 15 fps), and a
full-quality frame. Targets (issue 5, 2-core machine without GPU): >= 10 frames per second
during interaction and a first frame under 2 s.

Run: ``python benchmarks/bench_render.py [--frames 24] [--no-append]``.
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
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "ct512x300")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)

    import vtkdicom_app as vda
    from vtkdicom_app.rendering import MapperKind, VolumeScene, opengl_info

    ensure_ct512(args.data)
    vol = vda.load(args.data)
    rows = []
    auto_kind = None
    renderer = ""
    for requested in (MapperKind.AUTO, MapperKind.CPU, MapperKind.GPU):
        if requested is not MapperKind.AUTO and requested is auto_kind:
            continue
        t = time.perf_counter()
        scene = VolumeScene(vol, preset="ct-bone", size=(512, 512), mapper=requested)
        scene.render()
        first = time.perf_counter() - t
        if requested is MapperKind.AUTO:
            auto_kind = scene.mapper_kind
            renderer = opengl_info(scene.render_window)["renderer"]
        cam = scene.renderer.GetActiveCamera()
        scene.interactive(True)
        moving = []
        for _ in range(args.frames):
            cam.Azimuth(360.0 / args.frames)
            scene.renderer.ResetCameraClippingRange()
            moving.append(scene.render())
        scene.interactive(False)
        still = [scene.render() for _ in range(2)]
        label = f"{scene.mapper_kind.value}" + (" (auto)" if requested is MapperKind.AUTO else "")
        rows.append((label, first, statistics.median(moving), statistics.median(still)))
        print(
            f"  {label:10s} first {first:.2f} s  moving {statistics.median(moving) * 1000:.0f} ms  still {statistics.median(still) * 1000:.0f} ms", flush=True
        )
        del scene

    auto = rows[0]
    fps = 1.0 / auto[2] if auto[2] > 0 else float("inf")
    lines = [
        f"## bench_render {_dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, OpenGL renderer {renderer!r}; "
        f"phantom {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]}, 512x512 window, ct-bone preset, {args.frames} orbit frames",
        "",
        "| mapper | first frame s | median frame while orbiting ms | full-quality frame ms |",
        "|---|---|---|---|",
    ]
    for label, first, moving, still in rows:
        lines.append(f"| {label} | {first:.2f} | {moving * 1000:.0f} | {still * 1000:.0f} |")
    lines += [
        "",
        f"- interaction with the auto-chosen mapper: {fps:.0f} fps (target >= 10): {'PASS' if fps >= 10 else 'MISS'}",
        f"- first frame {auto[1]:.2f} s (target < 2 s): {'PASS' if auto[1] < 2 else 'MISS'}",
        "",
    ]
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
