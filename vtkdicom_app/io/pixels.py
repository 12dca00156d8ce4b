"""Decode the frames of a stack into one numpy array of real-world values.

Native little-endian pixel data is read with ``readinto`` straight into the output array
(two threads: file reads and numpy release the GIL). Everything else (JPEG, JPEG-LS,
JPEG 2000, RLE, deflate, big endian) goes through pydicom's pixel plugins, one decode per
file. Rescale is applied per frame; the output is int16 when every value is exactly an
integer in int16's range, float32 otherwise.
"""

from __future__ import annotations

import enum
import os
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from vtkdicom_app import uids
from vtkdicom_app.errors import DecoderMissingError, DicomReadError, MemoryLimitError
from vtkdicom_app.io.records import FileInfo, FrameRecord
from vtkdicom_app.notices import NoticeCode, notice

__all__ = ["read_frames", "OutputKind", "memory_limit_bytes", "parse_size", "DECODER_PACKAGES"]

ProgressCallback = Callable[[int, int, str], None]

# Transfer syntax UID -> (name, what to install to decode it).
DECODER_PACKAGES: dict[str, tuple[str, str]] = {
    uids.JPEG_BASELINE: ("JPEG Baseline", "pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg) or python-gdcm"),
    uids.JPEG_EXTENDED: ("JPEG Extended", "pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg) or python-gdcm"),
    uids.JPEG_LOSSLESS: ("JPEG Lossless", "pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg) or python-gdcm"),
    uids.JPEG_LOSSLESS_SV1: ("JPEG Lossless SV1", "pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg) or python-gdcm"),
    uids.JPEG_LS_LOSSLESS: ("JPEG-LS Lossless", "pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg) or python-gdcm"),
    uids.JPEG_LS_NEAR_LOSSLESS: ("JPEG-LS Near-Lossless", "pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg) or python-gdcm"),
    uids.JPEG_2000_LOSSLESS: ("JPEG 2000 Lossless", "pylibjpeg-openjpeg (pip install pylibjpeg pylibjpeg-openjpeg) or python-gdcm"),
    uids.JPEG_2000: ("JPEG 2000", "pylibjpeg-openjpeg (pip install pylibjpeg pylibjpeg-openjpeg) or python-gdcm"),
    uids.HTJ2K_LOSSLESS: ("HTJ2K Lossless", "pylibjpeg-openjpeg (pip install pylibjpeg pylibjpeg-openjpeg)"),
    uids.HTJ2K_LOSSLESS_RPCL: ("HTJ2K Lossless RPCL", "pylibjpeg-openjpeg (pip install pylibjpeg pylibjpeg-openjpeg)"),
    uids.HTJ2K: ("HTJ2K", "pylibjpeg-openjpeg (pip install pylibjpeg pylibjpeg-openjpeg)"),
    uids.RLE_LOSSLESS: ("RLE Lossless", "numpy (pydicom's own RLE decoder) or pylibjpeg-rle"),
}

_INT16 = np.iinfo(np.int16)
_CHUNK = 16


class OutputKind(enum.Enum):
    """How rescaled values are stored."""

    INT16_SAFE = "int16"  # every possible stored value maps into int16 exactly
    INT16_CHECKED = "int16-checked"  # integer rescale, range checked per frame
    FLOAT32 = "float32"


class _Overflow(Exception):
    """An integer-rescaled frame does not fit int16: redo as float32."""


_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "K": 1 << 10,
    "KB": 1 << 10,
    "KIB": 1 << 10,
    "M": 1 << 20,
    "MB": 1 << 20,
    "MIB": 1 << 20,
    "G": 1 << 30,
    "GB": 1 << 30,
    "GIB": 1 << 30,
    "T": 1 << 40,
    "TB": 1 << 40,
    "TIB": 1 << 40,
}


def parse_size(text: str, *, what: str = "size") -> int:
    """Bytes from a size such as ``4GB``, ``500M``, ``1.5 GiB`` or ``1048576``.

    Units K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB all count in powers of 1024 (as Dask's
    ``--memory-limit`` is usually given for memory).

    Raises
    ------
    ValueError
        Not a number with an optional unit; the message names ``what``.
    """
    import re

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(f"{what} = {text!r} is not a size: use a number with an optional unit, e.g. 4GB, 500MB, 2G")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def memory_limit_bytes() -> int:
    """The most bytes one volume may take.

    ``VTKDICOM_APP_MEMORY_LIMIT`` (bytes, or a size with a unit: ``500M``, ``4GB``, ``1.5GiB``)
    overrides the default, which is 80 % of the memory available now (MemAvailable on Linux).

    Returns
    -------
    int
    """
    env = os.environ.get("VTKDICOM_APP_MEMORY_LIMIT", "").strip()
    if env:
        return parse_size(env, what="VTKDICOM_APP_MEMORY_LIMIT")
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = 8 << 30
    return int(available * 0.8)


