"""The Qt viewer (the only package that imports PyQt5).

``run_viewer(path, screenshot=None, scene=None)`` opens the main window; with ``scene`` (a
scene dict or a scene file) it opens the scene's source and series and applies it; with
``screenshot`` it loads, renders every view, saves the whole window as PNG and exits.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["run_viewer"]


def run_viewer(
    path: str | None = None,
    *,
    screenshot: str | None = None,
    size: tuple[int, int] = (1200, 860),
    anonymize: bool = False,
    scene: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> int:
    """Open the viewer (blocking) and return an exit code.

    Parameters
    ----------
    path : str, optional
        A folder, file or DICOMDIR to open at start (with ``scene``: opened instead of the
        scene's source, when the data moved).
    screenshot : str, optional
        Save the whole window to this PNG once loaded, then exit.
    size : tuple of int
        Window size.
    anonymize : bool
        Hide patient names in the window (and so in screenshots).
    scene : dict or path, optional
        A scene (:func:`vtkdicom_app.scene.load_scene`) or scene file to reopen: its series
        is loaded in a worker, then the scene is applied (surfaces extracted in a worker).

    Returns
    -------
    int
        0 on success, 1 when loading (or the scene) failed in screenshot mode.
    """
    from PyQt5 import QtWidgets

    from vtkdicom_app.app.main_window import MainWindow, wait_for

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    window = MainWindow(anonymize=anonymize)
    window.resize(*size)
    if screenshot:
        window.error_dialogs = False
    window.show()
    app.processEvents()
    window.init_vtk()
    worker = None
    if scene is not None:
        worker = window.open_scene(scene, None if path is None else os.fspath(path))
        if worker is None and screenshot:
            print(f"error: {window.last_error}", file=sys.stderr)
            return 1
    elif path:
        worker = window.open_path(os.fspath(path))
    if screenshot:
        if worker is not None:
            wait_for(worker)
            window.wait_scene()
            if window.state.volume is None:
                print(f"error: {window.last_error or 'nothing loaded'}", file=sys.stderr)
                return 1
            if window.last_error:
                print(f"error: {window.last_error}", file=sys.stderr)
                return 1
        window.refresh(render_3d=True)
        window.save_screenshot(screenshot)
        extra = ""
        if scene is not None:
            extra = f" (scene of {len(window.state.measurements)} measurement(s), {len(window.state.surfaces)} surface(s))"
        print(f"wrote {screenshot}{extra}")
        window.close()
        return 0
    return int(app.exec_())
