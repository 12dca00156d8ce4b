"""How a :class:`~vtkdicom_app.volume.Volume` shows itself in Jupyter: a summary table and a
three-plane thumbnail, without patient identifiers unless asked.

``Volume._repr_html_`` and ``VolumeSequence._repr_html_`` call :func:`volume_html` and
:func:`sequence_html`. The thumbnail is sampled in patient space (nearest voxel, numpy only),
with the display convention of :mod:`vtkdicom_app.mpr` (axial and coronal: the patient's
left on the image's right; rows top-down from anterior or superior), so a coronal, sagittal
or oblique acquisition shows the same three standard planes as an axial one. This module
imports no VTK, no pydicom and no widgets, and nothing above ``volume`` in the layers of
docs/ARCHITECTURE.md (``volume.py`` reaches it): numpy, Pillow and
:mod:`vtkdicom_app.geometry` only.

Patient identifiers (PatientName, PatientID, PatientBirthDate, ...) are left out of the table
unless :func:`show_phi` turned them on for the session or ``phi=True`` is given.

Examples
--------
>>> import vtkdicom_app.notebook as nb          # doctest: +SKIP
>>> vol                                          # in a notebook cell: table and thumbnail  # doctest: +SKIP
>>> nb.show_phi(True)                            # also show the patient's name, ID, birth date  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from vtkdicom_app.geometry import sampled_percentiles

if TYPE_CHECKING:  # pragma: no cover
    from vtkdicom_app.volume import Volume, VolumeSequence

__all__ = [
    "show_phi",
    "phi_shown",
    "volume_html",
    "sequence_html",
    "thumbnail",
    "thumbnail_tiles",
    "thumbnail_png",
    "thumbnail_window",
    "ThumbnailTile",
    "axis_letters",
    "THUMBNAIL_AXES",
    "PHI_KEYS",
]

# attributes that identify the patient: shown only when asked
PHI_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "AccessionNumber", "StudyDate", "InstitutionName")
# plain description of the series: always shown when present
_INFO_KEYS = ("SeriesDescription", "SeriesNumber", "StudyDescription", "Manufacturer", "BodyPartExamined")

# (column direction, row direction, normal) of the thumbnails' planes in LPS: the same table as
# vtkdicom_app.mpr.plane_axes (tests/test_notebook.py checks they agree)
THUMBNAIL_AXES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)),
}
_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))
_GAP_PX = 4

_state = {"phi": False}


def show_phi(flag: bool = True) -> bool:
    """Show (or hide) patient identifiers in notebook summaries from now on.

    Parameters
    ----------
    flag : bool, default True

    Returns
    -------
    bool
        The previous setting (hidden by default).
    """
    previous = _state["phi"]
    _state["phi"] = bool(flag)
    return previous


def phi_shown() -> bool:
    """Whether notebook summaries show patient identifiers (see :func:`show_phi`)."""
    return _state["phi"]


def axis_letters(vector: Any, *, min_fraction: float = 0.3) -> str:
    """Patient direction letters of an LPS vector, largest component first (``"L"``, ``"LA"``).

    Components smaller than ``min_fraction`` of the vector's length are left out.
    """
    v = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(v)) or 1.0
    order = np.argsort(-np.abs(v))
    letters = [_LETTERS[a][0 if v[a] > 0 else 1] for a in order if abs(v[a]) / norm >= min_fraction]
    return "".join(letters[:2]) or "?"


def thumbnail_window(vol: Volume) -> tuple[float, float]:
    """The thumbnail's ``(window, level)``: the 1st to 99th percentile of the voxels, padding
    excluded, at least 1 wide (what :func:`vtkdicom_app.display.auto_window_level` gives).

    Computed here with :func:`vtkdicom_app.geometry.sampled_percentiles` rather than through
    :mod:`vtkdicom_app.display`: ``Volume._repr_html_`` reaches this module, and the layers of
    docs/ARCHITECTURE.md keep ``volume`` below ``display``.
    """
    values = np.asarray(vol.array)
    if np.issubdtype(values.dtype, np.floating):
        values = values[np.isfinite(values)]
    lo, hi = (float(v) for v in sampled_percentiles(values, (1.0, 99.0), exclude=vol.padding_value))
    hi = max(hi, lo + 1.0)
    return hi - lo, (hi + lo) / 2.0


def _grey(values: np.ndarray, window: float, level: float, invert: bool) -> np.ndarray:
    """8-bit grey, ``level - window/2`` black: the formula of :func:`vtkdicom_app.display.apply_window`."""
    lo = float(level) - float(window) / 2.0
    scaled = (np.asarray(values, dtype=np.float32) - np.float32(lo)) * np.float32(255.0 / float(window))
    out = np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).astype(np.uint8)
    return 255 - out if invert else out


@dataclasses.dataclass(frozen=True)
class ThumbnailTile:
    """One plane of :func:`thumbnail`: its pixels and where they lie in patient space.

    Attributes
    ----------
    plane : str
        "axial", "coronal" or "sagittal".
    rgb : numpy.ndarray
        ``(rows, cols, 3)`` uint8, row 0 at the top; black outside the volume.
    origin : numpy.ndarray
        LPS mm of the centre of pixel ``[0, 0]``.
    axes : numpy.ndarray
        3x3, columns: LPS direction of increasing column, of increasing row, and the normal.
    pixel_mm : float
        Square pixel size.
    """

    plane: str
    rgb: np.ndarray
    origin: np.ndarray
    axes: np.ndarray
    pixel_mm: float

    def pixel_to_patient(self, row: Any, col: Any) -> np.ndarray:
        """LPS mm of pixel centres (``row.shape + (3,)``)."""
        r = np.asarray(row, dtype=np.float64)[..., None]
        c = np.asarray(col, dtype=np.float64)[..., None]
        return self.origin + c * self.pixel_mm * self.axes[:, 0] + r * self.pixel_mm * self.axes[:, 1]


def thumbnail_tiles(vol: Volume, *, size: int = 128) -> list[ThumbnailTile]:
    """Axial, coronal and sagittal planes through the volume's centre, sampled in patient space.

    Nearest voxel on square pixels, one pixel size for all three planes (the volume's largest
    extent over ``size - 1``) so that their sizes compare; grey with :func:`thumbnail_window`,
    colour volumes as stored.
    """
    corners = vol.corners
    centre = corners.mean(axis=0)
    span = float(np.max(np.ptp(corners, axis=0))) or 1.0
    px = span / max(int(size) - 1, 1)
    window, level = (255.0, 127.5) if vol.is_colour else thumbnail_window(vol)
    invert = bool(vol.invert_display)
    hi = np.asarray(vol.dimensions, dtype=np.float64) - 1
    tiles = []
    for name, table in THUMBNAIL_AXES.items():
        axes = np.asarray(table, dtype=np.float64).T
        u, v = axes[:, 0], axes[:, 1]
        rel = corners - centre
        half_u, half_v = float(np.abs(rel @ u).max()), float(np.abs(rel @ v).max())
        cols, rows = int(math.floor(2 * half_u / px + 1e-6)) + 1, int(math.floor(2 * half_v / px + 1e-6)) + 1
        origin = centre - (cols - 1) / 2 * px * u - (rows - 1) / 2 * px * v
        rr, cc = np.mgrid[0:rows, 0:cols]
        points = origin + cc[..., None] * (px * u) + rr[..., None] * (px * v)
        ijk = np.rint(vol.patient_to_index(points.reshape(-1, 3)))
        inside = np.all((ijk >= 0) & (ijk <= hi), axis=1)
        i, j, k = (np.clip(ijk[:, a], 0, hi[a]).astype(np.intp) for a in range(3))
        values = vol.array[k, j, i]
        if vol.is_colour:
            rgb = np.where(inside[:, None], values, 0).astype(np.uint8).reshape(rows, cols, 3)
        else:
            grey = _grey(values, window, level, invert)
            grey = np.where(inside, grey, 0).astype(np.uint8).reshape(rows, cols)
            rgb = np.repeat(grey[..., None], 3, axis=2)
        tiles.append(ThumbnailTile(name, rgb, origin, axes, px))
    return tiles


def thumbnail(vol: Volume, *, size: int = 128) -> np.ndarray:
    """Axial, coronal and sagittal planes through the volume's centre, side by side.

    See :func:`thumbnail_tiles` (the same planes, with their positions).

    Parameters
    ----------
    vol : Volume
    size : int
        Pixels along the volume's largest extent.

    Returns
    -------
    numpy.ndarray
        ``(rows, cols, 3)`` uint8: the three planes left to right, vertically centred, with
        a small black gap.
    """
    tiles = [t.rgb for t in thumbnail_tiles(vol, size=size)]
    height = max(t.shape[0] for t in tiles)
    width = sum(t.shape[1] for t in tiles) + _GAP_PX * (len(tiles) - 1)
    out = np.zeros((height, width, 3), np.uint8)
    x = 0
    for t in tiles:
        y = (height - t.shape[0]) // 2
        out[y : y + t.shape[0], x : x + t.shape[1]] = t
        x += t.shape[1] + _GAP_PX
    return out


def thumbnail_png(vol: Volume, *, size: int = 128) -> bytes:
    """:func:`thumbnail` encoded as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(thumbnail(vol, size=size)).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _fmt(values: Any, digits: int = 3) -> str:
    return "(" + ", ".join(f"{float(v):.{digits}g}" if abs(float(v)) < 1e4 else f"{float(v):.1f}" for v in values) + ")"


