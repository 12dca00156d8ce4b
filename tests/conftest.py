"""Shared fixtures: phantom series written with pydicom, cached per test session."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def phantom_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """``phantom_factory(**options) -> PhantomResult``, cached by options for the session."""
    from vtkdicom_app.phantom import write_phantom

    cache: dict[str, Any] = {}

    def make(**options: Any) -> Any:
        key = repr(sorted(options.items()))
        if key not in cache:
            name = hashlib.sha1(key.encode()).hexdigest()[:12]
            outdir = tmp_path_factory.mktemp(f"phantom_{name}")
            cache[key] = write_phantom(outdir, **options)
        return cache[key]

    return make


def tree_fingerprint(folder: Path) -> dict[str, tuple[int, str]]:
    """mtime_ns and sha1 of every file under a folder (to prove it was not modified)."""
    out: dict[str, tuple[int, str]] = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            p = os.path.join(root, name)
            with open(p, "rb") as fh:
                out[p] = (os.stat(p).st_mtime_ns, hashlib.sha1(fh.read()).hexdigest())
    return out
