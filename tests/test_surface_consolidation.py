"""extract_surface's threshold choices, band surfaces on the data's own crossings, and where
the mesh checks and exceptions live (one home each, the old names re-exported).

The band phantoms are built here with numpy: spheres whose edges are partial-volume
averages (each voxel the mean of 4 x 4 x 4 sub-samples of a hard sphere), plus mild noise.
The reference for a band's surface is the single-threshold surface at the same limit, whose
vertices are, by construction, the linear interpolation of the data along each grid edge.
"""

from __future__ import annotations

import ast
import inspect
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app import errors, mesh, mesh_io, surface
from vtkdicom_app.bridge import mesh_to_arrays
from vtkdicom_app.errors import ModalityWarning
from vtkdicom_app.io import header
from vtkdicom_app.surface import DEFAULT_THRESHOLD, Threshold, extract_surface, mesh_report, otsu_threshold
from vtkdicom_app.volume import Volume

ROOT = Path(__file__).resolve().parents[1]
SUB = 4  # sub-samples per voxel and axis of the partial-volume phantoms


def _sphere_fraction(shape: tuple[int, int, int], centre: tuple[float, float, float], radius: float) -> np.ndarray:
    """Fraction of each voxel (unit cube around its index) inside a sphere, by SUB^3 sub-samples."""
    k = np.arange(shape[0], dtype=np.float64)[:, None, None]
    j = np.arange(shape[1], dtype=np.float64)[None, :, None]
    i = np.arange(shape[2], dtype=np.float64)[None, None, :]
    offsets = (np.arange(SUB) + 0.5) / SUB - 0.5
    inside = np.zeros(shape, np.float32)
    for a in offsets:
        dk2 = (k + a - centre[0]) ** 2
        for b in offsets:
            dj2 = (j + b - centre[1]) ** 2
            for c in offsets:
                inside += (dk2 + dj2 + (i + c - centre[2]) ** 2 < radius**2).astype(np.float32)
    return inside / np.float32(SUB**3)


def _noisy(values: np.ndarray, seed: int, sigma: float = 5.0) -> np.ndarray:
    return (values + np.random.default_rng(seed).normal(0.0, sigma, values.shape)).astype(np.float32)


def _sphere_volume(radius: float) -> float:
    return 4.0 / 3.0 * np.pi * radius**3


def _edge_keys(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a volume with identity geometry: each vertex's grid edge (floor of i, j, k and the
    axis that is not an integer), as one int64 key, and the vertex's coordinate along it."""
    base = np.floor(points)
    on_edge = points != base
    assert (on_edge.sum(axis=1) == 1).all(), "a vertex is not on exactly one grid edge"
    axis = np.argmax(on_edge, axis=1)
    b = base.astype(np.int64) + 1
    key = ((b[:, 0] * 4096 + b[:, 1]) * 4096 + b[:, 2]) * 3 + axis
    return key, points[np.arange(len(points)), axis]


def _matched_offsets(band: Any, reference: Any) -> np.ndarray:
    """Per vertex of ``reference``, how far (voxels, along its edge) the band's vertex on the
    same grid edge lies from it; every reference vertex must have one."""
    key_b, along_b = _edge_keys(mesh_to_arrays(band)[0])
    key_r, along_r = _edge_keys(mesh_to_arrays(reference)[0])
    order = np.argsort(key_b)
    pos = np.searchsorted(key_b, key_r, sorter=order)
    pos = np.minimum(pos, len(order) - 1)
    found = key_b[order[pos]] == key_r
    assert found.all(), f"{(~found).sum()} reference vertices have no band vertex on their edge"
    return along_b[order[pos]] - along_r


# ----------------------------------------------------------------------------- thresholds
@pytest.fixture(scope="module")
def nested_ct() -> Volume:
    """Air (-1000), a 40 HU ball of radius 20 and a 700 HU ball of radius 9 in it, CT."""
    shape = (52, 52, 52)
    centre = (25.6, 25.3, 25.8)
    body = _sphere_fraction(shape, centre, 20.0)
    bone = _sphere_fraction(shape, centre, 9.0)
    return Volume(_noisy(-1000.0 + 1040.0 * body + 660.0 * bone, seed=3), metadata={"Modality": "CT"})


