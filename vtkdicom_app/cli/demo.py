"""``phantom`` and ``demo``: the built-in test data, and the main job run on it."""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import TYPE_CHECKING

from vtkdicom_app.cli._common import Command, UsageError, enum_values, quiet_parent
from vtkdicom_app.cli._progress import progress_for

if TYPE_CHECKING:
    from vtkdicom_app.volume import Volume

__all__ = ["COMMANDS", "DEMO_SHAPE", "run_demo"]

# the demo phantom: columns, rows, slices (1 mm pixels, 2 mm slices)
DEMO_SHAPE = (256, 256, 120)


# ---------------------------------------------------------------------------- phantom
def _phantom_arguments(p: argparse.ArgumentParser) -> None:
    from vtkdicom_app.phantom import PhantomOrientation

    p.add_argument("outdir")
    p.add_argument("--size", type=int, default=128, help="rows and columns (default 128)")
    p.add_argument("--slices", type=int, default=64, help="number of slices (default 64)")
    p.add_argument("--pixel-spacing", type=float, default=1.5, help="mm (default 1.5)")
    p.add_argument("--slice-spacing", type=float, default=2.0, help="mm (default 2.0)")
    p.add_argument("--orientation", choices=enum_values(PhantomOrientation), default=PhantomOrientation.AXIAL.value)
    p.add_argument("--feet-first", action="store_true")
    p.add_argument("--tilt", type=float, default=0.0, help="gantry tilt in degrees")
    p.add_argument("--shuffle", action="store_true", help="random file names")
    p.add_argument("--series", type=int, default=1, help="number of series in the folder")


def check_phantom(args: argparse.Namespace) -> None:
    """Usage errors of ``phantom``, before anything is written."""
    if os.path.exists(args.outdir) and not os.path.isdir(args.outdir):
        raise UsageError(f"OUTDIR {args.outdir} is a file; give a folder (created if needed)")
    for option, value in (("--size", args.size), ("--slices", args.slices), ("--series", args.series)):
        if value < 1:
            raise UsageError(f"{option} {value}: give at least 1")
    for option, mm in (("--pixel-spacing", args.pixel_spacing), ("--slice-spacing", args.slice_spacing)):
        if not mm > 0:
            raise UsageError(f"{option} {mm:g}: give a spacing > 0 mm")


def run_phantom(args: argparse.Namespace) -> int:
    """``vtkdicom-app phantom``."""
    from vtkdicom_app.phantom import PhantomOrientation, write_phantom

    with progress_for(args) as progress:
        result = write_phantom(
            args.outdir,
            rows=args.size,
            columns=args.size,
            slices=args.slices,
            pixel_spacing=(args.pixel_spacing, args.pixel_spacing),
            slice_spacing=args.slice_spacing,
            orientation=PhantomOrientation(args.orientation),
            feet_first=args.feet_first,
            gantry_tilt_deg=args.tilt,
            shuffle_names=args.shuffle,
            n_series=args.series,
            progress=progress.phase("Writing phantom"),
        )
    print(f"wrote {len(result.files)} files to {args.outdir}")
    return 0


# ---------------------------------------------------------------------------- demo
def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--outdir", help="folder for the phantom (DIR/phantom), the screenshot and the STL; created if needed (default: a folder in the temp dir)")
    p.add_argument("--no-viewer", action="store_true", help="write the screenshot and the STL even with a display")


def check_demo(args: argparse.Namespace) -> None:
    """``--outdir`` must be a folder (or not exist yet)."""
    if args.outdir and os.path.exists(args.outdir) and not os.path.isdir(args.outdir):
        raise UsageError(f"--outdir {args.outdir} is a file; give a folder (created if needed)")


