"""``info``, ``stats`` and ``convert``: what a folder holds, the values of a region, and the
volume in another file format."""

from __future__ import annotations

import argparse
import enum
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from vtkdicom_app.cli._common import (
    Command,
    ImageFormat,
    UsageError,
    check_crop,
    check_frame,
    check_output,
    check_range,
    crop_options,
    crop_parent,
    fmt_vec,
    frame_parent,
    input_parents,
    load_for,
    parse_range,
)
from vtkdicom_app.cli._progress import progress_for

__all__ = ["COMMANDS", "info_report", "print_info", "select_series"]


# ---------------------------------------------------------------------------- info
def select_series(series: Sequence[Any], key: str | int, path: Any) -> list[Any]:
    """The entries of a scan that ``--series`` names (as ``load(..., series=key)`` reads it).

    A scan entry's uid (a split stack's ``uid#n``, a 4D series' uid), a SeriesInstanceUID
    (all its stacks), the same with a ``#n`` of another scan, or a SeriesNumber.

    Raises
    ------
    SeriesNotFoundError
        Nothing matches.
    """
    from vtkdicom_app.errors import SeriesNotFoundError

    text = str(key).strip()
    matched = [s for s in series if s.uid == text]
    if not matched:
        matched = [s for s in series if s.series_instance_uid == text]
    if not matched and "#" in text:
        matched = [s for s in series if s.series_instance_uid == text.rpartition("#")[0]]
    if not matched and (isinstance(key, int) or text.lstrip("+-").isdigit()):
        matched = [s for s in series if s.number == int(text)]
    if not matched:
        known = ", ".join(f"{s.uid} ({s.description or 'no description'})" for s in series[:8])
        raise SeriesNotFoundError(f"series {key} not found in {path}; found: {known}")
    return matched


def info_report(path: Any, scanned: Any, series: Sequence[Any], volume: Any = None, *, show_files: bool = False, anonymize: bool = False) -> dict[str, Any]:
    """The ``info --json`` report.

    Parameters
    ----------
    path : path
        What was scanned (for the report).
    scanned : SeriesList
        What :func:`vtkdicom_app.scan` returned (its skipped and ignored files).
    series : sequence of SeriesInfo
        The entries to report.
    volume : Volume, optional
        The loaded volume.
    show_files : bool
        Every file of every series (else the first and a count).
    anonymize : bool
        Leave out patient name and ID.
    """
    report: dict[str, Any] = {
        "path": os.fspath(path),
        "series": [s.as_dict() for s in series],
        "skipped": [{"file": p, "reason": r} for p, r in scanned.skipped],
        "ignored": [{"file": p, "reason": r} for p, r in scanned.ignored],
    }
    if not show_files:
        for entry in report["series"]:
            entry["files"] = entry["files"][:1] + ([f"... {len(entry['files']) - 1} more"] if len(entry["files"]) > 1 else [])
    if anonymize:
        for entry in report["series"]:
            entry["patient_name"] = ""
            entry["patient_id"] = ""
    if volume is not None:
        import numpy as np

        arr = volume.array
        report["loaded"] = {
            "uid": volume.metadata.get("SeriesInstanceUID", ""),
            "shape_kji": list(arr.shape),
            "dtype": str(arr.dtype),
            "spacing": list(volume.spacing),
            "origin": list(volume.origin),
            "direction": volume.direction.ravel().tolist(),
            "determinant": float(np.linalg.det(volume.direction)),
            "field_of_view_mm": list(volume.field_of_view),
            "min": float(arr.min()),
            "max": float(arr.max()),
            "geometry_known": volume.geometry_known,
            "warnings": volume.warnings,
        }
    return report


def _ignored_line(ignored: Sequence[tuple[str, str]], shown: int = 5) -> str:
    """One line on the files that hold no image: count, why (grouped) and a few names."""
    why = Counter(reason.split(" (")[0] for _path, reason in ignored)
    reasons = ", ".join(f"{n} {reason}" for reason, n in why.most_common())
    names = ", ".join(os.path.basename(path) for path, _reason in ignored[:shown])
    more = f" and {len(ignored) - shown} more" if len(ignored) > shown else ""
    return f"ignored {len(ignored)} file(s) without an image ({reasons}): {names}{more} (--json lists them all)"


