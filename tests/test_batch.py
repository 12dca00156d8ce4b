"""Cohort batches on a real Dask LocalCluster (2 worker processes, loopback only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pydicom
import pytest

from vtkdicom_app.batch import find_series, load_manifest, run
from vtkdicom_app.cli import main as cli_main
from vtkdicom_app.phantom import write_phantom

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cohort")
    for n in range(8):
        write_phantom(root / f"study{n}", rows=32, columns=32, slices=16, pixel_spacing=(6.0, 6.0), slice_spacing=6.0, seed=200 + n)
    for f in (root / "study7").iterdir():  # the corrupt one: its orientation is not orthogonal
        ds = pydicom.dcmread(f)
        ds.ImageOrientationPatient = [1, 0, 0, 0.173648, 0.984808, 0]
        ds.save_as(f)
    return root


@pytest.fixture(scope="module")
def client() -> Any:
    from dask.distributed import Client

    from vtkdicom_app.batch import local_cluster

    cluster = local_cluster(2)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_batch_outputs_match_the_single_study_cli_and_errors_are_rows(cohort: Path, client: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = run(cohort, job="export-mesh", outdir=out, client=client)
    assert len(rows) == 8
    ok = [r for r in rows if r["status"] == "ok"]
    bad = [r for r in rows if r["status"] == "error"]
    assert len(ok) == 7 and len(bad) == 1 and "ImageOrientationPatient" in bad[0]["error"]
    tasks = {t.key: t for t in find_series(cohort)}
    for r in ok:
        study = Path(tasks[r["key"]].files[0]).parent
        single = tmp_path / f"{r['key']}_cli.stl"
        assert cli_main(["-q", "export-mesh", str(study), "-o", str(single)]) == 0
        assert (out / r["output"]).read_bytes() == single.read_bytes()
    # names are hashes: no patient name or UID in the outputs or the manifest
    manifest = (out / "manifest.csv").read_text() + (out / "manifest.json").read_text()
    assert "Phantom" not in manifest and "1.2.826" not in manifest
    # a second run does nothing: complete outputs are skipped, the failure keeps its row
    again = run(cohort, job="export-mesh", outdir=out, client=client)
    assert sorted(r["status"] for r in again) == ["error"] + ["skipped"] * 7


def test_a_killed_worker_does_not_stop_the_batch(cohort: Path, client: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result: dict[str, Any] = {}

    def go() -> None:
        result["rows"] = run(cohort, job="stats", outdir=out, client=client)

    thread = threading.Thread(target=go)
    thread.start()
    deadline = time.monotonic() + 60
    while not load_manifest(out) and time.monotonic() < deadline:
        time.sleep(0.02)
    victim = list(client.scheduler_info()["workers"])[0]
    try:
        client.run(os._exit, 1, workers=[victim])  # a hard crash, not a graceful retirement
    except Exception:
        pass  # the worker is gone before it can answer
    thread.join(timeout=180)
    assert not thread.is_alive()
    rows = result["rows"]
    assert sum(r["status"] == "ok" for r in rows) == 7 and sum(r["status"] == "error" for r in rows) == 1
    for r in rows:
        if r["status"] == "ok":
            assert json.loads((out / r["output"]).read_text())["count"] == 16 * 32 * 32


def test_cli_exit_code_counts_failures(cohort: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vtkdicom_app", "-q", "batch", str(cohort), "-o", str(tmp_path / "o"), "--job", "convert", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "8 series: 7 done, 0 already complete, 1 failed" in proc.stdout
    assert len(list((tmp_path / "o").glob("*.nii.gz"))) == 7
