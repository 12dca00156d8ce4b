"""The notebook viewer's 3D view: rendered in the kernel, off-screen, without a GPU or a display.

:class:`Scene3D` wraps :class:`vtkdicom_app.rendering.VolumeScene` (volume rendering with the
package's presets, surfaces, outline and orientation cube, all in LPS mm) in an off-screen
render window. Without an X display VTK draws through EGL (Mesa's llvmpipe on a machine
without a GPU; the GPU's driver where there is one); VTK's wheel also draws with OSMesa when
``libOSMesa`` is installed (``VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow``), and under
Xvfb through X. The CPU ray caster renders on software OpenGL.

Two ways to show it:

* :meth:`Scene3D.png`: a picture the ipywidgets viewer puts in an ``Image`` widget, redrawn
  after each change of preset, surface or camera (works in every front end, and in
  notebooks executed headless);
* :meth:`Scene3D.trame_layout`: trame's remote view of the same render window (trame-vtk):
  the browser rotates and zooms with the mouse while the kernel renders; in a notebook
  ``await layout.ready`` then ``layout`` shows it.

The state (preset, surfaces, camera) is plain attributes; :attr:`Scene3D.renders` counts the
frames drawn, so tests can tell what re-rendered.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from vtkdicom_app.geometry import as_enum
from vtkdicom_app.rendering import View, VolumeScene, load_volume_presets
from vtkdicom_app.volume import Volume

__all__ = ["Scene3D", "default_vr_preset", "TRAME_INSTALL_HINT"]

TRAME_INSTALL_HINT = "the interactive 3D view needs trame: pip install vtkdicom_app[notebook]"
_server_ids = itertools.count(1)


def default_vr_preset(vol: Volume) -> str:
    """``ct-bone`` for CT, ``mr-default`` for MR, else ``grey-ramp`` (when the preset exists)."""
    presets = load_volume_presets()
    for name in ("ct-bone" if vol.modality == "CT" else "", "mr-default" if vol.modality == "MR" else "", "grey-ramp", "ct-bone"):
        if name and name in presets:
            return name
    return next(iter(presets))


def _base_interactor() -> Any:
    """VTK's base ``vtkRenderWindowInteractor``: no platform event loop, no display connection.

    The factory's override (``vtkXRenderWindowInteractor`` on Linux) talks to an X server and
    aborts in Xlib on an EGL window without one; trame only needs an interactor to hand mouse
    events to. The override is switched off for this one ``New()`` and on again (without
    importing VTK's UI module, which stays in ``rendering/``).
    """
    from vtkmodules.vtkCommonCore import vtkObjectFactory
    from vtkmodules.vtkRenderingCore import vtkRenderWindowInteractor

    vtkObjectFactory.SetAllEnableFlags(0, "vtkRenderWindowInteractor")
    try:
        return vtkRenderWindowInteractor()
    finally:
        vtkObjectFactory.SetAllEnableFlags(1, "vtkRenderWindowInteractor")


class Scene3D:
    """A volume rendering with optional surfaces, rendered off-screen in the kernel.

    Parameters
    ----------
    vol : Volume
        Grey values (a colour volume cannot be volume rendered).
    vr_preset : str, optional
        A name from :func:`vtkdicom_app.rendering.load_volume_presets` (default from the
        modality, :func:`default_vr_preset`).
    size : tuple of int
        Picture size (width, height) in pixels.
    show_volume : bool
        Draw the volume rendering (surfaces alone otherwise).

    Attributes
    ----------
    vol : Volume
    scene : VolumeScene
        The VTK renderer and its off-screen render window (``scene.render_window``).
    vr_preset : str
    surfaces : dict of str to vtkActor
        Surfaces shown, by surface preset name.
    renders : int
        Frames rendered so far.
    """

    def __init__(self, vol: Volume, *, vr_preset: str | None = None, size: tuple[int, int] = (400, 400), show_volume: bool = True) -> None:
        self.vol = vol
        self.vr_preset = vr_preset or default_vr_preset(vol)
        self.scene = VolumeScene(vol, preset=self.vr_preset, size=size)
        self.surfaces: dict[str, Any] = {}
        self._meshes: dict[str, Any] = {}
        self.renders = 0
        self.show_volume = True
        self.set_volume_visible(show_volume)

    # ------------------------------------------------------------------ state
    @staticmethod
    def vr_presets() -> list[str]:
        """Names of the volume rendering presets."""
        return list(load_volume_presets())

    @staticmethod
    def surface_presets() -> list[str]:
        """Names of the surface presets (:func:`vtkdicom_app.load_surface_presets`)."""
        from vtkdicom_app.surface import load_surface_presets

        return list(load_surface_presets())

    def set_vr_preset(self, name: str) -> None:
        """Use another volume rendering preset (transfer functions, blend mode, shading)."""
        self.scene.set_preset(name)
        self.vr_preset = name

    def set_volume_visible(self, visible: bool) -> None:
        """Show or hide the volume rendering (surfaces stay)."""
        self.show_volume = bool(visible)
        self.scene.volume.SetVisibility(1 if self.show_volume else 0)

    def mesh(self, preset: str) -> Any:
        """The surface of a preset (:func:`vtkdicom_app.extract_surface`), computed once."""
        if preset not in self._meshes:
            from vtkdicom_app.surface import extract_surface

            self._meshes[preset] = extract_surface(self.vol, preset=preset)
        return self._meshes[preset]

    def add_surface(self, preset: str, *, color: Sequence[float] | None = None, opacity: float = 1.0) -> Any:
        """Show the surface of a surface preset (bone, skin, ...) in its colour.

        Returns
        -------
        vtkActor
        """
        from vtkdicom_app.surface import load_surface_presets

        presets = load_surface_presets()
        if preset not in presets:
            raise ValueError(f"unknown surface preset {preset!r}; use one of: {', '.join(presets)}")
        if preset in self.surfaces:
            return self.surfaces[preset]
        actor = self.scene.add_surface(self.mesh(preset), color=tuple(color or presets[preset].color), opacity=opacity)
        self.surfaces[preset] = actor
        return actor

    def remove_surface(self, preset: str) -> None:
        """Stop showing a surface (its mesh stays cached)."""
        actor = self.surfaces.pop(preset, None)
        if actor is not None:
            self.scene.renderer.RemoveActor(actor)
            self.scene.surfaces.remove(actor)

    def set_surfaces(self, presets: Sequence[str]) -> None:
        """Show exactly these surface presets."""
        for name in [n for n in self.surfaces if n not in presets]:
            self.remove_surface(name)
        for name in presets:
            self.add_surface(name)

    def set_view(self, view: View | str) -> None:
        """A standard camera: anterior, posterior, left, right, superior or inferior."""
        self.scene.set_view(as_enum(View, view))

    def rotate(self, azimuth: float = 0.0, elevation: float = 0.0) -> None:
        """Turn the camera about the view-up (azimuth) and the horizontal axis (elevation), degrees."""
        cam = self.scene.renderer.GetActiveCamera()
        cam.Azimuth(float(azimuth))
        cam.Elevation(float(elevation))
        cam.OrthogonalizeViewUp()
        self.scene.renderer.ResetCameraClippingRange()

    def zoom(self, factor: float) -> None:
        """Magnify the view (factor > 1 closer)."""
        if not factor > 0:
            raise ValueError(f"zoom factor must be positive, got {factor!r}")
        self.scene.renderer.GetActiveCamera().Zoom(float(factor))
        self.scene.renderer.ResetCameraClippingRange()

    def set_frame(self, vol: Volume) -> None:
        """Show another frame of a sequence (same grid); surfaces are recomputed when asked again."""
        self.scene.set_frame(vol)
        self.vol = vol
        shown = list(self.surfaces)
        for name in shown:
            self.remove_surface(name)
        self._meshes.clear()
        for name in shown:
            self.add_surface(name)

    # ------------------------------------------------------------------ pictures
    def render(self) -> np.ndarray:
        """Render a frame off-screen: ``(height, width, 3)`` uint8, row 0 at the top."""
        self.renders += 1
        return self.scene.to_array()

    def png(self) -> bytes:
        """:meth:`render` encoded as PNG."""
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(self.render()).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    def opengl(self) -> dict[str, Any]:
        """The OpenGL renderer drawing this scene (``renderer``, ``software``, ...) and the mapper."""
        from vtkdicom_app.rendering import opengl_info

        info = opengl_info(self.scene.render_window)
        info["mapper"] = self.scene.mapper_kind.value
        info["window"] = self.scene.render_window.GetClassName()
        return info

    # ------------------------------------------------------------------ trame
    def trame_layout(self, *, name: str | None = None, title: str = "vtkdicom_app 3D") -> Any:
        """The trame remote view of this scene: the browser interacts, the kernel renders.

        Parameters
        ----------
        name : str, optional
            The trame server's name (default a new one per call).
        title : str

        Returns
        -------
        trame layout
            In a notebook: ``await layout.ready`` then ``layout`` as the last line of a cell.
            ``layout.server`` is the trame server; its state ``vr_preset`` follows the
            preset menu.

        Raises
        ------
        ImportError
            trame, trame-vtk or trame-vuetify is not installed.
        """
        try:
            from trame.app import get_server  # type: ignore[import-untyped]
            from trame.ui.vuetify3 import SinglePageLayout  # type: ignore[import-untyped]
            from trame.widgets import vtk as vtk_widgets  # type: ignore[import-untyped]
            from trame.widgets import vuetify3
        except ImportError as exc:
            raise ImportError(TRAME_INSTALL_HINT) from exc
        from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera

        render_window = self.scene.render_window
        if render_window.GetInteractor() is None:
            # trame's remote view feeds the browser's mouse events to the interactor; never started here
            interactor = _base_interactor()
            interactor.SetRenderWindow(render_window)
            interactor.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        server = get_server(name or f"vtkdicom_app_3d_{next(_server_ids)}", client_type="vue3")
        server.state.vr_preset = self.vr_preset
        with SinglePageLayout(server) as layout:
            layout.title.set_text(title)
            with layout.toolbar:
                vuetify3.VSpacer()
                vuetify3.VSelect(
                    v_model=("vr_preset", self.vr_preset),
                    items=("vr_presets", self.vr_presets()),
                    label="Volume preset",
                    density="compact",
                    hide_details=True,
                    style="max-width: 240px",
                )
            with layout.content:
                view = vtk_widgets.VtkRemoteView(render_window, interactive_ratio=1)

        @server.state.change("vr_preset")
        def _preset_changed(vr_preset: str, **_: Any) -> None:
            if vr_preset and vr_preset != self.vr_preset:
                self.set_vr_preset(vr_preset)
                view.update()

        layout.remote_view = view
        return layout
