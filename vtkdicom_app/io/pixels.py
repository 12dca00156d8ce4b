"""Decode the frames of a stack into one numpy array of real-world values.

Native little-endian pixel data is read with ``readinto`` straight into the output array
(threads: file reads and numpy release the GIL). Everything else (JPEG, JPEG-LS,
JPEG 2000, RLE, deflate, big endian) goes through pydicom's pixel plugins, one decode per
file. Those plugins (pylibjpeg-openjpeg, pylibjpeg-libjpeg, pyjpegls, gdcm) hold the GIL
while they decode, so threads cannot share that work: with more than one worker the files
are decoded by helper processes, one per worker (plain ``python -c`` children that speak
length-prefixed pickles on their stdin and stdout, kept for the next load and ending after
two idle minutes; not :mod:`multiprocessing`, so a script's ``__main__`` is never
re-imported and a daemonic Dask worker can use them), and each file's frames go into the
output as soon as they arrive: no decoded copy of the whole volume is ever held. A decoder
that crashes on a file costs that file (an error like any decode failure), not the program.
Rescale is applied per frame; the output is int16 when every value is exactly an integer in
int16's range, float32 otherwise.
"""

from __future__ import annotations

import atexit
import dataclasses
import enum
import json
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings as _warnings
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import cast

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

