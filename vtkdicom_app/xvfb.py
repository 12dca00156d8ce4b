"""A virtual X display (Xvfb) for Qt when there is none: one helper for the command line
(``view --screenshot`` and ``demo`` without a display) and the Qt tests.

Qt-free and standard library only: it starts and stops an ``Xvfb`` process and builds the
environment a child process needs to draw on it. Xvfb picks a free display number itself
(``-displayfd``), so several of them can start at once without racing for a number.

Examples
--------
>>> from vtkdicom_app.xvfb import qt_needs_display, start_xvfb   # doctest: +SKIP
>>> if qt_needs_display():                                       # doctest: +SKIP
...     with start_xvfb() as xvfb:                               # None: no Xvfb installed
...         subprocess.run([...], env=xvfb.child_env())
"""

from __future__ import annotations

import atexit
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Self

__all__ = ["VirtualDisplay", "start_xvfb", "has_display", "qt_needs_display", "display_env", "ensure_display"]

# Qt platform plugins that draw without any display server
_HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "eglfs", "linuxfb"})


def has_display(env: Mapping[str, str] | None = None) -> bool:
    """Whether a display server is there for windows people can see (X or Wayland).

    Parameters
    ----------
    env : mapping, optional
        The environment (default ``os.environ``).

    Returns
    -------
    bool
        ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set. A headless Qt platform
        (``QT_QPA_PLATFORM=offscreen``) is not a display: see :func:`qt_needs_display`.
    """
    env = os.environ if env is None else env
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def qt_needs_display(env: Mapping[str, str] | None = None) -> bool:
    """Whether Qt, started with this environment, would find no display to draw on.

    Parameters
    ----------
    env : mapping, optional
        The environment (default ``os.environ``).

    Returns
    -------
    bool
        True when ``QT_QPA_PLATFORM`` names X (``xcb``, or nothing) and ``DISPLAY`` is unset
        (nor ``WAYLAND_DISPLAY`` when no platform is named), or names ``wayland`` without
        ``WAYLAND_DISPLAY``; False for the headless platforms (``offscreen``, ``minimal``...).
    """
    env = os.environ if env is None else env
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform in _HEADLESS_PLATFORMS:
        return False
    if platform.startswith("wayland"):
        return not env.get("WAYLAND_DISPLAY")
    if platform == "xcb":
        return not env.get("DISPLAY")
    return not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def display_env(display: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process that draws on the X display ``display``.

    Parameters
    ----------
    display : str
        E.g. ``":99"``.
    base : mapping, optional
        The environment to start from (default ``os.environ``).

    Returns
    -------
    dict of str to str
        ``DISPLAY`` set, Qt on X (``QT_QPA_PLATFORM=xcb``), no ``WAYLAND_DISPLAY``, no
        ``VTK_DEFAULT_OPENGL_WINDOW`` (an EGL window, chosen by a process that rendered
        without a display, cannot live in Qt widgets on X), and a private
        ``XDG_RUNTIME_DIR`` (created) when none is set.
    """
    env = dict(os.environ if base is None else base)
    env["DISPLAY"] = display
    env["QT_QPA_PLATFORM"] = "xcb"
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("VTK_DEFAULT_OPENGL_WINDOW", None)
    env.setdefault("XDG_RUNTIME_DIR", os.path.join(tempfile.gettempdir(), f"runtime-vtkdicom-app-{os.getuid()}"))
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
    return env


class VirtualDisplay:
    """A running Xvfb server; a context manager that stops it on exit.

    Attributes
    ----------
    display : str
        The X display name, e.g. ``":99"``.
    process : subprocess.Popen
        The Xvfb process.
    """

    def __init__(self, display: str, process: subprocess.Popen[bytes]) -> None:
        self.display = display
        self.process = process

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else "stopped"
        return f"VirtualDisplay({self.display!r}, pid={self.process.pid}, {state})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a child process that draws on this display (:func:`display_env`)."""
        return display_env(self.display, base)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate Xvfb and reap it (killed if it does not end within ``timeout`` s)."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child before exec
    """Ask Linux to send SIGTERM to this (child) process when the thread that forked it ends."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)


def start_xvfb(
    size: tuple[int, int] = (1600, 1200), *, depth: int = 24, timeout: float = 10.0, die_with_parent: bool = False
) -> VirtualDisplay | None:
    """Start Xvfb on a display number it picks itself; wait until it accepts clients.

    Parameters
    ----------
    size : (int, int)
        Screen width and height in pixels.
    depth : int
        Bits per pixel.
    timeout : float
        Seconds to wait for the server.
    die_with_parent : bool
        Linux only: the kernel ends Xvfb when this process ends (``PR_SET_PDEATHSIG``), after
        everything in it (Qt, VTK windows) has let go of the display. For a display used by
        this process itself: stopping Xvfb from an ``atexit`` handler races Qt's X connection,
        which calls ``exit(1)`` ("The X11 connection broke") when the server goes first.

    Returns
    -------
    VirtualDisplay or None
        None when ``Xvfb`` is not installed or did not start in time.
    """
    exe = shutil.which("Xvfb")
    if exe is None:
        return None
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [exe, "-displayfd", str(write_end), "-screen", "0", f"{size[0]}x{size[1]}x{depth}", "-nolisten", "tcp"],
            pass_fds=(write_end,),
            preexec_fn=_die_with_parent if die_with_parent and sys.platform.startswith("linux") else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    os.close(write_end)  # Xvfb holds its own copy; EOF here means it exited
    number = b""
    deadline = time.monotonic() + timeout
    try:
        while not number.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                break  # too slow
            chunk = os.read(read_end, 16)
            if not chunk:
                break  # Xvfb exited
            number += chunk
    finally:
        os.close(read_end)
    display = VirtualDisplay(f":{number.decode(errors='replace').strip()}", proc)
    if not number.strip().isdigit():
        display.stop()
        return None
    return display


_ENSURED: list[VirtualDisplay] = []


def ensure_display(size: tuple[int, int] = (1600, 1200)) -> VirtualDisplay | None:
    """Give this process a display for Qt: start Xvfb (ended with this process) when Qt needs one.

    Sets ``DISPLAY`` (and ``QT_QPA_PLATFORM=xcb``, a private ``XDG_RUNTIME_DIR``) in
    ``os.environ`` before Qt starts, as a test session does for its Qt tests.

    Parameters
    ----------
    size : (int, int)
        Screen size of a started Xvfb.

    Returns
    -------
    VirtualDisplay or None
        The Xvfb started now (or by an earlier call); None when a display already exists or
        Xvfb could not be started (then ``DISPLAY`` stays unset).
    """
    if _ENSURED and _ENSURED[0].process.poll() is None:
        return _ENSURED[0]
    if not qt_needs_display():
        return None
    linux = sys.platform.startswith("linux")
    started = start_xvfb(size, die_with_parent=linux)
    if started is None:
        return None
    _ENSURED[:] = [started]
    if not linux:  # elsewhere: stopped at exit (may race Qt's connection, see start_xvfb)
        atexit.register(started.stop)
    os.environ.update(display_env(started.display))
    return started
