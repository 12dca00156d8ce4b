"""The contract every command keeps (vtkdicom_app/cli/): usage errors exit 2 before anything is
loaded, failures exit 1 with their count, unloadable study folders are batch rows, one warnings
policy, choices from the library's enums, thresholds passed only when given, the demo made of
library calls, and the shared Xvfb helper."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vtkdicom_app.cli import main
from vtkdicom_app.phantom import write_phantom

ROOT = Path(__file__).resolve().parents[1]
SMALL: dict[str, Any] = dict(rows=24, columns=24, slices=12)


@pytest.fixture(scope="module")
def gap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CT phantom missing slice 5: loading it raises one GeometryWarning (irregular spacing)."""
    out = tmp_path_factory.mktemp("contract_gap")
    write_phantom(out, skip_slices=(5,), **SMALL)
    return out


def _warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


# ------------------------------------------------------------------ exit 2 before loading
MISSING = "no-such-study"


@pytest.mark.parametrize(
    ("argv", "about"),
    [
        # the command's checks (one line)
        (["mpr", MISSING, "-o", "{tmp}/x.png", "--plane", "oblique"], "--normal"),
        (["mpr", MISSING, "-o", "{tmp}/x.png", "--frame", "-2"], "--frame"),
        (["stats", MISSING, "--roi", "sphere:0,0,0,-1"], "radius"),
        (["stats", MISSING, "--threshold", "100:-100"], "HI is below LO"),
        (["export-mesh", MISSING, "-o", "{tmp}/x.stl", "--threshold", "500:100"], "HI is below LO"),
        (["export-mesh", MISSING, "-o", "{tmp}/x.stl", "--smooth", "-1"], "--smooth"),
        (["render", MISSING, "-o", "{tmp}/x.webp"], "cannot write .webp"),
        (["render", MISSING, "-o", "{tmp}/x.png", "--opacity-scale", "-1"], "--opacity-scale"),
        (["phantom", "{tmp}/ph", "--slices", "0"], "--slices"),
        (["batch", "{tmp}", "-o", "{tmp}/out", "--job", "stats", "--workers", "0"], "--workers"),
        # the parser's own (types and choices: usage, then the error line)
        (["stats", MISSING, "--roi", "box:1,2,3"], "argument --roi"),
        (["mpr", MISSING, "-o", "{tmp}/x.png", "--slab", "max:5"], "argument --slab"),
        (["mpr", MISSING, "-o", "{tmp}/x.png", "--plane", "diagonal"], "argument --plane: invalid choice"),
        (["mpr", MISSING, "-o", "{tmp}/x.png", "--interpolation", "spline"], "argument --interpolation: invalid choice"),
        (["render", MISSING, "-o", "{tmp}/x.png", "--view", "top"], "argument --view: invalid choice"),
        (["export-mesh", MISSING, "-o", "{tmp}/x.stl", "--threshold", "bone"], "argument --threshold"),
        (["export-mesh", MISSING, "-o", "{tmp}/x.stl", "--preset", "granite"], "argument --preset: invalid choice"),
        (["info", MISSING, "--memory-limit", "lots"], "argument --memory-limit"),
        (["info", MISSING, "--series", " "], "argument --series"),
    ],
)
def test_usage_errors_exit_2_and_name_the_option_not_the_missing_path(argv: list[str], about: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The path does not exist: had anything been loaded, the error would be about it (exit 1)."""
    (tmp_path / "a-file").write_text("so that ROOT is not empty")
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(["-q", *argv]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert about in last and last.startswith(f"vtkdicom-app {argv[0]}: error: "), err
    assert "no such file" not in err and MISSING not in last and "Traceback" not in err


def test_usage_error_lines_of_the_checks_are_single_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mpr", MISSING, "-o", str(tmp_path / "x.png"), "--plane", "axial", "--normal", "0,1,1"]) == 2
    assert capsys.readouterr().err == "vtkdicom-app mpr: error: --normal applies to --plane oblique, not --plane axial\n"


def test_a_runtime_failure_is_exit_1_and_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "stats", str(tmp_path / MISSING)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "no such file or folder" in err


def test_pacs_runs_through_the_same_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pynetdicom", reason="pip install pynetdicom (install_requires of vtkdicom_app)")
    monkeypatch.setenv("VTKDICOM_APP_CONFIG_DIR", str(tmp_path))  # no servers.toml
    assert main(["pacs"]) == 2
    assert main(["-q", "pacs", "find", "--host", "h", "--port", "1", "--study-date", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert "vtkdicom-app pacs find: error:" in err and "Traceback" not in err


# ------------------------------------------------------------------ choices from the library
def test_choices_are_the_library_enums_and_presets(capsys: pytest.CaptureFixture[str]) -> None:
    from vtkdicom_app.mpr import Interpolation, Plane, SlabMode, load_wl_presets
    from vtkdicom_app.rendering import BlendMode, MapperKind, View, load_volume_presets
    from vtkdicom_app.surface import load_surface_presets

    def help_of(command: str) -> str:
        assert main([command, "--help"]) == 0
        return " ".join(capsys.readouterr().out.split())

    text = help_of("mpr")
    assert "{" + ",".join([*(p.value for p in Plane), "all"]) + "}" in text
    assert "{" + ",".join(i.value for i in Interpolation) + "}" in text
    assert "{" + ",".join(load_wl_presets()) + "}" in text.replace(", ", ",")
    assert all(f"{m.value}:MM" in text for m in SlabMode if m is not SlabMode.NONE) and "none:MM" not in text
    text = help_of("render")
    assert "{" + ",".join(v.name.lower() for v in View) + "}" in text
    assert "{" + ",".join(b.value for b in BlendMode) + "}" in text and "{" + ",".join(m.value for m in MapperKind) + "}" in text
    assert "{" + ",".join(load_volume_presets()) + "}" in text.replace(", ", ",")
    assert "{" + ",".join(load_surface_presets()) + "}" in help_of("export-mesh").replace(", ", ",")


def test_quiet_after_the_command_and_memory_limit(gap: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(gap), "-q"]) == 0
    assert _warning_lines(capsys.readouterr().err) == []
    before = os.environ.get("VTKDICOM_APP_MEMORY_LIMIT")
    assert main(["-q", "stats", str(gap), "--memory-limit", "1KB"]) == 1
    assert "memory" in capsys.readouterr().err.lower()
    assert os.environ.get("VTKDICOM_APP_MEMORY_LIMIT") == before  # only while the command ran
    assert main(["-q", "stats", str(gap), "--memory-limit", "1GB", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 11 * 24 * 24


# ------------------------------------------------------------------ warnings policy
@pytest.mark.parametrize(
    "argv",
    [
        ["info", "{ph}"],
        ["stats", "{ph}"],
        ["convert", "{ph}", "-o", "{tmp}/v.nrrd"],
        ["mpr", "{ph}", "-o", "{tmp}/m.png"],
        ["export-mesh", "{ph}", "-o", "{tmp}/m.stl", "--threshold", "0"],
    ],
    ids=lambda argv: argv[0],
)
def test_each_library_warning_is_printed_once_and_quiet_silences_it(argv: list[str], gap: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    import vtkdicom_app as vda
    from vtkdicom_app.errors import GeometryWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vda.load(gap)
    expected = [str(w.message) for w in caught if issubclass(w.category, GeometryWarning)]
    assert len(expected) == 1 and "irregular slice spacing" in expected[0]
    argv = [a.format(ph=gap, tmp=tmp_path) for a in argv]
    assert main(argv) == 0
    lines = _warning_lines(capsys.readouterr().err)
    assert lines.count(f"warning: {expected[0]}") == 1, lines
    assert len(lines) == len(set(lines))  # no message twice
    assert main(["-q", *argv]) == 0
    assert _warning_lines(capsys.readouterr().err) == []


def test_the_commands_own_warnings_take_the_same_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mr = tmp_path / "mr"
    write_phantom(mr, modality="MR", **SMALL)
    argv = ["render", str(mr), "-o", str(tmp_path / "r.png"), "--size", "32", "--preset", "ct-bone"]
    assert main(argv) == 0
    lines = _warning_lines(capsys.readouterr().err)
    assert sum("is a CT preset (HU) but the volume is MR" in line for line in lines) == 1, lines
    assert main(["-q", *argv]) == 0
    assert _warning_lines(capsys.readouterr().err) == []


# ------------------------------------------------------------------ thresholds
def _spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[dict[str, Any]]:
    """Record the keywords of a library function and call the real one."""
    real: Callable[..., Any] = getattr(module, name)
    calls: list[dict[str, Any]] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_threshold_is_passed_only_when_given(gap: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import vtkdicom_app.surface

    calls = _spy(monkeypatch, vtkdicom_app.surface, "extract_surface")
    assert main(["-q", "export-mesh", str(gap), "-o", str(tmp_path / "a.stl"), "--preset", "bone"]) == 0
    assert main(["-q", "export-mesh", str(gap), "-o", str(tmp_path / "b.stl"), "--threshold=-500:500", "--report", str(tmp_path / "b.json")]) == 0
    assert "threshold" not in calls[0] and "upper" not in calls[0] and calls[0]["preset"] == "bone"
    assert calls[1]["threshold"] == -500.0 and calls[1]["upper"] == 500.0
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["threshold"] == -500.0 and report["upper"] == 500.0


def test_threshold_auto_records_otsus_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import vtkdicom_app as vda
    from vtkdicom_app.surface import otsu_threshold

    ph = tmp_path / "ph"
    write_phantom(ph, **SMALL)
    out = tmp_path / "auto.stl"
    assert main(["-q", "export-mesh", str(ph), "-o", str(out), "--threshold", "auto", "--report", str(tmp_path / "auto.json")]) == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "auto.json").read_text())
    vol = vda.load(ph)
    assert vol.padding_value is None  # the phantom pads nothing: Otsu over every voxel
    expected = otsu_threshold(vol.array)
    assert report["threshold"] == pytest.approx(expected)
    assert float(vol.array.min()) < report["threshold"] < float(vol.array.max())
    assert out.stat().st_size > 0


def test_batch_tasks_pass_the_threshold_only_when_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vtkdicom_app.surface
    from vtkdicom_app.batch import find_series, run_task

    write_phantom(tmp_path / "study", **SMALL)
    task = find_series(tmp_path / "study")[0]
    calls = _spy(monkeypatch, vtkdicom_app.surface, "extract_surface")
    assert run_task(task, "export-mesh", str(tmp_path), {})["status"] == "ok"
    assert run_task(task, "export-mesh", str(tmp_path), {"threshold": 100.0, "upper": 900.0})["status"] == "ok"
    assert "threshold" not in calls[0] and calls[0]["preset"] == "bone"
    assert calls[1]["threshold"] == 100.0 and calls[1]["upper"] == 900.0


# ------------------------------------------------------------------ batch: counts and unloadable studies
def test_batch_reports_an_unloadable_study_as_a_row_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cohort = tmp_path / "cohort"
    for n in range(2):
        write_phantom(cohort / f"study{n}", seed=n, **SMALL)
    bad = write_phantom(cohort / "truncated", rows=24, columns=24, slices=1, seed=7).files[0]
    data = Path(bad).read_bytes()
    Path(bad).write_bytes(data[: len(data) - 24 * 24])  # half of the 24 x 24 x 2 bytes of pixels cut off
    (cohort / "notes").mkdir()
    (cohort / "notes" / "readme.txt").write_text("not a study: no row")
    out = tmp_path / "out"
    assert main(["-q", "batch", str(cohort), "-o", str(out), "--job", "stats", "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert "2 series: 2 done, 0 already complete, 0 failed; 1 study folder(s) with no loadable series" in captured.out
    assert "truncated/" in captured.err and Path(bad).name in captured.err
    rows = json.loads((out / "manifest.json").read_text())
    assert sorted(r["status"] for r in rows) == ["error", "ok", "ok"]
    (row,) = [r for r in rows if r["status"] == "error"]
    assert row["folder"] == "truncated" and row["n_files"] == 1
    assert f"{Path(bad).name}: truncated pixel data: 576 of 1152 bytes present" in row["error"] and "1 file(s) skipped" in row["error"]
    csv = (out / "manifest.csv").read_text()
    assert row["key"] in csv and Path(bad).name in csv
    # a second run: the series are complete, the folder still fails
    assert main(["-q", "batch", str(cohort), "-o", str(out), "--job", "stats", "--workers", "1"]) == 1
    assert "2 series: 0 done, 2 already complete, 0 failed; 1 study folder(s)" in capsys.readouterr().out


def test_batch_reports_an_unloadable_study_nested_beside_a_good_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ROOT/patient/{good,broken}: the top-level folder loads (its good study), and the broken
    study inside it still gets its error row; a damaged file among good slices does not."""
    cohort = tmp_path / "cohort"
    good = write_phantom(cohort / "patient" / "good", **SMALL)
    bad = write_phantom(cohort / "patient" / "broken", rows=24, columns=24, slices=1, seed=7).files[0]
    Path(bad).write_bytes(Path(bad).read_bytes()[:-600])
    (Path(good.outdir) / "stray.dcm").write_bytes(Path(good.files[0]).read_bytes()[:300])  # one damaged file in a good study
    out = tmp_path / "out"
    assert main(["-q", "batch", str(cohort), "-o", str(out), "--job", "stats", "--workers", "1"]) == 1
    assert "1 series: 1 done, 0 already complete, 0 failed; 1 study folder(s) with no loadable series" in capsys.readouterr().out
    rows = json.loads((out / "manifest.json").read_text())
    (row,) = [r for r in rows if r["status"] == "error"]
    assert row["folder"] == str(Path("patient") / "broken") and row["n_files"] == 1 and Path(bad).name in row["error"]


# ------------------------------------------------------------------ demo: library calls
def test_demo_is_made_of_library_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import vtkdicom_app.mesh_io
    import vtkdicom_app.surface
    from vtkdicom_app.cli import load_cmds, mesh

    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the screenshot's child process

    def not_a_command(*_args: Any, **_kwargs: Any) -> int:
        raise AssertionError("the demo ran another command instead of library functions")

    monkeypatch.setattr(load_cmds, "run_info", not_a_command)
    monkeypatch.setattr(mesh, "run_export_mesh", not_a_command)
    surfaces = _spy(monkeypatch, vtkdicom_app.surface, "extract_surface")
    written = _spy(monkeypatch, vtkdicom_app.mesh_io, "export_mesh")
    demo = tmp_path / "demo"
    assert main(["-q", "demo", "--outdir", str(demo), "--no-viewer"]) == 0
    out = capsys.readouterr().out
    assert "loaded:" in out
    assert len(surfaces) == 1 and surfaces[0]["preset"] == "bone" and surfaces[0]["largest"] is True and "threshold" not in surfaces[0]
    assert len(written) == 1
    png, stl = demo / "vtkdicom_app_demo_views.png", demo / "vtkdicom_app_demo_bone.stl"
    assert png.read_bytes()[:4] == b"\x89PNG" and str(png) in out and str(stl) in out
    import trimesh

    assert trimesh.load(stl).is_watertight
    assert len(list((demo / "phantom").iterdir())) == 120


# ------------------------------------------------------------------ the CLI uses public API only
def test_the_cli_imports_no_private_names_of_the_library() -> None:
    offenders = []
    for path in sorted((ROOT / "vtkdicom_app" / "cli").glob("*.py")) + [ROOT / "vtkdicom_app" / "batch.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vtkdicom_app") and not node.module.startswith("vtkdicom_app.cli"):
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offenders, offenders


# ------------------------------------------------------------------ the shared Xvfb helper
def test_qt_needs_display_reads_the_environment() -> None:
    from vtkdicom_app.xvfb import has_display, qt_needs_display

    assert qt_needs_display({}) and not has_display({})
    assert not qt_needs_display({"DISPLAY": ":5"}) and has_display({"DISPLAY": ":5"})
    assert qt_needs_display({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"})
    assert not qt_needs_display({"QT_QPA_PLATFORM": "offscreen"}) and not has_display({"QT_QPA_PLATFORM": "offscreen"})
    assert qt_needs_display({"QT_QPA_PLATFORM": "wayland"}) and not qt_needs_display({"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "w"})


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (apt-get install xvfb)")
def test_start_xvfb_gives_a_display_children_can_use_and_stops_it() -> None:
    from vtkdicom_app.xvfb import start_xvfb

    first, second = start_xvfb(), start_xvfb()  # each picks its own free number
    assert first is not None and second is not None
    with first, second:
        assert first.display != second.display
        env = first.child_env({"PATH": os.environ.get("PATH", "")})
        assert env["DISPLAY"] == first.display and env["QT_QPA_PLATFORM"] == "xcb" and os.path.isdir(env["XDG_RUNTIME_DIR"])
        number = first.display.lstrip(":")
        assert Path(f"/tmp/.X11-unix/X{number}").exists()
        probe = "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('/tmp/.X11-unix/X' + sys.argv[1]); print('ok')"
        assert subprocess.run([sys.executable, "-c", probe, number], capture_output=True, text=True, env=env, timeout=30).stdout.strip() == "ok"
    assert first.process.poll() is not None and second.process.poll() is not None


_QT_ON_ENSURED_DISPLAY = """
import os, sys
from vtkdicom_app.xvfb import ensure_display
started = ensure_display()
assert started is not None, "Xvfb did not start"
from PyQt5.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel("still connected at exit")
label.show()
app.processEvents()
print("XVFB", started.process.pid, flush=True)
sys.exit(0)  # Qt's X connection is still open: the display must outlive it
"""


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (apt-get install xvfb)")
def test_ensured_display_outlives_the_process_that_uses_it() -> None:
    # A test session starts Xvfb for its own Qt windows; stopping it from atexit while Qt is still
    # connected made Qt call exit(1) ("The X11 connection broke") after every test had passed.
    pytest.importorskip("PyQt5.QtWidgets", reason="needs PyQt5")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    runs = [subprocess.run([sys.executable, "-c", _QT_ON_ENSURED_DISPLAY], capture_output=True, text=True, env=env, timeout=120) for _ in range(3)]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "X11 connection broke" not in proc.stderr
        pid = int(proc.stdout.split("XVFB", 1)[1].split()[0])
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:  # ended by the kernel, not left behind
            state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
            if state == "Z":
                break  # a zombie waiting for its (gone) parent's reaper: ended
            time.sleep(0.1)
        alive = Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        assert not alive, f"Xvfb {pid} outlived the process that started it"
