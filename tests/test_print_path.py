"""The print path on data as hard as real scans (issue 20): decimation keeps a closed
2-manifold closed, the mesh report tells the truth about the file written, and volumes that
cannot make a printable surface (one slice, colour) are refused; lung stays inside the body;
MR and PET volumes do not get CT's 300 HU.

The phantom is built in memory: integer HU with noise (many voxels exactly on the
threshold), partial-volume edges, plates one voxel apart, thin rods touching along an edge,
blocks touching edge to edge, a ring, a comb and a hundred small pieces. The real series are
the DICOM files shipped in pydicom's wheel.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh

import vtkdicom_app as vda
from vtkdicom_app.bridge import arrays_to_mesh, mesh_to_arrays
from vtkdicom_app.errors import ColourVolumeError, SingleSliceError, VtkDicomWarning
from vtkdicom_app.mesh import clean_arrays, edge_topology, repair_manifold
from vtkdicom_app.mesh_io import MeshFormat, export_mesh
from vtkdicom_app.surface import MeshReport, ModalityWarning, extract_surface, mesh_report, otsu_threshold
from vtkdicom_app.volume import Volume

REDUCES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
BONE = 1400.0


def _blur(a: np.ndarray) -> np.ndarray:
    """[1 2 1] / 4 along each axis: the partial-volume blur of a scanner."""
    out = a.astype(np.float32)
    for ax in range(3):
        out = ((np.roll(out, 1, ax) + 2 * out + np.roll(out, -1, ax)) / 4).astype(np.float32)
    return out


def hard_volume(modality: str = "CT", *, seed: int = 7, fine: int = 2) -> Volume:
    """A CT-like body (int16 HU, 176x240x256 voxels of 0.35x0.35x0.5 mm) as hard as real data.

    ``fine`` refines the coarse layout (88x120x128 voxels of 0.7x0.7x1 mm); the plates and
    the touching rods are drawn on the refined grid, one or two voxels thin whatever ``fine``.
    """
    rng = np.random.default_rng(seed)
    nk, nj, ni = shape = (88, 120, 128)  # laid out on a coarse grid, then refined 2x
    k, j, i = np.ogrid[:nk, :nj, :ni]
    a = np.full(shape, -1000.0, np.float32)
    body = (((i - ni / 2) / (ni * 0.45)) ** 2 + ((j - nj / 2) / (nj * 0.42)) ** 2 < 1.0) & (k >= 4) & (k < nk - 4)
    a[body] = 40.0
    for cx in (0.3, 0.7):  # two lungs and a trachea joining them
        lung = ((i - ni * cx) / (ni * 0.13)) ** 2 + ((j - nj * 0.45) / (nj * 0.22)) ** 2 + ((k - nk * 0.5) / (nk * 0.3)) ** 2 < 1.0
        a[np.broadcast_to(lung, shape)] = -850.0
    a[int(nk * 0.45) : nk - 8, int(nj * 0.45) - 2 : int(nj * 0.45) + 2, ni // 2 - 2 : ni // 2 + 2] = -1000.0
    a[int(nk * 0.45) : int(nk * 0.45) + 3, int(nj * 0.45) - 2 : int(nj * 0.45) + 2, int(ni * 0.3) : int(ni * 0.7)] = -1000.0
    a[6:80, 20:22, 100:102] = BONE  # a thin rod along k and a diagonal one
    for t in range(60):
        a[12 + t, 30 + t // 2 : 32 + t // 2, 70 + t // 3 : 72 + t // 3] = BONE
    r = np.sqrt((i - 64.0) ** 2 + (j - 80.0) ** 2)  # a ring: a hole through the surface
    a[np.broadcast_to((np.abs(r - 12) < 2.5) & (np.abs(k - 44) < 3), shape)] = BONE
    for c in range(6):  # a comb: non-convex, narrow gaps
        a[30:46, 60:74, 36 + 4 * c : 38 + 4 * c] = BONE
    a[30:46, 72:74, 36:58] = BONE
    for n in range(8):  # blocks touching edge to edge (the ambiguous cases of marching cubes)
        z0 = 8 + 9 * n
        a[z0 : z0 + 8, 100 + (n % 2) * 5 : 105 + (n % 2) * 5, 60:68] = 900.0
    for _ in range(120):  # many small pieces
        kk, jj, ii = rng.integers(6, nk - 6), rng.integers(12, nj - 12), rng.integers(12, ni - 12)
        s = int(rng.integers(1, 4))
        a[kk : kk + s, jj : jj + s, ii : ii + s] = rng.uniform(600, 1500)
    a = a.repeat(fine, 0).repeat(fine, 1).repeat(fine, 2)
    a[20:140, 200:216, 30:36] = BONE  # two plates one voxel apart
    a[20:140, 200:216, 37:43] = BONE
    a[14:150, 40:42, 60:62] = BONE  # two 2-voxel rods touching along an edge
    a[14:150, 42:44, 62:64] = BONE
    a = _blur(a)
    a += rng.normal(0.0, 20.0, a.shape).astype(np.float32)
    arr = np.round(a).astype(np.int16)  # integer HU: thousands of voxels exactly on 300 or -300
    if modality in ("MR", "PT"):
        arr = np.clip((arr.astype(np.float32) + 1000.0) * 0.4, 0, None).astype(np.int16)
    return Volume(arr, spacing=(0.7 / fine, 0.7 / fine, 1.0 / fine), origin=(-45.0, -42.0, -40.0), metadata={"Modality": modality})


@pytest.fixture(scope="module")
def hard_ct() -> Volume:
    return hard_volume("CT")


@pytest.fixture(scope="module")
def hard_mr() -> Volume:
    return hard_volume("MR")


def _series(name: str) -> str:
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    return os.path.join(os.path.dirname(path), "dicomdirtests", *name.split("/"))


def _load_quietly(path: str) -> Volume:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vda.load(path)


def _agrees(report: MeshReport, path: Path) -> trimesh.Trimesh:
    """The report of the written file says what trimesh says of it."""
    tm = trimesh.load(path, force="mesh")
    assert report.watertight == tm.is_watertight, path
    assert report.consistent_winding == tm.is_winding_consistent, path
    assert report.printable == tm.is_volume, (path, report.problems)
    assert report.triangles == len(tm.faces)
    if tm.is_volume:
        assert report.volume_mm3 == pytest.approx(tm.volume, rel=1e-5)
    return tm


def _check_reduces(vol: Volume, tmp_path: Path, **kw: Any) -> list[float]:
    """Every reduce gives a watertight STL within 2 % of the undecimated volume; returns the errors."""
    full = extract_surface(vol, **kw)
    r0 = export_mesh(full, tmp_path / "full.stl")
    tm0 = _agrees(r0, tmp_path / "full.stl")
    assert tm0.is_watertight and tm0.is_volume
    errors: list[float] = []
    for reduce in REDUCES:
        path = tmp_path / f"r{reduce}.stl"
        report = export_mesh(extract_surface(vol, reduce=reduce, **kw), path)
        tm = _agrees(report, path)
        assert tm.is_watertight and tm.is_volume, (reduce, report.problems)
        assert report.triangles == pytest.approx(r0.triangles * (1 - reduce), rel=0.1, abs=30)
        errors.append(float(tm.volume / tm0.volume - 1.0))
        assert abs(errors[-1]) < 0.02, (reduce, errors[-1])
    return errors


# ----------------------------------------------------------------------------- decimation
def test_bone_of_the_hard_phantom_survives_every_reduce(hard_ct: Volume, tmp_path: Path) -> None:
    _check_reduces(hard_ct, tmp_path, threshold=300.0)


def test_bone_without_smoothing_survives_every_reduce(hard_ct: Volume, tmp_path: Path) -> None:
    _check_reduces(hard_ct, tmp_path, threshold=300.0, smooth=0)


def test_skin_of_the_hard_phantom_survives_every_reduce(hard_ct: Volume, tmp_path: Path) -> None:
    _check_reduces(hard_ct, tmp_path, threshold=-300.0, smooth=20)


def test_mr_auto_of_the_hard_phantom_survives_every_reduce(hard_mr: Volume, tmp_path: Path) -> None:
    _check_reduces(hard_mr, tmp_path, preset="mr-auto")


def test_pydicom_ct_series_survive_every_reduce(tmp_path: Path) -> None:
    for name, threshold in (("98892001/CT5N", -300.0), ("77654033/CT2", -300.0), ("77654033/CT2", 300.0)):
        vol = _load_quietly(_series(name))
        assert vol.shape[0] >= 2
        full = extract_surface(vol, threshold=threshold, smooth=0)
        base = export_mesh(full, tmp_path / "full.stl")
        _agrees(base, tmp_path / "full.stl")
        for reduce in REDUCES:
            path = tmp_path / f"{name.replace('/', '_')}_{reduce}.stl"
            report = export_mesh(extract_surface(vol, threshold=threshold, smooth=0, reduce=reduce), path)
            tm = _agrees(report, path)
            assert tm.is_watertight and tm.is_volume, (name, reduce)


def test_repair_closes_what_the_decimator_breaks() -> None:
    """Two tetrahedra glued on an edge (that edge has four faces) and a fin: repaired closed."""
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [2, 1, 0]], float)
    tet1 = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    tet2 = np.array([[1, 2, 5], [1, 4, 2], [2, 4, 5], [1, 5, 4]])  # shares edge 1-2 with tet1
    faces = np.concatenate([tet1, tet2, [[0, 1, 3], [0, 3, 1]]])  # plus a duplicate and a fin
    topo = edge_topology(clean_arrays(pts, faces)[1])
    assert not topo.watertight
    p, f = repair_manifold(pts, faces)
    topo = edge_topology(f)
    assert topo.watertight and topo.winding_consistent
    tm = trimesh.Trimesh(p, f, process=True)
    assert tm.is_watertight and tm.is_winding_consistent


# ----------------------------------------------------------------------------- the report
def test_report_agrees_with_trimesh_on_broken_meshes(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(10.0, 20.0, 30.0))
    pts, faces = np.asarray(box.vertices), np.asarray(box.faces)
    soup = pts[faces].reshape(-1, 3)  # every triangle its own corners, as an STL stores them
    cases = {
        "soup": (soup, np.arange(len(soup)).reshape(-1, 3)),
        "degenerate and duplicate faces": (pts, np.concatenate([faces, faces[:3], [[0, 0, 1], [2, 3, 2]]])),
        "hole": (pts, faces[1:]),
        "flipped face": (pts, np.concatenate([faces[:1, ::-1], faces[1:]])),
        "inside out": (pts, faces[:, ::-1]),
        "two boxes sharing an edge": (
            np.concatenate([pts, pts + np.array([10.0, 20.0, 0.0])]),
            np.concatenate([faces, faces + len(pts)]),
        ),
    }
    verdicts = {}
    for name, (p, f) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.stl"
        report = export_mesh(arrays_to_mesh(p, f), path, allow_open=True)
        _agrees(report, path)
        assert report.as_dict() == mesh_report(arrays_to_mesh(p, f)).as_dict(), name
        verdicts[name] = report.printable
    assert verdicts == {
        "soup": True,
        "degenerate and duplicate faces": True,
        "hole": False,
        "flipped face": False,
        "inside out": False,
        "two boxes sharing an edge": False,
    }


def test_unreduced_real_and_hard_surfaces_report_the_truth(hard_ct: Volume, tmp_path: Path) -> None:
    """No --largest, no --min-island: every piece, as written, watertight by trimesh's rules."""
    vol = _load_quietly(_series("98892001/CT5N"))
    for name, v, kw in (
        ("ct5n", vol, dict(threshold=-300.0)),
        ("hard-bone", hard_ct, dict(threshold=300.0, smooth=0)),
        ("hard-skin", hard_ct, dict(preset="skin", reduce=0.0)),
    ):
        report = export_mesh(extract_surface(v, **kw), tmp_path / f"{name}.stl")
        tm = _agrees(report, tmp_path / f"{name}.stl")
        assert tm.is_volume and report.printable, name
        mesh_arrays = mesh_to_arrays(extract_surface(v, **kw))
        _, _, stats = clean_arrays(*mesh_arrays)
        assert stats.merged_vertices == 0 and stats.degenerate_faces == 0, (name, stats)


