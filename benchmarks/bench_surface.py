"""DICOM folder -> bone STL, whole process: ``vtkdicom-app export-mesh`` against dicom2stl.

Writes (once, cached) a 512x512x300 CT phantom with partial-volume edges (a real scan's
blur, so that an iso-surface can be accurate), then runs, each as its own process, warm
(one run first), ``--repeat`` times:

* ``vtkdicom-app export-mesh DIR -o bone.stl --threshold T --largest``
* ``dicom2stl --isovalue T --enable largest -o bone.stl DIR`` (its ``--largest`` flag
  crashes in 0.5.0; its defaults otherwise: median
  filter, smoothing, 90 % reduction)

with T halfway between the body (40 HU) and the bone sphere (1000 HU), so that the largest
piece is the sphere and its true volume 4/3 pi r^3 is known. Reports the median wall time,
peak RSS and the sphere volume error of each, and the time to decimate a large skin surface
by 90 % (target: a 1.5 M-triangle surface in under 3 s).

Run: ``python benchmarks/bench_surface.py [--repeat 3] [--no-append]`` (needs
``pip install dicom2stl``).
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import publish  # noqa: E402

ROOT = HERE.parent
SHAPE = (300, 512, 512)


def _ensure_phantom(folder: Path) -> None:
    marker = folder / ".complete"
    if marker.exists():
        return
    from vtkdicom_app.phantom import write_phantom

    shutil.rmtree(folder, ignore_errors=True)
    print(f"writing the partial-volume phantom to {folder} ...", flush=True)
    t = time.perf_counter()
    write_phantom(folder, rows=SHAPE[1], columns=SHAPE[2], slices=SHAPE[0], pixel_spacing=(0.7, 0.7), slice_spacing=1.0, partial_volume=True)
    marker.write_text("ok")
    print(f"  done in {time.perf_counter() - t:.1f} s", flush=True)


def _measured(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall time, peak RSS (MB) and exit code of one command run in a fresh child process."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        f"p = subprocess.run({cmd!r}, capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, p.returncode)\n"
        "sys.stderr.write(p.stderr[-2000:])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall, rss, rc = out.stdout.split()
    return float(wall), float(rss), int(rc), out.stderr


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and append it to RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "ct512x300_pv")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)

    import trimesh

    from vtkdicom_app.phantom import make_spec

    _ensure_phantom(args.data)
    spec = make_spec(min(SHAPE[2] * 0.7, SHAPE[1] * 0.7, SHAPE[0] * 1.0), min_sphere_radius_mm=3.0)
    threshold = (spec.body_hu + spec.sphere_hu) / 2
    truth = spec.sphere_volume_mm3
    d2s = shutil.which("dicom2stl") or str(Path(sys.executable).with_name("dicom2stl"))
    vda_cli = [sys.executable, "-m", "vtkdicom_app"]
    work = Path(tempfile.mkdtemp(prefix="bench_surface_"))
    contenders = {
        "vtkdicom-app export-mesh": lambda out: vda_cli + ["-q", "export-mesh", str(args.data), "-o", str(out), "--threshold", f"{threshold:g}", "--largest"],
        "dicom2stl": lambda out: [d2s, "--isovalue", f"{threshold:g}", "--enable", "largest", "-o", str(out), str(args.data)],
    }
    rows = []
    for name, make in contenders.items():
        out = work / f"{name.split()[0]}.stl"
        if not Path(make(out)[0]).exists() and name == "dicom2stl":
            rows.append((name, float("nan"), float("nan"), float("nan"), 0, "dicom2stl not installed: pip install dicom2stl"))
            continue
        _measured(make(out))  # warm-up
        runs = [_measured(make(out)) for _ in range(args.repeat)]
        failures = [r for r in runs if r[2] != 0]
        if failures:
            rows.append((name, float("nan"), float("nan"), float("nan"), 0, failures[0][3].strip().splitlines()[-1] if failures[0][3].strip() else "failed"))
            continue
        mesh = trimesh.load(out, force="mesh")
        error = 100.0 * (abs(mesh.volume) / truth - 1.0)
        rows.append((name, statistics.median(r[0] for r in runs), max(r[1] for r in runs), error, len(mesh.faces), f"watertight {mesh.is_watertight}"))
        print(f"  {name:28s} {rows[-1][1]:.2f} s  {rows[-1][2]:.0f} MB  volume error {error:+.2f} %  {len(mesh.faces)} triangles", flush=True)

    # decimation of a large skin surface
    import vtkdicom_app as vda
    from vtkdicom_app.surface import decimate, extract_surface, mesh_report

    vol = vda.load(args.data)
    skin = extract_surface(vol, threshold=-300.0, smooth=0)
    n_before = mesh_report(skin).triangles
    t = time.perf_counter()
    light = decimate(skin, 0.9)
    dec_time = time.perf_counter() - t
    n_after = mesh_report(light).triangles

    ours = rows[0]
    peer = rows[1]
    ratio = peer[1] / ours[1] if ours[1] == ours[1] and peer[1] == peer[1] else float("nan")
    lines = [
        f"## bench_surface {_dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; phantom {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} with partial-volume edges; "
        f"threshold {threshold:g} HU, largest piece = the bone sphere (true volume {truth:.0f} mm3); whole processes, "
        f"warm, median of {args.repeat}",
        "",
        "| contender | median s | peak RSS MB | sphere volume error | triangles | note |",
        "|---|---|---|---|---|---|",
    ]
    for name, med, rss, err, tris, note in rows:
        lines.append(f"| {name} | {med:.2f} | {rss:.0f} | {err:+.2f} % | {tris} | {note} |")
    lines += [
        "",
        f"- dicom2stl / vtkdicom-app = {ratio:.1f}x (target >= 3x): {'PASS' if ratio >= 3 else 'MISS'}",
        f"- volume accuracy: ours {abs(ours[3]):.2f} % vs dicom2stl {abs(peer[3]):.2f} % "
        f"(target: equal or better): {'PASS' if abs(ours[3]) <= abs(peer[3]) else 'MISS'}",
        f"- decimation by 90 % of a {n_before}-triangle skin surface: {dec_time:.2f} s -> {n_after} triangles "
        f"(target: 1.5 M triangles in < 3 s; scaled to 1.5 M: {dec_time * 1.5e6 / max(n_before, 1):.2f} s)",
        "",
    ]
    shutil.rmtree(work, ignore_errors=True)
    publish(lines, append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
