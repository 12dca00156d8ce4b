"""Command-line pieces for segmentation, for ``vtkdicom_app.cli`` to wire in.

* :func:`add_segment_parser` / :func:`run_segment`: ``vtkdicom-app segment PATH -o OUT
  {.seg.nrrd,.nii.gz,.nii,.dcm} [--threshold LO[:HI]] [--seed X,Y,Z ...] [--roi box:...]
  [--largest] [--min-island MM3] [--margin MM] [--hollow MM] [--name NAME] [--color R,G,B]
  [--append]``.
* :func:`add_export_mesh_segment_options` / :func:`wants_segment_export` /
  :func:`run_export_mesh_segments`: ``export-mesh`` gains ``--seed``, ``--roi box:...`` (the
  one-step case) and ``--segmentation FILE [--segment NAME ...]`` (export saved segments:
  one file per segment, or all in one ``.3mf``/``.glb``).

Exit codes follow the CLI's: the ``run_*`` functions return 0, or 2 after printing a usage
error (found before any loading); runtime failures raise
:class:`~vtkdicom_app.errors.VtkDicomError` for ``cli.main`` to print as one line (exit 1).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from vtkdicom_app.errors import UsageError

__all__ = [
    "add_segment_arguments",
    "add_segment_parser",
    "check_segment",
    "run_segment",
    "segment",
    "add_export_mesh_segment_options",
    "wants_segment_export",
    "run_export_mesh_segments",
    "parse_point",
    "parse_box",
    "parse_color",
    "parse_range",
]

_OUTPUTS = (".seg.nrrd", ".nrrd", ".nii.gz", ".nii", ".dcm")
_MESH_OUTPUTS = (".stl", ".obj", ".ply", ".vtp", ".3mf", ".glb")


class _Usage(UsageError):
    """A command line that cannot work (exit 2): the one :class:`~vtkdicom_app.errors.UsageError`."""


# ----------------------------------------------------------------------------- argument types
def parse_point(text: str) -> tuple[float, float, float]:
    """``X,Y,Z`` (LPS mm) as three floats (argparse type)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(v == v and abs(v) != float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"a point must be X,Y,Z in LPS mm, got {text!r}")
    return (values[0], values[1], values[2])


def parse_box(text: str) -> tuple[float, ...]:
    """``box:x0,y0,z0,x1,y1,z1`` (LPS mm) as six floats (argparse type)."""
    kind, sep, rest = text.partition(":")
    try:
        values = tuple(float(v) for v in rest.split(","))
    except ValueError:
        values = ()
    if kind != "box" or not sep or len(values) != 6:
        raise argparse.ArgumentTypeError(f"--roi must be box:x0,y0,z0,x1,y1,z1 (LPS mm), got {text!r}")
    return values


