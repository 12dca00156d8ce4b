"""The interactive notebook viewer (ipywidgets): three linked slice views and a 3D view.

Widgets hold no numbers of their own: they call the setters of
:class:`~vtkdicom_app.notebook.model.SliceViewerModel` (slices, crosshair, window) and of
:class:`~vtkdicom_app.notebook.scene3d.Scene3D` (3D), and redraw from them. Only the planes an
:class:`~vtkdicom_app.notebook.model.Update` names are encoded (PNG) and sent to the browser.

Needs the optional extra: ``pip install vtkdicom_app[notebook]``.
"""

from __future__ import annotations

import io
import time
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import numpy as np

from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane
from vtkdicom_app.notebook.model import CROSSHAIR_COLOURS, SliceViewerModel, Update
from vtkdicom_app.volume import Volume, VolumeSequence

__all__ = ["NotebookViewer", "encode_png"]

_HEADER_PRESET = "(header / auto)"


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an ``(rows, cols, 3)`` uint8 picture (fast compression)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class NotebookViewer(widgets.VBox):
    """Three slice scrollers with window/level, presets and a linked crosshair, and a 3D view.

    Parameters
    ----------
    data : Volume or VolumeSequence
        A sequence adds a frame slider (all frames share one grid).
    three_d : bool
        Add the 3D view (volume rendering and surfaces, rendered in the kernel). Ignored for
        colour volumes, which cannot be volume rendered.
    vr_preset : str, optional
        Volume rendering preset of the 3D view.
    size_3d : tuple of int
        3D picture size in pixels.
    view_width : int
        Width of each slice view on the page, in CSS pixels.
    slice_pixels : float, optional
        Pixel size of the slices in mm (default the volume's smallest spacing).

    Attributes
    ----------
    model : SliceViewerModel
        The slice state; ``model.history`` lists what each change re-rendered.
    scene : Scene3D or None
        The 3D state.
    images : dict of Plane to ipywidgets.Image
    sliders : dict of Plane to ipywidgets.IntSlider
    sent : dict of Plane to int
        How many pictures each view has sent to the browser.
    last_update_s : float
        Seconds the last slice change took, from the model's setter to the widget's new value.
    """

    def __init__(
        self,
        data: Volume | VolumeSequence,
        *,
        three_d: bool = True,
        vr_preset: str | None = None,
        size_3d: tuple[int, int] = (360, 360),
        view_width: int = 300,
        slice_pixels: float | None = None,
    ) -> None:
        self.sequence = data if isinstance(data, VolumeSequence) else None
        vol = data[0] if isinstance(data, VolumeSequence) else data
        if not isinstance(vol, Volume):
            raise TypeError(f"view() shows a Volume or a VolumeSequence, not {type(data).__name__}")
        self.model = SliceViewerModel(vol, pixel_size=slice_pixels)
        self.sent: dict[Plane, int] = {p: 0 for p in ORTHOGONAL_PLANES}
        self.last_update_s = 0.0
        self._syncing = False

        self.images: dict[Plane, Any] = {}
        self.sliders: dict[Plane, Any] = {}
        self.letters: dict[Plane, Any] = {}
        columns = []
        for p in ORTHOGONAL_PLANES:
            colour = "#{:02x}{:02x}{:02x}".format(*CROSSHAIR_COLOURS[p])
            title = widgets.HTML(f"<b style='color:{colour}'>{p.value}</b>")
            image = widgets.Image(format="png", layout=widgets.Layout(width=f"{view_width}px"))
            slider = widgets.IntSlider(
                value=self.model.index(p),
                min=0,
                max=self.model.n_positions(p) - 1,
                description="slice",
                continuous_update=True,
                layout=widgets.Layout(width=f"{view_width}px"),
            )
            slider.observe(self._slider_changed(p), names="value")
            letters = widgets.HTML()
            self.images[p], self.sliders[p], self.letters[p] = image, slider, letters
            columns.append(widgets.VBox([title, image, letters, slider]))

        names = [_HEADER_PRESET, *self.model.presets]
        self.preset = widgets.Dropdown(options=names, value=_HEADER_PRESET, description="W/L preset")
        self.window = widgets.FloatText(value=round(self.model.window, 2), description="window", layout=widgets.Layout(width="180px"))
        self.level = widgets.FloatText(value=round(self.model.level, 2), description="level", layout=widgets.Layout(width="180px"))
        self.crosshair = widgets.Checkbox(value=True, description="crosshair", indent=False)
        self.readout = widgets.HTML()
        self.preset.observe(self._preset_changed, names="value")
        self.window.observe(self._window_typed, names="value")
        self.level.observe(self._window_typed, names="value")
        self.crosshair.observe(lambda change: self.model.set_crosshair(bool(change["new"])), names="value")
        controls = widgets.HBox([self.preset, self.window, self.level, self.crosshair])

        rows: list[Any] = [widgets.HBox(columns), controls, self.readout]
        self.frame: Any = None
        if self.sequence is not None:
            seq = self.sequence
            self.frame = widgets.IntSlider(value=0, min=0, max=len(seq) - 1, description=f"{seq.axis}", continuous_update=False)
            self.frame_label = widgets.HTML()
            self.frame.observe(self._frame_changed, names="value")
            rows.append(widgets.HBox([self.frame, self.frame_label]))

        self.scene: Any = None
        if three_d and not vol.is_colour:
            rows.append(self._build_3d(vol, vr_preset, size_3d))

        super().__init__(rows)
        self.model.observe(self._model_changed)
        self._model_changed(Update(self.model.history[-1].reason, frozenset(), frozenset(ORTHOGONAL_PLANES)))
        if self.frame is not None:
            self._show_frame_label()

    # ------------------------------------------------------------------ 3D
    def _build_3d(self, vol: Volume, vr_preset: str | None, size: tuple[int, int]) -> Any:
        from vtkdicom_app.notebook.scene3d import Scene3D
        from vtkdicom_app.rendering import View

        self.scene = Scene3D(vol, vr_preset=vr_preset, size=size)
        self.image_3d = widgets.Image(format="png", layout=widgets.Layout(width=f"{size[0]}px"))
        self.vr_preset = widgets.Dropdown(options=self.scene.vr_presets(), value=self.scene.vr_preset, description="VR preset")
        self.show_volume = widgets.Checkbox(value=True, description="volume", indent=False)
        self.surfaces = widgets.SelectMultiple(options=self.scene.surface_presets(), value=(), description="surfaces", rows=5)
        self.view_buttons = widgets.ToggleButtons(options=[v.name.lower() for v in View], value="anterior", description="view")
        self.turn = {
            name: widgets.Button(description=label, layout=widgets.Layout(width="48px"))
            for name, label in (("left", "\u21ba"), ("right", "\u21bb"), ("up", "\u2191"), ("down", "\u2193"), ("in", "+"), ("out", "\u2212"))
        }
        self.info_3d = widgets.HTML()
        self.vr_preset.observe(lambda c: self._do_3d(self.scene.set_vr_preset, c["new"]), names="value")
        self.show_volume.observe(lambda c: self._do_3d(self.scene.set_volume_visible, bool(c["new"])), names="value")
        self.surfaces.observe(lambda c: self._do_3d(self.scene.set_surfaces, list(c["new"])), names="value")
        self.view_buttons.observe(lambda c: self._do_3d(self.scene.set_view, c["new"]), names="value")
        moves = {"left": (-15, 0), "right": (15, 0), "up": (0, 15), "down": (0, -15)}
        for name, button in self.turn.items():
            if name in moves:
                az, el = moves[name]
                button.on_click(lambda _b, az=az, el=el: self._do_3d(self.scene.rotate, az, el))
            else:
                factor = 1.2 if name == "in" else 1 / 1.2
                button.on_click(lambda _b, f=factor: self._do_3d(self.scene.zoom, f))
        panel = widgets.VBox([self.vr_preset, self.show_volume, self.surfaces, self.view_buttons, widgets.HBox(list(self.turn.values())), self.info_3d])
        self._redraw_3d()
        return widgets.HBox([self.image_3d, panel])

    def _do_3d(self, action: Any, *args: Any) -> None:
        try:
            action(*args)
        except Exception as exc:  # show the reason next to the view, keep the widget alive
            self.info_3d.value = f"<span style='color:#c00'>{type(exc).__name__}: {exc}</span>"
            return
        self._redraw_3d()

    def _redraw_3d(self) -> None:
        t = time.perf_counter()
        self.image_3d.value = self.scene.png()
        gl = self.scene.opengl()
        self.info_3d.value = f"<small>{gl['mapper']} ray caster on {gl['renderer'] or 'OpenGL'}, {1000 * (time.perf_counter() - t):.0f} ms</small>"

    # ------------------------------------------------------------------ slices
    def _slider_changed(self, plane: Plane) -> Any:
        def handler(change: dict[str, Any]) -> None:
            if not self._syncing:
                t = time.perf_counter()
                self.model.set_index(plane, int(change["new"]))
                self.last_update_s = time.perf_counter() - t

        return handler

    def _preset_changed(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        if change["new"] == _HEADER_PRESET:
            self.model.reset_window()
        else:
            self.model.apply_preset(change["new"])

    def _window_typed(self, _change: dict[str, Any]) -> None:
        if self._syncing:
            return
        try:
            self.model.set_window(float(self.window.value), float(self.level.value))
        except ValueError as exc:
            self.readout.value = f"<span style='color:#c00'>{exc}</span>"

    def _frame_changed(self, change: dict[str, Any]) -> None:
        assert self.sequence is not None
        vol = self.sequence[int(change["new"])]
        self.model.set_volume(vol)
        if self.scene is not None:
            self._do_3d(self.scene.set_frame, vol)
        self._show_frame_label()

    def _show_frame_label(self) -> None:
        seq = self.sequence
        assert seq is not None and self.frame is not None
        n = int(self.frame.value)
        self.frame_label.value = f"{seq.values[n]:g} {seq.unit} {seq.labels[n]}"

    def _model_changed(self, update: Update) -> None:
        m = self.model
        for p in ORTHOGONAL_PLANES:
            if p in update.redrawn:
                self.images[p].value = encode_png(m.images[p])
                self.sent[p] += 1
            if p in update.resliced or not self.letters[p].value:
                e = m.slices[p].orientation_letters()
                self.letters[p].value = f"<small>left {e['left']} | right {e['right']} | top {e['top']} | bottom {e['bottom']}</small>"
        self._syncing = True
        try:
            for p in ORTHOGONAL_PLANES:
                self.sliders[p].value = m.index(p)
            self.window.value = round(m.window, 2)
            self.level.value = round(m.level, 2)
            if m.preset in m.presets and self.preset.value != m.preset:
                self.preset.value = m.preset
        finally:
            self._syncing = False
        value = m.value_at_point()
        x, y, z = m.point
        shown = "outside" if value is None else f"{value:g}"
        self.readout.value = f"crosshair LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm, value {shown}, window {m.window:g} / level {m.level:g}"
