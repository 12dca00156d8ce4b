"""``vtkdicom-app segment``: one segment made from the command line and saved.

The options, their check and the work live in :mod:`vtkdicom_app.segmentation.commands`
(beside the segmentation library); this module registers them as a :class:`Command` like
every other, so ``path`` and ``--series`` come from the shared parents and the options are
checked before anything loads.
"""

from __future__ import annotations

import argparse

from vtkdicom_app.cli._common import Command, input_parents
from vtkdicom_app.segmentation.commands import SEGMENT_HELP, SEGMENT_PATH_HELP  # light: argparse and os only

__all__ = ["COMMANDS"]


def _arguments(p: argparse.ArgumentParser) -> None:
    from vtkdicom_app.segmentation.commands import add_segment_arguments

    add_segment_arguments(p)


def _check(args: argparse.Namespace) -> None:
    from vtkdicom_app.segmentation.commands import check_segment

    check_segment(args)


def _run(args: argparse.Namespace) -> int:
    from vtkdicom_app.segmentation.commands import segment

    return segment(args)


COMMANDS = (
    Command(
        "segment",
        SEGMENT_HELP,
        _run,
        _arguments,
        _check,
        parents=lambda: input_parents(SEGMENT_PATH_HELP),
    ),
)
