"""The command line: exit codes, one-line errors, info output, phantom, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vtkdicom_app.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_version_and_help() -> None:
    proc = _run("--version")
    assert proc.returncode == 0 and "vtkdicom-app" in proc.stdout
    proc = _run("--help")
    assert proc.returncode == 0
    for command in ("info", "phantom", "demo"):
        assert command in proc.stdout


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["info"]) == 2
    assert main(["no-such-command"]) == 2


def test_missing_path_is_a_one_line_error(tmp_path: Path) -> None:
    proc = _run("info", str(tmp_path / "nope"))
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "no such file or folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_folder_without_dicom_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    proc = _run("info", str(tmp_path))
    assert proc.returncode == 1
    assert "no DICOM image series" in proc.stderr and "Traceback" not in proc.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = _run("--debug", "info", str(tmp_path / "nope"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_phantom_then_info_json(tmp_path: Path) -> None:
    out = tmp_path / "ph"
    proc = _run("phantom", str(out), "--size", "32", "--slices", "10", "--orientation", "sagittal", "--series", "2")
    assert proc.returncode == 0, proc.stderr
    proc = _run("info", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report["series"]) == 2
    assert report["loaded"]["shape_kji"][1:] == [32, 32]
    assert report["loaded"]["determinant"] == pytest.approx(1.0)
    assert report["series"][0]["patient_name"]  # shown unless --anonymize
    proc = _run("info", str(out), "--json", "--anonymize")
    assert all(s["patient_name"] == "" for s in json.loads(proc.stdout)["series"])


def test_info_text_lists_geometry_and_warnings(tmp_path: Path) -> None:
    from vtkdicom_app.phantom import write_phantom

    write_phantom(tmp_path, rows=24, columns=24, slices=12, skip_slices=(5,))
    proc = _run("info", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "spacing" in proc.stdout and "origin" in proc.stdout and "direction" in proc.stdout
    assert "irregular slice spacing" in proc.stdout


def test_demo_writes_the_phantom_screenshot_and_stl(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "demo", "--outdir", str(tmp_path / "demo"), "--no-viewer"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "loaded:" in proc.stdout
    assert len(list((tmp_path / "demo" / "phantom").iterdir())) > 10
    png, stl = tmp_path / "demo" / "vtkdicom_app_demo_views.png", tmp_path / "demo" / "vtkdicom_app_demo_bone.stl"
    assert png.exists() and stl.exists()
    assert str(png) in proc.stdout and str(stl) in proc.stdout
    import trimesh

    assert trimesh.load(stl).is_watertight