def print_info(path: Any, scanned: Any, series: Sequence[Any], volume: Any = None, *, anonymize: bool = False) -> None:
    """The text report of ``info`` on stdout: each series' geometry and warnings, the loaded
    volume, skipped and ignored files."""
    skipped = scanned.skipped
    print(f"{path}: {len(series)} series" + (f", {len(skipped)} file(s) skipped" if skipped else ""))
    for s in series:
        name = "" if anonymize else f"  patient {s.patient_name or '?'} ({s.patient_id or '?'})"
        print(f"\n[{s.number if s.number is not None else '-'}] {s.description or '(no description)'}  {s.modality}{name}")
        print(f"    uid       {s.uid}")
        print(f"    images    {s.n_files} file(s), volume (k, j, i) = {s.shape}")
        if s.spacing:
            print(f"    spacing   {fmt_vec(s.spacing)} mm   origin {fmt_vec(s.origin or (0, 0, 0), 3)} mm (LPS)")
            d = s.direction or (1, 0, 0, 0, 1, 0, 0, 0, 1)
            print(f"    direction rows {fmt_vec(d[0::3])} cols {fmt_vec(d[1::3])} normal {fmt_vec(d[2::3])}")
        if s.fourth_axis:
            values = ", ".join(f"{v:g}" for v in s.frame_values[:12]) + (" ..." if len(s.frame_values) > 12 else "")
            print(f"    4D        {s.n_frames} frames along {s.fourth_axis}: {values} (vda.load_sequence / --frame N)")
        if not s.geometry_known:
            print("    geometry  UNKNOWN (no ImagePositionPatient/ImageOrientationPatient)")
        for seg in s.segmentations:
            print(f"    segmented {os.path.basename(seg)} (DICOM SEG of this series: export-mesh --segmentation)")
        for w in s.warnings:
            print(f"    warning   {w}")
    if volume is not None:
        arr = volume.array
        print(
            f"\nloaded: {list(arr.shape)} {arr.dtype}, values {float(arr.min()):g} .. {float(arr.max()):g}, "
            f"field of view {fmt_vec(list(volume.field_of_view), 1)} mm"
        )
    for file, reason in skipped[:20]:
        print(f"skipped {file}: {reason}")
    if scanned.ignored:
        print(_ignored_line(scanned.ignored))


def _info_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--headers-only", action="store_true", help="do not decode pixels (with --series: report that series only)")
    p.add_argument("--show-files", action="store_true", help="list every file of every series")
    p.add_argument("--anonymize", action="store_true", help="leave out patient name and ID")


def run_info(args: argparse.Namespace) -> int:
    """``vtkdicom-app info``."""
    from vtkdicom_app.io.loader import load, scan

    with progress_for(args) as progress:
        scanned = scan(args.path, progress=progress)  # read once: the load below reuses it
        series = list(scanned)
        volume = None
        if series and args.series is not None and args.headers_only:
            # no pixels to load, but the series must exist, and the report is about it
            series = select_series(series, args.series, args.path)
        if series and not args.headers_only:
            volume = load(scanned, series=args.series, progress=progress)
    if not series:
        reasons = "; ".join(f"{os.path.basename(p)}: {r}" for p, r in (scanned.skipped or scanned.ignored)[:3])
        print(f"error: no DICOM image series found in {args.path}" + (f" ({reasons})" if reasons else ""), file=sys.stderr)
        return 1
    if args.json:
        report = info_report(args.path, scanned, series, volume, show_files=args.show_files, anonymize=args.anonymize)
        print(json.dumps(report, indent=2, default=str))
        return 0
    print_info(args.path, scanned, series, volume, anonymize=args.anonymize)
    return 0


# ---------------------------------------------------------------------------- stats
_HISTOGRAM_FORMATS = (ImageFormat.PNG, ImageFormat.JPEG, ImageFormat.TIFF, ImageFormat.PDF, ImageFormat.SVG)


class RoiKind(enum.StrEnum):
    """The shapes of ``stats --roi``."""

    BOX = "box"
    SPHERE = "sphere"


