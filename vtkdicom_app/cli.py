"""The ``vtkdicom-app`` command line.

Exit codes: 0 success, 1 runtime failure (one line on stderr), 2 usage error. No traceback
reaches the user unless ``--debug`` is given. Heavy modules (numpy, pydicom, VTK) are
imported inside the commands, so ``--help`` and ``--version`` start fast.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import sys
import tempfile
from types import TracebackType
from typing import Any, Callable, Self, Sequence

from vtkdicom_app import __version__

__all__ = ["main", "build_parser", "UsageError", "ImageFormat"]

ProgressCallback = Callable[[int, int, str], None]


class UsageError(Exception):
    """A command line that cannot work, found before any slow work: exit 2, one line."""


class ImageFormat(enum.Enum):
    """Image files the commands write, chosen by the output's suffix."""

    PNG = "png"
    JPEG = "jpeg"
    TIFF = "tiff"
    BMP = "bmp"
    GIF = "gif"
    PDF = "pdf"
    SVG = "svg"

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The file suffixes that name this format (lower case, with the dot)."""
        return {ImageFormat.JPEG: (".jpg", ".jpeg"), ImageFormat.TIFF: (".tif", ".tiff")}.get(self, ("." + self.value,))

    @classmethod
    def from_path(cls, path: str, allowed: Sequence[ImageFormat], option: str) -> ImageFormat:
        """The format a path's suffix names, if the command can write it.

        Parameters
        ----------
        path : str
            The output file.
        allowed : sequence of ImageFormat
            What the command can write there.
        option : str
            The option that gave the path (for the message), e.g. ``"-o"``.

        Returns
        -------
        ImageFormat

        Raises
        ------
        UsageError
            Another suffix, or none.
        """
        suffix = os.path.splitext(path)[1].lower()
        for fmt in allowed:
            if suffix in fmt.suffixes:
                return fmt
        names = ", ".join(x for fmt in allowed for x in fmt.suffixes)
        raise UsageError(f"{option} {path}: {'no suffix' if not suffix else 'cannot write ' + suffix} here; use one of {names}")


RASTER_FORMATS = (ImageFormat.PNG, ImageFormat.JPEG, ImageFormat.TIFF, ImageFormat.BMP)


class _StageUnit(enum.Enum):
    """What a progress stage counts (shown after ``done/total``)."""

    FILES = "files"
    SLICES = "slices"
    STEPS = "steps"


# the loader's and phantom writer's stage names -> what they count; other stages (the surface
# pipeline) count steps
_STAGE_UNITS: tuple[tuple[str, _StageUnit], ...] = (
    ("header", _StageUnit.FILES),
    ("colour", _StageUnit.SLICES),
    ("decod", _StageUnit.FILES),
    ("pixel", _StageUnit.SLICES),
    ("phantom", _StageUnit.SLICES),
)
# counts, no rate: the callbacks jump (a chunk of slices at once) and tqdm's rates came out
# as millions of slices per second
_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n}/{total} {unit} [{elapsed}]"


class _TerminalProgress:
    """tqdm progress bars on a terminal (stderr), nothing otherwise.

    One bar per stage, named after it, with ``done/total`` and what is counted. When a stage
    follows, the one before is over, so its bar ends at ``total/total`` and stays on screen;
    a pipeline's steps (same total, one step after the other) share one bar. Use as a
    context manager: on success the last bar is completed too; after an error or a cancel
    it shows where it stopped.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._stage = ""
        self._done = 0
        self._total = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(complete=kind is None)

    @staticmethod
    def _unit(stage: str) -> _StageUnit:
        low = stage.lower()
        return next((unit for key, unit in _STAGE_UNITS if key in low), _StageUnit.STEPS)

    def __call__(self, done: int, total: int, stage: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        total, done = max(int(total), 0), max(int(done), 0)
        next_step = stage != self._stage and total == self._total and done == self._done + 1
        if self._bar is None or done < self._done or (stage != self._stage and not next_step):
            self.close(complete=True)  # a new stage: the one before is over
            size = os.get_terminal_size(sys.stderr.fileno()) if sys.stderr.isatty() else os.terminal_size((0, 0))
            self._bar = tqdm(
                total=total,
                desc=stage,
                unit=self._unit(stage).value,
                bar_format=_BAR_FORMAT,
                file=sys.stderr,
                leave=True,
                # a terminal that reports no size (a bare pty) still gets a bar
                ncols=None if size.columns > 0 else 80,
                nrows=None if size.lines > 0 else 24,
            )
        elif stage != self._stage:
            self._bar.set_description_str(stage, refresh=False)
        self._stage, self._done, self._total = stage, done, total
        self._bar.total = total
        self._bar.n = min(done, total) if total else done
        self._bar.refresh()

    def close(self, complete: bool = False) -> None:
        """End the current bar; ``complete``: its stage finished, show ``total/total``."""
        if self._bar is not None:
            if complete and self._bar.total:
                self._bar.n = self._bar.total
                self._bar.refresh()
            self._bar.close()
            self._bar = None
        self._stage, self._done, self._total = "", 0, 0


def _progress(args: argparse.Namespace) -> _TerminalProgress:
    return _TerminalProgress(enabled=sys.stderr.isatty() and not getattr(args, "quiet", False))


def _parse_series(text: str) -> str | int:
    """``--series``: a SeriesNumber (digits) as an int, anything else as a uid."""
    key = text.strip()
    if not key:
        raise argparse.ArgumentTypeError("--series needs a series uid or a SeriesNumber")
    return int(key) if key.lstrip("+-").isdigit() and "." not in key else key


def _check_output(path: str | None, option: str = "-o") -> None:
    """Refuse (exit 1) an output whose folder is missing or not writable, before any work."""
    if not path:
        return
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    from vtkdicom_app.errors import VtkDicomError

    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise VtkDicomError(f"output folder {folder} {what} (for {option} {path})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise VtkDicomError(f"output folder {folder} is not writable (for {option} {path})")


def _write_image(rgb: Any, path: str, fmt: ImageFormat) -> None:
    """Write an ``(h, w, 3)`` uint8 image in ``fmt`` (Pillow), atomically."""
    import numpy as np
    from PIL import Image

    from vtkdicom_app.atomic import atomic_path

    image = Image.fromarray(np.ascontiguousarray(rgb))
    options: dict[str, Any] = {"quality": 95} if fmt is ImageFormat.JPEG else {}
    with atomic_path(path, suffix=fmt.suffixes[0]) as tmp:
        image.save(tmp, format=fmt.value.upper(), **options)


def _fmt_vec(values: Sequence[float], digits: int = 4) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"


def _cmd_info(args: argparse.Namespace) -> int:
    import warnings

    from vtkdicom_app.errors import SeriesNotFoundError
    from vtkdicom_app.io.loader import _match_series, load, scan

    with _progress(args) as progress, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are printed as part of the report
        scanned = scan(args.path, progress=progress)  # read once: the load below reuses it
        result = scanned.result
        series = list(scanned)
        volume = None
        if series and args.series is not None and args.headers_only:
            # no pixels to load, but the series must exist, and the report is about it
            matched = _match_series(result.stacks, args.series)
            if not matched:
                known = ", ".join(f"{s.uid} ({s.description or 'no description'})" for s in series[:8])
                raise SeriesNotFoundError(f"series {args.series} not found in {args.path}; found: {known}")
            wanted = {s.uid for s in matched} | {s.sequence_id for s in matched if s.sequence_axis is not None}
            series = [s for s in series if s.uid in wanted]
        if series and not args.headers_only:
            volume = load(scanned, series=args.series, progress=progress)
    if not series:
        reasons = "; ".join(f"{os.path.basename(p)}: {r}" for p, r in (result.skipped or result.ignored)[:3])
        print(f"error: no DICOM image series found in {args.path}" + (f" ({reasons})" if reasons else ""), file=sys.stderr)
        return 1
    report: dict[str, Any] = {
        "path": os.fspath(args.path),
        "series": [s.as_dict() for s in series],
        "skipped": [{"file": p, "reason": r} for p, r in result.skipped],
        "ignored": [{"file": p, "reason": r} for p, r in result.ignored],
    }
    if not args.show_files:
        for entry in report["series"]:
            entry["files"] = entry["files"][:1] + ([f"... {len(entry['files']) - 1} more"] if len(entry["files"]) > 1 else [])
    if args.anonymize:
        for entry in report["series"]:
            entry["patient_name"] = ""
            entry["patient_id"] = ""
    if volume is not None:
        arr = volume.array
        report["loaded"] = {
            "uid": volume.metadata.get("SeriesInstanceUID", ""),
            "shape_kji": list(arr.shape),
            "dtype": str(arr.dtype),
            "spacing": list(volume.spacing),
            "origin": list(volume.origin),
            "direction": volume.direction.ravel().tolist(),
            "determinant": float(__import__("numpy").linalg.det(volume.direction)),
            "field_of_view_mm": list(volume.field_of_view),
            "min": float(arr.min()),
            "max": float(arr.max()),
            "geometry_known": volume.geometry_known,
            "warnings": volume.warnings,
        }
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"{args.path}: {len(series)} series" + (f", {len(result.skipped)} file(s) skipped" if result.skipped else ""))
    for s in series:
        name = "" if args.anonymize else f"  patient {s.patient_name or '?'} ({s.patient_id or '?'})"
        print(f"\n[{s.number if s.number is not None else '-'}] {s.description or '(no description)'}  {s.modality}{name}")
        print(f"    uid       {s.uid}")
        print(f"    images    {s.n_files} file(s), volume (k, j, i) = {s.shape}")
        if s.spacing:
            print(f"    spacing   {_fmt_vec(s.spacing)} mm   origin {_fmt_vec(s.origin or (0, 0, 0), 3)} mm (LPS)")
            d = s.direction or (1, 0, 0, 0, 1, 0, 0, 0, 1)
            print(f"    direction rows {_fmt_vec(d[0::3])} cols {_fmt_vec(d[1::3])} normal {_fmt_vec(d[2::3])}")
        if s.fourth_axis:
            values = ", ".join(f"{v:g}" for v in s.frame_values[:12]) + (" ..." if len(s.frame_values) > 12 else "")
            print(f"    4D        {s.n_frames} frames along {s.fourth_axis}: {values} (vda.load_sequence / --frame N)")
        if not s.geometry_known:
            print("    geometry  UNKNOWN (no ImagePositionPatient/ImageOrientationPatient)")
        for w in s.warnings:
            print(f"    warning   {w}")
    if volume is not None:
        loaded = report["loaded"]
        print(
            f"\nloaded: {loaded['shape_kji']} {loaded['dtype']}, values {loaded['min']:g} .. {loaded['max']:g}, "
            f"field of view {_fmt_vec(loaded['field_of_view_mm'], 1)} mm"
        )
    for path, reason in result.skipped[:20]:
        print(f"skipped {path}: {reason}")
    if result.ignored:
        print(_ignored_line(result.ignored))
    return 0


def _ignored_line(ignored: Sequence[tuple[str, str]], shown: int = 5) -> str:
    """One line on the files that hold no image: count, why (grouped) and a few names."""
    from collections import Counter

    why = Counter(reason.split(" (")[0] for _path, reason in ignored)
    reasons = ", ".join(f"{n} {reason}" for reason, n in why.most_common())
    names = ", ".join(os.path.basename(path) for path, _reason in ignored[:shown])
    more = f" and {len(ignored) - shown} more" if len(ignored) > shown else ""
    return f"ignored {len(ignored)} file(s) without an image ({reasons}): {names}{more} (--json lists them all)"


def _parse_threshold(text: str) -> tuple[float, float | None]:
    lo, sep, hi = text.partition(":")
    try:
        return float(lo), (float(hi) if sep and hi else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threshold must be LO or LO:HI in the volume's units, got {text!r}") from None


def _cmd_export_mesh(args: argparse.Namespace) -> int:
    import warnings

    from vtkdicom_app.io.loader import load
    from vtkdicom_app.mesh_io import MeshFormat, export_mesh
    from vtkdicom_app.surface import mesh_report

    # an unknown suffix fails (exit 1, as tests/test_surface.py expects) before the slow work
    MeshFormat.from_path(args.output)
    if args.report and not args.report.lower().endswith(".json"):
        raise UsageError(f"--report {args.report}: the mesh report is JSON; give REPORT.json")
    if args.reduce is not None and not 0.0 <= args.reduce <= 0.99:
        raise UsageError(f"--reduce {args.reduce:g}: give the fraction of triangles to remove, 0..0.99")
    if args.smooth is not None and args.smooth < 0:
        raise UsageError(f"--smooth {args.smooth}: give a number of iterations >= 0")
    _check_output(args.output)
    _check_output(args.report, "--report")
    with _progress(args) as progress:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vol = load(args.path, series=args.series, progress=progress)
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
        threshold, upper = args.threshold if args.threshold is not None else (300.0, None)
        from vtkdicom_app.surface import extract_surface

        mesh = extract_surface(
            vol,
            threshold=threshold,
            upper=upper,
            preset=args.preset,
            smooth=args.smooth,
            reduce=args.reduce,
            largest=args.largest,
            min_island_mm3=args.min_island,
            fill_holes=args.fill_holes,
            gaussian_sigma_mm=args.gaussian,
            force=args.force,
            progress=progress,
        )
    try:
        report = export_mesh(mesh, args.output, coords=args.coords, binary=not args.ascii, allow_open=args.allow_open)
    except Exception:
        if args.report:  # the report says what is wrong even when nothing was written
            _write_json(args.report, mesh_report(mesh, coordinate_system=args.coords).as_dict())
        raise
    print(f"wrote {args.output}")
    print(report.summary())
    if args.report:
        _write_json(args.report, report.as_dict())
    return 0


def _write_json(path: str, data: dict[str, Any]) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    from vtkdicom_app.atomic import atomic_path

    with atomic_path(path, suffix=".json") as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)


def _parse_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h) if sep else int(w))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WxH, got {text!r}") from None
    if min(size) < 16 or max(size) > 8192:
        raise argparse.ArgumentTypeError(f"size {text} out of range 16..8192")
    return size


