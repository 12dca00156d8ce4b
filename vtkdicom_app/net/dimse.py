"""DIMSE with pynetdicom: C-ECHO, C-FIND, C-GET and C-MOVE (to a storage SCP started here).

Every failure becomes a :class:`~vtkdicom_app.net.errors.PacsError` whose one-line message
names the server and what to check. Files arrive through a :class:`Receiver` that checks
each instance belongs to what was asked for and writes it atomically into the cache.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import select
import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from vtkdicom_app import uids
from vtkdicom_app.net.config import ServerConfig
from vtkdicom_app.net.errors import (
    AssociationRejectedError,
    IncompleteRetrieveError,
    PacsConnectionError,
    QueryFailedError,
    RetrieveRefusedError,
    ServerConfigError,
    TransferTimeoutError,
    UnexpectedInstanceError,
)
from vtkdicom_app.net.query import QueryLevel

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset
    from pynetdicom.association import Association

    from vtkdicom_app.net.retrieve import Receiver, SeriesPlan

__all__ = ["echo", "find", "get", "move"]

LOG = logging.getLogger("vtkdicom_app.net")

# compressed transfer syntaxes offered (one presentation context each) for C-GET, so the
# server can send what it stores without transcoding
_COMPRESSED = (
    uids.JPEG_LOSSLESS_SV1,
    uids.JPEG_2000_LOSSLESS,
    uids.JPEG_2000,
    uids.JPEG_BASELINE,
    uids.JPEG_EXTENDED,
    uids.JPEG_LOSSLESS,
    uids.JPEG_LS_LOSSLESS,
    uids.JPEG_LS_NEAR_LOSSLESS,
    uids.RLE_LOSSLESS,
    uids.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    uids.EXPLICIT_VR_BIG_ENDIAN,
)
_UNCOMPRESSED = (uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN)
_MAX_CONTEXTS = 127
_LOOP_DELAY_S = 0.0002

VERIFICATION = uids.VERIFICATION
PATIENT_ROOT_FIND = uids.PATIENT_ROOT_FIND
STUDY_ROOT_FIND = uids.STUDY_ROOT_FIND
STUDY_ROOT_MOVE = uids.STUDY_ROOT_MOVE
STUDY_ROOT_GET = uids.STUDY_ROOT_GET

_GET_STATUS_REFUSED = {0x0122: "SOP class not supported", 0x0124: "not authorised", 0xA701: "out of resources (refused)", 0xA801: "move destination unknown"}


# ---------------------------------------------------------------------------- association
_P_DATA_TF = 0x04
_MERGE_LIMIT = 8 << 20  # bytes of P-DATA merged into one PDU handed to pynetdicom


def _read_exact(sock: Any, nr_bytes: int) -> bytearray:
    """``nr_bytes`` from ``sock`` into one buffer (``recv_into``); fewer when it closed."""
    buf = bytearray(nr_bytes)
    got = 0
    with memoryview(buf) as view:
        while got < nr_bytes:
            n = sock.recv_into(view[got:], nr_bytes - got)
            if not n:
                break
            got += n
    if got < nr_bytes:
        del buf[got:]
    return buf


def _message_open(body: bytes | bytearray) -> bool:
    """Whether no PDV of a P-DATA-TF body is the last fragment of a command or data set, i.e.
    the DIMSE message it belongs to certainly goes on in the next PDU."""
    offset, size = 0, len(body)
    while offset + 6 <= size:
        length = int.from_bytes(body[offset : offset + 4], "big")
        if length < 2 or body[offset + 5] & 0x02:
            return False
        offset += 4 + length
    return offset == size


class _PduReader:
    """A replacement for ``AssociationSocket.recv`` of one association (plain TCP).

    pynetdicom reads a PDU as ``recv(6)`` (type and length) then ``recv(length)``, 4 KiB per
    call, and sends each PDU through its state machine, event hooks and queues: ~0.1 ms of
    Python per PDU. DCMTK servers (Orthanc) send data sets in PDUs of their own maximum
    (16 KiB by default) whatever maximum we announce, so a 512 KiB CT slice is ~33 PDUs.

    This reads whole PDUs with ``recv_into``, and when a P-DATA-TF PDU leaves a message open
    (none of its PDVs is a last fragment) it appends the PDVs of the P-DATA-TF PDUs that follow
    until the message's last fragment: one PDU of the same PDVs in the same order, which
    pynetdicom decodes exactly as the separate ones. A merged PDU never goes past the PDU
    holding a last fragment, so no message boundary moves. The next PDU is only looked at
    (``MSG_PEEK``) while the peer is in the middle of a message, for at most ``wait_s``; a
    connection that closes mid-PDU gives a short read, as the original does.

    It also re-arms TCP_QUICKACK after each PDU (Linux): servers built on DCMTK with Nagle's
    algorithm on (Debian's Orthanc and dcmtk) send a small PDU and then wait for its ACK; with
    delayed ACKs on our side every C-STORE sub-operation would stall ~40 ms.
    """

    def __init__(self, transport: Any, wait_s: float) -> None:
        self.transport = transport
        self.wait_s = wait_s
        self.staged = bytearray()
        self.quickack = getattr(socket, "TCP_QUICKACK", None)
        self.merged = 0  # PDUs merged into others (for tests and profiling)

    def __call__(self, nr_bytes: int) -> bytearray:
        if self.staged:
            out, self.staged = self.staged, bytearray()
            if len(out) > nr_bytes:  # pynetdicom asks for the body it was told of: never here
                out, self.staged = out[:nr_bytes], out[nr_bytes:]
            return out
        sock = self.transport.socket
        if nr_bytes != 6 or isinstance(sock, ssl.SSLSocket):
            return self._ack(sock, _read_exact(sock, nr_bytes))
        header = _read_exact(sock, 6)
        if len(header) < 6 or header[0] != _P_DATA_TF:
            return header  # pynetdicom reads the body itself
        declared = int.from_bytes(header[2:6], "big")
        body = _read_exact(sock, declared)
        if len(body) == declared and _message_open(body):
            parts = [body]
            size = declared
            while size < _MERGE_LIMIT:
                nxt = self._peek_p_data(sock)
                if nxt is None:
                    break
                _read_exact(sock, 6)
                length = int.from_bytes(nxt[2:6], "big")
                piece = _read_exact(sock, length)
                parts.append(piece)
                declared += length
                size += len(piece)
                self.merged += 1
                if len(piece) < length or not _message_open(piece):
                    break
            body = bytearray().join(parts) if len(parts) > 1 else body
            header = bytearray((_P_DATA_TF, 0)) + declared.to_bytes(4, "big")
        self.staged = body
        return self._ack(sock, header)

    def _ack(self, sock: Any, data: bytearray) -> bytearray:
        if self.quickack is not None and not isinstance(sock, ssl.SSLSocket):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, self.quickack, 1)
        return data

    def _peek_p_data(self, sock: Any) -> bytes | None:
        """The header of the next PDU if it is a P-DATA-TF one that arrives within ``wait_s``."""
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                head = sock.recv(6, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                head = None
            except OSError:
                return None
            if head is not None:
                if len(head) >= 6:
                    return head if head[0] == _P_DATA_TF else None
                if not head:
                    return None  # closed: the reactor sees it next
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if head:  # part of a header: the rest is on its way
                time.sleep(0.0001)
            else:
                select.select([sock], [], [], left)


def _quiet_standard_handlers(assoc: Any) -> None:
    """Unbind pynetdicom's logging handlers from this association when nothing would show
    what they log (logger ``pynetdicom`` below INFO): they describe every PDU and DIMSE
    message, with pydicom look-ups, even when the records are then dropped."""
    if logging.getLogger("pynetdicom").isEnabledFor(logging.INFO):
        return
    from pynetdicom import _handlers, evt

    for event, handler in (
        (evt.EVT_DIMSE_RECV, _handlers.standard_dimse_recv_handler),
        (evt.EVT_DIMSE_SENT, _handlers.standard_dimse_sent_handler),
        (evt.EVT_PDU_RECV, _handlers.standard_pdu_recv_handler),
        (evt.EVT_PDU_SENT, _handlers.standard_pdu_sent_handler),
    ):
        with contextlib.suppress(Exception):
            assoc.unbind(event, handler)


def _tune_socket(event: Any) -> None:
    """TCP_NODELAY (our small PDUs go out at once), quick ACKs and merged whole-PDU reads."""
    with contextlib.suppress(Exception):
        transport = event.assoc.dul.socket
        sock = transport.socket
        if sock is None or "recv" in vars(transport):
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if hasattr(socket, "TCP_QUICKACK") and not isinstance(sock, ssl.SSLSocket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        _quiet_standard_handlers(event.assoc)
        timeout = event.assoc.network_timeout
        transport.recv = _PduReader(transport, min(0.5, timeout / 4) if timeout else 0.5)
        # the reactor sleeps this long whenever it has caught up with the socket (default
        # 1 ms, i.e. ~1 ms lost per instance while the server reads its next file)
        event.assoc.dul._run_loop_delay = _LOOP_DELAY_S


class _Session:
    """Notifications of one association, for messages that say what happened."""

    def __init__(self) -> None:
        self.connected = False
        self.reject_reason: str | None = None
        self.peer_aborted = False
        self.connection_lost = False

    def on_open(self, event: Any) -> None:
        self.connected = True
        _tune_socket(event)

    def on_acse(self, event: Any) -> None:
        from pynetdicom.pdu_primitives import A_ABORT, A_ASSOCIATE, A_P_ABORT

        p = event.primitive
        if isinstance(p, A_ASSOCIATE) and getattr(p, "result", 0) in (0x01, 0x02):
            self.reject_reason = f"{p.reason_str} ({'permanent' if p.result == 0x01 else 'transient'}, from the {p.source_str.lower()})"
        elif isinstance(p, A_P_ABORT):
            self.connection_lost = True
        elif isinstance(p, A_ABORT):
            self.peer_aborted = True

    def settle(self, seconds: float = 0.5) -> None:
        """Wait a moment for the abort notification that follows an empty response."""
        deadline = time.monotonic() + seconds
        while not (self.peer_aborted or self.connection_lost) and time.monotonic() < deadline:
            time.sleep(0.005)

    def handlers(self) -> list[tuple[Any, Callable[..., Any]]]:
        from pynetdicom import evt

        return [(evt.EVT_CONN_OPEN, self.on_open), (evt.EVT_ACSE_RECV, self.on_acse)]


def _make_ae(server: ServerConfig) -> Any:
    from pynetdicom import AE

    ae = AE(ae_title=server.calling_aet)
    ae.acse_timeout = server.timeout
    ae.dimse_timeout = server.timeout
    ae.network_timeout = server.timeout
    ae.connection_timeout = min(server.timeout, 15.0)
    ae.maximum_pdu_size = server.max_pdu
    return ae


def _recording_socket_class(failures: list[BaseException]) -> type[ssl.SSLSocket]:
    """An ``SSLSocket`` class that notes why its handshake failed (pynetdicom only logs it)."""

    class RecordingSSLSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            try:
                super().do_handshake(block)
            except (ssl.SSLError, OSError) as exc:
                failures.append(exc)
                raise

    return RecordingSSLSocket


def _tls_reason(exc: BaseException) -> str:
    """A TLS failure in a few words ("certificate verify failed: ...")."""
    text = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = f"certificate verify failed: {text}"
    return str(text).replace("_", " ").lower().splitlines()[0][:160]


def _tls_args(server: ServerConfig, failures: list[BaseException] | None = None) -> tuple[ssl.SSLContext, str] | None:
    """The ``tls_args`` of pynetdicom for ``server`` (None without TLS): the CA file (or the system's
    CAs), our certificate and key if given, hostname and chain checks unless ``tls_verify`` is
    false. Handshake failures are appended to ``failures``.

    Raises
    ------
    ServerConfigError
        A TLS file is missing or unusable.
    """
    if not server.tls:
        return None
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=server.tls_ca_file)
        if failures is not None:
            ctx.sslsocket_class = _recording_socket_class(failures)
        if not server.tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if server.tls_cert_file:
            ctx.load_cert_chain(server.tls_cert_file, server.tls_key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ServerConfigError(
            f"{server.describe()}: TLS files unusable ({type(exc).__name__}: {exc}); check tls_ca_file, tls_cert_file and tls_key_file"
        ) from None
    return ctx, str(server.host)


def _associate(
    server: ServerConfig, ae: Any, *, purpose: str, ext_neg: list[Any] | None = None, evt_handlers: list[Any] | None = None
) -> tuple[Association, _Session]:
    """An established association, or the error that says why not."""
    assert server.host is not None and server.port is not None
    where = server.describe(web=False)
    try:
        socket.getaddrinfo(server.host, server.port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise PacsConnectionError(f"cannot resolve host {server.host!r} of {where}; check the host name") from None
    session = _Session()
    handlers = session.handlers() + list(evt_handlers or [])
    tls_failures: list[BaseException] = []
    tls_args = _tls_args(server, tls_failures)
    t0 = time.monotonic()
    assoc = ae.associate(
        server.host,
        int(server.port),
        ae_title=server.called_aet,
        ext_neg=ext_neg,
        evt_handlers=handlers,
        tls_args=tls_args,
    )
    if assoc.is_established:
        return assoc, session
    if tls_failures:
        raise PacsConnectionError(
            f"TLS handshake with {where} failed for {purpose} ({_tls_reason(tls_failures[0])}); "
            "check tls_ca_file, tls_cert_file, tls_key_file and tls_verify, and that the port speaks DICOM TLS"
        )
    if assoc.is_rejected or session.reject_reason:
        reason = session.reject_reason or "no reason given"
        if "called" in reason.lower():
            hint = f"check the called AE title ('{server.called_aet}' is not the server's)"
        elif "calling" in reason.lower():
            hint = f"check that the server knows our calling AE '{server.calling_aet}'"
        else:
            hint = f"check the called AE title '{server.called_aet}' and that the server accepts our calling AE '{server.calling_aet}'"
        raise AssociationRejectedError(f"{where} rejected the association for {purpose}: {reason}; {hint}")
    if not session.connected:
        waited = time.monotonic() - t0
        how = "no answer" if waited >= ae.connection_timeout * 0.9 else "connection refused"
        raise PacsConnectionError(f"cannot connect to {where}: {how}; check host, port, firewall and that the server is running")
    if assoc.is_aborted and session.peer_aborted:
        raise AssociationRejectedError(
            f"{where} aborted the association request for {purpose}; "
            f"check the called AE title '{server.called_aet}' and that the server accepts our calling AE '{server.calling_aet}'"
        )
    if assoc.is_aborted and not assoc.accepted_contexts and not session.connection_lost:
        raise RetrieveRefusedError(
            f"{where} accepted none of the services proposed for {purpose}; check that it supports them for our calling AE '{server.calling_aet}'"
        )
    raise PacsConnectionError(f"{where} closed the connection during the association request for {purpose}; check TLS settings and the server's log")


def _has_context(assoc: Association, abstract_syntax: str) -> bool:
    return any(cx.abstract_syntax == abstract_syntax and cx.as_scu for cx in assoc.accepted_contexts)


@contextlib.contextmanager
def _association(
    server: ServerConfig, ae: Any, *, purpose: str, ext_neg: list[Any] | None = None, evt_handlers: list[Any] | None = None
) -> Iterator[tuple[Association, _Session]]:
    assoc, session = _associate(server, ae, purpose=purpose, ext_neg=ext_neg, evt_handlers=evt_handlers)
    try:
        yield assoc, session
    except BaseException:
        if assoc.is_established:
            assoc.abort()
        raise
    else:
        if assoc.is_established:
            assoc.release()


def _lost(server: ServerConfig, session: _Session, what: str, idle_s: float) -> Exception:
    """The error for an empty response (pynetdicom yields an empty status when the link dies)."""
    where = server.describe(web=False)
    if idle_s < server.timeout * 0.9:
        session.settle()
    if session.connection_lost or session.peer_aborted:
        who = "aborted the association" if session.peer_aborted else "closed the connection"
        return PacsConnectionError(f"{where} {who} during {what}; check that the server is running and its log")
    if idle_s >= server.timeout * 0.9:
        return TransferTimeoutError(
            f"{where} sent nothing for {server.timeout:g} s during {what}; check the server's load and network, or raise timeout in servers.toml"
        )
    return PacsConnectionError(f"connection to {where} lost during {what}; check the network and that the server is running")


# ---------------------------------------------------------------------------- C-ECHO
def echo(server: ServerConfig) -> float:
    """C-ECHO; returns the round trip in seconds (association included).

    Raises
    ------
    PacsError
        Unreachable, rejected, or a non-success status.
    """
    ae = _make_ae(server)
    ae.add_requested_context(VERIFICATION)
    t0 = time.perf_counter()
    with _association(server, ae, purpose="C-ECHO") as (assoc, session):
        t1 = time.monotonic()
        status = assoc.send_c_echo()
        if not status or "Status" not in status:
            raise _lost(server, session, "C-ECHO", time.monotonic() - t1)
        if int(status.Status) != 0:
            raise QueryFailedError(f"{server.describe(web=False)} answered C-ECHO with status 0x{int(status.Status):04X}; check the server's log")
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- C-FIND
def _identifier(level: QueryLevel, filters: dict[str, Any], return_keys: Iterable[str]) -> Dataset:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = level.value
    for key in return_keys:
        setattr(ds, key, "")
    for key, value in filters.items():
        setattr(ds, key, value)
    if "PatientName" in filters or "PatientID" in filters:
        ds.SpecificCharacterSet = "ISO_IR 192"
    return ds


def find(server: ServerConfig, level: QueryLevel, filters: dict[str, Any], return_keys: Sequence[str]) -> list[Dataset]:
    """One C-FIND; returns the identifiers of the matches.

    PATIENT level uses the Patient Root model, the others Study Root.

    Raises
    ------
    PacsError
    """
    model = PATIENT_ROOT_FIND if level is QueryLevel.PATIENT else STUDY_ROOT_FIND
    ae = _make_ae(server)
    ae.add_requested_context(model)
    where = server.describe(web=False)
    what = f"C-FIND at {level.value} level"
    out: list[Dataset] = []
    with _association(server, ae, purpose=what) as (assoc, session):
        if not _has_context(assoc, model):
            raise QueryFailedError(
                f"{where} does not accept {what} ({'Patient' if level is QueryLevel.PATIENT else 'Study'} Root); check the server's query settings"
            )
        t_last = time.monotonic()
        for status, ident in assoc.send_c_find(_identifier(level, filters, return_keys), model):
            if not status or "Status" not in status:
                if time.monotonic() - t_last < server.timeout * 0.9:
                    session.settle()
                if not out and session.peer_aborted:
                    raise QueryFailedError(
                        f"{where} refused {what} (aborted); check that it allows our calling AE '{server.calling_aet}' to query (Orthanc: DicomModalities)"
                    )
                raise _lost(server, session, what, time.monotonic() - t_last)
            code = int(status.Status)
            t_last = time.monotonic()
            if code in (0xFF00, 0xFF01):
                if ident is not None:
                    out.append(ident)
                continue
            if code == 0x0000:
                break
            comment = str(status.get("ErrorComment", "")).strip()
            raise QueryFailedError(
                f"{where} answered {what} with status 0x{code:04X}{': ' + comment if comment else ''}; check the query keys and the server's log"
            )
    return out


# ---------------------------------------------------------------------------- C-GET / C-MOVE
_UID_TAGS = (0x0020000D, 0x0020000E, 0x00080018)  # Study, Series, SOP Instance UID


def _uid_bytes(uid: str) -> bytes:
    raw = uid.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _short_element(element: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


@functools.lru_cache(maxsize=256)
def _meta_tail(transfer_syntax: str) -> bytes:
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

    name = PYNETDICOM_IMPLEMENTATION_VERSION.encode("ascii")
    return (
        _short_element(0x0010, b"UI", _uid_bytes(transfer_syntax))
        + _short_element(0x0012, b"UI", _uid_bytes(str(PYNETDICOM_IMPLEMENTATION_UID)))
        + _short_element(0x0013, b"SH", name + b" " * (len(name) % 2))
    )


def file_meta_bytes(sop_class: str, sop_instance: str, transfer_syntax: str) -> bytes:
    """Preamble, ``DICM`` and the File Meta Information (Explicit VR Little Endian) of a data
    set received by C-STORE: the bytes pynetdicom's ``event.encoded_dataset()`` puts before
    the data set, without building and encoding a pydicom dataset for each instance."""
    body = (
        struct.pack("<HH2sHI", 0x0002, 0x0001, b"OB", 0, 2)
        + b"\x00\x01"
        + _short_element(0x0002, b"UI", _uid_bytes(sop_class))
        + _short_element(0x0003, b"UI", _uid_bytes(sop_instance))
        + _meta_tail(transfer_syntax)
    )
    return b"\x00" * 128 + b"DICM" + struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body)) + body


def _past_series_uid(tag: Any, vr: Any, length: int) -> bool:
    return int(tag) > 0x0020000E


def dataset_uids(stream: BinaryIO, transfer_syntax: str) -> tuple[str, str, str] | None:
    """Study, Series and SOP Instance UID of an encoded data set (no file meta), reading its
    elements only up to the Series Instance UID; None for a transfer syntax that needs the
    whole data set (deflated, or unknown to pydicom)."""
    from pydicom.filereader import read_dataset
    from pydicom.uid import UID

    ts = UID(transfer_syntax)
    try:
        if ts.is_deflated:
            return None
        implicit, little = ts.is_implicit_VR, ts.is_little_endian
    except ValueError:
        return None
    stream.seek(0)
    ds = read_dataset(stream, implicit, little, stop_when=_past_series_uid)
    return tuple(str(ds[tag].value) if tag in ds else "" for tag in _UID_TAGS)  # type: ignore[return-value]


def _store_handler(receiver: Receiver) -> Callable[[Any], int]:
    """C-STORE handler: read the three UIDs (not the pixel data), check them against what was
    asked for and write the data set as received (no decoding, no re-encoding, no copy) after
    the file meta of :func:`file_meta_bytes`."""

    def handle(event: Any) -> int:
        from io import BytesIO

        from pydicom import dcmread

        if receiver.error is not None:
            return 0xC000
        request = event.request
        try:
            stream = request.DataSet
            ts = str(event.context.transfer_syntax)
            uids_ = dataset_uids(stream, ts)
            if uids_ is None:  # deflated: pydicom reads the whole file
                data = event.encoded_dataset(include_meta=True)
                ds = dcmread(BytesIO(data), stop_before_pixels=True, specific_tags=list(_UID_TAGS))
                study, series, sop = (str(ds[tag].value) if tag in ds else "" for tag in _UID_TAGS)
                return receiver.store(study, series, sop, data)
            head = file_meta_bytes(str(request.AffectedSOPClassUID), str(request.AffectedSOPInstanceUID), ts)
        except Exception as exc:  # a dataset we cannot parse: refuse that one
            receiver.fail(UnexpectedInstanceError(f"{receiver.where} sent an instance that could not be read ({type(exc).__name__}); check the server's log"))
            return 0xC210
        with stream.getbuffer() as raw:
            return receiver.store(*uids_, raw, head=head)

    return handle


def _get_contexts(ae: Any, sop_classes: Sequence[str]) -> list[Any]:
    """Storage contexts (SCP role) for C-GET: every SOP class uncompressed, then compressed
    syntaxes while the 127-context budget lasts. Returns the role items."""
    from pynetdicom import build_role

    classes = list(dict.fromkeys(sop_classes))
    budget = _MAX_CONTEXTS - len(ae.requested_contexts)
    classes = classes[:budget]
    for sop in classes:
        ae.add_requested_context(sop, list(_UNCOMPRESSED))
    budget -= len(classes)
    for ts in _COMPRESSED:
        if budget < len(classes):
            break
        for sop in classes:
            ae.add_requested_context(sop, [ts])
        budget -= len(classes)
    return [build_role(sop, scp_role=True) for sop in classes]


def _fallback_sop_classes() -> list[str]:
    from pynetdicom import sop_class as sc

    names = (
        "CTImageStorage",
        "EnhancedCTImageStorage",
        "MRImageStorage",
        "EnhancedMRImageStorage",
        "EnhancedMRColorImageStorage",
        "PositronEmissionTomographyImageStorage",
        "EnhancedPETImageStorage",
        "NuclearMedicineImageStorage",
        "UltrasoundImageStorage",
        "UltrasoundMultiFrameImageStorage",
        "SecondaryCaptureImageStorage",
        "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
        "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
        "MultiFrameTrueColorSecondaryCaptureImageStorage",
        "ComputedRadiographyImageStorage",
        "DigitalXRayImageStorageForPresentation",
        "DigitalXRayImageStorageForProcessing",
        "DigitalMammographyXRayImageStorageForPresentation",
        "XRayAngiographicImageStorage",
        "XRayRadiofluoroscopicImageStorage",
        "RTImageStorage",
        "RTDoseStorage",
        "RTStructureSetStorage",
        "RTPlanStorage",
        "SegmentationStorage",
        "GrayscaleSoftcopyPresentationStateStorage",
        "BasicTextSRStorage",
        "EnhancedSRStorage",
        "ComprehensiveSRStorage",
        "KeyObjectSelectionDocumentStorage",
        "EncapsulatedPDFStorage",
        "VLPhotographicImageStorage",
        "OphthalmicPhotography8BitImageStorage",
    )
    return [str(getattr(sc, n)) for n in names if hasattr(sc, n)]


def _identifiers(plan: SeriesPlan) -> list[Dataset]:
    """C-GET/C-MOVE identifiers: the whole series, or the missing instances (chunks of 500)."""
    from pydicom.dataset import Dataset

    def base(level: str) -> Dataset:
        ds = Dataset()
        ds.QueryRetrieveLevel = level
        ds.StudyInstanceUID = plan.study_uid
        ds.SeriesInstanceUID = plan.series_uid
        return ds

    if plan.fetch_all:
        return [base("SERIES")]
    missing = sorted(plan.missing)
    out = []
    for i in range(0, len(missing), 500):
        ds = base("IMAGE")
        chunk = missing[i : i + 500]
        ds.SOPInstanceUID = chunk if len(chunk) > 1 else chunk[0]
        out.append(ds)
    return out


def _run_retrieve(
    server: ServerConfig,
    assoc: Association,
    session: _Session,
    receiver: Receiver,
    plans: Sequence[SeriesPlan],
    send: Callable[[Dataset], Iterator[tuple[Dataset, Any]]],
    op: str,
    tick: Callable[[], None],
) -> None:
    """Send the C-GET/C-MOVE requests and follow their responses (progress, faults)."""
    where = server.describe(web=False)
    for plan in plans:
        for ident in _identifiers(plan):
            what = f"{op} of series {plan.series_uid}"
            t_last = time.monotonic()
            responses = 0
            final: Any = None
            for status, _ident in send(ident):
                if not status or "Status" not in status:
                    if time.monotonic() - t_last < server.timeout * 0.9:
                        session.settle()
                    if responses == 0 and receiver.count == 0 and session.peer_aborted:
                        raise _refused(server, op, "the server aborted the association")
                    receiver.raise_if_failed()
                    raise _lost(server, session, what, time.monotonic() - t_last)
                responses += 1
                t_last = time.monotonic()
                code = int(status.Status)
                receiver.raise_if_failed()
                tick()
                if code in (0xFF00, 0xFF01):
                    continue
                final = status
                break
            if final is None:
                continue
            code = int(final.Status)
            receiver.raise_if_failed()
            if code in _GET_STATUS_REFUSED:
                if code == 0xA801:
                    raise RetrieveRefusedError(
                        f"{where} does not know the C-MOVE destination '{server.destination_aet}'; "
                        f"register it on the server with our host and port {server.move_port} (Orthanc: DicomModalities)"
                    )
                raise _refused(server, op, f"status 0x{code:04X}, {_GET_STATUS_REFUSED[code]}")
            failed = int(final.get("NumberOfFailedSuboperations", 0) or 0)
            if code == 0xFE00:
                raise IncompleteRetrieveError(f"{where} cancelled the {op} of series {plan.series_uid}; run it again to fetch the rest")
            if code not in (0x0000, 0xB000) or failed:
                comment = str(final.get("ErrorComment", "")).strip()
                raise IncompleteRetrieveError(
                    f"{where} ended the {op} of series {plan.series_uid} with status 0x{code:04X}"
                    + (f" ({failed} sub-operation(s) failed)" if failed else "")
                    + (f": {comment}" if comment else "")
                    + "; check the server's log, then run get again to fetch what is missing"
                )


def _refused(server: ServerConfig, op: str, why: str) -> RetrieveRefusedError:
    where = server.describe(web=False)
    if op == "C-GET":
        return RetrieveRefusedError(
            f"{where} refused C-GET ({why}); "
            f"it may support only C-MOVE: try --method move (method = \"move\" with move_port), or ask for C-GET to be allowed for AE '{server.calling_aet}'"
        )
    return RetrieveRefusedError(
        f"{where} refused C-MOVE ({why}); check that it allows AE '{server.calling_aet}' to retrieve and knows the destination '{server.destination_aet}'"
    )


def get(server: ServerConfig, plans: Sequence[SeriesPlan], receiver: Receiver, tick: Callable[[], None], sop_classes: Sequence[str]) -> None:
    """C-GET the missing instances of each series over one association.

    Raises
    ------
    PacsError
        Refused, lost, timed out, unexpected data, failed sub-operations.
    """
    from pynetdicom import evt

    GetModel = STUDY_ROOT_GET
    ae = _make_ae(server)
    ae.add_requested_context(GetModel)
    roles = _get_contexts(ae, list(sop_classes) or _fallback_sop_classes())
    handlers = [(evt.EVT_C_STORE, _store_handler(receiver))]
    with _association(server, ae, purpose="C-GET", ext_neg=roles, evt_handlers=handlers) as (assoc, session):
        if not _has_context(assoc, GetModel):
            raise _refused(server, "C-GET", "the Study Root C-GET service was not accepted")
        receiver.abort = assoc.abort
        msg_id = iter(range(1, 65536))
        _run_retrieve(server, assoc, session, receiver, plans, lambda ds: assoc.send_c_get(ds, GetModel, msg_id=next(msg_id)), "C-GET", tick)


def move(server: ServerConfig, plans: Sequence[SeriesPlan], receiver: Receiver, tick: Callable[[], None], *, port: int, listen: str) -> None:
    """C-MOVE to a storage SCP listening on ``listen:port`` only while the transfer lasts.

    The SCP answers only associations that call our destination AE title from the server's
    AE title, and keeps only instances of the series asked for.

    Raises
    ------
    PacsError
    """
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

    MoveModel = STUDY_ROOT_MOVE
    where = server.describe(web=False)
    scp = AE(ae_title=server.destination_aet)
    scp.require_called_aet = True
    scp.require_calling_aet = [server.called_aet]
    scp.maximum_associations = 2
    scp.maximum_pdu_size = server.max_pdu
    scp.acse_timeout = scp.dimse_timeout = scp.network_timeout = server.timeout
    for cx in AllStoragePresentationContexts:
        if cx.abstract_syntax is not None:
            scp.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    try:
        server_thread: Any = scp.start_server(
            (listen, int(port)), block=False, evt_handlers=[(evt.EVT_C_STORE, _store_handler(receiver)), (evt.EVT_CONN_OPEN, _tune_socket)]
        )
    except OSError as exc:
        raise PacsConnectionError(
            f"cannot listen on {listen}:{port} for the C-MOVE from {where} ({exc.strerror or exc}); choose another move_port (the server must know it)"
        ) from None
    try:
        ae = _make_ae(server)
        ae.add_requested_context(MoveModel)
        with _association(server, ae, purpose="C-MOVE") as (assoc, session):
            if not _has_context(assoc, MoveModel):
                raise _refused(server, "C-MOVE", "the Study Root C-MOVE service was not accepted")
            receiver.abort = assoc.abort
            msg_id = iter(range(1, 65536))
            _run_retrieve(
                server,
                assoc,
                session,
                receiver,
                plans,
                lambda ds: assoc.send_c_move(ds, server.destination_aet, MoveModel, msg_id=next(msg_id)),
                "C-MOVE",
                tick,
            )
    finally:
        server_thread.shutdown()
        scp.shutdown()