def parse_color(text: str) -> tuple[float, float, float]:
    """``R,G,B`` in 0..1, or 0..255 when any value is above 1 (argparse type)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or any(v < 0 for v in values) or any(v > 255 for v in values):
        raise argparse.ArgumentTypeError(f"--color must be R,G,B in 0..1 or 0..255, got {text!r}")
    if any(v > 1 for v in values):
        values = [v / 255.0 for v in values]
    return (values[0], values[1], values[2])


def parse_range(text: str) -> tuple[float, float | None]:
    """``LO`` or ``LO:HI`` (argparse type)."""
    lo, sep, hi = text.partition(":")
    try:
        return float(lo), (float(hi) if sep and hi else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threshold must be LO or LO:HI in the volume's units, got {text!r}") from None


def _usage(command: str, message: str) -> int:
    print(f"vtkdicom-app {command}: error: {message}", file=sys.stderr)
    return 2


def _suffix(path: str, allowed: Sequence[str]) -> str | None:
    low = path.lower()
    return next((s for s in sorted(allowed, key=len, reverse=True) if low.endswith(s)), None)


def _check_folder(path: str, option: str) -> None:
    from vtkdicom_app.errors import VtkDicomError

    if os.path.isdir(path):
        raise _Usage(f"{option} {path} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise VtkDicomError(f"output folder {folder} does not exist (for {option} {path})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise VtkDicomError(f"output folder {folder} is not writable (for {option} {path})")


# ----------------------------------------------------------------------------- segment
SEGMENT_HELP = "make one segment (threshold, seeds, box, islands, margin, hollow) and save it"
SEGMENT_DESCRIPTION = (
    "Threshold the series (inside --roi), keep what is connected to --seed points, keep the largest "
    "piece or drop small ones, grow or shrink it, hollow it, and save it as a Slicer .seg.nrrd, a NIfTI "
    "labelmap or a DICOM SEG that references the series. Steps run in that order."
)
SEGMENT_PATH_HELP = "DICOM folder/file/DICOMDIR (needed for .dcm), or a .nii/.nrrd/.mha volume"


def add_segment_arguments(p: argparse.ArgumentParser) -> None:
    """The ``segment`` command's own options (``path`` and ``--series`` come from the CLI's shared parents)."""
    p.add_argument("-o", "--output", required=True, help="OUT.seg.nrrd, OUT.nii.gz (or .nii), or OUT.dcm (DICOM SEG)")
    p.add_argument("--threshold", type=parse_range, metavar="LO[:HI]", help="value range (HU for CT; default 300, Otsu's for MR/PET)")
    p.add_argument("--seed", type=parse_point, nargs="+", action="extend", metavar="X,Y,Z", help="keep what connects to these LPS points (mm)")
    p.add_argument("--roi", type=parse_box, metavar="box:x0,y0,z0,x1,y1,z1", help="only inside this LPS box (mm)")
    p.add_argument("--largest", action="store_true", help="keep only the largest piece")
    p.add_argument("--min-island", type=float, default=0.0, metavar="MM3", help="drop pieces smaller than this volume")
    p.add_argument("--margin", type=float, default=0.0, metavar="MM", help="grow (> 0) or shrink (< 0) by this distance")
    p.add_argument("--hollow", type=float, default=0.0, metavar="MM", help="make it a shell this thick (inside its surface)")
    p.add_argument("--name", default="segment", help="segment name (default 'segment')")
    p.add_argument("--color", type=parse_color, metavar="R,G,B", help="0..1 or 0..255 (default: bone white)")
    p.add_argument("--append", action="store_true", help="add the segment to OUT's segments (OUT must exist) instead of replacing OUT")


def add_segment_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``segment`` to a plain ``add_subparsers()`` object; returns its parser.

    Kept for scripts that build their own parser; ``vtkdicom-app`` registers the command
    through :mod:`vtkdicom_app.cli.segment` (shared ``path``/``--series`` parents, the
    options checked before anything loads).
    """
    p = subparsers.add_parser("segment", help=SEGMENT_HELP, description=SEGMENT_DESCRIPTION)
    p.add_argument("path", help=SEGMENT_PATH_HELP)
    p.add_argument("--series", help="series uid or SeriesNumber; default: the largest")
    add_segment_arguments(p)
    p.set_defaults(func=run_segment)
    return p


def _load_volume(args: argparse.Namespace) -> Any:
    from vtkdicom_app.io.formats import VolumeFormat, read_volume
    from vtkdicom_app.io.loader import load

    path = args.path
    try:
        VolumeFormat.from_path(path)
        volume_file = os.path.isfile(path)
    except Exception:
        volume_file = False
    if volume_file:
        return read_volume(path)
    series = getattr(args, "series", None)
    if isinstance(series, str) and series.strip().lstrip("+-").isdigit():
        series = int(series)
    return load(path, series=series)  # warnings reach the command line's one policy (printed once, -q silences)


