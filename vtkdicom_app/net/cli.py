"""``vtkdicom-app pacs echo|find|get``: the PACS client on the command line.

Wired into ``vtkdicom-app`` by :mod:`vtkdicom_app.cli.pacs` through :func:`add_pacs_parser`;
this module imports nothing heavy (pydicom, pynetdicom, requests load when a command runs).

Exit codes: 0 success, 1 runtime failure (one line on stderr naming the server and what to
check), 2 usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Any

from vtkdicom_app.errors import UsageError
from vtkdicom_app.net.config import RetrieveMethod, ServerConfig

__all__ = ["add_pacs_parser", "cmd_pacs"]

_ACTIONS = ("echo", "find", "get")


class _UsageError(UsageError):
    """Bad or conflicting options: exit code 2 (the one :class:`~vtkdicom_app.errors.UsageError`)."""


def _server_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("server (one of --server, --host/--port/--aet, --url; default: servers.toml's default)")
    g.add_argument("--server", metavar="NAME", help="a server named in servers.toml ($VTKDICOM_APP_CONFIG_DIR or ~/.config/vtkdicom_app)")
    g.add_argument("--host", metavar="H", help="DIMSE host")
    g.add_argument("--port", metavar="P", type=int, help="DIMSE port")
    g.add_argument("--aet", metavar="AET", help="the server's AE title (called AE)")
    g.add_argument("--url", metavar="DICOMWEB_URL", help="DICOMweb root, e.g. http://host:8042/dicom-web")
    g.add_argument("--token-env", metavar="VAR", help="DICOMweb: environment variable holding a bearer token")
    g.add_argument("--user-env", metavar="VAR", help="DICOMweb: environment variable holding the basic-auth user (with --password-env)")
    g.add_argument("--password-env", metavar="VAR", help="DICOMweb: environment variable holding the basic-auth password")
    g.add_argument("--calling-aet", metavar="ME", help="our AE title (default: servers.toml's, else VTKDICOM_APP)")
    g.add_argument("--timeout", type=float, metavar="S", help="seconds without an answer before giving up (default 30)")
    g.add_argument("--config", metavar="FILE", help="servers.toml to read instead of the default one")


def _filter_options(parser: argparse.ArgumentParser, *, level: bool) -> None:
    g = parser.add_argument_group("filters (* and ? wildcards in patient id and name)")
    if level:
        g.add_argument("--level", choices=["patient", "study", "series"], default="study", help="what to list (default study)")
    g.add_argument("--patient-id", metavar="ID")
    g.add_argument("--patient-name", metavar="PAT", help="DICOM name, e.g. 'DOE^J*'")
    g.add_argument("--study-date", metavar="FROM-TO", help="YYYYMMDD, YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD")
    g.add_argument("--modality", metavar="M", help="CT, MR, PT, ...")
    g.add_argument("--accession", metavar="ACC", help="accession number")
    g.add_argument("--study", metavar="UID", help="StudyInstanceUID")
    g.add_argument("--series", metavar="UID", help="SeriesInstanceUID")


def add_pacs_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``pacs`` command (``echo``, ``find``, ``get``) to the CLI's sub-parsers.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned; every action sets ``func=cmd_pacs``.
    """
    p = subparsers.add_parser(
        "pacs",
        help="query and retrieve studies from a PACS (C-FIND/C-GET/C-MOVE or DICOMweb)",
        description="Query a PACS and retrieve studies into the local study cache, which every other command reads.",
    )
    actions = p.add_subparsers(dest="pacs_action", metavar="ACTION")

    e = actions.add_parser("echo", help="check that the server answers (C-ECHO, or a QIDO-RS search for DICOMweb)")
    _server_options(e)
    e.add_argument("--json", action="store_true", help="machine-readable output")

    f = actions.add_parser("find", help="list patients, studies or series matching the filters")
    _server_options(f)
    _filter_options(f, level=True)
    f.add_argument("--method", choices=[m.value for m in RetrieveMethod], help="web: QIDO-RS; get/move: C-FIND (default: the server's)")
    f.add_argument("--json", action="store_true", help="machine-readable output")

    g = actions.add_parser("get", help="retrieve a study (or one series) into the study cache and print where it is")
    _server_options(g)
    _filter_options(g, level=False)
    g.add_argument("-o", "--output", metavar="DIR", help="study cache folder (default $VTKDICOM_APP_CACHE_DIR or ~/.cache/vtkdicom_app/studies)")
    g.add_argument("--method", choices=[m.value for m in RetrieveMethod], help="get: C-GET (default), move: C-MOVE to a port opened here, web: WADO-RS")
    g.add_argument("--move-port", type=int, metavar="P", help="C-MOVE: port of our storage SCP (the server must know it)")
    g.add_argument("--move-aet", metavar="AET", help="C-MOVE destination AE title (default: the calling AE)")
    g.add_argument("--move-listen", metavar="ADDR", help="C-MOVE: address to listen on (default 127.0.0.1)")
    g.add_argument("--json", action="store_true", help="machine-readable output")

    for sp in (p, e, f, g):
        sp.set_defaults(func=cmd_pacs, pacs_parser=p)