def _cmd_render(args: argparse.Namespace) -> int:
    if args.orbit is not None:
        if args.orbit < 1:
            raise UsageError(f"--orbit {args.orbit}: give a number of frames >= 1")
        if not args.output.lower().endswith(".gif"):
            raise UsageError(f"--orbit writes a GIF: give -o OUT.gif, not {args.output}")
        fmt = ImageFormat.GIF
    else:
        fmt = ImageFormat.from_path(args.output, (*RASTER_FORMATS, ImageFormat.GIF), "-o")
    if args.cine:
        ImageFormat.from_path(args.cine, (ImageFormat.GIF,), "--cine")
        if not args.fps > 0:
            raise UsageError(f"--fps {args.fps:g}: give a positive number of frames per second")
    _check_frame(args)
    _check_output(args.output)
    _check_output(args.cine, "--cine")
    from vtkdicom_app.rendering import View, VolumeScene, write_gif

    vol = _load_for(args)
    modality = str(vol.metadata.get("Modality") or "").upper()
    if args.preset is None:  # the modality's default: CT presets are in HU
        args.preset = "ct-bone" if modality in ("CT", "") else "mr-default"
        if modality not in ("CT", ""):
            print(f"note: {modality} volume: volume preset mr-default (the CT presets are in HU); --preset picks another", file=sys.stderr)
    elif args.preset.startswith("ct-") and modality in ("MR", "PT", "NM"):
        print(f"warning: --preset {args.preset} is a CT preset (HU) but the volume is {modality}: expect an empty or noisy picture", file=sys.stderr)
    scene = VolumeScene(
        vol,
        preset=args.preset,
        shift=args.shift,
        opacity_scale=args.opacity_scale,
        blend=args.blend,
        mapper=args.mapper,
        size=args.size,
    )
    scene.set_view(View[args.view.upper()])
    if args.cine:
        from vtkdicom_app.io.loader import load_sequence

        with _progress(args) as progress:
            seq = load_sequence(args.path, series=args.series, lazy=True, progress=progress)
        scene.set_frame(seq[0])
        images = scene.cine(seq)
        write_gif(images, args.cine, fps=args.fps)
        print(f"wrote {args.cine} ({len(images)} frames along {seq.axis}, {args.fps:g} fps)")
        if not args.output:
            return 0
    if args.orbit:
        frames = scene.orbit(args.orbit)
        write_gif(frames, args.output)
        print(f"wrote {args.output} ({len(frames)} frames, {scene.mapper_kind.value} mapper)")
        return 0
    _write_image(scene.to_array(), args.output, fmt)
    print(f"wrote {args.output} ({args.size[0]}x{args.size[1]} {fmt.name}, {args.preset}, {args.view} view, {scene.mapper_kind.value} mapper)")
    return 0


