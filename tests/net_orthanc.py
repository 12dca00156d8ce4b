"""A throw-away Orthanc for the PACS tests and the PACS benchmark.

:class:`LocalOrthanc` writes a JSON configuration into a temporary folder (DICOM and HTTP
ports on free 127.0.0.1 ports, storage and index in that folder, remote access off, the
DICOMweb plugin on, the test's own AE titles in ``DicomModalities``), starts
``/usr/sbin/Orthanc`` and waits until its REST API answers. :meth:`LocalOrthanc.stop` ends
that one process by its pid. Nothing here is part of the library.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ORTHANC = "/usr/sbin/Orthanc"
SETUP_HINT = "Orthanc is not installed: run scripts/setup-system.sh (installs orthanc, orthanc-dicomweb and dcmtk)"

__all__ = ["ORTHANC", "SETUP_HINT", "LocalOrthanc", "dicomweb_plugin", "free_port", "missing_reason", "store_files"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dicomweb_plugin() -> str | None:
    """Path of the DICOMweb plugin installed by the Debian package orthanc-dicomweb."""
    try:
        out = subprocess.run(["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    candidates = [line.strip() for line in out.splitlines() if "DicomWeb" in line and ".so" in line]
    candidates.sort(key=lambda p: (not p.endswith(".so"), p))  # the plugin folder's symlink first
    for path in candidates + ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"]:
        if os.path.exists(path):
            return path
    return None


def missing_reason() -> str | None:
    """Why the Orthanc tests cannot run here, or None when they can."""
    if not os.access(ORTHANC, os.X_OK):
        return SETUP_HINT
    if dicomweb_plugin() is None:
        return "the Orthanc DICOMweb plugin is not installed: run scripts/setup-system.sh (orthanc-dicomweb)"
    return None


class LocalOrthanc:
    """One Orthanc process on 127.0.0.1 with its storage in ``folder``.

    Parameters
    ----------
    folder : Path
        Configuration, storage, index and log go here.
    aet : str
        Orthanc's own AE title.
    modalities : dict
        ``{AET: port}`` of peers on 127.0.0.1 that Orthanc knows (C-MOVE destinations and
        the AE titles allowed to query and retrieve), or ``{AET: {...}}`` with Orthanc's own
        keys (``"AllowGet": false``...) added to AET, Host and Port.
    user, password : str, optional
        HTTP basic authentication (off when ``user`` is None).
    check_called_aet : bool
        Reject associations that call another AE title.
    extra : dict, optional
        More configuration entries.
    env : dict, optional
        Extra environment variables of the Orthanc process (``TCP_NODELAY=1`` turns Nagle's
        algorithm off in its DCMTK network layer).
    """

    def __init__(
        self,
        folder: Path,
        *,
        aet: str = "ORTHANC",
        modalities: dict[str, int | dict[str, Any]] | None = None,
        user: str | None = None,
        password: str | None = None,
        check_called_aet: bool = True,
        extra: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.aet = aet
        self.dicom_port = free_port()
        self.http_port = free_port()
        self.user = user
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = dict(env or {})
        self.folder.mkdir(parents=True, exist_ok=True)
        plugin = dicomweb_plugin()
        config: dict[str, Any] = {
            "Name": "vtkdicom_app test",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"),
            "StorageCompression": False,
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "DicomServerEnabled": True,
            "DicomPort": self.dicom_port,
            "DicomAet": aet,
            "DicomCheckCalledAet": check_called_aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": user is not None,
            "RegisteredUsers": {user: password} if user is not None else {},
            "DicomModalities": {
                name: {"AET": name, "Host": "127.0.0.1", "Port": value} if isinstance(value, int) else {"AET": name, "Host": "127.0.0.1", "Port": 104, **value}
                for name, value in (modalities or {}).items()
            },
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomScuTimeout": 10,
            "DicomScpTimeout": 30,
            "Plugins": [plugin] if plugin else [],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "Host": "127.0.0.1", "Ssl": False},
            "SaveJobs": False,
            "HttpThreadsCount": 8,
        }
        config.update(extra or {})
        self.config_path = self.folder / "orthanc.json"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.log_path = self.folder / "orthanc.log"

    # ------------------------------------------------------------------ process
    def start(self, timeout: float = 30.0) -> LocalOrthanc:
        """Start Orthanc and wait until its REST API answers."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [ORTHANC, str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.folder,
                start_new_session=True,
                env={**os.environ, **self.env},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.proc.returncode}; see {self.log_path}:\n{self.log_tail()}")
            try:
                self.rest("/system")
                if self._dicom_listening():
                    return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout:.0f} s; see {self.log_path}:\n{self.log_tail()}")

    def _dicom_listening(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.dicom_port), timeout=0.5):
            return True
        return False

    def kill(self) -> None:
        """SIGKILL the server (a crash in the middle of whatever it is doing)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop this Orthanc by its pid (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def remove(self) -> None:
        """Stop and delete the folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def __enter__(self) -> LocalOrthanc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ REST
    @property
    def url(self) -> str:
        """The HTTP root, e.g. ``http://127.0.0.1:8042``."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb root (QIDO-RS, WADO-RS)."""
        return f"{self.url}/dicom-web"

    def rest(self, path: str, data: bytes | None = None, method: str | None = None) -> Any:
        """Call the REST API; JSON answers are decoded."""
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if self.user is not None:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=30) as rsp:
            body = rsp.read()
            if rsp.headers.get_content_type() == "application/json":
                return json.loads(body)
            return body

    def upload(self, files: Iterable[os.PathLike[str] | str]) -> int:
        """Store files through the REST API (faster than C-STORE for big benchmarks)."""
        n = 0
        for f in files:
            self.rest("/instances", data=Path(f).read_bytes(), method="POST")
            n += 1
        return n


def store_files(host: str, port: int, called_aet: str, files: Sequence[os.PathLike[str] | str], calling_aet: str = "VDATEST") -> int:
    """C-STORE files with pynetdicom; returns how many the server accepted."""
    from pydicom import dcmread
    from pynetdicom import AE

    datasets = [dcmread(os.fspath(f)) for f in files]
    ae = AE(ae_title=calling_aet)
    pairs = sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in datasets})
    for sop, syntax in pairs:
        ae.add_requested_context(sop, [syntax])
    assoc = ae.associate(host, port, ae_title=called_aet)
    if not assoc.is_established:
        raise RuntimeError(f"C-STORE association to {called_aet}@{host}:{port} failed")
    ok = 0
    try:
        for ds in datasets:
            status = assoc.send_c_store(ds)
            if status and int(status.Status) == 0:
                ok += 1
    finally:
        assoc.release()
    return ok
