"""``--crop x0,y0,z0,x1,y1,z1`` (LPS mm) and ``--downsample N`` on the commands that load a
volume (issue 16), through the real command line on a phantom: the written volume's shape,
origin and spacing follow the crop and stride, checked with SimpleITK; bad values are usage
errors (exit 2, one line) before anything is loaded."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.cli import main
from vtkdicom_app.phantom import write_phantom

MISSING = "no-such-study"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return write_phantom(tmp_path_factory.mktemp("cli_crop"), rows=48, columns=40, slices=24, feet_first=True)


def _quiet_load(*args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vda.load(*args, **kwargs)


def _centres_box(full: Any, lo_ijk: tuple[int, int, int], hi_ijk: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The LPS box spanned by two voxel centres of ``full``: it selects exactly those index ranges."""
    a, b = full.index_to_patient(lo_ijk), full.index_to_patient(hi_ijk)
    return np.minimum(a, b), np.maximum(a, b)


def _crop_arg(lo: np.ndarray, hi: np.ndarray) -> str:
    """``x0,...,z1``: given as ``--crop=...``, since a value starting with ``-`` would read as an option."""
    return ",".join(f"{v:.6f}" for v in (*lo, *hi))


@pytest.mark.parametrize("downsample", [1, 2, 3])
def test_convert_writes_the_crop_with_the_shape_origin_and_spacing_of_the_box(study: Any, tmp_path: Path, downsample: int) -> None:
    sitk = pytest.importorskip("SimpleITK")
    full = _quiet_load(study.outdir)
    lo_ijk, hi_ijk = (4, 6, 3), (30, 41, 20)
    lo, hi = _centres_box(full, lo_ijk, hi_ijk)
    out = tmp_path / "crop.nrrd"
    assert main(["-q", "convert", str(study.outdir), "-o", str(out), f"--crop={_crop_arg(lo, hi)}", "--downsample", str(downsample)]) == 0
    image = sitk.ReadImage(str(out))  # an independent reader; ITK's physical space is LPS too
    expected_size = tuple(len(range(a, b + 1, downsample)) for a, b in zip(lo_ijk, hi_ijk))
    assert image.GetSize() == expected_size
    np.testing.assert_allclose(image.GetSpacing(), np.asarray(full.spacing) * downsample)
    np.testing.assert_allclose(image.GetOrigin(), full.index_to_patient(lo_ijk), atol=1e-4)
    np.testing.assert_allclose(np.asarray(image.GetDirection()).reshape(3, 3), full.direction, atol=1e-6)
    (i0, j0, k0), (i1, j1, k1) = lo_ijk, hi_ijk
    s = downsample
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), full.array[k0 : k1 + 1 : s, j0 : j1 + 1 : s, i0 : i1 + 1 : s])


def test_downsample_alone_keeps_the_origin_and_multiplies_the_spacing(study: Any, tmp_path: Path) -> None:
    sitk = pytest.importorskip("SimpleITK")
    full = _quiet_load(study.outdir)
    out = tmp_path / "half.mha"
    assert main(["-q", "convert", str(study.outdir), "-o", str(out), "--downsample", "2"]) == 0
    image = sitk.ReadImage(str(out))
    assert image.GetSize() == (20, 24, 12)
    np.testing.assert_allclose(image.GetOrigin(), full.origin, atol=1e-4)
    np.testing.assert_allclose(image.GetSpacing(), np.asarray(full.spacing) * 2)


