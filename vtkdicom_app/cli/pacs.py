"""``pacs echo|find|get``: the PACS client, whose parser and actions live in
:mod:`vtkdicom_app.net.cli` (network code stays in ``net/``); this module wires it in."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``pacs`` to the CLI's sub-parsers (light: the network libraries load on use)."""
    from vtkdicom_app.net.cli import add_pacs_parser

    add_pacs_parser(subparsers)
