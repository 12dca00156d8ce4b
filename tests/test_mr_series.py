"""Every scanner's series as it comes: Siemens mosaics, classic 4D series in each vendor's
style, .dcm.gz, series split by SeriesNumber, projection images, colour volumes.

References: the known-answer phantoms of :mod:`vtkdicom_app.phantom_mr` (each volume has its
own sphere value, so the order can be checked), nibabel's mosaic wrapper, and the real
Siemens mosaic files shipped inside nibabel's wheel. SimpleITK is not a reference here.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest

import vtkdicom_app as vda
from vtkdicom_app.errors import NotDicomError, SeriesSplitWarning
from vtkdicom_app.io.formats import write_sequence_nifti
from vtkdicom_app.phantom import write_phantom
from vtkdicom_app.phantom_mr import Classic4DStyle, CsaMode, write_classic_4d, write_mosaic

ROOT = Path(__file__).resolve().parents[1]
NIBABEL_DATA = Path(nib.__file__).parent / "nicom" / "tests" / "data"


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _nib_wrapper(path: Path) -> Any:
    from nibabel.nicom import dicomwrappers

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        ds = pydicom.dcmread(fh)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dicomwrappers.wrapper_from_data(ds)


def _check_against_nibabel(vol: vda.Volume, path: Path) -> None:
    """Same voxel -> patient mapping and the same voxels as nibabel's MosaicWrapper.

    nibabel indexes (row, column, slice) with slices along the CSA slice normal; ours is
    (column i, row j, slice k) with slices along row x column.
    """
    w = _nib_wrapper(path)
    assert type(w).__name__ == "MosaicWrapper"
    aff = np.asarray(w.affine)
    data = np.asarray(w.get_data())
    nk = vol.shape[0]
    assert data.shape == (vol.shape[1], vol.shape[2], nk)
    reversed_ = np.dot(aff[:3, 2], vol.direction[:, 2]) < 0
    for i, j, k in ((0, 0, 0), (5, 3, 1), (vol.shape[2] - 1, vol.shape[1] - 1, nk - 1), (2, 7, nk // 2)):
        kn = nk - 1 - k if reversed_ else k
        np.testing.assert_allclose(vol.index_to_patient((i, j, k)), (aff @ [j, i, kn, 1.0])[:3], atol=1e-3)
    ours = vol.array.transpose(1, 2, 0)
    if reversed_:
        ours = ours[..., ::-1]
    np.testing.assert_array_equal(data, ours)


# ------------------------------------------------------------------ real Siemens mosaics
def test_nibabel_siemens_dwi_mosaics_gz_match_nibabel(tmp_path: Path) -> None:
    """Two real Siemens mosaic DWI files (b 0 and b 1000, .dcm.gz) from nibabel's wheel."""
    for name in ("siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz"):
        shutil.copy(NIBABEL_DATA / name, tmp_path / name)
    infos = vda.scan(tmp_path)
    assert len(infos) == 1
    info = infos[0]
    assert info.fourth_axis == "diffusion" and info.n_frames == 2 and info.frame_values == [0.0, 1000.0]
    assert info.shape == (48, 128, 128)  # 48 slices of 128 x 128 from one 896 x 896 mosaic
    seq = _quiet(vda.load_sequence, tmp_path)
    assert seq.axis == "diffusion" and seq.bvalues == [0.0, 1000.0]
    assert seq.gradients is not None and seq.gradients[0] is None
    np.testing.assert_allclose(seq.gradients[1], (0.99997449, 0.00505012, -0.00505012), atol=1e-4)
    for n, name in enumerate(("siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz")):
        vol = seq[n]
        assert vol.spacing == pytest.approx((1.796875, 1.796875, 3.0))  # SpacingBetweenSlices, not SliceThickness 2.5
        assert np.linalg.det(vol.direction) == pytest.approx(1.0)
        _check_against_nibabel(vol, tmp_path / name)
    with pytest.warns(Warning, match="load_sequence"):
        vol0 = vda.load(tmp_path)
    assert vol0.shape == (48, 128, 128) and vol0.metadata["MosaicSlices"] == 48


