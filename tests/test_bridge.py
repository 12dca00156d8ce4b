"""numpy <-> VTK bridges: exact round trips, geometry, stated copy semantics."""

from __future__ import annotations

import gc

import numpy as np

from vtkdicom_app.bridge import array_to_image, arrays_to_mesh, image_to_array, image_to_volume, mesh_to_arrays


def test_image_round_trip_is_exact_with_geometry() -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(-1000, 3000, size=(5, 6, 7)).astype(np.int16)
    theta = np.radians(30)
    direction = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1.0]])
    image = array_to_image(arr, spacing=(0.5, 0.7, 2.0), origin=(1.0, 2.0, 3.0), direction=direction)
    assert image.GetDimensions() == (7, 6, 5)  # VTK (i, j, k)
    back, spacing, origin, d = image_to_array(image)
    assert back.dtype == arr.dtype and np.array_equal(back, arr)
    assert spacing == (0.5, 0.7, 2.0) and origin == (1.0, 2.0, 3.0)
    np.testing.assert_allclose(d, direction)
    vol = image_to_volume(image)
    np.testing.assert_allclose(vol.index_to_patient((6, 5, 4)), [*(direction @ ([6 * 0.5, 5 * 0.7, 4 * 2.0])) + [1, 2, 3]])


def test_zero_copy_both_ways_and_the_buffer_stays_alive() -> None:
    arr = np.zeros((3, 4, 5), np.float32)
    image = array_to_image(arr)  # shared
    arr[1, 2, 3] = 7.0
    assert image.GetScalarComponentAsDouble(3, 2, 1, 0) == 7.0
    del arr
    gc.collect()
    assert image.GetScalarComponentAsDouble(3, 2, 1, 0) == 7.0  # VTK keeps the numpy buffer alive
    view, *_ = image_to_array(image, copy=False)
    view[0, 0, 0] = 5.0
    assert image.GetScalarComponentAsDouble(0, 0, 0, 0) == 5.0
    copied, *_ = image_to_array(image, copy=True)
    copied[0, 0, 0] = 1.0
    assert image.GetScalarComponentAsDouble(0, 0, 0, 0) == 5.0
    deep = array_to_image(np.ones((2, 2, 2), np.int16), deep=True)
    assert deep.GetScalarComponentAsDouble(1, 1, 1, 0) == 1.0


def test_mesh_round_trip_is_exact() -> None:
    points = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    p, f = mesh_to_arrays(arrays_to_mesh(points, faces))
    assert np.array_equal(p, points) and np.array_equal(f, faces)
