"""The local study cache: ``ROOT/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``.

Every file is written under a hidden temporary name in its series folder and renamed when
complete, so a file under its final name is always whole (``vtkdicom_app.scan`` skips
hidden files, and leftovers of a killed process are removed by the next retrieval). What
is already there is not fetched again.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from pathlib import Path

from vtkdicom_app.net.query import check_uid

__all__ = ["StudyCache", "SUFFIX"]

SUFFIX = ".dcm"
_STALE_SECONDS = 600.0


class StudyCache:
    """A folder of retrieved studies.

    Parameters
    ----------
    root : str or os.PathLike
        Created on first write.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self._lock = threading.Lock()
        self._made: set[Path] = set()
        self._counter = itertools.count()

    def __repr__(self) -> str:
        return f"StudyCache({str(self.root)!r})"

    def study_folder(self, study_uid: str) -> Path:
        """``ROOT/<study>`` (the UID is checked: it names a folder)."""
        return self.root / check_uid(study_uid, "StudyInstanceUID")

    def series_folder(self, study_uid: str, series_uid: str) -> Path:
        """``ROOT/<study>/<series>``."""
        return self.study_folder(study_uid) / check_uid(series_uid, "SeriesInstanceUID")

    def instance_path(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """``ROOT/<study>/<series>/<sop>.dcm``."""
        return self.series_folder(study_uid, series_uid) / (check_uid(sop_uid, "SOPInstanceUID") + SUFFIX)

    def present(self, study_uid: str, series_uid: str) -> set[str]:
        """SOPInstanceUIDs of the whole files already in a series folder."""
        folder = self.series_folder(study_uid, series_uid)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return set()
        return {n[: -len(SUFFIX)] for n in names if n.endswith(SUFFIX) and not n.startswith(".")}

    def has(self, study_uid: str, series_uid: str, sop_uid: str) -> bool:
        """Whether that instance is cached."""
        return self.instance_path(study_uid, series_uid, sop_uid).is_file()

    def write(self, study_uid: str, series_uid: str, sop_uid: str, data: bytes | memoryview, head: bytes = b"") -> Path:
        """Write one instance atomically (hidden temporary name, then rename); returns its path.

        Same contract as :func:`vtkdicom_app.atomic.atomic_path` with fewer system calls (this
        runs once per received instance): the temporary file is created with ``O_EXCL`` and
        the usual permissions, and removed if anything fails. No ``fsync``: a crash of the
        machine may leave a whole-named file short, which the loader reports, but a killed
        process never does.

        Parameters
        ----------
        study_uid, series_uid, sop_uid : str
        data : bytes or memoryview
            The file's bytes (after ``head``).
        head : bytes, optional
            Written first (the preamble and file meta of a data set received without them),
            so that ``data`` is not copied to prepend it.
        """
        target = self.instance_path(study_uid, series_uid, sop_uid)
        folder = target.parent
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)
        tmp = folder / f".{target.name}.{os.getpid()}.{threading.get_ident()}.{next(self._counter)}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            written = 0
            try:
                for chunk in (head, data):
                    with memoryview(chunk) as view:
                        done = 0
                        while done < len(view):
                            n = os.write(fd, view[done:])
                            if n <= 0:
                                raise OSError(f"writing {target} stopped after {written + done} bytes (disk full?)")
                            done += n
                    written += done
            finally:
                os.close(fd)
            if not written:
                raise OSError(f"writing {target} produced an empty file (disk full?)")
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return target

    def remove_stale_parts(self, study_uid: str, series_uid: str | None = None, max_age_s: float = _STALE_SECONDS) -> int:
        """Delete temporary files older than ``max_age_s`` left by a killed process."""
        folder = self.series_folder(study_uid, series_uid) if series_uid else self.study_folder(study_uid)
        removed = 0
        now = time.time()
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if name.startswith(".") and ".part" in name:
                    p = os.path.join(dirpath, name)
                    with contextlib.suppress(OSError):
                        if now - os.stat(p).st_mtime > max_age_s:
                            os.unlink(p)
                            removed += 1
        return removed
