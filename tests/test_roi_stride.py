"""load(path, roi=..., stride=N): crop (LPS mm) and downsample at load, reading only what is needed."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.errors import GeometryError
from vtkdicom_app.phantom import PhantomOrientation, write_phantom


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("orientation", ["axial", "oblique"])
def test_roi_and_stride_equal_slicing_the_full_volume(tmp_path: Path, orientation: str) -> None:
    ph = write_phantom(tmp_path, rows=48, columns=40, slices=20, orientation=PhantomOrientation(orientation), feet_first=True)
    full = _quiet(vda.load, tmp_path)
    # a box around the marker (on the patient's left), in LPS mm
    c = np.asarray(ph.spec.marker_center)
    h = np.asarray(ph.spec.marker_half_size) + 3.0
    roi = (tuple(c - h), tuple(c + h))
    for stride in (1, 2, 3):
        vol = _quiet(vda.load, tmp_path, roi=roi, stride=stride)
        # the same voxels as indexing the full volume: find the crop's first voxel there
        i0, j0, k0 = np.rint(full.patient_to_index(vol.origin)).astype(int)
        nk, nj, ni = vol.shape
        expected = full.array[k0 : k0 + nk * stride : stride, j0 : j0 + nj * stride : stride, i0 : i0 + ni * stride : stride]
        np.testing.assert_array_equal(vol.array, expected)
        assert vol.spacing == pytest.approx(tuple(s * stride for s in full.spacing))
        np.testing.assert_allclose(vol.direction, full.direction)
        # the crop covers the box: both corners map inside the cropped grid (within one step)
        for corner in roi:
            ijk = vol.patient_to_index(corner)
            assert np.all(ijk > -1.0) and np.all(ijk < np.array(vol.dimensions))
        # the marker is still where the model put it
        assert vol.value_at(ph.spec.marker_center) == ph.spec.marker_hu
    cropped = _quiet(vda.load, tmp_path, roi=roi)
    assert len(cropped.files) < len(full.files)  # only the files the box needs


def test_roi_outside_the_volume_is_an_error_with_the_extent(tmp_path: Path) -> None:
    write_phantom(tmp_path, rows=32, columns=32, slices=8)
    with pytest.raises(GeometryError, match="lies outside the volume, which spans"):
        vda.load(tmp_path, roi=((500, 500, 500), (600, 600, 600)))
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        vda.load(tmp_path, stride=0)
