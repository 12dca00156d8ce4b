"""The Qt viewer (the only package that imports PyQt5).

``run_viewer(path, screenshot=None)`` opens the main window; with ``screenshot`` it loads,
renders every view, saves the whole window as PNG and exits.
"""

from __future__ import annotations

import os
import sys

__all__ = ["run_viewer"]


def run_viewer(path: str | None = None, *, screenshot: str | None = None, size: tuple[int, int] = (1200, 860), anonymize: bool = False) -> int:
    """Open the viewer (blocking) and return an exit code.

    Parameters
    ----------
    path : str, optional
        A folder, file or DICOMDIR to open at start.
    screenshot : str, optional
        Save the whole window to this PNG once loaded, then exit.
    size : tuple of int
        Window size.
    anonymize : bool
        Hide patient names in the window (and so in screenshots).

    Returns
    -------
    int
        0 on success, 1 when loading failed in screenshot mode.
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
    if path:
        worker = window.open_path(os.fspath(path))
        if screenshot:
            wait_for(worker)
            if window.state.volume is None:
                print(f"error: {window.last_error or 'nothing loaded'}", file=sys.stderr)
                return 1
    if screenshot:
        window.refresh(render_3d=True)
        window.save_screenshot(screenshot)
        print(f"wrote {screenshot}")
        window.close()
        return 0
    return int(app.exec_())
