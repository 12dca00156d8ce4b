"""MPR on phantoms with known answers: the left marker on the image's right, the sphere's
cross-section a disc of the right radius on every plane and acquisition, oblique reslices
against the analytic model and against an independent numpy sampler (VTK must honour the
direction matrix), slabs, orientation letters, the cursor, window/level and the PNG views."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
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
    orientation_letters,
    reslice,
    step_along,
    window_level_from_header,
)
from vtkdicom_app.phantom import PhantomOrientation, phantom_values
from vtkdicom_app.volume import Volume

ROOT = Path(__file__).resolve().parents[1]
MED: dict[str, Any] = dict(rows=64, columns=64, slices=48, pixel_spacing=(3.0, 3.0), slice_spacing=3.0)
ACQUISITIONS = {
    "axial": dict(),
    "sagittal": dict(orientation=PhantomOrientation.SAGITTAL),
    "oblique": dict(orientation=PhantomOrientation.OBLIQUE),
    "feet-first": dict(feet_first=True),
}
OBLIQUE_NORMAL = (0.4, -0.3, 0.87)


def _load(phantom_factory: Any, **opts: Any) -> tuple[Volume, Any]:
    ph = phantom_factory(**{**MED, **opts})
    return vda.load(ph.outdir), ph.spec


# ----------------------------------------------------------------------------- left/right
@pytest.mark.parametrize("acq", list(ACQUISITIONS))
def test_marker_is_on_the_images_right_in_axial_and_coronal(phantom_factory: Any, acq: str) -> None:
    vol, spec = _load(phantom_factory, **ACQUISITIONS[acq])
    for plane in (Plane.AXIAL, Plane.CORONAL):
        s = reslice(vol, plane, point=spec.marker_center, interpolation="nearest")
        rows, cols = np.nonzero(s.array == spec.marker_hu)
        assert len(cols) > 0, plane
        assert cols.min() > s.shape[1] / 2, f"{plane.name}: the patient's left must be on the image's right"
        assert s.orientation_letters()["right"] == "L"
        # and the pixel-to-patient mapping puts those pixels inside the marker box
        pts = s.pixel_to_patient(rows, cols)
        half = np.asarray(spec.marker_half_size) + max(vol.spacing)
        assert np.all(np.abs(pts - np.asarray(spec.marker_center)) <= half)


# ----------------------------------------------------------------------------- sphere discs
@pytest.mark.parametrize("acq", list(ACQUISITIONS))
@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal", "oblique"])
def test_sphere_cross_section_is_a_disc_of_the_right_radius(phantom_factory: Any, acq: str, plane: str) -> None:
    vol, spec = _load(phantom_factory, **ACQUISITIONS[acq])
    kw: dict[str, Any] = dict(point=spec.sphere_center, interpolation="nearest", pixel_size=1.0)
    if plane == "oblique":
        kw["normal"] = OBLIQUE_NORMAL
    s = reslice(vol, plane, **kw)
    inside = s.array == spec.sphere_hu
    radius = np.sqrt(inside.sum() * s.pixel_size[0] * s.pixel_size[1] / np.pi)
    # within one voxel (3 mm): in fact within half of one
    assert radius == pytest.approx(spec.sphere_radius, abs=max(vol.spacing) * 0.5)
    rows, cols = np.nonzero(inside)
    centre = s.pixel_to_patient(rows.mean(), cols.mean())
    np.testing.assert_allclose(centre, spec.sphere_center, atol=max(vol.spacing) / 2)
    # a disc, not an ellipse or a ring: its extent matches along rows and columns
    assert abs(np.ptp(rows) - np.ptp(cols)) <= max(vol.spacing) / s.pixel_size[0] + 1


# ----------------------------------------------------------------------------- oblique truth
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
    # the sphere is in it: the comparison is not only air and body
    assert (s.array == spec.sphere_hu).sum() > 100


@pytest.mark.parametrize("acq", ["oblique", "sagittal"])
def test_vtk_honours_the_direction_matrix(phantom_factory: Any, acq: str) -> None:
    """vtkImageReslice fed vol.to_vtk() (direction included) equals an independent numpy
    nearest-neighbour sampler in patient space; a reslice that dropped the direction fails."""
    vol, spec = _load(phantom_factory, **ACQUISITIONS[acq])
    assert not np.allclose(vol.direction, np.eye(3))
    s = reslice(vol, "oblique", point=spec.sphere_center, normal=(-0.3, 0.6, 0.75), interpolation="nearest", pixel_size=2.0)
    rows, cols = np.mgrid[0 : s.shape[0], 0 : s.shape[1]]
    ijk = vol.patient_to_index(s.pixel_to_patient(rows, cols).reshape(-1, 3))
    idx = np.rint(ijk).astype(int)
    inside = np.all((idx >= 0) & (idx < np.asarray(vol.dimensions)), axis=1)
    frac = np.abs(ijk - np.rint(ijk))
    clear = inside & np.all(frac < 0.45, axis=1)  # no rounding ties between the two samplers
    expected = vol.array[idx[clear, 2], idx[clear, 1], idx[clear, 0]]
    got = s.array.reshape(-1)[clear]
    assert clear.sum() > 500
    assert np.mean(got == expected) > 0.995
    # outside the volume: the background is the volume's minimum
    assert np.all(s.array.reshape(-1)[~inside & np.all(np.abs(ijk - np.clip(ijk, 0, np.asarray(vol.dimensions) - 1)) > 1, axis=1)] == vol.array.min())


# ----------------------------------------------------------------------------- geometry of the grid
@pytest.mark.parametrize(
    "plane, normal, axis",
    [(Plane.AXIAL, (0, 0, 1), 2), (Plane.CORONAL, (0, 1, 0), 1), (Plane.SAGITTAL, (1, 0, 0), 0)],
)
def test_position_and_normal_are_in_patient_space(phantom_factory: Any, plane: Plane, normal: tuple[int, ...], axis: int) -> None:
    vol, spec = _load(phantom_factory, orientation=PhantomOrientation.OBLIQUE)
    s = reslice(vol, plane, position=spec.sphere_center[axis])
    np.testing.assert_allclose(s.normal, normal)
    assert s.position == pytest.approx(spec.sphere_center[axis])
    corners = s.pixel_to_patient(np.array([0, 0, s.shape[0] - 1]), np.array([0, s.shape[1] - 1, 0]))
    np.testing.assert_allclose(corners[:, axis], spec.sphere_center[axis], atol=1e-9)
    _, _, dist = s.patient_to_pixel(spec.sphere_center)
    assert abs(float(dist)) < 1e-9
    # the default grid covers the volume's footprint on the plane: the whole sphere is in it
    row, col, _ = s.patient_to_pixel(spec.sphere_center)
    r_px = spec.sphere_radius / s.pixel_size[0]
    assert r_px < row < s.shape[0] - r_px and r_px < col < s.shape[1] - r_px


def test_pixels_are_square_and_the_image_carries_the_geometry(phantom_factory: Any) -> None:
    vol, spec = _load(phantom_factory, pixel_spacing=(2.0, 3.5))  # anisotropic pixels in the files
    s = reslice(vol, "coronal", position=spec.sphere_center[1])
    assert s.pixel_size[0] == s.pixel_size[1] == min(vol.spacing) == 2.0
    assert s.array.dtype == np.float32  # linear interpolation of int16
    assert reslice(vol, "coronal", interpolation="nearest").array.dtype == vol.array.dtype
    image = s.image
    assert image.GetDimensions() == (s.shape[1], s.shape[0], 1)
    np.testing.assert_allclose(image.GetSpacing()[:2], s.pixel_size)
    from vtkmodules.util.numpy_support import vtk_to_numpy

    np.testing.assert_array_equal(vtk_to_numpy(image.GetPointData().GetScalars()).reshape(s.shape), s.array)
    ij = (7, 3)  # VTK (i, j) = (col, row)
    physical = [0.0, 0.0, 0.0]
    image.TransformContinuousIndexToPhysicalPoint(ij[0], ij[1], 0, physical)
    np.testing.assert_allclose(physical, s.pixel_to_patient(ij[1], ij[0]), atol=1e-9)
    sized = reslice(vol, "coronal", pixel_size=1.25, size=(40, 30))
    assert sized.shape == (30, 40) and sized.pixel_size == (1.25, 1.25)


def test_oblique_axes_follow_the_nearest_plane_whatever_the_normals_sign(phantom_factory: Any) -> None:
    vol, spec = _load(phantom_factory)
    a = reslice(vol, "oblique", point=spec.sphere_center, normal=OBLIQUE_NORMAL, interpolation="nearest")
    b = reslice(vol, "oblique", point=spec.sphere_center, normal=-np.asarray(OBLIQUE_NORMAL), interpolation="nearest")
    np.testing.assert_allclose(a.axes[:, :2], b.axes[:, :2])
    np.testing.assert_allclose(a.normal, -b.normal)
    np.testing.assert_array_equal(a.array, b.array)  # never mirrored
    np.testing.assert_allclose(a.axes.T @ a.axes, np.eye(3), atol=1e-12)
    assert a.axes[0, 0] > 0.9 and a.axes[1, 1] > 0.9  # like axial: columns +x, rows +y
    sag = reslice(vol, "oblique", normal=(1.0, 0.1, 0.2))
    assert sag.axes[1, 0] > 0.9 and sag.axes[2, 1] < -0.9  # like sagittal: columns +y, rows -z


def test_bad_arguments_raise(phantom_factory: Any) -> None:
    vol, _ = _load(phantom_factory)
    with pytest.raises(ValueError, match="normal"):
        reslice(vol, "oblique")
    with pytest.raises(ValueError, match="OBLIQUE"):
        reslice(vol, "axial", normal=(0, 0, 1))
    with pytest.raises(ValueError, match="Plane"):
        reslice(vol, "transverse")
    with pytest.raises(ValueError, match="zero"):
        reslice(vol, Plane.OBLIQUE, normal=(0, 0, 0))
    with pytest.raises(ValueError, match="pixel_size"):
        reslice(vol, pixel_size=0)


# ----------------------------------------------------------------------------- letters
def test_orientation_letters_of_each_plane(phantom_factory: Any) -> None:
    vol, _ = _load(phantom_factory, orientation=PhantomOrientation.SAGITTAL)
    expected = {
        Plane.AXIAL: {"left": "R", "right": "L", "top": "A", "bottom": "P"},
        Plane.CORONAL: {"left": "R", "right": "L", "top": "S", "bottom": "I"},
        Plane.SAGITTAL: {"left": "A", "right": "P", "top": "S", "bottom": "I"},
    }
    for plane, letters in expected.items():
        assert reslice(vol, plane).orientation_letters() == letters, plane
    tilted = reslice(vol, "oblique", normal=(0.0, -0.5, 1.0))  # an axial plane tilted about x
    assert tilted.orientation_letters() == {"left": "R", "right": "L", "top": "AI", "bottom": "PS"}
    assert orientation_letters((0.8, -0.6, 0.0)) == "LA"
    assert orientation_letters((0.0, 0.0, -1.0)) == "I"


# ----------------------------------------------------------------------------- slabs
def test_slab_mip_sees_a_marker_beside_the_plane(phantom_factory: Any) -> None:
    vol, spec = _load(phantom_factory)
    top = spec.marker_center[2] + spec.marker_half_size[2]
    beside = top + 4.0  # 4 mm above the marker
    kw: dict[str, Any] = dict(position=beside, interpolation="nearest")
    thin = reslice(vol, "axial", **kw)
    slab = reslice(vol, "axial", slab_mm=10.0, slab_mode=SlabMode.MIP, **kw)
    assert thin.array.max() < spec.marker_hu - 100
    assert slab.array.max() == spec.marker_hu
    assert slab.slab_mm == 10.0 and slab.slab_mode is SlabMode.MIP
    rows, cols = np.nonzero(slab.array == spec.marker_hu)
    pts = slab.pixel_to_patient(rows, cols)
    assert np.all(pts[:, 0] > 0) and cols.min() > slab.shape[1] / 2  # on the left: the image's right
    # the slab is 10 mm, not more: 6 mm above the marker it sees nothing of it
    far = reslice(vol, "axial", position=top + 6.0, slab_mm=10.0, slab_mode="mip", interpolation="nearest")
    assert far.array.max() < spec.marker_hu - 100
    mean = reslice(vol, "axial", position=beside, slab_mm=20.0, slab_mode="mean")
    minip = reslice(vol, "axial", position=beside, slab_mm=20.0, slab_mode="minip")
    assert thin.array.max() < mean.array.max() < spec.marker_hu
    assert minip.array.max() <= thin.array.max()
    # linear MIP also shows it (partially: 1 mm into a 3 mm voxel grid)
    assert reslice(vol, "axial", position=beside, slab_mm=10.0, slab_mode="mip").array.max() > 1000


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
    assert cubic.min() < linear.min() or cubic.max() > linear.max()  # cubic overshoots at edges


# ----------------------------------------------------------------------------- cursor
def test_cursor_links_planes_and_steps_by_true_spacing(phantom_factory: Any) -> None:
    vol, spec = _load(phantom_factory, pixel_spacing=(2.0, 2.5), slice_spacing=5.0)  # di 2.5, dj 2, dk 5
    cursor = MprCursor(vol)
    start = cursor.point.copy()
    cursor.step("axial", 2)
    np.testing.assert_allclose(cursor.point - start, (0, 0, 10.0))
    cursor.step(Plane.CORONAL, -1)
    np.testing.assert_allclose(cursor.point - start, (0, -2.0, 10.0))
    cursor.step(Plane.SAGITTAL, 1)
    np.testing.assert_allclose(cursor.point - start, (2.5, -2.0, 10.0))
    assert step_along(vol, (0, 0, 1)) == pytest.approx(5.0)
    cursor.set_point(spec.marker_center)
    slices = cursor.slices()
    assert set(slices) == {Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL}
    for plane, s in slices.items():
        row, col, dist = s.patient_to_pixel(spec.marker_center)
        assert abs(float(dist)) < 1e-6, plane
        assert s.array[int(round(float(row))), int(round(float(col)))] == pytest.approx(spec.marker_hu), plane
    assert cursor.position(Plane.SAGITTAL) == pytest.approx(spec.marker_center[0])
    assert (cursor.window, cursor.level) == (400.0, 40.0)  # from the header
    cursor.apply_preset("lung")
    assert (cursor.window, cursor.level) == (1500.0, -600.0)
    with pytest.raises(ValueError):
        cursor.apply_preset("no-such-preset")
    cursor.zoom_by(2.0)
    cursor.pan_by(5.0, -3.0)
    assert cursor.zoom == 2.0 and cursor.pan == (5.0, -3.0)
    cursor.reset_view()
    assert cursor.zoom == 1.0 and cursor.pan == (0.0, 0.0)


def test_cursor_steps_along_a_sagittal_acquisitions_slices(phantom_factory: Any) -> None:
    vol, _ = _load(phantom_factory, orientation=PhantomOrientation.SAGITTAL, pixel_spacing=(2.0, 2.5), slice_spacing=4.0)
    cursor = MprCursor(vol)
    start = cursor.point.copy()
    cursor.step("sagittal", 1)  # +x: the slice normal of a sagittal stack
    cursor.step("axial", 1)  # +z: the DICOM column direction, row spacing 2.0
    cursor.step("coronal", 1)  # +y: the DICOM row direction, column spacing 2.5
    np.testing.assert_allclose(cursor.point - start, (4.0, 2.5, 2.0))


def test_cursor_display_inverts_monochrome1(phantom_factory: Any) -> None:
    vol, _ = _load(phantom_factory)
    mono1 = Volume(vol.array, spacing=vol.spacing, origin=vol.origin, direction=vol.direction, metadata=dict(vol.metadata), invert_display=True)
    s = MprCursor(vol).slice("axial")
    normal = MprCursor(vol).display(s)
    inverted = MprCursor(mono1).display(s)
    np.testing.assert_array_equal(inverted, 255 - normal)
    assert mono1.array is vol.array  # values unchanged


# ----------------------------------------------------------------------------- window/level
def test_window_level_sources_and_inversion(phantom_factory: Any) -> None:
    vol, _ = _load(phantom_factory)
    presets = load_wl_presets()
    for name in ("brain", "subdural", "stroke", "bone", "lung", "mediastinum", "abdomen", "liver", "soft-tissue"):
        assert name in presets and presets[name].window > 0
    assert (presets["brain"].window, presets["brain"].level) == (80.0, 40.0)
    raw = json.loads(resources.files("vtkdicom_app").joinpath("data/wl_presets.json").read_text(encoding="utf-8"))
    items = raw["presets"] if isinstance(raw, dict) else raw  # a bare list, or the presets envelope
    assert isinstance(items, list) and all({"name", "window", "level"} <= set(item) for item in items)
    header = window_level_from_header(vol)
    assert header is not None and (header.window, header.level) == (400.0, 40.0)
    assert window_level_from_header(Volume(vol.array, metadata={"WindowWidth": [350, 1500], "WindowCenter": [50, -600]})).window == 350.0
    assert window_level_from_header(Volume(vol.array)) is None
    padded = Volume(vol.array, spacing=vol.spacing, padding_value=-1000.0)
    auto = auto_window_level(padded)
    assert auto.low > -1000  # padding excluded from the automatic window
    assert auto_window_level(Volume(vol.array)).low == -1000.0  # ...and only then
    grey = apply_window(np.array([-200.0, 40.0, 240.0, -5000.0, 5000.0]), 400, 40)
    assert grey.tolist() == [0, 127, 255, 0, 255]
    assert grey.dtype == np.uint8
    assert apply_window(np.array([-200.0, 240.0]), 400, 40, invert=True).tolist() == [255, 0]


def test_window_level_lives_in_display_and_mpr_re_exports_it() -> None:
    from vtkdicom_app import display, mpr

    for name in ("WindowLevel", "load_wl_presets", "window_level_from_header", "auto_window_level", "apply_window", "to_display"):
        assert getattr(mpr, name) is getattr(display, name), name
        assert name in mpr.__all__ and name in display.__all__
    with pytest.raises(ValueError, match="positive"):
        display.WindowLevel(0.0, 40.0)
    with pytest.raises(ValueError, match="finite"):
        display.WindowLevel(400.0, float("nan"))
    # the viewer's gesture rules, in one place
    assert display.drag_window_level(display.WindowLevel(400.0, 40.0), 10, -5) == display.WindowLevel(440.0, 30.0)
    assert display.drag_window_level(display.WindowLevel(400.0, 40.0), -1000, 0).window == 1.0
    assert display.drag_window_level(display.WindowLevel(0.5, 0.0), 0, 0).window == 0.5  # a narrow window is not widened
    assert (display.clamp_zoom(100.0), display.clamp_zoom(0.01), display.clamp_zoom(3.0)) == (20.0, 0.2, 3.0)
    assert display.clamp_pan((50.0, -50.0), 10.0) == (10.0, -10.0) and display.clamp_pan((50.0, -50.0)) == (50.0, -50.0)


def test_mpr_cursor_follows_the_viewers_rules(phantom_factory: Any) -> None:
    """MprCursor is kept for scripts; its zoom, drag and step rules are the viewer state's."""
    from vtkdicom_app.mpr import position_range, step_point

    vol, _ = _load(phantom_factory)
    cursor = MprCursor(vol)
    cursor.zoom_by(100.0)
    assert cursor.zoom == 20.0
    cursor.reset_view()
    cursor.zoom_steps(2)
    assert cursor.zoom == pytest.approx(1.44)
    cursor.drag_window(-10_000.0, 5.0)
    assert (cursor.window, cursor.level) == (1.0, 45.0)
    lo, hi = position_range(vol, Plane.AXIAL)
    assert hi - lo == pytest.approx((MED["slices"] - 1) * MED["slice_spacing"])  # first to last slice centre
    assert (lo + hi) / 2 == pytest.approx(cursor.point[2])  # the cursor starts at the centre
    top = step_point(vol, cursor.point, Plane.AXIAL, 1000, clamp=True)
    assert top[2] == pytest.approx(hi)
    np.testing.assert_allclose(cursor.step(Plane.AXIAL, 2), step_point(vol, cursor.point - (0, 0, 6.0), "axial", 2))


