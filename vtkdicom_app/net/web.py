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
from collections.abc import Callable, Iterable, Iterator, Sequence
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
    from dicomweb_client.api import DICOMwebClient

    c = DICOMwebClient(url=str(server.url).rstrip("/"), session=http_session(server), timeout=server.timeout, chunk_size=1 << 20)
    c.set_http_retry_params(retry=False)
    return c


def http_session(server: ServerConfig) -> Any:
    """A ``requests`` session with the server's credentials and TLS options (QIDO wildcards
    sent unencoded).

    Raises
    ------
    ServerConfigError
        No URL, or a named environment variable is not set.
    """
    import requests

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
    return session


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


_UID_TAGS = (0x0020000D, 0x0020000E, 0x00080018)  # Study, Series, SOP Instance UID
_ACCEPT = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
_CHUNK = 1 << 20


def _uids(part: bytes) -> tuple[str, str, str]:
    from pydicom import dcmread

    try:
        ds = dcmread(io.BytesIO(part), stop_before_pixels=True, specific_tags=list(_UID_TAGS), force=True)
        return tuple(str(ds[t].value) if t in ds else "" for t in _UID_TAGS)  # type: ignore[return-value]
    except Exception:
        return "", "", ""


class TruncatedMultipartError(ValueError):
    """The multipart body ended before its closing boundary (the server or the link died)."""


def _boundary(content_type: str) -> bytes:
    media, *params = (p.strip() for p in content_type.split(";"))
    if media.lower() != "multipart/related":
        raise ValueError(f'unexpected media type "{media}" (expected multipart/related)')
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"').encode("latin-1")
    raise ValueError("multipart/related answer without a boundary")


def multipart_parts(chunks: Iterable[bytes], content_type: str) -> Iterator[bytes]:
    """The bodies of the parts of a ``multipart/related`` message, as they arrive.

    Unlike dicomweb-client's reader, a part is yielded only once the delimiter that ends it
    has arrived, and the message must end with the closing delimiter: a body cut short (the
    server killed, the connection lost without an error from the HTTP layer) raises instead
    of giving its truncated last part as a whole instance.

    Parameters
    ----------
    chunks : iterable of bytes
        The body (e.g. ``response.iter_content(chunk_size)``).
    content_type : str
        The ``Content-Type`` header, with the boundary.

    Yields
    ------
    bytes
        Each part's content (its headers removed).

    Raises
    ------
    TruncatedMultipartError
        No closing delimiter.
    ValueError
        Not ``multipart/related``, or a part without the blank line after its headers.
    """
    delimiter = b"\r\n--" + _boundary(content_type)
    buf = bytearray(b"\r\n")  # the first delimiter has no CRLF before it
    search = 0
    started = closed = after_delimiter = False
    for chunk in chunks:
        if closed:
            continue  # the epilogue
        buf += chunk
        while True:
            if after_delimiter:  # a part follows, or "--" closes the message
                if len(buf) < 2:
                    break
                if buf[:2] == b"--":
                    closed = True
                    break
                after_delimiter = False
            i = buf.find(delimiter, search)
            if i < 0:
                search = max(0, len(buf) - len(delimiter) + 1)
                break
            if started:
                end = buf.find(b"\r\n\r\n", 0, i)
                if end < 0:
                    raise ValueError("multipart part without a blank line after its headers")
                with memoryview(buf) as view:
                    part = bytes(view[end + 4 : i])
                yield part
            started = after_delimiter = True
            del buf[: i + len(delimiter)]
            search = 0
    if not closed:
        raise TruncatedMultipartError("the multipart answer ended before its closing boundary")


def _parts(session: Any, server: ServerConfig, path: str) -> Iterator[bytes]:
    """GET ``URL/path`` as the server stores it (``transfer-syntax=*``: no transcoding) and
    yield each part's bytes; the response is closed when the iteration ends."""
    url = f"{str(server.url).rstrip('/')}/{path}"
    response = session.get(url, headers=dict(_ACCEPT), stream=True, timeout=server.timeout)
    with response:
        response.raise_for_status()
        yield from multipart_parts(response.iter_content(chunk_size=_CHUNK), response.headers.get("content-type", ""))


def retrieve(server: ServerConfig, plans: Sequence[SeriesPlan], receiver: Receiver, tick: Callable[[], None]) -> None:
    """WADO-RS: whole series where nothing is cached, else the missing instances one by one.

    Instances arrive as the server stores them (``transfer-syntax=*``) and are written byte
    for byte; only the three UIDs of each are read, to check them. A part counts only once
    the boundary after it has arrived, and a body without its closing boundary is a lost
    connection: no truncated instance is ever written.
    """
    session = http_session(server)
    where = server.describe(web=True)
    for plan in plans:
        what = f"WADO-RS retrieve of series {plan.series_uid}"
        base = f"studies/{plan.study_uid}/series/{plan.series_uid}"
        if plan.fetch_all:
            items: Iterator[bytes] = _parts(session, server, base)
        else:
            items = (part for sop in sorted(plan.missing) for part in _parts(session, server, f"{base}/instances/{sop}"))
        try:
            while True:
                with _errors(server, what):  # the progress callback runs outside: its exceptions pass unchanged
                    try:
                        data = next(items, None)
                    except TruncatedMultipartError:
                        raise PacsConnectionError(
                            f"connection to {where} broke during {what} (the answer ended before its last boundary); "
                            "check that the server is running and its log"
                        ) from None
                if data is None:
                    break
                receiver.store(*_uids(data), data)
                receiver.raise_if_failed()
                tick()
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
