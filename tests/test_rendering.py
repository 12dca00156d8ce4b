"""Volume rendering, offscreen: orientation from every camera, both mappers, presets
against PNG baselines (with a tolerance), cropping/clipping, the render CLI."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import vtkdicom_app as vda
from vtkdicom_app.phantom import PhantomOrientation
from vtkdicom_app.rendering import MapperKind, View, VolumeScene, load_volume_presets, opengl_info

ROOT = Path(__file__).resolve().parents[1]
BASELINES = Path(__file__).resolve().parent / "baselines"
UPDATE = os.environ.get("VTKDICOM_APP_UPDATE_BASELINES") == "1"
SMALL: dict[str, Any] = dict(rows=48, columns=48, slices=40, pixel_spacing=(4.0, 4.0), slice_spacing=4.0)
SIZE = (96, 96)


@pytest.fixture(scope="module")
def volume(phantom_factory: Any) -> tuple[vda.Volume, Any]:
    ph = phantom_factory(**SMALL)
    return vda.load(ph.outdir), ph.spec


def _marker_pixels(rgb: np.ndarray) -> np.ndarray:
    """(row, col) of pixels only the 2000 HU marker reaches in the ct-mip preset."""
    return np.argwhere(rgb.min(axis=2) >= 250)


def test_mapper_choice_follows_the_opengl_renderer(volume: Any) -> None:
    vol, _ = volume
    scene = VolumeScene(vol, size=SIZE, show_orientation=False)
    info = opengl_info(scene.render_window)
    assert info["renderer"], "no OpenGL renderer string"
    expected = MapperKind.CPU if info["software"] else MapperKind.GPU
    assert scene.mapper_kind is expected
    has_gpu = bool(glob.glob("/dev/nvidia[0-9]*")) or bool(glob.glob("/dev/dri/renderD*"))
    if not has_gpu:  # this 2-core machine: Mesa llvmpipe, so the CPU ray caster
        assert info["software"] and scene.mapper_kind is MapperKind.CPU
    forced = VolumeScene(vol, size=SIZE, mapper="gpu", show_orientation=False)
    assert forced.mapper_kind is MapperKind.GPU


@pytest.mark.parametrize("mapper", [MapperKind.CPU, MapperKind.GPU], ids=["cpu", "gpu"])
@pytest.mark.parametrize("orientation", [PhantomOrientation.AXIAL, PhantomOrientation.OBLIQUE], ids=["axial", "oblique"])
def test_marker_is_on_the_patients_left_from_every_view(phantom_factory: Any, mapper: MapperKind, orientation: PhantomOrientation) -> None:
    ph = phantom_factory(**SMALL, orientation=orientation)
    vol = vda.load(ph.outdir)
    scene = VolumeScene(vol, preset="ct-mip", size=SIZE, mapper=mapper, show_outline=False, show_orientation=False)
    marker = np.asarray(ph.spec.marker_center)
    for view in View:
        scene.set_view(view)
        rgb = scene.to_array()
        pix = _marker_pixels(rgb)
        assert len(pix) > 0, f"marker not visible from {view.name}"
        row, col = pix.mean(axis=0)
        want_col, want_row = scene.world_to_pixel(marker)
        assert abs(col - want_col) < 6 and abs(row - want_row) < 6, (view.name, (col, row), (want_col, want_row))
        if view is View.ANTERIOR:  # facing the patient: their left is on our right
            assert col > SIZE[0] / 2
        if view in (View.POSTERIOR, View.SUPERIOR):
            assert col < SIZE[0] / 2
        if view is View.INFERIOR:
            assert col > SIZE[0] / 2


def _compare(rgb: np.ndarray, name: str) -> None:
    path = BASELINES / f"{name}.png"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"missing baseline {path.name}; run with VTKDICOM_APP_UPDATE_BASELINES=1 and look at it")
        Image.fromarray(rgb).save(path)
        return
    ref = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
    assert ref.shape == rgb.shape
    diff = np.abs(ref - rgb.astype(np.int16))
    # tolerance: software rasterisers may differ by a few levels at edges
    assert diff.mean() < 3.0 and np.percentile(diff, 99) < 60, (name, float(diff.mean()), float(np.percentile(diff, 99)))


@pytest.mark.parametrize("preset", sorted(load_volume_presets()))
def test_presets_against_baselines(volume: Any, preset: str) -> None:
    vol, _ = volume
    scene = VolumeScene(vol, preset=preset, size=SIZE, mapper="cpu")
    rgb = scene.to_array()
    assert rgb.max() > 0, f"{preset} renders nothing"
    _compare(rgb, f"preset_{preset}")


@pytest.mark.parametrize("view", list(View), ids=lambda v: v.name.lower())
def test_views_against_baselines(volume: Any, view: View) -> None:
    vol, _ = volume
    scene = VolumeScene(vol, preset="ct-bone", size=SIZE, mapper="cpu")
    scene.set_view(view)
    _compare(scene.to_array(), f"view_{view.name.lower()}")


def test_shift_and_opacity_scale_change_the_image(volume: Any) -> None:
    vol, _ = volume
    base = VolumeScene(vol, preset="ct-bone-skin", size=SIZE, mapper="cpu", show_outline=False, show_orientation=False).to_array()
    faint = VolumeScene(vol, preset="ct-bone-skin", size=SIZE, mapper="cpu", opacity_scale=0.2, show_outline=False, show_orientation=False).to_array()
    shifted = VolumeScene(vol, preset="ct-bone-skin", size=SIZE, mapper="cpu", shift=1500.0, show_outline=False, show_orientation=False).to_array()
    assert faint.astype(int).sum() < base.astype(int).sum()
    assert shifted.astype(int).sum() < base.astype(int).sum()  # shifted past everything but the marker


def test_clipping_plane_and_cropping(volume: Any) -> None:
    vol, spec = volume
    scene = VolumeScene(vol, preset="ct-mip", size=SIZE, mapper="cpu", show_outline=False, show_orientation=False)
    assert len(_marker_pixels(scene.to_array())) > 0
    scene.set_clipping_plane(origin=(0.0, 0.0, 0.0), normal=(-1.0, 0.0, 0.0))  # keep the patient's right half
    assert len(_marker_pixels(scene.to_array())) == 0
    scene.set_clipping_plane(origin=(0.0, 0.0, 0.0), normal=(1.0, 0.0, 0.0))  # keep the left half
    assert len(_marker_pixels(scene.to_array())) > 0
    scene.set_clipping_plane(None)
    i, j, k = np.round(vol.patient_to_index(spec.marker_center)).astype(int)
    scene.set_cropping((0, i - 5, 0, vol.dimensions[1] - 1, 0, vol.dimensions[2] - 1))  # columns right of the marker
    assert len(_marker_pixels(scene.to_array())) == 0
    scene.set_cropping(None)
    assert len(_marker_pixels(scene.to_array())) > 0


def test_interaction_lowers_sampling_then_restores(volume: Any) -> None:
    vol, _ = volume
    scene = VolumeScene(vol, size=(256, 256), mapper="cpu")
    scene.interactive(True)
    scene.render()
    moving = scene.render_window.GetDesiredUpdateRate()
    scene.interactive(False)
    scene.render()
    assert moving == 15.0 and scene.render_window.GetDesiredUpdateRate() < 0.01


def test_render_cli_png_and_orbit_gif(phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**SMALL)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    png = tmp_path / "r.png"
    proc = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "render", str(ph.outdir), "-o", str(png), "--preset", "ct-bone", "--view", "left", "--size", "120x80"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert Image.open(png).size == (120, 80)
    gif = tmp_path / "o.gif"
    proc = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "render", str(ph.outdir), "-o", str(gif), "--orbit", "6", "--size", "64x64", "--blend", "mip"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert Image.open(gif).n_frames == 6
