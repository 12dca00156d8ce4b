"""Compressed series decode on every core: the same array for any number of workers.

pydicom's decoder plugins (pylibjpeg-openjpeg, pyjpegls, gdcm...) hold the GIL while they
decode, so :func:`vtkdicom_app.io.pixels.read_frames` hands compressed files to helper
processes when ``workers`` > 1. These tests check the answers, not the speed (that is
``benchmarks/bench_big.py``): a JPEG 2000 and a JPEG-LS phantom decode with 1 and 2 workers
to exactly the voxels of the same phantom written uncompressed; a damaged file fails alone
with the same warning either way; integer rescales that overflow int16 switch to float32 the
same way; and the helpers work from a script without a ``__main__`` guard and from a daemonic
process (a Dask worker's situation), where :mod:`multiprocessing` pools would fail.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

import vtkdicom_app as vda
from vtkdicom_app.io import pixels
from vtkdicom_app.io.header import read_header
from vtkdicom_app.io.pixels import read_frames
from vtkdicom_app.io.records import FrameRecord, records_from_header
from vtkdicom_app.testing.images import write_image
from vtkdicom_app.testing.phantom import TransferSyntax, write_phantom

ROOT = Path(__file__).resolve().parents[1]
SLICES = 12
GRID: dict[str, Any] = dict(rows=64, columns=48, slices=SLICES, pixel_spacing=(3.0, 3.0), slice_spacing=3.0, noise_sd=30.0, seed=7)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The phantom uncompressed: the known answer."""
    folder = tmp_path_factory.mktemp("plain")
    write_phantom(folder, **GRID)
    return folder


@pytest.fixture(scope="module")
def j2k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("j2k")
    write_phantom(folder, transfer_syntax=TransferSyntax.JPEG2000_LOSSLESS, **GRID)
    return folder


