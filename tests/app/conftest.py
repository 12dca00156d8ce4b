"""GUI tests run on a virtual X server: start Xvfb here (before Qt starts) unless a display exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vtkdicom_app.xvfb import ensure_display

ensure_display()  # the library's one Xvfb helper (as the CLI uses); no-op when DISPLAY is set
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp/runtime-vtkdicom-app")
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("DISPLAY"):
        skip = pytest.mark.skip(reason="no X display and Xvfb could not be started (apt-get install xvfb)")
        for item in items:
            if "tests/app" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def own_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test's viewer starts from empty QSettings (no recent list, window state or layout
    left by an earlier test or by this machine's user)."""
    from PyQt5 import QtCore

    folder = str(tmp_path_factory.mktemp("qsettings"))
    for fmt in (QtCore.QSettings.Format.NativeFormat, QtCore.QSettings.Format.IniFormat):
        QtCore.QSettings.setPath(fmt, QtCore.QSettings.Scope.UserScope, folder)
