"""The ``vtkdicom-app`` command line.

Exit codes: 0 success, 1 runtime failure (one line on stderr), 2 usage error. No traceback
reaches the user unless ``--debug`` is given. Heavy modules (numpy, pydicom, VTK) are
imported inside the commands, so ``--help`` and ``--version`` start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any, Callable, Sequence

from vtkdicom_app import __version__

__all__ = ["main", "build_parser"]

ProgressCallback = Callable[[int, int, str], None]


class _TerminalProgress:
    """tqdm progress bars on a terminal (stderr), nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._stage = ""

    def __call__(self, done: int, total: int, stage: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self._stage or self._bar is None:
            self.close()
            self._stage = stage
            size = os.get_terminal_size(sys.stderr.fileno()) if sys.stderr.isatty() else os.terminal_size((0, 0))
            self._bar = tqdm(
                total=total,
                desc=stage,
                unit="file" if "header" in stage.lower() else "slice",
                file=sys.stderr,
                leave=False,
                # a terminal that reports no size (a bare pty) still gets a bar
                ncols=None if size.columns > 0 else 80,
                nrows=None if size.lines > 0 else 24,
            )
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _progress(args: argparse.Namespace) -> _TerminalProgress:
    return _TerminalProgress(enabled=sys.stderr.isatty() and not getattr(args, "quiet", False))


def _fmt_vec(values: Sequence[float], digits: int = 4) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"


def _cmd_info(args: argparse.Namespace) -> int:
    import warnings

    from vtkdicom_app.io.loader import _collapse_sequences, load, scan_stacks

    progress = _progress(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are printed as part of the report
            result = scan_stacks(args.path, progress=progress)
            extra = result.summary_warnings()
            series = _collapse_sequences(result.stacks, extra)
            volume = None
            if series and not args.headers_only:
                volume = load(args.path, series=args.series, progress=progress)
    finally:
        progress.close()
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
    return 0


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

    MeshFormat.from_path(args.output)  # fail before the slow work on an unknown suffix
    progress = _progress(args)
    try:
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
    finally:
        progress.close()
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
    from vtkdicom_app.rendering import VolumeScene, View, write_gif

    vol = _load_for(args)
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

        seq = load_sequence(args.path, series=args.series, lazy=True)
        scene.set_frame(seq[0])
        images = scene.cine(seq)
        write_gif(images, args.cine, fps=args.fps)
        print(f"wrote {args.cine} ({len(images)} frames along {seq.axis}, {args.fps:g} fps)")
        if not args.output:
            return 0
    if args.orbit:
        if not args.output.lower().endswith(".gif"):
            raise ValueError("--orbit writes a GIF: give -o OUT.gif")
        frames = scene.orbit(args.orbit)
        write_gif(frames, args.output)
        print(f"wrote {args.output} ({len(frames)} frames, {scene.mapper_kind.value} mapper)")
        return 0
    scene.screenshot(args.output)
    print(f"wrote {args.output} ({args.size[0]}x{args.size[1]}, {args.preset}, {args.view} view, {scene.mapper_kind.value} mapper)")
    return 0


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


def _cmd_mpr(args: argparse.Namespace) -> int:
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
    if args.plane == "all":
        slices = [reslicer.reslice(p, point=point, **common) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)]
        contact_sheet(slices, args.output, window=window, level=level, invert=invert, crosshair=point)
        print(f"wrote {args.output} (axial, coronal, sagittal through {tuple(round(v, 1) for v in point)} mm LPS)")
        return 0
    plane = Plane(args.plane)
    if plane is Plane.OBLIQUE and args.normal is None:
        raise ValueError("--plane oblique needs --normal x,y,z")
    s = reslicer.reslice(plane, position=args.position, point=point, normal=args.normal, **common)
    render_slice(s, args.output, window=window, level=level, invert=invert, crosshair=point if args.crosshair else None)
    print(f"wrote {args.output} ({plane.value} at {s.position:.1f} mm, {s.shape[1]}x{s.shape[0]} pixels of {s.pixel_size[0]:.3g} mm, W {window:g} L {level:g})")
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and os.environ.get("QT_QPA_PLATFORM") is None:
        print("error: the viewer needs a display (run under X or Xvfb: xvfb-run vtkdicom-app view ...)", file=sys.stderr)
        return 1
    from vtkdicom_app.app import run_viewer

    return run_viewer(args.path, screenshot=args.screenshot, size=args.size, anonymize=args.anonymize)


def _read_any(path: str, series: str | None, progress: Any) -> Any:
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
    progress = _progress(args)
    try:
        frame = getattr(args, "frame", None)
        if frame is not None:
            from vtkdicom_app.io.loader import load_sequence

            seq = load_sequence(args.path, series=args.series, progress=progress, lazy=True)
            if not 0 <= frame < len(seq):
                raise ValueError(f"--frame {frame}: the series has frames 0..{len(seq) - 1}")
            return seq[frame]
        return _read_any(args.path, args.series, progress)
    finally:
        progress.close()


def _parse_roi(text: str) -> tuple[str, list[float]]:
    kind, _, rest = text.partition(":")
    try:
        values = [float(v) for v in rest.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad ROI numbers in {text!r}") from None
    if (kind, len(values)) not in (("box", 6), ("sphere", 4)):
        raise argparse.ArgumentTypeError("ROI must be box:x0,y0,z0,x1,y1,z1 or sphere:x,y,z,r (LPS mm)")
    return kind, values


def _cmd_stats(args: argparse.Namespace) -> int:
    from vtkdicom_app.analysis import plot_histogram, region_stats

    vol = _load_for(args)
    kw: dict[str, Any] = {}
    if args.roi:
        kind, v = args.roi
        kw["box" if kind == "box" else "sphere"] = ((v[0:3], v[3:6]) if kind == "box" else (v[0:3], v[3]))
    if args.threshold:
        kw["lower"], kw["upper"] = args.threshold
    stats = region_stats(vol, **kw)
    report = {"path": args.path, "roi": args.roi, "threshold": args.threshold, **stats.as_dict()}
    if args.histogram:
        plot_histogram(vol, args.histogram, title=os.path.basename(os.path.abspath(args.path)))
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

    fmt = VolumeFormat.from_path(args.output)  # fail early on an unknown suffix
    if fmt in (VolumeFormat.NIFTI, VolumeFormat.NIFTI_GZ) and getattr(args, "frame", None) is None and not os.path.isfile(args.path):
        from vtkdicom_app.io.formats import write_sequence_nifti
        from vtkdicom_app.io.loader import scan

        infos = scan(args.path)
        chosen = [i for i in infos if i.fourth_axis and (args.series is None or args.series in (i.uid, str(i.number)))]
        if chosen:
            from vtkdicom_app.io.loader import load_sequence

            seq = load_sequence(args.path, series=chosen[0].uid)
            write_sequence_nifti(seq, args.output)
            print(f"wrote {args.output} (4D: {len(seq)} frames along {seq.axis}, {seq.values[0]:g}..{seq.values[-1]:g} {seq.unit})")
            return 0
    vol = _load_for(args)
    write_volume(vol, args.output)
    print(f"wrote {args.output} ({vol.shape[2]}x{vol.shape[1]}x{vol.shape[0]} {vol.array.dtype}, spacing {_fmt_vec(vol.spacing, 3)} mm)")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
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
    failed = [r for r in rows if r["status"] == "error"]
    done = sum(r["status"] == "ok" for r in rows)
    skipped = sum(r["status"] == "skipped" for r in rows)
    print(f"{len(rows)} series: {done} done, {skipped} already complete, {len(failed)} failed; manifest in {os.path.join(args.output, 'manifest.csv')}")
    for r in failed[:10]:
        print(f"failed {r['key']}: {r['error']}", file=sys.stderr)
    return min(len(failed), 100)


def _cmd_phantom(args: argparse.Namespace) -> int:
    from vtkdicom_app.phantom import PhantomOrientation, write_phantom

    progress = _progress(args)
    try:
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
    finally:
        progress.close()
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


def _demo_screenshot(outdir: str, png: str) -> str:
    """The viewer's four views as PNG without a display: on Xvfb, else drawn offscreen."""
    import subprocess

    started = _virtual_display()
    if started is not None:
        display, proc = started
        try:
            env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
            env.setdefault("XDG_RUNTIME_DIR", os.path.join(tempfile.gettempdir(), "runtime-vtkdicom-app"))
            os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
            done = subprocess.run(
                [sys.executable, "-m", "vtkdicom_app", "view", outdir, "--screenshot", png],
                capture_output=True, text=True, env=env, timeout=300,
            )
            if done.returncode == 0:
                return "the viewer on a virtual display (Xvfb)"
        finally:
            proc.terminate()
    # no Xvfb: the same four views drawn offscreen (MPR contact sheet + volume rendering)
    import numpy as np

    from vtkdicom_app.io.loader import load
    from vtkdicom_app.mpr import MprCursor, Plane
    from vtkdicom_app.rendering import VolumeScene, write_png
    from vtkdicom_app.rendering.slice_view import contact_sheet

    vol = load(outdir)
    cursor = MprCursor(vol)
    tile = 400
    sheet = contact_sheet([cursor.slice(p) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)], None, window=cursor.window, level=cursor.level, crosshair=cursor.point, tile=tile)
    render = VolumeScene(vol, size=(tile, tile)).to_array()
    canvas = np.zeros((2 * tile, 2 * tile, 3), np.uint8)
    canvas[:tile, :tile] = sheet[:, :tile]
    canvas[:tile, tile:] = render
    canvas[tile:, :tile] = sheet[:, tile : 2 * tile]
    canvas[tile:, tile:] = sheet[:, 2 * tile :]
    write_png(canvas, png)
    return "offscreen rendering (no Xvfb found)"


def _cmd_demo(args: argparse.Namespace) -> int:
    outdir = args.outdir or os.path.join(tempfile.gettempdir(), "vtkdicom_app_demo")
    if not os.path.isdir(outdir) or not os.listdir(outdir):
        from vtkdicom_app.phantom import write_phantom

        progress = _progress(args)
        try:
            write_phantom(
                outdir, rows=256, columns=256, slices=120, pixel_spacing=(1.0, 1.0), slice_spacing=2.0,
                shuffle_names=True, partial_volume=True,
                progress=(lambda d, t: progress(d, t, "Writing phantom")) if progress.enabled else None,
            )
        finally:
            progress.close()
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
    base = os.path.join(os.path.dirname(os.path.abspath(outdir)), "vtkdicom_app_demo")
    png, stl = base + "_views.png", base + "_bone.stl"
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
    p.add_argument("--series", help="series uid (or SeriesNumber) to load; default: the largest")
    p.add_argument("--headers-only", action="store_true", help="do not decode pixels")
    p.add_argument("--show-files", action="store_true", help="list every file of every series")
    p.add_argument("--anonymize", action="store_true", help="leave out patient name and ID")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("export-mesh", help="iso-surface to STL/OBJ/PLY/3MF/VTP for printing (mm)")
    p.add_argument("path", help="folder (recursive), file or DICOMDIR")
    p.add_argument("-o", "--output", required=True, help="OUT.stl, .obj, .ply, .3mf or .vtp")
    p.add_argument("--series", help="series uid (or SeriesNumber); default: the largest")
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
    p.add_argument("-o", "--output", required=True, help="OUT.png")
    p.add_argument("--series", help="series uid (or SeriesNumber); default: the largest")
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
    p.add_argument("-o", "--output", required=True, help="OUT.png, or OUT.gif with --orbit")
    p.add_argument("--series", help="series uid (or SeriesNumber); default: the largest")
    p.add_argument("--preset", default="ct-bone", choices=_preset_names("volume_presets.json"), help="volume preset (default ct-bone)")
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
    p.add_argument("--series", help="series uid (or SeriesNumber); default: the largest")
    p.add_argument("--roi", type=_parse_roi, help="box:x0,y0,z0,x1,y1,z1 or sphere:x,y,z,r (LPS mm)")
    p.add_argument("--threshold", type=_parse_threshold, help="only voxels in LO or LO:HI")
    p.add_argument("--histogram", metavar="OUT.png", help="write a histogram plot")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("convert", help="write the volume as NIfTI, NRRD, MetaImage or VTI (geometry kept)")
    p.add_argument("path", help="DICOM folder/file/DICOMDIR, or another volume file")
    p.add_argument("-o", "--output", required=True, help="OUT.nii.gz, .nii, .nrrd, .mha, .mhd or .vti")
    p.add_argument("--series", help="series uid (or SeriesNumber); default: the largest")
    p.add_argument("--frame", type=int, help="write only frame N (from 0) of a 4D series")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("batch", help="one job over every series under ROOT, on Dask")
    p.add_argument("root", help="folder searched recursively")
    p.add_argument("-o", "--output", required=True, help="output folder (outputs and manifest)")
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
    p.add_argument("--outdir", help="where the phantom goes (default: a folder in the temp dir)")
    p.add_argument("--no-viewer", action="store_true", help="write the screenshot and the STL even with a display")
    p.set_defaults(func=_cmd_demo)
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
        0 success, 1 runtime failure, 2 usage error.
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