# ------------------------------------------------------------------ mosaic phantoms
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("orientation", ["oblique", "axial", "sagittal"])
def test_mosaic_phantom_unpacks_to_the_known_volume(tmp_path: Path, descending: bool, orientation: str) -> None:
    from vtkdicom_app.phantom import PhantomOrientation

    res = write_mosaic(tmp_path, descending=descending, orientation=PhantomOrientation(orientation), slices=14)
    vol = _quiet(vda.load, tmp_path)
    assert vol.shape == (14, 48, 48)  # not a flat (1, 192, 192) image
    np.testing.assert_array_equal(vol.array, res.arrays[0])
    np.testing.assert_allclose(vol.origin, res.origin, atol=1e-4)
    np.testing.assert_allclose(vol.spacing, res.spacing, atol=1e-6)
    np.testing.assert_allclose(vol.direction, res.direction, atol=1e-5)
    # the marker stays on the patient's left, the sphere where the model put it
    spec = res.spec
    assert vol.value_at(spec.sphere_center) == spec.sphere_hu
    _check_against_nibabel(vol, res.files[0])


def test_mosaic_run_is_a_4d_sequence_and_gz_reads_the_same(tmp_path: Path) -> None:
    plain = write_mosaic(tmp_path / "plain", volumes=3, slices=10)
    packed = write_mosaic(tmp_path / "gz", volumes=3, slices=10, gzip_files=True)
    assert all(str(f).endswith(".dcm.gz") for f in packed.files)
    for res in (plain, packed):
        info = vda.scan(res.outdir)[0]
        assert info.fourth_axis == "time" and info.n_frames == 3
        assert info.frame_values == [0.0, 2000.0, 4000.0]  # AcquisitionNumber order x RepetitionTime
        seq = _quiet(vda.load_sequence, res.outdir)
        for n in range(3):
            np.testing.assert_array_equal(seq[n].array, res.arrays[n])


def test_mosaic_without_csa_header_uses_0019_and_says_so(tmp_path: Path) -> None:
    res = write_mosaic(tmp_path, csa=CsaMode.NO_CSA, slices=9)
    with pytest.warns(Warning, match=r"without a CSA image header.*\(0019,100A\)"):
        vol = vda.load(tmp_path)
    assert vol.shape == (9, 48, 48)
    np.testing.assert_array_equal(vol.array, res.arrays[0])


def test_mosaic_with_damaged_csa_header_falls_back(tmp_path: Path) -> None:
    res = write_mosaic(tmp_path, csa=CsaMode.DAMAGED, slices=9)
    with pytest.warns(Warning, match=r"damaged CSA image header \(0029,1010\)"):
        vol = vda.load(tmp_path)
    np.testing.assert_array_equal(vol.array, res.arrays[0])


def test_mosaic_without_any_count_is_refused_naming_the_tags(tmp_path: Path) -> None:
    write_mosaic(tmp_path, csa=CsaMode.NOTHING, slices=9)
    with pytest.raises(NotDicomError, match=r"NumberOfImagesInMosaic.*\(0029,1010\).*\(0019,100A\)"):
        vda.load(tmp_path)
    info_skipped = vda.scan(tmp_path)
    assert info_skipped == []  # never a flat image


def test_uih_mosaic_is_refused_with_the_reason(tmp_path: Path) -> None:
    res = write_mosaic(tmp_path, csa=CsaMode.NOTHING, slices=9)
    ds = pydicom.dcmread(res.files[0])
    ds.Manufacturer = "UIH"
    ds.save_as(res.files[0])
    with pytest.raises(NotDicomError, match="UIH mosaic"):
        vda.load(tmp_path)


# ------------------------------------------------------------------ classic 4D
@pytest.mark.parametrize("style", list(Classic4DStyle), ids=[s.value for s in Classic4DStyle])
def test_classic_4d_volumes_come_back_in_order_nothing_dropped(tmp_path: Path, style: Classic4DStyle) -> None:
    res = write_classic_4d(tmp_path, style=style, volumes=6)
    infos = vda.scan(tmp_path)
    assert len(infos) == 1, [i.description for i in infos]
    info = infos[0]
    assert info.fourth_axis == res.axis and info.n_frames == len(res.volumes)
    assert info.n_files == len(res.files)  # every image used, none dropped as a duplicate
    assert not any("duplicate" in w for w in info.warnings)
    seq = _quiet(vda.load_sequence, tmp_path)
    spec = res.volumes[0].spec
    got = [frame.value_at(spec.sphere_center) for frame in seq]
    assert got == [res.sphere_hu[v] for v in res.expected_order]
    for frame in seq:  # every volume has the phantom's geometry
        assert frame.shape == (10, 32, 32)
        np.testing.assert_allclose(frame.origin, res.volumes[0].expected_sorted_positions()[0], atol=1e-4)
    if res.axis == "diffusion":
        assert res.bvalues is not None and res.gradients is not None
        assert seq.bvalues == [res.bvalues[v] for v in res.expected_order]
        for n, v in enumerate(res.expected_order):
            expected = res.gradients[v]
            if expected is None:
                assert seq.gradients[n] is None  # type: ignore[index]
            else:
                np.testing.assert_allclose(seq.gradients[n], expected, atol=1e-4)  # type: ignore[index]
    if style is Classic4DStyle.INSTANCE_ONLY:
        assert seq.axis == "time" and seq.values == [0.0, 2000.0, 4000.0, 6000.0, 8000.0, 10000.0]
    with pytest.warns(Warning, match=r"4D series of \d+ volumes.*loaded volume 0.*load_sequence"):
        vol = vda.load(tmp_path)
    assert vol.value_at(spec.sphere_center) == res.sphere_hu[res.expected_order[0]]


