"""``view``, ``mpr`` and ``render``: the Qt viewer (or its screenshot), resliced planes and
volume rendering to image files."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from vtkdicom_app.cli._common import (
    RASTER_FORMATS,
    Command,
    ImageFormat,
    UsageError,
    check_crop,
    check_frame,
    check_output,
    crop_options,
    crop_parent,
    enum_values,
    fmt_vec,
    frame_parent,
    input_parents,
    load_for,
    parse_size,
    parse_vector,
    warn,
    write_image,
)
from vtkdicom_app.cli._progress import progress_for

__all__ = ["COMMANDS", "ALL_PLANES", "screenshot_on_virtual_display", "virtual_display"]

# ``mpr --plane all``: the three standard planes on one image
ALL_PLANES = "all"


# ---------------------------------------------------------------------------- virtual display
def virtual_display() -> tuple[str, Any] | None:
    """Start Xvfb; ``(DISPLAY, process)`` or None (kept for benchmarks/bench_viewer.py).

    See :func:`vtkdicom_app.xvfb.start_xvfb`, which this wraps.
    """
    from vtkdicom_app.xvfb import start_xvfb

    started = start_xvfb()
    return None if started is None else (started.display, started.process)


def screenshot_on_virtual_display(
    path: str | None,
    png: str,
    *,
    size: tuple[int, int] | None = None,
    anonymize: bool = False,
    debug: bool = False,
    timeout: float = 3600,
    scene: str | None = None,
) -> subprocess.CompletedProcess[str] | None:
    """``vtkdicom-app view PATH --screenshot PNG [--scene SCENE.json]`` in a child process on a new Xvfb.

    Returns
    -------
    subprocess.CompletedProcess or None
        The child's result; None when Xvfb is not installed or did not start.
    """
    from vtkdicom_app.xvfb import start_xvfb

    started = start_xvfb()
    if started is None:
        return None
    argv = [sys.executable, "-m", "vtkdicom_app", *(["--debug"] if debug else []), "-q", "view"]
    argv += [*([path] if path else []), "--screenshot", png]
    if size is not None:
        argv += ["--size", f"{size[0]}x{size[1]}"]
    argv += ["--anonymize"] if anonymize else []
    argv += ["--scene", scene] if scene else []
    with started:
        return subprocess.run(argv, check=False, capture_output=True, text=True, env=started.child_env(), timeout=timeout)


# ---------------------------------------------------------------------------- view
def _view_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--screenshot", metavar="FILE.png", help="load, save the whole window as PNG and exit")
    p.add_argument("--size", type=parse_size, default=(1200, 860), help="window size WxH")
    p.add_argument("--anonymize", action="store_true", help="hide patient names (window and screenshots)")
    p.add_argument("--scene", metavar="SCENE.json", help="reopen a saved scene (its source folder and series, or PATH when given)")


def check_view(args: argparse.Namespace) -> None:
    """``--screenshot`` writes PNG into a folder that exists."""
    if args.screenshot:
        ImageFormat.from_path(args.screenshot, (ImageFormat.PNG,), "--screenshot")
        check_output(args.screenshot, "--screenshot")


def run_view(args: argparse.Namespace) -> int:
    """``vtkdicom-app view``: the viewer, on a virtual display for a screenshot without one."""
    from vtkdicom_app.xvfb import qt_needs_display

    scene = None
    if getattr(args, "scene", None):
        from vtkdicom_app.scene import load_scene, scene_source

        scene = load_scene(args.scene)  # SceneError: one line, exit 1, before any window opens
        scene_source(scene, args.path)
    if qt_needs_display():
        if not args.screenshot:
            print("error: the viewer needs a display (run under X or Xvfb: xvfb-run vtkdicom-app view ...)", file=sys.stderr)
            return 1
        done = screenshot_on_virtual_display(
            args.path, args.screenshot, size=args.size, anonymize=args.anonymize, debug=args.debug, scene=getattr(args, "scene", None)
        )
        if done is None:
            print("error: --screenshot without a display needs Xvfb (apt-get install xvfb) or a display", file=sys.stderr)
            return 1
        sys.stdout.write(done.stdout)
        if done.returncode != 0:  # on success, Qt's chatter on stderr is left out
            sys.stderr.write(done.stderr)
        return done.returncode
    from vtkdicom_app.app import run_viewer

    return run_viewer(args.path, screenshot=args.screenshot, size=args.size, anonymize=args.anonymize, scene=scene)


def run_scene_viewer(
    scene: dict[str, Any], path: str | None = None, *, screenshot: str | None = None, size: tuple[int, int] = (1200, 860), anonymize: bool = False
) -> int:
    """The viewer opened on a scene (``view --scene``): :func:`vtkdicom_app.app.run_viewer` with ``scene``.

    Kept for callers of the old name; needs a display.
    """
    from vtkdicom_app.app import run_viewer

    return run_viewer(path, screenshot=screenshot, size=size, anonymize=anonymize, scene=scene)


# ---------------------------------------------------------------------------- mpr
def _slab_type(modes: Sequence[str]) -> Any:
    """``--slab MODE:MM`` with the modes of :class:`~vtkdicom_app.mpr.SlabMode`."""
    names = ", ".join(f"{m}:MM" for m in modes)

    def parse_slab(text: str) -> tuple[str, float]:
        mode, sep, mm = text.partition(":")
        if mode not in modes or not sep:
            raise argparse.ArgumentTypeError(f"slab must be {names}, got {text!r}")
        try:
            return mode, float(mm)
        except ValueError:
            raise argparse.ArgumentTypeError(f"slab thickness must be a number of mm, got {mm!r}") from None

    return parse_slab


def _mpr_arguments(p: argparse.ArgumentParser) -> None:
    from vtkdicom_app.mpr import Interpolation, Plane, SlabMode, load_wl_presets

    slab_modes = enum_values(SlabMode, exclude=(SlabMode.NONE,))
    p.add_argument("-o", "--output", required=True, help="OUT.png (or .jpg, .tif, .bmp)")
    p.add_argument("--plane", default=Plane.AXIAL.value, choices=[*enum_values(Plane), ALL_PLANES])
    p.add_argument("--position", type=float, help="LPS mm: z for axial, y for coronal, x for sagittal (default: the centre)")
    p.add_argument("--point", type=parse_vector, help="x,y,z LPS mm the plane(s) pass through")
    p.add_argument("--normal", type=parse_vector, help="x,y,z normal of an oblique plane")
    p.add_argument("--window", type=float, help="window width (default: the header's, else automatic)")
    p.add_argument("--level", type=float, help="window level (centre)")
    p.add_argument("--wl-preset", choices=list(load_wl_presets()))
    p.add_argument("--slab", type=_slab_type(slab_modes), help="thick slab: " + ", ".join(f"{m}:MM" for m in slab_modes))
    p.add_argument("--interpolation", choices=enum_values(Interpolation), default=Interpolation.LINEAR.value)
    p.add_argument("--crosshair", action="store_true", help="draw the crosshair at --point")


def check_mpr(args: argparse.Namespace) -> None:
    """Usage errors of ``mpr``, before the volume is loaded."""
    from vtkdicom_app.mpr import Plane

    ImageFormat.from_path(args.output, RASTER_FORMATS, "-o")
    oblique = Plane.OBLIQUE.value
    if args.plane == oblique and args.normal is None:
        raise UsageError(f"--plane {oblique} needs --normal x,y,z")
    if args.normal is not None:
        if args.plane != oblique:
            raise UsageError(f"--normal applies to --plane {oblique}, not --plane {args.plane}")
        if sum(v * v for v in args.normal) < 1e-18:
            raise UsageError("--normal must not be the zero vector")
    if args.plane == ALL_PLANES and args.position is not None:
        raise UsageError(f"--position picks one plane's position; with --plane {ALL_PLANES} give --point x,y,z")
    if args.slab is not None and not args.slab[1] > 0:
        raise UsageError(f"--slab {args.slab[0]}:{args.slab[1]:g}: the thickness must be > 0 mm")
    if args.window is not None and not args.window > 0:
        raise UsageError(f"--window {args.window:g}: the width must be > 0")
    check_frame(args)
    check_crop(args)
    check_output(args.output)


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
        given = f"--position {args.position:g} mm" if args.position is not None else f"--point {fmt_vec(point, 1)}"
        raise VtkDicomError(f"{given} is outside the volume, whose {name} run from {lo:.1f} to {hi:.1f} mm")


def run_mpr(args: argparse.Namespace) -> int:
    """``vtkdicom-app mpr``."""
    from vtkdicom_app.mpr import Plane, Reslicer, SlabMode, auto_window_level, load_wl_presets, window_level_from_header
    from vtkdicom_app.rendering.slice_view import contact_sheet, render_slice

    fmt = ImageFormat.from_path(args.output, RASTER_FORMATS, "-o")
    vol = load_for(args)
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
    invert = vol.invert_display
    common = dict(interpolation=args.interpolation, slab_mm=slab_mm, slab_mode=slab_mode)
    point = tuple(float(v) for v in point)
    if args.plane == ALL_PLANES:
        planes: tuple[Any, ...] = (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)
        if vol.shape[0] == 1:  # a scout or projection image has only its own plane
            from vtkdicom_app.mpr import nearest_standard_plane

            planes = (nearest_standard_plane(vol.direction[:, 2]),)
            print(f"note: a single-slice series has only its own plane ({planes[0].value}); the other planes are left out", file=sys.stderr)
        _check_inside(vol, planes, point, args)
        slices = [reslicer.reslice(p, point=point, **common) for p in planes]
        rgb = contact_sheet(slices, None, window=window, level=level, invert=invert, crosshair=point)
        write_image(rgb, args.output, fmt)
        print(f"wrote {args.output} ({', '.join(p.value for p in planes)} through {fmt_vec(point, 1)} mm LPS, W {window:g} L {level:g})")
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
    write_image(rgb, args.output, fmt)
    print(f"wrote {args.output} ({plane.value} at {s.position:.1f} mm, {s.shape[1]}x{s.shape[0]} pixels of {s.pixel_size[0]:.3g} mm, W {window:g} L {level:g})")
    return 0


# ---------------------------------------------------------------------------- render
def _render_arguments(p: argparse.ArgumentParser) -> None:
    from vtkdicom_app.rendering import BlendMode, MapperKind, View, load_volume_presets

    p.add_argument("-o", "--output", required=True, help="OUT.png (or .jpg, .tif, .bmp, .gif), OUT.gif with --orbit")
    p.add_argument("--preset", default=None, choices=list(load_volume_presets()), help="volume preset (default: ct-bone for CT, mr-default otherwise)")
    p.add_argument("--view", default=View.ANTERIOR.name.lower(), choices=[v.name.lower() for v in View])
    p.add_argument("--size", type=parse_size, default=(512, 512), help="WxH pixels (default 512x512)")
    p.add_argument("--blend", choices=enum_values(BlendMode), help="override the preset's blend mode")
    p.add_argument("--shift", type=float, default=0.0, help="move the transfer function along the value axis")
    p.add_argument("--opacity-scale", type=float, default=1.0, help="multiply every opacity")
    p.add_argument("--mapper", choices=enum_values(MapperKind), default=MapperKind.AUTO.value, help="volume mapper (auto: CPU on software OpenGL)")
    p.add_argument("--orbit", type=int, metavar="N", help="write an N-frame turntable movie instead: -o OUT.mp4 (H.264) or OUT.gif")
    p.add_argument("--cine", metavar="OUT.gif", help="also play the frames of a 4D series into a GIF")
    p.add_argument("--fps", type=float, default=None, help="frames per second of --cine (default 8) and --orbit (default 12)")


def check_render(args: argparse.Namespace) -> None:
    """Usage errors of ``render``, before the volume is loaded."""
    from vtkdicom_app.rendering.movie import MovieFormat

    if args.orbit is not None:
        if args.orbit < 1:
            raise UsageError(f"--orbit {args.orbit}: give a number of frames >= 1")
        try:
            MovieFormat.from_path(args.output)
        except ValueError:
            raise UsageError(f"--orbit writes a movie: give -o OUT.mp4 or OUT.gif, not {args.output}") from None
    else:
        ImageFormat.from_path(args.output, (*RASTER_FORMATS, ImageFormat.GIF), "-o")
    if args.cine:
        ImageFormat.from_path(args.cine, (ImageFormat.GIF,), "--cine")
    if args.fps is not None and not args.fps > 0:
        raise UsageError(f"--fps {args.fps:g}: give a positive number of frames per second")
    if args.opacity_scale < 0:
        raise UsageError(f"--opacity-scale {args.opacity_scale:g}: give a factor >= 0")
    check_frame(args)
    check_crop(args)
    if args.cine and crop_options(args):
        raise UsageError("--cine plays the whole 4D series: it does not go with --crop or --downsample")
    check_output(args.output)
    check_output(args.cine, "--cine")


def run_render(args: argparse.Namespace) -> int:
    """``vtkdicom-app render``."""
    from vtkdicom_app.geometry import as_enum
    from vtkdicom_app.rendering import View, VolumeScene, write_gif

    fmt = None if args.orbit is not None else ImageFormat.from_path(args.output, (*RASTER_FORMATS, ImageFormat.GIF), "-o")
    vol = load_for(args)
    modality = vol.modality
    if args.preset is None:  # the modality's default: CT presets are in HU
        args.preset = "ct-bone" if modality in ("CT", "") else "mr-default"
        if modality not in ("CT", ""):
            print(f"note: {modality} volume: volume preset mr-default (the CT presets are in HU); --preset picks another", file=sys.stderr)
    elif args.preset.startswith("ct-") and modality in ("MR", "PT", "NM"):
        from vtkdicom_app.errors import ModalityWarning

        warn(f"--preset {args.preset} is a CT preset (HU) but the volume is {modality}: expect an empty or noisy picture", ModalityWarning)
    scene = VolumeScene(
        vol,
        preset=args.preset,
        shift=args.shift,
        opacity_scale=args.opacity_scale,
        blend=args.blend,
        mapper=args.mapper,
        size=args.size,
    )
    scene.set_view(as_enum(View, args.view))
    if args.cine:
        from vtkdicom_app.io.loader import load_sequence

        with progress_for(args) as progress:
            seq = load_sequence(args.path, series=args.series, lazy=True, progress=progress)
        scene.set_frame(seq[0])
        images = scene.cine(seq)  # type: ignore[arg-type]  # a VolumeSequence is a sequence of Volume, not a typing.Sequence
        fps = args.fps if args.fps is not None else 8.0
        write_gif(images, args.cine, fps=fps)
        print(f"wrote {args.cine} ({len(images)} frames along {seq.axis}, {fps:g} fps)")
    if args.orbit:
        from vtkdicom_app.rendering.movie import DEFAULT_FPS, record_turntable

        movie = record_turntable(scene, args.output, args.orbit, fps=args.fps if args.fps is not None else DEFAULT_FPS)
        width, height = movie.size
        print(f"wrote {args.output} ({movie.frames} frames {width}x{height} {movie.format.name}, {movie.fps:g} fps, {scene.mapper_kind.value} mapper)")
        return 0
    assert fmt is not None
    write_image(scene.to_array(), args.output, fmt)
    print(f"wrote {args.output} ({args.size[0]}x{args.size[1]} {fmt.name}, {args.preset}, {args.view} view, {scene.mapper_kind.value} mapper)")
    return 0


COMMANDS = (
    Command(
        "mpr",
        "a resliced plane (or all three) to PNG, in patient space",
        run_mpr,
        _mpr_arguments,
        check_mpr,
        parents=lambda: [*input_parents(), frame_parent(), crop_parent()],
    ),
    Command(
        "view",
        "the Qt viewer: axial, coronal, sagittal and 3D",
        run_view,
        _view_arguments,
        check_view,
        parents=lambda: input_parents("folder, file or DICOMDIR to open", series=False, optional_path=True),
    ),
    Command(
        "render",
        "volume rendering to PNG (or a turntable MP4/GIF)",
        run_render,
        _render_arguments,
        check_render,
        parents=lambda: [*input_parents(), frame_parent(), crop_parent()],
    ),
)
