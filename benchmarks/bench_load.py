"""Loading speed: ``vtkdicom_app.load`` against SimpleITK, vtkDICOMImageReader and a raw read.

What it measures
----------------
1. Writes, once, a 512x512x300 uncompressed CT phantom with shuffled file names with
   ``vtkdicom_app.phantom.write_phantom`` into ``--data DIR`` (default
   ``benchmarks/.data/ct512x300``); the folder is reused when it already holds 300 files.
2. In one process, after all imports and one warm-up run of each contender, times
   ``--repeat`` runs (median and min, ``time.perf_counter``) of

   * ``vtkdicom_app.load(folder)`` -- the function under test (its result must have shape
     ``(300, 512, 512)``);
   * ``vtkdicom_app.load(folder, backend="vtk")`` -- an extra row ("n/a: reason" on failure);
   * SimpleITK: ``ImageSeriesReader.GetGDCMSeriesFileNames`` + ``SetFileNames`` + ``Execute``
     (the conversion to numpy is not timed);
   * ``vtkDICOMImageReader``: a new reader per run, ``SetDirectoryName`` + ``Update``;
   * a raw read of every file's bytes (``open(f, "rb").read()``, folder listing included):
     the floor.

   All contenders read from a warm page cache (after the warm-up); the OS page cache is not
   dropped (that needs root). Each run's result is kept alive until the clock has stopped, so
   freeing the previous volume is never timed.
3. In separate processes: the import time of ``from vtkdicom_app.io.loader import load``
   (median of 3 fresh interpreters), and the wall time and peak RSS of a whole
   ``vtkdicom-app info FOLDER --json`` (``os.wait4`` rusage of exactly that child, started
   from a small wrapper interpreter so that this big process's memory is not counted).

4. A Siemens mosaic row: ``vda.load`` of one mosaic file (64 tiles of 128x128) against the
   same number of voxels as 64 plain slices (target: the mosaic costs at most 1.10x).

Targets: ``vda.load`` at least 3x faster than SimpleITK, at least 1.5x faster than
vtkDICOMImageReader, within 4x of the raw read (median against median); ``info`` peak RSS at
most 1.2 x the volume's bytes (300*512*512*2) + 100 MiB. Each is printed as PASS or MISS.

The table, with a date/time header and the machine's details, is appended to
``benchmarks/RESULTS.md`` (created with a title if missing) unless ``--no-append``.

Run::

    python benchmarks/bench_load.py [--repeat 5] [--data DIR] [--no-append]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATA = HERE / ".data" / "ct512x300"
SHAPE = (300, 512, 512)  # (slices, rows, columns)
VOLUME_BYTES = SHAPE[0] * SHAPE[1] * SHAPE[2] * 2
MIB = 2**20
RSS_LIMIT_BYTES = 1.2 * VOLUME_BYTES + 100 * MIB

PHANTOM_POLL_S = 30.0
PHANTOM_WAIT_S = 15 * 60.0

# Keyword names the brief uses, with spellings a differently written write_phantom might use.
_PHANTOM_ALIASES: dict[str, tuple[str, ...]] = {
    "rows": ("rows", "n_rows", "nrows", "height", "ny"),
    "columns": ("columns", "cols", "n_columns", "ncols", "width", "nx"),
    "slices": ("slices", "n_slices", "nslices", "depth", "nz", "num_slices"),
    "pixel_spacing": ("pixel_spacing", "spacing_xy", "in_plane_spacing", "pixel_size"),
    "slice_spacing": ("slice_spacing", "spacing_z", "slice_thickness", "z_spacing"),
    "shuffle_names": ("shuffle_names", "shuffle", "shuffled_names", "shuffle_files"),
}


# --------------------------------------------------------------------------- phantom


def _wait_for_phantom_module() -> None:
    """Poll for ``vtkdicom_app/phantom.py`` every 30 s, up to 15 minutes."""
    deadline = time.monotonic() + PHANTOM_WAIT_S
    while importlib.util.find_spec("vtkdicom_app.phantom") is None:
        if time.monotonic() > deadline:
            raise SystemExit("vtkdicom_app/phantom.py did not appear within 15 minutes")
        print("waiting for vtkdicom_app/phantom.py (polling every 30 s) ...", flush=True)
        time.sleep(PHANTOM_POLL_S)
        importlib.invalidate_caches()


def _phantom_kwargs(write_phantom: Callable[..., Any]) -> dict[str, Any]:
    """Map the wanted arguments onto the keyword names ``write_phantom`` really has."""
    wanted: dict[str, Any] = {
        "rows": SHAPE[1],
        "columns": SHAPE[2],
        "slices": SHAPE[0],
        "pixel_spacing": (0.7, 0.7),
        "slice_spacing": 1.0,
        "shuffle_names": True,
    }
    params = inspect.signature(write_phantom).parameters
    kwargs: dict[str, Any] = {}
    for key, value in wanted.items():
        name = next((n for n in _PHANTOM_ALIASES[key] if n in params), None)
        if name is None:
            raise SystemExit(f"write_phantom{inspect.signature(write_phantom)} has no parameter for {key!r}")
        if name != key:
            print(f"  note: write_phantom calls {key!r} {name!r}", flush=True)
        kwargs[name] = value
    return kwargs


def ensure_mosaic_pair(root: Path) -> tuple[Path, Path]:
    """A one-file Siemens mosaic (64 tiles of 128x128) and 64 plain 128x128 slices, written once."""
    mosaic, plain = root / "mosaic64x128", root / "plain64x128"
    if not mosaic.is_dir() or len(list(mosaic.iterdir())) != 1:
        from vtkdicom_app.phantom_mr import write_mosaic

        write_mosaic(mosaic, rows=128, columns=128, slices=64, pixel_spacing=(2.0, 2.0), slice_spacing=2.0)
    if not plain.is_dir() or len(list(plain.iterdir())) != 64:
        from vtkdicom_app.phantom import write_phantom

        write_phantom(plain, rows=128, columns=128, slices=64, pixel_spacing=(2.0, 2.0), slice_spacing=2.0, shuffle_names=True)
    return mosaic, plain


def _list_files(folder: Path) -> list[str]:
    with os.scandir(folder) as it:
        return sorted(e.path for e in it if e.is_file())


def ensure_phantom(folder: Path) -> None:
    """Write the phantom into ``folder`` unless it already holds the right number of files."""
    if folder.is_dir() and len(_list_files(folder)) == SHAPE[0]:
        print(f"reusing the phantom in {folder}", flush=True)
        return
    _wait_for_phantom_module()
    from vtkdicom_app.phantom import write_phantom

    kwargs = _phantom_kwargs(write_phantom)
    folder.parent.mkdir(parents=True, exist_ok=True)
    print(f"writing the {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} phantom to {folder} ...", flush=True)
    t = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=folder.parent))
    try:
        write_phantom(tmp, **kwargs)
        n = len(_list_files(tmp))
        if n != SHAPE[0]:
            raise SystemExit(f"write_phantom wrote {n} files, expected {SHAPE[0]} (left in {tmp})")
        if folder.exists():  # wrong number of files: keep it aside rather than delete it
            aside = folder.with_name(f"{folder.name}.old-{int(time.time())}")
            folder.rename(aside)
            print(f"  moved the incomplete {folder} to {aside}", flush=True)
        tmp.rename(folder)
    except BaseException:
        if tmp.exists() and not any(tmp.iterdir()):
            tmp.rmdir()
        raise
    print(f"  done in {time.perf_counter() - t:.1f} s", flush=True)


# --------------------------------------------------------------------------- timing


class Row:
    """One contender's timings, or the reason it has none."""

    def __init__(self, name: str, median: float | None = None, best: float | None = None, error: str = "") -> None:
        self.name = name
        self.median = median
        self.best = best
        self.error = error

    @property
    def ok(self) -> bool:
        return self.median is not None


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def time_contender(name: str, fn: Callable[[], object], repeat: int) -> Row:
    """One warm-up run, then ``repeat`` timed runs; the result lives until the clock stops."""
    try:
        result = fn()  # warm-up
        del result
        times: list[float] = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
            del result
    except Exception as exc:  # noqa: BLE001  (reported, never fatal)
        row = Row(name, error=_error_text(exc))
    else:
        row = Row(name, statistics.median(times), min(times))
    if row.ok:
        print(f"  {name:28s} median {row.median:.3f} s  min {row.best:.3f} s", flush=True)
    else:
        print(f"  {name:28s} n/a: {row.error}", flush=True)
    return row


