"""The viewer's Qt-free state: validation and clamps, events (once, with the right payload,
none for no change), disconnecting, the viewer's known zoom/pan/window gestures, the owner
thread, and a script that drives it all without importing Qt."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.display import MIN_DRAG_WINDOW, ZOOM_MAX, ZOOM_MIN, WindowLevel
from vtkdicom_app.mpr import Plane, SlabMode
from vtkdicom_app.viewer_state import (
    SLAB_MAX_MM,
    Event,
    EventEmitter,
    Layout,
    LayoutState,
    Slab,
    StateEvent,
    StateThreadError,
    Surface,
    ViewerState,
)

ROOT = Path(__file__).resolve().parents[1]
# 32 x 32 x 12 axial CT, 1.5 mm pixels, 2 mm slices, centred on the LPS origin; header window 400/40
GEOM: dict[str, Any] = dict(rows=32, columns=32, slices=12, pixel_spacing=(1.5, 1.5), slice_spacing=2.0)


@pytest.fixture(scope="module")
def vol(phantom_factory: Any) -> vda.Volume:
    return vda.load(phantom_factory(**GEOM).outdir)


@pytest.fixture
def state(vol: vda.Volume) -> ViewerState:
    s = ViewerState()
    s.set_volume(vol)
    return s


class Recorder:
    """A listener that keeps every event."""

    def __init__(self, state: ViewerState) -> None:
        self.events: list[Event] = []
        state.events.connect(self)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def names(self) -> list[StateEvent]:
        return [e.name for e in self.events]

    def clear(self) -> None:
        self.events.clear()


def _surface(name: str = "s") -> Surface:
    from vtkmodules.vtkFiltersSources import vtkSphereSource

    from vtkdicom_app.surface import mesh_report

    src = vtkSphereSource()
    src.Update()
    mesh = src.GetOutput()
    return Surface(name=name, mesh=mesh, report=mesh_report(mesh))


# ----------------------------------------------------------------------------- the emitter
def test_event_emitter_connects_once_disconnects_and_snapshots_listeners() -> None:
    emitter: EventEmitter[int] = EventEmitter()
    seen: list[tuple[str, int]] = []

    def a(v: int) -> None:
        seen.append(("a", v))

    def late(v: int) -> None:
        seen.append(("late", v))

    def b(v: int) -> None:
        seen.append(("b", v))
        emitter.connect(late)  # connected during an emit: called from the next one on

    assert emitter.connect(a) is a
    emitter.connect(a)  # twice: still called once
    emitter.connect(b)
    emitter.emit(1)
    assert seen == [("a", 1), ("b", 1)]
    emitter.disconnect(a)
    assert not emitter.is_connected(a) and len(emitter) == 2
    emitter.emit(2)
    assert seen[2:] == [("b", 2), ("late", 2)]
    with pytest.raises(ValueError, match="not connected"):
        emitter.disconnect(a)
    with pytest.raises(TypeError):
        emitter.connect(3)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- validation and clamps
def test_setters_reject_bad_values_with_clear_messages(state: ViewerState) -> None:
    bad: list[tuple[Any, str]] = [
        (lambda: state.set_crosshair((1.0, 2.0)), "three finite numbers"),
        (lambda: state.set_crosshair((0.0, math.nan, 0.0)), "three finite numbers"),
        (lambda: state.set_crosshair("here"), "three finite numbers"),
        (lambda: state.set_window_level(0.0, 40.0), "positive"),
        (lambda: state.set_window_level(-400.0, 40.0), "positive"),
        (lambda: state.set_window_level(400.0, math.inf), "finite"),
        (lambda: state.set_zoom(Plane.AXIAL, 0.0), "positive"),
        (lambda: state.set_zoom(Plane.AXIAL, math.nan), "positive"),
        (lambda: state.set_zoom("oblique", 2.0), "axial, coronal or sagittal"),
        (lambda: state.set_zoom("sideways", 2.0), "not a view"),
        (lambda: state.set_pan(Plane.AXIAL, (1.0, math.nan)), "two finite numbers"),
        (lambda: state.set_pan(Plane.AXIAL, (1.0,)), "two finite numbers"),
        (lambda: state.set_slab(-1.0, "mip"), ">= 0"),
        (lambda: state.set_slab(5.0, "none"), "needs a mode"),
        (lambda: state.set_slab(5.0, "max"), "slab mode"),
        (lambda: state.set_frame(1), "no sequence"),
        (lambda: state.apply_window_preset("no-such-preset"), "lung"),
        (lambda: state.set_drag_gains(0.0, 2.0), "window drag gain"),
        (lambda: state.set_layout("3x3"), "layout"),
        (lambda: state.set_volume_look("no-such-preset"), "ct-bone"),
        (lambda: state.set_surface_look(0, opacity=0.5), "no surface 0"),
        (lambda: state.set_volume("not a volume"), "takes a Volume"),  # type: ignore[arg-type]
    ]
    before = (state.crosshair.copy(), state.window_level, state.views, state.layout, state.volume_look)
    for call, message in bad:
        with pytest.raises(ValueError, match=message):
            call()
    assert np.array_equal(before[0], state.crosshair) and before[1:] == (state.window_level, state.views, state.layout, state.volume_look)
    state.add_surface(_surface())
    for kwargs in (dict(color=(1.0, 0.0)), dict(color=(1.5, 0.0, 0.0)), dict(opacity=1.2), dict(opacity=-0.1)):
        with pytest.raises(ValueError, match="colour|opacity"):
            state.set_surface_look(0, **kwargs)
    with pytest.raises(ValueError, match="no surface 1"):
        state.remove_surface(1)


def test_setters_clamp_where_the_viewer_clamps(state: ViewerState) -> None:
    state.set_zoom(Plane.AXIAL, 100.0)
    assert state.view(Plane.AXIAL).zoom == ZOOM_MAX == 20.0
    state.set_zoom(Plane.AXIAL, 0.01)
    assert state.view(Plane.AXIAL).zoom == ZOOM_MIN == 0.2
    # pan: within half the diagonal of the volume's box of voxel centres
    half_diagonal = math.sqrt(2 * (31 * 1.5) ** 2 + (11 * 2.0) ** 2) / 2
    state.set_pan(Plane.CORONAL, (1e6, -1e6))
    assert state.view(Plane.CORONAL).pan == pytest.approx((half_diagonal, -half_diagonal))
    state.set_slab(500.0, "minip")
    assert state.view(Plane.SAGITTAL).slab == Slab(SLAB_MAX_MM, SlabMode.MINIP)
    state.set_slab(0.0, "mip")  # 0 mm: off, whatever the mode
    assert state.view(Plane.SAGITTAL).slab == Slab(0.0, SlabMode.NONE)
    # the wheel stops at the first and last slice (z from -11 to +11 mm)
    state.step_crosshair(Plane.AXIAL, 100)
    assert state.position(Plane.AXIAL) == pytest.approx(11.0)
    state.step_crosshair("axial", -100)
    assert state.position(Plane.AXIAL) == pytest.approx(-11.0)
    state.set_volume_look("ct-bone", shift=5000.0, opacity=9.0)
    assert (state.volume_look.shift, state.volume_look.opacity) == (1000.0, 3.0)


# ----------------------------------------------------------------------------- events
def test_each_setter_emits_once_with_the_new_value_and_not_for_no_change(state: ViewerState) -> None:
    rec = Recorder(state)
    state.set_zoom(Plane.AXIAL, 2.0)
    state.set_zoom(Plane.AXIAL, 2.0)
    assert rec.events == [Event(StateEvent.ZOOM, 2.0, Plane.AXIAL)]
    rec.clear()
    state.set_crosshair((1.0, 2.0, 3.0))
    state.set_crosshair([1.0, 2.0, 3.0])
    assert rec.names() == [StateEvent.CROSSHAIR] and rec.events[0].value.tolist() == [1.0, 2.0, 3.0]
    assert not rec.events[0].value.flags.writeable  # listeners get an immutable value
    rec.clear()
    state.apply_window_preset("lung")
    state.set_window_level(1500.0, -600.0)  # same numbers, no name: nothing changes
    assert rec.events == [Event(StateEvent.WINDOW_LEVEL, WindowLevel(1500.0, -600.0, "lung"))]
    rec.clear()
    state.set_slab(6.0, SlabMode.MEAN)
    state.set_slab(6.0, "mean")
    expected = [(StateEvent.SLAB, p, Slab(6.0, SlabMode.MEAN)) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)]
    assert [(e.name, e.key, e.value) for e in rec.events] == expected
    rec.clear()
    state.set_slab(0.0, view=Plane.CORONAL)
    assert [(e.key, e.value.mode) for e in rec.events] == [(Plane.CORONAL, SlabMode.NONE)]
    rec.clear()
    state.set_layout(Layout.GRID)  # already the grid
    state.toggle_maximised(Plane.SAGITTAL)
    state.toggle_maximised(Plane.SAGITTAL)
    assert [e.value for e in rec.events] == [LayoutState(Layout.SINGLE, Plane.SAGITTAL), LayoutState(Layout.GRID, None)]
    rec.clear()
    index = state.add_surface(_surface("bone"))
    state.set_surface_look(index, opacity=0.5)
    state.set_surface_look(index, opacity=0.5, visible=True)
    assert rec.names() == [StateEvent.SURFACES, StateEvent.SURFACE]
    assert rec.events[1].key == 0 and rec.events[1].value.opacity == 0.5 and state.surfaces[0].opacity == 0.5
    rec.clear()
    state.set_drag_gains(4.0, 2.0)  # the defaults: no change
    state.set_volume_look("ct-bone")  # the CT default: no change
    state.add_recent("/a")
    state.add_recent("/a")
    assert rec.names() == [StateEvent.RECENT] and state.recent == ("/a",)


def test_a_new_volume_resets_what_depends_on_it_in_one_event(state: ViewerState, vol: vda.Volume) -> None:
    state.set_zoom(Plane.AXIAL, 3.0)
    state.set_slab(10.0, "mip")
    state.step_crosshair(Plane.CORONAL, 4)
    state.set_window_level(10.0, 0.0)
    state.add_surface(_surface())
    state.set_layout(Layout.ROW_PLUS_3D)
    rec = Recorder(state)
    state.set_volume(vol, path="/data/ct")
    assert rec.events == [Event(StateEvent.VOLUME, vol)]
    assert state.crosshair.tolist() == [0.0, 0.0, 0.0]  # the phantom's centre
    assert state.window_level == WindowLevel(400.0, 40.0, "header")
    assert all(v.zoom == 1.0 and v.pan == (0.0, 0.0) and v.slab == Slab() for v in state.views.values())
    assert state.surfaces == () and state.path == "/data/ct"
    assert state.layout.layout is Layout.ROW_PLUS_3D  # the arrangement is the user's, not the volume's


def test_disconnected_listeners_hear_nothing(state: ViewerState) -> None:
    rec = Recorder(state)
    state.set_zoom(Plane.CORONAL, 1.5)
    state.events.disconnect(rec)
    state.set_zoom(Plane.CORONAL, 2.5)
    state.set_crosshair((5.0, 5.0, 5.0))
    assert len(rec.events) == 1


# ----------------------------------------------------------------------------- the viewer's gestures (known answers)
def test_zoom_steps_are_the_viewers_ctrl_wheel(state: ViewerState) -> None:
    """The viewer multiplied the zoom by 1.2 per notch, within 0.2..20."""
    state.zoom_step(Plane.AXIAL, 1)
    assert state.view(Plane.AXIAL).zoom == pytest.approx(1.2)
    state.zoom_step(Plane.AXIAL, 1)
    assert state.view(Plane.AXIAL).zoom == pytest.approx(1.44)
    state.zoom_step(Plane.AXIAL, -2)
    assert state.view(Plane.AXIAL).zoom == pytest.approx(1.0)
    for _ in range(30):
        state.zoom_step(Plane.AXIAL, 1)
    assert state.view(Plane.AXIAL).zoom == 20.0
    for _ in range(30):
        state.zoom_step(Plane.AXIAL, -1)
    assert state.view(Plane.AXIAL).zoom == 0.2
    assert state.view(Plane.CORONAL).zoom == 1.0  # per view


def test_window_drag_has_the_viewers_gains_and_floor(state: ViewerState) -> None:
    """Right drag: window + 4 per pixel right, level + 2 per pixel up, measured from the press; window >= 1."""
    state.start_window_drag()  # from the header's 400 / 40
    state.drag_window_level(10, -5)
    assert (state.window_level.window, state.window_level.level) == (440.0, 30.0)
    state.drag_window_level(20, 0)  # from the press, not from the last move
    assert (state.window_level.window, state.window_level.level) == (480.0, 40.0)
    state.drag_window_level(-200, 3)
    assert (state.window_level.window, state.window_level.level) == (MIN_DRAG_WINDOW, 46.0)
    state.end_window_drag()
    state.set_drag_gains(1.0, 0.5)
    state.start_window_drag()
    state.drag_window_level(100, 10)
    assert (state.window_level.window, state.window_level.level) == (101.0, 51.0)


def test_pan_drag_follows_the_pointer(state: ViewerState) -> None:
    """Middle drag: pan = start - dx * mm/px along columns, start + dy * mm/px along rows (display y is up)."""
    state.set_pan(Plane.SAGITTAL, (3.0, 1.0))
    state.start_pan(Plane.SAGITTAL)
    state.drag_pan(Plane.SAGITTAL, 10, 4, 0.5)
    assert state.view(Plane.SAGITTAL).pan == (-2.0, 3.0)
    state.drag_pan(Plane.SAGITTAL, 0, 0, 0.5)  # back to where the drag began
    assert state.view(Plane.SAGITTAL).pan == (3.0, 1.0)
    state.end_pan(Plane.SAGITTAL)
    with pytest.raises(ValueError, match="mm per pixel"):
        state.drag_pan(Plane.SAGITTAL, 1, 1, 0.0)


def test_stepping_uses_the_true_slice_spacing_and_slices_follow(state: ViewerState) -> None:
    state.step_crosshair(Plane.AXIAL, 2)
    state.step_crosshair(Plane.CORONAL, -1)
    state.step_crosshair(Plane.SAGITTAL, 3)
    np.testing.assert_allclose(state.crosshair, (4.5, -1.5, 4.0))
    s = state.slice(Plane.AXIAL)
    assert s.position == pytest.approx(4.0) and s.slab_mm == 0.0
    state.set_slab(8.0, "mip", view=Plane.AXIAL)
    assert state.slice(Plane.AXIAL).slab_mm == 8.0 and state.slice(Plane.CORONAL).slab_mm == 0.0
    value, ijk = state.value_at(state.crosshair)
    assert ijk is not None and value is not None
    assert state.value_at((1e4, 0.0, 0.0)) == (None, None)


def test_frames_of_a_sequence_keep_the_crosshair_and_window(tmp_path: Path) -> None:
    from vtkdicom_app.phantom import SequenceKind, write_sequence

    res = write_sequence(tmp_path / "beat", kind=SequenceKind.TIME, frames=3, rows=16, columns=16, slices=8, pixel_spacing=(4.0, 4.0), slice_spacing=4.0)
    seq = vda.load_sequence(res.outdir)
    state = ViewerState()
    state.set_volume(seq[0], sequence=seq)
    state.set_crosshair((4.0, 0.0, 2.0))
    state.set_window_level(300.0, 50.0)
    rec = Recorder(state)
    state.set_frame(2)
    state.set_frame(2)
    state.set_frame(4)  # wraps around: 4 % 3 = 1
    assert [e.value for e in rec.events] == [2, 1] and state.volume is seq[1]
    assert state.crosshair.tolist() == [4.0, 0.0, 2.0] and state.window_level.window == 300.0
    with pytest.raises(ValueError, match="whole number"):
        state.set_frame(1.5)


def test_cine_plays_the_frames_of_a_sequence_and_stops_on_a_new_volume(tmp_path: Path, vol: vda.Volume) -> None:
    from vtkdicom_app.phantom import SequenceKind, write_sequence
    from vtkdicom_app.viewer_state import Cine

    res = write_sequence(tmp_path / "beat", kind=SequenceKind.TIME, frames=3, rows=16, columns=16, slices=8, pixel_spacing=(4.0, 4.0), slice_spacing=4.0)
    seq = vda.load_sequence(res.outdir)
    state = ViewerState()
    state.set_volume(seq[0], sequence=seq)
    assert state.cine == Cine(False, 8.0, None)  # a sequence plays its frames
    rec = Recorder(state)
    state.set_cine(playing=True, fps=20.0)
    assert state.cine.playing and state.cine.interval_ms == 50 and rec.names() == [StateEvent.CINE]
    for expected in (1, 2, 0):  # the last frame wraps to the first
        state.cine_step()
        assert state.frame == expected
    with pytest.raises(ValueError, match="0.5..60 fps"):
        state.set_cine(fps=0.0)
    assert state.cine.fps == 20.0  # a refused change changes nothing
    rec.clear()
    state.set_volume(vol)  # a plain volume: the cine stops and plays a view's slices
    assert state.cine == Cine(False, 20.0, Plane.AXIAL) and rec.names()[0] is StateEvent.VOLUME
    with pytest.raises(ValueError, match="no frames"):
        state.set_cine(view=None)


def test_cine_of_a_view_walks_its_slices_and_wraps(state: ViewerState, vol: vda.Volume) -> None:
    from vtkdicom_app.mpr import position_range

    state.set_cine(view="coronal", playing=True)
    lo, hi = position_range(vol, Plane.CORONAL)
    state.set_crosshair((0.0, hi - 0.25, 0.0))
    z = state.crosshair[2]
    state.cine_step()  # the last slice: clamped there
    assert state.crosshair[1] == pytest.approx(hi) and state.crosshair[2] == z
    state.cine_step()  # then back to the first
    assert state.crosshair[1] == pytest.approx(lo)
    state.cine_step()
    assert state.crosshair[1] == pytest.approx(lo + 1.5)  # one true slice step (1.5 mm pixels)
    with pytest.raises(ValueError, match="unknown|plane|view"):
        state.set_cine(view="diagonal")


# ----------------------------------------------------------------------------- threads
def test_a_setter_called_off_the_owner_thread_raises_and_changes_nothing(state: ViewerState) -> None:
    rec = Recorder(state)
    caught: list[BaseException] = []

    def worker() -> None:
        for call in (lambda: state.set_crosshair((1.0, 1.0, 1.0)), lambda: state.set_window_level(100.0, 0.0), lambda: state.add_recent("/x")):
            try:
                call()
            except BaseException as exc:  # noqa: BLE001 - checked below
                caught.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert len(caught) == 3 and all(isinstance(e, StateThreadError) for e in caught)
    assert "GUI thread" in str(caught[0])
    assert rec.events == [] and state.crosshair.tolist() == [0.0, 0.0, 0.0]
    state.set_zoom(Plane.AXIAL, 2.0)  # the owner thread still may
    assert state.owner_thread == threading.get_ident() and len(rec.events) == 1


# ----------------------------------------------------------------------------- no Qt
SCRIPT = r"""
import json, sys
import vtkdicom_app as vda
from vtkdicom_app.app.model import ViewerModel
from vtkdicom_app.mpr import Plane
from vtkdicom_app.viewer_state import StateEvent, ViewerState