def _check_frame(args: argparse.Namespace) -> None:
    frame = getattr(args, "frame", None)
    if frame is not None and frame < 0:
        raise UsageError(f"--frame {frame}: frames count from 0")


def _parse_slab(text: str) -> tuple[str, float]:
    mode, sep, mm = text.partition(":")
    if mode not in ("mip", "minip", "mean") or not sep:
        raise argparse.ArgumentTypeError(f"slab must be mip:MM, minip:MM or mean:MM, got {text!r}")
    try:
        return mode, float(mm)
    except ValueError:
        raise argparse.ArgumentTypeError(f"slab thickness must be a number of mm, got {mm!r}") from None


def _parse_vector(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x,y,z in mm, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers x,y,z, got {text!r}")
    return values  # type: ignore[return-value]


def _check_mpr(args: argparse.Namespace) -> ImageFormat:
    """Usage errors of ``mpr``, before the volume is loaded; the output's format."""
    fmt = ImageFormat.from_path(args.output, RASTER_FORMATS, "-o")
    if args.plane == "oblique" and args.normal is None:
        raise UsageError("--plane oblique needs --normal x,y,z")
    if args.normal is not None:
        if args.plane != "oblique":
            raise UsageError(f"--normal applies to --plane oblique, not --plane {args.plane}")
        if sum(v * v for v in args.normal) < 1e-18:
            raise UsageError("--normal must not be the zero vector")
    if args.plane == "all" and args.position is not None:
        raise UsageError("--position picks one plane's position; with --plane all give --point x,y,z")
    if args.slab is not None and not args.slab[1] > 0:
        raise UsageError(f"--slab {args.slab[0]}:{args.slab[1]:g}: the thickness must be > 0 mm")
    if args.window is not None and not args.window > 0:
        raise UsageError(f"--window {args.window:g}: the width must be > 0")
    _check_frame(args)
    _check_output(args.output)
    return fmt


def _check_inside(vol: Any, planes: Sequence[Any], point: Sequence[float], args: argparse.Namespace) -> None:
    """Refuse a plane that misses the volume (it would render as a blank image)."""
    import numpy as np

    from vtkdicom_app.errors import VtkDicomError
    from vtkdicom_app.mpr import Plane, plane_axes, step_along

    ni, nj, nk = vol.dimensions
    corners = vol.index_to_patient(np.array([[i, j, k] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)], dtype=np.float64))
    axis_of = {Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}
    for plane in planes:
        normal = plane_axes(plane, args.normal if plane is Plane.OBLIQUE else None)[:, 2]
        tolerance = step_along(vol, [float(v) for v in normal]) / 2  # half a voxel beyond the outer voxel centres
        if plane is Plane.OBLIQUE:
            along = corners @ normal
            value, name = float(np.dot(point, normal)), "positions along --normal"
        else:
            axis = axis_of[plane]
            along = corners[:, axis]
            value, name = float(point[axis]), f"{plane.value} positions ({'xyz'[axis]}, LPS)"
        lo, hi = float(along.min()), float(along.max())
        if lo - tolerance <= value <= hi + tolerance:
            continue
        given = f"--position {args.position:g} mm" if args.position is not None else f"--point {_fmt_vec(point, 1)}"
        raise VtkDicomError(f"{given} is outside the volume, whose {name} run from {lo:.1f} to {hi:.1f} mm")


