"""Volume rendering of a :class:`~vtkdicom_app.volume.Volume` in patient space.

* Orientation: volume mappers ignore vtkImageData's direction matrix (VTK 9.7: the CPU ray
  caster ignores it although the volume's bounds claim otherwise), so the mapper gets an
  image with identity direction and zero origin and the full 4x4 (direction, origin) rides on
  the vtkVolume's UserMatrix; the outline and the surfaces use the same matrix, so all
  actors agree and the world is LPS millimetres.
* Mapper: the GPU ray caster on hardware OpenGL; on software OpenGL (Mesa llvmpipe,
  SwiftShader) the CPU ray caster (vtkFixedPointVolumeRayCastMapper), measured here at
  0.1 s per 512x512 frame against 2.5 s for the GPU mapper on llvmpipe. Chosen from the
  OpenGL renderer string, logged, overridable.
* Interaction: while the camera moves, the mappers adapt their sample distances to the
  desired update rate (``interactive(True)``); full quality when it stops.
* The viewer's 3D tools (issue 18): a crop box in LPS (:meth:`VolumeScene.set_crop_box`:
  the mapper's cropping on an axis-aligned grid, six clipping planes on an oblique one, and
  clipping planes on every surface), a box widget whose face drags report a new box
  (:meth:`VolumeScene.enable_crop_widget`), the three MPR planes drawn as outlines clipped
  to the volume's box (:meth:`VolumeScene.set_slice_planes`, :func:`plane_box_polygon`), the
  background (:meth:`VolumeScene.set_background`), a camera fitted to the volume's eight
  corners however tall it is (:meth:`VolumeScene.fit_camera`) and edited opacity points of a
  preset (:meth:`VolumeScene.set_opacity_points`).

No Qt here: the viewer (``app/``) hosts these objects in its widgets.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.errors import ColourVolumeError, VtkDicomError
from vtkdicom_app.geometry import as_enum, sampled_percentiles
from vtkdicom_app.presets import PresetKind, load_presets
from vtkdicom_app.volume import Volume

__all__ = [
    "BlendMode",
    "MapperKind",
    "View",
    "VolumePreset",
    "VolumeScene",
    "load_volume_presets",
    "opengl_info",
    "data_to_preset",
    "plane_box_polygon",
    "preset_to_data",
    "value_range",
    "choose_mapper",
    "ensure_offscreen_backend",
    "write_png",
    "write_gif",
    "grab_render_window",
]

log = logging.getLogger(__name__)

_SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "swiftshader", "software rasterizer", "mesa offscreen", "lavapipe")


class BlendMode(enum.Enum):
    """How samples along a ray combine."""

    COMPOSITE = "composite"
    MIP = "mip"
    MINIP = "minip"


class MapperKind(enum.Enum):
    """Which volume mapper renders."""

    AUTO = "auto"
    GPU = "gpu"
    CPU = "cpu"


class View(enum.Enum):
    """Standard cameras, named by where the viewer stands relative to the patient.

    Value: (direction from the focal point to the camera, view-up), in LPS.
    """

    ANTERIOR = ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0))
    POSTERIOR = ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    LEFT = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0))
    RIGHT = ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0))
    SUPERIOR = ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0))
    INFERIOR = ((0.0, 0.0, -1.0), (0.0, -1.0, 0.0))


@dataclasses.dataclass(frozen=True)
class VolumePreset:
    """A transfer function from ``data/volume_presets.json``.

    Attributes
    ----------
    name, modality : str
        Modality "CT" (points in HU) or "MR"/"any" (points on 0..1 of the volume's
        1st-99th percentile range).
    blend : BlendMode
    shade : bool
    opacity : tuple of (value, opacity)
    color : tuple of (value, r, g, b)
    ambient, diffuse, specular, specular_power : float
    """

    name: str
    modality: str
    blend: BlendMode
    shade: bool
    opacity: tuple[tuple[float, float], ...]
    color: tuple[tuple[float, float, float, float], ...]
    ambient: float
    diffuse: float
    specular: float
    specular_power: float

    @property
    def normalized(self) -> bool:
        """True when the points are on a 0..1 scale (MR, any)."""
        return self.modality != "CT"


def _volume_preset(item: dict[str, Any]) -> VolumePreset:
    """One VolumePreset from its JSON object; ValueError when a value is out of range."""
    opacity = tuple((float(v), float(o)) for v, o in item["opacity"])
    color = tuple((float(v), float(r), float(g), float(b)) for v, r, g, b in item["color"])
    preset = VolumePreset(
        name=str(item["name"]),
        modality=str(item["modality"]),
        blend=BlendMode(item["blend"]),
        shade=bool(item["shade"]),
        opacity=opacity,
        color=color,
        ambient=float(item["ambient"]),
        diffuse=float(item["diffuse"]),
        specular=float(item["specular"]),
        specular_power=float(item["specular_power"]),
    )
    if any(not 0.0 <= o <= 1.0 for _v, o in opacity) or any(not 0.0 <= c <= 1.0 for p in color for c in p[1:]):
        raise ValueError("opacity or colour values outside 0..1")
    if [v for v, _o in opacity] != sorted(v for v, _o in opacity):
        raise ValueError("opacity points are not sorted by value")
    return preset


@lru_cache(maxsize=1)
def load_volume_presets() -> dict[str, VolumePreset]:
    """Volume rendering presets from the package's JSON file, validated, keyed by name."""
    return load_presets(PresetKind.VOLUME, _volume_preset)