def check_segment(args: argparse.Namespace) -> None:
    """Every check of ``segment``'s options that needs no data (the CLI runs it before loading).

    Raises
    ------
    UsageError
        An option that cannot work (exit 2).
    VtkDicomError
        The output folder is missing or not writable (exit 1).
    """
    if _suffix(args.output, _OUTPUTS) is None:
        raise _Usage(f"-o {args.output}: a segmentation is saved as {', '.join(_OUTPUTS)}")
    if args.min_island < 0:
        raise _Usage(f"--min-island {args.min_island:g}: give a volume >= 0 mm3")
    if args.largest and args.min_island > 0:
        raise _Usage("--largest and --min-island: give one of them")
    if args.hollow < 0:
        raise _Usage(f"--hollow {args.hollow:g}: give a wall thickness > 0 mm")
    if args.threshold is not None and args.threshold[1] is not None and args.threshold[1] < args.threshold[0]:
        raise _Usage(f"--threshold {args.threshold[0]:g}:{args.threshold[1]:g}: HI is below LO; swap them")
    if args.append and not os.path.isfile(args.output):
        raise _Usage(f"--append: {args.output} does not exist; leave --append out to create it")
    if not args.name.strip():
        raise _Usage("--name: give a non-empty name")
    _check_folder(args.output, "-o")


def build_segment(vol: Any, args: argparse.Namespace, model: Any = None) -> tuple[Any, Any]:
    """Run the ``segment`` steps on a volume; returns ``(model, segment)``."""
    from vtkdicom_app.segmentation import tools
    from vtkdicom_app.segmentation.model import SegmentationModel

    model = model if model is not None else SegmentationModel.from_volume(vol, undo_budget_bytes=0)
    if args.threshold is not None:
        lo, hi = args.threshold
    else:
        from vtkdicom_app.surface import default_threshold

        lo, hi = default_threshold(vol), None  # 300 HU, or Otsu's on MR/PET (with a ModalityWarning)
    color = args.color if args.color is not None else (0.945, 0.839, 0.569)
    name = args.name
    existing = {s.name for s in model.segments}
    if name in existing:
        n = 2
        while f"{name}_{n}" in existing:
            n += 1
        name = f"{name}_{n}"
    seg = model.add_segment(name, color)
    sid = seg.segment_id
    if args.seed:
        tools.seed_region(model, sid, args.seed, lo, hi, box=args.roi)
    else:
        tools.threshold(model, sid, lo, hi, box=args.roi)
    if args.largest:
        tools.keep_largest_island(model, sid)
    elif args.min_island > 0:
        tools.remove_small_islands(model, sid, args.min_island)
    if args.margin:
        tools.margin(model, sid, args.margin)
    if args.hollow > 0:
        tools.hollow(model, sid, args.hollow)
    return model, model.segment(sid)


def run_segment(args: argparse.Namespace) -> int:
    """The ``segment`` command for a caller of its own: :func:`check_segment`, then :func:`segment`.

    Returns 0 on success, or 2 after printing a usage error; raises VtkDicomError otherwise.
    """
    try:
        check_segment(args)
    except _Usage as exc:
        return _usage("segment", str(exc))
    return segment(args)


def segment(args: argparse.Namespace) -> int:
    """Load, build the segment and save it (the options already checked by :func:`check_segment`)."""
    from vtkdicom_app.segmentation.io_files import load_segmentation, save_segmentation

    vol = _load_volume(args)
    model = None
    if args.append:
        model = load_segmentation(args.output, reference=vol)
    model, seg = build_segment(vol, args, model)
    options: dict[str, Any] = {}
    if args.output.lower().endswith(".dcm"):
        options["source_files"] = list(getattr(vol, "files", []) or [])
    save_segmentation(model, args.output, **options)
    voxels = model.voxel_count(seg.segment_id)
    mm3 = model.volume_mm3(seg.segment_id)
    print(f"wrote {args.output}: segment {seg.name!r}, {voxels} voxels, {mm3:.1f} mm3 ({mm3 / 1000:.2f} ml)")
    return 0


