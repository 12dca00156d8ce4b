"""4D series: a beating sphere over time (single-frame and enhanced files), two echoes,
b-values; frame order from the values, not file names; geometry checked; 4D NIfTI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest

import vtkdicom_app as vda
from vtkdicom_app.errors import GeometryError, SeriesNotFoundError
from vtkdicom_app.io.formats import read_sequence_nifti, write_sequence_nifti
from vtkdicom_app.phantom import MultiFrame, SequenceKind, write_sequence

ROOT = Path(__file__).resolve().parents[1]
GRID: dict[str, Any] = dict(rows=48, columns=48, slices=32, pixel_spacing=(3.0, 3.0), slice_spacing=3.0, partial_volume=True)


@pytest.fixture(scope="module")
def beating(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return write_sequence(tmp_path_factory.mktemp("beat"), kind=SequenceKind.TIME, frames=6, **GRID)


def _sphere_radius(vol: vda.Volume, spec: Any) -> float:
    from vtkdicom_app.analysis import region_stats

    mid = (spec.body_hu + spec.sphere_hu) / 2
    stats = region_stats(vol, sphere=(spec.sphere_center, spec.sphere_radius * 1.6), lower=mid, upper=(spec.sphere_hu + spec.marker_hu) / 2)
    return float((stats.volume_mm3 * 3 / (4 * np.pi)) ** (1 / 3))


def test_scan_reports_the_fourth_axis(beating: Any) -> None:
    infos = vda.scan(beating.outdir)
    assert len(infos) == 1
    info = infos[0]
    assert info.fourth_axis == "time" and info.n_frames == 6
    assert info.frame_values == [0.0, 80.0, 160.0, 240.0, 320.0, 400.0]


@pytest.mark.parametrize("multiframe", [MultiFrame.NONE, MultiFrame.ENHANCED], ids=["single-frame", "enhanced-per-time-point"])
def test_beating_sphere_radius_per_frame_in_time_order(tmp_path: Path, multiframe: MultiFrame) -> None:
    res = write_sequence(tmp_path, kind=SequenceKind.TIME, frames=6, multiframe=multiframe, **GRID)
    seq = vda.load_sequence(tmp_path)
    assert len(seq) == 6 and seq.axis == "time" and seq.unit == "ms"
    assert seq.values == sorted(seq.values) == res.values
    half_voxel = 0.5 * max(seq[0].spacing)
    for n, frame in enumerate(seq):
        spec = res.frames[n].spec
        assert _sphere_radius(frame, spec) == pytest.approx(spec.sphere_radius, abs=half_voxel), n
    assert seq.array.shape == (6, 32, 48, 48)


def test_load_returns_the_first_frame_and_names_load_sequence(beating: Any) -> None:
    with pytest.warns(Warning, match="load_sequence"):
        vol = vda.load(beating.outdir)
    seq = vda.load_sequence(beating.outdir)
    assert np.array_equal(vol.array, seq[0].array)


def test_two_echoes_and_b_values(tmp_path: Path) -> None:
    echo = write_sequence(tmp_path / "echo", kind=SequenceKind.ECHO, frames=2, **GRID)
    seq = vda.load_sequence(tmp_path / "echo", axis="echo")
    assert seq.values == [10.0, 20.0]
    spec = echo.frames[0].spec
    assert seq[0].value_at(spec.sphere_center) == 1000 and seq[1].value_at(spec.sphere_center) == 850
    diff = write_sequence(tmp_path / "dwi", kind=SequenceKind.DIFFUSION, frames=3, **GRID)
    seq = vda.load_sequence(tmp_path / "dwi")
    assert seq.axis == "diffusion" and seq.values == [0.0, 500.0, 1000.0]
    assert [f.value_at(diff.frames[0].spec.sphere_center) for f in seq] == [1000, 880, 760]
    with pytest.raises(SeriesNotFoundError, match="no 4D series along time"):
        vda.load_sequence(tmp_path / "dwi", axis="time")


def test_frames_with_different_geometry_are_refused(beating: Any, tmp_path: Path) -> None:
    folder = tmp_path / "s"
    shutil.copytree(beating.outdir, folder)
    for f in folder.iterdir():
        ds = pydicom.dcmread(f)
        if ds.TemporalPositionIdentifier == 4:
            ds.ImagePositionPatient = [float(v) + 5.0 if n == 0 else float(v) for n, v in enumerate(ds.ImagePositionPatient)]
            ds.save_as(f)
    with pytest.raises(GeometryError, match=r"frame 4 \(time 240\).*differs from frame 1 in origin"):
        vda.load_sequence(folder)


def test_lazy_frames_read_on_demand(beating: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seq = vda.load_sequence(beating.outdir, lazy=True)
    assert seq.lazy and not seq._cache
    assert np.array_equal(seq[2].array, vda.load_sequence(beating.outdir)[2].array)
    monkeypatch.setenv("VTKDICOM_APP_MEMORY_LIMIT", "500K")  # the sequence needs 864 KiB: lazy by itself
    assert vda.load_sequence(beating.outdir).lazy


def test_4d_nifti_keeps_affine_and_frame_order(beating: Any, tmp_path: Path) -> None:
    seq = vda.load_sequence(beating.outdir)
    path = write_sequence_nifti(seq, tmp_path / "beat.nii.gz")
    img = nib.load(path)
    assert img.shape == (48, 48, 32, 6)
    np.testing.assert_allclose(img.affine, np.diag([-1.0, -1.0, 1.0, 1.0]) @ seq[0].affine, atol=1e-4)
    assert img.header.get_zooms()[3] == pytest.approx(80.0)
    data = np.asanyarray(img.dataobj)
    for t in range(6):
        assert np.array_equal(data[..., t].transpose(2, 1, 0), seq[t].array)
    back = read_sequence_nifti(path)
    assert back.values == [0.0, 80.0, 160.0, 240.0, 320.0, 400.0]
    assert np.array_equal(back.array, seq.array)


def test_cli_info_convert_and_frame(beating: Any, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vtkdicom_app", *args], capture_output=True, text=True, timeout=180, env=env)

    info = run("info", str(beating.outdir), "--headers-only")
    assert info.returncode == 0 and "6 frames along time" in info.stdout
    conv = run("convert", str(beating.outdir), "-o", str(tmp_path / "b.nii.gz"))
    assert conv.returncode == 0 and nib.load(tmp_path / "b.nii.gz").shape[3] == 6
    mpr = run("mpr", str(beating.outdir), "-o", str(tmp_path / "f.png"), "--frame", "3")
    assert mpr.returncode == 0, mpr.stderr
    bad = run("mpr", str(beating.outdir), "-o", str(tmp_path / "g.png"), "--frame", "9")
    assert bad.returncode == 1 and "frames 0..5" in bad.stderr