def test_philips_private_scale_is_in_metadata(tmp_path: Path) -> None:
    write_classic_4d(tmp_path, style=Classic4DStyle.DTI_PHILIPS)
    vol = _quiet(vda.load, tmp_path)
    assert vol.metadata["PhilipsScaleSlope"] == pytest.approx(0.25)
    assert vol.metadata["DiffusionBValue"] == 0.0


def test_volume_missing_a_slice_is_left_out_and_named(tmp_path: Path) -> None:
    res = write_classic_4d(tmp_path, style=Classic4DStyle.INSTANCE_ONLY, volumes=6)
    victim = res.volumes[2].files[4]  # volume 2 (acquisition order) loses one slice
    os.remove(victim)
    with pytest.warns(SeriesSplitWarning, match=r"volume 'volume=3'.*lacks 1 slice\(s\), at .* mm along the normal; it is left out"):
        seq = vda.load_sequence(tmp_path)
    spec = res.volumes[0].spec
    assert [f.value_at(spec.sphere_center) for f in seq] == [res.sphere_hu[v] for v in (0, 1, 3, 4, 5)]
    assert any("NumberOfTemporalPositions" in w for w in seq.warnings)


def test_missing_volume_is_reported_against_number_of_temporal_positions(tmp_path: Path) -> None:
    res = write_classic_4d(tmp_path, style=Classic4DStyle.INSTANCE_ONLY, volumes=5)
    for f in res.volumes[4].files:
        os.remove(f)
    with pytest.warns(SeriesSplitWarning, match=r"4 found, but NumberOfTemporalPositions \(0020,0105\) says 5"):
        seq = vda.load_sequence(tmp_path)
    assert len(seq) == 4


def test_true_duplicates_in_a_4d_series_are_dropped_not_turned_into_volumes(tmp_path: Path) -> None:
    res = write_classic_4d(tmp_path, style=Classic4DStyle.DTI_STANDARD)
    shutil.copy(res.volumes[1].files[0], tmp_path / "copy.dcm")
    infos = vda.scan(tmp_path)
    assert infos[0].n_frames == len(res.volumes)
    assert any("duplicate positions dropped (same SOPInstanceUID)" in w for w in infos[0].warnings)


def test_absurd_vendor_b_value_is_named_and_nothing_dropped(tmp_path: Path) -> None:
    res = write_classic_4d(tmp_path, style=Classic4DStyle.DTI_STANDARD)
    for f in res.volumes[3].files:
        ds = pydicom.dcmread(f)
        ds.DiffusionBValue = 5.0e7
        ds.save_as(f)
    infos = vda.scan(tmp_path)
    assert infos[0].n_files == len(res.files)
    assert any("b-value 5e+07" in w and "not plausible" in w for w in infos[0].warnings)