def _plain(vol: Volume, threshold: float) -> Any:
    return extract_surface(vol, threshold=threshold, smooth=0, reduce=0.0)


def test_threshold_300_with_a_preset_is_honoured_like_any_number(nested_ct: Volume) -> None:
    for value in (300.0, 301.0, DEFAULT_THRESHOLD):
        m = extract_surface(nested_ct, preset="skin", threshold=value, smooth=0, reduce=0.0)
        fd = m.GetFieldData().GetArray("threshold")
        assert fd is not None and fd.GetValue(0) == value
        report = mesh_report(m)
        assert report.threshold == value
        # the geometry is the 300 (301) HU surface: the bone ball, not the skin
        reference = mesh_report(_plain(nested_ct, value))
        assert report.volume_mm3 == pytest.approx(reference.volume_mm3, rel=1e-9)
        assert report.volume_mm3 == pytest.approx(_sphere_volume(9.0), rel=0.05)
    v300 = mesh_report(extract_surface(nested_ct, preset="skin", threshold=300.0, smooth=0, reduce=0.0)).volume_mm3
    v301 = mesh_report(extract_surface(nested_ct, preset="skin", threshold=301.0, smooth=0, reduce=0.0)).volume_mm3
    assert v301 < v300  # one HU higher on a partial-volume edge: a little smaller, not the skin
    # with the preset's own smoothing and decimation the threshold is still the one given
    assert mesh_report(extract_surface(nested_ct, preset="skin", threshold=300.0)).threshold == 300.0


def test_omitted_threshold_takes_the_preset_or_the_default(nested_ct: Volume) -> None:
    skin = extract_surface(nested_ct, preset="skin", smooth=0, reduce=0.0)
    report = mesh_report(skin)
    assert report.threshold == -300.0
    assert report.volume_mm3 == pytest.approx(mesh_report(_plain(nested_ct, -300.0)).volume_mm3, rel=1e-9)
    assert report.volume_mm3 == pytest.approx(_sphere_volume(20.0), rel=0.05)
    plain = mesh_report(extract_surface(nested_ct, smooth=0))
    assert plain.threshold == DEFAULT_THRESHOLD == 300.0
    assert inspect.signature(extract_surface).parameters["threshold"].default is Threshold.NOT_GIVEN
    band = mesh_report(extract_surface(nested_ct, preset="soft-tissue", smooth=0))
    assert (band.threshold, band.upper) == (-100.0, 300.0)


@pytest.mark.parametrize("auto", ["auto", "AUTO", Threshold.AUTO, None], ids=["auto", "AUTO", "enum", "None"])
def test_auto_and_none_mean_otsu(nested_ct: Volume, auto: Any) -> None:
    otsu = otsu_threshold(nested_ct.array)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # on CT, Otsu asked for: no warning
        m = extract_surface(nested_ct, threshold=auto, smooth=0)
    assert mesh_report(m).threshold == pytest.approx(otsu)
    # None and "auto" mean Otsu also with a preset (the preset still sets the rest)
    assert mesh_report(extract_surface(nested_ct, preset="skin", threshold=auto, smooth=0, reduce=0.0)).threshold == pytest.approx(otsu)


@pytest.mark.parametrize("bad", ["300", "otsu", float("nan"), float("inf")])
def test_a_threshold_that_is_neither_a_number_nor_auto_is_refused(nested_ct: Volume, bad: Any) -> None:
    with pytest.raises(ValueError, match="threshold must be"):
        extract_surface(nested_ct, threshold=bad)