def ensure_offscreen_backend() -> None:
    """Without an X display, make VTK pick EGL directly (no failed X connection first)."""
    if not os.environ.get("DISPLAY") and "VTK_DEFAULT_OPENGL_WINDOW" not in os.environ:
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"


def opengl_info(render_window: Any) -> dict[str, Any]:
    """Renderer, vendor and version strings of a render window's OpenGL context.

    Returns
    -------
    dict
        ``renderer``, ``vendor``, ``version`` and ``software`` (True for Mesa llvmpipe & co).
    """
    text = render_window.ReportCapabilities() or ""
    if "OpenGL renderer" not in text:  # no context yet: make one
        render_window.Render()
        text = render_window.ReportCapabilities() or ""
    info: dict[str, Any] = {"renderer": "", "vendor": "", "version": ""}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "opengl renderer string":
            info["renderer"] = value.strip()
        elif key == "opengl vendor string":
            info["vendor"] = value.strip()
        elif key == "opengl version string":
            info["version"] = value.strip()
    info["software"] = any(s in info["renderer"].lower() for s in _SOFTWARE_RENDERERS)
    return info


def choose_mapper(render_window: Any, requested: MapperKind | str = MapperKind.AUTO) -> MapperKind:
    """The mapper to use: GPU on hardware OpenGL, CPU on software OpenGL, or as requested.

    ``VTKDICOM_APP_MAPPER=gpu|cpu`` overrides AUTO.
    """
    kind = MapperKind(requested) if not isinstance(requested, MapperKind) else requested
    env = os.environ.get("VTKDICOM_APP_MAPPER", "").strip().lower()
    if kind is MapperKind.AUTO and env in ("gpu", "cpu"):
        kind = MapperKind(env)
        log.info("volume mapper %s forced by VTKDICOM_APP_MAPPER", kind.value)
        return kind
    if kind is not MapperKind.AUTO:
        log.info("volume mapper %s as requested", kind.value)
        return kind
    info = opengl_info(render_window)
    kind = MapperKind.CPU if info["software"] or not info["renderer"] else MapperKind.GPU
    log.info("OpenGL renderer %r (%s): %s volume mapper", info["renderer"], "software" if info["software"] else "hardware", kind.value)
    return kind


def _refuse_colour(vol: Volume) -> None:
    if vol.array.ndim == 4:
        raise ColourVolumeError(f"a colour (RGB) volume {vol.array.shape[:3]} cannot be volume rendered: the transfer functions need one grey value per voxel")


def _user_matrix(vol: Volume) -> Any:
    from vtkmodules.vtkCommonMath import vtkMatrix4x4

    m = vtkMatrix4x4()
    for r in range(3):
        for c in range(3):
            m.SetElement(r, c, float(vol.direction[r, c]))
        m.SetElement(r, 3, float(vol.origin[r]))
    return m


def value_range(vol: Volume) -> tuple[float, float]:
    """The 1st and 99th percentiles of a volume's values (padding excluded).

    The range that the points of a normalised preset (MR, any) span: 0 maps to the first
    value, 1 to the second.
    """
    if vol.array.size == 0:
        return 0.0, 1.0
    lo, hi = sampled_percentiles(vol.array, (1, 99), max_samples=1_000_000, exclude=vol.padding_value)
    return float(lo), float(hi if hi > lo else lo + 1.0)


def preset_to_data(preset: VolumePreset, v: float, values: tuple[float, float], shift: float = 0.0) -> float:
    """A preset point's position in the data's units (HU for CT).

    Parameters
    ----------
    preset : VolumePreset
    v : float
        The point's value as the preset file gives it (HU, or 0..1 of ``values`` for a
        normalised preset).
    values : tuple of float
        :func:`value_range` of the volume.
    shift : float
        The transfer-function shift (the data's units).
    """
    lo, hi = values
    return (lo + v * (hi - lo) if preset.normalized else v) + shift


def data_to_preset(preset: VolumePreset, value: float, values: tuple[float, float], shift: float = 0.0) -> float:
    """The inverse of :func:`preset_to_data`: a value in the data's units on the preset's own scale."""
    lo, hi = values
    v = value - shift
    return (v - lo) / (hi - lo) if preset.normalized else v


