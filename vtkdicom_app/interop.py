"""pyvista interoperability: volumes as ``pyvista.ImageData`` with their geometry intact.

pyvista's own DICOM reader gives an image with an identity direction (an oblique or coronal
series then lies in the wrong place); :func:`volume_to_pyvista` keeps the volume's spacing,
origin and full direction matrix (pyvista >= 0.43 carries ``direction_matrix``), so
``grid.points`` are LPS millimetres and pyvista's filters (``slice``, ``threshold``,
``contour(method="flying_edges")``) work in patient space, like
:func:`vtkdicom_app.extract_surface` does.

.. warning::
   Give ``contour`` ``method="flying_edges"`` (or ``"marching_cubes"``). pyvista's default
   method runs vtkContourFilter, which in VTK 9.7 ignores the image's direction matrix: on a
   coronal, sagittal or oblique series its surface has the right shape in the wrong place
   (``tests/test_pyvista.py`` checks both, and notices when VTK changes).

Meshes from the library are ``vtkPolyData`` in LPS mm: ``pyvista.wrap(mesh)`` takes them as
they are (:func:`wrap_mesh` is the same call with a clear error when pyvista is missing).

pyvista is optional (``pip install vtkdicom_app[notebook]``); it is imported only when one of
these functions runs.

Examples
--------
>>> grid = vol.to_pyvista()                               # doctest: +SKIP
>>> bone = grid.contour([300.0], method="flying_edges")   # LPS mm, like extract_surface  # doctest: +SKIP
>>> pyvista.wrap(vda.extract_surface(vol, preset="bone")).plot()   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from vtkdicom_app.volume import Volume

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["volume_to_pyvista", "pyvista_to_volume", "wrap_mesh", "SCALARS_NAME", "PYVISTA_INSTALL_HINT"]

SCALARS_NAME = "values"
PYVISTA_INSTALL_HINT = "pyvista is not installed: pip install vtkdicom_app[notebook] (or pip install pyvista>=0.43)"


def _pyvista() -> Any:
    try:
        import pyvista
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(PYVISTA_INSTALL_HINT) from exc
    return pyvista


def volume_to_pyvista(vol: Volume, *, deep: bool = False) -> pyvista.ImageData:
    """A ``pyvista.ImageData`` with the volume's voxels, spacing, origin and direction.

    Parameters
    ----------
    vol : Volume
    deep : bool, default False
        False shares the voxel buffer with the volume (as :meth:`Volume.to_vtk` does);
        True copies it.

    Returns
    -------
    pyvista.ImageData
        Dimensions ``(ni, nj, nk)``, point scalars ``"values"`` in VTK order (i fastest; three
        components for RGB), ``direction_matrix`` = ``vol.direction``: ``grid.points`` are
        in LPS mm (contour it with ``method="flying_edges"``: see the module's warning).

    Raises
    ------
    ImportError
        pyvista is not installed (the message names ``pip install vtkdicom_app[notebook]``).
    """
    pv = _pyvista()
    grid = pv.wrap(vol.to_vtk(deep=deep))
    grid.point_data.active_scalars_name = SCALARS_NAME
    return grid


def pyvista_to_volume(grid: Any, *, scalars: str | None = None, metadata: dict[str, Any] | None = None) -> Volume:
    """A :class:`Volume` from a ``pyvista.ImageData`` (or a ``vtkImageData``), geometry included.

    Parameters
    ----------
    grid : pyvista.ImageData or vtkImageData
        A 3D image (a 2D image is one slice).
    scalars : str, optional
        Point array to use (default the active scalars).
    metadata : dict, optional
        Given to the volume.

    Returns
    -------
    Volume
        ``array`` of shape ``(k, j, i)`` (a copy), spacing, origin and direction from the grid.

    Raises
    ------
    ValueError
        The grid has no point scalars, or its extent does not start at 0.
    """
    from vtkmodules.util.numpy_support import vtk_to_numpy

    image = grid
    extent = image.GetExtent()
    if extent[0] != 0 or extent[2] != 0 or extent[4] != 0:
        raise ValueError(f"an image whose extent starts at {extent[0::2]} is not supported; its extent must start at 0")
    data = image.GetPointData()
    array = data.GetArray(scalars) if scalars is not None else data.GetScalars()
    if array is None:
        raise ValueError(f"the image has no point scalars{' named ' + repr(scalars) if scalars else ''}")
    ni, nj, nk = image.GetDimensions()
    values = vtk_to_numpy(array)
    components = array.GetNumberOfComponents()
    shape = (nk, nj, ni, components) if components > 1 else (nk, nj, ni)
    direction = np.array([image.GetDirectionMatrix().GetElement(r, c) for r in range(3) for c in range(3)]).reshape(3, 3)
    return Volume(
        np.array(values.reshape(shape)),
        spacing=tuple(image.GetSpacing()),
        origin=tuple(image.GetOrigin()),
        direction=direction,
        metadata=dict(metadata or {}),
    )


def wrap_mesh(mesh: Any) -> pyvista.PolyData:
    """``pyvista.wrap`` of a library mesh (a ``vtkPolyData`` in LPS mm), sharing its memory.

    Raises
    ------
    ImportError
        pyvista is not installed.
    """
    return _pyvista().wrap(mesh)
