"""Atomic file writes: write next to the destination under a temporary name, then rename.

A failure (unwritable folder, full disk, a crash) never leaves a half-written file at the
destination, and an existing file stays intact until the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path in the destination's folder; rename it onto ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        The destination.
    suffix : str
        Suffix of the temporary name (writers that choose the format by suffix need it).

    Yields
    ------
    str
        Where to write. Removed if the block raises or writes nothing.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        if os.path.getsize(tmp) == 0:
            raise OSError(f"writing {target} produced an empty file (disk full?)")
        try:  # a rewrite keeps the existing file's permissions (a private file stays private)
            mode = os.stat(target).st_mode & 0o777
        except OSError:
            mode = 0o666 & ~_umask()  # mkstemp makes 0600; a new file gets the usual permissions
        os.chmod(tmp, mode)
        with open(tmp, "rb+") as fh:  # on disk before the rename, so a crash leaves old or new, never empty
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