def parse_roi(text: str) -> tuple[RoiKind, list[float]]:
    """``box:x0,y0,z0,x1,y1,z1`` or ``sphere:x,y,z,r`` (LPS mm)."""
    kind, _, rest = text.partition(":")
    try:
        values = [float(v) for v in rest.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad ROI numbers in {text!r}") from None
    if (kind, len(values)) not in ((RoiKind.BOX, 6), (RoiKind.SPHERE, 4)):
        raise argparse.ArgumentTypeError("ROI must be box:x0,y0,z0,x1,y1,z1 or sphere:x,y,z,r (LPS mm)")
    return RoiKind(kind), values


def _region_title(args: argparse.Namespace) -> str:
    """``--roi`` and ``--threshold`` in words, for the histogram's title."""
    parts = []
    if args.roi:
        kind, v = args.roi
        if kind == RoiKind.BOX:
            lo = [min(a, b) for a, b in zip(v[0:3], v[3:6])]
            hi = [max(a, b) for a, b in zip(v[0:3], v[3:6])]
            parts.append("box " + ", ".join(f"{axis} {a:g}..{b:g}" for axis, a, b in zip("xyz", lo, hi)) + " mm")
        else:
            parts.append(f"sphere r {v[3]:g} mm at ({v[0]:g}, {v[1]:g}, {v[2]:g})")
    else:
        parts.append("whole volume")
    if args.threshold:
        lo_value, hi_value = args.threshold
        parts.append(f"values {lo_value:g}..{hi_value:g}" if hi_value is not None else f"values >= {lo_value:g}")
    return ", ".join(parts)


def _plot_histogram(values: Any, path: str, fmt: ImageFormat, *, title: str, xlabel: str) -> None:
    """A histogram of exactly these values (the region's), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from vtkdicom_app.atomic import atomic_path

    lo, hi = float(values.min()), float(values.max())
    integral = np.issubdtype(values.dtype, np.integer)
    bins = int(min(256, hi - lo + 1)) if integral else 256
    counts, edges = np.histogram(values, bins=max(bins, 1), range=(lo, hi) if hi > lo else (lo - 0.5, hi + 0.5))
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        ax.stairs(counts, edges, fill=True)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("voxels")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        fig.tight_layout()
        with atomic_path(path, suffix=fmt.suffixes[0]) as tmp:
            fig.savefig(tmp, format=fmt.value)
    finally:
        plt.close(fig)


def _stats_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--roi", type=parse_roi, help="box:x0,y0,z0,x1,y1,z1 or sphere:x,y,z,r (LPS mm)")
    p.add_argument("--threshold", type=parse_range, help="only voxels in LO or LO:HI")
    p.add_argument("--histogram", metavar="OUT.png", help="plot the histogram of the same voxels (.png, .jpg, .tif, .pdf or .svg)")
    p.add_argument("--json", action="store_true")


def check_stats(args: argparse.Namespace) -> None:
    """Usage errors of ``stats``, before the volume is loaded."""
    if args.histogram:
        ImageFormat.from_path(args.histogram, _HISTOGRAM_FORMATS, "--histogram")
    if args.roi and args.roi[0] == RoiKind.SPHERE and not args.roi[1][3] > 0:
        raise UsageError(f"--roi sphere: the radius must be > 0 mm, got {args.roi[1][3]:g}")
    check_range("--threshold", args.threshold)
    check_crop(args)
    check_output(args.histogram, "--histogram")


def run_stats(args: argparse.Namespace) -> int:
    """``vtkdicom-app stats``."""
    from vtkdicom_app.analysis import region_mask, region_stats

    vol = load_for(args)
    kw: dict[str, Any] = {}
    if args.roi:
        kind, v = args.roi
        kw["box" if kind == RoiKind.BOX else "sphere"] = (v[0:3], v[3:6]) if kind == RoiKind.BOX else (v[0:3], v[3])
    if args.threshold:
        kw["lower"], kw["upper"] = args.threshold
    stats = region_stats(vol, **kw)
    report = {"path": args.path, "roi": args.roi, "threshold": args.threshold, **stats.as_dict()}
    if args.histogram:
        fmt = ImageFormat.from_path(args.histogram, _HISTOGRAM_FORMATS, "--histogram")
        values = vol.array[region_mask(vol, **kw)]  # the voxels of the statistics above
        name = str(vol.metadata.get("SeriesDescription") or "") or os.path.basename(os.path.abspath(args.path))
        title = f"{name}: {_region_title(args)}\n{stats.count} voxels, mean {stats.mean:.1f}, std {stats.std:.1f}"
        xlabel = "value (HU)" if vol.modality == "CT" else "value"
        _plot_histogram(values, args.histogram, fmt, title=title, xlabel=xlabel)
        report["histogram"] = args.histogram
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        pct = ", ".join(f"p{k:g} {v:g}" for k, v in stats.percentiles.items())
        print(f"{stats.count} voxels, {stats.volume_mm3:.1f} mm3; mean {stats.mean:.2f}, std {stats.std:.2f}, min {stats.min:g}, max {stats.max:g}; {pct}")
        if args.histogram:
            print(f"wrote {args.histogram}")
    return 0


# ---------------------------------------------------------------------------- convert
def check_convert(args: argparse.Namespace) -> None:
    """An unknown suffix fails (exit 1, as tests/test_formats.py expects) before the slow work."""
    from vtkdicom_app.io.formats import VolumeFormat

    VolumeFormat.from_path(args.output)
    check_frame(args)
    check_crop(args)
    check_output(args.output)


def _convert_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="OUT.nii.gz, .nii, .nrrd, .mha, .mhd or .vti")


def run_convert(args: argparse.Namespace) -> int:
    """``vtkdicom-app convert``: a 4D series to 4D NIfTI, anything else one volume."""
    from vtkdicom_app.io.formats import VolumeFormat, write_volume

    fmt = VolumeFormat.from_path(args.output)
    if fmt in (VolumeFormat.NIFTI, VolumeFormat.NIFTI_GZ) and args.frame is None and not os.path.isfile(args.path):
        from vtkdicom_app.io.formats import write_sequence_nifti
        from vtkdicom_app.io.loader import load_sequence, scan

        with progress_for(args) as progress:
            scanned = scan(args.path, progress=progress)
        wanted = None if args.series is None else str(args.series)
        chosen = [i for i in scanned if i.fourth_axis and (wanted is None or wanted in (i.uid, i.series_instance_uid, str(i.number)))]
        if chosen and crop_options(args):
            from vtkdicom_app.errors import VtkDicomError

            raise VtkDicomError(
                f"--crop/--downsample load one volume, but series {chosen[0].uid} is 4D ({chosen[0].n_frames} frames along "
                f"{chosen[0].fourth_axis}): add --frame N (0..{chosen[0].n_frames - 1}) to write one frame"
            )
        if chosen:
            with progress_for(args) as progress:
                seq = load_sequence(scanned, series=chosen[0].uid, progress=progress)
            write_sequence_nifti(seq, args.output)
            print(f"wrote {args.output} (4D: {len(seq)} frames along {seq.axis}, {seq.values[0]:g}..{seq.values[-1]:g} {seq.unit})")
            return 0
    vol = load_for(args)
    write_volume(vol, args.output)
    print(f"wrote {args.output} ({vol.shape[2]}x{vol.shape[1]}x{vol.shape[0]} {vol.array.dtype}, spacing {fmt_vec(vol.spacing, 3)} mm)")
    return 0


_VOLUME_INPUT = "DICOM folder/file/DICOMDIR, or a .nii/.nrrd/.mha/.vti volume"

COMMANDS = (
    Command(
        "info",
        "series found, geometry, warnings",
        run_info,
        _info_arguments,
        parents=lambda: input_parents(),
    ),
    Command(
        "stats",
        "statistics of a region (HU for CT), optional histogram PNG",
        run_stats,
        _stats_arguments,
        check_stats,
        parents=lambda: [*input_parents(_VOLUME_INPUT), crop_parent()],
    ),
    Command(
        "convert",
        "write the volume as NIfTI, NRRD, MetaImage or VTI (geometry kept)",
        run_convert,
        _convert_arguments,
        check_convert,
        parents=lambda: [*input_parents(_VOLUME_INPUT), frame_parent("write only frame N (from 0) of a 4D series"), crop_parent()],
    ),
)
