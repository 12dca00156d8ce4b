"""A roi load reads only what it needs (issue 16): the files of the slices inside the box, the
rows inside it, and memory that follows the crop, not the study.

Counted on the real readers: ``open`` as the pixel module sees it (a wrapper that calls the
builtin and counts the bytes read through it) and the in-process decoder of compressed files.
"""

from __future__ import annotations

import builtins
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.io import pixels
from vtkdicom_app.phantom import TransferSyntax, write_phantom

ROWS, COLUMNS, SLICES = 96, 80, 40


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


class _CountedFile:
    """A file opened by the builtin ``open``; counts the bytes that ``readinto``/``read`` return."""

    def __init__(self, fh: Any, log: dict[str, int], path: str) -> None:
        self._fh, self._log, self._path = fh, log, path

    def readinto(self, buffer: Any) -> int:
        n = self._fh.readinto(buffer)
        self._log[self._path] += n or 0
        return int(n or 0)

    def read(self, *args: Any) -> bytes:
        data = self._fh.read(*args)
        self._log[self._path] += len(data)
        return bytes(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _CountedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Bytes read per file by the pixel reader (``vtkdicom_app.io.pixels``' ``open``)."""
    log: dict[str, int] = {}

    def counting_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = builtins.open(file, mode, *args, **kwargs)
        if "b" not in mode:  # /proc/meminfo for the memory limit, not pixels
            return fh
        path = str(file)
        log.setdefault(path, 0)
        return _CountedFile(fh, log, path)

    monkeypatch.setattr(pixels, "open", counting_open, raising=False)  # the module's global wins over the builtin
    return log


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return write_phantom(tmp_path_factory.mktemp("roi_reads"), rows=ROWS, columns=COLUMNS, slices=SLICES, shuffle_names=True)


def _box(ph: Any, k0: int, k1: int, j0: int, j1: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """An LPS box whose corners are voxel centres: slices k0..k1, rows j0..j1, every column."""
    z = sorted(p[2] for p in ph.positions)
    dy = ph.pixel_spacing[0]
    x0, y0 = ph.positions[0][0], ph.positions[0][1]  # axial: rows along +y, columns along +x
    return (x0, y0 + j0 * dy, z[k0]), (x0 + (COLUMNS - 1) * ph.pixel_spacing[1], y0 + j1 * dy, z[k1])


def test_a_roi_opens_only_the_files_of_its_slices_and_reads_only_its_rows(study: Any, opened: dict[str, int]) -> None:
    scanned = vda.scan(study.outdir)  # headers first: what is opened below is the pixel reading
    k0, k1, j0, j1 = 12, 15, 30, 49
    vol = _quiet(vda.load, scanned, roi=_box(study, k0, k1, j0, j1))
    assert vol.shape == (k1 - k0 + 1, j1 - j0 + 1, COLUMNS)
    by_z = {round(p[2], 3): str(f) for p, f in zip(study.positions, study.files)}
    wanted = {by_z[round(z, 3)] for z in sorted(by_z)[k0 : k1 + 1]}
    assert set(opened) == wanted  # 4 of the 40 files, and none other
    # of each, only the rows inside the box: (j1 - j0 + 1) rows of every column, int16
    assert all(n == (j1 - j0 + 1) * COLUMNS * 2 for n in opened.values())
    full = _quiet(vda.load, scanned)
    np.testing.assert_array_equal(vol.array, full.array[k0 : k1 + 1, j0 : j1 + 1])


def test_a_strided_roi_opens_every_stride_th_file_of_the_box(study: Any, opened: dict[str, int]) -> None:
    scanned = vda.scan(study.outdir)
    vol = _quiet(vda.load, scanned, roi=_box(study, 4, 20, 0, ROWS - 1), stride=4)
    assert vol.shape == (5, ROWS // 4, COLUMNS // 4)  # slices 4, 8, ..., 20
    z = sorted(p[2] for p in study.positions)
    by_z = {round(p[2], 3): str(f) for p, f in zip(study.positions, study.files)}
    assert set(opened) == {by_z[round(v, 3)] for v in z[4:21:4]}
    assert sorted(vol.files) == sorted(opened)


def test_a_roi_on_a_compressed_series_decodes_only_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ph = write_phantom(tmp_path, rows=32, columns=32, slices=24, transfer_syntax=TransferSyntax.RLE)
    scanned = vda.scan(tmp_path)
    z = sorted(p[2] for p in ph.positions)
    corners = _quiet(vda.load, scanned, stride=31).corners  # in-plane extent (one voxel per axis)
    decoded: list[str] = []
    real = pixels._decode_here

    def counted(info: Any) -> Any:
        decoded.append(info.path)
        return real(info)

    monkeypatch.setattr(pixels, "_decode_here", counted)
    vol = _quiet(vda.load, scanned, roi=((corners[:, 0].min(), corners[:, 1].min(), z[3]), (corners[:, 0].max() + 1, corners[:, 1].max() + 1, z[6])), workers=1)
    assert vol.shape[0] == 4
    by_z = {round(p[2], 3): str(f) for p, f in zip(ph.positions, ph.files)}
    assert sorted(decoded) == sorted(by_z[round(v, 3)] for v in z[3:7])


def test_memory_follows_the_crop_not_the_study(study: Any) -> None:
    """Peak traced memory of a roi load (numpy buffers included) is about the crop, far below the volume."""
    scanned = vda.scan(study.outdir)
    volume_bytes = SLICES * ROWS * COLUMNS * 2
    box = _box(study, 10, 13, 20, 39)  # 4 x 20 x 80 voxels: 1/40 of the volume
    _quiet(vda.load, scanned, roi=box)  # warm: imports and caches are not the crop's
    tracemalloc.start()
    try:
        vol = _quiet(vda.load, scanned, roi=box)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    crop_bytes = 4 * 20 * COLUMNS * 2
    assert vol.array.nbytes == crop_bytes
    # the output plus one slice's window of rows being read, plus bookkeeping: nowhere near
    # the 600 KiB volume (a full read would hold at least that much)
    assert peak < volume_bytes / 4, (peak, crop_bytes, volume_bytes)
