"""Slow work off the GUI thread: a QThread that runs one function and returns its result."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from PyQt5 import QtCore, QtWidgets

from vtkdicom_app.app.model import Cancelled
from vtkdicom_app.errors import VtkDicomError

__all__ = ["Worker", "wait_for"]

log = logging.getLogger(__name__)


class Worker(QtCore.QThread):
    """Runs ``fn(progress)`` in a thread; reports progress; can be cancelled.

    ``fn`` must not touch the viewer state (its setters raise off the GUI thread): it
    returns a result, which ``succeeded`` delivers to the GUI thread.
    """

    progressed = QtCore.pyqtSignal(int, int, str)
    succeeded = QtCore.pyqtSignal(object)
    failed = QtCore.pyqtSignal(str)
    cancelled = QtCore.pyqtSignal()

    def __init__(self, fn: Callable[[Callable[[int, int, str], None]], Any], parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._cancel = False

    def cancel(self) -> None:
        """Ask the work to stop at its next progress report."""
        self._cancel = True

    def _progress(self, done: int, total: int, stage: str) -> None:
        if self._cancel:
            raise Cancelled
        self.progressed.emit(int(done), int(total), str(stage))

    def run(self) -> None:  # noqa: D102 - QThread entry point
        try:
            result = self._fn(self._progress)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # shown in a dialog and logged, never swallowed
            log.error("worker failed: %s\n%s", exc, traceback.format_exc())
            self.failed.emit(str(exc) if isinstance(exc, (VtkDicomError, OSError, ValueError)) else f"{type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(result)


def wait_for(worker: Worker, timeout_s: float = 120.0) -> None:
    """Process events until a worker finished (for --screenshot and tests)."""
    start = time.monotonic()
    while not worker.isFinished() and time.monotonic() - start < timeout_s:
        QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
    QtWidgets.QApplication.processEvents()