# --------------------------------------------------------------------------- subprocesses


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def import_time(runs: int = 3) -> tuple[float | None, str]:
    """Median seconds of ``from vtkdicom_app.io.loader import load`` in fresh interpreters."""
    code = "import time; t=time.perf_counter(); from vtkdicom_app.io.loader import load; print(time.perf_counter()-t)"
    values: list[float] = []
    for _ in range(runs):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=_child_env())
        if p.returncode != 0:
            return None, (p.stderr.strip().splitlines() or [f"exit code {p.returncode}"])[-1]
        values.append(float(p.stdout.strip().splitlines()[-1]))
    return statistics.median(values), ""


def _info_command(folder: Path) -> list[str]:
    script = Path(sys.executable).parent / "vtkdicom-app"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "info", str(folder), "--json"]
    return [sys.executable, "-m", "vtkdicom_app", "info", str(folder), "--json"]


# A small fresh interpreter starts the child and reports ``os.wait4``'s rusage of exactly that
# child. Starting it from this (big) process instead would count this process's memory: Linux
# carries the pre-exec high-water RSS of the forked/vforked copy into the child's ru_maxrss.
_INFO_WRAPPER = """
import json, os, subprocess, sys, tempfile, time
with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    t0 = time.perf_counter()
    p = subprocess.Popen(sys.argv[1:], stdout=out, stderr=err)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    res = {"wall": wall, "rc": p.returncode, "stdout": out.read().decode(errors="replace"),
           "stderr": err.read().decode(errors="replace"),
           "rss": usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)}
print(json.dumps(res))
"""


