"""Movies (vtkdicom_app.rendering.movie): turntables and slice cines to H.264 MP4 and GIF, read
back with imageio; ``render --orbit N -o OUT.mp4``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageSequence

from vtkdicom_app.cli import main
from vtkdicom_app.io.loader import load
from vtkdicom_app.mpr import Plane, SlabMode
from vtkdicom_app.rendering import VolumeScene
from vtkdicom_app.rendering.movie import (
    MovieError,
    MovieFormat,
    record_slice_cine,
    record_turntable,
    slice_cine_frames,
    turntable_frames,
    write_movie,
)

iio2 = pytest.importorskip("imageio.v2", reason="imageio reads the movies back (pip install imageio imageio-ffmpeg)")
pytest.importorskip("imageio_ffmpeg", reason="MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg)")

ROOT = Path(__file__).resolve().parents[1]


def _mp4_frames(path: Path) -> tuple[list[np.ndarray], dict[str, Any]]:
    reader = iio2.get_reader(str(path), format="FFMPEG")
    try:
        meta = reader.get_meta_data()
        return [np.asarray(f) for f in reader], meta
    finally:
        reader.close()


def _gif_frames(path: Path) -> list[np.ndarray]:
    import imageio.v3 as iio

    return list(iio.imread(path, index=None))


@pytest.fixture(scope="module")
def vol(phantom_factory: Any) -> Any:
    return load(phantom_factory(rows=40, columns=48, slices=30, pixel_spacing=(1.2, 1.2), slice_spacing=1.5).outdir)


def test_turntable_mp4_has_n_frames_that_turn(vol: Any, tmp_path: Path) -> None:
    scene = VolumeScene(vol, preset="ct-bone", size=(96, 80), blend="mip")
    before = scene.to_array()
    out = tmp_path / "spin.mp4"
    info = record_turntable(scene, out, 8, fps=10)
    assert (info.frames, info.size, info.format, info.fps) == (8, (96, 80), MovieFormat.MP4, 10.0)
    frames, meta = _mp4_frames(out)
    assert len(frames) == 8 and frames[0].shape == (80, 96, 3)
    assert meta["codec"] == "h264" and meta["fps"] == pytest.approx(10.0)
    # frame 0 is the view before, within H.264/yuv420p's error (about 3 grey levels on these
    # small coloured renderings, also at crf 0: chroma subsampling); consecutive frames differ
    # by far more (a 45 degree turn: about 26 levels)
    assert float(np.abs(frames[0].astype(int) - before.astype(int)).mean()) < 6.0
    diffs = [float(np.abs(frames[i].astype(int) - frames[i + 1].astype(int)).mean()) for i in range(7)]
    assert min(diffs) > 12.0, diffs
    # the camera is back where it was
    assert np.array_equal(scene.to_array(), before)


def test_turntable_gif_and_odd_sizes(vol: Any, tmp_path: Path) -> None:
    scene = VolumeScene(vol, preset="ct-bone", size=(75, 61), blend="mip")
    frames = turntable_frames(scene, 5, degrees=180.0)
    assert len(frames) == 5 and frames[0].shape == (61, 75, 3)
    gif = write_movie(frames, tmp_path / "spin.gif", fps=5)
    back = _gif_frames(tmp_path / "spin.gif")
    assert gif.frames == len(back) == 5 and back[0].shape[:2] == (61, 75)
    assert all(np.any(back[i] != back[i + 1]) for i in range(4))
    mp4 = write_movie(frames, tmp_path / "spin.mp4")  # odd: padded by one row and column
    decoded, _meta = _mp4_frames(tmp_path / "spin.mp4")
    assert mp4.size == (76, 62) and len(decoded) == 5 and decoded[0].shape == (62, 76, 3)
    assert float(np.abs(decoded[2][:61, :75].astype(int) - frames[2].astype(int)).mean()) < 6.0  # the picture is not shifted or scaled


def test_slice_cine_steps_through_the_volume(vol: Any, tmp_path: Path) -> None:
    frames = slice_cine_frames(vol, Plane.AXIAL)
    assert len(frames) == 30 and frames[0].dtype == np.uint8 and frames[0].shape[2] == 3
    assert sum(1 for i in range(29) if np.any(frames[i] != frames[i + 1])) > 5  # the phantom changes along z
    every_third = slice_cine_frames(vol, Plane.AXIAL, step=3, slab_mm=6.0, slab_mode=SlabMode.MIP)
    assert len(every_third) == 10
    coronal = slice_cine_frames(vol, "coronal")
    assert len(coronal) == 40
    oblique = slice_cine_frames(vol, Plane.OBLIQUE, normal=(0.0, 1.0, 1.0))
    assert len(oblique) > 20
    info = record_slice_cine(vol, Plane.AXIAL, tmp_path / "cine.mp4", fps=15)
    back, meta = _mp4_frames(tmp_path / "cine.mp4")
    assert info.frames == len(back) == 30 and meta["fps"] == pytest.approx(15.0)
    gif = record_slice_cine(vol, Plane.SAGITTAL, tmp_path / "cine.gif", step=2, fps=10)
    assert gif.frames == 24
    # Pillow stores identical consecutive frames (air at the sides) once with their durations
    # summed: the GIF plays 24 frames' time
    with Image.open(tmp_path / "cine.gif") as im:
        durations = [im.info["duration"] for _ in ImageSequence.Iterator(im)]
    assert sum(durations) == 24 * 100 and 1 < len(durations) <= 24


def test_bad_movies_fail_clearly_and_write_nothing(tmp_path: Path) -> None:
    frame = np.zeros((10, 12, 3), np.uint8)
    with pytest.raises(ValueError, match=r"a movie is \.mp4 or \.gif, not 'x\.avi'"):
        write_movie([frame], tmp_path / "x.avi")
    with pytest.raises(MovieError, match="no frames"):
        write_movie([], tmp_path / "x.mp4")
    with pytest.raises(MovieError, match="differ in size"):
        write_movie([frame, np.zeros((12, 12, 3), np.uint8)], tmp_path / "x.mp4")
    with pytest.raises(MovieError, match="uint8"):
        write_movie([frame.astype(np.float32)], tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="fps"):
        write_movie([frame], tmp_path / "x.mp4", fps=0)
    with pytest.raises(OSError):
        write_movie([frame], tmp_path / "no-such-folder" / "x.mp4")
    assert os.listdir(tmp_path) == []


def test_render_orbit_writes_an_mp4(phantom_factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ph = phantom_factory(rows=40, columns=48, slices=30, pixel_spacing=(1.2, 1.2), slice_spacing=1.5)
    out = tmp_path / "o.mp4"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vtkdicom_app",
            "-q",
            "render",
            str(ph.outdir),
            "-o",
            str(out),
            "--orbit",
            "6",
            "--size",
            "64x48",
            "--blend",
            "mip",
            "--fps",
            "6",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out} (6 frames 64x48 MP4, 6 fps" in proc.stdout
    frames, _meta = _mp4_frames(out)
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert all(np.any(frames[i] != frames[i + 1]) for i in range(5))
    # usage errors before loading: exit 2, one line
    for argv, words in (
        (["render", str(tmp_path / "none"), "-o", str(tmp_path / "o.avi"), "--orbit", "4"], "--orbit writes a movie: give -o OUT.mp4 or OUT.gif"),
        (["render", str(tmp_path / "none"), "-o", str(tmp_path / "o.mp4"), "--orbit", "4", "--fps", "0"], "--fps 0"),
    ):
        assert main(["-q", *argv]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1