def _stored_dtype(info: FileInfo) -> np.dtype:
    bits = info.bits_allocated
    if bits not in (8, 16, 32):
        raise DicomReadError(f"{info.path}: BitsAllocated (0028,0100) = {bits} is not supported for volumes")
    kind = "i" if info.signed else "u"
    return np.dtype(f"<{kind}{bits // 8}")


def _stored_range(info: FileInfo) -> tuple[int, int]:
    bits = min(info.bits_stored, info.bits_allocated)
    if info.signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def choose_output(records: list[FrameRecord], *, decoded_float: bool = False) -> OutputKind:
    """Pick int16 when the rescale is exact in int16, float32 otherwise."""
    if decoded_float:
        return OutputKind.FLOAT32
    safe = True
    for rec in records:
        if rec.slope != round(rec.slope) or rec.intercept != round(rec.intercept):
            return OutputKind.FLOAT32
        lo, hi = _stored_range(rec.file)
        a, b = rec.slope * lo + rec.intercept, rec.slope * hi + rec.intercept
        if min(a, b) < _INT16.min or max(a, b) > _INT16.max:
            safe = False
    return OutputKind.INT16_SAFE if safe else OutputKind.INT16_CHECKED


def _fix_bits(stored: np.ndarray, info: FileInfo) -> np.ndarray:
    """Mask unused high bits (unsigned) or sign-extend (signed) when BitsStored < BitsAllocated."""
    bits_alloc = info.bits_allocated
    bits = info.bits_stored
    if bits >= bits_alloc or bits <= 0:
        return stored
    if info.signed:
        shift = bits_alloc - bits
        np.left_shift(stored, shift, out=stored)
        np.right_shift(stored, shift, out=stored)
    else:
        np.bitwise_and(stored, (1 << bits) - 1, out=stored)
    return stored


def _rescale_into(stored: np.ndarray, rec: FrameRecord, out: np.ndarray, kind: OutputKind) -> None:
    if kind is OutputKind.FLOAT32:
        if rec.slope == 1.0 and rec.intercept == 0.0:
            out[...] = stored
        else:
            out[...] = stored.astype(np.float64) * rec.slope + rec.intercept
        return
    slope, intercept = int(round(rec.slope)), int(round(rec.intercept))
    small = stored.dtype.itemsize == 1 or stored.dtype == np.int16 or (stored.dtype == np.uint16 and rec.file.bits_stored <= 15)
    if kind is OutputKind.INT16_SAFE and slope == 1 and small:
        # every value fits: one add, cast straight into the int16 output
        np.add(stored, np.int16(intercept), out=out, casting="unsafe")
        return
    wide = stored.astype(np.int64) if stored.dtype.itemsize >= 4 else stored.astype(np.int32)
    if slope != 1:
        wide *= slope
    if intercept:
        wide += intercept
    if kind is OutputKind.INT16_CHECKED and wide.size:
        lo, hi = int(wide.min()), int(wide.max())
        if lo < _INT16.min or hi > _INT16.max:
            raise _Overflow
    out[...] = wide


def _read_native(rec: FrameRecord, out: np.ndarray, kind: OutputKind) -> None:
    info = rec.file
    nbytes = info.frame_bytes
    offset = info.pixel_offset + rec.frame * nbytes
    stored_dtype = _stored_dtype(info)
    direct = kind is OutputKind.INT16_SAFE and stored_dtype.itemsize == 2 and rec.slope == 1.0 and (info.signed or info.bits_stored <= 15)
    with open(info.path, "rb", buffering=0) as fh:
        fh.seek(offset)
        if direct:
            got = fh.readinto(out.data.cast("B"))  # .data: the array's memoryview
            stored = out.view(stored_dtype)
        else:
            stored = np.empty(out.shape, stored_dtype)
            got = fh.readinto(stored.data.cast("B"))
    if got != nbytes:
        raise DicomReadError(
            f"{info.path}: truncated pixel data: {got} of {nbytes} bytes for frame {rec.frame} "
            f"(Rows {info.rows} x Columns {info.columns} x {info.bits_allocated} bits)"
        )
    _fix_bits(stored, info)
    if direct:
        # masked unsigned values are < 32768, so the int16 view already holds them
        if rec.intercept:
            np.add(out, np.int16(int(round(rec.intercept))), out=out)
        return
    _rescale_into(stored, rec, out, kind)


