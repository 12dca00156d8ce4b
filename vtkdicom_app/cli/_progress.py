"""Terminal progress bars of the commands (tqdm on stderr, only on a terminal)."""

from __future__ import annotations

import argparse
import enum
import os
import sys
from types import TracebackType
from typing import Any, Self

__all__ = ["TerminalProgress", "progress_for"]


class _StageUnit(enum.Enum):
    """What a progress stage counts (shown after ``done/total``)."""

    FILES = "files"
    SLICES = "slices"
    STEPS = "steps"


# the loader's and phantom writer's stage names -> what they count; other stages (the surface
# pipeline) count steps
_STAGE_UNITS: tuple[tuple[str, _StageUnit], ...] = (
    ("header", _StageUnit.FILES),
    ("colour", _StageUnit.SLICES),
    ("decod", _StageUnit.FILES),
    ("pixel", _StageUnit.SLICES),
    ("phantom", _StageUnit.SLICES),
)
# counts, no rate: the callbacks jump (a chunk of slices at once) and tqdm's rates came out
# as millions of slices per second
_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n}/{total} {unit} [{elapsed}]"


class TerminalProgress:
    """tqdm progress bars on a terminal (stderr), nothing otherwise.

    One bar per stage, named after it, with ``done/total`` and what is counted. When a stage
    follows, the one before is over, so its bar ends at ``total/total`` and stays on screen;
    a pipeline's steps (same total, one step after the other) share one bar. Use as a
    context manager: on success the last bar is completed too; after an error or a cancel
    it shows where it stopped.

    Parameters
    ----------
    enabled : bool
        False: the callback does nothing.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._stage = ""
        self._done = 0
        self._total = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(complete=kind is None)

    @staticmethod
    def _unit(stage: str) -> _StageUnit:
        low = stage.lower()
        return next((unit for key, unit in _STAGE_UNITS if key in low), _StageUnit.STEPS)

    def __call__(self, done: int, total: int, stage: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        total, done = max(int(total), 0), max(int(done), 0)
        next_step = stage != self._stage and total == self._total and done == self._done + 1
        if self._bar is None or done < self._done or (stage != self._stage and not next_step):
            self.close(complete=True)  # a new stage: the one before is over
            size = os.get_terminal_size(sys.stderr.fileno()) if sys.stderr.isatty() else os.terminal_size((0, 0))
            self._bar = tqdm(
                total=total,
                desc=stage,
                unit=self._unit(stage).value,
                bar_format=_BAR_FORMAT,
                file=sys.stderr,
                leave=True,
                # a terminal that reports no size (a bare pty) still gets a bar
                ncols=None if size.columns > 0 else 80,
                nrows=None if size.lines > 0 else 24,
            )
        elif stage != self._stage:
            self._bar.set_description_str(stage, refresh=False)
        self._stage, self._done, self._total = stage, done, total
        self._bar.total = total
        self._bar.n = min(done, total) if total else done
        self._bar.refresh()

    def phase(self, stage: str) -> Any:
        """A ``progress(done, total)`` callback (the phantom writer's) reporting as ``stage``;
        None when disabled."""
        if not self.enabled:
            return None
        return lambda done, total: self(done, total, stage)

    def close(self, complete: bool = False) -> None:
        """End the current bar; ``complete``: its stage finished, show ``total/total``."""
        if self._bar is not None:
            if complete and self._bar.total:
                self._bar.n = self._bar.total
                self._bar.refresh()
            self._bar.close()
            self._bar = None
        self._stage, self._done, self._total = "", 0, 0


def progress_for(args: argparse.Namespace) -> TerminalProgress:
    """Bars when stderr is a terminal and ``-q`` was not given."""
    return TerminalProgress(enabled=sys.stderr.isatty() and not getattr(args, "quiet", False))
