"""Volume geometry: index <-> patient transforms and the VTK image it makes."""

from __future__ import annotations

import numpy as np
import pytest

from vtkdicom_app.volume import Volume


def _oblique_volume() -> Volume:
    theta = np.radians(25.0)
    r = np.array([np.cos(theta), np.sin(theta), 0.0])
    c = np.array([0.0, np.cos(0.3), -np.sin(0.3)])
    c -= (c @ r) * r
    c /= np.linalg.norm(c)
    n = np.cross(r, c)
    arr = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    return Volume(arr, spacing=(0.7, 0.9, 2.5), origin=(-10.0, 20.0, 30.0), direction=np.column_stack([r, c, n]))


def test_index_to_patient_follows_the_dicom_formula() -> None:
    vol = _oblique_volume()
    d = vol.direction
    i, j, k = 3, 2, 1
    expected = np.array(vol.origin) + i * 0.7 * d[:, 0] + j * 0.9 * d[:, 1] + k * 2.5 * d[:, 2]
    np.testing.assert_allclose(vol.index_to_patient((i, j, k)), expected)


def test_patient_to_index_inverts_index_to_patient() -> None:
    vol = _oblique_volume()
    ijk = np.array([[0, 0, 0], [5, 4, 3], [1.5, 2.25, 0.5]])
    np.testing.assert_allclose(vol.patient_to_index(vol.index_to_patient(ijk)), ijk, atol=1e-12)


def test_value_at_reads_array_in_kji_order() -> None:
    vol = _oblique_volume()
    p = vol.index_to_patient((5, 1, 2))
    assert vol.value_at(p) == vol.array[2, 1, 5]
    with pytest.raises(IndexError):
        vol.value_at(vol.index_to_patient((50, 0, 0)))


def test_field_of_view_and_dimensions() -> None:
    vol = _oblique_volume()
    assert vol.dimensions == (6, 5, 4)
    assert vol.field_of_view == pytest.approx((6 * 0.7, 5 * 0.9, 4 * 2.5))


def test_to_vtk_carries_geometry_and_shares_memory() -> None:
    vol = _oblique_volume()
    image = vol.to_vtk()
    assert image.GetDimensions() == (6, 5, 4)
    assert image.GetSpacing() == pytest.approx(vol.spacing)
    assert image.GetOrigin() == pytest.approx(vol.origin)
    m = image.GetDirectionMatrix()
    got = np.array([[m.GetElement(a, b) for b in range(3)] for a in range(3)])
    np.testing.assert_allclose(got, vol.direction)
    # VTK's own index -> physical transform agrees with ours
    out = [0.0, 0.0, 0.0]
    image.TransformContinuousIndexToPhysicalPoint(5, 4, 3, out)
    np.testing.assert_allclose(out, vol.index_to_patient((5, 4, 3)), atol=1e-9)
    # the scalar at VTK point (i, j, k) is array[k, j, i]
    assert image.GetScalarComponentAsDouble(5, 1, 2, 0) == vol.array[2, 1, 5]
    # zero copy: a change in numpy shows in VTK
    vol.array[2, 1, 5] = -7
    image.Modified()
    assert image.GetScalarComponentAsDouble(5, 1, 2, 0) == -7
    deep = vol.to_vtk(deep=True)
    vol.array[2, 1, 5] = 9
    assert deep.GetScalarComponentAsDouble(5, 1, 2, 0) == -7


def test_invalid_volumes_are_refused() -> None:
    with pytest.raises(ValueError):
        Volume(np.zeros((2, 2), np.int16))
    with pytest.raises(ValueError):
        Volume(np.zeros((2, 2, 2), np.int16), spacing=(1.0, 0.0, 1.0))
