"""Print-ready surfaces on phantoms whose answers are known, and every mesh format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh

import vtkdicom_app as vda
from vtkdicom_app import mesh_io
from vtkdicom_app.bridge import arrays_to_mesh, mesh_to_arrays
from vtkdicom_app.errors import GeometryError
from vtkdicom_app.mesh_io import MeshFormat, export_mesh, read_mesh
from vtkdicom_app.phantom import PhantomOrientation
from vtkdicom_app.surface import MeshError, extract_label_surface, extract_surface, load_surface_presets, mesh_report, otsu_threshold
from vtkdicom_app.volume import Volume

ROOT = Path(__file__).resolve().parents[1]
PV: dict[str, Any] = dict(rows=80, columns=80, slices=80, pixel_spacing=(2.5, 2.5), slice_spacing=2.5, partial_volume=True)


def _sphere_mesh(vol: Volume, spec: Any, **kw: Any) -> Any:
    """The bone sphere alone: the band between the body and the marker, largest piece."""
    mid = (spec.body_hu + spec.sphere_hu) / 2
    return extract_surface(vol, threshold=mid, upper=(spec.sphere_hu + spec.marker_hu) / 2, largest=True, **kw)


@pytest.mark.parametrize(
    "options",
    [dict(), dict(orientation=PhantomOrientation.OBLIQUE), dict(feet_first=True), dict(orientation=PhantomOrientation.SAGITTAL)],
    ids=["axial", "oblique", "feet-first", "sagittal"],
)
def test_sphere_volume_within_one_percent_and_centred(phantom_factory: Any, options: dict[str, Any], tmp_path: Path) -> None:
    ph = phantom_factory(**PV, **options)
    vol = vda.load(ph.outdir)
    mesh = _sphere_mesh(vol, ph.spec)
    report = export_mesh(mesh, tmp_path / "sphere.stl")
    assert report.volume_mm3 == pytest.approx(ph.spec.sphere_volume_mm3, rel=0.01)
    tm = trimesh.load(tmp_path / "sphere.stl")
    assert tm.is_watertight and tm.is_winding_consistent and tm.is_volume
    assert tm.volume == pytest.approx(ph.spec.sphere_volume_mm3, rel=0.01)
    np.testing.assert_allclose(tm.center_mass, ph.spec.sphere_center, atol=min(vol.spacing))


def test_marker_is_on_plus_x_in_lps_and_minus_x_in_ras(phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**PV, orientation=PhantomOrientation.OBLIQUE)
    vol = vda.load(ph.outdir)
    marker = extract_surface(vol, threshold=(ph.spec.sphere_hu + ph.spec.marker_hu) / 2, largest=True)
    export_mesh(marker, tmp_path / "lps.stl", coords="lps")
    export_mesh(marker, tmp_path / "ras.stl", coords="ras")
    lps = trimesh.load(tmp_path / "lps.stl")
    ras = trimesh.load(tmp_path / "ras.stl")
    assert lps.center_mass[0] > 0 and ras.center_mass[0] < 0
    np.testing.assert_allclose(lps.center_mass, ph.spec.marker_center, atol=2 * max(vol.spacing))
    assert ras.is_volume and ras.volume == pytest.approx(lps.volume)  # RAS keeps the winding outward
    assert (tmp_path / "lps.stl").read_bytes()[:80].startswith(b"vtkdicom_app SPACE=LPS UNITS=mm")
    assert (tmp_path / "ras.stl").read_bytes()[:80].startswith(b"vtkdicom_app SPACE=RAS UNITS=mm")


@pytest.mark.parametrize("fmt", list(MeshFormat), ids=lambda f: f.name)
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "ascii"])
def test_every_format_round_trips(phantom_factory: Any, tmp_path: Path, fmt: MeshFormat, binary: bool) -> None:
    ph = phantom_factory(**PV)
    vol = vda.load(ph.outdir)
    mesh = _sphere_mesh(vol, ph.spec, reduce=0.5)
    path = tmp_path / f"m{fmt.value}"
    written = export_mesh(mesh, path, binary=binary)
    back = mesh_report(read_mesh(path))
    assert back.triangles == written.triangles
    assert back.watertight and back.outward
    assert back.volume_mm3 == pytest.approx(written.volume_mm3, rel=1e-4)
    if fmt is not MeshFormat.VTP:
        tm = trimesh.load(path, force="mesh")
        assert tm.is_volume
    if fmt is MeshFormat.THREE_MF:
        import zipfile

        model = zipfile.ZipFile(path).read("3D/3dmodel.model").decode()
        assert 'unit="millimeter"' in model
    if fmt is MeshFormat.STL:
        assert b"Phantom" not in path.read_bytes()[:80]  # no patient name in the header


def test_open_mesh_is_refused_unless_allowed(phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**PV)
    mesh = _sphere_mesh(vda.load(ph.outdir), ph.spec)
    points, faces = mesh_to_arrays(mesh)
    holed = arrays_to_mesh(points, faces[10:])  # drop 10 triangles: a hole
    with pytest.raises(MeshError, match="not watertight.*boundary edge"):
        export_mesh(holed, tmp_path / "open.stl")
    assert not (tmp_path / "open.stl").exists()
    report = export_mesh(holed, tmp_path / "open.stl", allow_open=True)
    assert not report.watertight and (tmp_path / "open.stl").exists()


def test_writes_are_atomic(phantom_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ph = phantom_factory(**PV)
    mesh = _sphere_mesh(vda.load(ph.outdir), ph.spec)
    target = tmp_path / "keep.stl"
    target.write_bytes(b"previous content")

    def failing(mesh: Any, fmt: Any, tmp: str, system: Any, binary: bool) -> None:
        Path(tmp).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mesh_io, "_write_vtk", failing)
    with pytest.raises(OSError, match="No space left"):
        export_mesh(mesh, target)
    assert target.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.stl"]  # no temp file left
    with pytest.raises(OSError):
        export_mesh(mesh, tmp_path / "missing-folder" / "x.stl")


def test_unknown_geometry_is_refused_without_force(phantom_factory: Any) -> None:
    ph = phantom_factory(**PV)
    vol = vda.load(ph.outdir)
    blind = Volume(vol.array, spacing=vol.spacing, geometry_known=False)
    with pytest.raises(GeometryError, match="force"):
        extract_surface(blind)
    assert mesh_report(extract_surface(blind, force=True)).triangles > 0


def test_negative_determinant_still_gives_outward_normals(phantom_factory: Any) -> None:
    ph = phantom_factory(**PV)
    vol = vda.load(ph.outdir)
    # the same patient-space volume stored bottom-up: rows reversed, column direction negated
    flipped_dir = vol.direction.copy()
    flipped_dir[:, 1] *= -1
    last_row = vol.index_to_patient((0, vol.shape[1] - 1, 0))
    mirror = Volume(vol.array[:, ::-1, :].copy(), spacing=vol.spacing, origin=tuple(last_row), direction=flipped_dir)
    assert np.linalg.det(mirror.direction) < 0
    a = mesh_report(_sphere_mesh(vol, ph.spec))
    b = mesh_report(_sphere_mesh(mirror, ph.spec))
    assert b.outward and b.watertight
    assert b.volume_mm3 == pytest.approx(a.volume_mm3, rel=1e-3)
    np.testing.assert_allclose(b.bounds, a.bounds, atol=1e-3)


def test_islands_largest_and_decimation(phantom_factory: Any) -> None:
    ph = phantom_factory(**PV)
    vol = vda.load(ph.outdir)
    everything = extract_surface(vol, preset="bone", smooth=0)
    pieces = mesh_report(everything).components
    assert pieces >= 3  # sphere, spine, marker
    marker_mm3 = ph.spec.marker_volume_mm3
    fewer = mesh_report(extract_surface(vol, preset="bone", smooth=0, min_island_mm3=2 * marker_mm3))
    assert fewer.components < pieces
    with pytest.raises(MeshError, match="smaller than min_island_mm3"):
        extract_surface(vol, preset="bone", min_island_mm3=1e12)
    full = mesh_report(_sphere_mesh(vol, ph.spec))
    light = mesh_report(_sphere_mesh(vol, ph.spec, reduce=0.9))
    assert light.triangles == pytest.approx(full.triangles * 0.1, rel=0.1)
    assert light.watertight and light.outward
    assert light.volume_mm3 == pytest.approx(full.volume_mm3, rel=0.02)


def test_presets_file_and_mr_auto_threshold(phantom_factory: Any) -> None:
    presets = load_surface_presets()
    for name in ("bone", "skin", "soft-tissue", "fat", "lung", "teeth", "mr-auto"):
        assert name in presets
    ph = phantom_factory(**PV)
    vol = vda.load(ph.outdir)
    mr = Volume((vol.array.astype(np.float32) + 1000.0) * 0.37, spacing=vol.spacing, origin=vol.origin, direction=vol.direction, metadata={"Modality": "MR"})
    mesh = extract_surface(mr, preset="mr-auto")
    report = mesh_report(mesh)
    assert report.threshold == pytest.approx(otsu_threshold(mr.array))
    assert 0 < report.threshold < mr.array.max()


def test_band_and_padding(phantom_factory: Any) -> None:
    ph = phantom_factory(**PV)
    vol = vda.load(ph.outdir)
    padded = Volume(vol.array.copy(), spacing=vol.spacing, origin=vol.origin, direction=vol.direction, padding_value=-1000.0)
    # air is padding: a skin threshold below air would otherwise wrap the whole block
    with_padding = mesh_report(extract_surface(padded, threshold=-1500.0, smooth=0))
    without = mesh_report(extract_surface(vol, threshold=-1500.0, smooth=0))
    assert with_padding.volume_mm3 < 0.8 * without.volume_mm3


def test_label_map_surface(phantom_factory: Any) -> None:
    ph = phantom_factory(**PV)
    vol = vda.load(ph.outdir)
    labels = Volume((vol.array >= 520).astype(np.uint8) * 3, spacing=vol.spacing, origin=vol.origin, direction=vol.direction)
    report = mesh_report(extract_label_surface(labels, 3))
    assert report.watertight and report.outward and report.triangles > 100


def test_cli_export_mesh_writes_mesh_and_report(phantom_factory: Any, tmp_path: Path) -> None:
    ph = phantom_factory(**PV)
    out = tmp_path / "bone.3mf"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vtkdicom_app",
            "export-mesh",
            str(ph.outdir),
            "-o",
            str(out),
            "--preset",
            "bone",
            "--largest",
            "--reduce",
            "0.5",
            "--report",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "watertight True" in proc.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["printable"] and report["coordinate_system"] == "LPS"
    assert trimesh.load(out, force="mesh").is_volume
    bad = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "export-mesh", str(ph.outdir), "-o", str(tmp_path / "x.xyz")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert bad.returncode == 1 and "unknown mesh format" in bad.stderr and "Traceback" not in bad.stderr