def info_process(folder: Path) -> dict[str, Any]:
    """Wall time, peak RSS and outcome of a whole ``vtkdicom-app info FOLDER --json`` process."""
    cmd = _info_command(folder)
    p = subprocess.run([sys.executable, "-c", _INFO_WRAPPER, *cmd], capture_output=True, text=True, cwd=ROOT, env=_child_env())
    shown = [Path(cmd[0]).name, *(os.path.relpath(a, ROOT) if os.path.isabs(a) and a.startswith(str(ROOT)) else a for a in cmd[1:])]
    result: dict[str, Any] = {"cmd": " ".join(shown), "wall": float("nan"), "rss": 0, "rc": None, "error": "", "shape": None}
    try:
        child = json.loads(p.stdout)
    except ValueError:
        result["error"] = f"wrapper failed (exit code {p.returncode}): {p.stderr.strip() or p.stdout.strip()}"
        return result
    result.update(wall=child["wall"], rss=child["rss"], rc=child["rc"])
    if child["rc"] != 0:
        result["error"] = child["stderr"].strip() or child["stdout"].strip() or f"exit code {child['rc']}"
        return result
    try:
        report = json.loads(child["stdout"])
        result["shape"] = tuple((report.get("loaded") or {}).get("shape_kji") or ()) or None
    except ValueError as exc:
        result["error"] = f"output is not JSON ({exc}): {child['stdout'][:200]!r}"
    return result


# --------------------------------------------------------------------------- report


