"""The viewer's state and actions, without Qt (the widgets only display it and call it).

Everything the viewer computes happens here or in the library: loading, the linked
crosshair (:class:`~vtkdicom_app.mpr.MprCursor`), the value under the pointer, surfaces and
their reports, exports. The Qt layer (``main_window``) turns user input into calls of this
object and redraws from its attributes.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Callable, Sequence

import numpy as np

from vtkdicom_app.io.loader import SeriesInfo, load, load_sequence, scan
from vtkdicom_app.mesh_io import export_mesh
from vtkdicom_app.mpr import MprCursor, Plane, SlabMode, load_wl_presets
from vtkdicom_app.surface import MeshReport, extract_surface, load_surface_presets, mesh_report
from vtkdicom_app.volume import Volume, VolumeSequence

__all__ = ["Layout", "Surface", "ViewerModel", "Cancelled"]

ProgressCallback = Callable[[int, int, str], None]


class Layout(enum.Enum):
    """How the four views are arranged."""

    GRID = "2x2"
    ROW_PLUS_3D = "1x3+3D"
    SINGLE = "single"


class Cancelled(Exception):
    """Raised from a progress callback when the user cancels."""


@dataclasses.dataclass
class Surface:
    """One surface shown in the 3D view."""

    name: str
    mesh: Any
    report: MeshReport
    color: tuple[float, float, float]
    opacity: float = 1.0
    visible: bool = True


@dataclasses.dataclass
class ViewerModel:
    """What the viewer shows.

    Attributes
    ----------
    vol : Volume or None
    cursor : MprCursor or None
    series : list of SeriesInfo
        From the last scan (the series browser).
    volume_preset, volume_shift, volume_opacity : str, float, float
    surfaces : list of Surface
    layout : Layout
    single_view : Plane or None
        The maximised view (None: the 3D view).
    recent : list of str
    """

    vol: Volume | None = None
    cursor: MprCursor | None = None
    series: list[SeriesInfo] = dataclasses.field(default_factory=list)
    path: str | None = None
    volume_preset: str = "ct-bone"
    volume_shift: float = 0.0
    volume_opacity: float = 1.0
    surfaces: list[Surface] = dataclasses.field(default_factory=list)
    layout: Layout = Layout.GRID
    single_view: Plane | None = None
    recent: list[str] = dataclasses.field(default_factory=list)
    sequence: VolumeSequence | None = None
    frame: int = 0

    # ------------------------------------------------------------------ data
    def scan(self, path: str, progress: ProgressCallback | None = None) -> list[SeriesInfo]:
        """Scan a folder/file/DICOMDIR for the series browser (and remember the result)."""
        self.series = scan(path, progress=progress)
        return self.series

    @staticmethod
    def scan_only(path: str, progress: ProgressCallback | None = None) -> list[SeriesInfo]:
        """Scan without touching the model (for a worker thread; the GUI thread stores it)."""
        return scan(path, progress=progress)

    def load(self, path: Any, series: str | None = None, progress: ProgressCallback | None = None) -> Volume:
        """Load a series (in a worker thread: nothing here touches Qt); ``path`` may be a scan result."""
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
        result, else the model's last scan). Nothing in the model changes: a worker may call it.
        """
        known = list(infos) if infos is not None else (list(path) if isinstance(path, list) else list(self.series))
        four_d = [s for s in known if s.fourth_axis and (series is None or s.uid == series)]
        if four_d and (series is not None or len(known) == 1):
            seq = load_sequence(path, series=four_d[0].uid, progress=progress)
            return seq[0], seq
        return self.load(path, series=series, progress=progress), None

    def set_frame(self, n: int) -> Volume:
        """Show frame ``n`` of the sequence; the crosshair and window stay put."""
        if self.sequence is None or self.cursor is None:
            raise ValueError("no sequence loaded")
        self.frame = int(n) % len(self.sequence)
        self.vol = self.sequence[self.frame]
        self.cursor.set_volume(self.vol)
        return self.vol

    def frame_text(self) -> str:
        """'time 80 ms (frame 2/6)' for the status bar, '' without a sequence."""
        if self.sequence is None:
            return ""
        seq = self.sequence
        label = seq.labels[self.frame] if self.frame < len(seq.labels) else ""
        if seq.axis == "index":
            what = label or f"volume {self.frame}"
        else:
            what = f"{seq.axis} {seq.values[self.frame]:g} {seq.unit}".rstrip()
            if label and seq.axis == "diffusion":
                what += f" [{label}]"
        return f"{what} (frame {self.frame + 1}/{len(seq)})"

    def set_volume(self, vol: Volume, path: str | None = None) -> None:
        """Show a loaded volume: crosshair at its centre, window from the header."""
        self.vol = vol
        self.cursor = MprCursor(vol)
        self.surfaces = []
        self.path = path
        self.sequence = None
        self.frame = 0
        modality = str(vol.metadata.get("Modality", ""))
        self.volume_preset = "ct-bone" if modality in ("CT", "") else "mr-default"
        if path:
            self.recent = [path] + [p for p in self.recent if p != path][:9]

    # ------------------------------------------------------------------ queries
    def value_at(self, xyz: Sequence[float]) -> tuple[float | None, tuple[int, int, int] | None]:
        """Value and voxel index (i, j, k) at an LPS point, or (None, None) outside."""
        if self.vol is None:
            return None, None
        ijk = np.round(self.vol.patient_to_index(xyz)).astype(int)
        dims = self.vol.dimensions
        if np.any(ijk < 0) or np.any(ijk >= np.asarray(dims)):
            return None, None
        i, j, k = (int(v) for v in ijk)
        return float(self.vol.array[k, j, i]), (i, j, k)

    def status_text(self, xyz: Sequence[float]) -> str:
        """'HU 40 | ijk (10, 20, 5) | LPS (x, y, z) mm' for the status bar."""
        value, ijk = self.value_at(xyz)
        unit = "HU" if self.vol is not None and self.vol.metadata.get("Modality") == "CT" else "value"
        pos = ", ".join(f"{v:.1f}" for v in xyz)
        if value is None:
            return f"outside the volume | LPS ({pos}) mm"
        return f"{unit} {value:g} | ijk {ijk} | LPS ({pos}) mm"

    # ------------------------------------------------------------------ actions
    def set_slab(self, thickness_mm: float, mode: SlabMode | str = SlabMode.MIP) -> None:
        """Thick-slab MPR (0 turns it off)."""
        if self.cursor is None:
            return
        self.cursor.slab_mm = max(0.0, float(thickness_mm))
        self.cursor.slab_mode = SlabMode(mode) if thickness_mm > 0 else SlabMode.NONE

    def window_presets(self) -> list[str]:
        """Names of the window/level presets."""
        return list(load_wl_presets())

    def surface_presets(self) -> list[str]:
        """Names of the surface presets."""
        return list(load_surface_presets())

    def add_surface(
        self,
        *,
        preset: str | None = None,
        threshold: float | None = None,
        upper: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Surface:
        """Extract a surface (in a worker) and add it to the scene list."""
        if self.vol is None:
            raise ValueError("no volume loaded")
        kwargs: dict[str, Any] = dict(preset=preset, progress=progress, largest=False)
        if threshold is not None:
            kwargs["threshold"] = threshold
            kwargs["upper"] = upper
        mesh = extract_surface(self.vol, **kwargs)
        report = mesh_report(mesh)
        color = load_surface_presets()[preset].color if preset else (0.9, 0.8, 0.6)
        name = preset or (f"{threshold:g}" + (f"..{upper:g}" if upper is not None else "+"))
        surface = Surface(name=name, mesh=mesh, report=report, color=color)
        self.surfaces.append(surface)
        return surface

    def export_surface(self, index: int, path: str, *, coords: str = "lps", allow_open: bool = False) -> MeshReport:
        """Write one surface to a file (atomic)."""
        return export_mesh(self.surfaces[index].mesh, path, coords=coords, allow_open=allow_open)