# ---------------------------------------------------------------------------- helpers
def _server(args: argparse.Namespace) -> ServerConfig:
    from vtkdicom_app.net.config import get_server
    from vtkdicom_app.net.errors import ServerConfigError

    adhoc = any(getattr(args, k, None) is not None for k in ("host", "port", "aet", "url"))
    overrides: dict[str, Any] = {}
    if args.calling_aet:
        overrides["calling_aet"] = args.calling_aet
    if args.timeout is not None:
        if args.timeout <= 0:
            raise _UsageError("--timeout must be positive")
        overrides["timeout"] = float(args.timeout)
    renamed = {"user_env": "username_env"}
    for opt in ("move_port", "move_aet", "move_listen", "token_env", "user_env", "password_env"):
        key = renamed.get(opt, opt)
        value = getattr(args, opt, None)
        if value is not None:
            overrides[key] = value
    if args.server and adhoc:
        raise _UsageError("give --server NAME or --host/--port/--aet/--url, not both")
    if adhoc:
        if (args.host is None) != (args.port is None):
            raise _UsageError("--host and --port go together")
        if args.aet is not None and args.host is None:
            raise _UsageError("--aet needs --host and --port")
        from vtkdicom_app.net.config import load_servers

        calling = None
        try:
            calling = load_servers(args.config).calling_aet
        except Exception:  # an unreadable servers.toml does not matter for an ad-hoc server
            calling = None
        if calling and "calling_aet" not in overrides:
            overrides["calling_aet"] = calling
        try:
            return ServerConfig.adhoc(host=args.host, port=args.port, called_aet=args.aet, url=args.url, **overrides)
        except ServerConfigError as exc:
            raise _UsageError(str(exc)) from None
    from vtkdicom_app.net.config import config_path, load_servers

    if args.server is None:
        cfg = load_servers(args.config)
        if not cfg.servers:
            raise _UsageError(f"no server: give --server NAME, --host/--port/--aet or --url (no servers in {cfg.path or config_path()})")
    try:
        server = get_server(args.server, args.config)
    except ServerConfigError as exc:
        if str(exc).startswith("no server"):  # a wrong --server NAME; a broken file is a runtime error
            raise _UsageError(str(exc)) from None
        raise
    try:
        return dataclasses.replace(server, **overrides) if overrides else server
    except ServerConfigError as exc:
        raise _UsageError(str(exc)) from None


def _query(args: argparse.Namespace, level: str) -> Any:
    from vtkdicom_app.net.query import Query, QueryLevel

    return Query(
        level=QueryLevel(level.upper()),
        patient_id=args.patient_id,
        patient_name=args.patient_name,
        study_date=args.study_date,
        modality=args.modality,
        accession_number=args.accession,
        study_uid=args.study,
        series_uid=args.series,
    )


