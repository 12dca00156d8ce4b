"""``vtkdicom-app batch --scheduler tcp://...`` against a cluster started as it is deployed.

A ``dask scheduler`` process and ``dask worker`` processes (each with its nanny) are started
here as separate commands on 127.0.0.1 with free ports, the way an operator starts them on
nodes, and torn down after each test. The batch runs as its own process (the console
script), so the client, the scheduler and the workers share nothing but TCP.

* A worker is SIGKILLed (with its nanny: the whole process group) while the scheduler says
  it is running one of the batch's series; a second worker joins only after that, while the
  batch is waiting with no worker at all. Every study must still be done, each stats JSON
  equal to the one computed in this process.
* With ``allowed-failures = 0`` on the scheduler, the series lost with the killed worker
  cannot be retried: the batch must not hang or crash but report them as error rows and
  exit 1, the other studies done.
* With no worker at all and ``no-workers-timeout`` set on the scheduler, the batch ends with
  one error row per study folder instead of waiting for ever.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vtkdicom_app as vda
from vtkdicom_app.analysis import region_stats
from vtkdicom_app.phantom import write_phantom

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
N_STUDIES = 6
START_TIMEOUT = 120.0  # seconds for a process of the cluster to come up on a busy 2-core machine

pytestmark = pytest.mark.timeout(600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A scheduler and named workers as separate process groups, killed on :meth:`close`."""

    def __init__(self, logdir: Path, env: dict[str, str]) -> None:
        self.logdir = logdir
        self.env = env
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._start("scheduler", [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"])
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.procs["scheduler"].poll() is not None:
                raise RuntimeError(f"dask scheduler exited: {self.log('scheduler')}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"dask scheduler did not listen on {self.address}: {self.log('scheduler')}")

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115  (closed with the process)
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True, cwd=self.logdir)
        log.close()

    def log(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def start_worker(self, name: str) -> None:
        argv = [str(BIN / "dask"), "worker", self.address, "--name", name, "--nthreads", "1", "--nworkers", "1"]
        self._start(name, [*argv, "--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "2GB"])

    def kill(self, name: str) -> None:
        """SIGKILL the worker and its nanny (so the nanny cannot restart it)."""
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name)


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Phantom studies (each its own seed and noise) and their stats computed in this process."""
    root = tmp_path_factory.mktemp("cohort")
    expected: dict[str, dict[str, Any]] = {}
    for n in range(N_STUDIES):
        ph = write_phantom(
            root / f"study{n}", rows=96, columns=96, slices=48, pixel_spacing=(2.0, 2.0), slice_spacing=2.0, seed=300 + n, noise_sd=5.0 * (n + 1)
        )
        expected[str(root / f"study{n}")] = region_stats(vda.load(ph.outdir)).as_dict()
    return root, expected


def _env(**config: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env.update(config)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Any]:
    made: list[Cluster] = []

    def make(**config: str) -> Cluster:
        logs = tmp_path / f"logs{len(made)}"
        logs.mkdir()
        cluster = Cluster(logs, _env(**config))
        made.append(cluster)
        return cluster

    yield make
    for c in made:
        c.close()


def _wait(what: str, predicate: Any, cluster: Cluster, batch: subprocess.Popen[bytes] | None = None, timeout: float = START_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        if batch is not None and batch.poll() is not None:
            out = batch.stdout.read().decode(errors="replace") if batch.stdout else ""
            raise AssertionError(f"the batch ended (exit {batch.returncode}) before {what}: {out[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; scheduler log: {cluster.log('scheduler')}")


def _processing_on(client: Any, worker_name: str) -> list[str]:
    """Keys of the batch's series tasks the scheduler has on ``worker_name`` right now."""
    workers = client.scheduler_info()["workers"]
    addresses = [addr for addr, w in workers.items() if w.get("name") == worker_name]
    if not addresses:
        return []
    processing = client.processing(workers=addresses)
    return [str(k) for keys in processing.values() for k in keys if "run_task" in str(k)]


def _run_with_a_killed_worker(cluster: Cluster, root: Path, out: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Worker "a" alone, batch started, "a" killed mid-series, then worker "b" joins."""
    from dask.distributed import Client

    cluster.start_worker("a")
    with Client(cluster.address, timeout=START_TIMEOUT) as client:
        client.wait_for_workers(1, timeout=START_TIMEOUT)
        argv = [str(BIN / "vtkdicom-app"), "-q", "batch", str(root), "-o", str(out), "--job", "stats", "--scheduler", cluster.address]
        batch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=cluster.env, cwd=cluster.logdir)
        try:
            lost = _wait("worker a running a series", lambda: _processing_on(client, "a"), cluster, batch)
            cluster.kill("a")
            _wait("the scheduler to drop worker a", lambda: not client.scheduler_info()["workers"], cluster, batch, timeout=60)
            time.sleep(1.0)  # the batch now waits with no worker at all
            assert batch.poll() is None, "the batch ended while no worker was there"
            cluster.start_worker("b")  # joins late
            stdout, _ = batch.communicate(timeout=300)
        finally:
            if batch.poll() is None:
                batch.kill()
                batch.wait()
    return subprocess.CompletedProcess(argv, batch.returncode, stdout.decode(errors="replace"), ""), lost


def _manifest(out: Path) -> list[dict[str, Any]]:
    rows = json.loads((out / "manifest.json").read_text())
    assert isinstance(rows, list)
    return rows


def _check_ok_rows(rows: list[dict[str, Any]], out: Path, expected: dict[str, dict[str, Any]]) -> None:
    from vtkdicom_app.batch import find_series

    by_key = {t.key: str(Path(t.files[0]).parent) for t in find_series(Path(next(iter(expected))).parent)}
    for row in rows:
        if row["status"] != "ok":
            continue
        got = json.loads((out / row["output"]).read_text())
        want = expected[by_key[row["key"]]]
        assert got["count"] == want["count"]
        assert got["mean"] == pytest.approx(want["mean"], rel=1e-9, abs=1e-9)
        assert got["std"] == pytest.approx(want["std"], rel=1e-9, abs=1e-9)


def test_a_killed_worker_and_a_late_worker_finish_every_study(studies: Any, make_cluster: Any, tmp_path: Path) -> None:
    root, expected = studies
    cluster = make_cluster()
    out = tmp_path / "out"
    proc, lost = _run_with_a_killed_worker(cluster, root, out)
    assert lost, "worker a was never seen running a series"
    assert proc.returncode == 0, proc.stdout
    assert f"{N_STUDIES} series: {N_STUDIES} done" in proc.stdout
    rows = _manifest(out)
    assert len(rows) == N_STUDIES and {r["status"] for r in rows} == {"ok"}
    _check_ok_rows(rows, out, expected)
    assert "Remove worker" in cluster.log("scheduler") or "lost" in cluster.log("scheduler").lower()


def test_series_lost_beyond_the_allowed_failures_are_error_rows(studies: Any, make_cluster: Any, tmp_path: Path) -> None:
    root, expected = studies
    cluster = make_cluster(DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")
    out = tmp_path / "out"
    proc, lost = _run_with_a_killed_worker(cluster, root, out)
    assert lost
    rows = _manifest(out)
    assert len(rows) == N_STUDIES, proc.stdout  # every study has its row: none dropped, none twice
    errors = [r for r in rows if r["status"] == "error"]
    assert errors, f"no series was reported lost: {proc.stdout}"
    assert all("KilledWorker" in r["error"] for r in errors), errors
    assert proc.returncode == 1, proc.stdout
    # a lost series is counted as failed; a lost scan of a study folder is a folder row
    lost_series = [r for r in errors if r.get("folder") is None]
    lost_scans = [r for r in errors if r.get("folder") is not None]
    assert f"{len(lost_series)} failed" in proc.stdout
    assert all(r["error"].startswith(f"scanning {r['folder']}/ failed: KilledWorker") for r in lost_scans), lost_scans
    _check_ok_rows(rows, out, expected)


def test_a_cluster_without_workers_ends_in_error_rows_when_the_scheduler_times_out(studies: Any, make_cluster: Any, tmp_path: Path) -> None:
    """``distributed.scheduler.no-workers-timeout`` set where the scheduler runs: the batch
    does not wait for ever for workers that never come; every study is an error row."""
    root, _expected = studies
    cluster = make_cluster(DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT="2s")
    out = tmp_path / "out"
    argv = [str(BIN / "vtkdicom-app"), "-q", "batch", str(root), "-o", str(out), "--job", "stats", "--scheduler", cluster.address]
    proc = subprocess.run(argv, capture_output=True, text=True, env=cluster.env, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = _manifest(out)
    assert len(rows) == N_STUDIES  # the scan of each study folder timed out: one row each
    assert all(r["status"] == "error" and "NoWorkerError" in r["error"] for r in rows), rows
    assert sorted(r["folder"] for r in rows) == sorted(f"study{n}" for n in range(N_STUDIES))