def test_convert_writes_fsl_bval_bvec(tmp_path: Path) -> None:
    """bvecs in the NIfTI's voxel frame, i negated for a positive determinant (FSL/dcm2niix)."""
    from vtkdicom_app.phantom import PhantomOrientation

    res = write_classic_4d(tmp_path / "dwi", style=Classic4DStyle.DTI_SIEMENS, orientation=PhantomOrientation.OBLIQUE)
    seq = _quiet(vda.load_sequence, tmp_path / "dwi")
    out = write_sequence_nifti(seq, tmp_path / "dwi.nii.gz")
    bvals = np.loadtxt(tmp_path / "dwi.bval")
    bvecs = np.loadtxt(tmp_path / "dwi.bvec")
    assert bvecs.shape == (3, len(seq))
    assert list(bvals) == [res.bvalues[v] for v in res.expected_order]  # type: ignore[index]
    img = nib.load(out)
    rot = img.affine[:3, :3] / np.linalg.norm(img.affine[:3, :3], axis=0)
    flip = np.linalg.det(img.affine[:3, :3]) > 0
    for n, v in enumerate(res.expected_order):
        g_lps = res.gradients[v]  # type: ignore[index]
        if g_lps is None:
            np.testing.assert_allclose(bvecs[:, n], 0.0)
            continue
        g_ras = np.asarray(g_lps) * [-1.0, -1.0, 1.0]
        voxel = rot.T @ g_ras
        if flip:
            voxel[0] = -voxel[0]
        np.testing.assert_allclose(bvecs[:, n], voxel, atol=1e-5)
        assert np.linalg.norm(bvecs[:, n]) == pytest.approx(1.0, abs=1e-5)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "convert", str(tmp_path / "dwi"), "-o", str(tmp_path / "cli.nii.gz")],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert np.array_equal(np.loadtxt(tmp_path / "cli.bvec"), bvecs) and (tmp_path / "cli.bval").exists()


# ------------------------------------------------------------------ grouping and odd files
def test_same_uid_different_series_number_is_two_series(tmp_path: Path) -> None:
    ph = write_phantom(tmp_path, rows=32, columns=32, slices=8)
    for f in ph.files[:4]:  # the same slices exported again under another SeriesNumber
        ds = pydicom.dcmread(f)
        ds.SeriesNumber = 99
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID[:55] + ".99"
        ds.save_as(tmp_path / ("copy_" + f.name))
    infos = vda.scan(tmp_path)
    assert sorted(i.number for i in infos) == [1, 99]  # type: ignore[type-var]
    assert sorted(i.shape[0] for i in infos) == [4, 8]
    assert not any("duplicate" in w for i in infos for w in i.warnings)
    assert _quiet(vda.load, tmp_path, series=99).shape == (4, 32, 32)


def test_split_uid_from_a_scan_loads_from_its_own_files(tmp_path: Path) -> None:
    write_classic_4d(tmp_path, style=Classic4DStyle.MAG_PHASE_ECHOES)
    ph = write_phantom(tmp_path / "other", rows=32, columns=32, slices=6, seed=23, orientation=vda_orientation("coronal"))
    infos = vda.scan(tmp_path)
    split = [i for i in infos if "#" in i.uid]
    assert split, [i.uid for i in infos]
    info = split[0]
    vol = _quiet(vda.load, info.files, series=info.uid)  # a different file list: no #n there
    assert vol.shape == info.shape
    assert len(ph.files) == 6


def vda_orientation(name: str) -> Any:
    from vtkdicom_app.phantom import PhantomOrientation

    return PhantomOrientation(name)


def test_projection_image_with_zero_spacing_opens_with_a_warning(tmp_path: Path) -> None:
    ph = write_phantom(tmp_path, rows=40, columns=30, slices=1, modality="CR")
    ds = pydicom.dcmread(ph.files[0])
    del ds.ImagePositionPatient
    del ds.ImageOrientationPatient
    ds.PixelSpacing = ["0", "0"]
    ds.save_as(ph.files[0])
    with pytest.warns(Warning, match=r"PixelSpacing \(0028,0030\).*is 0(\.0)?\\0(\.0)? and there is no ImagerPixelSpacing"):
        vol = vda.load(tmp_path)
    assert vol.shape == (1, 40, 30) and vol.geometry_known is False
    ds.ImagerPixelSpacing = ["0.2", "0.15"]
    ds.save_as(ph.files[0])
    vol = _quiet(vda.load, tmp_path)
    assert vol.spacing[:2] == (0.15, 0.2)


def _write_rgb_series(folder: Path, n: int = 4) -> np.ndarray:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    vol = rng.integers(0, 255, size=(n, 12, 16, 3), dtype=np.uint8)
    series = generate_uid()
    for k in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.Modality = "OT"
        ds.SeriesInstanceUID = series
        ds.StudyInstanceUID = series + ".1"
        ds.SeriesNumber = 3
        ds.InstanceNumber = n - k
        ds.ImagePositionPatient = [0, 0, 2.5 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.5, 0.5]
        ds.Rows, ds.Columns = 12, 16
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = vol[k].tobytes()
        ds.save_as(folder / f"rgb{k:02d}.dcm", enforce_file_format=True)
    return vol