class _Progress:
    """A tqdm bar on stderr when it is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._stage = ""

    def __call__(self, done: int, total: int, stage: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self._stage or self._bar is None:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, desc=stage, unit="file" if stage != "listing instances" else "series", file=sys.stderr, leave=False)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _web_choice(args: argparse.Namespace, server: ServerConfig) -> bool | None:
    method = getattr(args, "method", None)
    if method is None:
        return None
    return RetrieveMethod(method) is RetrieveMethod.WEB


# ---------------------------------------------------------------------------- actions
def _echo(args: argparse.Namespace, server: ServerConfig) -> int:
    from vtkdicom_app.net.api import echo

    results = []
    for web in ([False] if server.has_dimse else []) + ([True] if server.has_web else []):
        seconds = echo(server, web=web)
        results.append({"server": server.describe(web=web), "protocol": "DICOMweb" if web else "DIMSE", "ms": round(seconds * 1000, 1)})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            what = "a QIDO-RS search" if r["protocol"] == "DICOMweb" else "C-ECHO"
            print(f"{r['server']} answered {what} in {r['ms']:.0f} ms")
    return 0


def _find(args: argparse.Namespace, server: ServerConfig) -> int:
    from vtkdicom_app.net.api import find
    from vtkdicom_app.net.query import format_table

    records = find(server, _query(args, args.level), web=_web_choice(args, server))
    if args.json:
        print(json.dumps([r.as_dict() for r in records], indent=2))
    else:
        print(format_table(records))
    return 0


def _get(args: argparse.Namespace, server: ServerConfig) -> int:
    from vtkdicom_app.net.api import find
    from vtkdicom_app.net.retrieve import retrieve

    method = RetrieveMethod(args.method) if args.method else server.default_method
    study = args.study
    if study is None:
        q = _query(args, "study")
        if not q.has_study_filters():
            raise _UsageError("get needs --study UID (or filters that match one study: --patient-id, --study-date, --accession)")
        studies = find(server, q, web=method is RetrieveMethod.WEB)
        if len(studies) != 1:
            from vtkdicom_app.net.errors import PacsNotFoundError

            if not studies:
                raise PacsNotFoundError(f"no study on {server.describe(web=method is RetrieveMethod.WEB)} matches the filters; check them with pacs find")
            raise _UsageError(f"{len(studies)} studies match the filters; give --study UID (pacs find lists them)")
        study = studies[0].study_uid  # type: ignore[union-attr]
    progress = _Progress(not getattr(args, "quiet", False))
    try:
        result = retrieve(
            server,
            study,
            args.series,
            method=method,
            cache_dir=args.output,
            progress=progress,
            move_port=args.move_port,
            move_listen=args.move_listen,
        )
    finally:
        progress.close()
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        mb = result.bytes_transferred / 1e6
        print(
            f"{result.n_transferred} instance(s) retrieved by {method.value} ({mb:.1f} MB in {result.seconds:.1f} s), {result.n_cached} already in the cache",
            file=sys.stderr,
        )
        print(os.fspath(result))
    return 0


def cmd_pacs(args: argparse.Namespace) -> int:
    """Run ``vtkdicom-app pacs ACTION``.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by the parser :func:`add_pacs_parser` made.

    Returns
    -------
    int
        0 success, 1 runtime failure (one line on stderr), 2 usage error.
    """
    from vtkdicom_app.errors import VtkDicomError
    from vtkdicom_app.net.errors import QueryFailedError

    action = getattr(args, "pacs_action", None)
    if action not in _ACTIONS:
        parser = getattr(args, "pacs_parser", None)
        if parser is not None:
            parser.print_usage(sys.stderr)
        print("vtkdicom-app pacs: error: choose an action: echo, find or get", file=sys.stderr)
        return 2
    try:
        try:
            server = _server(args)
            if action in ("find", "get"):
                _query(args, getattr(args, "level", "study"))  # validate filters before any network
        except QueryFailedError as exc:
            raise _UsageError(str(exc)) from None
        if action == "echo":
            return _echo(args, server)
        if action == "find":
            return _find(args, server)
        return _get(args, server)
    except _UsageError as exc:
        print(f"vtkdicom-app pacs {action}: error: {exc}", file=sys.stderr)
        return 2
    except VtkDicomError as exc:
        if getattr(args, "debug", False):
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 1
    except OSError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
