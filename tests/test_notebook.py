"""Jupyter support: rich display of volumes, the notebook viewer's state and widgets, the 3D
view rendered off-screen (VTK on EGL/llvmpipe without a display), trame's remote view.

Phantoms are real DICOM written with pydicom; the slice views are checked against the
phantom's analytic model in patient space; the widgets are real ipywidgets driven without a
browser (their values are what the browser would receive).
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.display import apply_window, auto_window_level
from vtkdicom_app.mpr import ORTHOGONAL_PLANES, Plane, plane_axes, reslice
from vtkdicom_app.notebook import summary
from vtkdicom_app.phantom import PhantomOrientation, SequenceKind, phantom_values, write_sequence

ROOT = Path(__file__).resolve().parents[1]
SMALL: dict[str, Any] = dict(rows=48, columns=48, slices=32, pixel_spacing=(2.0, 2.0), slice_spacing=2.5)
ORIENTATIONS = [PhantomOrientation.AXIAL, PhantomOrientation.CORONAL, PhantomOrientation.SAGITTAL, PhantomOrientation.OBLIQUE]

ipywidgets = pytest.importorskip("ipywidgets", reason="ipywidgets is not installed: pip install vtkdicom_app[notebook]")


def _png(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# ----------------------------------------------------------------------------- _repr_html_
def test_repr_html_has_summary_and_thumbnail_and_no_phi_unless_asked(phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL, patient_name="Doe^Jane", patient_id="SECRET-4711", extra_tags={"PatientBirthDate": "19610203"})
    vol = vda.load(ph.outdir)
    text = vol._repr_html_()
    assert "32 x 48 x 48" in text and "(2, 2, 2.5)" in text
    assert "i &rarr; L, j &rarr; P, k &rarr; S" in text  # axial: rows left, columns posterior, slices superior
    assert ">CT<" in text and ">int16<" in text
    lo, hi = int(vol.array.min()), int(vol.array.max())
    assert f"{lo} .. {hi}" in text
    assert "Doe" not in text and "SECRET-4711" not in text and "19610203" not in text
    match = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    assert match is not None
    picture = _png(base64.b64decode(match.group(1)))
    assert picture.shape[1] <= 3 * 128 + 8 and picture.max() > 200  # small, not blank
    np.testing.assert_array_equal(picture, summary.thumbnail(vol))

    previous = summary.show_phi(True)
    try:
        shown = vol._repr_html_()
        assert "Doe^Jane" in shown and "SECRET-4711" in shown and "19610203" in shown
    finally:
        summary.show_phi(previous)
    assert "Doe" not in vol._repr_html_()
    assert "SECRET-4711" in summary.volume_html(vol, phi=True)


def test_thumbnail_planes_follow_mpr_convention() -> None:
    for name, table in summary.THUMBNAIL_AXES.items():
        np.testing.assert_allclose(np.asarray(table).T, plane_axes(Plane(name)))


@pytest.mark.parametrize("orientation", ORIENTATIONS, ids=lambda o: o.value)
def test_thumbnail_shows_the_model_in_patient_space(phantom_factory: Any, orientation: PhantomOrientation) -> None:
    ph = phantom_factory(**SMALL, orientation=orientation)
    vol = vda.load(ph.outdir)
    window, level = summary.thumbnail_window(vol)
    auto = auto_window_level(vol)
    assert (window, level) == pytest.approx((auto.window, auto.level), rel=0.02)  # the viewer's automatic window
    for tile in summary.thumbnail_tiles(vol, size=96):
        rows, cols = tile.rgb.shape[:2]
        rr, cc = np.mgrid[0:rows, 0:cols]
        lps = tile.pixel_to_patient(rr, cc)
        ijk = vol.patient_to_index(lps.reshape(-1, 3))
        # well inside the grid (nearest-voxel sampling: compare where the model does not change within a voxel)
        inside = np.all((ijk > 1) & (ijk < np.asarray(vol.dimensions) - 2), axis=1).reshape(rows, cols)
        model = phantom_values(lps, ph.spec)
        expected = apply_window(model, window, level)
        near_edge = np.zeros_like(inside)
        step = max(vol.spacing)
        for offset in itertools.product((-step, 0.0, step), repeat=3):  # skip pixels within a voxel of a boundary
            near_edge |= phantom_values(lps + np.asarray(offset), ph.spec) != model
        judged = inside & ~near_edge
        assert judged.sum() > 0.2 * rows * cols, tile.plane
        np.testing.assert_array_equal(tile.rgb[..., 0][judged], expected[judged], err_msg=tile.plane)
        assert np.all(tile.rgb[~np.all((ijk >= -0.5) & (ijk <= np.asarray(vol.dimensions) - 0.5), axis=1).reshape(rows, cols)] == 0)


def test_sequence_repr_html(tmp_path: Path) -> None:
    write_sequence(tmp_path / "seq", kind=SequenceKind.TIME, frames=4, rows=24, columns=24, slices=10, patient_name="Roe^Richard")
    seq = vda.load_sequence(tmp_path / "seq")
    text = seq._repr_html_()
    assert "4 along time" in text and "0 .. 240 ms" in text
    assert "frame 0: shape (k, j, i)" in text and "data:image/png;base64," in text
    assert "Roe" not in text
    assert "Roe^Richard" in summary.sequence_html(seq, phi=True)


# ----------------------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def axial_vol(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from vtkdicom_app.phantom import write_phantom

    ph = write_phantom(tmp_path_factory.mktemp("nb_axial"), **SMALL, partial_volume=True)
    return vda.load(ph.outdir), ph.spec


def test_model_reslices_only_the_plane_that_moved(axial_vol: Any) -> None:
    from vtkdicom_app.notebook.model import Reason, SliceViewerModel

    vol, _spec = axial_vol
    m = SliceViewerModel(vol)
    init = m.history[-1]
    assert init.reason is Reason.INIT and init.resliced == set(ORTHOGONAL_PLANES)
    before = {p: m.images[p].copy() for p in ORTHOGONAL_PLANES}

    update = m.step(Plane.AXIAL, 3)
    assert update is not None and update.resliced == {Plane.AXIAL} and update.redrawn == set(ORTHOGONAL_PLANES)
    assert m.reslice_counts == {Plane.AXIAL: 2, Plane.CORONAL: 1, Plane.SAGITTAL: 1}
    assert not np.array_equal(before[Plane.AXIAL], m.images[Plane.AXIAL])
    # the axial line moved up in the coronal view (rows run superior -> inferior): 3 slice steps
    red = np.all(m.images[Plane.CORONAL] == (230, 60, 60), axis=2).mean(axis=1) > 0.9  # the axial line
    red_before = np.all(before[Plane.CORONAL] == (230, 60, 60), axis=2).mean(axis=1) > 0.9
    step_px = 3 * vol.spacing[2] / m.slices[Plane.CORONAL].pixel_size[1]
    assert np.flatnonzero(red_before)[0] - np.flatnonzero(red)[0] == pytest.approx(step_px, abs=1)

    update = m.set_window(350, 50)
    assert update is not None and update.resliced == set() and update.redrawn == set(ORTHOGONAL_PLANES)
    update = m.apply_preset(next(iter(m.presets)))
    assert update is None or update.resliced == set()
    assert m.set_index(Plane.AXIAL, m.index(Plane.AXIAL)) is None  # no change, no render

    update = m.click(Plane.AXIAL, 3, 5)  # crosshair to another x and y: coronal and sagittal follow
    assert update is not None and update.resliced == {Plane.CORONAL, Plane.SAGITTAL}
    assert m.crosshair_pixel(Plane.AXIAL) == pytest.approx((3, 5))

    m.set_crosshair(False)
    update = m.step(Plane.SAGITTAL, -2)
    assert update is not None and update.resliced == {Plane.SAGITTAL} and update.redrawn == {Plane.SAGITTAL}
    assert m.reslice_counts == {Plane.AXIAL: 2, Plane.CORONAL: 2, Plane.SAGITTAL: 3}


def test_model_slices_are_the_reslicers_and_clamp_at_the_ends(axial_vol: Any) -> None:
    from vtkdicom_app.notebook.model import SliceViewerModel

    vol, _spec = axial_vol
    m = SliceViewerModel(vol, crosshair=False)
    m.set_index(Plane.CORONAL, 7)
    expected = reslice(vol, Plane.CORONAL, point=m.point)
    np.testing.assert_array_equal(m.slices[Plane.CORONAL].array, expected.array)
    m.set_index(Plane.AXIAL, 10_000)
    assert m.index(Plane.AXIAL) == m.n_positions(Plane.AXIAL) - 1 == vol.shape[0] - 1
    assert m.position(Plane.AXIAL) == pytest.approx(vol.corners[:, 2].max())
    m.step(Plane.AXIAL, -10_000)
    assert m.index(Plane.AXIAL) == 0


@pytest.mark.parametrize("orientation", ORIENTATIONS, ids=lambda o: o.value)
def test_model_views_put_the_left_marker_on_the_image_right(phantom_factory: Any, orientation: PhantomOrientation) -> None:
    from vtkdicom_app.notebook.model import SliceViewerModel

    ph = phantom_factory(**SMALL, orientation=orientation)
    vol = vda.load(ph.outdir)
    m = SliceViewerModel(vol, crosshair=False)
    m.set_point(ph.spec.marker_center)
    for plane in (Plane.AXIAL, Plane.CORONAL):
        s = m.slices[plane]
        bright = s.array > (ph.spec.sphere_hu + ph.spec.marker_hu) / 2  # the marker only
        assert bright.any(), plane
        cols = np.flatnonzero(bright.any(axis=0))
        assert cols.mean() > s.shape[1] / 2, plane  # patient's left = image right
        row, col = m.crosshair_pixel(plane)
        rows_hit = np.flatnonzero(bright.any(axis=1))
        assert rows_hit.min() - 1 <= row <= rows_hit.max() + 1 and cols.min() - 1 <= col <= cols.max() + 1


def test_model_rejects_bad_input(axial_vol: Any) -> None:
    from vtkdicom_app.notebook.model import SliceViewerModel

    vol, _spec = axial_vol
    m = SliceViewerModel(vol)
    with pytest.raises(ValueError, match="window"):
        m.set_window(0, 40)
    with pytest.raises(ValueError, match="unknown window preset"):
        m.apply_preset("no-such-preset")
    with pytest.raises(ValueError, match="oblique"):
        m.step(Plane.OBLIQUE)
    with pytest.raises(ValueError, match="same grid"):
        m.set_volume(vol.with_array(vol.array[:-1]))


# ----------------------------------------------------------------------------- the widgets
def test_widget_slider_rerenders_only_its_plane_and_sends_pngs(axial_vol: Any) -> None:
    import vtkdicom_app.notebook as nb

    vol, _spec = axial_vol
    viewer = nb.view(vol, three_d=False)
    assert isinstance(viewer, ipywidgets.VBox) and viewer.scene is None
    counts = viewer.model.reslice_counts.copy()
    sent = dict(viewer.sent)
    viewer.sliders[Plane.CORONAL].value = viewer.sliders[Plane.CORONAL].value + 2
    last = viewer.model.history[-1]
    assert last.resliced == {Plane.CORONAL}
    assert viewer.model.reslice_counts[Plane.CORONAL] == counts[Plane.CORONAL] + 1
    assert viewer.model.reslice_counts[Plane.AXIAL] == counts[Plane.AXIAL]
    assert all(viewer.sent[p] == sent[p] + 1 for p in ORTHOGONAL_PLANES)  # crosshair lines moved everywhere
    for p in ORTHOGONAL_PLANES:
        np.testing.assert_array_equal(_png(viewer.images[p].value), viewer.model.images[p])

    viewer.crosshair.value = False
    sent = dict(viewer.sent)
    viewer.sliders[Plane.SAGITTAL].value = 0
    assert viewer.model.history[-1].resliced == {Plane.SAGITTAL}
    assert viewer.sent == {**sent, Plane.SAGITTAL: sent[Plane.SAGITTAL] + 1}

    name = [n for n in viewer.model.presets if viewer.model.presets[n].window != viewer.model.window][0]
    viewer.preset.value = name
    assert viewer.model.history[-1].resliced == set()
    assert (viewer.window.value, viewer.level.value) == pytest.approx((viewer.model.presets[name].window, viewer.model.presets[name].level))
    viewer.window.value = 123.0
    assert viewer.model.window == 123.0
    assert "crosshair LPS" in viewer.readout.value


def test_widget_frame_slider_shows_each_frame(tmp_path: Path) -> None:
    import vtkdicom_app.notebook as nb

    write_sequence(tmp_path / "seq", kind=SequenceKind.TIME, frames=4, rows=24, columns=24, slices=12)
    seq = vda.load_sequence(tmp_path / "seq")
    viewer = nb.view(seq, three_d=False)
    first = viewer.model.slices[Plane.AXIAL].array.copy()
    viewer.frame.value = 1  # the sphere is larger at t = 1 (a heartbeat)
    assert viewer.model.history[-1].resliced == set(ORTHOGONAL_PLANES)
    np.testing.assert_array_equal(viewer.model.vol.array, seq[1].array)
    assert not np.array_equal(first, viewer.model.slices[Plane.AXIAL].array)
    assert "80 ms" in viewer.frame_label.value


def test_view_rejects_other_objects() -> None:
    import vtkdicom_app.notebook as nb

    with pytest.raises(TypeError, match="Volume or a VolumeSequence"):
        nb.view(np.zeros((4, 4, 4)))


# ----------------------------------------------------------------------------- 3D
def test_scene3d_renders_offscreen_with_presets_and_surfaces(phantom_factory: Any) -> None:
    from vtkdicom_app.notebook.scene3d import Scene3D

    ph = phantom_factory(**SMALL, orientation=PhantomOrientation.OBLIQUE)
    vol = vda.load(ph.outdir)
    scene = Scene3D(vol, size=(160, 160))
    assert scene.vr_preset == "ct-bone"
    volume_only = scene.render()
    assert volume_only.shape == (160, 160, 3) and volume_only.max() > 50
    scene.set_volume_visible(False)
    scene.add_surface("bone")
    surface = _png(scene.png())
    assert surface.shape == (160, 160, 3) and not np.array_equal(surface, volume_only)
    # anterior view: the marker on the patient's left is drawn on the picture's right
    col, row = scene.scene.world_to_pixel(ph.spec.marker_center)
    assert col > 80 and surface[int(row), int(col)].max() > 100
    scene.set_surfaces([])
    assert scene.surfaces == {} and scene.render()[int(row), int(col)].max() < 60  # nothing drawn there now
    scene.set_volume_visible(True)
    scene.set_vr_preset("ct-mip")
    scene.rotate(azimuth=90)
    assert scene.render().max() > 50 and scene.renders == 4
    with pytest.raises(ValueError, match="unknown surface preset"):
        scene.add_surface("no-such-surface")


def test_widget_3d_panel_rerenders_on_preset_change(axial_vol: Any) -> None:
    import vtkdicom_app.notebook as nb

    vol, _spec = axial_vol
    viewer = nb.view(vol, size_3d=(120, 120))
    assert viewer.scene is not None and viewer.scene.renders == 1
    counts = viewer.model.reslice_counts.copy()
    first = viewer.image_3d.value
    viewer.vr_preset.value = "ct-mip"
    assert viewer.scene.renders == 2 and viewer.image_3d.value != first
    viewer.view_buttons.value = "left"
    viewer.turn["in"].click()
    assert viewer.scene.renders == 4
    assert viewer.model.reslice_counts == counts  # 3D changes never reslice
    assert "ray caster" in viewer.info_3d.value


def test_trame_remote_view_renders_offscreen(axial_vol: Any) -> None:
    pytest.importorskip("trame_vtk", reason="trame-vtk is not installed: pip install vtkdicom_app[notebook]")
    import aiohttp
    from trame_vtk.modules.vtk import get_helper
    from trame_vtk.modules.vtk.protocols import vtkWebMouseHandler, vtkWebPublishImageDelivery

    from vtkdicom_app.notebook.scene3d import Scene3D

    vol, _spec = axial_vol
    scene = Scene3D(vol, size=(200, 160))
    layout = scene.trame_layout()
    server = layout.server
    result: dict[str, Any] = {}

    async def run() -> None:
        await layout.ready
        try:
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}/") as response:
                result["status"] = response.status
            helper = get_helper(server)
            publisher = next(p for p in helper._root_protocol.getLinkProtocols() if isinstance(p, vtkWebPublishImageDelivery))
            view_id = helper.id(scene.scene.render_window)
            result["reply"] = publisher.still_render({"view": view_id, "mtime": 0, "quality": 100, "size": [200, 160]})
            # a left-button drag in the browser, as trame's client sends it: the kernel's camera turns
            mouse = next(p for p in helper._root_protocol.getLinkProtocols() if isinstance(p, vtkWebMouseHandler))
            camera = scene.scene.renderer.GetActiveCamera()
            before = camera.GetPosition()
            for action, x in (("down", 0.5), ("move", 0.6), ("move", 0.7), ("up", 0.7)):
                event = {"view": view_id, "action": action, "x": x, "y": 0.5, "buttonLeft": action != "up", "buttonMiddle": False, "buttonRight": False}
                mouse.mouse_interaction({**event, "shiftKey": False, "ctrlKey": False, "altKey": False, "metaKey": False})
            result["turned"] = before != camera.GetPosition()
            server.state.vr_preset = "ct-mip"
            server.state.flush()
            await asyncio.sleep(0.1)
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(run(), timeout=120))
    assert result["status"] == 200
    reply = result["reply"]
    assert tuple(reply["size"]) == (200, 160) and reply["format"] == "jpeg"
    picture = _png(reply["image"])
    assert picture.shape == (160, 200, 3) and picture.max() > 50
    assert result["turned"]  # mouse events reach the scene's interactor (no display needed)
    assert scene.vr_preset == "ct-mip"  # the preset menu drives the scene


# ----------------------------------------------------------------------------- imports
def test_view_without_ipywidgets_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['ipywidgets'] = None\n"
        "import numpy as np, vtkdicom_app as vda, vtkdicom_app.notebook as nb\n"
        "try:\n"
        "    nb.view(vda.Volume(np.zeros((2, 3, 4), np.int16)))\n"
        "except ImportError as exc:\n"
        "    print('IMPORTERROR', exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "IMPORTERROR" in proc.stdout and "pip install vtkdicom_app[notebook]" in proc.stdout


def test_importing_notebook_and_repr_stays_light(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "import vtkdicom_app.notebook\n"
        "from vtkdicom_app.volume import Volume\n"
        "html = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4))._repr_html_()\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'vtkmodules', 'vtk', 'pydicom', 'ipywidgets', 'pyvista', 'trame'})\n"
        "print('HEAVY', heavy, 'IMG', 'base64' in html)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY [] IMG True" in proc.stdout