def test_colour_series_loads_as_rgb_volume_with_geometry(tmp_path: Path) -> None:
    expected = _write_rgb_series(tmp_path / "rgb")
    vol = _quiet(vda.load, tmp_path / "rgb")
    assert vol.is_colour and vol.array.shape == (4, 12, 16, 3) and vol.array.dtype == np.uint8
    np.testing.assert_array_equal(vol.array, expected)
    assert vol.shape == (4, 12, 16) and vol.spacing == (0.5, 0.5, 2.5)
    image = vol.to_vtk()
    assert image.GetPointData().GetScalars().GetNumberOfComponents() == 3
    from vtkdicom_app.mpr import reslice

    sl = reslice(vol, "axial")
    assert sl.array.shape[-1] == 3 and sl.array.dtype == np.uint8
    from vtkdicom_app.rendering.slice_view import render_slice

    rgb = render_slice(sl, tmp_path / "rgb.png", window=255.0, level=127.5)
    assert rgb.ndim == 3 and (tmp_path / "rgb.png").exists()
    from vtkdicom_app.errors import ColourVolumeError

    with pytest.raises(ColourVolumeError, match="colour"):
        vda.extract_surface(vol, threshold=100.0)


def test_multi_slice_cine_with_per_slice_trigger_times(tmp_path: Path) -> None:
    """Siemens-style cine: each slice location its own AcquisitionNumber and trigger times,
    instance numbers running slice after slice: phases come from the InstanceNumber order."""
    res = write_classic_4d(tmp_path, style=Classic4DStyle.INSTANCE_ONLY, volumes=5)
    n_vol = len(res.volumes)
    for v, volume in enumerate(res.volumes):
        order = res.volumes[v].expected_sorted_positions()
        for f in volume.files:
            ds = pydicom.dcmread(f)
            a = order.index(tuple(float(x) for x in ds.ImagePositionPatient))
            ds.InstanceNumber = a * n_vol + v + 1
            ds.AcquisitionNumber = a + 1
            ds.TriggerTime = _ds_text(40.0 * v + 0.7 * a)
            del ds.NumberOfTemporalPositions
            ds.save_as(f)
    info = vda.scan(tmp_path)
    assert len(info) == 1 and info[0].fourth_axis == "time" and info[0].n_frames == n_vol
    seq = _quiet(vda.load_sequence, tmp_path)
    spec = res.volumes[0].spec
    assert [f.value_at(spec.sphere_center) for f in seq] == res.sphere_hu
    assert seq.values == pytest.approx([40.0 * v + 0.7 * 4.5 for v in range(n_vol)], abs=0.01)


def _ds_text(value: float) -> str:
    return f"{value:.2f}"


def test_ybr_colour_ultrasound_from_pydicom_wheel_matches_pydicom() -> None:
    """A real YBR_FULL_422 (JPEG baseline) ultrasound cine shipped with pydicom: RGB as pydicom decodes it."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file("examples_ybr_color.dcm")
    assert path is not None
    vol = _quiet(vda.load, path)
    expected = pydicom.dcmread(path).pixel_array
    assert vol.is_colour and vol.array.shape == expected.shape == (30, 240, 320, 3)
    np.testing.assert_array_equal(vol.array, expected)


def test_cli_mpr_of_a_single_slice_shows_it_and_refuses_other_planes(tmp_path: Path) -> None:
    from vtkdicom_app.cli import main

    ph = write_phantom(tmp_path / "scout", rows=40, columns=40, slices=1)
    assert main(["mpr", str(ph.outdir), "-o", str(tmp_path / "own.png")]) == 0
    assert main(["mpr", str(ph.outdir), "-o", str(tmp_path / "all.png"), "--plane", "all"]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "own.png").size[1] > 100  # not a 1-pixel-high strip
    assert main(["mpr", str(ph.outdir), "-o", str(tmp_path / "cor.png"), "--plane", "coronal"]) == 1
    assert not (tmp_path / "cor.png").exists()


def test_render_of_an_mr_series_picks_an_mr_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vtkdicom_app.cli import main

    write_mosaic(tmp_path / "mr", slices=9, rows=24, columns=24)
    assert main(["render", str(tmp_path / "mr"), "-o", str(tmp_path / "mr.png"), "--size", "96x96"]) == 0
    captured = capsys.readouterr()
    assert "mr-default" in captured.err and "mr-default" in captured.out
