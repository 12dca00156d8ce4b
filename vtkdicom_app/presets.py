"""One loader and one schema for the package's preset files.

Every preset file under ``vtkdicom_app/data/`` has the same envelope::

    {"schema": "vtkdicom_app.<kind>_presets/1",
     "note": "optional free text",
     "presets": [{"name": "bone", ...}, ...]}

:func:`load_presets` checks the envelope (schema string, a list of objects, each with a
unique non-empty ``name``) and hands each object to a builder that the owning module
supplies (:func:`vtkdicom_app.surface.load_surface_presets`,
:func:`vtkdicom_app.rendering.load_volume_presets`, :func:`vtkdicom_app.mpr.load_wl_presets`).
A builder raises ``KeyError``, ``TypeError`` or ``ValueError`` on a bad field; the error
that reaches the user names the file and the preset. To add a preset, add an object to
the file; to add a kind of preset, add a :class:`PresetKind` member and a builder.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar

from vtkdicom_app.errors import VtkDicomError

__all__ = ["PresetKind", "load_presets", "preset_names"]

_T = TypeVar("_T")


class PresetKind(str, enum.Enum):
    """The preset files the package ships."""

    SURFACE = "surface"  #: iso-surface thresholds, smoothing and colour
    VOLUME = "volume"  #: volume-rendering transfer functions
    WINDOW_LEVEL = "wl"  #: window/level for the slice views

    @property
    def filename(self) -> str:
        """The file's name under ``vtkdicom_app/data/``."""
        return f"{self.value}_presets.json"

    @property
    def schema(self) -> str:
        """The schema string the file must declare."""
        return f"vtkdicom_app.{self.value}_presets/1"


def _items(kind: PresetKind, text: str) -> list[dict[str, Any]]:
    name = kind.filename
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VtkDicomError(f"{name}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("schema") != kind.schema:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise VtkDicomError(f"{name}: expected schema {kind.schema!r}, found {found!r}")
    items = data.get("presets")
    if not isinstance(items, list) or not items:
        raise VtkDicomError(f"{name}: 'presets' must be a non-empty list of objects")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise VtkDicomError(f"{name}: every preset needs a non-empty 'name', got {item!r}")
        if item["name"] in seen:
            raise VtkDicomError(f"{name}: preset {item['name']!r} appears twice")
        seen.add(item["name"])
    return items


def load_presets(kind: PresetKind, build: Callable[[dict[str, Any]], _T], *, text: str | None = None) -> dict[str, _T]:
    """Read a preset file and build one object per preset, keyed by name (file order).

    Parameters
    ----------
    kind : PresetKind
        Which file.
    build : callable
        ``build(item) -> preset``; raises KeyError/TypeError/ValueError on a bad field.
    text : str, optional
        The file's content (tests); default: the packaged file.

    Returns
    -------
    dict of str to preset

    Raises
    ------
    VtkDicomError
        A wrong schema, a malformed list, a duplicate or nameless preset, or a field the
        builder refused; the message names the file and the preset.
    """
    if text is None:
        text = resources.files("vtkdicom_app").joinpath("data", kind.filename).read_text(encoding="utf-8")
    out: dict[str, _T] = {}
    for item in _items(kind, text):
        try:
            out[item["name"]] = build(item)
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise VtkDicomError(f"{kind.filename}: invalid preset {item['name']!r}: {detail}") from exc
    return out


def preset_names(kind: PresetKind) -> list[str]:
    """The names in a preset file, in file order (for CLI choices and menus)."""
    text = resources.files("vtkdicom_app").joinpath("data", kind.filename).read_text(encoding="utf-8")
    return [item["name"] for item in _items(kind, text)]
