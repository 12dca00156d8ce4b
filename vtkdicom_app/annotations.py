"""Corner annotations of a slice view: who and what (top left), where (top right), how it is
shown (bottom right), without Qt or VTK.

==============  ==============================================================
corner          lines
==============  ==============================================================
top left        patient name, patient ID, study date (YYYY-MM-DD), series
                description; with ``anonymize`` only the series description
                and modality (no PHI)
top right       the view and the slice number ``Im 34/120``, the plane's
                position in mm (``z 12.5 mm`` for axial, ``y`` coronal, ``x``
                sagittal; LPS)
bottom right    ``W 400 L 40`` (and the preset's name), ``Zoom 1.50x``, the
                slab ``Slab 10 mm MIP`` when one is set
bottom left     the frame of a 4D series (``time 80 ms (frame 2/6)``)
==============  ==============================================================

:func:`corner_annotations` takes the volume and the view's parameters;
:func:`annotations_for_view` reads them from a
:class:`~vtkdicom_app.viewer_state.ViewerState`. A widget draws each corner's text (e.g. a
``vtkCornerAnnotation``: lower left 0, lower right 1, upper left 2, upper right 3, as
:data:`VTK_CORNER_INDEX`). The slice number counts true slice steps along the view's normal
from the volume's first slice (:func:`~vtkdicom_app.mpr.step_along`), so it matches the
image count of an acquisition-aligned view and stays meaningful on other views.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vtkdicom_app.display import WindowLevel
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane, SlabMode, normal_of, position_range, step_along
from vtkdicom_app.volume import Volume

__all__ = [
    "PHI_KEYS",
    "VTK_CORNER_INDEX",
    "Corner",
    "CornerAnnotations",
    "annotations_for_view",
    "corner_annotations",
    "slice_number",
]

PHI_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "OtherPatientIDs",
    "StudyDate",
    "StudyTime",
    "SeriesDate",
    "AcquisitionDate",
    "AccessionNumber",
    "InstitutionName",
    "ReferringPhysicianName",
    "StudyID",
)
"""Metadata the annotations never show with ``anonymize``."""


class Corner(enum.Enum):
    """The four corners of a view."""

    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"


VTK_CORNER_INDEX = {Corner.BOTTOM_LEFT: 0, Corner.BOTTOM_RIGHT: 1, Corner.TOP_LEFT: 2, Corner.TOP_RIGHT: 3}
"""``vtkCornerAnnotation.SetText(index, text)`` index of each corner."""

_AXIS_NAME = {Plane.AXIAL: "z", Plane.CORONAL: "y", Plane.SAGITTAL: "x"}
_AXIS_INDEX = {Plane.AXIAL: 2, Plane.CORONAL: 1, Plane.SAGITTAL: 0}


@dataclasses.dataclass(frozen=True)
class CornerAnnotations:
    """The text of each corner, one tuple of lines per corner.

    Attributes
    ----------
    top_left, top_right, bottom_left, bottom_right : tuple of str
    """

    top_left: tuple[str, ...] = ()
    top_right: tuple[str, ...] = ()
    bottom_left: tuple[str, ...] = ()
    bottom_right: tuple[str, ...] = ()

    def text(self, corner: Corner | str) -> str:
        """One corner's lines joined by newlines."""
        c = corner if isinstance(corner, Corner) else Corner(corner)
        return "\n".join(getattr(self, c.value))

    def as_dict(self) -> dict[Corner, str]:
        """Every corner's text."""
        return {c: self.text(c) for c in Corner}

    def all_text(self) -> str:
        """All four corners' text (for checks such as "no PHI anywhere")."""
        return "\n".join(self.text(c) for c in Corner)