@pytest.mark.parametrize("fmt", [MeshFormat.OBJ, MeshFormat.PLY, MeshFormat.THREE_MF], ids=lambda f: f.name)
def test_report_agrees_with_trimesh_in_other_formats(hard_ct: Volume, tmp_path: Path, fmt: MeshFormat) -> None:
    mesh = extract_surface(hard_ct, threshold=300.0, reduce=0.5)
    path = tmp_path / f"bone{fmt.value}"
    _agrees(export_mesh(mesh, path), path)


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_single_slice_series_are_refused(name: str) -> None:
    from pydicom.data import get_testdata_file

    vol = _load_quietly(str(get_testdata_file(name)))
    assert vol.shape[0] == 1
    with pytest.raises(SingleSliceError, match="single voxel along its slices"):
        extract_surface(vol, threshold=float(np.median(vol.array)))
    thin = Volume(np.zeros((4, 1, 8), np.int16))
    with pytest.raises(SingleSliceError, match="rows"):
        extract_surface(thin)


def test_colour_volumes_are_refused_in_one_line() -> None:
    rgb = Volume(np.zeros((4, 8, 8, 3), np.uint8), metadata={"Modality": "MR"})
    with pytest.raises(ColourVolumeError, match="colour") as info:
        extract_surface(rgb, threshold=100.0)
    assert "\n" not in str(info.value)
    with pytest.raises(ColourVolumeError, match="colour"):
        extract_surface(rgb, preset="mr-auto")
    from vtkdicom_app.rendering.volume_render import VolumeScene

    with pytest.raises(ColourVolumeError, match="colour") as info:
        VolumeScene(rgb, size=(32, 32))
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- lung, modality
def test_lung_stays_inside_the_body(hard_ct: Volume, tmp_path: Path) -> None:
    mesh = extract_surface(hard_ct, preset="lung")
    report = export_mesh(mesh, tmp_path / "lung.stl")
    assert report.printable
    assert "-1100..-400" in report.summary() and (report.threshold, report.upper) == (-1100.0, -400.0)
    tm = trimesh.load(tmp_path / "lung.stl")
    # no vertex near the border of the field of view: the air around the body is gone
    ijk = hard_ct.patient_to_index(tm.vertices)
    dims = np.array(hard_ct.dimensions) - 1
    assert ijk.min() > 3 and (dims - ijk).min() > 3
    # the lungs and trachea: 2 x 4/3 pi a b c of the ellipsoids, plus the airway, minus the specks
    a, b, c = 128 * 0.13 * 0.7, 120 * 0.22 * 0.7, 88 * 0.3 * 1.0
    lungs = 2 * 4 / 3 * np.pi * a * b * c
    assert 0.9 * lungs < tm.volume < 1.1 * lungs
    # the vertices lie within the body's elliptic outline (semi-axes 0.45 x 256 and 0.42 x 240
    # voxels), but for air pockets that a small piece of bone at the skin closes in its plane
    inside = ((ijk[:, 0] - 128.5) / 115.2) ** 2 + ((ijk[:, 1] - 120.5) / 100.8) ** 2 < 1.0
    assert inside.mean() > 0.999
    # without the body mask the band meshes the air around the body: the whole field of view
    whole = mesh_report(extract_surface(hard_ct, preset="lung", inside_body=False))
    assert whole.volume_mm3 > 3 * report.volume_mm3