# ----------------------------------------------------------------------------- export-mesh
def add_export_mesh_segment_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--seed``, ``--roi``, ``--segmentation`` and ``--segment`` to the ``export-mesh`` parser.

    The parser must already have ``path``, ``-o/--output``, ``--threshold``, ``--largest``,
    ``--min-island``, ``--smooth``, ``--reduce``, ``--coords``, ``--ascii`` and
    ``--allow-open`` (export-mesh's own options); ``--roi`` must not exist yet.
    """
    group = parser.add_argument_group("segments", "one-step seeded export, or export of saved segments")
    group.add_argument("--seed", type=parse_point, nargs="+", action="extend", metavar="X,Y,Z", help="keep what connects to these LPS points (mm)")
    group.add_argument("--roi", type=parse_box, metavar="box:x0,y0,z0,x1,y1,z1", help="only inside this LPS box (mm)")
    group.add_argument("--segmentation", metavar="FILE", help="export the segments of a .seg.nrrd, .nii.gz or DICOM SEG made on PATH's series")
    group.add_argument("--segment", action="append", metavar="NAME", help="with --segmentation: only this segment (name or ID; repeatable)")


def wants_segment_export(args: argparse.Namespace) -> bool:
    """True when ``export-mesh`` was given ``--seed``, ``--roi`` or ``--segmentation`` (run :func:`run_export_mesh_segments`)."""
    return bool(getattr(args, "seed", None) or getattr(args, "roi", None) or getattr(args, "segmentation", None))


def run_export_mesh_segments(args: argparse.Namespace) -> int:
    """``export-mesh`` with ``--seed``/``--roi`` (one segment, made here) or ``--segmentation FILE``.

    One segment goes to ``-o``; several go to ``STEM_<name>.<suffix>`` files, or all into one
    ``.3mf``/``.glb`` (names and colours kept).
    """
    from vtkdicom_app.segmentation.io_files import load_segmentation
    from vtkdicom_app.segmentation.surfaces import SurfaceOptions, export_segments

    try:
        if _suffix(args.output, _MESH_OUTPUTS) is None:
            raise _Usage(f"-o {args.output}: meshes are written as {', '.join(_MESH_OUTPUTS)}")
        if args.segmentation and (args.seed or args.roi):
            raise _Usage("--segmentation exports saved segments; --seed and --roi make a new one: give one or the other")
        if getattr(args, "segment", None) and not args.segmentation:
            raise _Usage("--segment chooses among the segments of --segmentation FILE; give that file")
        if args.segmentation and not os.path.isfile(args.segmentation):
            raise _Usage(f"--segmentation {args.segmentation} does not exist")
        reduce = getattr(args, "reduce", None)
        if reduce is not None and not 0.0 <= reduce <= 0.99:
            raise _Usage(f"--reduce {reduce:g}: give the fraction of triangles to remove, 0..0.99")
        smooth = getattr(args, "smooth", None)
        if smooth is not None and smooth < 0:
            raise _Usage(f"--smooth {smooth}: give a number of iterations >= 0")
        _check_folder(args.output, "-o")
    except _Usage as exc:
        return _usage("export-mesh", str(exc))
    options = SurfaceOptions(
        iterations=20 if smooth is None else int(smooth),
        reduce=0.0 if reduce is None else float(reduce),
    )
    vol = _load_volume(args)
    if args.segmentation:
        model = load_segmentation(args.segmentation, reference=vol)
        ids = args.segment or None
    else:
        ns = argparse.Namespace(
            threshold=args.threshold,
            seed=args.seed,
            roi=args.roi,
            largest=bool(getattr(args, "largest", False)),
            min_island=float(getattr(args, "min_island", 0.0) or 0.0),
            margin=0.0,
            hollow=0.0,
            name="segment",
            color=None,
        )
        model, seg = build_segment(vol, ns)
        ids = [seg.segment_id]
    files = export_segments(
        model,
        args.output,
        segment_ids=ids,
        options=options,
        coords=getattr(args, "coords", "lps") or "lps",
        binary=not getattr(args, "ascii", False),
        allow_open=bool(getattr(args, "allow_open", False)),
    )
    for f in files:
        print(f"wrote {f}")
    return 0