_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if (a ^ b) in (1, 2, 4)]
"""The twelve edges of a box given by its corners in :func:`~vtkdicom_app.geometry.grid_corners` order."""


def plane_box_polygon(point: npt.ArrayLike, normal: npt.ArrayLike, corners: npt.ArrayLike) -> np.ndarray:
    """Where a plane cuts a (possibly oblique) box: the polygon's vertices in order.

    Parameters
    ----------
    point, normal : sequence of float
        A point of the plane and its normal (LPS mm; the normal need not be unit).
    corners : numpy.ndarray
        ``(8, 3)``: the box's corners in :func:`~vtkdicom_app.geometry.grid_corners` order
        (``Volume.corners``).

    Returns
    -------
    numpy.ndarray
        ``(N, 3)`` LPS points, 3 <= N <= 6, going round the polygon; ``(0, 3)`` when the
        plane misses the box (or only touches an edge).
    """
    p0 = np.asarray(point, float).reshape(3)
    n = np.asarray(normal, float).reshape(3)
    n = n / (np.linalg.norm(n) or 1.0)
    c = np.asarray(corners, float).reshape(8, 3)
    d = (c - p0) @ n
    scale = max(1e-9, float(np.ptp(c, axis=0).max()) * 1e-9)
    hits: list[np.ndarray] = []
    for a, b in _EDGES:
        da, db = d[a], d[b]
        if abs(da) <= scale:
            hits.append(c[a])
        if abs(db) <= scale:
            hits.append(c[b])
        if (da < -scale and db > scale) or (da > scale and db < -scale):
            t = da / (da - db)
            hits.append(c[a] + t * (c[b] - c[a]))
    if not hits:
        return np.zeros((0, 3))
    pts = np.unique(np.round(np.asarray(hits), 9), axis=0)
    if len(pts) < 3:
        return np.zeros((0, 3))
    centre = pts.mean(axis=0)
    u = pts[0] - centre
    u = u / (np.linalg.norm(u) or 1.0)
    v = np.cross(n, u)
    angles = np.arctan2((pts - centre) @ v, (pts - centre) @ u)
    return pts[np.argsort(angles)]


def _axis_aligned(direction: np.ndarray) -> bool:
    """Each column of the direction matrix is a signed LPS axis (cropping can be done in index space)."""
    a = np.abs(np.asarray(direction, float))
    return bool(np.all((np.abs(a - 1.0) < 1e-6) | (a < 1e-6)) and np.all(a.sum(axis=0) > 0.5))


def grab_render_window(render_window: Any) -> np.ndarray:
    """Render and read back a render window as ``(height, width, 3)`` uint8, row 0 at the top."""
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

    render_window.Render()
    grab = vtkWindowToImageFilter()
    grab.SetInput(render_window)
    grab.SetInputBufferTypeToRGB()
    grab.ReadFrontBufferOff()
    grab.Update()
    image = grab.GetOutput()
    w, h, _ = image.GetDimensions()
    rgb = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(h, w, -1)[:, :, :3]
    return np.ascontiguousarray(rgb[::-1])