def _offscreen_views(vol: Volume, png: str) -> None:
    """The viewer's four views drawn offscreen: MPR contact sheet + volume rendering."""
    import numpy as np

    from vtkdicom_app.mpr import MprCursor, Plane
    from vtkdicom_app.rendering import VolumeScene, write_png
    from vtkdicom_app.rendering.slice_view import contact_sheet

    cursor = MprCursor(vol)
    tile = 400
    sheet = contact_sheet(
        [cursor.slice(p) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)],
        None,
        window=cursor.window,
        level=cursor.level,
        crosshair=tuple(cursor.point),
        tile=tile,
    )
    render = VolumeScene(vol, size=(tile, tile)).to_array()
    canvas = np.zeros((2 * tile, 2 * tile, 3), np.uint8)
    canvas[:tile, :tile] = sheet[:, :tile]
    canvas[:tile, tile:] = render
    canvas[tile:, :tile] = sheet[:, tile : 2 * tile]
    canvas[tile:, tile:] = sheet[:, 2 * tile :]
    write_png(canvas, png)


def _demo_screenshot(phantom_dir: str, png: str, vol: Volume) -> str:
    """The viewer's four views as PNG without a display: on Xvfb, else drawn offscreen."""
    from vtkdicom_app.cli.view import screenshot_on_virtual_display

    done = screenshot_on_virtual_display(phantom_dir, png, timeout=300)
    if done is not None and done.returncode == 0:
        return "the viewer on a virtual display (Xvfb)"
    _offscreen_views(vol, png)
    return "offscreen rendering (no Xvfb found)" if done is None else "offscreen rendering (the viewer failed on Xvfb)"


def run_demo(args: argparse.Namespace) -> int:
    """``vtkdicom-app demo``: write the phantom, report it, then open the viewer on it (with a
    display), or write the four views as PNG and the bone as STL (without one).

    Everything goes inside the demo folder: the phantom in DIR/phantom, the screenshot and
    the STL beside it. The steps are the library's (write_phantom, scan, load,
    extract_surface, export_mesh) and the info report's printer.
    """
    from vtkdicom_app.cli.load_cmds import print_info
    from vtkdicom_app.io.loader import load, scan
    from vtkdicom_app.xvfb import has_display

    base_dir = os.path.abspath(args.outdir or os.path.join(tempfile.gettempdir(), "vtkdicom_app_demo"))
    phantom_dir = os.path.join(base_dir, "phantom")
    columns, rows, slices = DEMO_SHAPE
    if not os.path.isdir(phantom_dir) or not os.listdir(phantom_dir):
        from vtkdicom_app.phantom import write_phantom

        with progress_for(args) as progress:
            write_phantom(
                phantom_dir,
                rows=rows,
                columns=columns,
                slices=slices,
                pixel_spacing=(1.0, 1.0),
                slice_spacing=2.0,
                shuffle_names=True,
                partial_volume=True,
                progress=progress.phase("Writing phantom"),
            )
        print(f"wrote the phantom ({columns}x{rows}x{slices} CT, bone sphere, marker on the patient's left) to {phantom_dir}")
    else:
        print(f"using the phantom already in {phantom_dir}")
    with progress_for(args) as progress:
        scanned = scan(phantom_dir, progress=progress)
        vol = load(scanned, progress=progress)
    print_info(phantom_dir, scanned, list(scanned), vol)
    if has_display() and not args.no_viewer:
        from vtkdicom_app.app import run_viewer

        return run_viewer(phantom_dir)
    png, stl = os.path.join(base_dir, "vtkdicom_app_demo_views.png"), os.path.join(base_dir, "vtkdicom_app_demo_bone.stl")
    how = _demo_screenshot(phantom_dir, png, vol)
    print(f"\nno display: wrote the four-view screenshot {png} ({how})")
    from vtkdicom_app.mesh_io import export_mesh
    from vtkdicom_app.surface import extract_surface

    with progress_for(args) as progress:
        mesh = extract_surface(vol, preset="bone", largest=True, progress=progress)
    report = export_mesh(mesh, stl)
    print(f"wrote {stl}")
    print(report.summary())
    print(f"open {png} to look at it, and {stl} in a slicer for printing; on a desktop, `vtkdicom-app demo` opens the viewer")
    return 0


COMMANDS = (
    Command(
        "phantom",
        "write a synthetic CT series with known geometry",
        run_phantom,
        _phantom_arguments,
        check_phantom,
        parents=lambda: [quiet_parent()],
    ),
    Command(
        "demo",
        "the main job on the built-in phantom (the viewer, or a screenshot and an STL)",
        run_demo,
        _demo_arguments,
        check_demo,
        parents=lambda: [quiet_parent()],
    ),
)
