"""Jupyter support: rich display of volumes and an interactive viewer in the notebook.

* ``vol`` or ``seq`` as the last line of a cell shows a summary table and a three-plane
  thumbnail (:mod:`~vtkdicom_app.notebook.summary`); no patient identifiers unless
  :func:`show_phi` turned them on.
* :func:`view` gives an interactive viewer (ipywidgets): three slice scrollers (axial,
  coronal, sagittal) with window/level and preset controls and a linked crosshair, and a 3D
  view rendered in the kernel off-screen (VTK on EGL or software OpenGL: no GPU and no display
  needed) with the volume rendering presets and surfaces. Its state is a plain Python object
  (:class:`~vtkdicom_app.notebook.model.SliceViewerModel`,
  :class:`~vtkdicom_app.notebook.scene3d.Scene3D`) that scripts and tests drive without a
  browser.

The widgets need the optional extra: ``pip install vtkdicom_app[notebook]`` (ipywidgets,
pyvista, trame, trame-vtk, trame-vuetify). Names are imported lazily: importing this package
imports neither VTK nor ipywidgets.

Examples
--------
>>> import vtkdicom_app as vda, vtkdicom_app.notebook   # doctest: +SKIP
>>> vol = vda.load("study/")                             # doctest: +SKIP
>>> vol                                                  # table + thumbnail  # doctest: +SKIP
>>> vda.notebook.view(vol)                               # interactive viewer  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vtkdicom_app._lazy import lazy_names
from vtkdicom_app.notebook.summary import phi_shown, sequence_html, show_phi, volume_html

__all__ = [
    "show_phi",
    "phi_shown",
    "volume_html",
    "sequence_html",
    "view",
    "NotebookViewer",
    "SliceViewerModel",
    "Scene3D",
    "INSTALL_HINT",
]

INSTALL_HINT = "pip install vtkdicom_app[notebook]"

_LAZY = {
    "SliceViewerModel": "vtkdicom_app.notebook.model",
    "Scene3D": "vtkdicom_app.notebook.scene3d",
    "NotebookViewer": "vtkdicom_app.notebook.widget",
}

if TYPE_CHECKING:  # pragma: no cover
    from vtkdicom_app.notebook.model import SliceViewerModel  # noqa: F401
    from vtkdicom_app.notebook.scene3d import Scene3D  # noqa: F401
    from vtkdicom_app.notebook.widget import NotebookViewer
    from vtkdicom_app.volume import Volume, VolumeSequence


def view(data: Volume | VolumeSequence, **options: Any) -> NotebookViewer:
    """An interactive viewer of a volume (or a 4D sequence) in the notebook.

    Parameters
    ----------
    data : Volume or VolumeSequence
        A sequence gets a frame slider.
    **options
        Passed to :class:`~vtkdicom_app.notebook.widget.NotebookViewer` (``three_d``,
        ``vr_preset``, ``size_3d``, ``slice_pixels``...).

    Returns
    -------
    NotebookViewer
        Shows itself as the last line of a cell; ``.model`` and ``.scene`` hold its state.

    Raises
    ------
    ImportError
        ipywidgets (the ``notebook`` extra) is not installed; the message names
        ``pip install vtkdicom_app[notebook]``.
    """
    try:
        import ipywidgets  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"vtkdicom_app.notebook.view needs ipywidgets: {INSTALL_HINT}") from exc
    from vtkdicom_app.notebook.widget import NotebookViewer

    return NotebookViewer(data, **options)


__getattr__, __dir__ = lazy_names(__name__, _LAZY)

