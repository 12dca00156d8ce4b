"""DICOMweb with dicomweb-client: QIDO-RS searches and WADO-RS retrieval.

Credentials come from the environment variables the server configuration names and are
attached to each request by a ``requests`` auth object (never to the headers the client
logs). HTTP and network failures become one-line :class:`~vtkdicom_app.net.errors.PacsError`
messages naming the server (URL without credentials) and what to check.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from vtkdicom_app.net.config import ServerConfig
from vtkdicom_app.net.errors import (
    PacsAuthError,
    PacsConnectionError,
    PacsNotFoundError,
    QueryFailedError,
    ServerConfigError,
    TransferTimeoutError,
)
from vtkdicom_app.net.query import QueryLevel

if TYPE_CHECKING:  # pragma: no cover
    from dicomweb_client.api import DICOMwebClient

    from vtkdicom_app.net.retrieve import Receiver, SeriesPlan

__all__ = ["echo", "search", "retrieve"]


def _bearer(token: str) -> Any:
    import requests

    class BearerAuth(requests.auth.AuthBase):
        """``Authorization: Bearer`` added to each request; the repr shows no token."""

        def __init__(self, value: str) -> None:
            self._value = value

        def __call__(self, r: Any) -> Any:
            r.headers["Authorization"] = f"Bearer {self._value}"
            return r

        def __repr__(self) -> str:
            return "BearerAuth(***)"

    return BearerAuth(token)


# QIDO matching characters that dicomweb-client percent-encodes but some servers (Orthanc
# 1.10's DICOMweb plugin) then match literally; all are legal in a query string as they are
_QUERY_KEEP = {"%2A": "*", "%3F": "?", "%5E": "^", "%2C": ","}


def _session() -> Any:
    import requests

    class Session(requests.Session):
        """Sends QIDO wildcards (``*``, ``?``) and ``^`` unencoded in the query string."""

        def send(self, request: Any, **kwargs: Any) -> Any:
            url = str(request.url)
            if "?" in url:
                base, _, query = url.partition("?")
                for enc, raw in _QUERY_KEEP.items():
                    query = query.replace(enc, raw).replace(enc.lower(), raw)
                request.url = f"{base}?{query}"
            return super().send(request, **kwargs)

    return Session()


def client(server: ServerConfig) -> DICOMwebClient:
    """A DICOMweb client for ``server.url`` with its credentials and TLS options.

    Raises
    ------
    ServerConfigError
        No URL, or a named environment variable is not set.
    """
    import requests
    from dicomweb_client.api import DICOMwebClient

    if not server.url:
        raise ServerConfigError(f"{server.describe()} has no DICOMweb url; give --url or url in servers.toml, or use --method get/move")
    session = _session()
    token = server.bearer_token()
    basic = server.basic_auth()
    if token:
        session.auth = _bearer(token)
    elif basic:
        session.auth = requests.auth.HTTPBasicAuth(*basic)
    session.verify = server.tls_ca_file if (server.tls_ca_file and server.tls_verify) else server.tls_verify
    if server.tls_cert_file:
        session.cert = (server.tls_cert_file, server.tls_key_file) if server.tls_key_file else server.tls_cert_file
    c = DICOMwebClient(url=server.url.rstrip("/"), session=session, timeout=server.timeout, chunk_size=1 << 20)
    c.set_http_retry_params(retry=False)
    return c


@contextlib.contextmanager
def _errors(server: ServerConfig, what: str) -> Iterator[None]:
    """Turn requests/dicomweb-client exceptions into one-line PacsErrors."""
    import requests

    where = server.describe(web=True)
    try:
        yield
    except requests.HTTPError as exc:
        rsp = exc.response
        code = rsp.status_code if rsp is not None else 0
        reason = (rsp.reason if rsp is not None else "") or ""
        if code in (401, 403):
            raise PacsAuthError(f"{where} answered {code} {reason} to {what}; {server.auth_hint()}") from None
        if code == 404:
            raise PacsNotFoundError(
                f"{where} answered 404 Not Found to {what}; check the URL (the DICOMweb root, e.g. http://host:8042/dicom-web) and the UIDs"
            ) from None
        raise QueryFailedError(f"{where} answered {code} {reason} to {what}; check the server's log") from None
    except requests.exceptions.SSLError:
        raise PacsConnectionError(f"TLS with {where} failed during {what}; check tls_ca_file, tls_cert_file and tls_verify") from None
    except requests.exceptions.ConnectTimeout:
        raise PacsConnectionError(
            f"cannot connect to {where}: no answer within {server.timeout:g} s; check the URL, firewall and that the server is running"
        ) from None
    except requests.exceptions.ReadTimeout:
        raise TransferTimeoutError(
            f"{where} sent nothing for {server.timeout:g} s during {what}; check the server's load and network, or raise timeout in servers.toml"
        ) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise PacsConnectionError(f"connection to {where} broke during {what} ({type(exc).__name__}); check that the server is running and its log") from None
    except requests.exceptions.ConnectionError as exc:
        text = str(exc).lower()
        if "read timed out" in text:
            raise TransferTimeoutError(
                f"{where} sent nothing for {server.timeout:g} s during {what}; check the server's load and network, or raise timeout in servers.toml"
            ) from None
        if "refused" in text or "name or service" in text or "failed to resolve" in text or "no route" in text:
            raise PacsConnectionError(
                f"cannot connect to {where}: {'host not found' if 'resolve' in text or 'name or service' in text else 'connection refused'}; "
                "check the URL and that the server is running"
            ) from None
        raise PacsConnectionError(f"connection to {where} lost during {what}; check that the server is running and its log") from None
    except requests.RequestException as exc:
        raise PacsConnectionError(f"{what} on {where} failed ({type(exc).__name__}); check the URL and the server's log") from None
    except ValueError as exc:  # dicomweb-client: a malformed answer (not multipart, bad JSON)
        if "UID" in str(exc) or "uid" in str(exc):
            raise QueryFailedError(f"{what} on {where}: {str(exc).splitlines()[0]}") from None
        raise QueryFailedError(f"{where} gave an answer that is not DICOMweb to {what}; check that the URL is the DICOMweb root") from None


def echo(server: ServerConfig) -> float:
    """A one-result QIDO-RS study search; returns the round trip in seconds."""
    c = client(server)
    t0 = time.perf_counter()
    with _errors(server, "QIDO-RS (echo)"):
        c.search_for_studies(limit=1, fields=["StudyInstanceUID"])
    return time.perf_counter() - t0


def search(
    server: ServerConfig, level: QueryLevel, filters: dict[str, str], fields: Sequence[str], *, study_uid: str | None = None, series_uid: str | None = None
) -> list[dict[str, Any]]:
    """One QIDO-RS search at STUDY, SERIES (below ``study_uid``) or IMAGE level.

    Returns
    -------
    list of dict
        DICOM JSON objects.
    """
    c = client(server)
    what = f"QIDO-RS {level.value.lower()} search"
    with _errors(server, what):
        if level is QueryLevel.STUDY:
            return list(c.search_for_studies(search_filters=dict(filters), fields=list(fields)))
        if level is QueryLevel.SERIES:
            return list(c.search_for_series(study_instance_uid=study_uid, search_filters=dict(filters), fields=list(fields)))
        if level is QueryLevel.IMAGE:
            return list(c.search_for_instances(study_instance_uid=study_uid, series_instance_uid=series_uid, search_filters=dict(filters), fields=list(fields)))
    raise QueryFailedError(f"QIDO-RS has no {level.value} level; search studies and group them by patient")


def _encode(ds: Any) -> bytes:
    from pydicom import dcmwrite

    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


_UID_TAGS = (0x0020000D, 0x0020000E, 0x00080018)  # Study, Series, SOP Instance UID


def _uids(part: bytes) -> tuple[str, str, str]:
    from pydicom import dcmread

    try:
        ds = dcmread(io.BytesIO(part), stop_before_pixels=True, specific_tags=list(_UID_TAGS), force=True)
        return tuple(str(ds[t].value) if t in ds else "" for t in _UID_TAGS)  # type: ignore[return-value]
    except Exception:
        return "", "", ""


def _series_parts(c: DICOMwebClient, server: ServerConfig, study_uid: str, series_uid: str) -> Iterator[tuple[bytes, Any]]:
    """``(part bytes, None)`` for each instance of a series as the server stores it (no
    transcoding, no decoding), through dicomweb-client's HTTP session and multipart reader;
    ``(encoded, dataset)`` through its public ``iter_series`` if those are missing."""
    get = getattr(c, "_http_get", None)
    decode = getattr(c, "_decode_multipart_message", None)
    if get is None or decode is None:  # another dicomweb-client: decoded datasets, re-encoded
        for ds in c.iter_series(study_uid, series_uid):
            yield _encode(ds), ds
        return
    url = f"{str(server.url).rstrip('/')}/studies/{study_uid}/series/{series_uid}"
    response = get(url, headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}, stream=True)
    for part in decode(response, stream=True):
        yield bytes(part), None


def retrieve(server: ServerConfig, plans: Sequence[SeriesPlan], receiver: Receiver, tick: Callable[[], None]) -> None:
    """WADO-RS: whole series where nothing is cached, else the missing instances one by one.

    Whole series arrive as the server stores them (``transfer-syntax=*``) and are written
    byte for byte; only the three UIDs of each are read, to check them.
    """
    c = client(server)
    for plan in plans:
        what = f"WADO-RS retrieve of series {plan.series_uid}"
        with _errors(server, what):
            if plan.fetch_all:
                items: Iterator[tuple[bytes, Any]] = _series_parts(c, server, plan.study_uid, plan.series_uid)
            else:
                items = ((_encode(ds), ds) for ds in (c.retrieve_instance(plan.study_uid, plan.series_uid, sop) for sop in sorted(plan.missing)))
        try:
            while True:
                with _errors(server, what):  # the progress callback runs outside: its exceptions pass unchanged
                    item = next(items, None)
                if item is None:
                    break
                data, ds = item
                if ds is not None:
                    study, series, sop = (str(getattr(ds, k, "")) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"))
                else:
                    study, series, sop = _uids(data)
                receiver.store(study, series, sop, data)
                receiver.raise_if_failed()
                tick()
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
