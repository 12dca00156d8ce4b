"""2D slice views (offscreen or in the viewer's windows): the windowed slice, orientation
letters on each edge, a scale bar in mm and the crosshair.

The image is shown with row 0 at the top (camera view-up along -j), with square pixels of
the slice's pixel size, so what the PNG shows is what the numpy array holds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from vtkdicom_app.display import to_display
from vtkdicom_app.mpr import Slice
from vtkdicom_app.rendering.volume_render import ensure_offscreen_backend, grab_render_window, write_png

__all__ = ["SliceView", "render_slice", "contact_sheet"]

_LETTER_COLOR = (1.0, 0.85, 0.2)
_CROSS_COLOR = (0.2, 0.9, 0.3)


def _nice_length(max_mm: float) -> float:
    """A round scale-bar length (1, 2, 5 x 10^n mm) not longer than ``max_mm``."""
    if max_mm <= 0:
        return 1.0
    exp = math.floor(math.log10(max_mm))
    for m in (5, 2, 1):
        if m * 10**exp <= max_mm:
            return float(m * 10**exp)
    return float(10 ** (exp - 1) * 5)


class SliceView:
    """One renderer showing a :class:`~vtkdicom_app.mpr.Slice` with its annotations.

    Parameters
    ----------
    render_window : vtkRenderWindow
    viewport : tuple of float
        (xmin, ymin, xmax, ymax) of the window this view occupies.
    """

    def __init__(self, render_window: Any, viewport: Sequence[float] = (0.0, 0.0, 1.0, 1.0)) -> None:
        import vtkmodules.vtkRenderingFreeType  # noqa: F401  (text rendering factories)
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
        from vtkmodules.vtkRenderingCore import vtkActor2D, vtkImageActor, vtkPolyDataMapper2D, vtkRenderer, vtkTextActor

        self.render_window = render_window
        self.renderer = vtkRenderer()
        self.renderer.SetViewport(*viewport)
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        render_window.AddRenderer(self.renderer)
        self.image_actor = vtkImageActor()
        self.image_actor.InterpolateOff()
        self.image_actor.VisibilityOff()  # until a slice is shown
        self.renderer.AddActor(self.image_actor)
        self.letters: dict[str, Any] = {}
        for edge in ("left", "right", "top", "bottom"):
            text = vtkTextActor()
            prop = text.GetTextProperty()
            prop.SetFontSize(16)
            prop.BoldOn()
            prop.SetColor(*_LETTER_COLOR)
            prop.SetJustificationToCentered()
            prop.SetVerticalJustificationToCentered()
            text.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            self.renderer.AddViewProp(text)
            self.letters[edge] = text
        self.letters["left"].SetPosition(0.04, 0.5)
        self.letters["right"].SetPosition(0.96, 0.5)
        self.letters["top"].SetPosition(0.5, 0.96)
        self.letters["bottom"].SetPosition(0.5, 0.04)
        self._bar_mapper = vtkPolyDataMapper2D()
        self.scale_bar = vtkActor2D()
        self.scale_bar.SetMapper(self._bar_mapper)
        self.scale_bar.GetProperty().SetColor(1, 1, 1)
        self.scale_bar.GetProperty().SetLineWidth(2)
        self.scale_bar.VisibilityOff()
        self.renderer.AddViewProp(self.scale_bar)
        self.scale_label = vtkTextActor()
        self.scale_label.GetTextProperty().SetFontSize(12)
        self.scale_label.GetTextProperty().SetColor(1, 1, 1)
        self.renderer.AddViewProp(self.scale_label)
        self.slice: Slice | None = None
        self.rgb: np.ndarray | None = None
        # what is shown (set by show(); the viewer's tests read them back)
        self.window_level: tuple[float, float] | None = None
        self.zoom = 1.0
        self.pan: tuple[float, float] = (0.0, 0.0)

    def show(
        self,
        s: Slice,
        *,
        window: float,
        level: float,
        invert: bool = False,
        crosshair: Sequence[float] | None = None,
        zoom: float = 1.0,
        pan: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        """Display a slice with a window; ``crosshair`` is an LPS point drawn as two lines."""
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonDataModel import vtkImageData

        self.slice = s
        self.window_level = (float(window), float(level))
        self.zoom, self.pan = float(zoom), (float(pan[0]), float(pan[1]))
        shown = to_display(s.array, window, level, invert=invert)
        rgb = shown.copy() if shown.ndim == 3 else np.repeat(shown[:, :, None], 3, axis=2)
        if crosshair is not None:
            row, col, _dist = s.patient_to_pixel(crosshair)
            r, c = int(round(float(row))), int(round(float(col)))
            colour = (np.array(_CROSS_COLOR) * 255).astype(np.uint8)
            if 0 <= r < rgb.shape[0]:
                rgb[r, :, :] = colour
            if 0 <= c < rgb.shape[1]:
                rgb[:, c, :] = colour
        self.rgb = rgb
        image = vtkImageData()
        rows, cols = shown.shape[:2]
        image.SetDimensions(cols, rows, 1)
        image.SetSpacing(s.pixel_size[0], s.pixel_size[1], 1.0)
        flat = np.ascontiguousarray(rgb).reshape(-1, 3)
        arr = numpy_to_vtk(flat, deep=True)
        image.GetPointData().SetScalars(arr)
        self.image_actor.SetInputData(image)
        self.image_actor.VisibilityOn()
        self.scale_bar.VisibilityOn()
        for edge, letter in s.orientation_letters().items():
            self.letters[edge].SetInput(letter)
        self._place_camera(s, zoom, pan)
        self._update_scale_bar(s)

    def mm_per_pixel(self) -> float:
        """Millimetres of the slice per display pixel at the current zoom."""
        view_h_px = (self.renderer.GetViewport()[3] - self.renderer.GetViewport()[1]) * self.render_window.GetSize()[1]
        return 2.0 * self.renderer.GetActiveCamera().GetParallelScale() / max(1.0, view_h_px)

    def patient_at(self, x: float, y: float) -> np.ndarray | None:
        """LPS point (mm) on the slice's plane under display pixel ``(x, y)``; None before a slice is shown."""
        s = self.slice
        if s is None:
            return None
        ren = self.renderer
        ren.SetDisplayPoint(float(x), float(y), 0.0)
        ren.DisplayToWorld()
        wx, wy, _wz, w = ren.GetWorldPoint()
        if w:
            wx, wy = wx / w, wy / w
        return s.pixel_to_patient(wy / s.pixel_size[1], wx / s.pixel_size[0])

    def _place_camera(self, s: Slice, zoom: float, pan: tuple[float, float]) -> None:
        cam = self.renderer.GetActiveCamera()
        cam.ParallelProjectionOn()
        width, height = s.extent_mm
        cx = (s.array.shape[1] - 1) * s.pixel_size[0] / 2 + pan[0]
        cy = (s.array.shape[0] - 1) * s.pixel_size[1] / 2 + pan[1]
        cam.SetFocalPoint(cx, cy, 0.0)
        cam.SetPosition(cx, cy, -1000.0)  # looking along +k ...
        cam.SetViewUp(0.0, -1.0, 0.0)  # ... with row 0 at the top
        vp = self.renderer.GetViewport()
        size = self.render_window.GetSize()
        aspect = ((vp[2] - vp[0]) * size[0]) / max(1.0, (vp[3] - vp[1]) * size[1])
        half_h = max(height / 2, width / 2 / max(aspect, 1e-6)) * 1.02
        cam.SetParallelScale(half_h / max(zoom, 1e-6))
        self.renderer.ResetCameraClippingRange()

    def _update_scale_bar(self, s: Slice) -> None:
        from vtkmodules.vtkCommonCore import vtkPoints
        from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

        cam = self.renderer.GetActiveCamera()
        vp = self.renderer.GetViewport()
        size = self.render_window.GetSize()
        view_h_px = (vp[3] - vp[1]) * size[1]
        view_w_px = (vp[2] - vp[0]) * size[0]
        mm_per_px = 2 * cam.GetParallelScale() / max(view_h_px, 1.0)
        length_mm = _nice_length(0.3 * view_w_px * mm_per_px)
        length_px = length_mm / mm_per_px
        # the 2D mapper draws in the renderer's viewport coordinates, the label in display ones
        x0 = 0.62 * view_w_px
        y0 = 0.1 * view_h_px
        pts = vtkPoints()
        for x, y in ((x0, y0), (x0 + length_px, y0), (x0, y0 - 4), (x0, y0 + 4), (x0 + length_px, y0 - 4), (x0 + length_px, y0 + 4)):
            pts.InsertNextPoint(x, y, 0.0)
        lines = vtkCellArray()
        for a, b in ((0, 1), (2, 3), (4, 5)):
            lines.InsertNextCell(2)
            lines.InsertCellPoint(a)
            lines.InsertCellPoint(b)
        poly = vtkPolyData()
        poly.SetPoints(pts)
        poly.SetLines(lines)
        self._bar_mapper.SetInputData(poly)
        label = f"{length_mm:g} mm" if length_mm < 10 else f"{length_mm / 10:g} cm"
        self.scale_label.SetInput(label)
        self.scale_label.SetDisplayPosition(int(vp[0] * size[0] + x0), int(vp[1] * size[1] + y0 + 6))
        self.scale_length_mm = length_mm