def _value_range(vol: Volume) -> str:
    if vol.array.size == 0:
        return "empty"
    lo, hi = np.min(vol.array), np.max(vol.array)
    return f"{lo:g} .. {hi:g}" if not vol.is_colour else f"{int(lo)} .. {int(hi)} (RGB)"


def _rows(vol: Volume, *, phi: bool) -> list[tuple[str, str]]:
    d = vol.direction
    k, j, i = vol.shape
    rows: list[tuple[str, str]] = [
        ("shape (k, j, i)", f"{k} x {j} x {i}" + (" x 3 (RGB)" if vol.is_colour else "")),
        ("spacing (di, dj, dk) mm", _fmt(vol.spacing, 4)),
        ("origin (LPS mm)", _fmt(vol.origin, 5)),
        ("direction (i, j, k)", f"i &rarr; {axis_letters(d[:, 0])}, j &rarr; {axis_letters(d[:, 1])}, k &rarr; {axis_letters(d[:, 2])}"),
        ("field of view mm", _fmt(vol.field_of_view, 4)),
        ("modality", html.escape(vol.modality or "unknown")),
        ("dtype", html.escape(str(vol.array.dtype))),
        ("value range", html.escape(_value_range(vol))),
    ]
    if not vol.geometry_known:
        rows.append(("geometry", "<b>unknown</b> (no position/orientation in the files)"))
    if vol.gantry_tilt_deg:
        rows.append(("gantry tilt", f"{vol.gantry_tilt_deg:.2f}&deg;" + (" (corrected)" if vol.tilt_corrected else "")))
    for key in _INFO_KEYS:
        value = vol.metadata.get(key)
        if value not in (None, ""):
            rows.append((key, html.escape(str(value))))
    if phi:
        for key in PHI_KEYS:
            value = vol.metadata.get(key)
            if value not in (None, ""):
                rows.append((key, html.escape(str(value))))
    if vol.warnings:
        rows.append(("warnings", f"{len(vol.warnings)}: " + html.escape(vol.warnings[0][:160]) + (" ..." if len(vol.warnings) > 1 else "")))
    return rows


