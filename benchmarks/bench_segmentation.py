"""Segment Editor speed on a 512x512x300 CT: seed region, brush, undo, margin, surface.

Builds (in memory, ~10 s) a CT-like volume on the grid of the other benchmarks (512x512x300,
0.7 x 0.7 x 1.0 mm): the project phantom's model (body, lungs, spine, 1000 HU bone sphere,
marker) scaled to the grid, plus a 1200 HU table plate under the body, with Gaussian noise
(SD 20 HU). Then times, after one warm-up run each, the median of ``--repeat`` runs of:

* seed-connected region (``tools.seed_region``, 300..3000 HU) from a seed in the sphere
  and from a seed in the table (a region spanning the whole scan), against VTK's seeded
  ``vtkImageConnectivityFilter`` on the whole volume and ``scipy.ndimage.label`` +
  picking the seed's label (the plain baselines);
* one brush stroke (``tools.paint``, 5 mm radius) and its undo; the undo of the seed region;
* margin +2 mm (``tools.margin``) of the sphere and of all bone (threshold 300: table,
  spine, sphere, marker), against ``scipy.ndimage.distance_transform_edt`` (+ threshold)
  and ``binary_dilation`` with a 2 mm ball on the same bounding box;
* the surface of one segment (``segment_surface``: surface nets with their smoothing,
  volume kept) of the sphere, the table and all bone, against the flying-edges method
  (binomial blur + windowed sinc) and plain flying edges on the mask (staircase).

Targets (issue 14): seed region < 0.5 s, brush < 30 ms, undo < 50 ms, margin 2 mm < 1 s,
surface < 1 s. Prints a table with PASS/MISS; ``--append`` adds it to RESULTS.md.

Run: ``python benchmarks/bench_segmentation.py [--repeat 3] [--append]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import CT512, publish  # noqa: E402

SPACING = (0.7, 0.7, 1.0)  # di, dj, dk


def build_volume() -> tuple[Any, Any]:
    """The CT-like Volume and its phantom spec."""
    from vtkdicom_app.phantom import make_spec, phantom_values
    from vtkdicom_app.volume import Volume

    nk, nj, ni = CT512
    spec = make_spec(min(ni * SPACING[0], nj * SPACING[1], nk * SPACING[2]))
    arr = np.empty(CT512, np.int16)
    x = (np.arange(ni) - (ni - 1) / 2) * SPACING[0]
    y = (np.arange(nj) - (nj - 1) / 2) * SPACING[1]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    table = (np.abs(xx) <= 0.45 * ni * SPACING[0]) & (yy >= spec.body_semi_axes[1] + 4) & (yy <= spec.body_semi_axes[1] + 12)
    rng = np.random.default_rng(0)
    for k in range(nk):
        z = (k - (nk - 1) / 2) * SPACING[2]
        hu = phantom_values(np.stack([xx, yy, np.full_like(xx, z)], axis=-1), spec)
        hu[table] = 1200.0
        arr[k] = np.rint(hu + rng.normal(0, 20, hu.shape)).astype(np.int16)
    origin = (-(ni - 1) / 2 * SPACING[0], -(nj - 1) / 2 * SPACING[1], -(nk - 1) / 2 * SPACING[2])
    return Volume(arr, spacing=SPACING, origin=origin, metadata={"Modality": "CT"}), spec


@dataclasses.dataclass
class Row:
    name: str
    seconds: float
    target: float | None = None
    note: str = ""

    def line(self) -> str:
        verdict = "" if self.target is None else ("PASS" if self.seconds < self.target else "MISS")
        target = "" if self.target is None else f"< {self.target * 1000:.0f} ms"
        return f"| {self.name} | {self.seconds * 1000:.1f} ms | {target} | {verdict} | {self.note} |"


def timed(fn: Callable[[], Any], repeat: int, *, before: Callable[[], Any] | None = None, after: Callable[[], Any] | None = None) -> float:
    """Median seconds of ``repeat`` runs after one warm-up (``before``/``after`` run untimed around each)."""
    times = []
    for n in range(repeat + 1):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if after is not None:
            after()
        if n:
            times.append(dt)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--append", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()

    from scipy import ndimage

    from vtkdicom_app.segmentation import SegmentationModel, segment_surface, tools
    from vtkdicom_app.segmentation._ops import _image, connected
    from vtkdicom_app.segmentation.surfaces import SurfaceMethod, SurfaceOptions

    t0 = time.perf_counter()
    vol, spec = build_volume()
    print(f"built the {CT512} volume in {time.perf_counter() - t0:.1f} s", flush=True)
    rows: list[Row] = []
    repeat = args.repeat
    sphere_seed = np.asarray(spec.sphere_center)
    table_seed = np.array([0.0, spec.body_semi_axes[1] + 8, 0.0])
    model = SegmentationModel.from_volume(vol)
    sid = model.add_segment("sphere").segment_id
    bone = model.add_segment("bone").segment_id
    k, j, i = model.geometry.voxel_of(sphere_seed)

    # ------------------------------------------------------------------ seed region
    rows.append(Row("seed region, sphere (tools.seed_region)", timed(lambda: tools.seed_region(model, sid, sphere_seed, 300, 3000), repeat), 0.5))
    voxels = model.voxel_count(sid)
    rows.append(
        Row(
            "seed region, table: whole scan (tools.seed_region)",
            timed(lambda: tools.seed_region(model, bone, table_seed, 300, 3000), repeat),
            0.5,
            f"{model.voxel_count(bone)} voxels",
        )
    )
    rows.append(Row("  baseline: VTK seeded connectivity, whole volume", timed(lambda: connected(vol.array, 300, 3000, seeds_kji=[(k, j, i)]), repeat)))

    def scipy_label() -> np.ndarray:
        labels, _n = ndimage.label((vol.array >= 300) & (vol.array <= 3000))
        return labels == labels[k, j, i]

    rows.append(Row("  baseline: scipy.ndimage.label + pick", timed(scipy_label, max(1, repeat // 2))))
    assert int(np.count_nonzero(scipy_label())) == voxels

    # ------------------------------------------------------------------ brush and undo
    tools.seed_region(model, sid, sphere_seed, 300, 3000)
    centre = sphere_seed + np.array([0.0, 0.0, spec.sphere_radius + 12.0])
    rows.append(Row("brush stroke, 5 mm (tools.paint)", timed(lambda: tools.paint(model, sid, centre, 5.0), repeat, after=model.undo), 0.03))
    rows.append(Row("undo the brush stroke", timed(model.undo, repeat, before=lambda: tools.paint(model, sid, centre, 5.0)), 0.05))
    table = model.add_segment("table").segment_id  # empty: each seed region below is a real change
    rows.append(
        Row("undo a seed region (whole-scan table)", timed(model.undo, repeat, before=lambda: tools.seed_region(model, table, table_seed, 300, 3000)), 0.05)
    )
    rows.append(Row("undo a threshold of the whole volume", timed(model.undo, repeat, before=lambda: tools.threshold(model, bone, 300)), 0.05))

    # ------------------------------------------------------------------ margin
    model.undo_budget_bytes = 64 * 1024 * 1024
    tools.seed_region(model, sid, sphere_seed, 300, 3000)
    tools.threshold(model, bone, 300)
    rows.append(Row("margin +2 mm, sphere (tools.margin)", timed(lambda: tools.margin(model, sid, 2.0), repeat, after=model.undo), 1.0))
    rows.append(
        Row(
            "margin +2 mm, all bone (tools.margin)",
            timed(lambda: tools.margin(model, bone, 2.0), repeat, after=model.undo),
            1.0,
            f"bounding box {model.bounding_box(bone).shape}",  # type: ignore[union-attr]
        )
    )
    sphere_box = model.bounding_box(sid).expand(4, model.geometry.shape)  # type: ignore[union-attr]
    sub = model.mask(sid)[sphere_box.slices]
    sp = model.geometry.spacing_kji
    rows.append(Row("  baseline: scipy EDT + threshold, sphere box", timed(lambda: ndimage.distance_transform_edt(~sub, sampling=sp) <= 2.0, 1)))
    zz, yy, xx = np.mgrid[-2:3, -2:3, -2:3]
    ball = (zz * sp[0]) ** 2 + (yy * sp[1]) ** 2 + (xx * sp[2]) ** 2 <= 4.0
    rows.append(Row("  baseline: scipy binary_dilation (2 mm ball), sphere box", timed(lambda: ndimage.binary_dilation(sub, ball), 1)))
    bone_box = model.bounding_box(bone)
    rows.append(
        Row(
            "  baseline: scipy binary_dilation (2 mm ball), all-bone box",
            timed(lambda: ndimage.binary_dilation(model.mask(bone)[bone_box.slices], ball), 1),  # type: ignore[union-attr]
        )
    )

    # ------------------------------------------------------------------ surfaces
    rows.append(Row("surface, sphere (segment_surface)", timed(lambda: segment_surface(model, sid), repeat), 1.0))
    tools.keep_largest_island(model, bone)  # the table alone: a large flat plate the length of the scan
    rows.append(Row("surface, table plate 300 mm long (segment_surface)", timed(lambda: segment_surface(model, bone), repeat), 1.0))
    model.undo()
    mesh = segment_surface(model, bone)
    rows.append(
        Row(
            "surface, all bone (segment_surface)",
            timed(lambda: segment_surface(model, bone), repeat),
            1.0,
            f"{mesh.GetNumberOfCells()} triangles",
        )
    )

    preview = SurfaceOptions(method=SurfaceMethod.FLYING_EDGES, iterations=20)
    rows.append(
        Row(
            "  flying-edges method: binomial blur, 20 windowed-sinc iterations (all bone)",
            timed(lambda: segment_surface(model, bone, options=preview), repeat),
            1.0,
        )
    )

    def plain_fe() -> Any:
        from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

        fe = vtkFlyingEdges3D()
        fe.SetInputData(_image(model.mask(bone).view(np.uint8)))
        fe.SetValue(0, 0.5)
        fe.Update()
        return fe.GetOutput()

    rows.append(Row("  baseline: flying edges on the mask (staircase, no smoothing)", timed(plain_fe, repeat)))
    raw = SurfaceOptions(method=SurfaceMethod.FLYING_EDGES, sigma_voxels=0, iterations=0, keep_volume=False)
    rows.append(Row("  ours without blur/smoothing (all bone)", timed(lambda: segment_surface(model, bone, options=raw), repeat)))

    header = [
        f"## bench_segmentation.py ({platform.node()}, {CT512[2]}x{CT512[1]}x{CT512[0]}, {math.prod(CT512) / 1e6:.1f} M voxels)",
        "",
        "| step | median | target | | note |",
        "|---|---|---|---|---|",
    ]
    publish(header + [r.line() for r in rows] + [""], append=args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
