"""The notebooks in examples/notebooks/ run headless (nbclient, a real ipykernel) and their cells
show what they claim: the volume's summary without identifiers, the viewer widget, the planes a
change re-rendered, a 3D picture, a watertight mesh whose volume matches the phantom's."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (it is in the test extra: pip install -e .[test])")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (it is in the test extra: pip install -e .[test])")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (it is in the test extra: pip install -e .[test])")
pytest.importorskip("ipywidgets", reason="ipywidgets is not installed: pip install vtkdicom_app[notebook]")
pytest.importorskip("pyvista", reason="pyvista is not installed: pip install vtkdicom_app[notebook]")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "examples" / "notebooks"


def _run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.delenv("VTKDICOM_APP_STUDY", raising=False)  # the built-in phantom: known answers
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return nb


def _outputs(nb: Any) -> list[tuple[str, list[Any]]]:
    return [(cell.source, cell.get("outputs", [])) for cell in nb.cells if cell.cell_type == "code"]


def _stdout(outputs: list[Any]) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _data(outputs: list[Any], mime: str) -> list[Any]:
    return [o["data"][mime] for o in outputs if o.get("output_type") in ("execute_result", "display_data") and mime in o.get("data", {})]


def test_there_are_two_notebooks() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == ["01_explore_a_study.ipynb", "02_dicom_to_printable_mesh.ipynb"]


def _cell(cells: list[tuple[str, list[Any]]], needle: str) -> list[Any]:
    """The outputs of the first code cell whose source contains ``needle``."""
    for source, outputs in cells:
        if needle in source:
            return outputs
    raise AssertionError(f"no cell contains {needle!r}")


def test_explore_a_study_runs_headless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _run("01_explore_a_study.ipynb", tmp_path, monkeypatch)
    cells = _outputs(nb)
    assert "series 1: 'Phantom CT', CT" in _stdout(_cell(cells, "vda.scan(study)"))
    summary = _data(_cell(cells, "vol = vda.load(study)"), "text/html")
    assert summary and "shape (k, j, i)" in summary[0] and "data:image/png;base64," in summary[0]
    assert "PHANTOM001" not in summary[0] and "Phantom^Test" not in summary[0]  # identifiers hidden by default
    assert _data(_cell(cells, "vda.notebook.view(vol)"), "application/vnd.jupyter.widget-view+json")  # the ipywidgets viewer
    text = _stdout(_cell(cells, "viewer.model.step("))
    assert "resliced: ['axial']" in text and "redrawn: ['axial', 'coronal', 'sagittal']" in text
    assert "after the preset, resliced: []" in text
    assert _data(_cell(cells, "viewer.scene.png()"), "image/png")  # the 3D view, rendered in the kernel
    assert "corner voxels in place: True" in _stdout(_cell(cells, "vol.to_pyvista()"))
    assert not [o for _s, outs in cells for o in outs if o.get("output_type") == "error"]


def test_dicom_to_printable_mesh_runs_headless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _run("02_dicom_to_printable_mesh.ipynb", tmp_path, monkeypatch)
    cells = _outputs(nb)
    text = "".join(_stdout(outputs) for _source, outputs in cells)
    assert "watertight = True" in text and "printable = True" in text
    volume = float(re.search(r"volume_mm3 = ([0-9.]+)", text).group(1))  # type: ignore[union-attr]
    back = re.search(r"trimesh: watertight = (\w+), volume_mm3 = ([0-9.]+)", text)
    assert back is not None and back.group(1) == "True"
    assert float(back.group(2)) == pytest.approx(volume, rel=1e-3)  # what was written is what was checked
    error = float(re.search(r"sphere volume error = (-?[0-9.]+) %", text).group(1))  # type: ignore[union-attr]
    assert abs(error) < 1.0  # the tolerance of tests/test_surface.py
    pictures = [d for _source, outputs in cells for d in _data(outputs, "image/png")]
    assert pictures, "the pyvista picture is missing"
    assert not [o for _s, outs in cells for o in outs if o.get("output_type") == "error"]
