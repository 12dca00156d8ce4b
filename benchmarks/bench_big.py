"""Big volumes and the speed floor (issue 16): time and peak memory of whole commands.

Three sections (``--only`` picks some; default all):

* ``decode``: a 512x512x300 CT written as JPEG 2000 lossless and as JPEG-LS lossless (the
  same voxels), loaded in this process with ``workers=1`` and ``workers=2`` (compressed files
  go to helper processes, see ``vtkdicom_app.io.pixels``) and by SimpleITK's
  ``ImageSeriesReader`` (GDCM) on the same files; voxels checked equal. Targets: 2 workers
  >= 1.8x faster than 1; 2 workers faster than SimpleITK.
* ``big``: CT phantoms (default 512x512x2000 and 1024x1024x1000; ``--quick``: 512x512x600;
  ``--sizes``) written once into ``--dir`` (default under /tmp, outside the repository).
  Each step runs in a fresh process whose wall time and peak RSS (``RUSAGE_CHILDREN`` of a
  wrapper process: the kernel's high-water mark, VTK's C++ allocations included) are
  reported, the RSS as a multiple of the volume's int16 bytes: ``vda.load``, the first
  volume-rendered frame (``vtkdicom-app render``), ``vtkdicom-app export-mesh`` (bone), and
  a ``roi`` + ``stride=2`` load of the central half box (after a headers-only ``scan`` step
  for reference). Targets: load <= 1.2x, render <= 1.5x, export-mesh <= 2x; the roi/stride
  load's RSS above the scan's <= 1.5x the cropped volume; the viewer's first frame
  (``vtkdicom-app view --screenshot`` on Xvfb: load, first render of every view, the PNG)
  <= 1.5x and < 5 s (``--no-viewer`` leaves it out). The RSS is the largest single
  process's, so Xvfb's own memory is not added to the viewer's.
* ``cluster``: ``vtkdicom-app batch --job stats --scheduler tcp://...`` against a ``dask
  scheduler`` and ``dask worker`` processes started separately on 127.0.0.1: series per
  minute with 1 and 2 workers (warmed up), and a run where one of the 2 workers is killed
  mid-run (the batch must still finish every study). Target: 2 workers >= 1.8x 1 worker.

The machine is shared: the load average is printed with each section; ratios are what count.

Usage: ``python benchmarks/bench_big.py [--quick] [--only decode,big,cluster] [--dir DIR]
[--sizes 512x512x2000,1024x1024x1000] [--repeat 3] [--no-viewer] [--no-append]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import publish

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_DIR = Path(tempfile.gettempdir()) / "vtkdicom_app_bench_big"
FULL_SIZES = "512x512x2000,1024x1024x1000"
QUICK_SIZES = "512x512x600"
DECODE_SHAPE = (300, 512, 512)
MiB = float(1 << 20)


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def _parse_sizes(text: str) -> list[tuple[int, int, int]]:
    """``512x512x2000`` (columns x rows x slices) -> (slices, rows, columns)."""
    out = []
    for item in text.split(","):
        c, r, s = (int(v) for v in item.lower().split("x"))
        out.append((s, r, c))
    return out


# ------------------------------------------------------------------------------ phantoms
def _ensure(folder: Path, write: Callable[[Path], object], what: str) -> Path:
    """Write a phantom once: a ``.complete`` marker says it is whole."""
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"writing {what} to {folder} ...", flush=True)
    t = time.perf_counter()
    write(folder)
    (folder / ".complete").write_text("ok")
    print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)
    return folder


def _write_ct(shape: tuple[int, int, int], **kw: Any) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        from vtkdicom_app.testing.phantom import write_phantom

        slices, rows, cols = shape
        spacing = 0.7 * 512 / max(rows, cols)  # the same body at every size

        def progress(done: int, total: int) -> None:
            if done % 200 == 0 or done == total:
                print(f"  {done}/{total}", flush=True)

        write_phantom(
            folder, rows=rows, columns=cols, slices=slices, pixel_spacing=(spacing, spacing), slice_spacing=spacing, noise_sd=10.0, progress=progress, **kw
        )

    return write


def _write_jpegls(native: Path) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        import pydicom
        from pydicom.uid import JPEGLSLossless

        for f in sorted(p for p in native.iterdir() if p.suffix == ".dcm"):
            ds = pydicom.dcmread(f)
            ds.compress(JPEGLSLossless, encoding_plugin="pyjpegls")
            ds.save_as(folder / f.name)

    return write


# ------------------------------------------------------------------------------ processes
_WRAPPER = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
                  "rc": p.returncode, "out": p.stdout[-2000:], "err": p.stderr[-2000:]}))
"""