def _read_native_window(rec: FrameRecord, out: np.ndarray, kind: OutputKind, window: tuple[int, int, int, int, int]) -> None:
    """Read only rows ``j0..j1`` of a native frame, keep every ``stride``-th row and column."""
    info = rec.file
    j0, j1, i0, i1, st = window
    dtype = _stored_dtype(info)
    row_bytes = info.columns * dtype.itemsize
    block = np.empty((j1 - j0, info.columns), dtype)
    with open(info.path, "rb", buffering=0) as fh:
        fh.seek(info.pixel_offset + rec.frame * info.frame_bytes + j0 * row_bytes)
        got = fh.readinto(block.data.cast("B"))
    if got != block.nbytes:
        raise DicomReadError(f"{info.path}: truncated pixel data: {got} of {block.nbytes} bytes for rows {j0}..{j1 - 1}")
    _fix_bits(block, info)
    _rescale_into(np.ascontiguousarray(block[::st, i0:i1:st]), rec, out, kind)


def _read_native_frames(info: FileInfo, frames: set[int]) -> np.ndarray:
    """Stored values of whole native frames ``(n_frames, rows, cols)`` (only ``frames`` filled)."""
    dtype = _stored_dtype(info)
    n = max(frames) + 1
    out = np.zeros((n, info.rows, info.columns), dtype)
    nbytes = info.frame_bytes
    with open(info.path, "rb", buffering=0) as fh:
        for f in sorted(frames):
            fh.seek(info.pixel_offset + f * nbytes)
            got = fh.readinto(memoryview(out[f]).cast("B"))
            if got != nbytes:
                raise DicomReadError(f"{info.path}: truncated pixel data: {got} of {nbytes} bytes for frame {f}")
            _fix_bits(out[f], info)
    return out


def _decode_with_pydicom(info: FileInfo) -> np.ndarray:
    """All frames of one file as stored values (frames, rows, cols), via pydicom's plugins."""
    import pydicom

    from vtkdicom_app.io.header import open_dicom

    try:
        with open_dicom(info.path) as fh:
            ds = pydicom.dcmread(fh, force=True)
            ds.PixelData  # noqa: B018  (read the value while the file is open)
    except Exception as exc:
        raise DicomReadError(f"{info.path}: unreadable ({type(exc).__name__}: {exc})") from exc
    ts = info.transfer_syntax
    name, package = DECODER_PACKAGES.get(ts, (ts, "pylibjpeg with its plugins, or python-gdcm"))
    try:
        from pydicom.pixels import get_decoder

        decoder = get_decoder(ts)
    except (NotImplementedError, ValueError, ImportError):
        decoder = None
    if decoder is None and ts not in DECODER_PACKAGES:
        # no decoder for this syntax exists at all (video, JPEG XL, private UIDs): say so
        from pydicom.uid import UID

        label = UID(ts).name if UID(ts).is_valid else ts
        known = label if label != ts else "an unknown transfer syntax"
        raise DecoderMissingError(
            f"{info.path}: {known} ({ts}): no decoder for it is available to this program; convert the series to an image "
            "transfer syntax (e.g. with dcmtk's dcmconv or gdcmconv) first"
        )
    if decoder is not None and not decoder.is_available:
        raise DecoderMissingError(f"{info.path}: {name} pixel data (transfer syntax {ts}) needs a decoder: install {package}")
    try:
        arr = ds.pixel_array
    except Exception as exc:
        if decoder is None and "not supported" in str(exc).lower():
            raise DecoderMissingError(f"{info.path}: no decoder for transfer syntax {ts}: install {package}") from exc
        reasons = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise DicomReadError(f"{info.path}: could not decode {name} pixel data: {type(exc).__name__}: {reasons}") from exc
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if spp == 3:
        return _as_rgb8(arr if arr.ndim == 4 else arr[None], info)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise DicomReadError(f"{info.path}: pixel data has shape {arr.shape}; only grey-scale and RGB frames make volumes")
    if arr.dtype.kind in "iu" and not info.transfer_syntax.startswith(uids.JPEG_FAMILY_PREFIX):
        arr = _fix_bits(np.array(arr), info)
    return arr