def write_png(rgb: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write an ``(h, w, 3)`` uint8 image as PNG, atomically."""
    from PIL import Image

    _atomic_save(lambda p: Image.fromarray(np.ascontiguousarray(rgb)).save(p, format="PNG"), path)


def write_gif(frames: Sequence[np.ndarray], path: str | os.PathLike[str], *, fps: float = 12.0) -> None:
    """Write frames as a looping GIF (Pillow), atomically."""
    from PIL import Image

    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    if not images:
        raise VtkDicomError("no frames to write")

    def save(p: str) -> None:
        images[0].save(p, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)

    _atomic_save(save, path)


def _atomic_save(save: Any, path: str | os.PathLike[str]) -> None:
    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        save(tmp)


class VolumeScene:
    """A renderer with one volume, its outline, orientation cube and optional surfaces.

    Parameters
    ----------
    vol : Volume
    preset : str
        A name from :func:`load_volume_presets`.
    shift : float
        Moves the transfer function along the value axis (HU for CT).
    opacity_scale : float
        Multiplies every opacity.
    blend : BlendMode, optional
        Overrides the preset's blend mode.
    mapper : MapperKind or str
        AUTO picks from the OpenGL renderer string.
    size : tuple of int
        Window size in pixels (width, height).
    render_window : vtkRenderWindow, optional
        Render into an existing window (the Qt viewer's); default an offscreen one.
    show_outline, show_orientation : bool
        Bounding box and the L/R/A/P/S/I cube.

    Examples
    --------
    >>> scene = VolumeScene(vol, preset="ct-bone")       # doctest: +SKIP
    >>> scene.set_view(View.ANTERIOR); scene.screenshot("bone.png")   # doctest: +SKIP
    """

    def __init__(
        self,
        vol: Volume,
        *,
        preset: str = "ct-bone",
        shift: float = 0.0,
        opacity_scale: float = 1.0,
        blend: BlendMode | str | None = None,
        mapper: MapperKind | str = MapperKind.AUTO,
        size: tuple[int, int] = (512, 512),
        render_window: Any = None,
        show_outline: bool = True,
        show_orientation: bool = True,
    ) -> None:
        _refuse_colour(vol)
        ensure_offscreen_backend()
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL factories)
        import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401
        from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow, vtkVolume

        self.vol = vol
        if render_window is None:
            render_window = vtkRenderWindow()
            render_window.SetOffScreenRendering(1)
            render_window.SetSize(*size)
            render_window.SetMultiSamples(0)
        self.render_window = render_window
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        render_window.AddRenderer(self.renderer)
        self.mapper_kind = choose_mapper(render_window, mapper)
        self._matrix = _user_matrix(vol)
        self._image = Volume(vol.array, spacing=vol.spacing).to_vtk()  # identity direction, zero origin
        self.mapper = self._make_mapper(self.mapper_kind)
        self.volume = vtkVolume()
        self.volume.SetMapper(self.mapper)
        self.volume.SetUserMatrix(self._matrix)
        self.renderer.AddVolume(self.volume)
        self._percentiles = self._value_range()
        self.opacity_overrides: dict[str, tuple[tuple[float, float], ...]] = {}  # edited opacity points, by preset
        self.crop_box: tuple[float, ...] | None = None  # LPS x0, y0, z0, x1, y1, z1
        self._crop_planes: list[Any] = []
        self._clip_plane: Any = None
        self.crop_widget: Any = None
        self._crop_handles = True
        self.slice_plane_actors: dict[str, Any] = {}
        self.preset_name = preset
        self.set_preset(preset, shift=shift, opacity_scale=opacity_scale, blend=blend)
        self.outline = self._make_outline() if show_outline else None
        self._marker_renderer = self._make_orientation_cube() if show_orientation else None
        self.surfaces: list[Any] = []
        self.set_view(View.ANTERIOR)
        self.interactive(False)

    def set_frame(self, vol: Volume) -> None:
        """Show the voxels of another frame of the same geometry (camera and preset stay)."""
        _refuse_colour(vol)
        if vol.shape != self.vol.shape:
            raise VtkDicomError(f"frame shape {vol.shape} differs from {self.vol.shape}")
        self.vol = vol
        self._image = Volume(vol.array, spacing=vol.spacing).to_vtk()
        self.mapper.SetInputData(self._image)
        if self.outline is not None:
            self.outline.GetMapper().GetInputAlgorithm().SetInputData(self._image)

    def cine(self, frames: Sequence[Volume]) -> list[np.ndarray]:
        """One rendered image per frame (a 4D sequence played in place)."""
        images = []
        for vol in frames:
            self.set_frame(vol)
            images.append(self.to_array())
        return images

    # ------------------------------------------------------------------ building
    def _make_mapper(self, kind: MapperKind) -> Any:
        if kind is MapperKind.GPU:
            from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkOpenGLGPUVolumeRayCastMapper

            mapper: Any = vtkOpenGLGPUVolumeRayCastMapper()
        else:
            from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper

            mapper = vtkFixedPointVolumeRayCastMapper()
            mapper.SetNumberOfThreads(max(1, os.cpu_count() or 1))
        mapper.SetInputData(self._image)
        mapper.SetAutoAdjustSampleDistances(1)
        return mapper

    def _value_range(self) -> tuple[float, float]:
        return value_range(self.vol)

    def _make_outline(self) -> Any:
        from vtkmodules.vtkFiltersModeling import vtkOutlineFilter
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

        outline = vtkOutlineFilter()
        outline.SetInputData(self._image)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(outline.GetOutputPort())
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.SetUserMatrix(self._matrix)
        actor.GetProperty().SetColor(0.9, 0.9, 0.3)
        actor.PickableOff()
        self.renderer.AddActor(actor)
        return actor

    def _make_orientation_cube(self) -> Any:
        from vtkmodules.vtkCommonCore import vtkCommand
        from vtkmodules.vtkRenderingAnnotation import vtkAnnotatedCubeActor
        from vtkmodules.vtkRenderingCore import vtkRenderer

        cube = vtkAnnotatedCubeActor()
        # LPS world: +x is the patient's Left, +y Posterior, +z Superior
        cube.SetXPlusFaceText("L")
        cube.SetXMinusFaceText("R")
        cube.SetYPlusFaceText("P")
        cube.SetYMinusFaceText("A")
        cube.SetZPlusFaceText("S")
        cube.SetZMinusFaceText("I")
        cube.SetFaceTextScale(0.6)
        cube.GetCubeProperty().SetColor(0.35, 0.45, 0.6)
        cube.GetTextEdgesProperty().SetColor(1, 1, 1)
        for prop in (cube.GetXPlusFaceProperty(), cube.GetXMinusFaceProperty()):
            prop.SetColor(1.0, 0.4, 0.4)
        for prop in (cube.GetYPlusFaceProperty(), cube.GetYMinusFaceProperty()):
            prop.SetColor(0.4, 1.0, 0.4)
        for prop in (cube.GetZPlusFaceProperty(), cube.GetZMinusFaceProperty()):
            prop.SetColor(0.5, 0.6, 1.0)
        ren = vtkRenderer()
        ren.SetViewport(0.0, 0.0, 0.18, 0.18)
        ren.SetLayer(1)
        ren.InteractiveOff()
        ren.AddActor(cube)
        self.render_window.SetNumberOfLayers(max(2, self.render_window.GetNumberOfLayers()))
        self.render_window.AddRenderer(ren)
        self.renderer.AddObserver(vtkCommand.StartEvent, lambda *_: self._sync_cube())
        self._cube = cube
        return ren

    def _sync_cube(self) -> None:
        if self._marker_renderer is None:
            return
        main = self.renderer.GetActiveCamera()
        cam = self._marker_renderer.GetActiveCamera()
        direction = np.asarray(main.GetPosition()) - np.asarray(main.GetFocalPoint())
        norm = np.linalg.norm(direction) or 1.0
        cam.SetFocalPoint(0.0, 0.0, 0.0)
        cam.SetPosition(*(direction / norm * 4.0))
        cam.SetViewUp(*main.GetViewUp())
        self._marker_renderer.ResetCameraClippingRange()

    # ------------------------------------------------------------------ appearance
    def set_preset(
        self,
        name: str,
        *,
        shift: float = 0.0,
        opacity_scale: float = 1.0,
        blend: BlendMode | str | None = None,
        opacity_points: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        """Apply a preset, shifted along the value axis and with scaled opacity.

        ``opacity_points`` (on the preset's own scale, like its file) replace the preset's;
        left out, the points edited with :meth:`set_opacity_points` are used, else the preset's.
        """
        from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
        from vtkmodules.vtkRenderingCore import vtkColorTransferFunction, vtkVolumeProperty

        presets = load_volume_presets()
        if name not in presets:
            raise VtkDicomError(f"unknown volume preset {name!r}; choose one of {', '.join(presets)}")
        p = presets[name]
        lo, hi = self._percentiles

        def value(v: float) -> float:
            return (lo + v * (hi - lo) if p.normalized else v) + shift

        points = tuple(opacity_points) if opacity_points is not None else self.opacity_overrides.get(name, p.opacity)
        opacity = vtkPiecewiseFunction()
        for v, o in points:
            opacity.AddPoint(value(v), float(np.clip(o * opacity_scale, 0.0, 1.0)))
        color = vtkColorTransferFunction()
        for v, r, g, b in p.color:
            color.AddRGBPoint(value(v), r, g, b)
        prop = vtkVolumeProperty()
        prop.SetColor(color)
        prop.SetScalarOpacity(opacity)
        prop.SetInterpolationTypeToLinear()
        prop.SetShade(1 if p.shade else 0)
        prop.SetAmbient(p.ambient)
        prop.SetDiffuse(p.diffuse)
        prop.SetSpecular(p.specular)
        prop.SetSpecularPower(p.specular_power)
        prop.SetScalarOpacityUnitDistance(min(self.vol.spacing))
        self.volume.SetProperty(prop)
        mode = BlendMode(blend) if blend is not None and not isinstance(blend, BlendMode) else (blend or p.blend)
        if mode is BlendMode.MIP:
            self.mapper.SetBlendModeToMaximumIntensity()
        elif mode is BlendMode.MINIP:
            self.mapper.SetBlendModeToMinimumIntensity()
        else:
            self.mapper.SetBlendModeToComposite()
        self.preset_name = name
        self.blend = mode
        self.shift, self.opacity_scale, self._blend_request = float(shift), float(opacity_scale), blend

    def set_opacity_points(self, preset: str, points: Sequence[tuple[float, float]] | None) -> None:
        """Replace a preset's opacity points (its own scale: HU, or 0..1 of :func:`value_range`); None: the preset's again.

        The edit is kept for that preset (a later :meth:`set_preset` of it uses the points) and
        applied at once when it is the preset shown.
        """
        if preset not in load_volume_presets():
            raise VtkDicomError(f"unknown volume preset {preset!r}")
        if points is None:
            self.opacity_overrides.pop(preset, None)
        else:
            self.opacity_overrides[preset] = tuple((float(v), float(o)) for v, o in points)
        if preset == self.preset_name:
            self.set_preset(preset, shift=self.shift, opacity_scale=self.opacity_scale, blend=self._blend_request)

    def opacity_function(self) -> list[tuple[float, float]]:
        """The scalar opacity points the mapper uses now: ``(value in the data's units, opacity)``."""
        fn = self.volume.GetProperty().GetScalarOpacity()
        out = []
        for i in range(fn.GetSize()):
            node = [0.0, 0.0, 0.0, 0.0]
            fn.GetNodeValue(i, node)
            out.append((float(node[0]), float(node[1])))
        return out

    def set_background(self, color: Sequence[float], top: Sequence[float] | None = None) -> None:
        """The renderer's background: one RGB colour (0..1), or a vertical gradient from ``color`` (bottom) to ``top``."""
        self.renderer.SetBackground(*(float(c) for c in color))
        if top is None:
            self.renderer.GradientBackgroundOff()
        else:
            self.renderer.SetBackground2(*(float(c) for c in top))
            self.renderer.GradientBackgroundOn()

    def add_surface(self, mesh: Any, *, color: Sequence[float] = (0.95, 0.92, 0.84), opacity: float = 1.0) -> Any:
        """Add a mesh in LPS mm (from :func:`vtkdicom_app.surface.extract_surface`)."""
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

        mapper = vtkPolyDataMapper()
        mapper.SetInputData(mesh)
        mapper.ScalarVisibilityOff()
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*color)
        actor.GetProperty().SetOpacity(opacity)
        self.clip_actor(actor)
        self.renderer.AddActor(actor)
        self.surfaces.append(actor)
        return actor

    def set_cropping(self, ijk_box: Sequence[float] | None) -> None:
        """Crop to ``(i0, i1, j0, j1, k0, k1)`` voxel indices (None: no cropping)."""
        if ijk_box is None:
            self.mapper.CroppingOff()
            return
        sp = self.vol.spacing
        planes = [ijk_box[0] * sp[0], ijk_box[1] * sp[0], ijk_box[2] * sp[1], ijk_box[3] * sp[1], ijk_box[4] * sp[2], ijk_box[5] * sp[2]]
        self.mapper.SetCroppingRegionPlanes(*planes)
        self.mapper.SetCroppingRegionFlagsToSubVolume()
        self.mapper.CroppingOn()

    def set_clipping_plane(self, origin: Sequence[float] | None, normal: Sequence[float] | None = None) -> None:
        """Keep the half-space the normal points into (LPS mm); None removes the plane.

        Both volume mappers take clipping planes in world coordinates (checked with an
        oblique volume, whose user matrix is not the identity).
        """
        from vtkmodules.vtkCommonDataModel import vtkPlane

        self._clip_plane = None
        if origin is not None and normal is not None:
            n = np.asarray(normal, float)
            plane = vtkPlane()
            plane.SetOrigin(*(float(v) for v in origin))
            plane.SetNormal(*(n / np.linalg.norm(n)))
            self._clip_plane = plane
        self._apply_mapper_planes()

    def _apply_mapper_planes(self) -> None:
        self.mapper.RemoveAllClippingPlanes()
        planes = [] if self._clip_plane is None else [self._clip_plane]
        if self.crop_box is not None and not _axis_aligned(self.vol.direction):
            planes += self._crop_planes  # an oblique grid: the LPS box is not an index box
        for plane in planes:
            self.mapper.AddClippingPlane(plane)

    # ------------------------------------------------------------------ crop box (volume and surfaces)
    def set_crop_box(self, box: Sequence[float] | None) -> None:
        """Crop the volume rendering and every surface to an LPS box (None: no crop).

        Parameters
        ----------
        box : sequence of 6 float or None
            ``x0, y0, z0, x1, y1, z1`` in mm, low corner first. On a grid whose axes are LPS
            axes (any order and sign) the mapper's cropping takes the box as an index box; on
            an oblique grid six clipping planes (world coordinates) do. Surfaces (those added
            with :meth:`add_surface` and actors given to :meth:`clip_actor`) get the six
            planes. The crop widget, when enabled, is placed on the box.
        """
        from vtkmodules.vtkCommonDataModel import vtkPlane

        if box is None:
            self.crop_box, self._crop_planes = None, []
            self.mapper.CroppingOff()
        else:
            b = tuple(float(v) for v in box)
            if len(b) != 6 or any(not b[a] < b[a + 3] for a in range(3)):
                raise VtkDicomError(f"a crop box is x0, y0, z0, x1, y1, z1 mm with each low below its high, got {box!r}")
            self.crop_box = b
            self._crop_planes = []
            for axis in range(3):
                for value, sign in ((b[axis], 1.0), (b[axis + 3], -1.0)):
                    plane = vtkPlane()
                    origin = [0.0, 0.0, 0.0]
                    origin[axis] = value
                    normal = [0.0, 0.0, 0.0]
                    normal[axis] = sign  # points into the box: the kept side
                    plane.SetOrigin(*origin)
                    plane.SetNormal(*normal)
                    self._crop_planes.append(plane)
            if _axis_aligned(self.vol.direction):
                corners = np.array([[x, y, z] for x in (b[0], b[3]) for y in (b[1], b[4]) for z in (b[2], b[5])])
                ijk = self.vol.patient_to_index(corners)
                lo, hi = ijk.min(axis=0), ijk.max(axis=0)
                self.set_cropping((lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]))
            else:
                self.mapper.CroppingOff()
        self._apply_mapper_planes()
        for actor in self.surfaces:
            self.clip_actor(actor)
        self._place_crop_widget()

    def clip_actor(self, actor: Any) -> None:
        """Give a surface actor (LPS, no user matrix) the crop box's clipping planes (none without a box)."""
        mapper = actor.GetMapper()
        mapper.RemoveAllClippingPlanes()
        for plane in self._crop_planes:
            mapper.AddClippingPlane(plane)

    def enable_crop_widget(self, interactor: Any, on_change: Callable[[tuple[float, ...]], None]) -> Any:
        """A box widget on the crop box: dragging a face, or the box, calls ``on_change(box)`` (LPS, as for :meth:`set_crop_box`).

        The widget is input only: the caller decides what the box becomes and calls
        :meth:`set_crop_box`, which places the widget again. Rotation is off (the box stays
        aligned with the LPS axes). Shown while a crop box is set and :meth:`set_crop_handles` allows.
        """
        from vtkmodules.vtkCommonCore import vtkCommand
        from vtkmodules.vtkInteractionWidgets import vtkBoxRepresentation, vtkBoxWidget2

        rep = vtkBoxRepresentation()
        rep.SetPlaceFactor(1.0)
        rep.GetOutlineProperty().SetColor(0.95, 0.95, 0.95)
        rep.GetSelectedOutlineProperty().SetColor(1.0, 0.6, 0.2)
        rep.SetInsideOut(False)
        widget = vtkBoxWidget2()
        widget.SetInteractor(interactor)
        widget.SetRepresentation(rep)
        widget.SetCurrentRenderer(self.renderer)  # the volume's renderer, not the orientation cube's
        widget.SetDefaultRenderer(self.renderer)
        widget.RotationEnabledOff()
        widget.AddObserver(vtkCommand.InteractionEvent, lambda *_: on_change(self.crop_widget_box()))
        self.crop_widget = widget
        self._place_crop_widget()
        return widget

    def disable_crop_widget(self) -> None:
        """Take the box widget off the interactor (the scene is being replaced)."""
        if self.crop_widget is not None:
            self.crop_widget.Off()
            self.crop_widget.SetInteractor(None)
            self.crop_widget = None

    def set_crop_handles(self, visible: bool) -> None:
        """Show the crop box widget (while a box is set) or hide it (the crop stays)."""
        self._crop_handles = bool(visible)
        self._place_crop_widget()

    def crop_widget_box(self) -> tuple[float, ...]:
        """The box the widget shows now: ``x0, y0, z0, x1, y1, z1`` (LPS mm)."""
        from vtkmodules.util.numpy_support import vtk_to_numpy
        from vtkmodules.vtkCommonDataModel import vtkPolyData

        if self.crop_widget is None:
            raise VtkDicomError("no crop widget: call enable_crop_widget() first")
        poly = vtkPolyData()
        self.crop_widget.GetRepresentation().GetPolyData(poly)
        corners = vtk_to_numpy(poly.GetPoints().GetData())[:8]  # the hexahedron's corners come first
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        return (*(float(v) for v in lo), *(float(v) for v in hi))

    def _place_crop_widget(self) -> None:
        widget = self.crop_widget
        if widget is None:
            return
        box = self.crop_box
        if box is None or not self._crop_handles:
            widget.Off()
            return
        if not np.allclose(self.crop_widget_box(), box, atol=1e-6):
            widget.GetRepresentation().PlaceWidget([box[0], box[3], box[1], box[4], box[2], box[5]])
        if not widget.GetEnabled():
            widget.On()

    # ------------------------------------------------------------------ slice planes
    def set_slice_planes(self, outlines: Mapping[str, tuple[np.ndarray, Sequence[float]]] | None) -> None:
        """Draw planes as closed outlines: ``{key: (points (N, 3) LPS in order, RGB colour)}``.

        One actor per key, kept and refilled (keys left out, and outlines of fewer than three
        points, are hidden; None hides all). The points usually come from
        :func:`plane_box_polygon` of each MPR plane through the crosshair.
        """
        from vtkmodules.vtkCommonCore import vtkPoints
        from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

        outlines = outlines or {}
        for key, actor in self.slice_plane_actors.items():
            if key not in outlines:
                actor.VisibilityOff()
        for key, (points, color) in outlines.items():
            pts = np.asarray(points, float).reshape(-1, 3)
            actor = self.slice_plane_actors.get(key)
            if actor is None:
                mapper = vtkPolyDataMapper()
                actor = vtkActor()
                actor.SetMapper(mapper)
                actor.PickableOff()
                prop = actor.GetProperty()
                prop.SetLineWidth(3.0)
                prop.LightingOff()
                self.renderer.AddActor(actor)
                self.slice_plane_actors[key] = actor
            if len(pts) < 3:
                actor.VisibilityOff()
                continue
            vtk_points = vtkPoints()
            for p in pts:
                vtk_points.InsertNextPoint(float(p[0]), float(p[1]), float(p[2]))
            lines = vtkCellArray()
            lines.InsertNextCell(len(pts) + 1)
            for i in (*range(len(pts)), 0):
                lines.InsertCellPoint(i)
            poly = vtkPolyData()
            poly.SetPoints(vtk_points)
            poly.SetLines(lines)
            actor.GetMapper().SetInputData(poly)
            actor.GetProperty().SetColor(*(float(c) for c in color))
            actor.VisibilityOn()
        self.renderer.ResetCameraClippingRange()

    # ------------------------------------------------------------------ camera & frames
    def set_view(self, view: View | str) -> None:
        """Place the camera for a standard view of the whole volume."""
        v = as_enum(View, view)
        direction, up = (np.asarray(x, float) for x in v.value)
        corners = self.vol.index_to_patient(
            np.array([[i, j, k] for i in (0, self.vol.dimensions[0] - 1) for j in (0, self.vol.dimensions[1] - 1) for k in (0, self.vol.dimensions[2] - 1)])
        )
        centre = corners.mean(axis=0)
        radius = float(np.linalg.norm(corners - centre, axis=1).max())
        cam = self.renderer.GetActiveCamera()
        cam.SetFocalPoint(*centre)
        cam.SetPosition(*(centre + direction * radius * 4.0))
        cam.SetViewUp(*up)
        cam.SetViewAngle(30.0)
        self.renderer.ResetCamera(*np.ravel(np.column_stack([corners.min(axis=0), corners.max(axis=0)])))
        cam.Zoom(1.3)  # ResetCamera fits the bounding sphere: fill the view with the box instead
        self.renderer.ResetCameraClippingRange()
        self.view = v

    def fit_camera(self, margin: float = 0.92) -> None:
        """Zoom so that the volume's eight corners fill the view, a tall study included (the direction stays).

        The corners' projections reach ``margin`` of the view's half width or height,
        whichever binds (perspective: a few zoom steps converge).
        """
        ren = self.renderer
        corners = self.vol.corners
        ren.ResetCamera(*np.ravel(np.column_stack([corners.min(axis=0), corners.max(axis=0)])))
        cam = ren.GetActiveCamera()
        for _ in range(4):
            extent = 0.0
            for corner in corners:
                ren.SetWorldPoint(float(corner[0]), float(corner[1]), float(corner[2]), 1.0)
                ren.WorldToView()
                x, y, _z = ren.GetViewPoint()
                extent = max(extent, abs(x), abs(y))
            if extent <= 0 or abs(extent - margin) < 0.01:
                break
            cam.Zoom(margin / extent)
        ren.ResetCameraClippingRange()

    def interactive(self, moving: bool) -> None:
        """Lower sampling while the camera moves (10+ fps), full quality when it stops."""
        self.render_window.SetDesiredUpdateRate(15.0 if moving else 0.0001)
        self.volume.SetAllocatedRenderTime(1.0 / 15.0 if moving else 1e6, self.renderer)

    def render(self) -> float:
        """Render one frame; return its wall time in seconds."""
        t = time.perf_counter()
        self.render_window.Render()
        return time.perf_counter() - t

    def to_array(self) -> np.ndarray:
        """The last frame as ``(height, width, 3)`` uint8, row 0 at the top."""
        return grab_render_window(self.render_window)

    def screenshot(self, path: str | os.PathLike[str]) -> np.ndarray:
        """Render and save a PNG; return the pixels."""
        rgb = self.to_array()
        write_png(rgb, path)
        return rgb

    def orbit(self, n_frames: int, *, degrees: float = 360.0, interactive: bool = False) -> list[np.ndarray]:
        """Frames of a turntable about the patient's superior axis."""
        frames = []
        self.interactive(interactive)
        cam = self.renderer.GetActiveCamera()
        for _ in range(n_frames):
            frames.append(self.to_array())
            cam.Azimuth(degrees / n_frames)
            self.renderer.ResetCameraClippingRange()
        self.interactive(False)
        return frames

    def world_to_pixel(self, xyz: Sequence[float]) -> tuple[float, float]:
        """Where an LPS point lands in :meth:`to_array` images: (column, row from the top)."""
        self.renderer.SetWorldPoint(float(xyz[0]), float(xyz[1]), float(xyz[2]), 1.0)
        self.renderer.WorldToDisplay()
        x, y, _ = self.renderer.GetDisplayPoint()
        height = self.render_window.GetSize()[1]
        return float(x), float(height - 1 - y)
