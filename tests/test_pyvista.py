"""pyvista interoperability: ``vol.to_pyvista()`` keeps the geometry, pyvista's contour agrees
with :func:`vtkdicom_app.extract_surface`, library meshes wrap without conversion, and the
pyvista example plots off-screen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.interop import pyvista_to_volume, wrap_mesh
from vtkdicom_app.mesh import mesh_report
from vtkdicom_app.phantom import PhantomOrientation
from vtkdicom_app.volume import Volume

pv = pytest.importorskip("pyvista", reason="pyvista is not installed: pip install vtkdicom_app[notebook]")

ROOT = Path(__file__).resolve().parents[1]
# the grid of tests/test_surface.py, whose sphere volume is within 1 % of the exact one
PV: dict[str, Any] = dict(rows=80, columns=80, slices=80, pixel_spacing=(2.5, 2.5), slice_spacing=2.5, partial_volume=True)
SMALL: dict[str, Any] = dict(rows=20, columns=24, slices=12, pixel_spacing=(1.25, 1.5), slice_spacing=2.0)


@pytest.mark.parametrize("orientation", list(PhantomOrientation), ids=lambda o: o.value)
def test_to_pyvista_round_trips_geometry_and_voxels(phantom_factory: Any, orientation: PhantomOrientation) -> None:
    vol = vda.load(phantom_factory(**SMALL, orientation=orientation).outdir)
    grid = vol.to_pyvista()
    assert isinstance(grid, pv.ImageData)
    assert grid.dimensions == vol.dimensions
    np.testing.assert_allclose(grid.spacing, vol.spacing)
    np.testing.assert_allclose(grid.origin, vol.origin)
    np.testing.assert_allclose(grid.direction_matrix, vol.direction)
    # every point is its voxel's LPS position (VTK order: i fastest)
    ni, nj, nk = vol.dimensions
    for i, j, k in [(0, 0, 0), (ni - 1, nj - 1, nk - 1), (ni - 1, 0, 3), (2, nj - 1, 0)]:
        np.testing.assert_allclose(grid.points[i + ni * (j + nj * k)], vol.index_to_patient((i, j, k)), atol=1e-9)
        assert grid["values"][i + ni * (j + nj * k)] == vol.array[k, j, i]
    assert np.shares_memory(grid["values"], vol.array)  # no copy unless asked
    assert not np.shares_memory(vol.to_pyvista(deep=True)["values"], vol.array)

    back = pyvista_to_volume(grid)
    np.testing.assert_array_equal(back.array, vol.array)
    assert back.array.dtype == vol.array.dtype
    np.testing.assert_allclose(back.affine, vol.affine, atol=1e-12)


def test_to_pyvista_colour_volume_keeps_three_components() -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (3, 4, 5, 3), dtype=np.uint8)
    vol = Volume(rgb, spacing=(0.5, 0.6, 2.0), origin=(1.0, 2.0, 3.0))
    grid = vol.to_pyvista()
    assert grid["values"].shape == (60, 3)
    np.testing.assert_array_equal(pyvista_to_volume(grid).array, rgb)


def test_pyvista_to_volume_refuses_images_without_scalars() -> None:
    with pytest.raises(ValueError, match="no point scalars"):
        pyvista_to_volume(pv.ImageData(dimensions=(3, 3, 3)))


def _sphere_contour(vol: Volume, spec: Any, method: str) -> Any:
    mid = (spec.body_hu + spec.sphere_hu) / 2
    contour = vol.to_pyvista().contour([mid], method=method)
    return contour.connectivity("closest", closest_point=spec.sphere_center).clean()  # clean: drop the other pieces' points


@pytest.mark.parametrize("method", ["flying_edges", "marching_cubes"])
@pytest.mark.parametrize("orientation", [PhantomOrientation.AXIAL, PhantomOrientation.OBLIQUE], ids=lambda o: o.value)
def test_pyvista_contour_matches_extract_surface(phantom_factory: Any, orientation: PhantomOrientation, method: str) -> None:
    ph = phantom_factory(**PV, orientation=orientation)
    vol = vda.load(ph.outdir)
    spec = ph.spec
    mid = (spec.body_hu + spec.sphere_hu) / 2
    library = vda.extract_surface(vol, threshold=mid, upper=(spec.sphere_hu + spec.marker_hu) / 2, largest=True)
    report = mesh_report(library)
    contour = _sphere_contour(vol, spec, method)
    # the same sphere, in the same place, within the volume tolerance of tests/test_surface.py
    assert contour.volume == pytest.approx(report.volume_mm3, rel=0.01)
    assert contour.volume == pytest.approx(spec.sphere_volume_mm3, rel=0.01)
    np.testing.assert_allclose(contour.points.mean(axis=0), spec.sphere_center, atol=min(vol.spacing))
    np.testing.assert_allclose(contour.bounds, report.bounds, atol=min(vol.spacing))


@pytest.mark.xfail(
    strict=True,
    reason="VTK 9.7's vtkContourFilter (pyvista's default contour method) ignores an image's direction matrix; "
    "vtkdicom_app.interop says to use method='flying_edges'. When this passes, VTK fixed it: update the docs",
)
def test_pyvista_default_contour_method_on_an_oblique_image(phantom_factory: Any) -> None:
    ph = phantom_factory(**PV, orientation=PhantomOrientation.OBLIQUE)
    vol = vda.load(ph.outdir)
    contour = _sphere_contour(vol, ph.spec, "contour")
    np.testing.assert_allclose(contour.points.mean(axis=0), ph.spec.sphere_center, atol=min(vol.spacing))


def test_library_meshes_wrap_directly(phantom_factory: Any) -> None:
    from vtkmodules.util.numpy_support import vtk_to_numpy

    vol = vda.load(phantom_factory(**SMALL, orientation=PhantomOrientation.OBLIQUE).outdir)
    mesh = vda.extract_surface(vol, threshold=500.0)
    wrapped = pv.wrap(mesh)
    assert isinstance(wrapped, pv.PolyData) and wrapped.n_points == mesh.GetNumberOfPoints() and wrapped.n_cells == mesh.GetNumberOfCells()
    assert np.shares_memory(wrapped.points, vtk_to_numpy(mesh.GetPoints().GetData()))  # no copy, same LPS points
    assert wrapped.is_all_triangles
    assert wrap_mesh(mesh).n_points == mesh.GetNumberOfPoints()


def test_pyvista_example_plots_offscreen(tmp_path: Path) -> None:
    script = ROOT / "examples" / "05_pyvista.py"
    proc = subprocess.run(
        [sys.executable, str(script), "-", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT / "examples",
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "watertight True" in proc.stdout
    from PIL import Image

    picture = np.asarray(Image.open(tmp_path / "surface.png").convert("RGB"))
    assert picture.shape == (640, 640, 3)
    bright = picture.min(axis=2) > 150  # the bone surfaces (the outline is yellow, the text small)
    cols = np.flatnonzero(bright[100:].any(axis=0))
    assert cols.size > 20
    # the marker box on the patient's left is drawn right of the centre in the anterior view
    right_half = bright[:, 380:].sum()
    assert right_half > 200