def _as_rgb8(arr: np.ndarray, info: FileInfo) -> np.ndarray:
    """RGB frames (frames, rows, cols, 3) as uint8 (pydicom already turned YBR into RGB)."""
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise DicomReadError(f"{info.path}: colour pixel data has shape {arr.shape}, expected (frames, rows, columns, 3)")
    if arr.dtype == np.uint8:
        return arr
    bits = max(8, min(info.bits_stored, 16))
    return (np.clip(arr.astype(np.int64), 0, (1 << bits) - 1) >> (bits - 8)).astype(np.uint8)


def _is_colour(records: list[FrameRecord]) -> bool:
    from vtkdicom_app.io.records import _int

    return _int(records[0].file.tags.get("SamplesPerPixel"), 1) == 3


def _read_colour(records: list[FrameRecord], progress: ProgressCallback | None) -> tuple[np.ndarray, list[str]]:
    """RGB slices as a ``(k, j, i, 3)`` uint8 array (every file decoded by pydicom)."""
    first = records[0]
    shape = (len(records), first.rows, first.columns, 3)
    check_memory(shape, 1, "the colour volume")
    out = np.zeros(shape, np.uint8)
    cache: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    failures: list[int] = []
    for k, rec in enumerate(records):
        try:
            if rec.file.path not in cache:
                cache.clear()  # files come in slice order: keep one decoded file at a time
                cache[rec.file.path] = _decode_with_pydicom(rec.file)
            frames = cache[rec.file.path]
            if frames.ndim != 4:
                raise DicomReadError(f"{rec.file.path}: not a colour image (SamplesPerPixel differs within the series)")
            frame = frames[rec.frame]
            if rec.tile is not None:
                r0, c0, h, w = rec.tile
                frame = frame[r0 : r0 + h, c0 : c0 + w]
            if frame.shape != shape[1:]:
                raise DicomReadError(f"{rec.file.path}: frame shape {frame.shape} differs from {shape[1:]}")
            out[k] = frame
        except DecoderMissingError:
            raise
        except DicomReadError as exc:
            failures.append(k)
            if len(failures) == 1:
                warnings.append(notice(str(exc), NoticeCode.DECODE_FAILED))
        if progress is not None:
            progress(k + 1, len(records), "Decoding colour")
    if failures and len(failures) == len(records):
        raise DicomReadError(warnings[0])
    if failures:
        warnings[0] = f"slice(s) {', '.join(map(str, failures[:10]))} could not be read and were left black: {warnings[0]}"
    return out, warnings


def check_memory(shape: tuple[int, ...], itemsize: int, what: str) -> None:
    """Raise MemoryLimitError before allocating more than the limit allows."""
    need = int(np.prod(shape, dtype=np.int64)) * itemsize
    limit = memory_limit_bytes()
    if need > limit:
        raise MemoryLimitError(
            f"{what} needs {need / 2**20:.0f} MiB ({' x '.join(map(str, shape))} x {itemsize} bytes) "
            f"but the limit is {limit / 2**20:.0f} MiB; free memory, load a smaller series, or raise "
            "VTKDICOM_APP_MEMORY_LIMIT"
        )


