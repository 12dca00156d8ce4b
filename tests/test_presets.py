"""One preset loader and schema for the package's preset files."""

from __future__ import annotations

import json

import pytest

from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.presets import PresetKind, load_presets, preset_names


@pytest.mark.parametrize("kind", list(PresetKind))
def test_every_packaged_file_follows_the_schema(kind: PresetKind) -> None:
    names = preset_names(kind)
    assert names and len(names) == len(set(names))
    assert list(load_presets(kind, lambda item: item["name"])) == names


def _text(presets: object, schema: str = "vtkdicom_app.surface_presets/1") -> str:
    return json.dumps({"schema": schema, "presets": presets})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[1, 2", "not valid JSON"),
        (_text([{"name": "a"}], schema="other/1"), "expected schema"),
        (json.dumps([{"name": "a"}]), "expected schema"),
        (_text([]), "non-empty list"),
        (_text([{"lower": 3}]), "non-empty 'name'"),
        (_text([{"name": "a"}, {"name": "a"}]), "appears twice"),
        (_text([{"name": "a"}]), "invalid preset 'a': missing field 'lower'"),
        (_text([{"name": "a", "lower": "x"}]), "invalid preset 'a': could not convert"),
    ],
)
def test_bad_files_name_the_file_and_the_preset(text: str, match: str) -> None:
    with pytest.raises(VtkDicomError, match=match) as info:
        load_presets(PresetKind.SURFACE, lambda item: float(item["lower"]), text=text)
    assert str(info.value).startswith("surface_presets.json: ")


def test_builder_results_are_kept_in_file_order() -> None:
    text = _text([{"name": "b", "lower": 2}, {"name": "a", "lower": 1}])
    assert load_presets(PresetKind.SURFACE, lambda item: float(item["lower"]), text=text) == {"b": 2.0, "a": 1.0}


def test_surface_presets_are_built_through_the_one_loader() -> None:
    from vtkdicom_app import surface

    presets = surface.load_surface_presets()
    assert list(presets) == preset_names(PresetKind.SURFACE)
    bone = presets["bone"]
    assert isinstance(bone, surface.SurfacePreset) and len(bone.color) == 3 and 0.0 <= bone.reduce < 1.0
    good = {"name": "x", "modality": "CT", "lower": 300, "upper": None, "smooth": 15, "reduce": 0.0, "color": [1, 1, 1], "description": ""}
    assert load_presets(PresetKind.SURFACE, surface._surface_preset, text=_text([good]))["x"].lower == 300.0
    with pytest.raises(VtkDicomError, match=r"surface_presets\.json: invalid preset 'x': reduce must be in \[0, 1\)"):
        load_presets(PresetKind.SURFACE, surface._surface_preset, text=_text([{**good, "reduce": 1.5}]))
    with pytest.raises(VtkDicomError, match=r"surface_presets\.json: invalid preset 'x': missing field 'smooth'"):
        load_presets(PresetKind.SURFACE, surface._surface_preset, text=_text([{k: v for k, v in good.items() if k != "smooth"}]))