def _cmd_mpr(args: argparse.Namespace) -> int:
    fmt = _check_mpr(args)
    from vtkdicom_app.mpr import Plane, Reslicer, SlabMode, auto_window_level, load_wl_presets, window_level_from_header
    from vtkdicom_app.rendering.slice_view import contact_sheet, render_slice

    vol = _load_for(args)
    if args.wl_preset:
        wl = load_wl_presets()[args.wl_preset]
        window, level = wl.window, wl.level
    else:
        default = window_level_from_header(vol) or auto_window_level(vol)
        window = args.window if args.window is not None else default.window
        level = args.level if args.level is not None else default.level
    slab_mode, slab_mm = (SlabMode(args.slab[0]), args.slab[1]) if args.slab else (SlabMode.NONE, 0.0)
    reslicer = Reslicer(vol)
    point = args.point if args.point is not None else tuple(reslicer.centre())
    invert = bool(vol.metadata.get("invert_display"))
    common = dict(interpolation=args.interpolation, slab_mm=slab_mm, slab_mode=slab_mode)
    point = tuple(float(v) for v in point)
    if args.plane == "all":
        planes: tuple[Any, ...] = (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)
        if vol.shape[0] == 1:  # a scout or projection image has only its own plane
            from vtkdicom_app.mpr import nearest_standard_plane

            planes = (nearest_standard_plane(vol.direction[:, 2]),)
            print(f"note: a single-slice series has only its own plane ({planes[0].value}); the other planes are left out", file=sys.stderr)
        _check_inside(vol, planes, point, args)
        slices = [reslicer.reslice(p, point=point, **common) for p in planes]
        rgb = contact_sheet(slices, None, window=window, level=level, invert=invert, crosshair=point)
        _write_image(rgb, args.output, fmt)
        print(f"wrote {args.output} ({', '.join(p.value for p in planes)} through {_fmt_vec(point, 1)} mm LPS, W {window:g} L {level:g})")
        return 0
    plane = Plane(args.plane)
    on_plane = list(point)
    if args.position is not None:  # where the plane goes: the point moved along the normal
        if plane is Plane.OBLIQUE:
            import numpy as np

            n = np.asarray(args.normal, dtype=np.float64) / float(np.linalg.norm(args.normal))
            on_plane = list(np.asarray(point) + (args.position - float(np.dot(point, n))) * n)
        else:
            on_plane[{Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}[plane]] = args.position
    _check_inside(vol, (plane,), on_plane, args)
    s = reslicer.reslice(plane, position=args.position, point=point, normal=args.normal, **common)
    rgb = render_slice(s, None, window=window, level=level, invert=invert, crosshair=point if args.crosshair else None)
    _write_image(rgb, args.output, fmt)
    print(
        f"wrote {args.output} ({plane.value} at {s.position:.1f} mm, {s.shape[1]}x{s.shape[0]} pixels of "
        f"{s.pixel_size[0]:.3g} mm, W {window:g} L {level:g})"
    )
    return 0


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM") is not None)


def _cmd_view(args: argparse.Namespace) -> int:
    if args.screenshot:
        ImageFormat.from_path(args.screenshot, (ImageFormat.PNG,), "--screenshot")
        _check_output(args.screenshot, "--screenshot")
    if not _has_display():
        if not args.screenshot:
            print("error: the viewer needs a display (run under X or Xvfb: xvfb-run vtkdicom-app view ...)", file=sys.stderr)
            return 1
        return _view_on_virtual_display(args)
    from vtkdicom_app.app import run_viewer

    return run_viewer(args.path, screenshot=args.screenshot, size=args.size, anonymize=args.anonymize)