def _versions() -> str:
    import numpy as np
    import pydicom
    import SimpleITK as sitk
    from vtkmodules.vtkCommonCore import vtkVersion

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, vtk {vtkVersion.GetVTKVersion()}, "
        f"SimpleITK {sitk.Version.VersionString()}, pydicom {pydicom.__version__}, numpy {np.__version__}"
    )


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and (unless ``--no-append``) append it to RESULTS.md."""
    parser = argparse.ArgumentParser(description="Time vtkdicom_app.load against its peers (see the module docstring).")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per contender (default 5)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"phantom folder (default {DEFAULT_DATA.relative_to(ROOT)})")
    parser.add_argument("--no-append", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")

    folder: Path = args.data.resolve()
    ensure_phantom(folder)

    # every import before any timing
    import numpy as np
    import SimpleITK as sitk
    from vtkmodules.vtkIOImage import vtkDICOMImageReader

    import vtkdicom_app as vda

    vda_load = vda.load  # resolve the lazy attribute (imports the loader) outside the clock
    folder_s = str(folder)

    def run_vda() -> object:
        vol = vda_load(folder)
        if tuple(vol.array.shape) != SHAPE:
            raise AssertionError(f"vda.load returned shape {tuple(vol.array.shape)}, expected {SHAPE}")
        return vol

    def run_vda_vtk() -> object:
        return vda_load(folder, backend="vtk")

    def run_sitk() -> object:
        reader = sitk.ImageSeriesReader()
        names = reader.GetGDCMSeriesFileNames(folder_s)
        reader.SetFileNames(names)
        return reader.Execute()

    def run_vtk() -> object:
        reader = vtkDICOMImageReader()
        reader.SetDirectoryName(folder_s)
        reader.Update()
        return reader

    def run_raw() -> object:
        blobs = []
        for f in _list_files(folder):
            with open(f, "rb") as fh:
                blobs.append(fh.read())
        return blobs

    # correctness (untimed): same voxels as SimpleITK?
    try:
        ref_image = run_sitk()  # keep the image alive while its array view is used
        same: str = str(bool(np.array_equal(sitk.GetArrayViewFromImage(ref_image), run_vda().array)))  # type: ignore[attr-defined]
        del ref_image
    except Exception as exc:  # noqa: BLE001
        same = f"not checked ({_error_text(exc)})"

    print(f"timing, {args.repeat} runs each after one warm-up:", flush=True)
    names = {
        "vda": "vda.load",
        "vda_vtk": "vda.load(backend='vtk')",
        "sitk": "SimpleITK ImageSeriesReader",
        "vtk": "vtkDICOMImageReader",
        "raw": "raw read of the bytes",
    }
    fns = {"vda": run_vda, "vda_vtk": run_vda_vtk, "sitk": run_sitk, "vtk": run_vtk, "raw": run_raw}
    rows = {key: time_contender(names[key], fns[key], args.repeat) for key in names}

    # a Siemens mosaic row: one file of 64 tiles of 128x128 against the same voxels as 64 plain slices
    mosaic_dir, plain_dir = ensure_mosaic_pair(folder.parent)
    mosaic_row = time_contender("vda.load(mosaic: 64 tiles of 128x128 in one file)", lambda: vda_load(mosaic_dir), args.repeat)
    plain_row = time_contender("vda.load(the same voxels as 64 plain slices)", lambda: vda_load(plain_dir), args.repeat)

    print("import time and `info` process ...", flush=True)
    imp, imp_err = import_time()
    info = info_process(folder)

    base = rows["vda"]

    def peer_ratio(key: str) -> float | None:
        r = rows[key]
        return r.median / base.median if (r.ok and base.ok) else None  # type: ignore[operator]

    raw_ratio = base.median / rows["raw"].median if (base.ok and rows["raw"].ok) else None  # type: ignore[operator]
    ratio_text = {
        "vda": "1.0x (reference)",
        "vda_vtk": "vtk backend / vda = {}",
        "sitk": "SimpleITK / vda = {}",
        "vtk": "vtkDICOMImageReader / vda = {}",
        "raw": "vda / raw = {}",
    }

    def fmt(x: float | None, spec: str = ".3f", unit: str = "") -> str:
        return "n/a" if x is None else f"{x:{spec}}{unit}"

    lines = [
        f"## bench_load {_dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"{_versions()}; phantom {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} uncompressed int16, shuffled names "
        f"({folder.name}); {args.repeat} runs after one warm-up, warm page cache; "
        f"vda.load voxels equal to SimpleITK: {same}",
        "",
        "| contender | median s | min s | ratio |",
        "|---|---|---|---|",
    ]
    for key, row in rows.items():
        if row.ok:
            r = raw_ratio if key == "raw" else peer_ratio(key)
            ratio = ratio_text[key] if key == "vda" else ratio_text[key].format(fmt(r, ".1f", "x"))
            lines.append(f"| {row.name} | {row.median:.3f} | {row.best:.3f} | {ratio} |")
        else:
            lines.append(f"| {row.name} | n/a | n/a | n/a: {row.error.replace('|', '/')} |")

    mosaic_ratio = mosaic_row.median / plain_row.median if (mosaic_row.ok and plain_row.ok) else None  # type: ignore[operator]
    for row in (mosaic_row, plain_row):
        if row.ok:
            lines.append(f"| {row.name} | {row.median:.4f} | {row.best:.4f} | mosaic / plain = {fmt(mosaic_ratio, '.2f', 'x')} |")
        else:
            lines.append(f"| {row.name} | n/a | n/a | n/a: {row.error.replace('|', '/')} |")
    sitk_r, vtk_r = peer_ratio("sitk"), peer_ratio("vtk")
    rss_ok = info["rss"] <= RSS_LIMIT_BYTES if not info["error"] else None
    lines += [
        "",
        f"- SimpleITK / vda = {fmt(sitk_r, '.1f', 'x')} (target >= 3x): {_verdict(None if sitk_r is None else sitk_r >= 3)}",
        f"- vtkDICOMImageReader / vda = {fmt(vtk_r, '.1f', 'x')} (target >= 1.5x): {_verdict(None if vtk_r is None else vtk_r >= 1.5)}",
        f"- vda / raw read = {fmt(raw_ratio, '.1f', 'x')} (target <= 4x): {_verdict(None if raw_ratio is None else raw_ratio <= 4)}",
        f"- mosaic / plain slices = {fmt(mosaic_ratio, '.2f', 'x')} (target <= 1.10x): {_verdict(None if mosaic_ratio is None else mosaic_ratio <= 1.10)}",
    ]
    if info["error"]:
        lines.append(f"- `{info['cmd']}` FAILED (exit code {info['rc']}, {info['wall']:.2f} s): " + info["error"].strip().splitlines()[-1])
    else:
        lines.append(
            f"- `{info['cmd']}` process: {info['wall']:.2f} s wall, peak RSS {info['rss'] / MIB:.0f} MiB "
            f"(target <= 1.2 x {VOLUME_BYTES / MIB:.0f} + 100 = {RSS_LIMIT_BYTES / MIB:.0f} MiB): {_verdict(rss_ok)}"
            + (f"; loaded shape {list(info['shape'])}" if info["shape"] else "; no volume loaded")
        )
    lines.append(
        "- import of the loader (`from vtkdicom_app.io.loader import load`, fresh interpreter, median of 3): "
        + (f"{imp:.3f} s" if imp is not None else f"FAILED: {imp_err}")
    )
    lines.append("")
    text = "\n".join(lines)
    print()
    print(text)
    if info["error"]:
        print(f"`info` stderr/stdout:\n{info['error']}", file=sys.stderr)
    if not args.no_append:
        results = HERE / "RESULTS.md"
        if not results.exists():
            results.write_text("# Benchmark results\n\nAppended by the scripts in this folder; newest last.\n\n")
        with results.open("a") as fh:
            fh.write(text + "\n")
        print(f"appended to {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
