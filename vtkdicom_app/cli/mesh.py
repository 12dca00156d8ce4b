"""``export-mesh``: an iso-surface written for printing (STL, OBJ, PLY, 3MF, VTP; mm)."""

from __future__ import annotations

import argparse
from typing import Any

from vtkdicom_app.cli._common import (
    Command,
    UsageError,
    check_crop,
    check_output,
    check_range,
    crop_options,
    crop_parent,
    enum_values,
    input_parents,
    parse_surface_threshold,
    write_json,
)
from vtkdicom_app.cli._progress import progress_for

__all__ = ["COMMANDS", "surface_options", "check_reduce"]


def surface_options(threshold: tuple[float | str, float | None] | None) -> dict[str, Any]:
    """``extract_surface`` keywords for a ``--threshold`` given on the command line.

    Nothing when it was not given (the preset's threshold, or the library's default for the
    volume's modality); ``threshold="auto"`` for Otsu's; ``threshold`` and, for ``LO:HI``,
    ``upper``.
    """
    if threshold is None:
        return {}
    lo, hi = threshold
    return {"threshold": lo} if hi is None else {"threshold": lo, "upper": hi}


def check_reduce(reduce: float | None) -> None:
    """``--reduce`` is the fraction of triangles to remove."""
    if reduce is not None and not 0.0 <= reduce <= 0.99:
        raise UsageError(f"--reduce {reduce:g}: give the fraction of triangles to remove, 0..0.99")


def _arguments(p: argparse.ArgumentParser) -> None:
    from vtkdicom_app.surface import CoordinateSystem, load_surface_presets

    p.add_argument("-o", "--output", required=True, help="OUT.stl, .obj, .ply, .3mf or .vtp")
    p.add_argument("--preset", choices=list(load_surface_presets()))
    p.add_argument(
        "--threshold",
        type=parse_surface_threshold,
        help="auto (Otsu's), LO or LO:HI (HU for CT); default: the preset's, else 300 HU on CT and Otsu's otherwise",
    )
    p.add_argument("--smooth", type=int, default=None, help="windowed-sinc iterations (default 15 or the preset's)")
    p.add_argument("--reduce", type=float, default=None, help="fraction of triangles to remove, 0..0.99")
    p.add_argument("--largest", action="store_true", help="keep only the largest piece")
    p.add_argument("--min-island", type=float, default=0.0, metavar="MM3", help="drop pieces smaller than this volume")
    p.add_argument("--fill-holes", action="store_true")
    p.add_argument("--gaussian", type=float, default=0.0, metavar="MM", help="Gaussian pre-smoothing sigma")
    p.add_argument(
        "--coords", choices=enum_values(CoordinateSystem), default=CoordinateSystem.LPS.value, help="coordinates of the written points (default lps)"
    )
    p.add_argument("--ascii", action="store_true", help="ASCII STL/PLY/VTP")
    p.add_argument("--allow-open", action="store_true", help="write even if the mesh is not watertight")
    p.add_argument("--force", action="store_true", help="extract even if the geometry is unknown")
    p.add_argument("--report", metavar="REPORT.json", help="write the mesh report as JSON")
    from vtkdicom_app.segmentation.commands import add_export_mesh_segment_options

    add_export_mesh_segment_options(p)  # --seed, --roi, --segmentation, --segment


def check_export_mesh(args: argparse.Namespace) -> None:
    """Usage errors of ``export-mesh`` (an unknown suffix: exit 1, as tests/test_surface.py
    expects), before the volume is loaded."""
    from vtkdicom_app.mesh_io import MeshFormat
    from vtkdicom_app.segmentation.commands import wants_segment_export

    check_crop(args)
    if wants_segment_export(args):
        if crop_options(args):
            raise UsageError("--crop/--downsample do not apply with --seed, --roi or --segmentation (segments live on the whole volume's grid)")
        return  # the segment export checks its own outputs (it also writes .glb)
    MeshFormat.from_path(args.output)
    if args.report and not args.report.lower().endswith(".json"):
        raise UsageError(f"--report {args.report}: the mesh report is JSON; give REPORT.json")
    check_reduce(args.reduce)
    if args.smooth is not None and args.smooth < 0:
        raise UsageError(f"--smooth {args.smooth}: give a number of iterations >= 0")
    if args.min_island < 0:
        raise UsageError(f"--min-island {args.min_island:g}: give a volume >= 0 mm3")
    if args.gaussian < 0:
        raise UsageError(f"--gaussian {args.gaussian:g}: give a sigma >= 0 mm")
    check_range("--threshold", args.threshold)
    check_output(args.output)
    check_output(args.report, "--report")


def run_export_mesh(args: argparse.Namespace) -> int:
    """``vtkdicom-app export-mesh``."""
    from vtkdicom_app.segmentation.commands import run_export_mesh_segments, wants_segment_export

    if wants_segment_export(args):  # a seeded/cropped segment, or saved segments
        return run_export_mesh_segments(args)
    from vtkdicom_app.io.loader import load
    from vtkdicom_app.mesh_io import export_mesh
    from vtkdicom_app.surface import extract_surface, mesh_report

    with progress_for(args) as progress:
        vol = load(args.path, series=args.series, progress=progress, **crop_options(args))
        mesh = extract_surface(
            vol,
            preset=args.preset,
            smooth=args.smooth,
            reduce=args.reduce,
            largest=args.largest,
            min_island_mm3=args.min_island,
            fill_holes=args.fill_holes,
            gaussian_sigma_mm=args.gaussian,
            force=args.force,
            progress=progress,
            **surface_options(args.threshold),
        )
    try:
        report = export_mesh(mesh, args.output, coords=args.coords, binary=not args.ascii, allow_open=args.allow_open)
    except Exception:
        if args.report:  # the report says what is wrong even when nothing was written
            write_json(args.report, mesh_report(mesh, coordinate_system=args.coords).as_dict())
        raise
    print(f"wrote {args.output}")
    print(report.summary())
    if args.report:
        write_json(args.report, report.as_dict())
    return 0


COMMANDS = (
    Command(
        "export-mesh",
        "iso-surface to STL/OBJ/PLY/3MF/VTP for printing (mm)",
        run_export_mesh,
        _arguments,
        check_export_mesh,
        parents=lambda: [*input_parents(), crop_parent()],
    ),
)
