"""The dependency rules of docs/ARCHITECTURE.md, enforced with import-linter, and cheap start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    assert exe.exists(), "import-linter is a test dependency: pip install -e '.[test]'"
    # import-linter may print box-drawing characters: read them as UTF-8 whatever the locale
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" not in proc.stdout.lower().replace("0 broken", "")


def _imported_by(code: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def test_help_imports_no_vtk_qt_or_pydicom() -> None:
    mods = _imported_by("from vtkdicom_app.cli import build_parser; build_parser().format_help()")
    heavy = {m for m in mods if m.split(".")[0] in {"vtkmodules", "vtk", "PyQt5", "pydicom", "numpy"}}
    assert not heavy, sorted(heavy)[:10]


def test_loading_a_plain_series_does_not_import_vtk_or_qt(tmp_path: Path) -> None:
    from vtkdicom_app.phantom import write_phantom

    write_phantom(tmp_path, rows=16, columns=16, slices=4)
    mods = _imported_by(f"import vtkdicom_app as vda; vda.load({str(tmp_path)!r})")
    assert not {m for m in mods if m.split(".")[0] in {"vtkmodules", "PyQt5"}}
    # the fast header reader handles plain little-endian files without pydicom
    assert "pydicom" not in mods


def _imports_of(path: Path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_gl_and_qt_modules_of_vtk_stay_in_rendering_and_app() -> None:
    """import-linter cannot name sub-packages of vtkmodules, so the rule is checked here."""
    gl = ("vtkmodules.vtkRenderingOpenGL2", "vtkmodules.vtkRenderingVolumeOpenGL2", "vtkmodules.vtkRenderingUI", "vtkmodules.qt")
    offenders = []
    package = ROOT / "vtkdicom_app"
    for path in package.rglob("*.py"):
        rel = path.relative_to(package).parts
        if rel[0] in ("rendering", "app"):
            continue
        bad = [m for m in _imports_of(path) if m.startswith(gl) or m == "vtk"]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {bad}")
    assert not offenders, offenders


def test_dicom_uids_are_named_in_one_place() -> None:
    # the loader and the network code name every standard UID through vtkdicom_app.uids
    # (the phantoms in testing/ write their own SOP classes on purpose: they are test data)
    package = Path(__file__).resolve().parents[1] / "vtkdicom_app"
    found = [
        f"{path.relative_to(package)}:{n}"
        for folder in ("io", "net")
        for path in sorted((package / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if '"1.2.840.10008.' in line
    ]
    assert found == [], f"name these UIDs in vtkdicom_app/uids.py: {found}"