def test_mr_gets_otsu_only_when_nothing_is_given(nested_ct: Volume) -> None:
    mr = Volume(nested_ct.array + np.float32(1000.0), metadata={"Modality": "MR"})
    otsu = otsu_threshold(mr.array)
    for kw in (dict(), dict(preset="bone"), dict(preset="skin")):
        with pytest.warns(ModalityWarning, match="MR.*Otsu"):
            m = extract_surface(mr, smooth=0, reduce=0.0, **kw)  # type: ignore[arg-type]
        assert mesh_report(m).threshold == pytest.approx(otsu)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a number of the caller's own (300 included): used as given
        for value in (300.0, 301.0, 1300.0):
            assert mesh_report(extract_surface(mr, threshold=value, smooth=0)).threshold == value
        assert mesh_report(extract_surface(mr, threshold="auto", smooth=0)).threshold == pytest.approx(otsu)
        assert mesh_report(extract_surface(mr, preset="mr-auto", smooth=0)).threshold == pytest.approx(otsu)


# ----------------------------------------------------------------------------- bands
def test_band_above_a_bright_sphere_is_as_exact_as_its_single_threshold() -> None:
    """(a) 1200 HU sphere in 40 HU, band 620:1500: every crossing is at 620, as with 620 alone."""
    shape, centre, radius = (56, 56, 56), (27.6, 28.3, 27.9), 18.3
    vol = Volume(_noisy(40.0 + 1160.0 * _sphere_fraction(shape, centre, radius), seed=1), metadata={"Modality": "CT"})
    exact = _sphere_volume(radius)
    for smooth in (0, 15):
        single = mesh_report(extract_surface(vol, threshold=620.0, smooth=smooth))
        band_mesh = extract_surface(vol, threshold=620.0, upper=1500.0, smooth=smooth)
        band = mesh_report(band_mesh)
        assert band.printable and (band.threshold, band.upper) == (620.0, 1500.0)
        err, err_single = band.volume_mm3 / exact - 1, single.volume_mm3 / exact - 1
        vs_single = band.volume_mm3 / single.volume_mm3 - 1
        msg = f"smooth {smooth}: band {err:+.3%} of the analytic volume, single 620 {err_single:+.3%}, band vs single {vs_single:+.4%}"
        assert abs(err) < 0.005, msg
        assert abs(vs_single) < 1e-4, msg
        if smooth == 0:
            offsets = _matched_offsets(band_mesh, extract_surface(vol, threshold=620.0, smooth=0))
            assert np.abs(offsets).max() < 1e-4, f"{msg}; vertices up to {np.abs(offsets).max():.4f} voxel off the 620 crossing"


@pytest.fixture(scope="module")
def bone_in_tissue() -> tuple[Volume, tuple[float, float, float], float, float]:
    """(b) a 1000 HU sphere (radius 10.4) in a 40 HU ball (radius 26.1) in air (-1000)."""
    shape, centre = (64, 64, 64), (31.7, 32.2, 31.9)
    r_bone, r_ball = 10.4, 26.1
    values = -1000.0 + 1040.0 * _sphere_fraction(shape, centre, r_ball) + 960.0 * _sphere_fraction(shape, centre, r_bone)
    return Volume(_noisy(values, seed=2), metadata={"Modality": "CT"}), centre, r_bone, r_ball


def _radii(m: Any, centre: tuple[float, float, float]) -> np.ndarray:
    points = mesh_to_arrays(m)[0]
    return np.linalg.norm(points[:, ::-1] - np.asarray(centre), axis=1)  # (x, y, z) = (i, j, k)