# Decoder plugins preferred where every conforming decoder gives the same values (lossless
# JPEG 2000, JPEG-LS): single-threaded, so ``workers`` alone says how many cores decode (gdcm
# runs openjpeg on every core by itself), and the fewest CPU seconds per frame measured here
# (JPEG 2000 lossless 512x512: pylibjpeg 45 ms, gdcm 53 ms; JPEG-LS: pyjpegls 7.7 ms, gdcm
# 9.1 ms). Other syntaxes, or these plugins missing: pydicom's own order.
_PREFERRED_PLUGIN: dict[str, str] = {
    uids.JPEG_2000_LOSSLESS: "pylibjpeg",
    uids.JPEG_LS_LOSSLESS: "pyjpegls",
    uids.JPEG_LS_NEAR_LOSSLESS: "pyjpegls",
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
    preferred = _PREFERRED_PLUGIN.get(ts)
    if decoder is not None and preferred in decoder.available_plugins:
        ds.pixel_array_options(decoding_plugin=preferred)
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


# --- decoder processes ----------------------------------------------------------------------------

_IDLE_EXIT_S = 120.0  # a helper process ends after this long without a request
_PIPE_BYTES = 1 << 20  # pipe buffers raised to this (Linux) so a frame crosses in one write
_BOOT = (
    "import json, os, sys; sys.path[:] = json.loads(os.environ.pop('_VTKDICOM_APP_SYS_PATH')); "
    "from vtkdicom_app.io.pixels import _decoder_main; _decoder_main()"
)
# (message, category, filename, lineno) of a warning a helper caught while decoding
_Caught = tuple[str, type[Warning], str, int]


class _HelperGone(Exception):
    """The helper process ended (or its pipe broke) before answering."""


def _read_exact(fd: int, n: int) -> bytes | None:
    """``n`` bytes from ``fd``, or None at end of file."""
    chunks: list[bytes] = []
    got = 0
    while got < n:
        chunk = os.read(fd, min(n - got, _PIPE_BYTES))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_message(fd: int, obj: object) -> None:
    """One length-prefixed pickle."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(struct.pack("<Q", len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _read_message(fd: int) -> object:
    header = _read_exact(fd, 8)
    body = None if header is None else _read_exact(fd, struct.unpack("<Q", header)[0])
    if body is None:
        raise _HelperGone
    return pickle.loads(body)


def _widen_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default buffer works too


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives a pickle round trip, else a DicomReadError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001  (any unpicklable exception)
        return DicomReadError(f"{type(exc).__name__}: {exc}")


def _decoder_main() -> None:
    """Body of a helper process: decode the files sent on stdin, answer on stdout.

    Each request is a :class:`FileInfo`; each answer ``((status, value), warnings)`` where
    status is "ok" (value: the stored frames) or "error" (value: the exception), and
    warnings the ones caught while decoding, for the caller to emit.
    """
    import select

    fd_in = sys.stdin.fileno()
    fd_out = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print never reaches the channel
    _widen_pipe(fd_out)
    while True:
        if os.name != "nt":  # Windows' select takes sockets only: there a helper waits for ever
            ready, _, _ = select.select([fd_in], [], [], _IDLE_EXIT_S)
            if not ready:
                return  # idle: the caller starts a new helper when it needs one
        try:
            info = _read_message(fd_in)
        except _HelperGone:
            return  # the caller closed the pipe or ended
        with _warnings.catch_warnings(record=True) as caught:
            _warnings.simplefilter("always")
            try:
                reply: tuple[str, object] = ("ok", _decode_with_pydicom(info))  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001  (sent to the caller, raised there)
                reply = ("error", _portable(exc))
        notes = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
        try:
            pickle.dumps(notes)
        except Exception:  # noqa: BLE001
            notes = [(m, UserWarning, f, n) for m, _c, f, n in notes]
        _write_message(fd_out, (reply, notes))


class _Helper:
    """One decoder process (see :func:`_decoder_main`)."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["_VTKDICOM_APP_SYS_PATH"] = json.dumps(sys.path)
        self.proc = subprocess.Popen(  # noqa: S603  (this interpreter, a fixed program)
            [sys.executable, "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.fd_in = self.proc.stdin.fileno()
        self.fd_out = self.proc.stdout.fileno()
        _widen_pipe(self.fd_in)
        self.answered = False  # has it ever answered (else a death is a start-up failure)
        self.last_used = time.monotonic()

    def usable(self) -> bool:
        """Alive and not about to end for idleness."""
        return self.proc.poll() is None and (os.name == "nt" or time.monotonic() - self.last_used < _IDLE_EXIT_S - 20)

    def send(self, info: FileInfo) -> None:
        self.last_used = time.monotonic()
        try:
            _write_message(self.fd_in, dataclasses.replace(info, csa=None, warnings=[]))
        except OSError as exc:
            raise _HelperGone from exc

    def receive(self) -> tuple[np.ndarray | Exception, list[_Caught]]:
        try:
            message = _read_message(self.fd_out)
        except OSError as exc:
            raise _HelperGone from exc
        self.answered = True
        self.last_used = time.monotonic()
        reply, notes = cast("tuple[tuple[str, np.ndarray | Exception], list[_Caught]]", message)
        return reply[1], notes

    def ended(self) -> str:
        """How the process ended, for messages."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.close()
            return "its pipe broke"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_IDLE_HELPERS: list[_Helper] = []
_HELPERS_LOCK = threading.Lock()
_HELPERS_FAILED = False  # a helper could not start here (no usable sys.executable): decode in-process


def _take_helpers(n: int) -> list[_Helper]:
    """``n`` helper processes: idle ones first, new ones for the rest."""
    got: list[_Helper] = []
    with _HELPERS_LOCK:
        while _IDLE_HELPERS and len(got) < n:
            helper = _IDLE_HELPERS.pop()
            if helper.usable():
                got.append(helper)
            else:
                helper.close()
    while len(got) < n:
        try:
            got.append(_Helper())
        except OSError:
            break
    return got


def _give_back(helpers: list[_Helper]) -> None:
    with _HELPERS_LOCK:
        for helper in helpers:
            if helper.proc.poll() is None:
                _IDLE_HELPERS.append(helper)


def _forget_helpers_after_fork() -> None:
    """In a forked child: the parent's helpers are the parent's (their pipes would be shared)."""
    global _HELPERS_LOCK
    _HELPERS_LOCK = threading.Lock()  # another thread may have held it at the fork
    for helper in _IDLE_HELPERS:
        for stream in (helper.proc.stdin, helper.proc.stdout):
            if stream is not None:
                stream.close()  # this process's copies of the pipe ends only
    _IDLE_HELPERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helpers_after_fork)


@atexit.register
def _close_helpers() -> None:
    with _HELPERS_LOCK:
        helpers = list(_IDLE_HELPERS)
        _IDLE_HELPERS.clear()
    for helper in helpers:
        helper.close()


_HELPER_MIN_PIXELS = 16 * 512 * 512  # ~0.7 s of JPEG 2000 decoding: more than starting helpers costs


def _default_decoders(n_pixels: int) -> int:
    """Decoders for a compressed series when ``workers`` is not given: one per core when the
    series is big enough to pay for starting helper processes (or some are idle), else 1."""
    with _HELPERS_LOCK:
        idle = any(h.usable() for h in _IDLE_HELPERS)
    return (os.cpu_count() or 1) if idle or n_pixels >= _HELPER_MIN_PIXELS else 1


def _emit(notes: list[_Caught]) -> None:
    """Warnings a helper caught, emitted here as if the decode had run in this process."""
    for message, category, filename, lineno in notes:
        _warnings.warn_explicit(message, category, filename, lineno)


def _decode_here(info: FileInfo) -> np.ndarray | DicomReadError:
    try:
        return _decode_with_pydicom(info)
    except DecoderMissingError:
        raise
    except DicomReadError as exc:
        return exc


def _decode_files(infos: list[FileInfo], workers: int) -> Iterator[tuple[FileInfo, np.ndarray | DicomReadError]]:
    """Each file's stored frames (or why it failed), in the order the decodes finish.

    With ``workers`` > 1, ``workers`` helper processes decode (two requests in flight each,
    so none waits for this process) while this thread only hands out the results.
    DecoderMissingError (and any error that is not about one file) is raised.
    """
    global _HELPERS_FAILED
    # the first file of each transfer syntax is decoded here, while the helpers start: a
    # decoder missing in this process raises here as it would without helpers
    first: list[FileInfo] = []
    rest: list[FileInfo] = []
    syntaxes: set[str] = set()
    for info in infos:
        (rest if info.transfer_syntax in syntaxes else first).append(info)
        syntaxes.add(info.transfer_syntax)
    n = min(workers, len(rest))
    # a frozen application's executable is the application itself, not a Python to run -c with
    usable = not _HELPERS_FAILED and bool(sys.executable) and not getattr(sys, "frozen", False)
    helpers = _take_helpers(n) if n > 1 and usable else []
    try:
        for info in first:
            yield info, _decode_here(info)
    except BaseException:
        _give_back(helpers)
        raise
    if not helpers:
        for info in rest:
            yield info, _decode_here(info)
        return
    todo = deque(rest)
    # bounded: decoded files wait here (and in the pipes) only a few at a time, whatever the pace
    results: queue.Queue[tuple[FileInfo, np.ndarray | Exception, list[_Caught]]] = queue.Queue(maxsize=len(helpers))
    stop = threading.Event()

    def hand_over(item: tuple[FileInfo, np.ndarray | Exception, list[_Caught]]) -> None:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def serve(slot: int) -> None:
        global _HELPERS_FAILED
        helper = helpers[slot]
        inflight: deque[FileInfo] = deque()
        while True:
            try:
                while len(inflight) < 2 and not stop.is_set():
                    try:
                        info = todo.popleft()
                    except IndexError:
                        break
                    inflight.append(info)
                    helper.send(info)
                if not inflight:
                    return
                value, notes = helper.receive()
                hand_over((inflight.popleft(), value, notes))
            except _HelperGone:
                how = helper.ended()
                if not helper.answered or not inflight:
                    # never worked here (or gone between files): the files go back to the others
                    _HELPERS_FAILED = _HELPERS_FAILED or not helper.answered
                    todo.extendleft(reversed(inflight))
                    return
                # it died on this file (a decoder crash): the file fails, a new helper goes on
                crashed = inflight.popleft()
                todo.extendleft(reversed(inflight))
                inflight.clear()
                message = f"{crashed.path}: the decoder process ended ({how}) while decoding this file's pixel data"
                hand_over((crashed, DicomReadError(message), []))
                try:
                    helper = helpers[slot] = _Helper()
                except OSError:
                    return
            except Exception:  # noqa: BLE001  (a file that cannot be sent, say): this process decodes the rest
                helper.close()
                todo.extendleft(reversed(inflight))
                return

    threads = [threading.Thread(target=serve, args=(slot,), daemon=True, name=f"dicom-decoder-{slot}") for slot in range(len(helpers))]
    for thread in threads:
        thread.start()
    try:
        for _ in rest:
            while True:
                try:
                    info, value, notes = results.get(timeout=0.05)
                    break
                except queue.Empty:
                    if any(t.is_alive() for t in threads) or not results.empty():
                        continue
                    if not todo:
                        raise DicomReadError("the decoder processes ended without returning every file") from None
                    info = todo.popleft()  # every helper gone: decode the rest here
                    value, notes = _decode_here(info), []
                    break
            _emit(notes)
            if isinstance(value, Exception) and not isinstance(value, DicomReadError) or isinstance(value, DecoderMissingError):
                raise value
            yield info, value
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        _give_back(helpers)


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
        Parallel readers. Native frames: threads (default: one per CPU, at most 8).
        Compressed files: helper processes (default: one per CPU, unless the series is
        too small to pay for starting them; 1 decodes in this process), since pydicom's
        decoder plugins hold the GIL. The array is the same for any number.
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
    out = np.empty(shape, np.float32 if kind is OutputKind.FLOAT32 else np.int16)
    failures: dict[int, str] = {}
    if needs_pydicom:
        # each file's frames go into the output as soon as it is decoded (no decoded copy
        # of the whole volume), the files decoded in parallel by helper processes
        by_file: dict[str, list[int]] = defaultdict(list)
        infos: dict[str, FileInfo] = {}
        for k, rec in enumerate(records):
            if not rec.file.fast_native:
                by_file[rec.file.path].append(k)
                infos[rec.file.path] = rec.file
        n_workers = workers or _default_decoders(sum(r.rows * r.columns for r in records if not r.file.fast_native))
        for n, (info, frames) in enumerate(_decode_files(list(infos.values()), n_workers)):
            if isinstance(frames, DicomReadError):
                failures.update((k, str(frames)) for k in by_file[info.path])
            else:
                if frames.dtype.kind == "f" and kind is not OutputKind.FLOAT32:
                    out, kind = _as_float(out), OutputKind.FLOAT32  # float pixel data: every frame float32
                for k in by_file[info.path]:
                    try:
                        _fill_one(records[k], frames, out[k], kind, window)
                    except _Overflow:
                        out, kind = _as_float(out), OutputKind.FLOAT32
                        _fill_one(records[k], frames, out[k], kind, window)
                    except (DicomReadError, OSError, ValueError) as exc:
                        failures[k] = str(exc)
            if progress is not None:
                progress(n + 1, len(infos), "Decoding")
    rest = [k for k, rec in enumerate(records) if rec.file.fast_native]
    while True:
        try:
            _fill(records, rest, out, kind, decoded, failed, progress, workers, failures, window)
            break
        except _Overflow:
            # filled frames are exact in int16, so exact in float32: convert, redo the native ones
            out, kind = _as_float(out), OutputKind.FLOAT32
            for k in rest:
                failures.pop(k, None)
    warnings: list[str] = []
    _report_failures(out, failures, warnings)
    return out, warnings


def _as_float(out: np.ndarray) -> np.ndarray:
    """The int16 output as float32 (values that overflow int16 follow)."""
    check_memory(out.shape, 4, "the volume")
    return out.astype(np.float32)


def _fill_one(rec: FrameRecord, frames: np.ndarray | None, out: np.ndarray, kind: OutputKind, window: tuple[int, int, int, int, int] | None) -> None:
    """Frame ``rec`` into ``out`` (its slice of the output), from decoded ``frames`` or the file."""
    if frames is not None:
        if rec.frame >= frames.shape[0]:
            raise DicomReadError(f"{rec.file.path}: frame {rec.frame} missing (file has {frames.shape[0]})")
        frame = frames[rec.frame]
        if rec.tile is not None:
            r0, c0, h, w = rec.tile
            frame = frame[r0 : r0 + h, c0 : c0 + w]
        if window is not None:
            j0, j1, i0, i1, st = window
            frame = frame[j0:j1:st, i0:i1:st]
        if frame.shape != out.shape:
            raise DicomReadError(f"{rec.file.path}: frame shape {frame.shape} differs from Rows x Columns {out.shape}")
        _rescale_into(np.ascontiguousarray(frame), rec, out, kind)
    elif window is not None:
        _read_native_window(rec, out, kind, window)
    else:
        _read_native(rec, out, kind)


def _fill(
    records: list[FrameRecord],
    indices: list[int],
    out: np.ndarray,
    kind: OutputKind,
    decoded: dict[str, np.ndarray],
    failed: dict[str, DicomReadError],
    progress: ProgressCallback | None,
    workers: int | None,
    failures: dict[int, str],
    window: tuple[int, int, int, int, int] | None = None,
) -> None:
    """Fill ``out[k]`` for ``k`` in ``indices`` (native frames, mosaic tiles), threads for reads."""

    def one(k: int) -> None:
        rec = records[k]
        try:
            if rec.file.path in failed:
                raise failed[rec.file.path]
            _fill_one(rec, decoded.get(rec.file.path), out[k], kind, window)
        except (DicomReadError, OSError, ValueError) as exc:
            if isinstance(exc, DecoderMissingError):
                raise
            failures[k] = str(exc)

    def chunk(start: int) -> int:
        part = indices[start : start + _CHUNK]
        for k in part:
            one(k)
        return len(part)

    total = len(indices)
    if not total:
        return
    n_workers = workers or min(8, os.cpu_count() or 1)
    if all(records[k].file.path in decoded for k in indices):
        n_workers = 1  # already decoded (mosaic tiles): copying needs no threads
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


def _report_failures(out: np.ndarray, failures: dict[int, str], warnings: list[str]) -> None:
    """Fill the frames that failed with the smallest value read; one warning per reason."""
    if not failures:
        return
    total = out.shape[0]
    if len(failures) == total:
        first = failures[min(failures)]
        raise DicomReadError(first if total == 1 else f"no frame could be read; first error: {first}")
    fill = min(out[k].min() for k in range(total) if k not in failures)  # frame by frame: no copy
    for k in failures:
        out[k] = fill
    by_reason: dict[str, list[int]] = defaultdict(list)
    for k, reason in sorted(failures.items()):
        by_reason[reason].append(k)
    for reason, ks in by_reason.items():
        warnings.append(
            notice(
                f"slice(s) {', '.join(map(str, ks[:10]))} could not be read and were filled with {fill}: {reason}",
                NoticeCode.DECODE_FAILED,
            )
        )
