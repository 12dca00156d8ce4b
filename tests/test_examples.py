"""The scripts in examples/ run and produce their files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("0*.py"))
PRODUCES = {
    "01_load_and_inspect.py": ["summary.json"],
    "02_mpr_figure.py": ["mpr.png"],
    "03_bone_mesh_for_printing.py": ["bone.stl", "bone.3mf"],
    "04_custom_vtk_pipeline.py": ["gradient.json"],
    "05_pyvista.py": ["surface.png"],
}


def test_every_example_is_checked() -> None:
    assert [p.name for p in EXAMPLES] == sorted(PRODUCES)


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(script), "-", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT / "examples", env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in PRODUCES[script.name]:
        assert (tmp_path / name).stat().st_size > 0, name
    if script.name == "04_custom_vtk_pipeline.py":
        result = json.loads((tmp_path / "gradient.json").read_text())
        assert result["gradient_on_bone_edges"] > 5 * result["gradient_inside_bone"]
