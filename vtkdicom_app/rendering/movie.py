"""Movies: a turntable of the 3D view and a cine through the slices of a view, as MP4 or GIF.

MP4 files are H.264 (libx264, yuv420p, every player reads them) written by the ffmpeg that
the ``imageio-ffmpeg`` wheel ships, so no system ffmpeg is needed; GIFs are written by Pillow
(:func:`~vtkdicom_app.rendering.volume_render.write_gif`; Pillow stores identical
consecutive frames once with their durations summed, so a GIF plays for exactly its frames'
time but may hold fewer stored frames). Both are written atomically: an unwritable folder, a
full disk or an encoder failure leaves no half-written file.

::

    scene = VolumeScene(vol, preset="ct-bone", size=(512, 512))
    record_turntable(scene, "spin.mp4", 72)             # 72 frames, 5 degrees apart
    record_slice_cine(vol, Plane.AXIAL, "cine.gif", fps=10)

H.264 in yuv420p needs even widths and heights: odd frames are padded by one row or column
(a copy of the last one), never scaled.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.display import WindowLevel, auto_window_level, to_display, window_level_from_header
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.mpr import Interpolation, Plane, Reslicer, SlabMode, plane_axes, step_along
from vtkdicom_app.rendering.volume_render import VolumeScene, write_gif
from vtkdicom_app.volume import Volume

__all__ = [
    "DEFAULT_FPS",
    "MovieError",
    "MovieFormat",
    "MovieInfo",
    "record_slice_cine",
    "record_turntable",
    "slice_cine_frames",
    "turntable_frames",
    "write_movie",
]

DEFAULT_FPS = 12.0
"""Frames per second when none is given."""

ProgressCallback = Callable[[int, int, str], None]


class MovieError(VtkDicomError):
    """A movie that cannot be written (no frames, frames of different sizes, the encoder failed)."""


class MovieFormat(enum.Enum):
    """Movie file formats, by suffix."""

    MP4 = "mp4"
    GIF = "gif"

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> MovieFormat:
        """The format of a file name (``.mp4`` or ``.gif``, any case).

        Raises
        ------
        ValueError
            Another suffix (the message lists the formats).
        """
        suffix = Path(path).suffix.lower().lstrip(".")
        try:
            return cls(suffix)
        except ValueError:
            raise ValueError(f"a movie is {' or '.join('.' + f.value for f in cls)}, not {Path(path).name!r}") from None


@dataclasses.dataclass(frozen=True)
class MovieInfo:
    """What :func:`write_movie` wrote.

    Attributes
    ----------
    path : str
    format : MovieFormat
    frames : int
    size : tuple of int
        ``(width, height)`` in the file (even for MP4).
    fps : float
    """

    path: str
    format: MovieFormat
    frames: int
    size: tuple[int, int]
    fps: float


def _rgb_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    if len(frames) == 0:
        raise MovieError("no frames to write")
    out = []
    for n, f in enumerate(frames):
        a = np.asarray(f)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            raise MovieError(f"frame {n} is not an image (height, width, 3): shape {a.shape}")
        if a.dtype != np.uint8:
            raise MovieError(f"frame {n} is {a.dtype}; movies take uint8 RGB frames")
        out.append(np.ascontiguousarray(a[:, :, :3]))
    if len({f.shape for f in out}) != 1:
        raise MovieError(f"the frames differ in size: {sorted({f.shape[:2] for f in out})}")
    return out


def _pad_even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_movie(frames: Sequence[np.ndarray], path: str | os.PathLike[str], *, fps: float = DEFAULT_FPS, crf: int = 18) -> MovieInfo:
    """Write frames as an H.264 MP4 or a looping GIF (by the suffix), atomically.

    Parameters
    ----------
    frames : sequence of numpy.ndarray
        ``(height, width, 3)`` uint8 RGB, row 0 at the top (grey ``(h, w)`` frames are
        taken as well); all of one size.
    path : str or os.PathLike
        ``.mp4`` or ``.gif``.
    fps : float
        Frames per second (> 0).
    crf : int
        H.264 constant rate factor (0 lossless .. 51; 18 looks lossless on these images).

    Returns
    -------
    MovieInfo

    Raises
    ------
    ValueError
        Another suffix, or fps not > 0.
    MovieError
        No frames, frames that are not uint8 RGB of one size, or ffmpeg failed.
    OSError
        The folder does not exist or cannot be written.
    """
    fmt = MovieFormat.from_path(path)
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    images = _rgb_frames(frames)
    if fmt is MovieFormat.GIF:
        write_gif(images, path, fps=fps)
        h, w = images[0].shape[:2]
        return MovieInfo(os.fspath(path), fmt, len(images), (w, h), float(fps))
    import imageio_ffmpeg

    padded = [_pad_even(f) for f in images]
    h, w = padded[0].shape[:2]
    with atomic_path(path, suffix=".mp4") as tmp:
        writer = imageio_ffmpeg.write_frames(
            tmp,
            (w, h),
            fps=float(fps),
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-crf", str(int(crf)), "-movflags", "+faststart"],
        )
        try:
            writer.send(None)  # start ffmpeg
            for f in padded:
                writer.send(f)
            writer.close()
        except (OSError, RuntimeError) as exc:
            writer.close()
            raise MovieError(f"ffmpeg could not write {os.fspath(path)}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}") from exc
    return MovieInfo(os.fspath(path), fmt, len(padded), (w, h), float(fps))


# ---------------------------------------------------------------------------- turntable
def turntable_frames(scene: VolumeScene, n_frames: int, *, degrees: float = 360.0) -> list[np.ndarray]:
    """``n_frames`` renderings of a 3D scene turning about the patient's superior axis.

    The camera turns ``degrees / n_frames`` between frames from where it is (a full turn
    does not repeat the first frame) and is put back afterwards.
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"a turntable needs a whole number of frames >= 1, got {n_frames!r}")
    cam = scene.renderer.GetActiveCamera()
    saved = (cam.GetPosition(), cam.GetFocalPoint(), cam.GetViewUp())
    try:
        return scene.orbit(int(n_frames), degrees=float(degrees))
    finally:
        cam.SetPosition(*saved[0])
        cam.SetFocalPoint(*saved[1])
        cam.SetViewUp(*saved[2])
        scene.renderer.ResetCameraClippingRange()


