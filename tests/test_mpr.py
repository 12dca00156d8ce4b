"""MPR on phantoms with known answers: the left marker on the image's right, the sphere's
cross-section a disc of the right radius on every plane and acquisition, oblique reslices
against the analytic model, slabs, the cursor, window/level and the PNG views."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import vtkdicom_app as vda
from vtkdicom_app.mpr import (
    Interpolation,
    MprCursor,
    Plane,
    SlabMode,
    apply_window,
    auto_window_level,
    load_wl_presets,
    reslice,
    step_along,
    window_level_from_header,
)
from vtkdicom_app.phantom import PhantomOrientation, phantom_values
from vtkdicom_app.rendering.slice_view import contact_sheet, render_slice
from vtkdicom_app.volume import Volume

ROOT = Path(__file__).resolve().parents[1]
MED: dict[str, Any] = dict(rows=64, columns=64, slices=48, pixel_spacing=(3.0, 3.0), slice_spacing=3.0)
ACQUISITIONS = {
    "axial": dict(),
    "sagittal": dict(orientation=PhantomOrientation.SAGITTAL),
    "oblique": dict(orientation=PhantomOrientation.OBLIQUE),
    "feet-first": dict(feet_first=True),
}


def _load(phantom_factory: Any, **opts: Any) -> tuple[Volume, Any]:
    ph = phantom_factory(**{**MED, **opts})
    return vda.load(ph.outdir), ph.spec


@pytest.mark.parametrize("acq", list(ACQUISITIONS))
def test_marker_is_on_the_images_right_in_axial_and_coronal(phantom_factory: Any, acq: str) -> None:
    vol, spec = _load(phantom_factory, **ACQUISITIONS[acq])
    for plane in (Plane.AXIAL, Plane.CORONAL):
        s = reslice(vol, plane, point=spec.marker_center, interpolation="nearest")
        rows, cols = np.nonzero(s.array == spec.marker_hu)
        assert len(cols) > 0, plane
        assert cols.mean() > s.shape[1] / 2, f"{plane.name}: the patient's left must be on the image's right"
        assert s.orientation_letters()["right"] == "L"
        # and the pixel-to-patient mapping puts those pixels on +x
        assert np.all(s.pixel_to_patient(rows, cols)[:, 0] > 0)


@pytest.mark.parametrize("acq", list(ACQUISITIONS))
@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal", "oblique"])
def test_sphere_cross_section_is_a_disc_of_the_right_radius(phantom_factory: Any, acq: str, plane: str) -> None:
    vol, spec = _load(phantom_factory, **ACQUISITIONS[acq])
    kw: dict[str, Any] = dict(point=spec.sphere_center, interpolation="nearest", pixel_size=1.0)
    if plane == "oblique":
        kw["normal"] = (0.4, -0.3, 0.87)
    s = reslice(vol, plane, **kw)
    inside = s.array == spec.sphere_hu
    radius = np.sqrt(inside.sum() * s.pixel_size[0] * s.pixel_size[1] / np.pi)
    assert radius == pytest.approx(spec.sphere_radius, abs=max(vol.spacing) * 0.5)
    rows, cols = np.nonzero(inside)
    centre = s.pixel_to_patient(rows.mean(), cols.mean())
    np.testing.assert_allclose(centre, spec.sphere_center, atol=max(vol.spacing))


def test_oblique_reslice_equals_the_analytic_model(phantom_factory: Any) -> None:
    vol, spec = _load(phantom_factory, orientation=PhantomOrientation.OBLIQUE)
    s = reslice(vol, "oblique", point=spec.sphere_center, normal=(0.2, 0.5, 0.84), interpolation="nearest")
    rows, cols = np.mgrid[0 : s.shape[0], 0 : s.shape[1]]
    points = s.pixel_to_patient(rows, cols)
    ijk = vol.patient_to_index(points.reshape(-1, 3)).reshape(points.shape)
    within = np.all((ijk > 0.5) & (ijk < np.asarray(vol.dimensions) - 1.5), axis=-1)
    truth = np.clip(phantom_values(points, spec), -1024, 3071)
    agree = np.abs(s.array - truth) < 1
    assert within.sum() > 1000
    assert agree[within].mean() >= 0.97


def test_pixels_are_square_and_positions_follow_the_plane(phantom_factory: Any) -> None:
    vol, spec = _load(phantom_factory, pixel_spacing=(2.0, 3.5))  # anisotropic pixels in the files
    s = reslice(vol, "coronal", position=spec.sphere_center[1])
    assert s.pixel_size[0] == s.pixel_size[1] == min(vol.spacing)
    assert s.position == pytest.approx(spec.sphere_center[1])
    assert np.allclose(s.pixel_to_patient(0, 0)[1], spec.sphere_center[1])


def test_slab_mip_sees_a_marker_beside_the_plane(phantom_factory: Any) -> None:
    vol, spec = _load(phantom_factory)
    beside = spec.marker_center[2] + spec.marker_half_size[2] + 4.0  # 4 mm above the marker
    thin = reslice(vol, "axial", position=beside)
    slab = reslice(vol, "axial", position=beside, slab_mm=20.0, slab_mode=SlabMode.MIP)
    mean = reslice(vol, "axial", position=beside, slab_mm=20.0, slab_mode="mean")
    minip = reslice(vol, "axial", position=beside, slab_mm=20.0, slab_mode="minip")
    assert thin.array.max() < spec.marker_hu - 100
    assert slab.array.max() >= spec.marker_hu - 1
    assert thin.array.max() < mean.array.max() < slab.array.max()
    assert minip.array.max() <= thin.array.max()


def test_interpolation_modes(phantom_factory: Any) -> None:
    vol, spec = _load(phantom_factory)
    kw = dict(point=spec.sphere_center, normal=(0.3, 0.3, 0.9), pixel_size=0.7)
    nearest = reslice(vol, "oblique", interpolation=Interpolation.NEAREST, **kw).array
    linear = reslice(vol, "oblique", interpolation="linear", **kw).array
    cubic = reslice(vol, "oblique", interpolation="cubic", **kw).array
    values = set(np.unique(nearest).tolist())
    assert values <= {-1000, -800, 40, 400, 1000, 2000, -1024}
    assert len(np.unique(linear)) > len(values)  # interpolated edges
    assert not np.array_equal(linear, cubic)


def test_cursor_links_planes_and_steps_by_true_spacing(phantom_factory: Any) -> None:
    vol, spec = _load(phantom_factory, pixel_spacing=(2.0, 2.0), slice_spacing=5.0)
    cursor = MprCursor(vol)
    start = cursor.point.copy()
    cursor.step("axial", 2)
    np.testing.assert_allclose(cursor.point - start, (0, 0, 10.0))
    cursor.step(Plane.CORONAL, -1)
    np.testing.assert_allclose(cursor.point - start, (0, -2.0, 10.0))
    cursor.set_point(spec.marker_center)
    slices = cursor.slices()
    for plane, s in slices.items():
        row, col, dist = s.patient_to_pixel(spec.marker_center)
        assert abs(dist) < 1e-6, plane
        assert s.array[int(round(float(row))), int(round(float(col)))] == spec.marker_hu
    assert step_along(vol, (0, 0, 1)) == pytest.approx(5.0)
    assert (cursor.window, cursor.level) == (400.0, 40.0)  # from the header
    cursor.apply_preset("lung")
    assert (cursor.window, cursor.level) == (1500.0, -600.0)


def test_window_level_sources_and_inversion(phantom_factory: Any) -> None:
    vol, _ = _load(phantom_factory)
    presets = load_wl_presets()
    for name in ("brain", "subdural", "stroke", "bone", "lung", "mediastinum", "abdomen", "liver", "soft-tissue"):
        assert name in presets
    assert window_level_from_header(vol).window == 400.0
    padded = Volume(vol.array, spacing=vol.spacing, metadata={"PixelPaddingValue": -1000.0})
    auto = auto_window_level(padded)
    assert auto.low > -1000  # padding excluded from the automatic window
    grey = apply_window(np.array([-200.0, 40.0, 240.0]), 400, 40)
    assert grey.tolist() == [0, 127, 255]
    assert apply_window(np.array([-200.0, 240.0]), 400, 40, invert=True).tolist() == [255, 0]


def test_png_views_show_the_marker_on_the_right(phantom_factory: Any, tmp_path: Path) -> None:
    vol, spec = _load(phantom_factory)
    for plane in (Plane.AXIAL, Plane.CORONAL):
        s = reslice(vol, plane, point=spec.marker_center)
        rgb = render_slice(s, tmp_path / f"{plane.value}.png", window=400, level=40)
        png = np.asarray(Image.open(tmp_path / f"{plane.value}.png").convert("RGB"))
        assert np.array_equal(png, rgb)
        white = np.argwhere((png[:, :, 0] > 250) & (png[:, :, 1] > 250) & (png[:, :, 2] > 250))
        # the brightest object in these slices is the marker (2000 HU), on the right half
        assert len(white) > 0 and white[:, 1].mean() > png.shape[1] / 2
    sheet = contact_sheet([reslice(vol, p, point=spec.marker_center) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)], tmp_path / "sheet.png", window=400, level=40, tile=128)
    assert sheet.shape == (128, 384, 3)


def test_mpr_cli(phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**MED)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for extra in (["--plane", "coronal", "--position", "0"], ["--plane", "all"], ["--plane", "oblique", "--normal", "0,0.3,1", "--slab", "mip:10"]):
        out = tmp_path / f"{extra[1]}.png"
        proc = subprocess.run([sys.executable, "-m", "vtkdicom_app", "mpr", str(ph.outdir), "-o", str(out), *extra], capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, proc.stderr
        assert Image.open(out).size[0] > 50
    bad = subprocess.run([sys.executable, "-m", "vtkdicom_app", "mpr", str(ph.outdir), "-o", str(tmp_path / "x.png"), "--slab", "max:3"], capture_output=True, text=True, timeout=60, env=env)
    assert bad.returncode == 2