def measured(argv: list[str]) -> dict[str, Any]:
    """Wall seconds, peak RSS (bytes) and output of ``argv`` run in a fresh process.

    The peak is the largest single process's (a wrapper's RUSAGE_CHILDREN): helper
    processes of a compressed load would be counted separately, not summed.
    """
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _py(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


LOAD = "import sys, vtkdicom_app as vda; v = vda.load(sys.argv[1]); print(v.array.shape, v.array.dtype)"
SCAN = "import sys, vtkdicom_app as vda; s = vda.scan(sys.argv[1]); print(len(s))"
IMPORTED = "import vtkdicom_app as vda, numpy; from vtkdicom_app.io.loader import load; print('ok')"
ROI_LOAD = (
    "import json, sys, numpy as np, vtkdicom_app as vda\n"
    "lo, hi = (np.asarray(v, float) for v in json.loads(sys.argv[2]))\n"
    "v = vda.load(sys.argv[1], roi=(tuple(lo), tuple(hi)), stride=2)\n"
    "print(json.dumps({'shape': list(v.array.shape), 'bytes': int(v.array.nbytes)}))\n"
)


def _roi_box(folder: Path) -> list[list[float]]:
    """The central half (in each axis) of the volume's LPS bounding box."""
    import numpy as np

    import vtkdicom_app as vda

    vol = vda.load(folder, stride=8)  # cheap: every 8th voxel, for the corners only
    corners = np.asarray(_corners(vol))
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    q = (hi - lo) / 4
    return [list(map(float, lo + q)), list(map(float, hi - q))]


def _corners(vol: Any) -> Any:
    import numpy as np

    nk, nj, ni = vol.array.shape
    idx = np.array([[i, j, k, 1.0] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)])
    return (idx @ np.asarray(vol.affine).T)[:, :3]


# ------------------------------------------------------------------------------ sections
def _cpu_seconds() -> float:
    """CPU seconds of this process and of its decoder helper processes (alive or not)."""
    import psutil

    from vtkdicom_app.io import pixels

    total = sum(psutil.Process().cpu_times()[:2])
    for helper in list(pixels._IDLE_HELPERS):
        pid = helper.proc.pid
        _HELPER_CPU[pid] = max(_HELPER_CPU.get(pid, 0.0), _proc_cpu(pid))
    return total + sum(_HELPER_CPU.values())


_HELPER_CPU: dict[int, float] = {}


def _proc_cpu(pid: int) -> float:
    import psutil

    try:
        return float(sum(psutil.Process(pid).cpu_times()[:2]))
    except psutil.Error:
        return _HELPER_CPU.get(pid, 0.0)


def section_decode(data: Path, repeat: int) -> list[str]:
    import numpy as np
    import SimpleITK as sitk

    import vtkdicom_app as vda
    from vtkdicom_app.testing.phantom import TransferSyntax

    native = _ensure(data / "ct512x300_native", _write_ct(DECODE_SHAPE), "the 512x512x300 CT (native, for JPEG-LS)")
    series = {
        "JPEG 2000 lossless": _ensure(
            data / "ct512x300_j2k", _write_ct(DECODE_SHAPE, transfer_syntax=TransferSyntax.JPEG2000_LOSSLESS), "the 512x512x300 CT as JPEG 2000"
        ),
        "JPEG-LS lossless": _ensure(data / "ct512x300_jls", _write_jpegls(native), "the 512x512x300 CT as JPEG-LS"),
    }
    lines = [
        f"## bench_big decode {datetime.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} CPUs, load average {_load()} at the start; 512x512x300 CT, {repeat} runs after one warm-up each (helpers started), warm page cache",
        "",
        "| series | workers=1 s | workers=2 s | 1/2 | SimpleITK s | SimpleITK / workers=2 | CPU s w=1 / w=2 / SimpleITK | voxels equal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []

    def sitk_read(folder: Path) -> Any:
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
        return reader.Execute()

    for name, folder in series.items():
        ref = vda.load(native).array
        times: dict[str, list[float]] = {"1": [], "2": [], "sitk": []}
        cpu: dict[str, list[float]] = {"1": [], "2": [], "sitk": []}
        a1 = vda.load(folder, workers=1).array
        a2 = vda.load(folder, workers=2).array
        image = sitk_read(folder)
        same = bool(np.array_equal(a1, ref) and np.array_equal(a2, ref) and np.array_equal(sitk.GetArrayViewFromImage(image), ref))
        del image, a1, a2
        for _ in range(repeat):  # interleaved, so a busy moment of the machine hits all alike
            for key, fn in (("1", lambda: vda.load(folder, workers=1)), ("2", lambda: vda.load(folder, workers=2)), ("sitk", lambda: sitk_read(folder))):
                c0 = _cpu_seconds()
                t = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t)
                cpu[key].append(_cpu_seconds() - c0)
        m = {k: statistics.median(v) for k, v in times.items()}
        c = {k: statistics.median(v) for k, v in cpu.items()}
        speedup, vs_sitk = m["1"] / m["2"], m["sitk"] / m["2"]
        lines.append(
            f"| {name} | {m['1']:.2f} | {m['2']:.2f} | {speedup:.2f}x | {m['sitk']:.2f} | {vs_sitk:.2f}x | {c['1']:.1f} / {c['2']:.1f} / {c['sitk']:.1f} | {same} |"
        )
        notes.append(
            f"- {name}: CPU work with 2 workers is {c['2'] / c['1']:.2f}x that of 1 (this process + helpers); on 2 otherwise idle cores "
            f"that predicts 1/2 = {2 * c['1'] / c['2']:.2f}x and SimpleITK / workers=2 = {2 * c['sitk'] / c['2']:.2f}x"
        )
        notes.append(
            f"- {name}: 2 workers / 1 = {speedup:.2f}x (target >= 1.8x): {_verdict(speedup >= 1.8)}; faster than SimpleITK ({vs_sitk:.2f}x): {_verdict(vs_sitk > 1.0)}"
        )
    lines += ["", *notes, f"- load average at the end: {_load()}"]
    return lines