def test_soft_tissue_band_puts_its_inner_boundary_on_the_300_crossing(bone_in_tissue: Any) -> None:
    """(b) band -100..300: tissue (40) is nearer -100 than 300, so min(v - lo, hi - v) placed
    the inner (300) boundary with the wrong term; now it lies on the 300 crossing."""
    vol, centre, r_bone, r_ball = bone_in_tissue
    band = extract_surface(vol, threshold=-100.0, upper=300.0, smooth=0)
    bone = extract_surface(vol, threshold=300.0, smooth=0)  # the data's own 300 crossing
    ball = extract_surface(vol, threshold=-100.0, smooth=0)  # and its -100 crossing
    r_band, r_ref = _radii(band, centre), _radii(bone, centre)
    inner = r_band < (r_bone + r_ball) / 2
    d_mean = float(r_band[inner].mean() - r_ref.mean())
    offsets = _matched_offsets(band, bone)
    msg = (
        f"inner boundary mean radius {r_band[inner].mean():.4f} vs the 300 crossing's {r_ref.mean():.4f} "
        f"({d_mean:+.4f} voxel; sphere {r_bone}), vertices up to {np.abs(offsets).max():.4f} voxel off"
    )
    assert inner.sum() == len(r_ref), msg
    assert abs(d_mean) < 0.005, msg  # a tenth of a voxel asked for; min(v - lo, hi - v) gave +0.048
    assert np.abs(offsets).max() < 1e-4, msg
    # the outer (-100) boundary as well: the shell is exactly the -100 solid minus the 300 one
    assert np.abs(_matched_offsets(band, ball)).max() < 1e-4
    v_band, v_ball, v_bone = (mesh_report(m).volume_mm3 for m in (band, ball, bone))
    shell_err = v_band / (v_ball - v_bone) - 1
    assert abs(shell_err) < 1e-5, f"shell volume {v_band:.1f} vs {v_ball - v_bone:.1f} mm3 ({shell_err:+.4%})"
    # the 300 crossing of a partial-volume edge lies outside the sphere (300 is below the middle
    # of 40..1000): by about (0.5 - 260/960) of a voxel along the axes
    assert r_bone < r_ref.mean() < r_bone + 0.5


def test_soft_tissue_band_with_gaussian_smoothing_uses_the_smoothed_values(bone_in_tissue: Any) -> None:
    vol, _centre, _r_bone, _r_ball = bone_in_tissue
    sigma = 1.2
    band = extract_surface(vol, threshold=-100.0, upper=300.0, smooth=0, gaussian_sigma_mm=sigma)
    bone = extract_surface(vol, threshold=300.0, smooth=0, gaussian_sigma_mm=sigma)
    ball = extract_surface(vol, threshold=-100.0, smooth=0, gaussian_sigma_mm=sigma)
    assert mesh_report(band).printable
    assert np.abs(_matched_offsets(band, bone)).max() < 1e-4
    assert np.abs(_matched_offsets(band, ball)).max() < 1e-4


def test_lung_preset_volume_is_right() -> None:
    """(c) a -850 HU lung (radius 14.3) inside a 40 HU body (radius 30.2) in air (-1000),
    preset lung (-1100..-400, inside the body): the -400 crossing, not the -1100 term."""
    shape, centre = (72, 72, 72), (35.5, 36.2, 35.8)
    r_body, r_lung = 30.2, 14.3
    body = _sphere_fraction(shape, centre, r_body)
    lung = _sphere_fraction(shape, centre, r_lung)
    noise = np.random.default_rng(4).normal(0.0, 5.0, shape).astype(np.float32)
    vol = Volume((-1000.0 + 1040.0 * body - 890.0 * lung + noise).astype(np.float32), metadata={"Modality": "CT"})
    # reference: the data's own -400 crossing around the lung (air around the body made tissue,
    # values negated so that "v <= -400" is a single threshold at 400)
    no_air = Volume(-(40.0 - 890.0 * lung + noise).astype(np.float32), metadata={"Modality": "CT"})
    exact = _sphere_volume(r_lung)
    for smooth in (0, 20):
        m = extract_surface(vol, preset="lung", smooth=smooth)
        report = mesh_report(m)
        reference = mesh_report(extract_surface(no_air, threshold=400.0, smooth=smooth))
        assert report.printable and report.components == 1
        err, vs_ref = report.volume_mm3 / exact - 1, report.volume_mm3 / reference.volume_mm3 - 1
        msg = f"smooth {smooth}: lung {err:+.3%} of the analytic volume, {vs_ref:+.4%} of the -400 crossing's"
        assert abs(err) < 0.005, msg
        assert abs(vs_ref) < 1e-4, msg


