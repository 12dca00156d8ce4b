"""NIfTI, NRRD, MetaImage and VTI keep the geometry (checked against SimpleITK and nibabel)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

import vtkdicom_app as vda
from vtkdicom_app.io.formats import VolumeFormat, read_volume, write_volume
from vtkdicom_app.phantom import PhantomOrientation

ROOT = Path(__file__).resolve().parents[1]
SMALL: dict[str, Any] = dict(rows=24, columns=20, slices=10, pixel_spacing=(2.0, 3.0), slice_spacing=4.0, orientation=PhantomOrientation.OBLIQUE)


@pytest.fixture(scope="module")
def volume(phantom_factory: Any) -> vda.Volume:
    return vda.load(phantom_factory(**SMALL).outdir)


@pytest.mark.parametrize("suffix", [f.value for f in VolumeFormat])
def test_round_trip_and_simpleitk_agree(volume: vda.Volume, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"v{suffix}"
    write_volume(volume, path)
    back = read_volume(path)
    assert np.array_equal(back.array, volume.array)
    np.testing.assert_allclose(back.origin, volume.origin, atol=1e-4)
    np.testing.assert_allclose(back.spacing, volume.spacing, atol=1e-6)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-6)
    if suffix not in (".vti",):  # SimpleITK reads every other one and reports LPS
        img = sitk.ReadImage(str(path))
        np.testing.assert_allclose(img.GetOrigin(), volume.origin, atol=1e-4)
        np.testing.assert_allclose(img.GetSpacing(), volume.spacing, atol=1e-6)
        np.testing.assert_allclose(img.GetDirection(), volume.direction.ravel(), atol=1e-6)
        assert np.array_equal(sitk.GetArrayFromImage(img), volume.array)


def test_nifti_affine_is_ras_as_nibabel_expects(volume: vda.Volume, tmp_path: Path) -> None:
    path = write_volume(volume, tmp_path / "v.nii.gz")
    img = nib.load(path)
    expected = np.diag([-1.0, -1.0, 1.0, 1.0]) @ volume.affine  # LPS -> RAS
    np.testing.assert_allclose(img.affine, expected, atol=1e-4)
    assert img.header.get_qform(coded=True)[1] == 1 and img.header.get_sform(coded=True)[1] == 1
    # a voxel nibabel reads at (i, j, k) is ours at [k, j, i]
    assert np.asanyarray(img.dataobj)[3, 4, 5] == volume.array[5, 4, 3]


def test_foreign_nifti_with_negative_determinant_is_made_positive(tmp_path: Path) -> None:
    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # (i, j, k) as nibabel stores
    affine = np.diag([-1.5, 2.0, 3.0, 1.0])  # det < 0 in RAS ... radiological storage
    affine[:3, 3] = (10, 20, 30)
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "r.nii")
    vol = read_volume(tmp_path / "r.nii")
    assert np.linalg.det(vol.direction) > 0
    ras = np.diag([-1.0, -1.0, 1.0])
    for i, j, k in ((0, 0, 0), (3, 4, 5), (1, 2, 3)):
        world = ras @ (affine[:3, :3] @ (i, j, k) + affine[:3, 3])  # where nibabel puts the voxel, in LPS
        mine = vol.patient_to_index(world)
        assert vol.array[int(round(mine[2])), int(round(mine[1])), int(round(mine[0]))] == data[i, j, k]


def test_convert_and_stats_cli(phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**SMALL)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "v.nrrd"
    proc = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "convert", str(ph.outdir), "-o", str(out)], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vtkdicom_app",
            "stats",
            str(out),
            "--roi",
            "sphere:" + ",".join(map(str, ph.spec.sphere_center)) + ",5",
            "--json",
            "--histogram",
            str(tmp_path / "h.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"mean": 1000.0' in proc.stdout and (tmp_path / "h.png").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "convert", str(ph.outdir), "-o", str(tmp_path / "v.xyz")], capture_output=True, text=True, timeout=60, env=env
    )
    assert bad.returncode == 1 and "unknown volume format" in bad.stderr
