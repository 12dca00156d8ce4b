"""The napari reader plugin: DICOM folders read by content into layers placed in LPS world axes.

npe2's ``read`` goes through the installed manifest (no Qt); a napari viewer under Xvfb opens a
folder through the plugin in a child process; the plugin's imports stay light until a DICOM
path is read.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.phantom import PhantomOrientation, SequenceKind, write_sequence

npe2 = pytest.importorskip("npe2", reason="npe2 is not installed: pip install vtkdicom_app[napari]")

from vtkdicom_app.napari._reader import get_reader, layer_data, lps_layer_affine, read_dicom  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL: dict[str, Any] = dict(rows=24, columns=20, slices=12, pixel_spacing=(1.25, 1.5), slice_spacing=2.0)
ORIENTATIONS = list(PhantomOrientation)


def _npe2_read(path: Path) -> list[Any]:
    npe2.PluginManager.instance().discover()  # what napari does at start-up: the installed manifests
    return npe2.read([str(path)], plugin_name="vtkdicom_app", stack=False)


def _world_to_lps(affine: np.ndarray, index: Any) -> np.ndarray:
    world = affine @ np.r_[np.asarray(index, dtype=np.float64), 1.0]
    return world[-4:-1][::-1]  # world (…, z, y, x) -> LPS (x, y, z)


def test_manifest_is_installed_and_valid() -> None:
    from importlib.metadata import entry_points

    points = [ep for ep in entry_points(group="napari.manifest") if ep.name == "vtkdicom_app"]
    assert points and points[0].value == "vtkdicom_app.napari:napari.yaml"
    manifest = npe2.PluginManifest.from_file(ROOT / "vtkdicom_app" / "napari" / "napari.yaml")
    manifest.validate_imports()  # the command's python_name resolves
    reader = manifest.contributions.readers[0]
    assert reader.accepts_directories and reader.command == "vtkdicom_app.get_reader"


@pytest.mark.parametrize("orientation", ORIENTATIONS, ids=lambda o: o.value)
def test_npe2_read_places_voxels_at_their_lps_positions(phantom_factory: Any, orientation: PhantomOrientation) -> None:
    ph = phantom_factory(**SMALL, orientation=orientation)
    vol = vda.load(ph.outdir)
    layers = _npe2_read(ph.outdir)
    assert len(layers) == 1
    data, kwargs, kind = layers[0]
    assert kind == "image" and data.ndim == 3 and sorted(data.shape) == sorted(vol.shape)
    affine = np.asarray(kwargs["affine"])
    corners = {tuple(np.round(c, 6)) for c in vol.corners}
    # voxel (0, 0, 0) and the far corner of the layer are corners of the volume, holding their values
    for index in [(0, 0, 0), tuple(n - 1 for n in data.shape)]:
        lps = _world_to_lps(affine, index)
        assert tuple(np.round(lps, 6)) in corners, (index, lps)
        ijk = vol.patient_to_index(lps)
        np.testing.assert_allclose(ijk, np.round(ijk), atol=1e-6)
        assert data[index] == vol.array[tuple(int(round(v)) for v in ijk[::-1])]
    # every voxel: its layer index maps to the LPS position of the volume voxel with its value
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in data.shape], indexing="ij"), axis=-1).reshape(-1, 3)
    lps = grid @ affine[:3, :3].T + affine[:3, 3]
    ijk = np.rint(vol.patient_to_index(lps[:, ::-1])).astype(int)
    np.testing.assert_array_equal(data[tuple(grid.T)], vol.array[ijk[:, 2], ijk[:, 1], ijk[:, 0]])
    assert len({tuple(v) for v in ijk}) == grid.shape[0]  # a one-to-one mapping
    # the marker (the brightest voxels) lies on the patient's left, +x in LPS
    marker = np.argwhere(data >= (ph.spec.sphere_hu + ph.spec.marker_hu) / 2)
    if marker.size:
        centre = _world_to_lps(affine, marker.mean(axis=0))
        assert centre[0] > 0
    if orientation is not PhantomOrientation.OBLIQUE:  # axis-aligned after reorientation: napari slices it natively
        np.testing.assert_allclose(affine[:3, :3], np.diag(np.diag(affine[:3, :3])), atol=1e-9)
        assert np.all(np.diag(affine)[:3] > 0)
    meta = kwargs["metadata"]["vtkdicom_app"]
    assert meta["world_axes"] == ("z", "y", "x")
    np.testing.assert_allclose(meta["lps_affine"], vol.affine)
    assert kwargs["colormap"] == "gray" and kwargs["contrast_limits"][0] < kwargs["contrast_limits"][1]


def test_layer_affine_without_reorientation_is_the_volume_affine(phantom_factory: Any) -> None:
    vol = vda.load(phantom_factory(**SMALL, orientation=PhantomOrientation.CORONAL).outdir)
    axes, flips, affine = lps_layer_affine(vol.shape, vol.origin, vol.spacing, vol.direction, reorient=False)
    assert axes == (0, 1, 2) and flips == (False, False, False)
    ni, nj, nk = vol.dimensions
    for i, j, k in itertools.product((0, ni - 1), (0, nj - 1), (0, nk - 1)):
        np.testing.assert_allclose(_world_to_lps(affine, (k, j, i)), vol.index_to_patient((i, j, k)), atol=1e-9)
    data, kwargs, _ = layer_data(vol, reorient=False)
    assert data.shape == vol.shape and np.shares_memory(data, vol.array)  # a view, no copy


def test_sequence_is_one_layer_with_the_frame_axis_first(tmp_path: Path) -> None:
    result = write_sequence(tmp_path / "seq", kind=SequenceKind.TIME, frames=4, rows=16, columns=18, slices=8)
    seq = vda.load_sequence(tmp_path / "seq")
    layers = _npe2_read(tmp_path / "seq")
    assert len(layers) == 1
    data, kwargs, _ = layers[0]
    assert data.shape[0] == 4 and data.ndim == 4
    affine = np.asarray(kwargs["affine"])
    assert affine.shape == (5, 5) and affine[0, 0] == 1 and not affine[0, 1:4].any() and not affine[1:4, 0].any()
    frames = kwargs["metadata"]["vtkdicom_app"]["frames"]
    assert frames["axis"] == "time" and frames["values"] == result.values == sorted(result.values)
    for t in range(4):  # frame t of the layer is volume t of the sequence, in value order
        lps = _world_to_lps(affine, (t, 0, 0, 0))
        ijk = np.rint(seq[t].patient_to_index(lps)).astype(int)
        assert data[t, 0, 0, 0] == seq[t].array[ijk[2], ijk[1], ijk[0]]
        assert data[t].sum() == seq[t].array.sum()
    assert data[1].sum() != data[0].sum()  # the sphere beats


def test_reader_declines_what_is_not_dicom(tmp_path: Path, phantom_factory: Any) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("hello")
    (tmp_path / "notes" / "b.dcm").write_bytes(b"\0" * 300)  # a DICOM name, not DICOM content
    (tmp_path / "empty").mkdir()
    assert get_reader(str(tmp_path / "notes")) is None
    assert get_reader(str(tmp_path / "empty")) is None
    assert get_reader(str(tmp_path / "missing")) is None
    assert get_reader(str(tmp_path / "notes" / "a.txt")) is None
    ph = phantom_factory(**SMALL, suffix="")  # no .dcm: recognised by content
    assert get_reader(str(ph.outdir)) is read_dicom
    assert get_reader(str(ph.files[0])) is read_dicom
    assert get_reader([str(ph.outdir), str(tmp_path / "notes")]) is None
    one = read_dicom(str(ph.files[0]))
    assert len(one) == 1 and one[0][0].shape[0] == 1


def test_plugin_imports_nothing_heavy_until_dicom_is_read(tmp_path: Path, phantom_factory: Any) -> None:
    ph = phantom_factory(**SMALL)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("hello")
    code = (
        "import sys\n"
        "heavy = lambda: sorted({m.split('.')[0] for m in sys.modules} & {'vtkmodules', 'vtk', 'pydicom', 'numpy'})\n"
        "import vtkdicom_app.napari._reader as r\n"
        "print('IMPORT', heavy())\n"
        f"print('DECLINE', r.get_reader({str(tmp_path / 'notes')!r}), heavy())\n"
        f"reader = r.get_reader({str(ph.outdir)!r})\n"
        "print('SNIFF', heavy())\n"
        f"layers = reader({str(ph.outdir)!r})\n"
        "print('READ', len(layers), layers[0][0].shape)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines["IMPORT"] == "[]"  # importing the plugin imports only the standard library (not even numpy)
    # sniffing reads headers with the package's struct-based reader: no VTK, no pydicom
    assert lines["DECLINE"].startswith("None ") and "vtkmodules" not in lines["DECLINE"] and "pydicom" not in lines["DECLINE"]
    assert "vtkmodules" not in lines["SNIFF"] and "pydicom" not in lines["SNIFF"]
    assert lines["READ"] == "1 (12, 24, 20)"


_VIEWER_SCRIPT = r"""
import json, sys, time
import numpy as np
import napari
from qtpy.QtWidgets import QApplication