def test_band_vertices_are_in_lps_for_oblique_volumes() -> None:
    """The band is contoured in index space and moved to LPS by the volume's geometry: with
    an upper limit above every value it is the single-threshold surface, point for point."""
    shape, centre, radius = (40, 44, 48), (19.4, 21.7, 23.2), 12.5
    angle = np.deg2rad(25.0)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(0.3), -np.sin(0.3)], [0.0, np.sin(0.3), np.cos(0.3)]])
    vol = Volume(
        _noisy(40.0 + 1160.0 * _sphere_fraction(shape, centre, radius), seed=5),
        spacing=(0.7, 0.8, 1.5),
        origin=(-120.0, 35.0, 410.0),
        direction=rot @ tilt,
        metadata={"Modality": "CT"},
    )
    band = mesh_to_arrays(extract_surface(vol, threshold=620.0, upper=5000.0, smooth=0))[0]
    single = mesh_to_arrays(extract_surface(vol, threshold=620.0, smooth=0))[0]
    assert band.shape == single.shape
    nearest = np.concatenate([np.sqrt(((band[s : s + 500, None] - single[None]) ** 2).sum(-1)).min(axis=1) for s in range(0, len(band), 500)])
    assert nearest.max() < 1e-3  # mm: float32 rounding of coordinates of a few hundred mm


@pytest.mark.parametrize("reduce", [0.0, 0.5, 0.9])
def test_bands_stay_printable_through_smoothing_and_decimation(bone_in_tissue: Any, tmp_path: Path, reduce: float) -> None:
    vol, _centre, _r_bone, _r_ball = bone_in_tissue
    padded = Volume(vol.array.copy(), metadata={"Modality": "CT"}, padding_value=-2000)
    padded.array[:, :, :12] = -2000  # a PixelPaddingValue slab cutting the ball
    for v in (vol, padded):
        m = extract_surface(v, preset="soft-tissue", reduce=reduce)
        report = mesh_io.export_mesh(m, tmp_path / "band.stl")
        assert report.printable, report.problems


# ----------------------------------------------------------------------------- homes
def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_mesh_io_does_not_import_surface() -> None:
    assert "vtkdicom_app.surface" not in _imports_of(ROOT / "vtkdicom_app" / "mesh_io.py")
    assert "vtkdicom_app.surface" not in _imports_of(ROOT / "vtkdicom_app" / "mesh.py")


def test_moved_names_are_one_object_under_every_old_name() -> None:
    assert vda.MeshError is surface.MeshError is errors.MeshError is mesh_io.MeshError
    assert issubclass(errors.MeshError, errors.VtkDicomError)
    for name in ("MeshReport", "CoordinateSystem", "mesh_report"):
        assert getattr(vda, name) is getattr(surface, name) is getattr(mesh, name)
    assert mesh_io.CoordinateSystem is mesh.CoordinateSystem
    assert header.NotDicom is errors.NotDicom and header.NeedsPydicom is errors.NeedsPydicom
    # one usage error (exit 2) for every command: the CLI's name is the same class, the segment
    # and pacs commands' own classes are kinds of it
    from vtkdicom_app.cli import _common as cli_common
    from vtkdicom_app.net import cli as net_cli
    from vtkdicom_app.segmentation import commands as seg_commands

    assert cli_common.UsageError is errors.UsageError
    assert issubclass(seg_commands._Usage, errors.UsageError) and issubclass(net_cli._UsageError, errors.UsageError)
    # control-flow signals, not library errors: ``except VtkDicomError`` lets them through
    for cls in (errors.Cancelled, errors.UsageError, errors.NotDicom, errors.NeedsPydicom, errors.MosaicError):
        assert not issubclass(cls, errors.VtkDicomError)