def read_frames(
    records: list[FrameRecord],
    *,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    window: tuple[int, int, int, int, int] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Decode frames into a ``(k, j, i)`` array of real-world values.

    Parameters
    ----------
    records : list of FrameRecord
        Frames in slice order; all with the same Rows and Columns.
    progress : callable, optional
        ``progress(done, total, stage)``; it may raise to cancel.
    workers : int, optional
        Threads (default: up to 2 per CPU, at most 8).
    window : tuple of int, optional
        ``(j0, j1, i0, i1, stride)``: keep rows ``j0:j1:stride`` and columns
        ``i0:i1:stride`` of every frame; native frames read only rows ``j0..j1``.

    Returns
    -------
    array : numpy.ndarray
        int16 or float32, shape ``(len(records), rows, columns)``.
    warnings : list of str
        Frames that failed to decode (filled with the minimum value).

    Raises
    ------
    DecoderMissingError
        No decoder for the transfer syntax.
    MemoryLimitError
        The array would exceed the memory limit.
    """
    if _is_colour(records):
        array, notes = _read_colour(records, progress)
        if window is not None:
            j0, j1, i0, i1, st = window
            array = np.ascontiguousarray(array[:, j0:j1:st, i0:i1:st])
        return array, notes
    if window is not None:
        j0, j1, i0, i1, st = window
        shape = (len(records), len(range(j0, j1, st)), len(range(i0, i1, st)))
    else:
        shape = (len(records), records[0].rows, records[0].columns)
    needs_pydicom = [r for r in records if not r.file.fast_native]
    kind = choose_output(records)
    check_memory(shape, 2 if kind is not OutputKind.FLOAT32 else 4, "the volume")
    decoded: dict[str, np.ndarray] = {}
    failed: dict[str, DicomReadError] = {}
    tiled: dict[str, FileInfo] = {r.file.path: r.file for r in records if r.tile is not None and r.file.fast_native}
    for path, info in tiled.items():  # a mosaic: read the stored image once, cut the tiles from it
        try:
            decoded[path] = _read_native_frames(info, {r.frame for r in records if r.file.path == path})
        except DicomReadError as exc:
            failed[path] = exc
    if needs_pydicom:
        by_file: dict[str, FileInfo] = {r.file.path: r.file for r in needs_pydicom}
        for n, (path, info) in enumerate(by_file.items()):
            try:
                decoded[path] = _decode_with_pydicom(info)
            except DecoderMissingError:
                raise
            except DicomReadError as exc:
                failed[path] = exc
            if progress is not None:
                progress(n + 1, len(by_file), "Decoding")
        if any(a.dtype.kind == "f" for a in decoded.values()):
            kind = OutputKind.FLOAT32
    warnings: list[str] = []
    while True:
        try:
            out = np.empty(shape, np.float32 if kind is OutputKind.FLOAT32 else np.int16)
            _fill(records, out, kind, decoded, failed, progress, workers, warnings, window)
            return out, warnings
        except _Overflow:
            kind = OutputKind.FLOAT32
            warnings.clear()
            check_memory(shape, 4, "the volume")


def _fill(
    records: list[FrameRecord],
    out: np.ndarray,
    kind: OutputKind,
    decoded: dict[str, np.ndarray],
    failed: dict[str, DicomReadError],
    progress: ProgressCallback | None,
    workers: int | None,
    warnings: list[str],
    window: tuple[int, int, int, int, int] | None = None,
) -> None:
    failures: dict[int, str] = {}

    def one(k: int) -> None:
        rec = records[k]
        try:
            if rec.file.path in failed:
                raise failed[rec.file.path]
            if rec.file.path in decoded:
                frames = decoded[rec.file.path]
                if rec.frame >= frames.shape[0]:
                    raise DicomReadError(f"{rec.file.path}: frame {rec.frame} missing (file has {frames.shape[0]})")
                frame = frames[rec.frame]
                if rec.tile is not None:
                    r0, c0, h, w = rec.tile
                    frame = frame[r0 : r0 + h, c0 : c0 + w]
                if window is not None:
                    j0, j1, i0, i1, st = window
                    frame = frame[j0:j1:st, i0:i1:st]
                if frame.shape != out.shape[1:]:
                    raise DicomReadError(f"{rec.file.path}: frame shape {frame.shape} differs from Rows x Columns {out.shape[1:]}")
                _rescale_into(np.ascontiguousarray(frame), rec, out[k], kind)
            elif window is not None:
                _read_native_window(rec, out[k], kind, window)
            else:
                _read_native(rec, out[k], kind)
        except (DicomReadError, OSError, ValueError) as exc:
            if isinstance(exc, DecoderMissingError):
                raise
            failures[k] = str(exc)

    def chunk(start: int) -> int:
        stop = min(start + _CHUNK, len(records))
        for k in range(start, stop):
            one(k)
        return stop - start

    total = len(records)
    n_workers = workers or min(8, os.cpu_count() or 1)
    if all(rec.file.path in decoded for rec in records):
        n_workers = 1  # already decoded (mosaic tiles, compressed files): copying needs no threads
    starts = range(0, total, _CHUNK)
    done = 0
    if n_workers <= 1 or total <= _CHUNK:
        for s in starts:
            done += chunk(s)
            if progress is not None:
                progress(done, total, "Reading pixels")
    else:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            futures = [pool.submit(chunk, s) for s in starts]
            try:
                for fut in futures:
                    done += fut.result()
                    if progress is not None:
                        progress(done, total, "Reading pixels")
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    if failures:
        if len(failures) == total:
            first = failures[min(failures)]
            raise DicomReadError(first if total == 1 else f"no frame could be read; first error: {first}")
        fill = out[[k for k in range(total) if k not in failures]].min()
        for k in failures:
            out[k] = fill
        by_reason: dict[str, list[int]] = defaultdict(list)
        for k, reason in failures.items():
            by_reason[reason].append(k)
        for reason, ks in by_reason.items():
            warnings.append(
                notice(
                    f"slice(s) {', '.join(map(str, ks[:10]))} could not be read and were filled with {fill}: {reason}",
                    NoticeCode.DECODE_FAILED,
                )
            )
