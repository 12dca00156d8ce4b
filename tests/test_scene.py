"""Viewer scenes (vtkdicom_app.scene): a state through JSON and back, no PHI, bad files, and
``vtkdicom-app view --scene SCENE.json --screenshot OUT.png`` on Xvfb."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vtkdicom_app.cli import main
from vtkdicom_app.io.loader import load, scan
from vtkdicom_app.measurements import Angle, Ellipse, MeasurementList, Ruler, Sphere
from vtkdicom_app.mpr import Plane, SlabMode, plane_axes
from vtkdicom_app.scene import SCENE_SCHEMA, SceneError, SurfaceSpec, apply_scene, load_scene, open_scene, save_scene, scene_from_state, validate_scene
from vtkdicom_app.viewer_state import Layout, ViewerState

ROOT = Path(__file__).resolve().parents[1]
NAME, PID = "Doe^Johnathan", "PID-4242-XY"


@pytest.fixture(scope="module")
def study(phantom_factory: Any) -> Any:
    return phantom_factory(rows=48, columns=48, slices=32, pixel_spacing=(1.0, 1.0), slice_spacing=1.5, patient_name=NAME, patient_id=PID, n_series=2)


def _state(path: Path) -> ViewerState:
    infos = scan(path)
    state = ViewerState()
    state.set_series(infos, str(path))
    state.set_volume(load(infos, series=infos[0].uid), path=str(path), series_uid=infos[0].uid)
    return state


def _styled(path: Path) -> tuple[ViewerState, MeasurementList]:
    state = _state(path)
    vol = state.volume
    assert vol is not None
    c = vol.corners.mean(axis=0)
    state.set_crosshair(c + (3.5, -2.0, 4.5))
    state.set_window_level(700.0, 120.0)
    state.set_zoom(Plane.AXIAL, 2.5)
    state.set_pan(Plane.CORONAL, (4.0, -6.0))
    state.set_slab(6.0, SlabMode.MIP, view=Plane.SAGITTAL)
    state.set_slab(3.0, SlabMode.MEAN, view=Plane.CORONAL)
    state.set_layout(Layout.SINGLE, Plane.CORONAL)
    state.set_volume_look("ct-soft-tissue" if "ct-soft-tissue" in _presets() else "ct-bone", shift=40.0, opacity=0.7)
    state.add_surface(SurfaceSpec("bone", preset="bone", color=(1.0, 0.5, 0.2), opacity=0.6).extract(vol))
    state.add_surface(SurfaceSpec("200..900", threshold=200.0, upper=900.0, visible=False).extract(vol))
    ms = MeasurementList()
    ms.add(Ruler(c, c + (10.0, 0.0, 0.0)), "width")
    ms.add(Angle(c + (5.0, 0.0, 0.0), c, c + (0.0, 5.0, 0.0)))
    ms.add(Ellipse.in_plane(c, 6.0, 4.0, plane_axes(Plane.CORONAL), angle_deg=15.0))
    ms.add(Sphere(c, 5.0))
    return state, ms


def _presets() -> list[str]:
    from vtkdicom_app.rendering import load_volume_presets

    return list(load_volume_presets())


def _comparable(state: ViewerState) -> dict[str, Any]:
    return {
        "crosshair": state.crosshair.tolist(),
        "window_level": state.window_level,
        "views": state.views,
        "layout": state.layout,
        "volume_look": state.volume_look,
        "surfaces": [(s.name, s.look(), s.report.triangles) for s in state.surfaces],
        "series_uid": state.series_uid,
    }


def test_a_state_through_json_and_back_is_the_same_state(study: Any, tmp_path: Path) -> None:
    state, ms = _styled(study.outdir)
    path = tmp_path / "scene.json"
    written = save_scene(path, state, ms, crop_ijk=(4, 40, 0, 47, 2, 30))
    data = load_scene(path)
    assert data == written and data["schema"] == SCENE_SCHEMA
    fresh = _state(study.outdir)
    assert _comparable(fresh) != _comparable(state)  # the test can fail
    seen: list[Any] = []
    fresh.events.connect(seen.append)
    mine = MeasurementList()
    applied = apply_scene(fresh, data, measurements=mine)
    assert _comparable(fresh) == _comparable(state)
    assert applied.measurements is mine and mine == ms
    assert applied.crop_ijk == (4, 40, 0, 47, 2, 30) and applied.pending_surfaces == ()
    assert all(np.array_equal(m, plane_axes(p)) for p, m in applied.planes.items())
    assert scene_from_state(fresh, mine, crop_ijk=applied.crop_ijk) == written
    assert seen  # driven through the setters: listeners heard it
    # the surfaces' recipes: preset and limits from the mesh, as the viewer names them
    assert [(s["preset"], s["threshold"], s["upper"]) for s in written["surfaces"]] == [("bone", 300.0, None), (None, 200.0, 900.0)]
    # without extraction the surfaces come back as recipes for a worker
    later = apply_scene(_state(study.outdir), data, extract_surfaces=False)
    assert [s.name for s in later.pending_surfaces] == ["bone", "200..900"]


def test_the_scene_holds_no_phi(study: Any, tmp_path: Path) -> None:
    state, ms = _styled(study.outdir)
    text = json.dumps(scene_from_state(state, ms))
    vol = state.volume
    assert vol is not None and vol.metadata["PatientID"] == PID
    for secret in (NAME, "Johnathan", PID, "20260101", "19700101", str(vol.metadata.get("StudyDescription") or "Phantom study")):
        assert secret not in text, secret


def test_open_scene_loads_the_series_and_relative_paths(study: Any, tmp_path: Path) -> None:
    state, ms = _styled(study.outdir)
    data = scene_from_state(state, ms)
    moved = tmp_path / "project" / "data"
    shutil.copytree(study.outdir, moved)
    data["source"]["path"] = "data"  # relative to the scene's folder
    save_scene(tmp_path / "project" / "s.json", data)
    reopened, applied = open_scene(tmp_path / "project" / "s.json")
    assert reopened.path == str(moved) and reopened.series_uid == state.series_uid
    assert _comparable(reopened) == _comparable(state) and applied.measurements == ms
    # the series of the scene is the first of two: it is picked, not the loader's choice
    assert reopened.volume is not None and reopened.volume.shape == state.volume.shape  # type: ignore[union-attr]


def test_bad_scenes_give_one_clear_error(study: Any, tmp_path: Path) -> None:
    state, ms = _styled(study.outdir)
    good = scene_from_state(state, ms)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SceneError, match=r"bad.json is not valid JSON: .* line 1"):
        load_scene(bad)
    with pytest.raises(SceneError, match="does not exist"):
        load_scene(tmp_path / "none.json")
    for change, words in (
        ({"schema": "vtkdicom_app.scene/2"}, "'vtkdicom_app.scene/2' is not supported: this version of vtkdicom_app reads 'vtkdicom_app.scene/1'"),
        ({"schema": "something else"}, "not a vtkdicom_app scene"),
        ({"source": {"series_uid": "1.2"}}, "source.path"),
        ({"cursor": [1, 2]}, "cursor must be 3 numbers"),
        ({"window_level": {"window": 0, "level": 1}}, "window must be > 0"),
        ({"views": {"oblique": {}}}, "unknown view 'oblique'"),
        ({"layout": {"layout": "3x3"}}, "layout.layout '3x3'"),
        ({"volume_rendering": {"preset": "nope"}}, "volume_rendering.preset 'nope'"),
        ({"surfaces": [{"preset": "nope"}]}, "unknown surface preset 'nope'"),
        ({"measurements": [{"id": 1, "name": "x", "kind": "circle"}]}, "unknown measurement kind 'circle'"),
        ({"planes": {"axial": {"column": [1, 0, 0], "row": [1, 0, 0], "normal": [0, 0, 1]}}}, "perpendicular unit vectors"),
    ):
        with pytest.raises(SceneError, match=words.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            validate_scene({**good, **change})
    # a rotated plane is valid and shown (oblique MPR): the state takes the frame as written
    rotated = {**good, "planes": {"axial": {"column": [0, 1, 0], "row": [-1, 0, 0], "normal": [0, 0, 1]}}}
    turned = _state(study.outdir)
    apply_scene(turned, rotated)
    np.testing.assert_array_equal(turned.plane_axes("axial"), [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    assert turned.view_rotated("axial") and not turned.view_rotated("coronal")
    # another series loaded, no volume at all, a series missing from the folder, a source gone
    other = scan(study.outdir)[1]
    wrong = ViewerState()
    wrong.set_volume(load(study.outdir, series=other.uid), path=str(study.outdir), series_uid=other.uid)
    with pytest.raises(SceneError, match=f"the scene is of series {state.series_uid}, but series {other.uid} is loaded"):
        apply_scene(wrong, good)
    with pytest.raises(SceneError, match="load the scene's series first"):
        apply_scene(ViewerState(), good)
    with pytest.raises(SceneError, match="series 1.2.3 of the scene is not in"):
        open_scene({**good, "source": {**good["source"], "series_uid": "1.2.3"}})
    with pytest.raises(SceneError, match="the scene's source .* does not exist .*view NEW_PATH --scene"):
        open_scene({**good, "source": {**good["source"], "path": str(tmp_path / "gone")}})
    with pytest.raises(SceneError, match="no volume loaded"):
        scene_from_state(ViewerState())


def test_view_scene_errors_are_one_line_exit_1(study: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state, ms = _styled(study.outdir)
    gone = scene_from_state(state, ms)
    gone["source"]["path"] = str(tmp_path / "moved-away")
    save_scene(tmp_path / "gone.json", gone)
    (tmp_path / "broken.json").write_text("[1, 2")
    for argv, words in (
        (["view", "--scene", str(tmp_path / "none.json"), "--screenshot", str(tmp_path / "x.png")], "none.json does not exist"),
        (["view", "--scene", str(tmp_path / "broken.json"), "--screenshot", str(tmp_path / "x.png")], "is not valid JSON"),
        (["view", "--scene", str(tmp_path / "gone.json"), "--screenshot", str(tmp_path / "x.png")], "moved-away does not exist"),
    ):
        assert main(["-q", *argv]) == 1
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (apt-get install xvfb)")
def test_view_scene_screenshot_reopens_the_scene(study: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the screenshot's child process
    state, ms = _styled(study.outdir)
    state.set_layout(Layout.GRID)
    scene = tmp_path / "scene.json"
    save_scene(scene, state, ms, crop_ijk=(0, 30, 0, 47, 0, 31))
    shot, plain = tmp_path / "scene.png", tmp_path / "plain.png"
    assert main(["-q", "view", "--scene", str(scene), "--screenshot", str(shot), "--size", "800x600"]) == 0, capsys.readouterr().err
    assert f"wrote {shot} (scene of 4 measurement(s), 2 surface(s))" in capsys.readouterr().out
    assert main(["-q", "view", str(study.outdir), "--screenshot", str(plain), "--size", "800x600"]) == 0, capsys.readouterr().err
    a = np.asarray(Image.open(shot).convert("RGB"))
    b = np.asarray(Image.open(plain).convert("RGB"))
    # the docks' minimum sizes may make one window a few pixels taller than asked: compare the common part
    assert a.shape[1] == b.shape[1] and abs(a.shape[0] - b.shape[0]) <= 8 and a.shape[0] > 100
    rows = min(a.shape[0], b.shape[0])
    a, b = a[:rows], b[:rows]
    assert a.std() > 10 and len(np.unique(a.reshape(-1, 3), axis=0)) > 50  # not blank
    assert np.mean(np.any(a != b, axis=2)) > 0.02  # the scene changed what is shown