def _compress_folder(src: Path, dst: Path, syntax: str) -> Path:
    """Every file of ``src`` re-encoded in ``syntax`` into ``dst`` (pydicom's encoders)."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.iterdir()):
        ds = pydicom.dcmread(f)
        ds.compress(syntax, encoding_plugin="pyjpegls" if syntax == JPEGLSLossless else "")
        ds.save_as(dst / f.name)
    return dst


@pytest.fixture(scope="module")
def jpegls(tmp_path_factory: pytest.TempPathFactory, plain: Path) -> Path:
    # TransferSyntax has no JPEG-LS member (pyjpegls is not a dependency of the writer):
    # encode the uncompressed phantom here
    return _compress_folder(plain, tmp_path_factory.mktemp("jls"), JPEGLSLossless)


@pytest.mark.parametrize("name", ["j2k", "jpegls"])
def test_compressed_series_decode_to_the_same_voxels_with_1_and_2_workers(name: str, plain: Path, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(name)
    syntax = {"j2k": JPEG2000Lossless, "jpegls": JPEGLSLossless}[name]
    assert all(pydicom.dcmread(f, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax for f in folder.iterdir())
    expected = vda.load(plain).array
    one = vda.load(folder, workers=1)
    two = vda.load(folder, workers=2)
    assert one.array.dtype == two.array.dtype == np.int16
    np.testing.assert_array_equal(one.array, expected)
    np.testing.assert_array_equal(two.array, expected)
    assert one.array.std() > 20  # the noise is there: a decode that dropped bits would show
    # the second load ran in helper processes, which stay for the next load
    assert any(h.proc.poll() is None for h in pixels._IDLE_HELPERS)
    # and a third (helpers reused) still gives the same voxels
    np.testing.assert_array_equal(vda.load(folder, workers=2).array, expected)


def test_crop_and_stride_of_a_compressed_series_match_with_2_workers(j2k: Path, plain: Path) -> None:
    roi = ((-40.0, -40.0, -10.0), (30.0, 45.0, 12.0))
    want = vda.load(plain, roi=roi, stride=2)
    got = vda.load(j2k, roi=roi, stride=2, workers=2)
    assert got.shape == want.shape and got.shape[0] < SLICES
    np.testing.assert_array_equal(got.array, want.array)
    np.testing.assert_allclose(got.affine, want.affine)


def test_a_damaged_file_fails_alone_with_the_same_warning_for_any_workers(jpegls: Path, tmp_path: Path) -> None:
    folder = tmp_path / "damaged"
    folder.mkdir()
    files = sorted(jpegls.iterdir())
    for f in files:
        (folder / f.name).write_bytes(f.read_bytes())
    victim = folder / files[5].name
    ds = pydicom.dcmread(victim)
    fragments = list(pydicom.encaps.generate_fragments(ds.PixelData))
    ds.PixelData = pydicom.encaps.encapsulate([fragments[0][:40]])  # the JPEG-LS stream cut short
    ds.save_as(victim)
    results = []
    for workers in (1, 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vol = vda.load(folder, workers=workers)
        messages = sorted(str(w.message) for w in caught if "could not be read" in str(w.message))
        results.append((vol.array, messages))
    (a1, m1), (a2, m2) = results
    np.testing.assert_array_equal(a1, a2)
    assert m1 == m2 and len(m1) == 1 and victim.name in m1[0], m1
    k = [i for i in range(a1.shape[0]) if (a1[i] == a1.min()).all()]
    assert len(k) == 1  # one slice filled, the others decoded


def _records(paths: list[Path]) -> list[FrameRecord]:
    return [r for p in paths for r in records_from_header(read_header(p))]


def test_an_integer_rescale_that_overflows_int16_gives_float32_the_same_way(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 4000, (6, 40, 36)).astype(np.uint16)
    stored[4, 10, 10] = 60000  # with intercept -1024: 58976, beyond int16
    paths = [
        write_image(tmp_path / f"s{k}.dcm", stored[k], transfer_syntax=JPEGLSLossless, RescaleIntercept="-1024", RescaleSlope="1", InstanceNumber=k + 1)
        for k in range(stored.shape[0])
    ]
    want = stored.astype(np.float32) - 1024
    for workers in (1, 2):
        got, notes = read_frames(_records(paths), workers=workers)
        assert notes == []
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    small = paths[:4]  # without the outlier: int16
    got, _ = read_frames(_records(small), workers=2)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, stored[:4].astype(np.int32) - 1024)


def test_helpers_work_from_a_script_without_a_main_guard(j2k: Path, plain: Path, tmp_path: Path) -> None:
    """multiprocessing's spawn would re-run this script in every child; the helpers do not."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import vtkdicom_app as vda
            from vtkdicom_app.io import pixels
            vol = vda.load({str(j2k)!r}, workers=2)
            print("LOADED", int(vol.array.astype("int64").sum()), len(pixels._IDLE_HELPERS))
            """
        )
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("LOADED")]
    assert len(lines) == 1, proc.stdout  # the script ran once
    _, total, helpers = lines[0].split()
    assert int(total) == int(vda.load(plain).array.astype(np.int64).sum())
    assert int(helpers) == 2


def test_helpers_work_inside_a_daemonic_process_forked_from_a_loader(j2k: Path, plain: Path) -> None:
    """A Dask worker is a daemonic process: it may not start multiprocessing children. Here
    the parent has idle helpers when it forks: the child must start its own (sharing the
    parent's pipes would mix their answers), and the parent's still work afterwards."""
    code = textwrap.dedent(
        f"""
        import multiprocessing as mp
        import vtkdicom_app as vda
        from vtkdicom_app.io import pixels

        def total():
            return int(vda.load({str(j2k)!r}, workers=2).array.astype("int64").sum())

        def work(q):
            q.put((total(), sorted(h.proc.pid for h in pixels._IDLE_HELPERS)))

        if __name__ == "__main__":
            before = total()
            mine = sorted(h.proc.pid for h in pixels._IDLE_HELPERS)
            ctx = mp.get_context("fork")
            q = ctx.Queue()
            p = ctx.Process(target=work, args=(q,), daemon=True)
            p.start()
            child_total, child_helpers = q.get(timeout=240)
            p.join()
            print("RESULT", before, child_total, total(), len(mine), len(child_helpers), len(set(mine) & set(child_helpers)))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    _, before, child, after, n_mine, n_child, shared = proc.stdout.split()
    want = int(vda.load(plain).array.astype(np.int64).sum())
    assert int(before) == int(child) == int(after) == want
    assert int(n_mine) == int(n_child) == 2 and int(shared) == 0


def test_by_default_only_a_series_worth_it_starts_helpers(j2k: Path) -> None:
    """workers not given: a small series decodes here (starting helpers would cost more
    than it saves); one above the threshold gets one helper per core."""
    code = textwrap.dedent(
        f"""
        import os
        import vtkdicom_app as vda
        from vtkdicom_app.io import pixels
        small = vda.load({str(j2k)!r})
        print("SMALL", len(pixels._IDLE_HELPERS))
        pixels._HELPER_MIN_PIXELS = 1  # every series is now worth it
        big = vda.load({str(j2k)!r})
        print("BIG", len(pixels._IDLE_HELPERS), os.cpu_count(), int((big.array == small.array).all()))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines["SMALL"] == "0"
    helpers, cores, same = (int(v) for v in lines["BIG"].split())
    assert same == 1
    assert helpers == (cores if cores > 1 else 0)