def _offscreen_window(size: tuple[int, int]) -> Any:
    ensure_offscreen_backend()
    import vtkmodules.vtkRenderingFreeType  # noqa: F401  (text)
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
    from vtkmodules.vtkRenderingCore import vtkRenderWindow

    rw = vtkRenderWindow()
    rw.SetOffScreenRendering(1)
    rw.SetSize(*size)
    return rw


def render_slice(
    s: Slice,
    path: str | os.PathLike[str] | None = None,
    *,
    window: float,
    level: float,
    invert: bool = False,
    crosshair: Sequence[float] | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Render one slice with letters, scale bar and crosshair, offscreen; save a PNG.

    Returns
    -------
    numpy.ndarray
        The rendered ``(height, width, 3)`` uint8 image.
    """
    if size is None:
        scale = max(1.0, 512 / max(s.shape))
        size = (int(s.shape[1] * scale), int(s.shape[0] * scale))
    rw = _offscreen_window(size)
    view = SliceView(rw)
    view.show(s, window=window, level=level, invert=invert, crosshair=crosshair)
    rgb = grab_render_window(rw)
    if path is not None:
        write_png(rgb, path)
    return rgb


def contact_sheet(
    slices: Sequence[Slice],
    path: str | os.PathLike[str] | None = None,
    *,
    window: float,
    level: float,
    invert: bool = False,
    crosshair: Sequence[float] | None = None,
    tile: int = 384,
) -> np.ndarray:
    """Slices side by side (e.g. axial, coronal, sagittal through the crosshair) in one PNG."""
    rw = _offscreen_window((tile * len(slices), tile))
    n = len(slices)
    for idx, s in enumerate(slices):
        view = SliceView(rw, viewport=(idx / n, 0.0, (idx + 1) / n, 1.0))
        view.show(s, window=window, level=level, invert=invert, crosshair=crosshair)
    rgb = grab_render_window(rw)
    if path is not None:
        write_png(rgb, path)
    return rgb