def test_stats_counts_the_voxels_of_the_crop(study: Any, capsys: pytest.CaptureFixture[str]) -> None:
    full = _quiet_load(study.outdir)
    lo, hi = _centres_box(full, (0, 0, 5), (9, 19, 8))
    assert main(["-q", "stats", str(study.outdir), f"--crop={_crop_arg(lo, hi)}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 10 * 20 * 4
    assert main(["-q", "stats", str(study.outdir), "--downsample", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 6 * 12 * 10


def test_export_mesh_of_a_crop_around_the_marker_stays_inside_the_box(study: Any, tmp_path: Path) -> None:
    trimesh = pytest.importorskip("trimesh")
    c = np.asarray(study.spec.marker_center)
    h = np.asarray(study.spec.marker_half_size) + 4.0
    out = tmp_path / "marker.stl"
    crop = _crop_arg(c - h, c + h)
    assert main(["-q", "export-mesh", str(study.outdir), "-o", str(out), f"--crop={crop}", "--threshold", "1500", "--allow-open"]) == 0
    mesh = trimesh.load(str(out))
    voxel = max(_quiet_load(study.outdir).spacing)
    assert np.all(mesh.bounds[0] >= c - h - voxel) and np.all(mesh.bounds[1] <= c + h + voxel)
    # the marker (2000 HU) is inside the box: its surface is there, around its centre
    np.testing.assert_allclose(mesh.bounds.mean(axis=0), c, atol=voxel)


def test_mpr_of_a_downsampled_volume_samples_the_larger_pixels(study: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = _quiet_load(study.outdir)
    out = tmp_path / "axial.png"
    assert main(["-q", "mpr", str(study.outdir), "-o", str(out), "--downsample", "2"]) == 0
    said = capsys.readouterr().out
    assert out.exists() and f"of {full.spacing[0] * 2:.3g} mm" in said, said


# ------------------------------------------------------------------ usage errors before loading
@pytest.mark.parametrize(
    ("argv", "about"),
    [
        (["stats", MISSING, "--crop", "10,0,0,10,5,5"], "--crop (10, 0, 0)..(10, 5, 5) mm has zero size along x (x0 = x1 = 10 mm)"),
        (["convert", MISSING, "-o", "{tmp}/x.nii.gz", "--crop", "0,0,3,5,5,3"], "--crop (0, 0, 3)..(5, 5, 3) mm has zero size along z"),
        (["mpr", MISSING, "-o", "{tmp}/x.png", "--downsample", "0"], "--downsample must be a positive integer"),
        (["render", MISSING, "-o", "{tmp}/x.png", "--downsample", "-2"], "--downsample must be a positive integer"),
        (["export-mesh", MISSING, "-o", "{tmp}/x.stl", "--crop", "0,0,0,1,1,1", "--seed", "0,0,0"], "--crop/--downsample do not apply with --seed"),
        (["render", MISSING, "-o", "{tmp}/x.png", "--cine", "{tmp}/c.gif", "--downsample", "2"], "--cine plays the whole 4D series"),
        (["stats", MISSING, "--crop", "1,2,3"], "argument --crop: expected six numbers"),
        (["export-mesh", MISSING, "-o", "{tmp}/x.stl", "--crop", "a,b,c,d,e,f"], "argument --crop: expected x0,y0,z0,x1,y1,z1"),
        (["mpr", MISSING, "-o", "{tmp}/x.png", "--downsample", "1.5"], "argument --downsample: invalid int value"),
    ],
)
def test_bad_crop_or_downsample_is_a_usage_error_before_loading(argv: list[str], about: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(["-q", *argv]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert about in last and last.startswith(f"vtkdicom-app {argv[0]}: error: "), err
    assert "no such file" not in err and "Traceback" not in err


def test_info_loads_no_volume_so_it_has_no_crop(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "info", MISSING, "--crop", "0,0,0,1,1,1"]) == 2
    assert "unrecognized arguments: --crop" in capsys.readouterr().err


def test_the_checks_print_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", MISSING, "--downsample", "0"]) == 2
    assert capsys.readouterr().err == (
        "vtkdicom-app stats: error: --downsample must be a positive integer (1 keeps every voxel, 2 every second one), got 0\n"
    )


def test_a_crop_outside_the_volume_fails_in_one_line_with_the_extent(study: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "stats", str(study.outdir), "--crop", "500,500,500,600,600,600"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lies outside the volume, which spans" in err


def test_over_the_memory_limit_the_error_suggests_downsample_and_crop(study: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "stats", str(study.outdir), "--memory-limit", "40K"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(24 x 48 x 40 x 2 = 92160 bytes)" in err and "--downsample 2" in err and "--crop" in err
    assert main(["-q", "stats", str(study.outdir), "--memory-limit", "40K", "--downsample", "2", "--json"]) == 0


def test_a_4d_series_with_crop_asks_for_a_frame(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vtkdicom_app.phantom import write_sequence

    write_sequence(tmp_path / "seq", frames=3, rows=24, columns=24, slices=6)
    out = tmp_path / "seq.nii.gz"
    assert main(["-q", "convert", str(tmp_path / "seq"), "-o", str(out), "--downsample", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is 4D (3 frames along time): add --frame N (0..2)" in err
    assert main(["-q", "convert", str(tmp_path / "seq"), "-o", str(out), "--downsample", "2", "--frame", "1"]) == 0
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["stats", "convert", "export-mesh", "mpr", "render"])
def test_help_documents_crop_and_downsample(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--crop X0,Y0,Z0,X1,Y1,Z1" in text and "LPS mm" in text and "--downsample N" in text