state = ViewerState()
seen = []
state.events.connect(lambda e: seen.append(e.name.value))
model = ViewerModel(state)
model.apply_open(model.open(sys.argv[1]))
state.step_crosshair(Plane.AXIAL, 2)
state.zoom_step(Plane.CORONAL, 1)
state.start_window_drag(); state.drag_window_level(10, -5); state.end_window_drag()
state.set_slab(6.0, "mip")
surface = model.extract_surface(state.volume, preset="bone")
state.add_surface(surface)
state.set_surface_look(0, opacity=0.4)
state.toggle_maximised(Plane.SAGITTAL)
s = state.slice(Plane.CORONAL)
print(json.dumps({
    "qt": sorted(m for m in sys.modules if m.startswith(("PyQt5", "vtkmodules.qt"))),
    "events": seen,
    "z": state.position(Plane.AXIAL),
    "wl": [state.window_level.window, state.window_level.level],
    "zoom": state.view(Plane.CORONAL).zoom,
    "slab": s.slab_mm,
    "triangles": state.surfaces[0].report.triangles,
}))
"""


def test_a_script_drives_the_state_without_qt(phantom_factory: Any) -> None:
    ph = phantom_factory(**GEOM)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ph.outdir)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["qt"] == []  # 'PyQt5' not in sys.modules
    assert out["events"][:3] == ["series", "volume", "recent"]
    assert out["events"][3:] == ["crosshair", "zoom", "window_level", "slab", "slab", "slab", "surfaces", "surface", "layout"]
    assert out["z"] == pytest.approx(4.0) and out["wl"] == [440.0, 30.0] and out["zoom"] == pytest.approx(1.2)
    assert out["slab"] == 6.0 and out["triangles"] > 0


# ----------------------------------------------------------------------------- the Segment Editor
# 96 x 96 x 64 axial CT, 2 mm voxels, a 20 mm bone sphere of 1000 HU clear of the spine and the marker
SEG_GEOM: dict[str, Any] = dict(rows=96, columns=96, slices=64, pixel_spacing=(2.0, 2.0), slice_spacing=2.0, sphere_radius_mm=20.0, sphere_hu=1000.0)


@pytest.fixture(scope="module")
def seg_phantom(phantom_factory: Any) -> Any:
    return phantom_factory(**SEG_GEOM)


@pytest.fixture
def seg_state(seg_phantom: Any) -> ViewerState:
    s = ViewerState()
    s.set_volume(vda.load(seg_phantom.outdir))
    s.set_crosshair(seg_phantom.spec.sphere_center)
    return s


def test_segment_options_validate_clamp_and_emit_once(seg_state: ViewerState) -> None:
    from vtkdicom_app.segmentation import Mode
    from vtkdicom_app.viewer_state import BRUSH_RADIUS_RANGE, SegmentOptions

    state = seg_state
    for bad, match in (
        (dict(brush_radius_mm=-1.0), "brush radius"),
        (dict(brush_radius_mm=float("nan")), "brush radius"),
        (dict(threshold_lower=500.0, threshold_upper=100.0), "empty"),
        (dict(margin_mm=0.0), "0 mm"),
        (dict(hollow_mm=-2.0), "wall thickness"),
        (dict(close_mm=0.0), "closing radius"),
        (dict(box=(0.0, 0.0, 0.0, 10.0, 10.0, 0.0)), "no volume"),
        (dict(box=(0.0, 0.0, 0.0, 10.0)), "6 numbers"),
        (dict(min_island_mm3=-1.0), "island"),
        (dict(seed_mode=Mode.SUBTRACT), "replaces or adds"),
        (dict(scissors="cut"), "scissors operation"),
    ):
        with pytest.raises(ValueError, match=match):
            SegmentOptions(**bad)
    with pytest.raises(ValueError, match="unknown segment option"):
        state.set_segment_options(brush_size=3.0)
    assert SegmentOptions(brush_radius_mm=1e4).brush_radius_mm == BRUSH_RADIUS_RANGE[1]
    assert SegmentOptions(overlay_opacity=7.0).overlay_opacity == 1.0
    assert SegmentOptions(scissors="erase_outside").scissors.value == "erase_outside"  # enum values are accepted
    rec = Recorder(state)
    state.set_segment_options(brush_radius_mm=3.0, overlay_opacity=0.25)
    state.set_segment_options(brush_radius_mm=3.0)  # no change, no event
    with pytest.raises(ValueError):
        state.set_segment_options(threshold_upper=-5000.0)  # below the lower 300: nothing changes
    assert rec.names() == [StateEvent.SEGMENT_OPTIONS]
    assert state.segment_options.brush_radius_mm == 3.0 and state.segment_options.threshold_upper is None
    state.set_segment_tool("paint")
    state.set_segment_tool("paint")
    with pytest.raises(ValueError, match="segment tool"):
        state.set_segment_tool("lasso")
    assert rec.names() == [StateEvent.SEGMENT_OPTIONS, StateEvent.SEGMENT_TOOL]


def test_segmentation_is_made_on_the_volumes_grid_and_every_change_is_forwarded(seg_state: ViewerState) -> None:
    from vtkdicom_app.segmentation import EventKind, Geometry, tools

    state = seg_state
    assert state.segmentation is None and state.segment_overlay() is None
    with pytest.raises(ValueError, match="add a segment"):
        state.apply_segment_tool()
    rec = Recorder(state)
    seg = state.add_segment("bone")
    model = state.segmentation
    assert model is not None and model.geometry == Geometry.from_volume(state.volume)
    assert state.current_segment == seg.segment_id
    assert rec.names() == [StateEvent.SEGMENTATION, StateEvent.SEGMENT, StateEvent.CURRENT_SEGMENT, StateEvent.SEGMENT]
    assert [rec.events[1].value.kind, rec.events[3].value.kind] == [EventKind.SEGMENT_ADDED, EventKind.HISTORY]
    # a script that calls a tool on the model directly: the state forwards it, with the box that changed
    rec.clear()
    box = tools.threshold(model, seg.segment_id, 300.0)
    assert rec.names() == [StateEvent.SEGMENT, StateEvent.SEGMENT]
    changed = rec.events[0].value
    assert changed.kind is EventKind.MASK_CHANGED and changed.box == box and rec.events[0].key == seg.segment_id
    overlay = state.segment_overlay()
    assert overlay is not None and [layer.key for layer in overlay.layers] == [seg.segment_id]
    state.set_segment_properties(visible=False)
    overlay = state.segment_overlay()
    assert overlay is not None and overlay.layers == ()
    # removing the current segment picks the last one left; undo brings it back
    other = state.add_segment("other")
    state.set_current_segment(seg.segment_id)
    state.remove_segment()
    assert state.current_segment == other.segment_id and len(model) == 1
    assert state.undo_segmentation() == "remove segment bone" and len(model) == 2
    with pytest.raises(Exception, match="no segment"):
        state.set_current_segment("nope")


def test_seed_click_gives_the_sphere_and_a_bad_seed_changes_nothing(seg_state: ViewerState, seg_phantom: Any) -> None:
    from vtkdicom_app.segmentation import SegmentationError
    from vtkdicom_app.viewer_state import SegmentTool

    state, spec = seg_state, seg_phantom.spec
    sid = state.add_segment().segment_id
    model = state.segmentation
    assert model is not None
    state.set_segment_tool(SegmentTool.SEED)
    state.set_segment_options(threshold_lower=300.0, threshold_upper=3000.0)
    state.segment_press(Plane.AXIAL, spec.sphere_center)
    state.segment_release(Plane.AXIAL, spec.sphere_center)
    assert model.voxel_count(sid) * model.geometry.voxel_volume_mm3 == pytest.approx(spec.sphere_volume_mm3, rel=0.02)
    before = model.mask(sid).copy()
    rec = Recorder(state)
    body = np.asarray(spec.sphere_center) + (spec.sphere_radius + 6.0, 0.0, 0.0)  # soft tissue, 40 HU
    with pytest.raises(SegmentationError, match="outside the range"):
        state.segment_press(Plane.AXIAL, body)
    with pytest.raises(SegmentationError, match="outside"):
        state.segment_press(Plane.AXIAL, (1e4, 0.0, 0.0))
    np.testing.assert_array_equal(model.mask(sid), before)
    assert rec.events == [] and model.undo_description == "seed region"


def test_a_brush_stroke_is_live_and_one_undo_step(seg_state: ViewerState, seg_phantom: Any) -> None:
    from vtkdicom_app.segmentation import EventKind
    from vtkdicom_app.viewer_state import SegmentTool

    state = seg_state
    sid = state.add_segment().segment_id
    model = state.segmentation
    assert model is not None
    state.set_segment_tool(SegmentTool.PAINT)
    state.set_segment_options(brush_radius_mm=4.5)
    c = np.asarray(seg_phantom.spec.sphere_center)
    rec = Recorder(state)
    state.segment_press(Plane.AXIAL, c)
    assert state.stroke_active and model.voxel_count(sid) > 0  # the first dab shows at once
    state.segment_drag(Plane.AXIAL, c + (12.0, 0.0, 0.0))
    state.segment_drag(Plane.AXIAL, c + (12.0, 12.0, 0.0))  # dabs every half radius along the way
    state.segment_release(Plane.AXIAL)
    assert not state.stroke_active
    kinds = [e.value.kind for e in rec.events if e.name is StateEvent.SEGMENT]
    assert kinds.count(EventKind.MASK_CHANGED) >= 3 and kinds[-1] is EventKind.HISTORY and kinds.count(EventKind.HISTORY) == 1
    # a 4.5 mm tube along two 12 mm legs: between the swept tube's volume and that volume less the overlap
    painted = model.voxel_count(sid) * model.geometry.voxel_volume_mm3
    tube = math.pi * 4.5**2 * 24.0 + 4.0 / 3.0 * math.pi * 4.5**3
    assert 0.75 * tube < painted < 1.1 * tube
    after = model.mask(sid).copy()
    assert state.undo_segmentation() == "paint" and not model.mask(sid).any()
    assert state.redo_segmentation() == "paint"
    np.testing.assert_array_equal(model.mask(sid), after)
    # erase with the same brush along the first leg
    state.set_segment_tool(SegmentTool.ERASE)
    state.segment_press(Plane.AXIAL, c)
    state.segment_release(Plane.AXIAL, c + (12.0, 0.0, 0.0))
    assert 0 < model.voxel_count(sid) < after.sum() and model.undo_description == "erase"
    # the brush outline follows the pointer (a sketch with the radius); a new tool hides it
    state.segment_hover(Plane.CORONAL, c)
    assert state.segment_sketch is not None and state.segment_sketch.radius_mm == 4.5 and state.segment_sketch.view is Plane.CORONAL
    state.set_segment_tool(SegmentTool.NONE)
    assert state.segment_sketch is None


def test_scissors_polygon_is_a_sketch_until_released(seg_state: ViewerState, seg_phantom: Any) -> None:
    from vtkdicom_app.segmentation import ScissorsOperation, tools
    from vtkdicom_app.viewer_state import SegmentTool

    state, spec = seg_state, seg_phantom.spec
    sid = state.add_segment().segment_id
    model = state.segmentation
    assert model is not None
    tools.threshold(model, sid, 300.0, 3000.0)
    tools.keep_island_at(model, sid, spec.sphere_center)
    full = model.voxel_count(sid)
    sphere = model.mask(sid).copy()
    state.set_segment_tool(SegmentTool.SCISSORS)
    state.set_segment_options(scissors=ScissorsOperation.ERASE_OUTSIDE)  # keep what is inside
    c = np.asarray(spec.sphere_center)
    rec = Recorder(state)
    # a square on the axial view over the posterior part of the sphere (y > y0), its edge between two rows of voxels
    y0 = 2.0 * round(float(c[1]) / 2.0)  # an even y: the voxel centres lie on odd ones
    state.segment_press(Plane.AXIAL, (c[0] - 30.0, y0, c[2]))
    for p in ((c[0] + 30.0, y0, c[2]), (c[0] + 30.0, y0 + 40.0, c[2])):
        state.segment_drag(Plane.AXIAL, p)
    assert model.voxel_count(sid) == full  # nothing is cut while drawing
    state.segment_release(Plane.AXIAL, (c[0] - 30.0, y0 + 40.0, c[2]))
    sketches = [e.value for e in rec.events if e.name is StateEvent.SEGMENT_SKETCH]
    assert [None if s is None else len(s.points) for s in sketches] == [1, 2, 3, None]
    # exactly the sphere's voxels posterior of the polygon's edge, on every slice (extruded along z)
    kji = np.indices(model.geometry.shape).reshape(3, -1).T
    y = model.geometry.index_to_patient(kji[:, ::-1].astype(float))[:, 1].reshape(model.geometry.shape)
    np.testing.assert_array_equal(model.mask(sid), sphere & (y > y0))
    assert 0 < model.voxel_count(sid) < full and model.undo_description == "scissors"


def test_whole_segment_tools_apply_with_the_options(seg_state: ViewerState, seg_phantom: Any) -> None:
    from vtkdicom_app.segmentation import Mode, SegmentationError
    from vtkdicom_app.viewer_state import IslandAction, SegmentTool

    state, spec = seg_state, seg_phantom.spec
    bone = state.add_segment("bone").segment_id
    model = state.segmentation
    assert model is not None
    state.set_segment_tool(SegmentTool.THRESHOLD)
    state.set_segment_options(threshold_lower=300.0, threshold_upper=None)
    state.apply_segment_tool()
    all_bone = model.voxel_count(bone)
    state.set_segment_tool(SegmentTool.ISLANDS)
    state.set_segment_options(island_action=IslandAction.REMOVE_SMALL, min_island_mm3=0.5 * spec.sphere_volume_mm3)
    state.apply_segment_tool()
    assert 0 < model.voxel_count(bone) < all_bone
    state.set_segment_options(island_action=IslandAction.KEEP_LARGEST)
    state.apply_segment_tool()
    sphere = state.add_segment("sphere").segment_id
    state.set_segment_tool(SegmentTool.SEED)
    state.segment_press(Plane.AXIAL, spec.sphere_center)
    # logical: subtract the sphere from the bone; copying it back gives the sphere
    state.set_current_segment(bone)
    state.set_segment_tool(SegmentTool.LOGICAL)
    state.set_segment_options(logical_op=Mode.SUBTRACT, logical_other=sphere)
    state.apply_segment_tool()
    assert not (model.mask(bone) & model.mask(sphere)).any()
    state.set_segment_options(logical_op=Mode.REPLACE)
    state.apply_segment_tool()
    np.testing.assert_array_equal(model.mask(bone), model.mask(sphere))
    state.set_segment_options(logical_other=bone)
    with pytest.raises(ValueError, match="another segment"):
        state.apply_segment_tool()
    # margin, hollow, fill holes on the sphere: known volumes
    state.set_current_segment(sphere)
    v0 = model.voxel_count(sphere) * model.geometry.voxel_volume_mm3
    state.set_segment_tool(SegmentTool.MARGIN)
    state.set_segment_options(margin_mm=3.0)
    state.apply_segment_tool()
    grown = model.voxel_count(sphere) * model.geometry.voxel_volume_mm3
    assert grown == pytest.approx(4.0 / 3.0 * math.pi * (spec.sphere_radius + 3.0) ** 3, rel=0.04)
    state.undo_segmentation()
    state.set_segment_tool(SegmentTool.HOLLOW)
    state.set_segment_options(hollow_mm=3.0)
    state.apply_segment_tool()
    shell = model.voxel_count(sphere) * model.geometry.voxel_volume_mm3
    assert shell == pytest.approx(v0 - 4.0 / 3.0 * math.pi * (spec.sphere_radius - 3.0) ** 3, rel=0.1)
    state.set_segment_tool(SegmentTool.FILL_HOLES)
    state.apply_segment_tool()
    assert model.voxel_count(sphere) * model.geometry.voxel_volume_mm3 == pytest.approx(v0)
    state.set_segment_tool(SegmentTool.HOLLOW)
    state.set_segment_options(hollow_mm=40.0)
    with pytest.raises(SegmentationError, match="thicker than"):
        state.apply_segment_tool()
    state.set_segment_tool(SegmentTool.PAINT)
    with pytest.raises(ValueError, match="nothing to apply"):
        state.apply_segment_tool()


def test_a_new_volume_or_segmentation_replaces_the_segments(seg_state: ViewerState, seg_phantom: Any, tmp_path: Path) -> None:
    from vtkdicom_app.segmentation import GridMismatchError, SegmentationModel

    state = seg_state
    state.add_segment("a")
    vol = state.volume
    assert vol is not None
    rec = Recorder(state)
    state.set_volume(vol)
    assert rec.events == [Event(StateEvent.VOLUME, vol)]  # one event; the segments went with the old volume
    assert state.segmentation is None and state.current_segment is None
    # a segmentation of another grid is refused; the state keeps what it had
    other = vda.load(vda.phantom.write_phantom(tmp_path / "other", rows=16, columns=16, slices=4).outdir)
    foreign = SegmentationModel.from_volume(other)
    foreign.add_segment("x")
    rec.clear()
    with pytest.raises(GridMismatchError):
        state.set_segmentation(foreign)
    assert rec.events == [] and state.segmentation is None
    mine = SegmentationModel.from_volume(vol)
    first = mine.add_segment("first")
    state.set_segmentation(mine)
    assert state.segmentation is mine and state.current_segment == first.segment_id
    assert rec.names() == [StateEvent.SEGMENTATION, StateEvent.CURRENT_SEGMENT]
    rec.clear()
    state.set_segmentation(None)
    assert rec.names() == [StateEvent.SEGMENTATION, StateEvent.CURRENT_SEGMENT] and rec.events[0].value is None


def test_surfaces_are_made_from_frozen_jobs_and_stale_ones_are_dropped(seg_state: ViewerState, seg_phantom: Any) -> None:
    from vtkdicom_app.bridge import mesh_to_arrays
    from vtkdicom_app.mesh import signed_volume
    from vtkdicom_app.segmentation import tools

    state, spec = seg_state, seg_phantom.spec
    sid = state.add_segment().segment_id
    model = state.segmentation
    assert model is not None
    tools.seed_region(model, sid, spec.sphere_center, 300.0, 3000.0)
    job = state.segment_surface_job(sid)
    assert job.mask is not None and not job.mask.flags.writeable
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(job.run()))  # a worker: reads only the job
    thread.start()
    tools.paint(model, sid, np.asarray(spec.sphere_center) + (0.0, 0.0, spec.sphere_radius), 3.0)  # meanwhile, an edit
    thread.join()
    assert len(results) == 1 and results[0].mesh is not None
    rec = Recorder(state)
    assert state.set_segment_surface(results[0]) is False and rec.events == []  # made from an older revision
    fresh = state.segment_surface_job(sid).run()
    caught: list[BaseException] = []

    def off_thread() -> None:
        try:
            state.set_segment_surface(fresh)
        except BaseException as exc:  # noqa: BLE001 - checked below
            caught.append(exc)

    t = threading.Thread(target=off_thread)
    t.start()
    t.join()
    assert len(caught) == 1 and isinstance(caught[0], StateThreadError)
    assert state.set_segment_surface(fresh) is True and rec.names() == [StateEvent.SEGMENT_SURFACE]
    points, faces = mesh_to_arrays(fresh.mesh)
    voxels = model.voxel_count(sid) * model.geometry.voxel_volume_mm3
    assert signed_volume(points, faces) == pytest.approx(voxels, rel=0.01)  # in LPS, on the right grid
    assert fresh.mesh.GetPointData().GetNormals() is not None
    lo, hi = points.min(axis=0), points.max(axis=0)
    assert np.allclose((lo + hi) / 2, np.asarray(spec.sphere_center) + (0.0, 0.0, 1.5), atol=1.5)
    # removing the segment removes its surface
    rec.clear()
    state.remove_segment(sid)
    surfaces = [e.value for e in rec.events if e.name is StateEvent.SEGMENT_SURFACE]
    assert len(surfaces) == 1 and surfaces[0].mesh is None and state.segment_surfaces == {}


def test_overlay_samples_each_pixels_nearest_voxel_on_any_grid() -> None:
    """The overlay against a brute-force nearest-voxel lookup: axis-aligned, rotated and permuted grids."""
    from vtkdicom_app.mpr import Reslicer
    from vtkdicom_app.rendering.slice_view import OverlayLayer, SegmentOverlay, SliceSampler, segment_overlay
    from vtkdicom_app.segmentation import Box, Geometry

    rng = np.random.default_rng(0)
    rotations = (np.eye(3), np.array([[0.8, -0.6, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]), np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    for direction in rotations:
        arr = rng.integers(0, 100, (20, 30, 40)).astype(np.int16)
        vol = vda.Volume(arr, spacing=(0.9, 1.1, 2.0), origin=(-10.0, 5.0, 3.0), direction=direction)
        geo = Geometry.from_volume(vol)
        mask = arr > 50
        reslicer = Reslicer(vol)
        for plane in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL):
            s = reslicer.reslice(plane, point=reslicer.centre() + 0.3)
            rows, cols = s.shape
            rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
            ijk = np.rint(geo.patient_to_index(s.pixel_to_patient(rr, cc).reshape(-1, 3))).astype(int)
            inside = np.all((ijk >= 0) & (ijk < np.array(geo.shape[::-1])), axis=1)
            expected = np.zeros(len(ijk), bool)
            expected[inside] = mask[ijk[inside, 2], ijk[inside, 1], ijk[inside, 0]]
            expected = expected.reshape(rows, cols)
            sampler = SliceSampler(s, geo)
            assert sampler.separable == (direction is not rotations[1])
            np.testing.assert_array_equal(sampler.sample(mask), expected)
            # one layer boxed to part of the grid: only its voxels, drawn in its colour
            box = Box((5, 5, 5), (12, 20, 30))
            part = np.zeros_like(mask)
            part[box.slices] = mask[box.slices]
            rgba = segment_overlay(s, SegmentOverlay(geo, (OverlayLayer(part, (1.0, 0.5, 0.0), box),), opacity=0.4, outline=False))
            shown = sampler.sample(part)
            assert np.array_equal(rgba[..., 3] > 0, shown)
            if shown.any():
                assert set(map(tuple, rgba[shown].tolist())) == {(255, 128, 0, 102)}
            outlined = segment_overlay(s, SegmentOverlay(geo, (OverlayLayer(part, (1.0, 0.5, 0.0), box),), opacity=0.4, outline=True))
            assert np.array_equal(outlined[..., 3] > 0, shown) and (not shown.any() or (outlined[..., 3] == 255).any())


def test_a_view_is_redrawn_only_when_its_plane_crosses_the_change(seg_state: ViewerState) -> None:
    from vtkdicom_app.segmentation import Box

    state = seg_state
    state.add_segment()
    model = state.segmentation
    assert model is not None
    i, j, k = (int(v) for v in np.rint(model.geometry.patient_to_index(state.crosshair)))
    here = Box((k, j, i), (k + 1, j + 1, i + 1))
    away = Box((k + 3, j + 3, i + 3), (k + 5, j + 5, i + 5))
    assert all(state.segment_touches_view(here, p) for p in Plane if p is not Plane.OBLIQUE)
    assert not any(state.segment_touches_view(away, p) for p in Plane if p is not Plane.OBLIQUE)
    beside = Box((k, j + 3, i + 3), (k + 1, j + 5, i + 5))  # same slice, elsewhere on it
    assert state.segment_touches_view(beside, Plane.AXIAL) and not state.segment_touches_view(beside, Plane.CORONAL)
    assert state.segment_touches_view(None, Plane.AXIAL)


# ----------------------------------------------------------------------------- rotated planes (oblique MPR)
def test_rotating_in_one_view_turns_the_other_two_planes_about_its_normal(vol: vda.Volume) -> None:
    from vtkdicom_app.mpr import reslice, rotation_about

    state = ViewerState()
    state.set_volume(vol)
    state.set_crosshair((3.0, -2.0, 1.0))
    rec = Recorder(state)
    state.rotate_planes("axial", 30.0)
    assert rec.names() == [StateEvent.PLANES] and state.planes_rotated
    assert not state.view_rotated(Plane.AXIAL) and state.view_rotated(Plane.CORONAL) and state.view_rotated(Plane.SAGITTAL)
    r = rotation_about((0.0, 0.0, 1.0), 30.0)
    np.testing.assert_allclose(state.plane_axes(Plane.CORONAL)[:, 2], r @ [0.0, 1.0, 0.0], atol=1e-12)
    normals = np.column_stack([state.plane_axes(p)[:, 2] for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)])
    np.testing.assert_allclose(normals.T @ normals, np.eye(3), atol=1e-12)  # still three orthogonal planes
    # the coronal view shows exactly reslice() on the same oblique plane through the crosshair
    shown = state.slice(Plane.CORONAL)
    expected = reslice(vol, "oblique", normal=r @ [0.0, 1.0, 0.0], point=state.crosshair)
    np.testing.assert_allclose(shown.axes, expected.axes, atol=1e-12)
    np.testing.assert_array_equal(shown.array, expected.array)
    assert state.position(Plane.CORONAL) == pytest.approx(float(state.crosshair @ (r @ [0.0, 1.0, 0.0])))
    # the axial view's lines are the rotated planes' traces
    lines = state.crosshair_lines(Plane.AXIAL)
    assert abs(float(lines[Plane.CORONAL] @ (r @ [1.0, 0.0, 0.0]))) == pytest.approx(1.0)
    state.reset_planes()
    assert not state.planes_rotated and rec.names()[-1] is StateEvent.PLANES
    np.testing.assert_array_equal(state.slice(Plane.CORONAL).array, reslice(vol, "coronal", point=state.crosshair).array)


def test_a_drag_around_the_crosshair_turns_the_lines_with_the_pointer(vol: vda.Volume) -> None:
    state = ViewerState()
    state.set_volume(vol)
    c = state.crosshair.copy()
    for view in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL):  # the sagittal frame is left-handed: same feel
        state.reset_planes()
        m = state.plane_axes(view)
        other = next(iter(state.crosshair_lines(view)))
        start = c + 10.0 * state.crosshair_lines(view)[other]  # the pointer on that plane's line
        end = c + 10.0 * (np.cos(np.radians(20)) * state.crosshair_lines(view)[other] + np.sin(np.radians(20)) * m[:, 1])
        turned = state.rotate_planes_by_drag(view, start, end)
        assert abs(turned) == pytest.approx(20.0)
        d = state.crosshair_lines(view)[other]
        assert abs(float(d @ (end - c))) / np.linalg.norm(end - c) == pytest.approx(1.0), view  # the line went to the pointer
        assert not state.view_rotated(view)  # the view dragged in keeps its own plane
    assert state.rotate_planes_by_drag(Plane.AXIAL, c, c + 5.0) == 0.0  # through the crosshair: no angle


def test_stepping_a_rotated_plane_moves_along_its_normal_and_stops_at_the_volume(vol: vda.Volume) -> None:
    from vtkdicom_app.mpr import frame_axes

    state = ViewerState()
    state.set_volume(vol)
    state.rotate_planes(Plane.AXIAL, 45.0)
    n = state.plane_axes(Plane.SAGITTAL)[:, 2]
    before = state.crosshair.copy()
    state.step_crosshair(Plane.SAGITTAL, 2)
    moved = state.crosshair - before
    np.testing.assert_allclose(moved / np.linalg.norm(moved), n, atol=1e-9)
    state.step_crosshair(Plane.SAGITTAL, 10_000)
    assert float(state.crosshair @ n) == pytest.approx(float((vol.corners @ n).max()))
    with pytest.raises(ValueError, match="orthonormal"):
        state.set_plane_axes(Plane.CORONAL, np.diag([1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        state.rotate_planes(Plane.AXIAL, float("nan"))
    state.set_plane_axes(Plane.CORONAL, frame_axes(np.eye(3)[:, [0, 2, 1]] * [1, -1, 1]))  # the standard coronal frame
    assert not state.view_rotated(Plane.CORONAL)
    state.set_volume(vol)  # a new volume: standard planes again
    assert not state.planes_rotated


def test_a_rotated_coronal_keeps_the_left_marker_on_the_patients_left(phantom_factory: Any) -> None:
    """The asymmetric marker (x > 0: the patient's left) stays on the image's right in a coronal
    view turned 25 degrees about the axial normal (radiological convention, never mirrored)."""
    res = phantom_factory(rows=64, columns=64, slices=40, pixel_spacing=(4.0, 4.0), slice_spacing=4.0)
    v = vda.load(res.outdir)
    spec = res.spec
    state = ViewerState()
    state.set_volume(v)
    state.set_crosshair(spec.marker_center)
    state.rotate_planes(Plane.AXIAL, 25.0)
    s = state.slice(Plane.CORONAL)
    bright = np.argwhere(s.array >= spec.marker_hu * 0.8)
    assert bright.size
    centre_lps = s.pixel_to_patient(bright[:, 0].mean(), bright[:, 1].mean())
    assert centre_lps[0] > 0  # on the patient's left
    assert bright[:, 1].mean() > s.shape[1] / 2  # drawn on the image's right half
