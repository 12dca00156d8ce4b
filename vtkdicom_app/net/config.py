"""PACS servers named in a small TOML file, and the secrets they name (never hold).

The file is ``servers.toml`` in ``$VTKDICOM_APP_CONFIG_DIR`` if set, else in
``$XDG_CONFIG_HOME/vtkdicom_app`` (default ``~/.config/vtkdicom_app``)::

    calling_aet = "VTKDICOM"          # optional: our AE title for every server
    default = "hospital"              # optional: the server used when none is named

    [servers.hospital]                # DIMSE (C-ECHO, C-FIND, C-GET, C-MOVE)
    host = "pacs.example.org"
    port = 104
    called_aet = "PACS"
    calling_aet = "MYVIEWER"          # optional, overrides the global one
    method = "get"                    # get (default) | move | web
    move_port = 11112                 # C-MOVE: the port our storage SCP listens on
    move_aet = "MYVIEWER"             # C-MOVE destination AE (default: calling_aet)
    move_listen = "127.0.0.1"         # listening address (default 127.0.0.1)
    timeout = 30                      # seconds without an answer before giving up
    tls = false                       # DICOM TLS (with tls_ca_file, tls_cert_file, tls_key_file)

    [servers.cloud]                   # DICOMweb (QIDO-RS, WADO-RS)
    url = "https://dicomweb.example.org/dicom-web"
    token_env = "CLOUD_PACS_TOKEN"    # bearer token read from this environment variable
    # username_env = "PACS_USER"      # or HTTP basic authentication from these two
    # password_env = "PACS_PASSWORD"
    tls_ca_file = "/etc/ssl/certs/hospital-ca.pem"
    tls_verify = true

A server may have both ``host`` and ``url`` (Orthanc, dcm4chee). Secrets are never stored in
the file, in :class:`ServerConfig`, in reprs, logs or error messages: the file names
environment variables, which are read only when a request is sent. A ``password``, ``token``
or a URL with ``user:password@`` in the file is refused.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.net.errors import ServerConfigError

__all__ = [
    "RetrieveMethod",
    "ServerConfig",
    "ServersFile",
    "DEFAULT_CALLING_AET",
    "config_dir",
    "config_path",
    "load_servers",
    "get_server",
    "save_servers",
    "default_cache_dir",
]

DEFAULT_CALLING_AET = "VTKDICOM_APP"
_AET_RE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # printable ASCII without backslash
_SECRET_KEYS = frozenset({"password", "token", "secret", "bearer", "api_key", "apikey", "auth"})


class RetrieveMethod(enum.Enum):
    """How a study or series is retrieved.

    ``GET``: C-GET over the query association (no inbound port, the default).
    ``MOVE``: C-MOVE to a storage SCP started here for the duration of the transfer.
    ``WEB``: DICOMweb WADO-RS.
    """

    GET = "get"
    MOVE = "move"
    WEB = "web"


def config_dir() -> Path:
    """The folder of ``servers.toml``: ``$VTKDICOM_APP_CONFIG_DIR`` or ``~/.config/vtkdicom_app``."""
    env = os.environ.get("VTKDICOM_APP_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "vtkdicom_app"


def config_path() -> Path:
    """The path of ``servers.toml``."""
    return config_dir() / "servers.toml"


def default_cache_dir() -> Path:
    """Where retrieved studies go: ``$VTKDICOM_APP_CACHE_DIR`` or ``~/.cache/vtkdicom_app/studies``."""
    env = os.environ.get("VTKDICOM_APP_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vtkdicom_app" / "studies"


def _public_url(url: str) -> str:
    """The URL without user info, query or fragment: what messages may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """One PACS: a DIMSE endpoint (host, port, AE titles), a DICOMweb URL, or both.

    Attributes
    ----------
    name : str
        The name in servers.toml (or ``host:port`` / the URL for an ad-hoc server).
    host, port : str, int
        DIMSE endpoint.
    called_aet : str
        The server's AE title.
    calling_aet : str
        Ours.
    url : str
        DICOMweb root (QIDO-RS and WADO-RS live below it), without credentials.
    token_env : str
        Name of the environment variable holding a bearer token.
    username_env, password_env : str
        Names of the environment variables holding HTTP basic credentials.
    method : RetrieveMethod
        Default retrieval method for this server.
    move_port : int
        Port of our storage SCP for C-MOVE (the server must know it with ``move_aet``).
    move_aet : str
        AE title the server sends C-MOVE results to (default ``calling_aet``).
    move_listen : str
        Address our storage SCP listens on (default 127.0.0.1).
    timeout : float
        Seconds without an answer (connect, association, each response) before giving up.
    tls : bool
        DICOM TLS on the DIMSE connection.
    tls_ca_file, tls_cert_file, tls_key_file : str
        CA bundle to verify the server, and our client certificate and key (DIMSE and HTTPS).
    tls_verify : bool
        Verify the server's certificate (default True).
    max_pdu : int
        Largest PDU we accept, bytes (0: no limit).
    """

    name: str
    host: str | None = None
    port: int | None = None
    called_aet: str = "ANY-SCP"
    calling_aet: str = DEFAULT_CALLING_AET
    url: str | None = None
    token_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    method: RetrieveMethod | None = None
    move_port: int | None = None
    move_aet: str | None = None
    move_listen: str = "127.0.0.1"
    timeout: float = 30.0
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_verify: bool = True
    max_pdu: int = 0

    def __post_init__(self) -> None:
        where = f"server '{self.name}'"
        if self.host is None and self.url is None:
            raise ServerConfigError(f"{where}: give host and port (DIMSE) or url (DICOMweb)")
        if self.host is not None:
            if not self.host.strip():
                raise ServerConfigError(f"{where}: host is empty")
            if self.port is None or not (0 < int(self.port) < 65536):
                raise ServerConfigError(f"{where}: port must be 1..65535 (got {self.port})")
        for key in ("called_aet", "calling_aet", "move_aet"):
            value = getattr(self, key)
            if value is not None and not _AET_RE.match(value.strip() or "\\"):
                raise ServerConfigError(f"{where}: {key} {value!r} is not a valid AE title (1-16 printable ASCII characters, no backslash)")
        if self.move_port is not None and not (0 < int(self.move_port) < 65536):
            raise ServerConfigError(f"{where}: move_port must be 1..65535 (got {self.move_port})")
        try:
            ipaddress.ip_address(self.move_listen)
        except ValueError:
            if self.move_listen != "localhost":
                raise ServerConfigError(f"{where}: move_listen must be an IP address (got {self.move_listen!r})") from None
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ServerConfigError(f"{where}: url must be http(s)://host[:port]/path (got {_public_url(self.url)!r})")
            if parts.username or parts.password:
                raise ServerConfigError(
                    f"{where}: the url must not contain credentials; name environment variables with username_env/password_env or token_env"
                )
        if self.token_env and (self.username_env or self.password_env):
            raise ServerConfigError(f"{where}: give token_env or username_env/password_env, not both")
        if bool(self.username_env) != bool(self.password_env):
            raise ServerConfigError(f"{where}: basic authentication needs both username_env and password_env")
        if self.timeout <= 0:
            raise ServerConfigError(f"{where}: timeout must be positive (got {self.timeout})")
        if self.method is RetrieveMethod.WEB and self.url is None:
            raise ServerConfigError(f"{where}: method 'web' needs a url")
        if self.method in (RetrieveMethod.GET, RetrieveMethod.MOVE) and self.host is None:
            raise ServerConfigError(f"{where}: method '{self.method.value}' needs host and port")

    # ------------------------------------------------------------------ descriptions
    @property
    def has_dimse(self) -> bool:
        """Whether C-ECHO/C-FIND/C-GET/C-MOVE can be used."""
        return self.host is not None

    @property
    def has_web(self) -> bool:
        """Whether QIDO-RS/WADO-RS can be used."""
        return self.url is not None

    @property
    def default_method(self) -> RetrieveMethod:
        """The configured method, else C-GET for a DIMSE server, WADO-RS for a DICOMweb one."""
        if self.method is not None:
            return self.method
        return RetrieveMethod.GET if self.has_dimse else RetrieveMethod.WEB

    @property
    def public_url(self) -> str:
        """The DICOMweb URL as messages show it (no credentials, no query)."""
        return _public_url(self.url) if self.url else ""

    def describe(self, web: bool | None = None) -> str:
        """``'name' (host:port, AE 'X')`` or ``'name' (https://host/path)`` for messages."""
        if web is None:
            web = not self.has_dimse
        if web and self.url:
            where = self.public_url
            adhoc = f"PACS {where}"
        else:
            where = f"{self.host}:{self.port}, called AE '{self.called_aet}'"
            adhoc = f"PACS {self.host}:{self.port} (called AE '{self.called_aet}')"
        if self.name and self.name not in (f"{self.host}:{self.port}", self.public_url):
            return f"PACS '{self.name}' ({where})"
        return adhoc

    @property
    def destination_aet(self) -> str:
        """The C-MOVE destination AE title."""
        return self.move_aet or self.calling_aet

    # ------------------------------------------------------------------ secrets
    def _env(self, var: str, what: str) -> str:
        value = os.environ.get(var)
        if not value:
            raise ServerConfigError(f"server '{self.name}': environment variable {var} ({what}) is not set; export it or change {what} in {config_path()}")
        return value

    def bearer_token(self) -> str | None:
        """The bearer token from ``token_env`` (read now; never stored)."""
        return self._env(self.token_env, "token_env") if self.token_env else None

    def basic_auth(self) -> tuple[str, str] | None:
        """``(user, password)`` from ``username_env``/``password_env`` (read now; never stored)."""
        if not self.username_env or not self.password_env:
            return None
        return self._env(self.username_env, "username_env"), self._env(self.password_env, "password_env")

    def auth_hint(self) -> str:
        """What to check after a 401/403, naming the variables (never their values)."""
        if self.token_env:
            return f"check the bearer token in ${self.token_env}"
        if self.username_env:
            return f"check the user and password in ${self.username_env} and ${self.password_env}"
        return "the server wants credentials: name environment variables with token_env or username_env/password_env in servers.toml"

    # ------------------------------------------------------------------ (de)serialisation
    def to_toml_table(self) -> dict[str, Any]:
        """The non-default fields as servers.toml writes them (no secrets: there are none here)."""
        out: dict[str, Any] = {}
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for f in dataclasses.fields(self):
            if f.name == "name":
                continue
            value = getattr(self, f.name)
            if value is None or value == defaults[f.name]:
                continue
            out[f.name] = value.value if isinstance(value, enum.Enum) else value
        return out

    @classmethod
    def from_mapping(cls, name: str, table: Mapping[str, Any], *, calling_aet: str | None = None) -> ServerConfig:
        """Build from one ``[servers.NAME]`` table.

        Raises
        ------
        ServerConfigError
            Unknown keys, secrets written in the file, wrong types or values.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {"name": name}
        if calling_aet:
            kwargs["calling_aet"] = calling_aet
        for key, value in table.items():
            if key.lower() in _SECRET_KEYS or key.lower().endswith(("_password", "_token", "_secret")):
                raise ServerConfigError(
                    f"server '{name}': secrets do not belong in {config_path().name}; "
                    f"put it in an environment variable and name it with {'token_env' if 'token' in key.lower() or 'bearer' in key.lower() else 'password_env'}"
                )
            if key not in known or key == "name":
                raise ServerConfigError(f"server '{name}': unknown key {key!r} (known: {', '.join(sorted(k for k in known if k != 'name'))})")
            kind = known[key].type
            try:
                if key == "method":
                    value = RetrieveMethod(str(value).lower())
                elif key in ("port", "move_port", "max_pdu"):
                    if isinstance(value, bool) or not isinstance(value, int):
                        raise TypeError
                elif key == "timeout":
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise TypeError
                    value = float(value)
                elif key in ("tls", "tls_verify"):
                    if not isinstance(value, bool):
                        raise TypeError
                elif not isinstance(value, str):
                    raise TypeError
            except (TypeError, ValueError):
                raise ServerConfigError(f"server '{name}': {key} has the wrong type or value ({type(value).__name__}; expected {kind})") from None
            kwargs[key] = value
        return cls(**kwargs)

    @classmethod
    def adhoc(
        cls,
        *,
        host: str | None = None,
        port: int | None = None,
        called_aet: str | None = None,
        url: str | None = None,
        calling_aet: str | None = None,
        **options: Any,
    ) -> ServerConfig:
        """A server given on the command line (named ``host:port`` or by its URL)."""
        name = f"{host}:{port}" if host else _public_url(url or "")
        kwargs: dict[str, Any] = dict(options, host=host, port=port, url=url)
        if called_aet:
            kwargs["called_aet"] = called_aet
        if calling_aet:
            kwargs["calling_aet"] = calling_aet
        return cls(name=name, **kwargs)


@dataclasses.dataclass
class ServersFile:
    """The contents of servers.toml.

    Attributes
    ----------
    servers : dict of str to ServerConfig
    default : str or None
        The server used when none is named.
    calling_aet : str or None
        Our AE title for every server without its own.
    cache_dir : str or None
        Where retrieved studies go.
    path : Path or None
        Where it was read from.
    """

    servers: dict[str, ServerConfig]
    default: str | None = None
    calling_aet: str | None = None
    cache_dir: str | None = None
    path: Path | None = None


def load_servers(path: str | os.PathLike[str] | None = None) -> ServersFile:
    """Read servers.toml (an absent file gives no servers).

    Parameters
    ----------
    path : str or os.PathLike, optional
        Default :func:`config_path`.

    Returns
    -------
    ServersFile

    Raises
    ------
    ServerConfigError
        Invalid TOML, unknown keys, secrets in the file.
    """
    import tomllib

    p = Path(path) if path is not None else config_path()
    if not p.exists():
        return ServersFile({}, path=p)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ServerConfigError(f"cannot read {p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ServerConfigError(f"{p} is not valid TOML: {exc}") from None
    unknown = set(data) - {"servers", "default", "calling_aet", "cache_dir"}
    if unknown:
        raise ServerConfigError(f"{p}: unknown top-level key(s) {', '.join(sorted(unknown))} (known: servers, default, calling_aet, cache_dir)")
    calling = data.get("calling_aet")
    if calling is not None and not isinstance(calling, str):
        raise ServerConfigError(f"{p}: calling_aet must be a string")
    tables = data.get("servers", {})
    if not isinstance(tables, dict):
        raise ServerConfigError(f"{p}: 'servers' must be a table of [servers.NAME] tables")
    servers: dict[str, ServerConfig] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ServerConfigError(f"{p}: servers.{name} must be a table")
        try:
            servers[name] = ServerConfig.from_mapping(name, table, calling_aet=calling)
        except ServerConfigError as exc:
            raise ServerConfigError(f"{p}: {exc}") from None
    default = data.get("default")
    if default is not None and default not in servers:
        raise ServerConfigError(f"{p}: default = {default!r} names no [servers.{default}] table")
    cache_dir = data.get("cache_dir")
    return ServersFile(servers, default=default, calling_aet=calling, cache_dir=str(cache_dir) if cache_dir else None, path=p)


def get_server(name: str | None = None, path: str | os.PathLike[str] | None = None) -> ServerConfig:
    """One server from servers.toml: by name, else the default, else the only one.

    Raises
    ------
    ServerConfigError
        No such server, or no name given and no single/default server.
    """
    cfg = load_servers(path)
    where = cfg.path or config_path()
    if name is None:
        name = cfg.default or (next(iter(cfg.servers)) if len(cfg.servers) == 1 else None)
        if name is None:
            have = ", ".join(sorted(cfg.servers)) or "none"
            raise ServerConfigError(f"no server named and no default in {where} (servers: {have}); give --server NAME, --host/--port/--aet or --url")
    if name not in cfg.servers:
        have = ", ".join(sorted(cfg.servers)) or "none"
        raise ServerConfigError(f"no server {name!r} in {where} (servers: {have})")
    return cfg.servers[name]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def save_servers(servers: ServersFile | Mapping[str, ServerConfig], path: str | os.PathLike[str] | None = None) -> Path:
    """Write servers.toml atomically. Only names of environment variables are written, never secrets.

    Parameters
    ----------
    servers : ServersFile or mapping of name to ServerConfig
    path : str or os.PathLike, optional
        Default :func:`config_path`.

    Returns
    -------
    Path
    """
    sf = servers if isinstance(servers, ServersFile) else ServersFile(dict(servers))
    p = Path(path) if path is not None else config_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# PACS servers of vtkdicom_app; secrets live in the environment variables named here."]
    for key in ("default", "calling_aet", "cache_dir"):
        value = getattr(sf, key)
        if value:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, server in sf.servers.items():
        table = server.to_toml_table()
        if sf.calling_aet and table.get("calling_aet") == sf.calling_aet:
            table.pop("calling_aet")
        lines.append("")
        lines.append(f"[servers.{json.dumps(name) if not re.match(r'^[A-Za-z0-9_-]+$', name) else name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
    with atomic_path(p) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
