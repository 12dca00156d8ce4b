"""The ``vtkdicom-app`` command line.

One module per group of commands: :mod:`~vtkdicom_app.cli.load_cmds` (info, stats,
convert), :mod:`~vtkdicom_app.cli.view` (view, mpr, render), :mod:`~vtkdicom_app.cli.mesh`
(export-mesh), :mod:`~vtkdicom_app.cli.segment`, :mod:`~vtkdicom_app.cli.batch`, :mod:`~vtkdicom_app.cli.demo` (phantom,
demo) and :mod:`~vtkdicom_app.cli.pacs`; what they share is in
:mod:`~vtkdicom_app.cli._common`.

The contract of every command:

* Exit codes: 0 success, 1 runtime failure (one line on stderr; where several things failed,
  their count), 2 usage error. No traceback reaches the user unless ``--debug`` is given.
* Usage errors are found before anything is loaded: argparse's own (types, choices), then
  the command's ``check``, which sees only the options; both print one line
  ``vtkdicom-app COMMAND: error: ...`` and exit 2.
* Warnings: each library warning is printed once to stderr as ``warning: <message>``, by
  one code path for every command (:func:`~vtkdicom_app.cli._common.report_warnings`);
  ``-q`` silences them and the progress bars.
* Heavy modules (numpy, pydicom, VTK) are imported inside the commands, and a command's own
  options only when it runs or shows its help, so ``--help`` and ``--version`` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from vtkdicom_app import __version__
from vtkdicom_app.cli._common import Command, CommandParser, ImageFormat, UsageError, report_warnings, volume_memory_limit
from vtkdicom_app.cli._progress import TerminalProgress

__all__ = ["main", "build_parser", "UsageError", "ImageFormat"]

# the order of ``vtkdicom-app --help``
_ORDER = ("info", "export-mesh", "segment", "mpr", "view", "render", "stats", "convert", "batch", "phantom", "demo")

_TerminalProgress = TerminalProgress  # the old private name (tests/test_cli_edges.py)


def _virtual_display() -> tuple[str, Any] | None:
    """Start Xvfb: ``(DISPLAY, process)`` or None (benchmarks/bench_viewer.py); see
    :func:`vtkdicom_app.xvfb.start_xvfb`."""
    from vtkdicom_app.cli.view import virtual_display

    return virtual_display()


def _commands() -> list[Command]:
    from vtkdicom_app.cli import batch, demo, load_cmds, mesh, segment, view

    found = {c.name: c for module in (load_cmds, mesh, segment, view, batch, demo) for c in module.COMMANDS}
    return [found.pop(name) for name in _ORDER if name in found] + list(found.values())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vtkdicom-app`` (no heavy imports).

    Each command's own options are added when that command is parsed or its help shown
    (:class:`~vtkdicom_app.cli._common.CommandParser`), so building the parser and
    ``--help`` import neither numpy nor VTK.
    """
    parser = argparse.ArgumentParser(
        prog="vtkdicom-app",
        description="DICOM folders to correctly oriented 3D volumes, MPR, 3D views and printable meshes.",
    )
    parser.add_argument("--version", action="version", version=f"vtkdicom-app {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, no warnings")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for command in _commands():
        command.register(sub)
    from vtkdicom_app.cli import pacs

    pacs.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 runtime failure, 2 usage error (argparse's, or a :class:`UsageError`
        raised by a command's check before it loads anything).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        with report_warnings(quiet=args.quiet), volume_memory_limit(getattr(args, "volume_memory_limit", None)):
            check = getattr(args, "_check", None)
            if check is not None:
                check(args)  # the options alone: nothing loaded yet
            return int(args.func(args))
    except UsageError as exc:  # found before any slow work: no traceback, even with --debug
        print(f"vtkdicom-app {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # one line, unless --debug
        if args.debug:
            raise
        from vtkdicom_app.errors import VtkDicomError

        kind = "" if isinstance(exc, (VtkDicomError, OSError)) else f"{type(exc).__name__}: "
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: {kind}{message}", file=sys.stderr)
        return 1