viewer = napari.Viewer(show=True)
layers = viewer.open(sys.argv[1], plugin="vtkdicom_app")
layer = layers[0]
far = tuple(n - 1 for n in layer.data.shape)
viewer.dims.set_point(0, float(sys.argv[2]))  # world axis 0 is z: the marker's axial slice
viewer.reset_view()
for _ in range(20):  # let the slice and the canvas catch up before the picture is taken
    QApplication.processEvents()
    time.sleep(0.05)
viewer.screenshot(path=sys.argv[3], canvas_only=True, flash=False)
print("RESULT " + json.dumps({
    "n": len(layers), "name": layer.name, "shape": list(layer.data.shape), "point": [float(v) for v in viewer.dims.point],
    "first": [float(v) for v in layer.data_to_world((0, 0, 0))], "far": [float(v) for v in layer.data_to_world(far)],
}))
viewer.close()
"""


def test_napari_viewer_opens_a_folder_through_the_plugin(tmp_path: Path, phantom_factory: Any) -> None:
    pytest.importorskip("napari", reason="napari is not installed: pip install vtkdicom_app[napari]")
    from vtkdicom_app.xvfb import start_xvfb

    ph = phantom_factory(rows=64, columns=64, slices=48, orientation=PhantomOrientation.SAGITTAL)
    vol = vda.load(ph.outdir)
    script = tmp_path / "open_in_napari.py"
    script.write_text(_VIEWER_SCRIPT)
    display = start_xvfb()
    if display is None:
        pytest.skip("no Xvfb to run napari's Qt viewer on (apt-get install xvfb)")
    with display:
        env = display.child_env({**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "xcb"})
        env.pop("VTK_DEFAULT_OPENGL_WINDOW", None)
        proc = subprocess.run(
            [sys.executable, str(script), str(ph.outdir), str(ph.spec.marker_center[2]), str(tmp_path / "shot.png")],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=tmp_path,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert result["n"] == 1 and result["name"] == "1: Phantom CT"
    corners = {tuple(np.round(c, 4)) for c in vol.corners}
    assert tuple(np.round(result["first"][::-1], 4)) in corners and tuple(np.round(result["far"][::-1], 4)) in corners
    np.testing.assert_allclose(np.abs(np.subtract(result["far"], result["first"])), np.ptp(vol.corners, axis=0)[::-1], atol=1e-6)
    from PIL import Image

    shot = np.asarray(Image.open(tmp_path / "shot.png").convert("RGB"))
    white = shot.min(axis=2) > 200  # bone, sphere and marker at the soft-tissue window
    cols = np.flatnonzero(white.any(axis=0))
    span = (int(cols.min()), int(cols.max())) if cols.size else None
    why = f"dims point {result['point']}, white columns {span} of {shot.shape[1]}; {proc.stderr[-1500:]}"
    assert cols.size > 0, why
    # the marker on the patient's left is on the screen's right of the spine (x = 0, the canvas centre)
    assert cols.max() > shot.shape[1] / 2 + 0.05 * shot.shape[1], why


def test_a_dicom_seg_in_the_folder_is_a_labels_layer_on_the_image(phantom_factory: Any, tmp_path: Path) -> None:
    import shutil

    from vtkdicom_app.segmentation import SegmentationModel, save_segmentation, tools

    ph = phantom_factory(**SMALL, orientation=PhantomOrientation.CORONAL)
    folder = tmp_path / "study"
    shutil.copytree(ph.outdir, folder)
    vol = vda.load(folder)
    model = SegmentationModel.from_volume(vol)
    bright = model.add_segment("bright", (1.0, 0.0, 0.0))
    tools.threshold(model, bright.segment_id, lower=float(np.percentile(vol.array, 95)))
    save_segmentation(model, folder / "seg.dcm")
    layers = _npe2_read(folder)
    assert [kind for _d, _k, kind in layers] == ["image", "labels"]
    (image, image_kw, _), (labels, labels_kw, _) = layers
    np.testing.assert_allclose(labels_kw["affine"], image_kw["affine"])  # on the image, voxel for voxel
    assert labels.shape == image.shape
    np.testing.assert_array_equal(labels > 0, image >= np.percentile(vol.array, 95))
    assert labels_kw["metadata"]["vtkdicom_app"]["segments"] == [{"label": 1, "name": "bright", "color": [1.0, 0.0, 0.0]}]
