"""Viewer scenes: what the viewer shows, saved as a small JSON file and reopened exactly.

A scene holds the numbers of a :class:`~vtkdicom_app.viewer_state.ViewerState` (and the
viewer's measurements) and where the images came from, never the images or any patient
data. ``vtkdicom-app view --scene SCENE.json`` reopens one; scripts use :func:`open_scene`.

The format (``"schema": "vtkdicom_app.scene/1"``)
-------------------------------------------------
::

    {
      "schema": "vtkdicom_app.scene/1",
      "source": {"path": "/data/study1",            # the folder, file or DICOMDIR opened
                 "series_uid": "1.2.826.0.1...",     # the series shown (null: the loader's choice)
                 "frame": 0},                        # the frame of a 4D series
      "cursor": [x, y, z],                           # the crosshair, LPS mm
      "planes": {"axial": {"column": [1, 0, 0], "row": [0, 1, 0], "normal": [0, 0, 1]},
                 "coronal": {...}, "sagittal": {...}},   # each view's plane axes, LPS unit vectors
      "window_level": {"window": 400.0, "level": 40.0, "name": "abdomen"},
      "views": {"axial": {"zoom": 1.0, "pan": [0.0, 0.0],
                          "slab": {"thickness_mm": 0.0, "mode": "none"}}, ...},
      "layout": {"layout": "2x2", "single_view": null},  # "2x2", "1x3+3D", "single"
      "volume_rendering": {"preset": "ct-bone", "shift": 0.0, "opacity": 1.0,
                           "crop_ijk": null},            # or [i0, i1, j0, j1, k0, k1] voxels
      "surfaces": [{"name": "bone", "preset": "bone", "threshold": 300.0, "upper": null,
                    "color": [0.9, 0.8, 0.6], "opacity": 1.0, "visible": true}],
      "measurements": [{"id": 1, "name": "Ruler 1", "kind": "ruler",
                        "points": [[x, y, z], [x, y, z]]}, ...]   # vtkdicom_app.measurements
    }

Every field but ``schema`` and ``source`` may be left out (the viewer's default then
applies). Surfaces are stored as the recipe that made them (preset, threshold, upper band)
and extracted again on opening; measurements as their LPS points (their values are
recomputed). Relative source paths are relative to the scene file's folder.

No PHI: patient names, IDs, dates and descriptions are never written. The source path is
written as given; choose a folder name without patient data.

Planes: ``planes`` records each view's frame (column and row directions and normal, LPS),
so a scene keeps planes rotated by the crosshair (oblique MPR). A state that offers
``plane_axes(view)`` / ``set_plane_axes(view, axes)`` (``ViewerState`` does) is read and
driven through them; for any other state the planes of a scene must be the standard ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.measurements import MeasurementList
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane, SlabMode, plane_axes
from vtkdicom_app.viewer_state import Layout, Surface, ViewerState

__all__ = [
    "SCENE_SCHEMA",
    "AppliedScene",
    "SceneError",
    "SurfaceSpec",
    "apply_scene",
    "load_scene",
    "open_scene",
    "save_scene",
    "scene_from_state",
    "scene_source",
    "validate_scene",
]

SCENE_SCHEMA = "vtkdicom_app.scene/1"
"""The ``schema`` string this version writes and reads."""

ProgressCallback = Callable[[int, int, str], None]


class SceneError(VtkDicomError):
    """A scene file that cannot be read or applied (the message says why, in one line)."""


# ---------------------------------------------------------------------------- surfaces
@dataclasses.dataclass(frozen=True)
class SurfaceSpec:
    """How to make a surface again, and its look.

    Attributes
    ----------
    name : str
    preset : str or None
        A name of :func:`~vtkdicom_app.surface.load_surface_presets`.
    threshold, upper : float or None
        The limits used (read from the mesh's field data).
    color : tuple of float
    opacity : float
    visible : bool
    """

    name: str
    preset: str | None = None
    threshold: float | None = None
    upper: float | None = None
    color: tuple[float, float, float] = (0.9, 0.8, 0.6)
    opacity: float = 1.0
    visible: bool = True

    @classmethod
    def from_surface(cls, surface: Surface) -> SurfaceSpec:
        """The recipe of a state's surface: the preset from its name (as the viewer names
        surfaces), the limits from the mesh's field data."""
        from vtkdicom_app.surface import load_surface_presets

        first = surface.name.split(" ")[0]
        preset = first if first in load_surface_presets() else None
        return cls(
            name=surface.name,
            preset=preset,
            threshold=_field_value(surface.mesh, "threshold"),
            upper=_field_value(surface.mesh, "upper"),
            color=surface.color,
            opacity=surface.opacity,
            visible=surface.visible,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        d = dataclasses.asdict(self)
        d["color"] = list(self.color)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurfaceSpec:
        """Inverse of :meth:`to_dict` (checked)."""
        from vtkdicom_app.surface import load_surface_presets

        if not isinstance(data, Mapping):
            raise ValueError(f"a surface is a JSON object, got {type(data).__name__}")
        preset = data.get("preset")
        if preset is not None and preset not in load_surface_presets():
            raise ValueError(f"unknown surface preset {preset!r}; use one of: {', '.join(load_surface_presets())}")
        color = data.get("color", (0.9, 0.8, 0.6))
        if not isinstance(color, Sequence) or len(color) != 3:
            raise ValueError(f"a surface colour is three numbers 0..1, got {color!r}")
        return cls(
            name=str(data.get("name") or preset or "surface"),
            preset=preset,
            threshold=_optional_number(data.get("threshold"), "surface threshold"),
            upper=_optional_number(data.get("upper"), "surface upper limit"),
            color=(float(color[0]), float(color[1]), float(color[2])),
            opacity=_number(data.get("opacity", 1.0), "surface opacity"),
            visible=bool(data.get("visible", True)),
        )

    def extract(self, vol: Any, progress: ProgressCallback | None = None) -> Surface:
        """Extract this surface from a volume (slow: run it in a worker) as the viewer does."""
        from vtkdicom_app.surface import extract_surface, mesh_report

        kwargs: dict[str, Any] = {}
        if self.preset is not None:
            kwargs["preset"] = self.preset
        if self.threshold is not None:
            kwargs["threshold"] = self.threshold
        if self.upper is not None:
            kwargs["upper"] = self.upper
        mesh = extract_surface(vol, largest=False, progress=progress, **kwargs)
        return Surface(name=self.name, mesh=mesh, report=mesh_report(mesh), color=self.color, opacity=self.opacity, visible=self.visible)


def _field_value(mesh: Any, name: str) -> float | None:
    fd = mesh.GetFieldData() if mesh is not None and hasattr(mesh, "GetFieldData") else None
    array = fd.GetArray(name) if fd is not None else None
    if array is None or array.GetNumberOfTuples() < 1:
        return None
    return float(array.GetTuple1(0))


# ---------------------------------------------------------------------------- checks
def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


def _optional_number(value: Any, what: str) -> float | None:
    return None if value is None else _number(value, what)


def _vector(value: Any, n: int, what: str) -> list[float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != n:
        raise ValueError(f"{what} must be {n} numbers, got {value!r}")
    return [_number(v, what) for v in value]


def _standard_planes() -> dict[str, dict[str, list[float]]]:
    out = {}
    for p in ORTHOGONAL_PLANES:
        m = plane_axes(p)
        out[p.value] = {"column": m[:, 0].tolist(), "row": m[:, 1].tolist(), "normal": m[:, 2].tolist()}
    return out


def _plane_matrix(entry: Any, view: str) -> np.ndarray:
    if not isinstance(entry, Mapping):
        raise ValueError(f"planes.{view} must be an object with column, row and normal")
    m = np.column_stack([_vector(entry.get(k), 3, f"planes.{view}.{k}") for k in ("column", "row", "normal")])
    if not np.allclose(m.T @ m, np.eye(3), atol=1e-6):
        raise ValueError(f"planes.{view}: column, row and normal must be perpendicular unit vectors")
    return m


def validate_scene(scene: Any) -> dict[str, Any]:
    """Check a scene (a parsed JSON object) and return it with every field filled in.

    Raises
    ------
    SceneError
        Not an object, an unknown or missing schema, or an invalid field (named).
    """
    if not isinstance(scene, Mapping):
        raise SceneError(f"a scene is a JSON object, got {type(scene).__name__}")
    schema = scene.get("schema")
    if schema != SCENE_SCHEMA:
        if isinstance(schema, str) and schema.startswith("vtkdicom_app.scene/"):
            raise SceneError(f"scene schema {schema!r} is not supported: this version of vtkdicom_app reads {SCENE_SCHEMA!r}")
        raise SceneError(f"not a vtkdicom_app scene: the schema is {schema!r}, expected {SCENE_SCHEMA!r}")
    try:
        return _validated(scene)
    except (ValueError, TypeError) as exc:
        raise SceneError(f"invalid scene: {exc}") from None


def _validated(scene: Mapping[str, Any]) -> dict[str, Any]:
    from vtkdicom_app.rendering.volume_render import load_volume_presets

    source = scene.get("source")
    if not isinstance(source, Mapping) or not isinstance(source.get("path"), str) or not source.get("path"):
        raise ValueError("source.path (the folder, file or DICOMDIR opened) is required")
    uid = source.get("series_uid")
    if uid is not None and not isinstance(uid, str):
        raise ValueError(f"source.series_uid must be a string or null, got {uid!r}")
    frame = source.get("frame", 0)
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        raise ValueError(f"source.frame must be a whole number >= 0, got {frame!r}")
    out: dict[str, Any] = {"schema": SCENE_SCHEMA, "source": {"path": source["path"], "series_uid": uid, "frame": frame}}
    out["cursor"] = None if scene.get("cursor") is None else _vector(scene["cursor"], 3, "cursor")
    planes = scene.get("planes") or {}
    if not isinstance(planes, Mapping):
        raise ValueError("planes must be an object keyed by view")
    out["planes"] = _standard_planes()
    for view, entry in planes.items():
        if view not in out["planes"]:
            raise ValueError(f"planes: unknown view {view!r}; use axial, coronal or sagittal")
        m = _plane_matrix(entry, view)
        out["planes"][view] = {"column": m[:, 0].tolist(), "row": m[:, 1].tolist(), "normal": m[:, 2].tolist()}
    wl = scene.get("window_level")
    if wl is not None:
        if not isinstance(wl, Mapping):
            raise ValueError("window_level must be an object with window and level")
        window = _number(wl.get("window"), "window_level.window")
        if window <= 0:
            raise ValueError(f"window_level.window must be > 0, got {window:g}")
        wl = {"window": window, "level": _number(wl.get("level"), "window_level.level"), "name": str(wl.get("name") or "")}
    out["window_level"] = wl
    views = scene.get("views") or {}
    if not isinstance(views, Mapping):
        raise ValueError("views must be an object keyed by view")
    out["views"] = {}
    for view, entry in views.items():
        if view not in {p.value for p in ORTHOGONAL_PLANES}:
            raise ValueError(f"views: unknown view {view!r}; use axial, coronal or sagittal")
        if not isinstance(entry, Mapping):
            raise ValueError(f"views.{view} must be an object")
        slab = entry.get("slab") or {}
        mode = slab.get("mode", SlabMode.NONE.value)
        if mode not in {m.value for m in SlabMode}:
            raise ValueError(f"views.{view}.slab.mode {mode!r} is not one of: {', '.join(m.value for m in SlabMode)}")
        out["views"][view] = {
            "zoom": _number(entry.get("zoom", 1.0), f"views.{view}.zoom"),
            "pan": _vector(entry.get("pan", [0.0, 0.0]), 2, f"views.{view}.pan"),
            "slab": {"thickness_mm": _number(slab.get("thickness_mm", 0.0), f"views.{view}.slab.thickness_mm"), "mode": mode},
        }
    layout = scene.get("layout") or {}
    if not isinstance(layout, Mapping):
        raise ValueError("layout must be an object")
    name = layout.get("layout", Layout.GRID.value)
    if name not in {m.value for m in Layout}:
        raise ValueError(f"layout.layout {name!r} is not one of: {', '.join(m.value for m in Layout)}")
    single = layout.get("single_view")
    if single is not None and single not in {p.value for p in ORTHOGONAL_PLANES}:
        raise ValueError(f"layout.single_view {single!r}: use axial, coronal, sagittal or null (the 3D view)")
    out["layout"] = {"layout": name, "single_view": single}
    vr = scene.get("volume_rendering")
    if vr is not None:
        if not isinstance(vr, Mapping):
            raise ValueError("volume_rendering must be an object")
        preset = vr.get("preset")
        if preset not in load_volume_presets():
            raise ValueError(f"volume_rendering.preset {preset!r} is not one of: {', '.join(load_volume_presets())}")
        crop = vr.get("crop_ijk")
        if crop is not None:
            crop = _vector(crop, 6, "volume_rendering.crop_ijk")
            if any(crop[2 * a] > crop[2 * a + 1] for a in range(3)):
                raise ValueError(f"volume_rendering.crop_ijk {crop}: each low index must be <= its high index")
        vr = {
            "preset": preset,
            "shift": _number(vr.get("shift", 0.0), "volume_rendering.shift"),
            "opacity": _number(vr.get("opacity", 1.0), "volume_rendering.opacity"),
            "crop_ijk": crop,
        }
    out["volume_rendering"] = vr
    surfaces = scene.get("surfaces") or []
    if not isinstance(surfaces, Sequence) or isinstance(surfaces, str):
        raise ValueError("surfaces must be an array")
    out["surfaces"] = [SurfaceSpec.from_dict(s).to_dict() for s in surfaces]
    measurements = scene.get("measurements") or []
    out["measurements"] = MeasurementList.from_dict(measurements).to_dict()["measurements"]
    return out


# ---------------------------------------------------------------------------- state -> scene
def scene_from_state(
    state: ViewerState,
    measurements: MeasurementList | None = None,
    *,
    crop_ijk: Sequence[float] | None = None,
    surfaces: Sequence[SurfaceSpec] | None = None,
) -> dict[str, Any]:
    """The scene of a state (a JSON-ready dict, no PHI).

    Parameters
    ----------
    state : ViewerState
        With a volume loaded.
    measurements : MeasurementList, optional
    crop_ijk : sequence of float, optional
        The volume rendering's crop box in voxels (``(i0, i1, j0, j1, k0, k1)``), which the
        state does not hold yet.
    surfaces : sequence of SurfaceSpec, optional
        The surfaces' recipes; default: read from ``state.surfaces``.

    Raises
    ------
    SceneError
        No volume loaded, or nothing opened from a path.
    """
    vol = state.volume
    if vol is None:
        raise SceneError("no volume loaded: a scene needs something to reopen")
    if not state.path:
        raise SceneError("the volume was not opened from a path (set_volume(..., path=...)): a scene cannot reopen it")
    uid = state.series_uid or str(vol.metadata.get("SeriesInstanceUID") or "") or None
    views = {}
    for p in ORTHOGONAL_PLANES:
        vs = state.view(p)
        views[p.value] = {
            "zoom": vs.zoom,
            "pan": [float(vs.pan[0]), float(vs.pan[1])],
            "slab": {"thickness_mm": vs.slab.thickness_mm, "mode": vs.slab.mode.value},
        }
    planes = _standard_planes()
    if hasattr(state, "plane_axes"):  # a state with rotatable planes (issue 18: oblique MPR)
        for p in ORTHOGONAL_PLANES:
            m = np.asarray(state.plane_axes(p), dtype=np.float64)
            planes[p.value] = {"column": m[:, 0].tolist(), "row": m[:, 1].tolist(), "normal": m[:, 2].tolist()}
    wl = state.window_level
    look = state.volume_look
    specs = list(surfaces) if surfaces is not None else [SurfaceSpec.from_surface(s) for s in state.surfaces]
    return {
        "schema": SCENE_SCHEMA,
        "source": {"path": os.path.abspath(state.path), "series_uid": uid, "frame": state.frame},
        "cursor": [float(v) for v in state.crosshair],
        "planes": planes,
        "window_level": None if wl is None else {"window": wl.window, "level": wl.level, "name": wl.name},
        "views": views,
        "layout": {"layout": state.layout.layout.value, "single_view": None if state.layout.single_view is None else state.layout.single_view.value},
        "volume_rendering": {
            "preset": look.preset,
            "shift": look.shift,
            "opacity": look.opacity,
            "crop_ijk": None if crop_ijk is None else [float(v) for v in crop_ijk],
        },
        "surfaces": [s.to_dict() for s in specs],
        "measurements": (measurements or MeasurementList()).to_dict()["measurements"],
    }


# ---------------------------------------------------------------------------- files
def save_scene(
    path: str | os.PathLike[str],
    scene: Mapping[str, Any] | ViewerState,
    measurements: MeasurementList | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Write a scene as JSON, atomically; return what was written.

    Parameters
    ----------
    path : str or os.PathLike
    scene : dict or ViewerState
        A scene (checked with :func:`validate_scene`), or a state to take one from with
        :func:`scene_from_state` (``measurements`` and ``kwargs`` go there).
    """
    data = scene_from_state(scene, measurements, **kwargs) if isinstance(scene, ViewerState) else validate_scene(scene)
    text = json.dumps(data, indent=2) + "\n"
    with atomic_path(path, suffix=".json") as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    return data


def load_scene(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a scene file; a relative source path becomes relative to the file's folder.

    Raises
    ------
    SceneError
        The file cannot be read, is not valid JSON, or is not a valid scene.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SceneError(f"scene file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SceneError(f"cannot read scene file {p}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SceneError(f"scene file {p} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    try:
        scene = validate_scene(data)
    except SceneError as exc:
        raise SceneError(f"scene file {p}: {exc}") from None
    source = scene["source"]["path"]
    if not os.path.isabs(source):
        scene["source"]["path"] = os.path.normpath(os.path.join(p.resolve().parent, source))
    return scene


def scene_source(scene: Mapping[str, Any], path: str | os.PathLike[str] | None = None) -> str:
    """The path to open for a scene (``path`` overrides the scene's), checked to exist.

    Raises
    ------
    SceneError
        The path is gone (the message says how to give another).
    """
    source = os.fspath(path) if path is not None else str(scene["source"]["path"])
    if not os.path.exists(source):
        if path is not None:
            raise SceneError(f"{source} does not exist")
        raise SceneError(f"the scene's source {source} does not exist (moved? give its new place: vtkdicom-app view NEW_PATH --scene SCENE.json)")
    return source


# ---------------------------------------------------------------------------- scene -> state
@dataclasses.dataclass(frozen=True)
class AppliedScene:
    """What :func:`apply_scene` did not put into the state, for the viewer to apply.

    Attributes
    ----------
    measurements : MeasurementList
        The scene's measurements (the list given to :func:`apply_scene`, refilled, or a new one).
    crop_ijk : tuple of float or None
        The volume rendering crop box (``VolumeScene.set_cropping``).
    planes : dict of Plane to numpy.ndarray
        Each view's plane axes (3x3, columns: column, row, normal).
    pending_surfaces : tuple of SurfaceSpec
        Surfaces not extracted (``extract_surfaces=False``): extract them in a worker
        (:meth:`SurfaceSpec.extract`) and add them with ``state.add_surface``.
    """

    measurements: MeasurementList
    crop_ijk: tuple[float, ...] | None
    planes: dict[Plane, np.ndarray]
    pending_surfaces: tuple[SurfaceSpec, ...] = ()


def apply_scene(
    state: ViewerState,
    scene: Mapping[str, Any],
    *,
    measurements: MeasurementList | None = None,
    extract_surfaces: bool = True,
    progress: ProgressCallback | None = None,
) -> AppliedScene:
    """Drive a state (with the scene's series loaded) to a scene, through its public setters.

    Order: frame, crosshair, window/level, each view's zoom, pan and slab, layout, volume
    rendering look, surfaces (the state's are replaced), measurements.

    Parameters
    ----------
    state : ViewerState
        Its volume must be the scene's series (:func:`open_scene` loads it).
    scene : dict
        From :func:`load_scene` or :func:`scene_from_state` (checked again here).
    measurements : MeasurementList, optional
        Refilled with the scene's measurements (the viewer's list keeps its listeners).
    extract_surfaces : bool
        Extract the surfaces here (slow); False returns them in ``pending_surfaces``.
    progress : callable, optional
        Passed to each surface extraction.

    Raises
    ------
    SceneError
        No volume loaded, another series loaded, or a value the state refuses.
    """
    data = validate_scene(scene)
    vol = state.volume
    if vol is None:
        raise SceneError("load the scene's series first (open_scene() loads it)")
    want = data["source"]["series_uid"]
    have = state.series_uid or str(vol.metadata.get("SeriesInstanceUID") or "") or None
    if want and have and want != have:
        raise SceneError(f"the scene is of series {want}, but series {have} is loaded")
    planes = {Plane(v): _plane_matrix(e, v) for v, e in data["planes"].items()}
    try:
        if data["source"]["frame"]:
            state.set_frame(data["source"]["frame"])
        if data["cursor"] is not None:
            state.set_crosshair(data["cursor"])
        wl = data["window_level"]
        if wl is not None:
            state.set_window_level(wl["window"], wl["level"], wl["name"])
        for view, entry in data["views"].items():
            state.set_zoom(view, entry["zoom"])
            state.set_pan(view, entry["pan"])
            slab = entry["slab"]
            state.set_slab(slab["thickness_mm"], slab["mode"], view=view)
        for p, m in planes.items():
            if hasattr(state, "set_plane_axes"):
                state.set_plane_axes(p, m)
            elif not np.allclose(m, plane_axes(p), atol=1e-9):
                raise SceneError(f"the scene's {p.value} plane is rotated, which this viewer cannot show yet")
        layout = data["layout"]
        state.set_layout(layout["layout"], layout["single_view"])
        vr = data["volume_rendering"]
        if vr is not None:
            state.set_volume_look(vr["preset"], shift=vr["shift"], opacity=vr["opacity"])
    except ValueError as exc:
        raise SceneError(f"the scene does not fit the loaded series: {exc}") from None
    specs = tuple(SurfaceSpec.from_dict(s) for s in data["surfaces"])
    for index in reversed(range(len(state.surfaces))):
        state.remove_surface(index)
    pending: tuple[SurfaceSpec, ...] = specs
    if extract_surfaces:
        for spec in specs:
            state.add_surface(spec.extract(vol, progress=progress))
        pending = ()
    loaded = MeasurementList.from_dict(data["measurements"])
    if measurements is None:
        measurements = loaded
    else:
        measurements.replace_all(tuple(loaded))
    crop = None if vr is None or vr["crop_ijk"] is None else tuple(vr["crop_ijk"])
    return AppliedScene(measurements=measurements, crop_ijk=crop, planes=planes, pending_surfaces=pending)


def open_scene(
    scene: Mapping[str, Any] | str | os.PathLike[str],
    *,
    path: str | os.PathLike[str] | None = None,
    state: ViewerState | None = None,
    measurements: MeasurementList | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[ViewerState, AppliedScene]:
    """Load a scene's series and apply the scene (scripts; the viewer loads in a worker).

    Parameters
    ----------
    scene : dict or path
        A scene, or a scene file (:func:`load_scene`).
    path : str or os.PathLike, optional
        Open this instead of the scene's source path (the data moved).
    state : ViewerState, optional
        A new one by default.
    measurements : MeasurementList, optional
    progress : callable, optional

    Returns
    -------
    tuple
        ``(state, applied)``.

    Raises
    ------
    SceneError
        The source is gone, or the series is not in it.
    """
    from vtkdicom_app.errors import SeriesNotFoundError
    from vtkdicom_app.io.loader import load, load_sequence, scan

    data = load_scene(scene) if isinstance(scene, (str, os.PathLike)) else validate_scene(scene)
    source = scene_source(data, path)
    uid = data["source"]["series_uid"]
    state = state if state is not None else ViewerState()
    infos = scan(source, progress=progress)
    if uid is not None and not any(s.uid == uid for s in infos):
        found = ", ".join(s.uid for s in infos[:4]) or "none"
        raise SceneError(f"series {uid} of the scene is not in {source} (found: {found})")
    try:
        chosen = [s for s in infos if uid is None or s.uid == uid]
        if chosen and chosen[0].fourth_axis:
            seq = load_sequence(infos, series=chosen[0].uid, progress=progress)
            vol, sequence = seq[0], seq
        else:
            vol, sequence = load(infos, series=uid, progress=progress), None
    except SeriesNotFoundError as exc:
        raise SceneError(str(exc)) from None
    state.set_series(infos, source)
    state.set_volume(vol, sequence=sequence, path=source, series_uid=uid)
    applied = apply_scene(state, data, measurements=measurements, progress=progress)
    return state, applied