def _read_any(path: str, series: str | int | None, progress: Any) -> Any:
    """A DICOM series, or a NIfTI/NRRD/MetaImage/VTI volume by its suffix."""
    import warnings

    from vtkdicom_app.io.formats import VolumeFormat, read_volume
    from vtkdicom_app.io.loader import load

    try:
        VolumeFormat.from_path(path)
        is_volume_file = os.path.isfile(path)
    except Exception:
        is_volume_file = False
    if is_volume_file:
        return read_volume(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load(path, series=series, progress=progress)


def _load_for(args: argparse.Namespace) -> Any:
    """The volume a command works on (DICOM or a volume file), with a terminal progress bar.

    With ``--frame N`` the frame N (from 0) of a 4D series.
    """
    with _progress(args) as progress:
        frame = getattr(args, "frame", None)
        if frame is not None:
            from vtkdicom_app.errors import VtkDicomError
            from vtkdicom_app.io.loader import load_sequence

            seq = load_sequence(args.path, series=args.series, progress=progress, lazy=True)
            if not 0 <= frame < len(seq):
                raise VtkDicomError(f"--frame {frame}: the series has frames 0..{len(seq) - 1}")
            return seq[frame]
        return _read_any(args.path, args.series, progress)


def _parse_roi(text: str) -> tuple[str, list[float]]:
    kind, _, rest = text.partition(":")
    try:
        values = [float(v) for v in rest.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad ROI numbers in {text!r}") from None
    if (kind, len(values)) not in (("box", 6), ("sphere", 4)):
        raise argparse.ArgumentTypeError("ROI must be box:x0,y0,z0,x1,y1,z1 or sphere:x,y,z,r (LPS mm)")
    return kind, values


_HISTOGRAM_FORMATS = (ImageFormat.PNG, ImageFormat.JPEG, ImageFormat.TIFF, ImageFormat.PDF, ImageFormat.SVG)


def _region_title(args: argparse.Namespace) -> str:
    """``--roi`` and ``--threshold`` in words, for the histogram's title."""
    parts = []
    if args.roi:
        kind, v = args.roi
        if kind == "box":
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


def _cmd_stats(args: argparse.Namespace) -> int:
    fmt = ImageFormat.from_path(args.histogram, _HISTOGRAM_FORMATS, "--histogram") if args.histogram else None
    if args.roi and args.roi[0] == "sphere" and not args.roi[1][3] > 0:
        raise UsageError(f"--roi sphere: the radius must be > 0 mm, got {args.roi[1][3]:g}")
    if args.threshold and args.threshold[1] is not None and args.threshold[1] < args.threshold[0]:
        raise UsageError(f"--threshold {args.threshold[0]:g}:{args.threshold[1]:g}: HI is below LO")
    _check_output(args.histogram, "--histogram")
    from vtkdicom_app.analysis import region_mask, region_stats

    vol = _load_for(args)
    kw: dict[str, Any] = {}
    if args.roi:
        kind, v = args.roi
        kw["box" if kind == "box" else "sphere"] = ((v[0:3], v[3:6]) if kind == "box" else (v[0:3], v[3]))
    if args.threshold:
        kw["lower"], kw["upper"] = args.threshold
    stats = region_stats(vol, **kw)
    report = {"path": args.path, "roi": args.roi, "threshold": args.threshold, **stats.as_dict()}
    if args.histogram and fmt is not None:
        values = vol.array[region_mask(vol, **kw)]  # the voxels of the statistics above
        name = str(vol.metadata.get("SeriesDescription") or "") or os.path.basename(os.path.abspath(args.path))
        title = f"{name}: {_region_title(args)}\n{stats.count} voxels, mean {stats.mean:.1f}, std {stats.std:.1f}"
        xlabel = "value (HU)" if vol.metadata.get("Modality") == "CT" else "value"
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


def _cmd_convert(args: argparse.Namespace) -> int:
    from vtkdicom_app.io.formats import VolumeFormat, write_volume

    # an unknown suffix fails (exit 1, as tests/test_formats.py expects) before the slow work
    fmt = VolumeFormat.from_path(args.output)
    _check_frame(args)
    _check_output(args.output)
    if fmt in (VolumeFormat.NIFTI, VolumeFormat.NIFTI_GZ) and getattr(args, "frame", None) is None and not os.path.isfile(args.path):
        from vtkdicom_app.io.formats import write_sequence_nifti
        from vtkdicom_app.io.loader import scan

        with _progress(args) as progress:
            infos = scan(args.path, progress=progress)
        wanted = None if args.series is None else str(args.series)
        chosen = [i for i in infos if i.fourth_axis and (wanted is None or wanted in (i.uid, i.series_instance_uid, str(i.number)))]
        if chosen:
            from vtkdicom_app.io.loader import load_sequence

            with _progress(args) as progress:
                seq = load_sequence(infos, series=chosen[0].uid, progress=progress)
            write_sequence_nifti(seq, args.output)
            print(f"wrote {args.output} (4D: {len(seq)} frames along {seq.axis}, {seq.values[0]:g}..{seq.values[-1]:g} {seq.unit})")
            return 0
    vol = _load_for(args)
    write_volume(vol, args.output)
    print(f"wrote {args.output} ({vol.shape[2]}x{vol.shape[1]}x{vol.shape[0]} {vol.array.dtype}, spacing {_fmt_vec(vol.spacing, 3)} mm)")
    return 0


def _has_files(root: str) -> bool:
    """Whether a folder holds any (non-hidden) file, at any depth; stops at the first."""
    for _folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(not f.startswith(".") for f in files):
            return True
    return False


def _cmd_batch(args: argparse.Namespace) -> int:
    if not os.path.exists(args.root):
        raise UsageError(f"ROOT {args.root} does not exist; give the folder that holds the studies")
    if not os.path.isdir(args.root):
        raise UsageError(f"ROOT {args.root} is a file; batch runs over a folder of studies (for one series: vtkdicom-app {args.job} PATH)")
    if not _has_files(args.root):
        raise UsageError(f"ROOT {args.root} is empty: no files to process")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise UsageError(f"-o {args.output} is a file; give the output folder")
    if os.path.realpath(args.output) == os.path.realpath(args.root):
        raise UsageError("-o must not be ROOT itself: the outputs would be scanned as input next time")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give at least 1")
    if args.reduce is not None and not 0.0 <= args.reduce <= 0.99:
        raise UsageError(f"--reduce {args.reduce:g}: give the fraction of triangles to remove, 0..0.99")
    from vtkdicom_app.batch import run

    options: dict[str, Any] = {}
    if args.preset:
        options["preset"] = args.preset
    if args.threshold is not None:
        options["threshold"] = args.threshold[0]
    if args.largest:
        options["largest"] = True
    if args.reduce is not None:
        options["reduce"] = args.reduce
    rows = run(
        args.root, job=args.job, outdir=args.output, scheduler=args.scheduler, workers=args.workers,
        memory_limit=args.memory_limit, progress=_progress(args).enabled, retry_failed=args.retry_failed, **options,
    )
    if not rows:
        raise UsageError(f"no DICOM image series found under ROOT {args.root}")
    failed = [r for r in rows if r["status"] == "error"]
    done = sum(r["status"] == "ok" for r in rows)
    skipped = sum(r["status"] == "skipped" for r in rows)
    print(f"{len(rows)} series: {done} done, {skipped} already complete, {len(failed)} failed; manifest in {os.path.join(args.output, 'manifest.csv')}")
    for r in failed[:10]:
        print(f"failed {r['key']}: {r['error']}", file=sys.stderr)
    if len(failed) > 10:
        print(f"... and {len(failed) - 10} more failures (the manifest lists them)", file=sys.stderr)
    return 1 if failed else 0  # not the count: exit statuses wrap at 256


def _cmd_phantom(args: argparse.Namespace) -> int:
    from vtkdicom_app.phantom import PhantomOrientation, write_phantom

    if os.path.exists(args.outdir) and not os.path.isdir(args.outdir):
        raise UsageError(f"OUTDIR {args.outdir} is a file; give a folder (created if needed)")
    with _progress(args) as progress:
        result = write_phantom(
            args.outdir,
            rows=args.size,
            columns=args.size,
            slices=args.slices,
            pixel_spacing=(args.pixel_spacing, args.pixel_spacing),
            slice_spacing=args.slice_spacing,
            orientation=PhantomOrientation[args.orientation.upper()],
            feet_first=args.feet_first,
            gantry_tilt_deg=args.tilt,
            shuffle_names=args.shuffle,
            n_series=args.series,
            progress=(lambda d, t: progress(d, t, "Writing phantom")) if progress.enabled else None,
        )
    print(f"wrote {len(result.files)} files to {args.outdir}")
    return 0


def _virtual_display() -> tuple[str, Any] | None:
    """Start Xvfb on a free display number; return (DISPLAY, process) or None."""
    import shutil
    import subprocess
    import time

    exe = shutil.which("Xvfb")
    if exe is None:
        return None
    for number in range(90, 140):
        if os.path.exists(f"/tmp/.X11-unix/X{number}") or os.path.exists(f"/tmp/.X{number}-lock"):
            continue
        proc = subprocess.Popen([exe, f":{number}", "-screen", "0", "1600x1200x24", "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(f"/tmp/.X11-unix/X{number}"):
                return f":{number}", proc
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.terminate()
    return None


def _display_env(display: str) -> dict[str, str]:
    """The environment of a child process that draws on the X display ``display``."""
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    env.pop("WAYLAND_DISPLAY", None)
    # set by ensure_offscreen_backend() in a process that rendered without a display: an
    # EGL window cannot live in the viewer's Qt widgets on X (the child crashed)
    env.pop("VTK_DEFAULT_OPENGL_WINDOW", None)
    env.setdefault("XDG_RUNTIME_DIR", os.path.join(tempfile.gettempdir(), f"runtime-vtkdicom-app-{os.getuid()}"))
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
    return env


def _stop(proc: Any) -> None:
    """Terminate a process we started, and reap it."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _view_on_virtual_display(args: argparse.Namespace) -> int:
    """``view --screenshot`` without a display: the viewer in a child process on Xvfb."""
    import subprocess

    started = _virtual_display()
    if started is None:
        print("error: --screenshot without a display needs Xvfb (apt-get install xvfb) or a display", file=sys.stderr)
        return 1
    display, proc = started
    argv = [sys.executable, "-m", "vtkdicom_app", *(["--debug"] if args.debug else []), "-q", "view"]
    argv += [*([args.path] if args.path else []), "--screenshot", args.screenshot]
    argv += ["--size", f"{args.size[0]}x{args.size[1]}", *(["--anonymize"] if args.anonymize else [])]
    try:
        done = subprocess.run(argv, check=False, capture_output=True, text=True, env=_display_env(display), timeout=3600)
    finally:
        _stop(proc)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:  # on success, Qt's chatter on stderr is left out
        sys.stderr.write(done.stderr)
    return done.returncode


def _demo_screenshot(outdir: str, png: str) -> str:
    """The viewer's four views as PNG without a display: on Xvfb, else drawn offscreen."""
    import subprocess

    started = _virtual_display()
    if started is not None:
        display, proc = started
        try:
            done = subprocess.run(
                [sys.executable, "-m", "vtkdicom_app", "-q", "view", outdir, "--screenshot", png],
                check=False, capture_output=True, text=True, env=_display_env(display), timeout=300,
            )
            if done.returncode == 0:
                return "the viewer on a virtual display (Xvfb)"
        finally:
            _stop(proc)
    # no Xvfb: the same four views drawn offscreen (MPR contact sheet + volume rendering)
    import numpy as np

    from vtkdicom_app.io.loader import load
    from vtkdicom_app.mpr import MprCursor, Plane
    from vtkdicom_app.rendering import VolumeScene, write_png
    from vtkdicom_app.rendering.slice_view import contact_sheet

    vol = load(outdir)
    cursor = MprCursor(vol)
    tile = 400
    sheet = contact_sheet([cursor.slice(p) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)], None, window=cursor.window, level=cursor.level, crosshair=tuple(cursor.point), tile=tile)
    render = VolumeScene(vol, size=(tile, tile)).to_array()
    canvas = np.zeros((2 * tile, 2 * tile, 3), np.uint8)
    canvas[:tile, :tile] = sheet[:, :tile]
    canvas[:tile, tile:] = render
    canvas[tile:, :tile] = sheet[:, tile : 2 * tile]
    canvas[tile:, tile:] = sheet[:, 2 * tile :]
    write_png(canvas, png)
    return "offscreen rendering (no Xvfb found)"


def _cmd_demo(args: argparse.Namespace) -> int:
    # everything goes inside the demo folder: the phantom in DIR/phantom, the screenshot and
    # the STL beside it
    base_dir = os.path.abspath(args.outdir or os.path.join(tempfile.gettempdir(), "vtkdicom_app_demo"))
    if os.path.exists(base_dir) and not os.path.isdir(base_dir):
        raise UsageError(f"--outdir {args.outdir} is a file; give a folder (created if needed)")
    outdir = os.path.join(base_dir, "phantom")
    if not os.path.isdir(outdir) or not os.listdir(outdir):
        from vtkdicom_app.phantom import write_phantom

        with _progress(args) as progress:
            write_phantom(
                outdir, rows=256, columns=256, slices=120, pixel_spacing=(1.0, 1.0), slice_spacing=2.0,
                shuffle_names=True, partial_volume=True,
                progress=(lambda d, t: progress(d, t, "Writing phantom")) if progress.enabled else None,
            )
        print(f"wrote the phantom (256x256x120 CT, bone sphere, marker on the patient's left) to {outdir}")
    else:
        print(f"using the phantom already in {outdir}")
    rc = _cmd_info(argparse.Namespace(path=outdir, json=False, series=None, headers_only=False, show_files=False, anonymize=False, quiet=args.quiet))
    if rc:
        return rc
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if has_display and not args.no_viewer:
        from vtkdicom_app.app import run_viewer

        return run_viewer(outdir)
    png, stl = os.path.join(base_dir, "vtkdicom_app_demo_views.png"), os.path.join(base_dir, "vtkdicom_app_demo_bone.stl")
    how = _demo_screenshot(outdir, png)
    print(f"\nno display: wrote the four-view screenshot {png} ({how})")
    rc = _cmd_export_mesh(
        argparse.Namespace(
            path=outdir, output=stl, series=None, preset="bone", threshold=None, smooth=None, reduce=None, largest=True,
            min_island=0.0, fill_holes=False, gaussian=0.0, coords="lps", ascii=False, allow_open=False, force=False,
            report=None, quiet=args.quiet,
        )
    )
    print(f"open {png} to look at it, and {stl} in a slicer for printing; on a desktop, `vtkdicom-app demo` opens the viewer")
    return rc


def _preset_names(filename: str) -> list[str]:
    """Names of the presets in one of the package's JSON data files (stdlib only: --help stays light)."""
    from importlib import resources

    data = json.loads(resources.files("vtkdicom_app").joinpath(f"data/{filename}").read_text(encoding="utf-8"))
    items = data["presets"] if isinstance(data, dict) else data
    return [str(item["name"]) for item in items]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vtkdicom-app`` (no heavy imports)."""
    parser = argparse.ArgumentParser(
        prog="vtkdicom-app",
        description="DICOM folders to correctly oriented 3D volumes, MPR, 3D views and printable meshes.",
    )
    parser.add_argument("--version", action="version", version=f"vtkdicom-app {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="series found, geometry, warnings")
    p.add_argument("path", help="folder (recursive), file or DICOMDIR")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--series", type=_parse_series, help="series uid or SeriesNumber to load (with --headers-only: to report); default: the largest")
    p.add_argument("--headers-only", action="store_true", help="do not decode pixels")
    p.add_argument("--show-files", action="store_true", help="list every file of every series")
    p.add_argument("--anonymize", action="store_true", help="leave out patient name and ID")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("export-mesh", help="iso-surface to STL/OBJ/PLY/3MF/VTP for printing (mm)")
    p.add_argument("path", help="folder (recursive), file or DICOMDIR")
    p.add_argument("-o", "--output", required=True, help="OUT.stl, .obj, .ply, .3mf or .vtp")
    p.add_argument("--series", type=_parse_series, help="series uid or SeriesNumber; default: the largest")
    p.add_argument("--preset", choices=_preset_names("surface_presets.json"))
    p.add_argument("--threshold", type=_parse_threshold, help="LO or LO:HI (HU for CT); default 300 or the preset's")
    p.add_argument("--smooth", type=int, default=None, help="windowed-sinc iterations (default 15 or the preset's)")
    p.add_argument("--reduce", type=float, default=None, help="fraction of triangles to remove, 0..0.99")
    p.add_argument("--largest", action="store_true", help="keep only the largest piece")
    p.add_argument("--min-island", type=float, default=0.0, metavar="MM3", help="drop pieces smaller than this volume")
    p.add_argument("--fill-holes", action="store_true")
    p.add_argument("--gaussian", type=float, default=0.0, metavar="MM", help="Gaussian pre-smoothing sigma")
    p.add_argument("--coords", choices=["lps", "ras"], default="lps", help="coordinates of the written points (default lps)")
    p.add_argument("--ascii", action="store_true", help="ASCII STL/PLY/VTP")
    p.add_argument("--allow-open", action="store_true", help="write even if the mesh is not watertight")
    p.add_argument("--force", action="store_true", help="extract even if the geometry is unknown")
    p.add_argument("--report", metavar="REPORT.json", help="write the mesh report as JSON")
    p.set_defaults(func=_cmd_export_mesh)

    p = sub.add_parser("mpr", help="a resliced plane (or all three) to PNG, in patient space")
    p.add_argument("path", help="folder (recursive), file or DICOMDIR")
    p.add_argument("-o", "--output", required=True, help="OUT.png (or .jpg, .tif, .bmp)")
    p.add_argument("--series", type=_parse_series, help="series uid or SeriesNumber; default: the largest")
    p.add_argument("--plane", default="axial", choices=["axial", "coronal", "sagittal", "oblique", "all"])
    p.add_argument("--position", type=float, help="LPS mm: z for axial, y for coronal, x for sagittal (default: the centre)")
    p.add_argument("--point", type=_parse_vector, help="x,y,z LPS mm the plane(s) pass through")
    p.add_argument("--normal", type=_parse_vector, help="x,y,z normal of an oblique plane")
    p.add_argument("--window", type=float, help="window width (default: the header's, else automatic)")
    p.add_argument("--level", type=float, help="window level (centre)")
    p.add_argument("--wl-preset", choices=_preset_names("wl_presets.json"))
    p.add_argument("--slab", type=_parse_slab, help="thick slab: mip:MM, minip:MM or mean:MM")
    p.add_argument("--interpolation", choices=["nearest", "linear", "cubic"], default="linear")
    p.add_argument("--crosshair", action="store_true", help="draw the crosshair at --point")
    p.add_argument("--frame", type=int, help="frame N (from 0) of a 4D series")
    p.set_defaults(func=_cmd_mpr)

    p = sub.add_parser("view", help="the Qt viewer: axial, coronal, sagittal and 3D")
    p.add_argument("path", nargs="?", help="folder, file or DICOMDIR to open")
    p.add_argument("--screenshot", metavar="FILE.png", help="load, save the whole window as PNG and exit")
    p.add_argument("--size", type=_parse_size, default=(1200, 860), help="window size WxH")
    p.add_argument("--anonymize", action="store_true", help="hide patient names (window and screenshots)")
    p.set_defaults(func=_cmd_view)

    p = sub.add_parser("render", help="volume rendering to PNG (or a turntable GIF)")
    p.add_argument("path", help="folder (recursive), file or DICOMDIR")
    p.add_argument("-o", "--output", required=True, help="OUT.png (or .jpg, .tif, .bmp, .gif), OUT.gif with --orbit")
    p.add_argument("--series", type=_parse_series, help="series uid or SeriesNumber; default: the largest")
    p.add_argument("--preset", default=None, choices=_preset_names("volume_presets.json"), help="volume preset (default: ct-bone for CT, mr-default otherwise)")
    p.add_argument("--view", default="anterior", choices=["anterior", "posterior", "left", "right", "superior", "inferior"])
    p.add_argument("--size", type=_parse_size, default=(512, 512), help="WxH pixels (default 512x512)")
    p.add_argument("--blend", choices=["composite", "mip", "minip"], help="override the preset's blend mode")
    p.add_argument("--shift", type=float, default=0.0, help="move the transfer function along the value axis")
    p.add_argument("--opacity-scale", type=float, default=1.0, help="multiply every opacity")
    p.add_argument("--mapper", choices=["auto", "gpu", "cpu"], default="auto", help="volume mapper (auto: CPU on software OpenGL)")
    p.add_argument("--orbit", type=int, metavar="N", help="write an N-frame turntable GIF instead")
    p.add_argument("--frame", type=int, help="frame N (from 0) of a 4D series")
    p.add_argument("--cine", metavar="OUT.gif", help="also play the frames of a 4D series into a GIF")
    p.add_argument("--fps", type=float, default=8.0, help="frames per second of --cine")
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("stats", help="statistics of a region (HU for CT), optional histogram PNG")
    p.add_argument("path", help="DICOM folder/file/DICOMDIR, or a .nii/.nrrd/.mha/.vti volume")
    p.add_argument("--series", type=_parse_series, help="series uid or SeriesNumber; default: the largest")
    p.add_argument("--roi", type=_parse_roi, help="box:x0,y0,z0,x1,y1,z1 or sphere:x,y,z,r (LPS mm)")
    p.add_argument("--threshold", type=_parse_threshold, help="only voxels in LO or LO:HI")
    p.add_argument("--histogram", metavar="OUT.png", help="plot the histogram of the same voxels (.png, .jpg, .tif, .pdf or .svg)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("convert", help="write the volume as NIfTI, NRRD, MetaImage or VTI (geometry kept)")
    p.add_argument("path", help="DICOM folder/file/DICOMDIR, or another volume file")
    p.add_argument("-o", "--output", required=True, help="OUT.nii.gz, .nii, .nrrd, .mha, .mhd or .vti")
    p.add_argument("--series", type=_parse_series, help="series uid or SeriesNumber; default: the largest")
    p.add_argument("--frame", type=int, help="write only frame N (from 0) of a 4D series")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("batch", help="one job over every series under ROOT, on Dask")
    p.add_argument("root", help="folder searched recursively")
    p.add_argument("-o", "--output", required=True, help="output folder (outputs and manifest; created if needed)")
    p.add_argument("--job", required=True, choices=["export-mesh", "stats", "convert", "render"])
    p.add_argument("--scheduler", help="tcp://host:port of an existing Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per CPU)")
    p.add_argument("--memory-limit", help="per worker, e.g. 4GB (default: auto)")
    p.add_argument("--preset", help="surface preset for export-mesh (default bone)")
    p.add_argument("--threshold", type=_parse_threshold, help="export-mesh threshold")
    p.add_argument("--largest", action="store_true")
    p.add_argument("--reduce", type=float)
    p.add_argument("--retry-failed", action="store_true", help="run series that failed last time again")
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser("phantom", help="write a synthetic CT series with known geometry")
    p.add_argument("outdir")
    p.add_argument("--size", type=int, default=128, help="rows and columns (default 128)")
    p.add_argument("--slices", type=int, default=64, help="number of slices (default 64)")
    p.add_argument("--pixel-spacing", type=float, default=1.5, help="mm (default 1.5)")
    p.add_argument("--slice-spacing", type=float, default=2.0, help="mm (default 2.0)")
    p.add_argument("--orientation", choices=["axial", "coronal", "sagittal", "oblique"], default="axial")
    p.add_argument("--feet-first", action="store_true")
    p.add_argument("--tilt", type=float, default=0.0, help="gantry tilt in degrees")
    p.add_argument("--shuffle", action="store_true", help="random file names")
    p.add_argument("--series", type=int, default=1, help="number of series in the folder")
    p.set_defaults(func=_cmd_phantom)

    p = sub.add_parser("demo", help="the main job on the built-in phantom (the viewer, or a screenshot and an STL)")
    p.add_argument("--outdir", help="folder for the phantom (DIR/phantom), the screenshot and the STL; created if needed (default: a folder in the temp dir)")
    p.add_argument("--no-viewer", action="store_true", help="write the screenshot and the STL even with a display")
    p.set_defaults(func=_cmd_demo)

    from vtkdicom_app.net.cli import add_pacs_parser  # light: the network libraries load on use

    add_pacs_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 runtime failure, 2 usage error (argparse's, or a :class:`UsageError`
        raised by a command before it loads anything).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except UsageError as exc:  # found before any slow work: no traceback, even with --debug
        print(f"vtkdicom-app {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # one line, unless --debug
        if args.debug:
            raise
        from vtkdicom_app.errors import VtkDicomError

        kind = "" if isinstance(exc, (VtkDicomError, OSError)) else f"{type(exc).__name__}: "
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: {kind}{message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