def _table(title: str, rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{name}</th><td style='text-align:left'>{value}</td></tr>" for name, value in rows)
    return f"<table><caption style='text-align:left;font-weight:bold'>{html.escape(title)}</caption>{body}</table>"


def _img(vol: Volume, size: int) -> str:
    try:
        data = base64.b64encode(thumbnail_png(vol, size=size)).decode("ascii")
    except Exception as exc:  # a summary must never fail: say why there is no picture
        return f"<p><i>no thumbnail: {html.escape(str(exc))}</i></p>"
    return (
        f"<img src='data:image/png;base64,{data}' alt='axial, coronal and sagittal planes' "
        "title='axial | coronal | sagittal (patient left on the image right)'/>"
    )


def volume_html(vol: Volume, *, phi: bool | None = None, thumbnail_size: int = 128) -> str:
    """The HTML a notebook shows for a volume: a summary table and a three-plane thumbnail.

    Parameters
    ----------
    vol : Volume
    phi : bool, optional
        Show patient identifiers (:data:`PHI_KEYS`); default :func:`phi_shown`.
    thumbnail_size : int
        Pixels along the volume's largest extent (0: no thumbnail).

    Returns
    -------
    str
    """
    phi = phi_shown() if phi is None else bool(phi)
    table = _table("Volume", _rows(vol, phi=phi))
    picture = _img(vol, thumbnail_size) if thumbnail_size > 0 else ""
    return f"<div style='display:flex;gap:1em;align-items:flex-start'>{table}<div>{picture}</div></div>"


def sequence_html(seq: VolumeSequence, *, phi: bool | None = None, thumbnail_size: int = 128) -> str:
    """The HTML a notebook shows for a 4D sequence: its fourth axis, then frame 0 as a volume.

    Parameters
    ----------
    seq : VolumeSequence
    phi : bool, optional
        Show patient identifiers; default :func:`phi_shown`.
    thumbnail_size : int
        Pixels along the largest extent of frame 0's thumbnail.

    Returns
    -------
    str
    """
    phi = phi_shown() if phi is None else bool(phi)
    values = seq.values
    unit = f" {seq.unit}" if seq.unit else ""
    rows: list[tuple[str, str]] = [
        ("frames", f"{len(seq)} along {html.escape(seq.axis)}"),
        ("values", f"{values[0]:g} .. {values[-1]:g}{html.escape(unit)}" if values else "none"),
        ("lazy", "yes (frames read on demand)" if seq.lazy else "no"),
    ]
    labels = [lb for lb in seq.labels if lb]
    if labels:
        rows.append(("labels", html.escape("; ".join(labels[:3])) + (" ..." if len(labels) > 3 else "")))
    if seq.warnings:
        rows.append(("warnings", f"{len(seq.warnings)}: " + html.escape(seq.warnings[0][:160])))
    first = seq[0]
    frame = [(f"frame 0: {name}", value) for name, value in _rows(first, phi=phi)]
    table = _table("VolumeSequence", rows + frame)
    picture = _img(first, thumbnail_size) if thumbnail_size > 0 else ""
    return f"<div style='display:flex;gap:1em;align-items:flex-start'>{table}<div>{picture}</div></div>"