def section_big(data: Path, sizes: list[tuple[int, int, int]], *, viewer: bool = True) -> list[str]:
    vtkapp = str(BIN / "vtkdicom-app")
    lines = [
        f"## bench_big big volumes {datetime.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} CPUs, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB RAM, load average {_load()} at the start; "
        "each step a fresh process; RSS = its peak resident memory (VTK included); x = RSS / the volume's int16 bytes",
        "",
        "| volume | step | s | peak RSS MiB | x volume | target | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    base = measured(_py(IMPORTED))
    base_rss = base["rss"]
    notes = [f"- an interpreter that imported the library: {base_rss / MiB:.0f} MiB"]
    work = Path(tempfile.mkdtemp(prefix="bench_big_"))
    try:
        for shape in sizes:
            slices, rows, cols = shape
            label = f"{cols}x{rows}x{slices}"
            folder = _ensure(data / f"ct{label}", _write_ct(shape), f"the {label} CT ({slices * rows * cols * 2 / 2**30:.2f} GiB)")
            nbytes = slices * rows * cols * 2
            # (name, command, RSS target as a multiple of the volume, seconds target or None)
            steps: list[tuple[str, list[str], float, float | None]] = [
                ("load", _py(LOAD, str(folder)), 1.2, None),
                ("render (first VR frame)", [vtkapp, "render", str(folder), "-o", str(work / f"{label}.png"), "-q"], 1.5, None),
                ("export-mesh (bone)", [vtkapp, "export-mesh", str(folder), "-o", str(work / f"{label}.stl"), "-q"], 2.0, None),
            ]
            if viewer:
                shot = str(work / f"{label}_viewer.png")
                steps.append(("viewer first frame (view --screenshot, Xvfb)", [vtkapp, "-q", "view", str(folder), "--screenshot", shot], 1.5, 5.0))
            for name, argv, target, seconds in steps:
                r = measured(argv)
                x = r["rss"] / nbytes
                goal = f"<= {target}x" + (f", < {seconds:g} s" if seconds is not None else "")
                ok = x <= target and (seconds is None or r["wall"] < seconds)
                verdict = _verdict(ok) if r["rc"] == 0 else f"FAILED (exit {r['rc']})"
                lines.append(f"| {label} | {name} | {r['wall']:.1f} | {r['rss'] / MiB:.0f} | {x:.2f}x | {goal} | {verdict} |")
                if r["rc"] != 0:
                    notes.append(f"- {label} {name} exit {r['rc']}: {r['err'][-600:]}")
            scanned = measured(_py(SCAN, str(folder)))
            lines.append(f"| {label} | scan (headers only) | {scanned['wall']:.1f} | {scanned['rss'] / MiB:.0f} | {scanned['rss'] / nbytes:.2f}x | | |")
            box = _roi_box(folder)
            r = measured(_py(ROI_LOAD, str(folder), json.dumps(box)))
            if r["rc"] == 0:
                info = json.loads(r["out"].strip().splitlines()[-1])
                above = (r["rss"] - scanned["rss"]) / max(info["bytes"], 1)
                lines.append(
                    f"| {label} | roi (central half box) + stride 2 -> {'x'.join(map(str, info['shape'][::-1]))} | {r['wall']:.1f} | {r['rss'] / MiB:.0f} | "
                    f"{r['rss'] / nbytes:.2f}x | above the scan <= 1.5x the crop | {_verdict(above <= 1.5)} ({above:.2f}x the crop) |"
                )
            else:
                lines.append(f"| {label} | roi + stride 2 | {r['wall']:.1f} | {r['rss'] / MiB:.0f} | | | FAILED (exit {r['rc']}) |")
                notes.append(f"- roi load: {r['err'][-600:]}")
            if not viewer:
                lines.append(f"| {label} | viewer first frame | | | | <= 1.5x, < 5 s | skipped (--no-viewer) |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [*lines, "", *notes, f"- load average at the end: {_load()}"]


# ------------------------------------------------------------------------------ cluster
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Cluster:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._start("scheduler", [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"])
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the dask scheduler did not start")

    def _start(self, name: str, argv: list[str]) -> None:
        with open(self.logs / f"{name}.log", "wb") as log:
            self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)

    def worker(self, name: str) -> None:
        argv = [str(BIN / "dask"), "worker", self.address, "--name", name, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard"]
        self._start(name, argv)

    def kill(self, name: str) -> None:
        try:
            os.killpg(self.procs[name].pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.procs[name].wait()

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name)

    def cpu(self) -> float:
        """CPU seconds so far of the scheduler, nannies and workers (their process trees)."""
        import psutil

        total = 0.0
        for proc in self.procs.values():
            try:
                root = psutil.Process(proc.pid)
                for p in [root, *root.children(recursive=True)]:
                    total += sum(p.cpu_times()[:2])
            except psutil.Error:
                pass
        return total


def _client_cpu() -> float:
    """CPU seconds of the waited-for child processes (the batch commands)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def section_cluster(data: Path, n_studies: int) -> list[str]:
    from dask.distributed import Client

    from vtkdicom_app.testing.phantom import write_phantom

    def write(folder: Path) -> None:
        for n in range(n_studies):
            write_phantom(folder / f"study{n:02d}", rows=384, columns=384, slices=160, pixel_spacing=(0.9, 0.9), slice_spacing=1.2, noise_sd=10.0, seed=500 + n)

    cohort = _ensure(data / f"cohort{n_studies}_384", write, f"{n_studies} studies of 384x384x160")
    warm = _ensure(data / "cohort_warm", lambda f: write_phantom(f / "study", rows=64, columns=64, slices=16, seed=1), "a warm-up study")
    work = Path(tempfile.mkdtemp(prefix="bench_cluster_"))
    vtkapp = str(BIN / "vtkdicom-app")
    lines = [
        f"## bench_big cluster {datetime.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"`dask scheduler` + `dask worker --nthreads 1` processes on 127.0.0.1 (started separately, nannies on), "
        f"`vtkdicom-app batch --job stats --scheduler`; {n_studies} studies of 384x384x160; {os.cpu_count()} CPUs, load average {_load()} at the start",
        "",
        "| set-up | command s | series/min | task s (sum of rows) | CPU s (cluster + client) | all done | exit |",
        "|---|---|---|---|---|---|---|",
    ]
    rates: dict[str, float] = {}
    cpu: dict[str, float] = {}
    try:
        for n_workers in (1, 2):
            logs = work / f"w{n_workers}"
            logs.mkdir()
            cluster = _Cluster(logs)
            try:
                for w in range(n_workers):
                    cluster.worker(f"w{w}")
                with Client(cluster.address, timeout=300) as client:
                    client.wait_for_workers(n_workers, timeout=300)
                    # warm-up: every worker imports the library and VTK once
                    subprocess.run(
                        [vtkapp, "-q", "batch", str(warm), "-o", str(logs / "warm"), "--job", "stats", "--scheduler", cluster.address],
                        check=True,
                        capture_output=True,
                    )
                    client.run(lambda: __import__("vtkdicom_app.analysis"))
                    cpu0 = cluster.cpu() + _client_cpu()
                    t = time.perf_counter()
                    p = subprocess.run(
                        [vtkapp, "-q", "batch", str(cohort), "-o", str(logs / "out"), "--job", "stats", "--scheduler", cluster.address],
                        capture_output=True,
                        text=True,
                    )
                    dt = time.perf_counter() - t
                    cpu[str(n_workers)] = cluster.cpu() + _client_cpu() - cpu0
                rows = json.loads((logs / "out" / "manifest.json").read_text())
                done = sum(r["status"] == "ok" for r in rows)
                rates[str(n_workers)] = n_studies / dt * 60
                task_s = sum(float(r["seconds"]) for r in rows)
                lines.append(
                    f"| {n_workers} worker(s) | {dt:.1f} | {rates[str(n_workers)]:.0f} | {task_s:.1f} | {cpu[str(n_workers)]:.1f} | {done}/{n_studies} | {p.returncode} |"
                )
            finally:
                cluster.close()
        # one of two workers killed once the batch has a series running on it
        logs = work / "killed"
        logs.mkdir()
        cluster = _Cluster(logs)
        try:
            cluster.worker("a")
            cluster.worker("b")
            with Client(cluster.address, timeout=300) as client:
                client.wait_for_workers(2, timeout=300)
                subprocess.run(
                    [vtkapp, "-q", "batch", str(warm), "-o", str(logs / "warm"), "--job", "stats", "--scheduler", cluster.address],
                    check=True,
                    capture_output=True,
                )
                t = time.perf_counter()
                batch = subprocess.Popen(
                    [vtkapp, "-q", "batch", str(cohort), "-o", str(logs / "out"), "--job", "stats", "--scheduler", cluster.address],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                killed_at = None
                while batch.poll() is None and killed_at is None:
                    workers = client.scheduler_info()["workers"]
                    addr = [a for a, w in workers.items() if w.get("name") == "a"]
                    running = client.processing(workers=addr) if addr else {}
                    if any("run_task" in str(k) for keys in running.values() for k in keys):
                        done_before = sum(1 for _ in open(logs / "out" / "manifest.jsonl")) if (logs / "out" / "manifest.jsonl").exists() else 0
                        cluster.kill("a")
                        killed_at = (time.perf_counter() - t, done_before)
                    time.sleep(0.05)
                batch.communicate()
                dt = time.perf_counter() - t
            rows = json.loads((logs / "out" / "manifest.json").read_text())
            done = sum(r["status"] == "ok" for r in rows)
            when = f"killed at {killed_at[0]:.1f} s after {killed_at[1]} series" if killed_at else "never killed: the batch ended first"
            task_s = sum(float(r["seconds"]) for r in rows)
            lines.append(
                f"| 2 workers, one SIGKILLed mid-run ({when}) | {dt:.1f} | {n_studies / dt * 60:.0f} | {task_s:.1f} | | {done}/{n_studies} | {batch.returncode} |"
            )
        finally:
            cluster.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = rates["2"] / rates["1"]
    return [
        *lines,
        "",
        f"- 2 workers / 1 = {ratio:.2f}x (target >= 1.8x): {_verdict(ratio >= 1.8)}",
        f"- CPU work with 2 workers is {cpu['2'] / cpu['1']:.2f}x that of 1; the sum of task times grows when the second core is not free "
        "(other jobs on the machine): compare the load average",
        f"- load average at the end: {_load()}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"where the phantoms are written once (default {DEFAULT_DIR})")
    parser.add_argument("--sizes", default=None, help=f"big volumes, CxRxS comma-separated (default {FULL_SIZES})")
    parser.add_argument("--quick", action="store_true", help=f"big volumes {QUICK_SIZES} only")
    parser.add_argument("--only", default="decode,big,cluster", help="sections: decode, big, cluster")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--studies", type=int, default=20, help="cluster section: studies in the cohort")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    parser.add_argument("--no-viewer", action="store_true", help="big section: leave out the viewer's first frame (view --screenshot on Xvfb)")
    args = parser.parse_args(argv)
    sizes = _parse_sizes(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    args.dir.mkdir(parents=True, exist_ok=True)
    import numpy
    import vtkmodules

    header = f"{platform.machine()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {numpy.__version__}, vtk {vtkmodules.__version__}"
    print(header, flush=True)
    for name in [s.strip() for s in args.only.split(",") if s.strip()]:
        section = {
            "decode": lambda: section_decode(args.dir, args.repeat),
            "big": lambda: section_big(args.dir, sizes, viewer=not args.no_viewer),
            "cluster": lambda: section_cluster(args.dir, args.studies),
        }[name]
        publish(section(), append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
