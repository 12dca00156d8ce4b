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