def _clean(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()


def _person_name(value: Any) -> str:
    """``Doe^John^^Dr`` -> ``Doe, John``; other text as it is."""
    text = _clean(value)
    if "^" not in text:
        return text
    parts = [p.strip() for p in text.split("=")[0].split("^")]
    family, given = parts[0], " ".join(p for p in parts[1:3] if p)
    return f"{family}, {given}" if given else family


def _date(value: Any) -> str:
    """``20240131`` -> ``2024-01-31``; other text as it is."""
    text = _clean(value)
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def slice_number(vol: Volume, plane: Plane | str, point: npt.ArrayLike) -> tuple[int, int]:
    """``(number, count)`` of the plane through ``point``: true slice steps from the volume's first slice, from 1.

    The number is clamped to ``1..count``.
    """
    p = plane if isinstance(plane, Plane) else Plane(plane)
    lo, hi = position_range(vol, p)
    step = step_along(vol, normal_of(p))
    count = int(round((hi - lo) / step)) + 1
    xyz = np.asarray(point, dtype=np.float64).reshape(3)
    number = int(math.floor((float(xyz[_AXIS_INDEX[p]]) - lo) / step + 0.5)) + 1  # halves round up, always
    return min(count, max(1, number)), count


def corner_annotations(
    vol: Volume,
    plane: Plane | str,
    point: Sequence[float],
    *,
    window_level: WindowLevel | None = None,
    zoom: float = 1.0,
    slab_mm: float = 0.0,
    slab_mode: SlabMode | str = SlabMode.NONE,
    frame_text: str = "",
    anonymize: bool = False,
    normal: npt.ArrayLike | None = None,
) -> CornerAnnotations:
    """The corner texts of one slice view (see the module docstring).

    Parameters
    ----------
    vol : Volume
    plane : Plane or str
        Axial, coronal or sagittal.
    point : sequence of float
        The crosshair (LPS mm): the view's plane passes through it.
    window_level : WindowLevel, optional
    zoom : float
    slab_mm : float
    slab_mode : SlabMode or str
    frame_text : str
        The 4D frame line, if any.
    anonymize : bool
        Leave out every :data:`PHI_KEYS` value.
    normal : array_like of float, optional
        The view's plane is rotated (oblique MPR) to this normal (LPS): the top right then
        names the tilt from the standard plane and the position along the normal instead of
        a slice number.

    Returns
    -------
    CornerAnnotations
    """
    p = plane if isinstance(plane, Plane) else Plane(plane)
    if p not in ORTHOGONAL_PLANES:
        raise ValueError(f"corner annotations are for the axial, coronal and sagittal views, not {p.value}")
    xyz = np.asarray(point, dtype=np.float64).reshape(3)
    meta = vol.metadata
    description = _clean(meta.get("SeriesDescription"))
    modality = vol.modality
    if anonymize:
        top_left = tuple(line for line in (modality, description) if line)
    else:
        top_left = tuple(
            line
            for line in (
                _person_name(meta.get("PatientName")),
                (f"ID {_clean(meta.get('PatientID'))}" if _clean(meta.get("PatientID")) else ""),
                _date(meta.get("StudyDate")),
                " ".join(x for x in (modality, description) if x),
            )
            if line
        )
    if normal is not None:
        n = np.asarray(normal, dtype=np.float64).reshape(3)
        n = n / np.linalg.norm(n)
        tilt = math.degrees(math.acos(min(1.0, abs(float(n @ normal_of(p))))))
        top_right = (f"{p.value.capitalize()} tilt {tilt:.1f}\N{DEGREE SIGN}", f"n {float(xyz @ n):.1f} mm")
    else:
        number, count = slice_number(vol, p, xyz)
        top_right = (f"{p.value.capitalize()}  Im {number}/{count}", f"{_AXIS_NAME[p]} {float(xyz[_AXIS_INDEX[p]]):.1f} mm")
    bottom_right: list[str] = []
    if window_level is not None:
        bottom_right.append(f"W {window_level.window:g} L {window_level.level:g}" + (f" ({window_level.name})" if window_level.name else ""))
    bottom_right.append(f"Zoom {float(zoom):.2f}x")
    mode = slab_mode if isinstance(slab_mode, SlabMode) else SlabMode(slab_mode)
    if mode is not SlabMode.NONE and float(slab_mm) > 0:
        bottom_right.append(f"Slab {float(slab_mm):g} mm {mode.name}")
    bottom_left = (frame_text,) if frame_text else ()
    return CornerAnnotations(top_left, top_right, bottom_left, tuple(bottom_right))


def annotations_for_view(state: Any, view: Plane | str, *, anonymize: bool = False, frame_text: str = "") -> CornerAnnotations:
    """:func:`corner_annotations` of one view of a :class:`~vtkdicom_app.viewer_state.ViewerState`.

    Reads ``state.volume``, ``state.crosshair``, ``state.window_level`` and
    ``state.view(view)`` (zoom and slab).

    Raises
    ------
    ValueError
        No volume loaded.
    """
    vol = state.volume
    if vol is None:
        raise ValueError("no volume loaded: nothing to annotate")
    vs = state.view(view)
    return corner_annotations(
        vol,
        view,
        state.crosshair,
        window_level=state.window_level,
        zoom=vs.zoom,
        slab_mm=vs.slab.thickness_mm,
        slab_mode=vs.slab.mode,
        frame_text=frame_text,
        anonymize=anonymize,
        normal=state.plane_axes(view)[:, 2] if getattr(state, "view_rotated", None) and state.view_rotated(view) else None,
    )