def test_mr_and_pet_get_otsu_not_300_hu(hard_mr: Volume) -> None:
    otsu = otsu_threshold(hard_mr.array)
    for kw in (dict(), dict(preset="bone"), dict(preset="skin")):
        with pytest.warns(ModalityWarning, match="MR.*Otsu") as record:
            mesh = extract_surface(hard_mr, smooth=0, **kw)  # type: ignore[arg-type]
        assert issubclass(record[0].category, VtkDicomWarning)
        assert mesh_report(mesh).threshold == pytest.approx(otsu)
    pet = Volume(hard_mr.array, spacing=hard_mr.spacing, origin=hard_mr.origin, metadata={"Modality": "PT"})
    with pytest.warns(ModalityWarning, match="PT"):
        assert mesh_report(extract_surface(pet, smooth=0)).threshold == pytest.approx(otsu)
    with warnings.catch_warnings():  # a threshold of the caller's own: no warning, used as given
        warnings.simplefilter("error")
        assert mesh_report(extract_surface(hard_mr, threshold=250.0, smooth=0)).threshold == 250.0
        assert mesh_report(extract_surface(hard_mr, threshold=300.0, smooth=0)).threshold == 300.0  # 300 is no sentinel
        assert mesh_report(extract_surface(hard_mr, preset="mr-auto", smooth=0)).threshold == pytest.approx(otsu)
