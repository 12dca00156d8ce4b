"""The viewer's actions without Qt: loading, surfaces, segmentations, exports and status texts.

The state (crosshair, window, views, surfaces, layout...) lives in one Qt-free owner,
:class:`vtkdicom_app.viewer_state.ViewerState`, which notifies the widgets. This module
holds the work around it: functions a worker thread may run (they read their inputs and
return immutable results, never touching the state) and the GUI-thread step that applies
a result to the state.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vtkdicom_app.display import load_wl_presets
from vtkdicom_app.errors import Cancelled
from vtkdicom_app.io.loader import SeriesInfo, load, load_sequence, scan
from vtkdicom_app.mesh_io import export_mesh
from vtkdicom_app.mpr import Plane
from vtkdicom_app.segmentation.model import SegmentationModel, copy_model
from vtkdicom_app.surface import MeshReport, extract_surface, load_surface_presets, mesh_report
from vtkdicom_app.viewer_state import Layout, Surface, ViewerState
from vtkdicom_app.volume import Volume, VolumeSequence

__all__ = ["Cancelled", "Layout", "OpenResult", "Surface", "ViewerModel"]

ProgressCallback = Callable[[int, int, str], None]
DEFAULT_SURFACE_COLOR = (0.9, 0.8, 0.6)


@dataclasses.dataclass(frozen=True)
class OpenResult:
    """What a worker hands to the GUI thread after opening a path (scan once, then load).

    Attributes
    ----------
    path : str
    series : tuple of SeriesInfo
        The scan (its headers are not read again by the load).
    volume : Volume
        The volume to show (frame 0 of ``sequence``).
    sequence : VolumeSequence or None
    series_uid : str or None
        What was asked for (None: the loader's choice).
    """

    path: str
    series: tuple[SeriesInfo, ...]
    volume: Volume
    sequence: VolumeSequence | None
    series_uid: str | None = None


class _CursorView:
    """Read-only view of the state under the old ``model.cursor`` names (point, window, level).

    Kept so that scripts written against the old model keep working; it stores nothing.
    """

    def __init__(self, state: ViewerState) -> None:
        self._state = state

    @property
    def point(self) -> np.ndarray:
        return self._state.crosshair

    @property
    def window(self) -> float:
        wl = self._state.window_level
        return 0.0 if wl is None else wl.window

    @property
    def level(self) -> float:
        wl = self._state.window_level
        return 0.0 if wl is None else wl.level

    @property
    def invert(self) -> bool:
        return self._state.invert


class ViewerModel:
    """The viewer's actions around its :class:`~vtkdicom_app.viewer_state.ViewerState`.

    Parameters
    ----------
    state : ViewerState, optional
        A new one by default (created on the calling thread, which then owns it).

    Notes
    -----
    Methods marked *worker-safe* read only their arguments (and the immutable scan they are
    given) and return results; everything else is for the GUI thread.
    """

    def __init__(self, state: ViewerState | None = None) -> None:
        self.state = state if state is not None else ViewerState()

    # ------------------------------------------------------------------ worker-safe
    @staticmethod
    def scan_only(path: str, progress: ProgressCallback | None = None) -> list[SeriesInfo]:
        """Scan a folder/file/DICOMDIR (worker-safe)."""
        return scan(path, progress=progress)

    def load(self, path: Any, series: str | None = None, progress: ProgressCallback | None = None) -> Volume:
        """Load a series (worker-safe); ``path`` may be a scan result (no header read again)."""
        return load(path, series=series, progress=progress)

    def load_any(
        self,
        path: Any,
        series: str | None = None,
        progress: ProgressCallback | None = None,
        *,
        infos: Sequence[SeriesInfo] | None = None,
    ) -> tuple[Volume, VolumeSequence | None]:
        """Load what the user opened: a 4D series as a sequence (frame 0 shown), else a volume.

        ``path`` may be what :func:`~vtkdicom_app.io.loader.scan` returned (then no header is
        read again); ``infos`` are the scanned series (default: ``path`` when it is a scan
        result, else the state's last scan). Worker-safe.
        """
        known = list(infos) if infos is not None else (list(path) if isinstance(path, list) else list(self.state.series))
        four_d = [s for s in known if s.fourth_axis and (series is None or s.uid == series)]
        if four_d and (series is not None or len(known) == 1):
            seq = load_sequence(path, series=four_d[0].uid, progress=progress)
            return seq[0], seq
        return self.load(path, series=series, progress=progress), None

    def open(self, path: str, series: str | None = None, progress: ProgressCallback | None = None) -> OpenResult:
        """Scan ``path`` once and load from that scan (worker-safe)."""
        infos = self.scan_only(path, progress=progress)
        vol, seq = self.load_any(infos, series=series, progress=progress, infos=infos)
        return OpenResult(path=str(path), series=tuple(infos), volume=vol, sequence=seq, series_uid=series)

    @staticmethod
    def extract_surface(
        vol: Volume,
        *,
        preset: str | None = None,
        threshold: float | None = None,
        upper: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Surface:
        """A surface of ``vol`` (worker-safe); only what the user set is passed on.

        ``preset``, ``threshold`` and ``upper`` reach
        :func:`~vtkdicom_app.surface.extract_surface` only when given, so its own defaults
        (and a preset's threshold) apply otherwise.
        """
        kwargs: dict[str, Any] = {}
        if preset is not None:
            kwargs["preset"] = preset
        if threshold is not None:
            kwargs["threshold"] = float(threshold)
        if upper is not None:
            kwargs["upper"] = float(upper)
        mesh = extract_surface(vol, largest=False, progress=progress, **kwargs)
        color = tuple(load_surface_presets()[preset].color) if preset else DEFAULT_SURFACE_COLOR
        if preset:
            name = preset if threshold is None else f"{preset} {threshold:g}+"
        elif threshold is not None:
            name = f"{threshold:g}" + (f"..{upper:g}" if upper is not None else "+")
        else:
            name = "surface"
        return Surface(name=name, mesh=mesh, report=mesh_report(mesh), color=(float(color[0]), float(color[1]), float(color[2])))

    @staticmethod
    def export_mesh(mesh: Any, path: str, *, coords: str = "lps", allow_open: bool = False) -> MeshReport:
        """Write a mesh to a file, atomically (worker-safe)."""
        return export_mesh(mesh, path, coords=coords, allow_open=allow_open)

    @staticmethod
    def save_segmentation(model: SegmentationModel, path: str | os.PathLike[str]) -> Path:
        """Write a segmentation by its suffix: ``.seg.nrrd``, ``.nii.gz``/``.nii`` or ``.dcm`` (DICOM SEG), atomically.

        Worker-safe on a model no one else edits: give it :meth:`segmentation_snapshot`.
        """
        from vtkdicom_app.segmentation.io_files import save_segmentation

        return save_segmentation(model, path)

    @staticmethod
    def load_segmentation(path: str | os.PathLike[str], reference: Volume) -> SegmentationModel:
        """Read a segmentation file onto a volume's grid (worker-safe).

        Raises
        ------
        SegmentationFileError, GridMismatchError
            An unreadable file, or one that does not lie on ``reference``'s grid.
        """
        from vtkdicom_app.segmentation.io_files import load_segmentation

        model = load_segmentation(path, reference=reference)
        if model.volume is None and not reference.is_colour:
            model.volume = reference
        model.clear_history()
        return model

    @staticmethod
    def export_segments(model: SegmentationModel, path: str | os.PathLike[str], segment_ids: Sequence[str] | None = None) -> list[Path]:
        """Meshes of segments: all in one ``.3mf``/``.glb``, or one ``.stl``/``.obj``/``.ply`` each (worker-safe on a snapshot)."""
        from vtkdicom_app.segmentation.surfaces import export_segments

        return export_segments(model, path, segment_ids=segment_ids)

    # ------------------------------------------------------------------ GUI thread
    def segmentation_snapshot(self) -> SegmentationModel:
        """A copy of the state's segmentation (no history, no listeners) that a worker may read while editing goes on."""
        model = self.state.segmentation
        if model is None or len(model) == 0:
            raise ValueError("there is no segment: add one first")
        return copy_model(model)

    def apply_open(self, result: OpenResult) -> None:
        """Show what a worker opened: series browser, volume, recent paths."""
        self.state.set_series(result.series, result.path)
        self.state.set_volume(result.volume, sequence=result.sequence, path=result.path, series_uid=result.series_uid)
        self.state.add_recent(result.path)

    def add_surface(
        self,
        *,
        preset: str | None = None,
        threshold: float | None = None,
        upper: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Surface:
        """Extract a surface of the volume shown and add it (GUI thread; scripts)."""
        if self.state.volume is None:
            raise ValueError("no volume loaded")
        surface = self.extract_surface(self.state.volume, preset=preset, threshold=threshold, upper=upper, progress=progress)
        self.state.add_surface(surface)
        return surface

    def export_surface(self, index: int, path: str, *, coords: str = "lps", allow_open: bool = False) -> MeshReport:
        """Write one surface of the state to a file (atomic)."""
        return self.export_mesh(self.state.surfaces[index].mesh, path, coords=coords, allow_open=allow_open)

    # ------------------------------------------------------------------ texts and lists
    def value_at(self, xyz: Sequence[float]) -> tuple[float | None, tuple[int, int, int] | None]:
        """Value and voxel index (i, j, k) at an LPS point, or (None, None) outside."""
        return self.state.value_at(xyz)

    def status_text(self, xyz: Sequence[float]) -> str:
        """'HU 40 | ijk (10, 20, 5) | LPS (x, y, z) mm' for the status bar."""
        value, ijk = self.state.value_at(xyz)
        vol = self.state.volume
        unit = "HU" if vol is not None and vol.modality == "CT" else "value"
        pos = ", ".join(f"{v:.1f}" for v in xyz)
        if ijk is None:
            return f"outside the volume | LPS ({pos}) mm"
        if value is None:  # colour
            assert vol is not None
            rgb = tuple(int(c) for c in vol.array[ijk[2], ijk[1], ijk[0]])
            return f"RGB {rgb} | ijk {ijk} | LPS ({pos}) mm"
        return f"{unit} {value:g} | ijk {ijk} | LPS ({pos}) mm"

    def frame_text(self) -> str:
        """'time 80 ms (frame 2/6)' for the status bar, '' without a sequence."""
        seq, frame = self.state.sequence, self.state.frame
        if seq is None:
            return ""
        label = seq.labels[frame] if frame < len(seq.labels) else ""
        if seq.axis == "index":
            what = label or f"volume {frame}"
        else:
            what = f"{seq.axis} {seq.values[frame]:g} {seq.unit}".rstrip()
            if label and seq.axis == "diffusion":
                what += f" [{label}]"
        return f"{what} (frame {frame + 1}/{len(seq)})"

    @staticmethod
    def window_presets() -> list[str]:
        """Names of the window/level presets."""
        return list(load_wl_presets())

    @staticmethod
    def surface_presets() -> list[str]:
        """Names of the surface presets."""
        return list(load_surface_presets())

    # ------------------------------------------------------------------ old names (read-only)
    @property
    def vol(self) -> Volume | None:
        """The volume shown (``state.volume``)."""
        return self.state.volume

    @property
    def sequence(self) -> VolumeSequence | None:
        """``state.sequence``."""
        return self.state.sequence

    @property
    def frame(self) -> int:
        """``state.frame``."""
        return self.state.frame

    @property
    def series(self) -> list[SeriesInfo]:
        """``state.series`` as a list."""
        return list(self.state.series)

    @property
    def path(self) -> str | None:
        """``state.path``."""
        return self.state.path

    @property
    def surfaces(self) -> tuple[Surface, ...]:
        """``state.surfaces``."""
        return self.state.surfaces

    @property
    def layout(self) -> Layout:
        """``state.layout.layout``."""
        return self.state.layout.layout

    @property
    def single_view(self) -> Plane | None:
        """``state.layout.single_view``."""
        return self.state.layout.single_view

    @property
    def recent(self) -> list[str]:
        """``state.recent`` as a list."""
        return list(self.state.recent)

    @property
    def cursor(self) -> _CursorView | None:
        """The crosshair and window under the old ``MprCursor`` names (read-only), None before a load."""
        return None if self.state.volume is None else _CursorView(self.state)