def record_turntable(scene: VolumeScene, path: str | os.PathLike[str], n_frames: int, *, degrees: float = 360.0, fps: float = DEFAULT_FPS) -> MovieInfo:
    """Render a turntable (:func:`turntable_frames`) and write it (:func:`write_movie`)."""
    MovieFormat.from_path(path)  # before rendering
    return write_movie(turntable_frames(scene, n_frames, degrees=degrees), path, fps=fps)


# ---------------------------------------------------------------------------- slice cine
def slice_cine_frames(
    vol: Volume,
    plane: Plane | str = Plane.AXIAL,
    *,
    normal: Sequence[float] | None = None,
    point: Sequence[float] | None = None,
    window_level: WindowLevel | None = None,
    step: int = 1,
    slab_mm: float = 0.0,
    slab_mode: SlabMode | str = SlabMode.NONE,
    interpolation: Interpolation | str = Interpolation.LINEAR,
    reslicer: Reslicer | None = None,
    progress: ProgressCallback | None = None,
) -> list[np.ndarray]:
    """Frames of a view played through the volume, one true slice step (times ``step``) apart.

    Parameters
    ----------
    vol : Volume
    plane : Plane or str
        A standard plane, or OBLIQUE with ``normal``.
    normal : sequence of float, optional
        The oblique plane's normal (LPS).
    point : sequence of float, optional
        A point the planes' grid passes through (the crosshair; default the centre): the
        frames step along the normal from the volume's first to its last slice.
    window_level : WindowLevel, optional
        Default: the header's window, else automatic.
    step : int
        Slices per frame (>= 1).
    slab_mm, slab_mode : float, SlabMode
        A thick slab per frame (MIP cine).
    interpolation : Interpolation or str
    reslicer : Reslicer, optional
        Reused (a viewer keeps one per volume).
    progress : callable, optional
        ``progress(done, total, "cine")``.

    Returns
    -------
    list of numpy.ndarray
        ``(rows, columns, 3)`` uint8, the slice's own pixels (row 0 at the top), windowed;
        MONOCHROME1 volumes inverted as the viewer shows them.
    """
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"step must be a whole number of slices >= 1, got {step!r}")
    p = plane if isinstance(plane, Plane) else Plane(plane)
    axes = plane_axes(p, normal if p is Plane.OBLIQUE else None)
    n = axes[:, 2]
    r = reslicer or Reslicer(vol)
    origin = r.centre() if point is None else np.asarray(point, dtype=np.float64).reshape(3)
    along = vol.corners @ n
    dz = step_along(vol, n)
    first, last = float(along.min()), float(along.max())
    count = int(math.floor((last - first) / dz + 1e-6)) + 1
    positions = [first + i * dz for i in range(0, count, int(step))]
    wl = window_level or window_level_from_header(vol) or auto_window_level(vol)
    frames = []
    for done, pos in enumerate(positions):
        at = origin + (pos - float(origin @ n)) * n
        s = r.reslice(p, point=at, normal=normal if p is Plane.OBLIQUE else None, slab_mm=slab_mm, slab_mode=slab_mode, interpolation=interpolation)
        shown = to_display(s.array, wl.window, wl.level, invert=vol.invert_display)
        frames.append(shown if shown.ndim == 3 else np.repeat(shown[:, :, None], 3, axis=2))
        if progress is not None:
            progress(done + 1, len(positions), "cine")
    return frames


def record_slice_cine(
    vol: Volume,
    plane: Plane | str,
    path: str | os.PathLike[str],
    *,
    fps: float = DEFAULT_FPS,
    **kwargs: Any,
) -> MovieInfo:
    """Write a slice cine (:func:`slice_cine_frames`, ``kwargs`` go there) as MP4 or GIF."""
    MovieFormat.from_path(path)  # before reslicing
    return write_movie(slice_cine_frames(vol, plane, **kwargs), path, fps=fps)
