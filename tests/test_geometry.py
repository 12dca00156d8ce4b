"""The shared geometry helpers and Volume's typed fields, against hand-computed answers."""

from __future__ import annotations

import enum
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app import geometry
from vtkdicom_app.phantom import write_phantom
from vtkdicom_app.volume import Volume


def _oblique() -> np.ndarray:
    a = np.radians(30.0)
    r = np.array([np.cos(a), np.sin(a), 0.0])
    c = np.array([0.0, 0.0, -1.0])
    return np.column_stack([r, c, np.cross(r, c)])


def test_affine_and_corners_match_index_to_patient() -> None:
    vol = Volume(np.zeros((4, 5, 6), np.int16), spacing=(0.5, 0.8, 2.5), origin=(10.0, -20.0, 30.0), direction=_oblique())
    m = geometry.affine(vol.origin, vol.spacing, vol.direction)
    np.testing.assert_allclose(m, vol.affine)
    np.testing.assert_allclose(m[:3, 3], (10.0, -20.0, 30.0))
    far = vol.index_to_patient((5, 4, 3))
    corners = vol.corners
    assert corners.shape == (8, 3)
    np.testing.assert_allclose(corners[0], vol.origin)
    np.testing.assert_allclose(corners[-1], far)
    # the corners of the grid: every combination of (0 or n-1) per axis
    np.testing.assert_allclose(corners[4], vol.index_to_patient((5, 0, 0)))


def test_lps_ras_flip_matches_nibabel_orientation() -> None:
    lps = geometry.affine((1.0, 2.0, 3.0), (1.0, 1.0, 1.0), np.eye(3))
    ras = geometry.lps_to_ras_affine(lps)
    # i grows towards the patient's left: L in LPS, and nibabel calls it R->L reversed, i.e. 'L'
    assert nib.aff2axcodes(ras) == ("L", "P", "S")
    np.testing.assert_allclose(ras[:3, 3], (-1.0, -2.0, 3.0))
    np.testing.assert_allclose(geometry.ras_to_lps_affine(ras), lps)
    with pytest.raises(ValueError):
        geometry.LPS_TO_RAS[0, 0] = 1.0  # read-only constant


def test_sampled_percentiles_close_to_exact_and_exclude() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(100.0, 20.0, size=3_000_000).astype(np.float32)
    approx = geometry.sampled_percentiles(values, (1, 50, 99), max_samples=200_000)
    exact = np.percentile(values, (1, 50, 99))
    np.testing.assert_allclose(approx, exact, atol=1.0)
    padded = np.concatenate([np.full(1000, -2000.0), np.arange(1000.0)])
    assert geometry.sampled_percentiles(padded, (0,), exclude=-2000.0)[0] == 0.0
    assert geometry.sampled_percentiles(np.full(10, 5.0), (50,), exclude=5.0)[0] == 5.0  # nothing else: all kept
    assert list(geometry.sampled_percentiles(np.array([]), (1, 99))) == [0.0, 0.0]


def test_shift_origin_moves_by_whole_voxels_along_the_axes() -> None:
    d = _oblique()
    out = geometry.shift_origin((0.0, 0.0, 0.0), (0.5, 0.8, 2.5), d, (-1, 0, 2))
    np.testing.assert_allclose(out, -0.5 * d[:, 0] + 5.0 * d[:, 2])


class _Colour(enum.Enum):
    RED = "red"
    DARK_BLUE = "dark-blue"


def test_as_enum_accepts_members_values_and_names() -> None:
    assert geometry.as_enum(_Colour, _Colour.RED) is _Colour.RED
    assert geometry.as_enum(_Colour, "Dark-Blue") is _Colour.DARK_BLUE
    assert geometry.as_enum(_Colour, "dark_blue") is _Colour.DARK_BLUE
    with pytest.raises(ValueError, match="red, dark-blue"):
        geometry.as_enum(_Colour, "green")


def test_loaded_volume_has_typed_fields(tmp_path: Path) -> None:
    write_phantom(tmp_path / "tilt", rows=16, columns=16, slices=6, gantry_tilt_deg=15.0)
    write_phantom(tmp_path / "mr", rows=16, columns=16, slices=4, modality="MR")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tilted = vda.load(tmp_path / "tilt")
        corrected = vda.load(tmp_path / "tilt", correct_tilt=True)
        mr = vda.load(tmp_path / "mr")
    assert tilted.modality == "CT" and mr.modality == "MR"
    assert tilted.gantry_tilt_deg == pytest.approx(15.0, abs=0.05) and not tilted.tilt_corrected
    assert corrected.tilt_corrected
    assert mr.gantry_tilt_deg == 0.0 and mr.padding_value is None and not mr.invert_display


def test_with_array_keeps_geometry_and_typed_fields() -> None:
    vol = Volume(
        np.zeros((2, 3, 4), np.int16),
        spacing=(1.0, 2.0, 3.0),
        origin=(1.0, 2.0, 3.0),
        direction=_oblique(),
        metadata={"Modality": "ct"},
        padding_value=-1024,
        invert_display=True,
    )
    assert vol.modality == "CT" and vol.padding_value == -1024.0 and isinstance(vol.padding_value, float)
    copy = vol.with_array(np.ones((2, 3, 4), np.float32))
    assert copy.array.dtype == np.float32 and copy.padding_value == -1024.0 and copy.invert_display
    np.testing.assert_allclose(copy.affine, vol.affine)
