"""The Qt viewer under Xvfb with pytest-qt: real windows, real VTK panes, real workers."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh
from PIL import Image
from PyQt5 import QtCore, QtWidgets

from vtkdicom_app.app.main_window import MainWindow, wait_for
from vtkdicom_app.mpr import Plane
from vtkdicom_app.viewer_state import Layout

ROOT = Path(__file__).resolve().parents[2]
SMALL: dict[str, Any] = dict(rows=64, columns=64, slices=40, pixel_spacing=(3.0, 3.0), slice_spacing=3.0)


@pytest.fixture
def window(qtbot: Any) -> MainWindow:
    w = MainWindow()
    w.error_dialogs = True
    qtbot.addWidget(w)
    w.resize(1000, 760)
    w.show()
    qtbot.waitExposed(w)
    w.init_vtk()
    return w


def _open(window: MainWindow, path: Any) -> None:
    worker = window.open_path(str(path))
    wait_for(worker)
    assert window.state.volume is not None, window.last_error


def test_open_moves_crosshair_and_links_views(window: MainWindow, phantom_factory: Any, qtbot: Any) -> None:
    ph = phantom_factory(**SMALL)
    _open(window, ph.outdir)
    assert window.series_panel.table.rowCount() == 1
    pane = window.panes[Plane.AXIAL]
    # click in the axial view: the crosshair moves there; the coronal and sagittal planes follow
    size = pane.size()
    pos = QtCore.QPoint(int(size.width() * 0.65), int(size.height() * 0.4))
    ratio = pane.devicePixelRatioF()
    expected = pane.patient_at(int(pos.x() * ratio), int((size.height() - 1 - pos.y()) * ratio))
    qtbot.mouseClick(pane, QtCore.Qt.LeftButton, pos=pos)
    point = window.state.crosshair
    np.testing.assert_allclose(point, expected, atol=3.0)
    cor = window.panes[Plane.CORONAL].view.slice
    sag = window.panes[Plane.SAGITTAL].view.slice
    assert cor.position == pytest.approx(point[1]) and sag.position == pytest.approx(point[0])
    assert point[0] > 0  # right half of the axial image = the patient's left
    # the mouse wheel steps the axial plane by the true slice spacing
    z0 = window.panes[Plane.AXIAL].view.slice.position
    window.step_slice(Plane.AXIAL, 2)
    assert window.panes[Plane.AXIAL].view.slice.position == pytest.approx(z0 + 6.0)
    assert "HU" in window.model.status_text(point)


def test_presets_and_layouts(window: MainWindow, phantom_factory: Any) -> None:
    _open(window, phantom_factory(**SMALL).outdir)
    panel = window.wl_panel
    idx = panel.preset.findText("lung")
    panel.preset.setCurrentIndex(idx)
    panel.choose_preset(idx)
    wl = window.state.window_level
    assert (wl.window, wl.level) == (1500.0, -600.0)
    assert (panel.window_spin.value(), panel.level_spin.value()) == (1500.0, -600.0)  # the panel follows the state
    assert window.panes[Plane.AXIAL].view.window_level == (1500.0, -600.0)  # and so does every view
    panel.choose_preset(0)  # "(header)"
    assert window.state.window_level.window == 400.0
    window.vr_panel.preset.setCurrentIndex(window.vr_panel.preset.findText("ct-mip"))
    window.vr_panel.apply()
    assert window.scene.preset_name == "ct-mip" and window.state.volume_look.preset == "ct-mip"
    window.slab_panel.thickness.setValue(12.0)
    window.slab_panel.apply()
    assert all(window.state.view(p).slab.thickness_mm == 12.0 for p in window.panes)
    assert window.panes[Plane.CORONAL].view.slice.slab_mm == 12.0
    window.set_layout(Layout.ROW_PLUS_3D)
    window.toggle_maximised(Plane.CORONAL)
    assert window.state.layout.layout is Layout.SINGLE and window.panes[Plane.CORONAL].isVisible()
    assert not window.panes[Plane.AXIAL].isVisible()
    window.toggle_maximised(Plane.CORONAL)
    assert window.state.layout.layout is Layout.GRID


def test_add_and_export_a_surface(window: MainWindow, phantom_factory: Any, tmp_path: Path) -> None:
    _open(window, phantom_factory(**SMALL).outdir)
    panel = window.surface_panel
    wait_for(window.add_surface(preset="bone"))
    assert panel.list.count() == 1 and len(window.state.surfaces) == 1 and len(window.surface_actors) == 1
    assert "watertight True" in panel.report.text()
    out = tmp_path / "bone.stl"
    wait_for(window.export_surface(0, str(out)))
    mesh = trimesh.load(out)
    assert mesh.is_watertight
    panel.list.item(0).setCheckState(QtCore.Qt.Unchecked)
    assert not window.state.surfaces[0].visible and not window.surface_actors[0].GetVisibility()
    window.set_surface_look(0, color=(1.0, 0.0, 0.0), opacity=0.5)
    assert window.surface_actors[0].GetProperty().GetOpacity() == 0.5
    assert window.surface_actors[0].GetProperty().GetColor() == (1.0, 0.0, 0.0)
    wait_for(window.add_surface(threshold=1500.0))  # from a threshold: the marker only
    assert panel.list.count() == 2 and len(window.surface_actors) == 2
    assert window.state.surfaces[1].report.volume_mm3 < window.state.surfaces[0].report.volume_mm3
    window.state.remove_surface(0)
    assert panel.list.count() == 1 and len(window.surface_actors) == 1
    assert window.scene.surfaces == window.surface_actors
    window.save_view_screenshot(Plane.CORONAL, str(tmp_path / "coronal.png"))
    assert (tmp_path / "coronal.png").stat().st_size > 0


def test_cancel_a_load(window: MainWindow, phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL)
    worker = window.open_path(str(ph.outdir))
    worker.cancel()
    wait_for(worker)
    assert window.state.volume is None
    assert "cancelled" in window.statusBar().currentMessage()


def test_corrupt_input_gives_a_dialog_not_a_crash(window: MainWindow, tmp_path: Path, qtbot: Any) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "slice.dcm").write_bytes(b"\x00" * 128 + b"DICM" + os.urandom(3000))
    wait_for(window.open_path(str(bad)))
    assert window.state.volume is None
    assert window.last_error and "no DICOM image series" in window.last_error
    box = window.findChild(QtWidgets.QMessageBox, "error_dialog")
    assert box is not None and box.isVisible()
    box.close()


def test_event_loop_stays_responsive_while_loading(window: MainWindow, phantom_factory: Any) -> None:
    """The event loop keeps running while a load runs in its worker."""
    from vtkdicom_app.phantom import TransferSyntax

    # RLE files: pydicom decodes each one in the worker, a long load that holds the GIL often
    ph = phantom_factory(rows=128, columns=128, slices=200, pixel_spacing=(2.0, 2.0), slice_spacing=1.0, transfer_syntax=TransferSyntax.RLE)
    # first use of pydicom's decoders imports C extensions that hold the GIL for a while;
    # that one-off start-up cost is not what this test measures, so pay it up front
    import vtkdicom_app as vda

    vda.load(sorted(Path(ph.outdir).iterdir())[0])
    gaps: list[float] = []
    last = [time.perf_counter()]
    loaded_at = [float("inf")]
    original_load = window.model.load

    def timed_load(*args: Any, **kwargs: Any) -> Any:  # runs in the worker thread
        try:
            return original_load(*args, **kwargs)
        finally:
            loaded_at[0] = time.perf_counter()

    window.model.load = timed_load  # type: ignore[method-assign]

    def tick() -> None:
        now = time.perf_counter()
        if now <= loaded_at[0]:  # frames while the worker loads (showing the volume comes after)
            gaps.append(now - last[0])
        last[0] = now

    worker = window.open_path(str(ph.outdir))  # the dialog is made first; then only the load runs
    timer = QtCore.QTimer()
    timer.timeout.connect(tick)
    last[0] = time.perf_counter()
    timer.start(10)
    while not worker.isFinished():
        QtWidgets.QApplication.processEvents(QtCore.QEventLoop.AllEvents, 5)
    timer.stop()
    wait_for(worker)
    assert window.state.volume is not None
    # the GUI thread kept running its event loop while the worker loaded (a load on the GUI
    # thread would give no tick at all until it ends); how long each frame took is a speed
    # figure, printed here and measured by benchmarks/bench_viewer.py, not asserted
    assert len(gaps) > 10, f"only {len(gaps)} event-loop ticks during the load"
    print(f"longest event-loop frame {max(gaps[1:]) * 1000:.0f} ms over {len(gaps)} ticks")


def test_anonymize_hides_the_patient_name(qtbot: Any, phantom_factory: Any) -> None:
    w = MainWindow(anonymize=True)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.init_vtk()
    _open(w, phantom_factory(**SMALL).outdir)
    table = w.series_panel.table
    texts = [table.item(0, c).text() for c in range(table.columnCount())]
    assert "(anonymized)" in texts and not any("Phantom^Test" in t for t in texts)


def test_view_screenshot_cli_has_real_pixels_in_every_view(phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**SMALL)
    out = tmp_path / "viewer.png"
    proc = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "view", str(ph.outdir), "--screenshot", str(out), "--size", "1000x760"],
        capture_output=True, text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rgb = np.asarray(Image.open(out).convert("RGB"))
    assert rgb.shape[1] == 1000
    # the four VTK panes sit in the left ~3/4 of the window: each quadrant has bright pixels
    h, w = rgb.shape[0], int(rgb.shape[1] * 0.72)
    for (r0, r1), (c0, c1) in (((0, h // 2), (0, w // 2)), ((0, h // 2), (w // 2, w)), ((h // 2, h), (0, w // 2)), ((h // 2, h), (w // 2, w))):
        quad = rgb[r0 + 30 : r1 - 10, c0 + 5 : c1 - 5]
        assert (quad.max(axis=2) > 120).mean() > 0.01, ((r0, c0), "a view is empty")


def test_frames_of_a_sequence_step_and_play(window: MainWindow, tmp_path: Path, qtbot: Any) -> None:
    from vtkdicom_app.phantom import SequenceKind, write_sequence

    res = write_sequence(tmp_path / "beat", kind=SequenceKind.TIME, frames=4, rows=32, columns=32, slices=16, pixel_spacing=(4.0, 4.0), slice_spacing=4.0)
    _open(window, res.outdir)
    assert window.state.sequence is not None and window.frames_dock.isVisible()
    window.set_window(300.0, 50.0)
    point = window.state.crosshair.copy()
    before = window.panes[Plane.CORONAL].view.slice.array.copy()
    window.frames_panel.slider.setValue(1)  # the sphere is larger at frame 1 (80 ms)
    assert window.state.frame == 1 and "time 80 ms" in window.frames_panel.label.text()
    np.testing.assert_array_equal(window.state.crosshair, point)  # crosshair stays put
    assert (window.state.window_level.window, window.state.window_level.level) == (300.0, 50.0)  # window stays put
    after = window.panes[Plane.CORONAL].view.slice.array
    assert (after == 1000).sum() > (before == 1000).sum()
    window.frames_panel.fps.setValue(20.0)
    window.frames_panel.play_button.setChecked(True)
    qtbot.waitUntil(lambda: window.state.frame != 1, timeout=3000)
    window.frames_panel.play_button.setChecked(False)
    assert not window.frames_panel.timer.isActive() and not window.state.cine.playing


def test_cine_plays_a_views_slices_on_a_3d_volume(window: MainWindow, phantom_factory: Any, qtbot: Any) -> None:
    """The Cine dock on a plain volume: pick a view, play, and its slice walks (the other views follow)."""
    _open(window, phantom_factory(rows=32, columns=32, slices=16).outdir)
    panel = window.frames_panel
    assert window.frames_dock.isVisible() and not panel.slider.isEnabled()  # no frames to slide through
    assert not panel.target.model().item(0).isEnabled()  # "Frames" is offered only for 4D series
    panel.target.setCurrentIndex(panel.target.findData(Plane.SAGITTAL))
    panel.target.activated.emit(panel.target.currentIndex())
    assert window.state.cine.view is Plane.SAGITTAL
    panel.fps.setValue(30.0)
    x0 = float(window.state.crosshair[0])
    window.toggle_cine()  # View > Play / pause cine
    assert panel.play_button.isChecked() and panel.timer.isActive() and panel.timer.interval() == 33
    qtbot.waitUntil(lambda: abs(float(window.state.crosshair[0]) - x0) > 1.0, timeout=3000)
    assert window.panes[Plane.SAGITTAL].view.slice is not None
    window.toggle_cine()
    assert not panel.timer.isActive() and panel.play_button.text() == "Play"


@pytest.mark.parametrize("kind", ["mosaic", "instance-only"])
def test_frame_slider_plays_mosaic_runs_and_classic_4d(window: MainWindow, tmp_path: Path, qtbot: Any, kind: str) -> None:
    """The frame slider steps through every kind of 4D series the loader makes."""
    from vtkdicom_app.phantom_mr import Classic4DStyle, write_classic_4d, write_mosaic

    if kind == "mosaic":
        res: Any = write_mosaic(tmp_path / "m", volumes=3, rows=24, columns=24, slices=9)
        n_frames = 3
    else:
        res = write_classic_4d(tmp_path / "c", style=Classic4DStyle.INSTANCE_ONLY, volumes=4, rows=24, columns=24, slices=8)
        n_frames = 4
    _open(window, res.outdir)
    assert window.state.sequence is not None and len(window.state.sequence) == n_frames
    assert window.frames_dock.isVisible() and window.frames_panel.slider.maximum() == n_frames - 1
    first = window.panes[Plane.AXIAL].view.slice.array.copy()
    window.frames_panel.slider.setValue(n_frames - 1)
    assert window.state.frame == n_frames - 1 and f"frame {n_frames}/{n_frames}" in window.frames_panel.label.text()
    # every volume has its own sphere value: the slice shown changed with the frame
    assert not np.array_equal(window.panes[Plane.AXIAL].view.slice.array, first)
    window.frames_panel.fps.setValue(25.0)
    window.frames_panel.play_button.setChecked(True)
    qtbot.waitUntil(lambda: window.state.frame != n_frames - 1, timeout=3000)
    window.frames_panel.play_button.setChecked(False)


def test_colour_series_shows_in_the_slice_views_without_volume_rendering(window: MainWindow, tmp_path: Path) -> None:
    from tests.test_mr_series import _write_rgb_series

    expected = _write_rgb_series(tmp_path / "rgb", n=5)
    _open(window, tmp_path / "rgb")
    assert window.state.volume is not None and window.state.volume.is_colour
    assert window.scene is None  # volume rendering refuses colour; the 3D view stays empty
    shown = window.panes[Plane.AXIAL].view.rgb
    assert shown.ndim == 3 and shown.shape[2] == 3
    # the axial pane shows the stored colours of one of the slices (crosshair pixels aside)
    sl = window.panes[Plane.AXIAL].view.slice.array
    assert sl.shape[-1] == 3 and any(np.array_equal(sl, expected[k]) for k in range(5))


def _count_header_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Wrap the header reader wherever the package bound it (a counter, not a mock: it calls the real reader)."""
    from vtkdicom_app.io import header as header_module

    real = header_module.read_header
    reads: list[str] = []

    def counted(path: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(str(path))
        return real(path, *args, **kwargs)

    patched = 0
    for name, module in list(sys.modules.items()):
        if name.startswith("vtkdicom_app") and getattr(module, "read_header", None) is real:
            monkeypatch.setattr(module, "read_header", counted)
            patched += 1
    assert patched >= 2  # io.header itself and at least the loader
    return reads


def test_open_reads_each_header_once_and_every_state_change_happens_on_the_gui_thread(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from vtkdicom_app.app.model import OpenResult
    from vtkdicom_app.phantom import write_phantom

    ph = write_phantom(tmp_path / "ct", rows=32, columns=32, slices=12)
    reads = _count_header_reads(monkeypatch)
    gui = threading.get_ident()
    assert window.state.owner_thread == gui
    event_threads: list[int] = []
    window.state.events.connect(lambda event: event_threads.append(threading.get_ident()))
    results: list[Any] = []
    worker = window.open_path(str(ph.outdir))
    worker.succeeded.connect(results.append)
    wait_for(worker)
    assert window.state.volume is not None and window.state.volume.shape == (12, 32, 32), window.last_error
    assert len(reads) == len(ph.files) == len(set(reads))  # one header read per file per open
    # the worker returned an immutable result; the GUI thread applied it: every event fired there
    assert len(results) == 1 and isinstance(results[0], OpenResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        results[0].volume = None  # type: ignore[misc]
    assert event_threads and set(event_threads) == {gui}
    assert len(window.state.series) == 1 and window.state.path == str(ph.outdir)


def test_a_state_setter_called_from_a_worker_thread_raises(window: MainWindow, phantom_factory: Any) -> None:
    import threading

    from vtkdicom_app.viewer_state import StateThreadError

    _open(window, phantom_factory(**SMALL).outdir)
    errors: list[BaseException] = []

    def off_gui() -> None:
        try:
            window.state.set_zoom(Plane.AXIAL, 2.0)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assert below
            errors.append(exc)

    thread = threading.Thread(target=off_gui)
    thread.start()
    thread.join()
    assert len(errors) == 1 and isinstance(errors[0], StateThreadError), errors
    assert window.state.view(Plane.AXIAL).zoom == 1.0


def test_changing_the_state_redraws_the_widgets(window: MainWindow, phantom_factory: Any) -> None:
    """The state is the only owner: set it from outside and every widget shows the change."""
    from vtkdicom_app.rendering import grab_render_window

    ph = phantom_factory(**SMALL)
    _open(window, ph.outdir)
    state, axial, coronal = window.state, window.panes[Plane.AXIAL], window.panes[Plane.CORONAL]
    before = grab_render_window(axial.GetRenderWindow()).copy()
    z0, draws = axial.view.slice.position, axial.redraws
    state.step_crosshair(Plane.AXIAL, 3)  # 3 true slice steps of 3 mm
    assert axial.view.slice.position == pytest.approx(z0 + 9.0) and axial.redraws == draws + 1
    after = grab_render_window(axial.GetRenderWindow())
    assert np.abs(after.astype(int) - before.astype(int)).max() > 50  # rendered pixels changed
    # the coronal crosshair line moved with the axial plane (its row is the new z)
    row, _col, _d = coronal.view.slice.patient_to_pixel(state.crosshair)
    green = coronal.view.rgb[int(round(float(row)))]
    assert (green == (np.array((0.2, 0.9, 0.3)) * 255).astype(np.uint8)).all(axis=1).mean() > 0.9
    # zoom and pan are per view: only the axial camera changes
    scale = axial.view.renderer.GetActiveCamera().GetParallelScale()
    coronal_scale = coronal.view.renderer.GetActiveCamera().GetParallelScale()
    state.set_zoom(Plane.AXIAL, 2.0)
    assert axial.view.zoom == 2.0
    assert axial.view.renderer.GetActiveCamera().GetParallelScale() == pytest.approx(scale / 2)
    assert coronal.view.renderer.GetActiveCamera().GetParallelScale() == pytest.approx(coronal_scale)
    state.set_pan(Plane.AXIAL, (12.0, -6.0))
    assert axial.view.pan == (12.0, -6.0)
    # window/level: panes and the panel's spin boxes follow
    state.set_window_level(1800.0, 400.0)
    assert axial.view.window_level == (1800.0, 400.0) and coronal.view.window_level == (1800.0, 400.0)
    assert window.wl_panel.window_spin.value() == 1800.0
    # slab of one view: that pane reslices, the others keep their thin slice
    state.set_slab(9.0, "mip", view=Plane.CORONAL)
    assert coronal.view.slice.slab_mm == 9.0 and axial.view.slice.slab_mm == 0.0
    # the crosshair status follows too
    assert "LPS" in window.statusBar().currentMessage()


def test_mouse_gestures_go_through_the_state_with_the_viewers_gains(window: MainWindow, phantom_factory: Any, qtbot: Any) -> None:
    """Right drag = window/level at 4 and 2 units per pixel; Ctrl+wheel = zoom by 1.2 per notch."""
    _open(window, phantom_factory(**SMALL).outdir)
    pane, state = window.panes[Plane.AXIAL], window.state
    wl0 = state.window_level
    pane.SetEventInformation(100, 100, 0, 0)
    pane._right_press()
    pane.SetEventInformation(110, 95, 0, 0)  # 10 px right, 5 px down
    pane._move()
    pane._right_release()
    assert (state.window_level.window, state.window_level.level) == (wl0.window + 40.0, wl0.level - 10.0)
    pane.SetEventInformation(100, 100, 1, 0)  # Ctrl held
    pane._wheel(1)
    pane._wheel(1)
    assert state.view(Plane.AXIAL).zoom == pytest.approx(1.44) and pane.view.zoom == pytest.approx(1.44)
    # middle drag pans: the image follows the pointer by the view's mm per pixel
    mm = pane.view.mm_per_pixel()
    pane.SetEventInformation(50, 50, 0, 0)
    pane._middle_press()
    pane.SetEventInformation(60, 50, 0, 0)
    pane._move()
    pane._middle_release()
    assert state.view(Plane.AXIAL).pan == pytest.approx((-10 * mm, 0.0))