# ----------------------------------------------------------------------------- PNG and CLI (rendering/, cli.py)
def test_png_views_show_the_marker_on_the_right(phantom_factory: Any, tmp_path: Path) -> None:
    from vtkdicom_app.rendering.slice_view import contact_sheet, render_slice

    vol, spec = _load(phantom_factory)
    for plane in (Plane.AXIAL, Plane.CORONAL):
        s = reslice(vol, plane, point=spec.marker_center)
        rgb = render_slice(s, tmp_path / f"{plane.value}.png", window=400, level=40)
        png = np.asarray(Image.open(tmp_path / f"{plane.value}.png").convert("RGB"))
        assert np.array_equal(png, rgb)
        white = np.argwhere((png[:, :, 0] > 250) & (png[:, :, 1] > 250) & (png[:, :, 2] > 250))
        # the brightest object in these slices is the marker (2000 HU), on the right half
        assert len(white) > 0 and white[:, 1].mean() > png.shape[1] / 2
    slices = [reslice(vol, p, point=spec.marker_center) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)]
    sheet = contact_sheet(slices, tmp_path / "sheet.png", window=400, level=40, tile=128)
    assert sheet.shape == (128, 384, 3)


def test_mpr_cli(phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**MED)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for extra in (["--plane", "coronal", "--position", "0"], ["--plane", "all"], ["--plane", "oblique", "--normal", "0,0.3,1", "--slab", "mip:10"]):
        out = tmp_path / f"{extra[1]}.png"
        cmd = [sys.executable, "-m", "vtkdicom_app", "mpr", str(ph.outdir), "-o", str(out), *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, proc.stderr
        assert Image.open(out).size[0] > 50
    cmd = [sys.executable, "-m", "vtkdicom_app", "mpr", str(ph.outdir), "-o", str(tmp_path / "x.png"), "--slab", "max:3"]
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert bad.returncode == 2


def test_single_slice_shows_its_own_plane_and_refuses_the_others() -> None:
    """A scout or projection image: its plane is shown as stored; other planes are refused."""
    from vtkdicom_app.errors import SingleSliceError
    from vtkdicom_app.mpr import Interpolation, reslice
    from vtkdicom_app.volume import Volume

    arr = np.arange(20 * 30, dtype=np.int16).reshape(1, 20, 30)
    vol = Volume(arr, spacing=(1.0, 1.0, 1.0), origin=(-14.5, -9.5, 7.0))
    s = reslice(vol, "axial", interpolation=Interpolation.NEAREST)
    assert s.array.shape == (20, 30)
    np.testing.assert_array_equal(s.array, arr[0])
    for plane in ("coronal", "sagittal"):
        with pytest.raises(SingleSliceError, match=f"no {plane} view.*own plane \\(axial\\)"):
            reslice(vol, plane)
