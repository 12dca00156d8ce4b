"""2D slice views (offscreen or in the viewer's windows): the windowed slice, orientation
letters on each edge, a scale bar in mm, the crosshair, and coloured segment overlays.

The image is shown with row 0 at the top (camera view-up along -j), with square pixels of
the slice's pixel size, so what the PNG shows is what the numpy array holds.

Segment overlays
----------------
:func:`segment_overlay` samples each segment's mask (a ``(k, j, i)`` bool array on a
:class:`~vtkdicom_app.segmentation.Geometry`) at the slice's pixel centres, nearest voxel,
and colours it into an RGBA image: the fill at the overlay opacity, the outline opaque.
:class:`SliceView` draws that image with a second ``vtkImageActor`` over the slice (VTK
blends it by its alpha). Sampling only touches the pixels of each segment's index box
projected on the slice, and for the usual case (a view plane along the volume's axes) it
is two ``numpy.take`` calls on one slab of the mask, not a per-pixel gather: a brush dab
on a 512x512x300 grid recolours a view in well under a millisecond.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vtkdicom_app.display import to_display
from vtkdicom_app.mpr import Slice
from vtkdicom_app.rendering.volume_render import ensure_offscreen_backend, grab_render_window, write_png
from vtkdicom_app.segmentation.geometry import Box, Geometry

__all__ = ["OverlayLayer", "SegmentOverlay", "SliceSampler", "SliceView", "contact_sheet", "render_slice", "segment_overlay"]

_LETTER_COLOR = (1.0, 0.85, 0.2)
_CROSS_COLOR = (0.2, 0.9, 0.3)
_SKETCH_COLOR = (1.0, 0.9, 0.1)
_MEASURE_COLOR = (0.3, 0.85, 1.0)
_MEASURE_SELECTED = (1.0, 0.4, 0.3)
_EPS = 1e-9


# ----------------------------------------------------------------------------- segment overlays
@dataclasses.dataclass(frozen=True, eq=False)
class OverlayLayer:
    """One segment to draw over a slice.

    Attributes
    ----------
    mask : numpy.ndarray
        bool ``(k, j, i)`` on the overlay's grid (read-only views are fine; it is not copied).
    color : tuple of float
        RGB 0..1.
    box : Box or None
        An index box holding every voxel of the mask (it may be larger than the tightest
        one); None: the mask is empty and is skipped.
    key : str
        The segment's ID (for the caller; not drawn).
    """

    mask: np.ndarray
    color: tuple[float, float, float]
    box: Box | None
    key: str = ""


@dataclasses.dataclass(frozen=True, eq=False)
class SegmentOverlay:
    """Segments to draw over the slices of one grid.

    Attributes
    ----------
    geometry : Geometry
        The grid of every layer's mask.
    layers : tuple of OverlayLayer
        Drawn in order (a later layer covers an earlier one where they overlap).
    opacity : float
        Opacity of the fill, 0..1.
    outline : bool
        Draw each segment's outline on the slice, opaque.
    """

    geometry: Geometry
    layers: tuple[OverlayLayer, ...] = ()
    opacity: float = 0.5
    outline: bool = True


class SliceSampler:
    """Nearest-voxel sampling of masks on a grid at the pixel centres of one slice.

    Parameters
    ----------
    s : Slice
    geometry : Geometry
        The grid the masks lie on (LPS, the same frame as the slice).

    Notes
    -----
    Pixel ``(row, col)`` lies at the continuous index ``base + col * d_col + row * d_row``
    ``(i, j, k)``. When each index axis depends on the row only, on the column only, or on
    neither (a view along the grid's axes, in any order or sign), sampling is separable: one
    2D slab of the mask and two ``take`` calls. Otherwise every pixel is gathered.
    """

    def __init__(self, s: Slice, geometry: Geometry) -> None:
        self.slice = s
        self.geometry = geometry
        inv = np.linalg.inv(geometry.affine)
        m = inv[:3, :3]
        self._base = m @ np.asarray(s.origin, float) + inv[:3, 3]  # (i, j, k) of pixel (0, 0)
        self._dcol = m @ (s.pixel_size[0] * s.axes[:, 0])
        self._drow = m @ (s.pixel_size[1] * s.axes[:, 1])
        self._n_ijk = (geometry.shape[2], geometry.shape[1], geometry.shape[0])
        kinds: list[str] = []
        for a in range(3):
            on_col, on_row = abs(self._dcol[a]) > _EPS, abs(self._drow[a]) > _EPS
            kinds.append("both" if on_col and on_row else "col" if on_col else "row" if on_row else "const")
        self.separable = sorted(kinds) == ["col", "const", "row"]
        self._kinds = kinds

    def pixel_rect(self, box: Box) -> tuple[int, int, int, int] | None:
        """``(row0, row1, col0, col1)`` (half-open) of the pixels whose nearest voxel may lie in ``box``; None when the plane misses it."""
        rows, cols = self.slice.shape
        lo = np.asarray(box.lo[::-1], float) - 0.5  # (i, j, k)
        hi = np.asarray(box.hi[::-1], float) - 0.5
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        row, col, dist = self.slice.patient_to_pixel(self.geometry.index_to_patient(corners))
        if dist.min() > 1e-6 or dist.max() < -1e-6:
            return None
        r0, r1 = max(0, int(math.floor(row.min())) - 1), min(rows, int(math.ceil(row.max())) + 2)
        c0, c1 = max(0, int(math.floor(col.min())) - 1), min(cols, int(math.ceil(col.max())) + 2)
        if r1 <= r0 or c1 <= c0:
            return None
        return r0, r1, c0, c1

    def sample(self, mask: np.ndarray, rect: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The mask at the pixels of ``rect`` (default: the whole slice): bool ``(rows, cols)``."""
        rows, cols = self.slice.shape
        r0, r1, c0, c1 = rect if rect is not None else (0, rows, 0, cols)
        r = np.arange(r0, r1, dtype=np.float64)
        c = np.arange(c0, c1, dtype=np.float64)
        if self.separable:
            return self._sample_separable(mask, r, c)
        idx = []
        valid = np.ones((len(r), len(c)), bool)
        for a in range(3):
            v = np.rint(self._base[a] + c[None, :] * self._dcol[a] + r[:, None] * self._drow[a]).astype(np.int64)
            valid &= (v >= 0) & (v < self._n_ijk[a])
            idx.append(v)
        ni, nj = self._n_ijk[0], self._n_ijk[1]
        flat = (idx[2] * nj + idx[1]) * ni + idx[0]
        np.copyto(flat, 0, where=~valid)
        return np.asarray(mask).reshape(-1)[flat] & valid

    def _sample_separable(self, mask: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        kinds = self._kinds
        a_const, a_row, a_col = kinds.index("const"), kinds.index("row"), kinds.index("col")
        const = int(np.rint(self._base[a_const]))
        if not 0 <= const < self._n_ijk[a_const]:
            return np.zeros((len(r), len(c)), bool)
        ri = np.rint(self._base[a_row] + r * self._drow[a_row]).astype(np.intp)
        ci = np.rint(self._base[a_col] + c * self._dcol[a_col]).astype(np.intp)
        r_ok = (ri >= 0) & (ri < self._n_ijk[a_row])
        c_ok = (ci >= 0) & (ci < self._n_ijk[a_col])
        index: list[Any] = [slice(None)] * 3
        index[2 - a_const] = const  # mask axes are (k, j, i): index axis a is mask axis 2 - a
        plane = np.asarray(mask)[tuple(index)]  # 2D view; its axes are the two others, in mask order
        row_axis = 0 if (2 - a_row) < (2 - a_col) else 1
        out = plane.take(np.where(r_ok, ri, 0), axis=row_axis).take(np.where(c_ok, ci, 0), axis=1 - row_axis)
        if row_axis == 1:
            out = out.T
        if not (r_ok.all() and c_ok.all()):
            out = out & (r_ok[:, None] & c_ok[None, :])
        return np.ascontiguousarray(out, dtype=bool)


def _edges(m: np.ndarray) -> np.ndarray:
    """Pixels of ``m`` with a 4-neighbour outside it (the outline; the image border counts as outside)."""
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    inner[0, :] = inner[-1, :] = False
    inner[:, 0] = inner[:, -1] = False
    return m & ~inner


def segment_overlay(s: Slice, overlay: SegmentOverlay, *, out: np.ndarray | None = None) -> np.ndarray:
    """The segments of ``overlay`` on a slice's pixels, as an RGBA image.

    Parameters
    ----------
    s : Slice
    overlay : SegmentOverlay
    out : numpy.ndarray, optional
        A ``(rows, cols, 4)`` uint8 buffer to fill (reused between calls); a new one otherwise.

    Returns
    -------
    numpy.ndarray
        ``(rows, cols, 4)`` uint8, row 0 at the top like ``s.array``: the segment's colour
        with alpha ``opacity * 255`` inside it, 255 on its outline, 0 elsewhere.
    """
    rows, cols = s.shape
    rgba = out if out is not None and out.shape == (rows, cols, 4) and out.dtype == np.uint8 else np.zeros((rows, cols, 4), np.uint8)
    rgba.fill(0)
    opacity = min(1.0, max(0.0, float(overlay.opacity)))
    if not overlay.layers or (opacity <= 0.0 and not overlay.outline):
        return rgba
    sampler = SliceSampler(s, overlay.geometry)
    fill_alpha = int(round(opacity * 255))
    for layer in overlay.layers:
        if layer.box is None:
            continue
        rect = sampler.pixel_rect(layer.box)
        if rect is None:
            continue
        m = sampler.sample(layer.mask, rect)
        if not m.any():
            continue
        r0, r1, c0, c1 = rect
        region = rgba[r0:r1, c0:c1]
        rgb = [int(round(255 * min(1.0, max(0.0, float(v))))) for v in layer.color]
        if fill_alpha > 0:
            region[m] = (*rgb, fill_alpha)
        if overlay.outline:
            region[_edges(m)] = (*rgb, 255)
    return rgba


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
        from vtkmodules.vtkRenderingCore import vtkActor, vtkActor2D, vtkImageActor, vtkPolyDataMapper, vtkPolyDataMapper2D, vtkRenderer, vtkTextActor

        self.render_window = render_window
        self.renderer = vtkRenderer()
        self.renderer.SetViewport(*viewport)
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        render_window.AddRenderer(self.renderer)
        self.image_actor = vtkImageActor()
        self.image_actor.InterpolateOff()
        self.image_actor.VisibilityOff()  # until a slice is shown
        self.renderer.AddActor(self.image_actor)
        # segments: an RGBA image over the slice, same pixels (VTK blends it by its alpha)
        self.overlay_actor = vtkImageActor()
        self.overlay_actor.InterpolateOff()
        self.overlay_actor.VisibilityOff()
        # drawn in the opaque pass right after the slice, alpha-blended onto it: the translucent
        # pass (order-independent transparency, full-window passes) costs ~4 ms a frame on llvmpipe
        self.overlay_actor.ForceOpaqueOn()
        self.renderer.AddActor(self.overlay_actor)
        self.overlay_rgba: np.ndarray | None = None  # what the overlay actor shows (row 0 at the top)
        self._overlay_image: Any = None
        self._overlay_slice: Slice | None = None
        # a line drawn on the slice (the scissors' polygon, the brush's outline), in the view's world frame
        self._sketch_mapper = vtkPolyDataMapper()
        self.sketch_actor = vtkActor()
        self.sketch_actor.SetMapper(self._sketch_mapper)
        self.sketch_actor.GetProperty().SetColor(*_SKETCH_COLOR)
        self.sketch_actor.GetProperty().SetLineWidth(2)
        self.sketch_actor.PickableOff()
        self.sketch_actor.VisibilityOff()
        self.renderer.AddActor(self.sketch_actor)
        # the crosshair as lines when the planes are rotated (otherwise it is painted into the pixels)
        self._cross_mapper = vtkPolyDataMapper()
        self.crosshair_actor = vtkActor()
        self.crosshair_actor.SetMapper(self._cross_mapper)
        self.crosshair_actor.GetProperty().SetColor(*_CROSS_COLOR)
        self.crosshair_actor.GetProperty().SetLineWidth(1.5)
        self.crosshair_actor.PickableOff()
        self.crosshair_actor.VisibilityOff()
        self.renderer.AddActor(self.crosshair_actor)
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
        # measurements: one line actor and one label per measurement on this plane (a pool, reused)
        self._measure_actors: list[Any] = []
        self._measure_labels: list[Any] = []
        self.measurement_labels: dict[int, str] = {}
        """The measurements drawn on this slice: id -> label text (what the view shows)."""
        # corner annotations (patient, position, window...), texts set by show_corners
        from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation

        self.corner_annotation = vtkCornerAnnotation()
        self.corner_annotation.SetMaximumFontSize(14)
        self.corner_annotation.SetMinimumFontSize(9)
        self.corner_annotation.GetTextProperty().SetColor(0.9, 0.9, 0.6)
        self.corner_annotation.VisibilityOff()
        self.renderer.AddViewProp(self.corner_annotation)
        self.slice: Slice | None = None
        self.crosshair_segments: list[tuple[np.ndarray, np.ndarray]] = []
        """The crosshair's lines drawn as actors (LPS end points); empty when painted into the pixels."""
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
        overlay: SegmentOverlay | None = None,
        crosshair_lines: Sequence[npt.ArrayLike] | None = None,
    ) -> None:
        """Display a slice with a window; ``crosshair`` is an LPS point drawn as two lines.

        ``overlay``: segments drawn over the slice (see :meth:`show_overlay`); without it
        an overlay shown on an earlier slice is hidden. ``crosshair_lines``: the LPS
        directions of the crosshair's lines when they are not the image's rows and columns
        (rotated planes); they are drawn as line actors through ``crosshair`` across the view.
        """
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonDataModel import vtkImageData

        self.slice = s
        self.window_level = (float(window), float(level))
        self.zoom, self.pan = float(zoom), (float(pan[0]), float(pan[1]))
        shown = to_display(s.array, window, level, invert=invert)
        rgb = shown.copy() if shown.ndim == 3 else np.repeat(shown[:, :, None], 3, axis=2)
        self._place_camera(s, zoom, pan)
        self._show_crosshair_lines(s, crosshair if crosshair_lines is not None else None, crosshair_lines)
        if crosshair is not None and crosshair_lines is None:
            # lines at least one screen pixel wide: a tall image shown smaller than its pixels keeps them
            half_r = max(0, int(np.ceil(self.mm_per_pixel() / s.pixel_size[1])) // 2)
            half_c = max(0, int(np.ceil(self.mm_per_pixel() / s.pixel_size[0])) // 2)
            row, col, _dist = s.patient_to_pixel(crosshair)
            r, c = int(round(float(row))), int(round(float(col)))
            colour = (np.array(_CROSS_COLOR) * 255).astype(np.uint8)
            if 0 <= r < rgb.shape[0]:
                rgb[max(0, r - half_r) : r + half_r + 1, :, :] = colour
            if 0 <= c < rgb.shape[1]:
                rgb[:, max(0, c - half_c) : c + half_c + 1, :] = colour
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
        self._update_scale_bar(s)
        self.show_overlay(overlay)

    def _show_crosshair_lines(self, s: Slice, crosshair: Sequence[float] | None, directions: Sequence[npt.ArrayLike] | None) -> None:
        if crosshair is None or not directions:
            self.crosshair_actor.VisibilityOff()
            self.crosshair_segments = []
            return
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonCore import vtkPoints
        from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

        c = np.asarray(crosshair, float).reshape(3)
        reach = float(np.hypot(*s.extent_mm))  # long enough to cross the whole slice
        ends = []
        for d in directions:
            u = np.asarray(d, float).reshape(3)
            u = u - float(u @ s.axes[:, 2]) * s.axes[:, 2]  # in the slice's plane
            norm = float(np.linalg.norm(u))
            if norm > 1e-9:
                ends.append((c - reach * u / norm, c + reach * u / norm))
        self.crosshair_segments = ends
        if not ends:
            self.crosshair_actor.VisibilityOff()
            return
        pts = np.array([p for pair in ends for p in pair])
        points = vtkPoints()
        points.SetData(numpy_to_vtk(np.ascontiguousarray(self._world(pts)), deep=True))
        lines = vtkCellArray()
        for i in range(len(ends)):
            lines.InsertNextCell(2)
            lines.InsertCellPoint(2 * i)
            lines.InsertCellPoint(2 * i + 1)
        poly = vtkPolyData()
        poly.SetPoints(points)
        poly.SetLines(lines)
        self._cross_mapper.SetInputData(poly)
        self.crosshair_actor.VisibilityOn()

    def show_overlay(self, overlay: SegmentOverlay | None) -> None:
        """Draw segments over the slice shown (None hides them); the caller renders.

        The RGBA buffer and its VTK image are reused while the slice keeps its size, so a
        redraw after an edit only refills the pixels and marks the image modified.
        """
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonDataModel import vtkImageData

        s = self.slice
        if s is None or overlay is None or not overlay.layers:
            self.overlay_actor.VisibilityOff()
            self._overlay_slice = None
            return
        rows, cols = s.shape
        same_grid = self.overlay_rgba is not None and self.overlay_rgba.shape[:2] == (rows, cols) and self._overlay_image is not None
        if same_grid:
            assert self.overlay_rgba is not None
            segment_overlay(s, overlay, out=self.overlay_rgba)
            image = self._overlay_image
            spacing = image.GetSpacing()
            if (spacing[0], spacing[1]) != (s.pixel_size[0], s.pixel_size[1]):
                image.SetSpacing(s.pixel_size[0], s.pixel_size[1], 1.0)
            image.GetPointData().GetScalars().Modified()
            image.Modified()
        else:
            rgba = segment_overlay(s, overlay)
            image = vtkImageData()
            image.SetDimensions(cols, rows, 1)
            image.SetSpacing(s.pixel_size[0], s.pixel_size[1], 1.0)
            image.GetPointData().SetScalars(numpy_to_vtk(rgba.reshape(-1, 4), deep=False))  # shares ``rgba``
            self.overlay_rgba, self._overlay_image = rgba, image
            self.overlay_actor.SetInputData(image)
        self._overlay_slice = s
        self.overlay_actor.VisibilityOn()

    def show_sketch(self, points_lps: npt.ArrayLike | None, *, closed: bool = False) -> None:
        """Draw a line through LPS points on the slice (the scissors' polygon); None hides it."""
        pts = None if points_lps is None else np.asarray(points_lps, float).reshape(-1, 3)
        if pts is None or len(pts) < 2 or self.slice is None:
            self.sketch_actor.VisibilityOff()
            return
        self._set_line(pts, closed)

    def show_brush(self, center_lps: npt.ArrayLike | None, radius_mm: float) -> None:
        """Draw the brush's footprint on the slice, a circle of ``radius_mm`` (None hides it)."""
        if center_lps is None or self.slice is None or not radius_mm > 0:
            self.sketch_actor.VisibilityOff()
            return
        s = self.slice
        c = np.asarray(center_lps, float).reshape(3)
        t = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
        circle = c + radius_mm * (np.cos(t)[:, None] * s.axes[:, 0] + np.sin(t)[:, None] * s.axes[:, 1])
        self._set_line(circle, True)

    def _world(self, pts: np.ndarray) -> np.ndarray:
        """The view's world coordinates of LPS points (a little towards the camera)."""
        s = self.slice
        assert s is not None
        row, col, _dist = s.patient_to_pixel(pts)
        return np.column_stack([np.atleast_1d(col) * s.pixel_size[0], np.atleast_1d(row) * s.pixel_size[1], np.full(len(pts), -0.5)])

    def _polyline(self, pts: np.ndarray, closed: bool) -> Any:
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonCore import vtkPoints
        from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

        points = vtkPoints()
        points.SetData(numpy_to_vtk(np.ascontiguousarray(self._world(pts)), deep=True))
        ids = list(range(len(pts))) + ([0] if closed else [])
        lines = vtkCellArray()
        lines.InsertNextCell(len(ids))
        for i in ids:
            lines.InsertCellPoint(i)
        poly = vtkPolyData()
        poly.SetPoints(points)
        poly.SetLines(lines)
        return poly

    def on_plane(self, points_lps: npt.ArrayLike, tolerance_mm: float) -> bool:
        """Whether every LPS point lies within ``tolerance_mm`` of the slice's plane."""
        s = self.slice
        if s is None:
            return False
        pts = np.asarray(points_lps, float).reshape(-1, 3)
        _row, _col, dist = s.patient_to_pixel(pts)
        return bool(np.all(np.abs(np.atleast_1d(dist)) <= tolerance_mm))

    def show_measurements(self, items: Sequence[tuple[int, npt.ArrayLike, bool, str]], *, selected: int | None = None) -> None:
        """Draw measurements on the slice: ``(id, LPS points, closed, label)`` each; the caller renders.

        Each is a polyline with its points marked, and its label next to its last point.
        The caller passes only those on this slice's plane (:meth:`on_plane`).
        """
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkTextActor

        self.measurement_labels = {}
        shown = 0
        for mid, points, closed, label in items if self.slice is not None else ():
            pts = np.asarray(points, float).reshape(-1, 3)
            if len(pts) < 1:
                continue
            if shown == len(self._measure_actors):
                actor = vtkActor()
                actor.SetMapper(vtkPolyDataMapper())
                actor.GetProperty().SetLineWidth(2)
                actor.GetProperty().SetPointSize(6)
                actor.GetProperty().RenderPointsAsSpheresOn()
                actor.PickableOff()
                self.renderer.AddActor(actor)
                text = vtkTextActor()
                text.GetPositionCoordinate().SetCoordinateSystemToWorld()
                prop = text.GetTextProperty()
                prop.SetFontSize(14)
                prop.BoldOn()
                prop.SetShadow(True)
                self.renderer.AddViewProp(text)
                self._measure_actors.append(actor)
                self._measure_labels.append(text)
            actor, text = self._measure_actors[shown], self._measure_labels[shown]
            poly = self._polyline(pts if len(pts) > 1 else np.vstack([pts, pts]), closed)
            from vtkmodules.vtkCommonDataModel import vtkCellArray

            verts = vtkCellArray()
            for i in range(len(pts) if not closed else 0):
                verts.InsertNextCell(1)
                verts.InsertCellPoint(i)
            poly.SetVerts(verts)
            actor.GetMapper().SetInputData(poly)
            colour = _MEASURE_SELECTED if mid == selected else _MEASURE_COLOR
            actor.GetProperty().SetColor(*colour)
            text.GetTextProperty().SetColor(*colour)
            anchor = self._world(pts[[int(np.argmax(pts @ self.slice.axes[:, 0]))]] if closed else pts[-1:])[0]  # type: ignore[union-attr]
            text.GetPositionCoordinate().SetValue(float(anchor[0]) + 2.0, float(anchor[1]), float(anchor[2]))
            text.SetInput(label)
            actor.VisibilityOn()
            text.VisibilityOn()
            self.measurement_labels[int(mid)] = label
            shown += 1
        for actor, text in zip(self._measure_actors[shown:], self._measure_labels[shown:]):
            actor.VisibilityOff()
            text.VisibilityOff()
        if shown:
            self.renderer.ResetCameraClippingRange()

    def show_corners(self, texts: dict[int, str] | None) -> None:
        """Corner annotations: ``{vtkCornerAnnotation corner index: text}`` (None hides them); the caller renders."""
        if texts is None:
            self.corner_annotation.VisibilityOff()
            return
        for corner in range(4):
            self.corner_annotation.SetText(corner, texts.get(corner, ""))
        self.corner_annotation.VisibilityOn()

    def corner_text(self, corner: int) -> str:
        """The text shown in one corner (0 lower left, 1 lower right, 2 upper left, 3 upper right)."""
        if not self.corner_annotation.GetVisibility():
            return ""
        return str(self.corner_annotation.GetText(corner) or "")

    def _set_line(self, pts: np.ndarray, closed: bool) -> None:
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonCore import vtkPoints
        from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

        world = self._world(pts)
        points = vtkPoints()
        points.SetData(numpy_to_vtk(np.ascontiguousarray(world), deep=True))
        ids = list(range(len(pts))) + ([0] if closed else [])
        lines = vtkCellArray()
        lines.InsertNextCell(len(ids))
        for i in ids:
            lines.InsertCellPoint(i)
        poly = vtkPolyData()
        poly.SetPoints(points)
        poly.SetLines(lines)
        self._sketch_mapper.SetInputData(poly)
        self.sketch_actor.VisibilityOn()
        self.renderer.ResetCameraClippingRange()

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

    def display_at(self, xyz: npt.ArrayLike) -> tuple[float, float] | None:
        """Display pixel ``(x, y)`` (origin bottom left) of an LPS point projected on the slice; None before a slice is shown."""
        s = self.slice
        if s is None:
            return None
        row, col, _dist = s.patient_to_pixel(np.asarray(xyz, float).reshape(3))
        ren = self.renderer
        ren.SetWorldPoint(float(col) * s.pixel_size[0], float(row) * s.pixel_size[1], 0.0, 1.0)
        ren.WorldToDisplay()
        x, y, _z = ren.GetDisplayPoint()
        return float(x), float(y)

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
    overlay: SegmentOverlay | None = None,
) -> np.ndarray:
    """Render one slice with letters, scale bar and crosshair (and segments), offscreen; save a PNG.

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
    view.show(s, window=window, level=level, invert=invert, crosshair=crosshair, overlay=overlay)
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
    overlay: SegmentOverlay | None = None,
) -> np.ndarray:
    """Slices side by side (e.g. axial, coronal, sagittal through the crosshair) in one PNG, with segments when given."""
    rw = _offscreen_window((tile * len(slices), tile))
    n = len(slices)
    for idx, s in enumerate(slices):
        view = SliceView(rw, viewport=(idx / n, 0.0, (idx + 1) / n, 1.0))
        view.show(s, window=window, level=level, invert=invert, crosshair=crosshair, overlay=overlay)
    rgb = grab_render_window(rw)
    if path is not None:
        write_png(rgb, path)
    return rgb
