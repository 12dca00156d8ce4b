"""GUI tests run on a virtual X server: start Xvfb here (before Qt starts) unless a display exists."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest


def _start_xvfb() -> str | None:
    exe = shutil.which("Xvfb")
    if exe is None:
        return None
    for number in range(90, 140):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        proc = subprocess.Popen([exe, f":{number}", "-screen", "0", "1600x1200x24", "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                atexit.register(proc.terminate)
                return f":{number}"
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.terminate()
    return None


if not os.environ.get("DISPLAY"):
    display = _start_xvfb()
    if display:
        os.environ["DISPLAY"] = display
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp/runtime-vtkdicom-app")
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("DISPLAY"):
        skip = pytest.mark.skip(reason="no X display and Xvfb could not be started (apt-get install xvfb)")
        for item in items:
            if "tests/app" in str(item.fspath):
                item.add_marker(skip)
