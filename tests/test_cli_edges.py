"""The command line's rough edges (issue 20): series numbers, usage errors before loading,
output folders and suffixes, batch exit codes, histograms of the region, progress bars,
the demo folder, Xvfb for ``view --screenshot``, packaging."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vtkdicom_app.cli import load_cmds, main
from vtkdicom_app.cli._progress import TerminalProgress

ROOT = Path(__file__).resolve().parents[1]
# two series: number 1 with 10 slices, number 2 with 8 (z from -9 to 9 mm in series 1)
TWO: dict[str, Any] = dict(rows=32, columns=32, slices=10, n_series=2)


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vtkdicom_app.phantom import write_phantom

    out = tmp_path_factory.mktemp("edges_two")
    write_phantom(out, **TWO)
    return out


@pytest.fixture()
def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way the commands read a volume fails the test: checks must come first."""
    import vtkdicom_app.io.formats
    import vtkdicom_app.io.loader

    def loaded(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("loaded the volume before checking the command line")

    for module, name in (
        (vtkdicom_app.io.loader, "scan"),
        (vtkdicom_app.io.loader, "load"),
        (vtkdicom_app.io.loader, "load_sequence"),
        (vtkdicom_app.io.formats, "read_volume"),
    ):
        monkeypatch.setattr(module, name, loaded)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ------------------------------------------------------------------ --series NUMBER
def test_series_number_works_on_every_command(two: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "info", str(two), "--series", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loaded"]["shape_kji"] == [8, 32, 32]
    assert main(["-q", "stats", str(two), "--series", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 8 * 32 * 32
    assert main(["-q", "stats", str(two), "--series", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 10 * 32 * 32
    commands = [
        ["mpr", str(two), "-o", str(tmp_path / "a.png"), "--series", "2"],
        ["render", str(two), "-o", str(tmp_path / "r.png"), "--series", "2", "--size", "64x64"],
        ["convert", str(two), "-o", str(tmp_path / "c.nrrd"), "--series", "2"],
        ["export-mesh", str(two), "-o", str(tmp_path / "m.stl"), "--series", "2"],
    ]
    for argv in commands:
        assert main(["-q", *argv]) == 0, (argv, capsys.readouterr().err)
        assert Path(argv[3]).stat().st_size > 0
    capsys.readouterr()
    assert main(["-q", "mpr", str(two), "-o", str(tmp_path / "b.png"), "--series", "7"]) == 1
    assert "series 7 not found" in capsys.readouterr().err


def test_info_headers_only_checks_and_narrows_the_series(two: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "info", str(two), "--headers-only", "--series", "nonsense"]) == 1
    err = capsys.readouterr().err
    assert "series nonsense not found" in err and "Traceback" not in err
    assert main(["-q", "info", str(two), "--headers-only", "--series", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["number"] for s in report["series"]] == [2] and "loaded" not in report


# ------------------------------------------------------------------ usage errors
@pytest.mark.parametrize(
    "argv",
    [
        ["mpr", "{missing}", "-o", "{tmp}/x.png", "--plane", "oblique"],
        ["mpr", "{missing}", "-o", "{tmp}/x.png", "--plane", "axial", "--normal", "0,1,1"],
        ["mpr", "{missing}", "-o", "{tmp}/x.png", "--plane", "oblique", "--normal", "0,0,0"],
        ["mpr", "{missing}", "-o", "{tmp}/x.png", "--plane", "all", "--position", "3"],
        ["mpr", "{missing}", "-o", "{tmp}/x.png", "--frame", "-1"],
        ["mpr", "{missing}", "-o", "{tmp}/x.webp"],
        ["mpr", "{missing}", "-o", "{tmp}/x"],
        ["mpr", "{missing}", "-o", "{tmp}"],
        ["render", "{missing}", "-o", "{tmp}/x.png", "--orbit", "4"],
        ["render", "{missing}", "-o", "{tmp}/x.gif", "--orbit", "0"],
        ["render", "{missing}", "-o", "{tmp}/x.png", "--cine", "{tmp}/c.mp4"],
        ["export-mesh", "{missing}", "-o", "{tmp}/x.stl", "--reduce", "1.5"],
        ["stats", "{missing}", "--histogram", "{tmp}/h.txt"],
        ["stats", "{missing}", "--threshold", "10:5"],
        ["view", "{missing}", "--screenshot", "{tmp}/v.jpg"],
    ],
)
def test_usage_errors_exit_2_before_loading(argv: list[str], tmp_path: Path, no_loading: None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(missing=tmp_path / "no-such-folder", tmp=tmp_path) for a in argv]
    assert main(["-q", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err
    assert "Error:" not in err and "Traceback" not in err  # no "ValueError: " prefix


def test_unknown_mesh_and_volume_suffixes_fail_before_loading(tmp_path: Path, no_loading: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 1 (the contract of tests/test_surface.py and tests/test_formats.py), one line, no loading."""
    missing = tmp_path / "no-such-folder"
    for argv, words in (
        (["export-mesh", str(missing), "-o", str(tmp_path / "x.xyz")], "unknown mesh format"),
        (["convert", str(missing), "-o", str(tmp_path / "x.xyz")], "unknown volume format"),
    ):
        assert main(["-q", *argv]) == 1
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1 and "Error:" not in err


# ------------------------------------------------------------------ batch
def test_batch_root_that_cannot_work_is_a_usage_error(tmp_path: Path, two: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    a_file = next(two.iterdir())
    for root, words in ((tmp_path / "nope", "does not exist"), (a_file, "is a file"), (empty, "is empty")):
        out = tmp_path / "out"
        assert main(["-q", "batch", str(root), "-o", str(out), "--job", "stats"]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1
        assert not out.exists()  # refused before anything was started or written


def test_batch_exit_status_is_1_on_failures_never_their_count(
    tmp_path: Path, two: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import vtkdicom_app.batch

    rows: list[dict[str, Any]] = []
    monkeypatch.setattr(vtkdicom_app.batch, "run", lambda *a, **k: rows)
    argv = ["-q", "batch", str(two), "-o", str(tmp_path / "o"), "--job", "stats"]
    rows[:] = [{"key": f"k{n}", "status": "error", "error": "boom"} for n in range(256)]
    assert main(argv) == 1  # 256 failures: not 256 % 256 == 0
    assert "256 failed" in capsys.readouterr().out
    rows[:] = [{"key": "a", "status": "ok", "error": ""}, {"key": "b", "status": "skipped", "error": ""}]
    assert main(argv) == 0
    rows[:] = []
    assert main(argv) == 2
    assert "no DICOM image series found" in capsys.readouterr().err


def test_batch_creates_a_missing_output_folder(tmp_path: Path, two: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cohort = tmp_path / "cohort"
    shutil.copytree(two, cohort / "study1")
    out = tmp_path / "new" / "nested"
    assert main(["-q", "batch", str(cohort), "-o", str(out), "--job", "stats", "--workers", "1"]) == 0
    assert "2 series: 2 done" in capsys.readouterr().out
    assert (out / "manifest.csv").is_file() and len(list(out.glob("*.json"))) == 3  # 2 outputs + manifest.json


def test_batch_api_refuses_a_missing_root_or_a_file(tmp_path: Path, two: Path) -> None:
    from vtkdicom_app.batch import run

    with pytest.raises(FileNotFoundError):
        run(tmp_path / "nope", job="stats", outdir=tmp_path / "o")
    with pytest.raises(NotADirectoryError):
        run(next(two.iterdir()), job="stats", outdir=tmp_path / "o")


# ------------------------------------------------------------------ stats --histogram
def test_histogram_covers_the_voxels_of_the_statistics(two: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "h.png"
    argv = ["-q", "stats", str(two), "--series", "1", "--roi", "sphere:0,0,0,10", "--threshold", "0", "--histogram", str(png), "--json"]
    assert main(argv) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    count = json.loads(capsys.readouterr().out)["count"]
    seen: dict[str, Any] = {}

    def capture(values: Any, path: str, fmt: Any, *, title: str, xlabel: str) -> None:
        seen.update(values=values, title=title, path=path)

    monkeypatch.setattr(load_cmds, "_plot_histogram", capture)
    assert main(argv) == 0
    assert seen["values"].size == count < 10 * 32 * 32
    assert seen["values"].min() >= 0
    assert "Phantom CT" in seen["title"] and "sphere r 10 mm" in seen["title"] and "values >= 0" in seen["title"]
    assert os.path.basename(str(two)) not in seen["title"]


def test_histogram_pdf(two: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "h.pdf"
    assert main(["-q", "stats", str(two), "--histogram", str(pdf)]) == 0
    assert pdf.read_bytes()[:4] == b"%PDF"


# ------------------------------------------------------------------ outputs
@pytest.mark.parametrize(
    "argv",
    [
        ["mpr", "{ph}", "-o", "{out}/x.png"],
        ["render", "{ph}", "-o", "{out}/x.png", "--size", "64x64"],
        ["render", "{ph}", "-o", "{tmp}/x.png", "--cine", "{out}/c.gif"],
        ["export-mesh", "{ph}", "-o", "{out}/x.stl"],
        ["export-mesh", "{ph}", "-o", "{tmp}/x.stl", "--report", "{out}/r.json"],
        ["convert", "{ph}", "-o", "{out}/x.nii.gz"],
        ["stats", "{ph}", "--histogram", "{out}/h.png"],
        ["view", "{ph}", "--screenshot", "{out}/v.png"],
    ],
)
def test_output_into_a_missing_folder_says_so(argv: list[str], two: Path, tmp_path: Path, no_loading: None, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing"
    argv = [a.format(ph=two, out=missing, tmp=tmp_path) for a in argv]
    assert main(["-q", *argv]) == 1
    err = capsys.readouterr().err
    assert f"output folder {missing} does not exist" in err and err.count("\n") == 1
    assert ".part" not in err and not missing.exists()


def test_phantom_creates_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a" / "b"
    assert main(["-q", "phantom", str(out), "--size", "16", "--slices", "4"]) == 0
    assert len(list(out.iterdir())) == 4


def test_image_files_are_in_the_format_their_suffix_names(two: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    magic = {".jpg": b"\xff\xd8\xff", ".tif": b"II*\x00", ".bmp": b"BM", ".png": b"\x89PNG"}
    for suffix, head in magic.items():
        out = tmp_path / f"m{suffix}"
        assert main(["-q", "mpr", str(two), "-o", str(out)]) == 0
        assert out.read_bytes().startswith(head), suffix
    for suffix, head in {".gif": b"GIF8", ".jpeg": b"\xff\xd8\xff", ".png": b"\x89PNG"}.items():
        out = tmp_path / f"r{suffix}"
        assert main(["-q", "render", str(two), "-o", str(out), "--size", "48x48"]) == 0
        assert out.read_bytes().startswith(head), suffix
    out = tmp_path / "all.jpg"
    assert main(["-q", "mpr", str(two), "-o", str(out), "--plane", "all"]) == 0
    assert out.read_bytes().startswith(b"\xff\xd8\xff")


# ------------------------------------------------------------------ mpr output and positions
def test_mpr_all_prints_plain_numbers(two: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "mpr", str(two), "-o", str(tmp_path / "a.png"), "--plane", "all", "--point", "1.25,-2,3"]) == 0
    out = capsys.readouterr().out
    assert "np." not in out and "float64" not in out
    assert "through (1.2, -2.0, 3.0) mm LPS" in out or "through (1.3, -2.0, 3.0) mm LPS" in out


def test_position_outside_the_volume_is_refused_with_its_range(two: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "a.png"
    assert main(["-q", "mpr", str(two), "--series", "1", "-o", str(png), "--position", "500"]) == 1
    err = capsys.readouterr().err
    assert "--position 500 mm is outside the volume" in err and "from -9.0 to 9.0 mm" in err and "(z, LPS)" in err
    assert not png.exists()
    assert main(["-q", "mpr", str(two), "--series", "1", "-o", str(png), "--plane", "all", "--point", "0,0,-40"]) == 1
    assert "outside the volume" in capsys.readouterr().err
    assert main(["-q", "mpr", str(two), "--series", "1", "-o", str(png), "--plane", "oblique", "--normal", "0,1,1", "--position", "90"]) == 1
    assert "along --normal" in capsys.readouterr().err
    # the outer slices themselves are inside
    assert main(["-q", "mpr", str(two), "--series", "1", "-o", str(png), "--position", "-9"]) == 0
    assert main(["-q", "mpr", str(two), "--series", "1", "-o", str(png), "--plane", "sagittal", "--position", "23.25"]) == 0


# ------------------------------------------------------------------ info
def test_info_text_mentions_ignored_files(two: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "study"
    shutil.copytree(two, folder)
    (folder / "notes.txt").write_text("not an image")
    (folder / "scan.csv").write_text("1,2,3")
    assert main(["-q", "info", str(folder), "--headers-only"]) == 0
    line = _last_line(capsys.readouterr().out)
    assert line.startswith("ignored 2 file(s)") and "notes.txt" in line and "scan.csv" in line and "not DICOM" in line


# ------------------------------------------------------------------ progress bars
def test_progress_bars_show_stages_and_end_at_total(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with TerminalProgress(enabled=True) as progress:
        for n in range(0, 48, 5):
            progress(n + 1, 48, "Reading headers")
        progress(16, 48, "Reading pixels")  # chunks, the last one never reported
        progress(32, 48, "Reading pixels")
        for step, stage in enumerate(("Preparing the volume", "Smoothing", "Decimating"), start=1):
            progress(step, 4, stage)  # one pipeline, one bar
    text = err.getvalue()

    def shown(stage: str, count: str) -> bool:
        return re.search(re.escape(stage) + r": +\d+%\|[^|]*\| " + re.escape(count), text) is not None

    assert shown("Reading headers", "48/48 files")
    assert shown("Reading pixels", "48/48 slices")
    assert shown("Decimating", "4/4 steps")
    assert shown("Smoothing", "2/4 steps") and not shown("Smoothing", "4/4")
    assert not re.search(r"\d\s*(files|slices|steps|it)/s", text)  # no rates

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(KeyboardInterrupt), TerminalProgress(enabled=True) as progress:
        progress(10, 48, "Reading headers")
        raise KeyboardInterrupt  # a cancel shows where it stopped
    assert "10/48" in err.getvalue() and "48/48" not in err.getvalue()


# ------------------------------------------------------------------ demo and view
def test_demo_writes_inside_its_outdir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT)
    demo = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "-q", "demo", "--outdir", str(demo), "--no-viewer"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # nothing beside the folder
    assert len(list((demo / "phantom").iterdir())) == 120
    png, stl = demo / "vtkdicom_app_demo_views.png", demo / "vtkdicom_app_demo_bone.stl"
    assert png.read_bytes()[:4] == b"\x89PNG" and stl.stat().st_size > 0
    assert str(png) in proc.stdout and str(stl) in proc.stdout


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb")
def test_view_screenshot_without_display_starts_xvfb(two: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    png = tmp_path / "v.png"
    assert main(["-q", "view", str(two), "--screenshot", str(png), "--size", "640x480"]) == 0, capsys.readouterr().err
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {png}" in capsys.readouterr().out


# ------------------------------------------------------------------ packaging
def test_package_data_folder_is_a_listed_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """setuptools warns ("Package would be ignored") about data folders missing from packages."""
    import setuptools  # noqa: F401, I001  (first: its distutils)
    from distutils.core import run_setup

    monkeypatch.chdir(ROOT)
    dist = run_setup(str(ROOT / "setup.py"), stop_after="config")
    packages = set(dist.packages)
    for folder, _dirs, files in os.walk(ROOT / "vtkdicom_app"):
        name = os.path.relpath(folder, ROOT).replace(os.sep, ".")
        if "__pycache__" not in name and any(not f.endswith((".pyc", ".pyo")) for f in files):
            assert name in packages, name
    assert "*.json" in dist.package_data["vtkdicom_app.data"]
