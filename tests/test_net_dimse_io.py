"""The C-STORE receive path of vtkdicom_app.net.dimse without a server: PDU merging on a
socket pair, the hand-made file meta against pynetdicom's, the UID reader against pydicom's."""

from __future__ import annotations

import io
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pynetdicom", reason="pip install pynetdicom dicomweb-client (install_requires of vtkdicom_app)")

from vtkdicom_app.net import dimse  # noqa: E402


def _pdv(ctx: int, control: int, data: bytes) -> bytes:
    return struct.pack(">LBB", len(data) + 2, ctx, control) + data


def _p_data(*pdvs: bytes) -> bytes:
    body = b"".join(pdvs)
    return struct.pack(">BBL", 0x04, 0, len(body)) + body


class _Transport:
    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def _read_pdu(reader: Any) -> bytes:
    """Read one PDU the way pynetdicom does: recv(6), then recv(length)."""
    header = bytes(reader(6))
    if len(header) < 6:
        return header
    return header + bytes(reader(struct.unpack(">L", header[2:6])[0]))


def test_open_message_pdus_are_merged_up_to_the_last_fragment(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    command = _p_data(_pdv(1, 0x03, b"C" * 10))  # command set, last fragment
    data = [_pdv(1, 0x00, b"a" * 1000), _pdv(1, 0x00, b"b" * 999), _pdv(1, 0x02, b"c" * 7)]  # data set in 3 PDUs
    release = struct.pack(">BBL", 0x05, 0, 4) + b"\0\0\0\0"  # A-RELEASE-RQ
    next_command = _p_data(_pdv(1, 0x03, b"D" * 4))
    peer.sendall(command + b"".join(_p_data(p) for p in data) + next_command + release)
    reader = dimse._PduReader(_Transport(ours), wait_s=1.0)
    assert _read_pdu(reader) == command  # a last fragment: as it came
    merged = _read_pdu(reader)
    assert merged == _p_data(*data) and reader.merged == 2  # one PDU, same PDVs, same order
    assert _read_pdu(reader) == next_command  # the next message was not merged into it
    assert _read_pdu(reader) == release


def test_two_pdvs_of_one_pdu_and_a_closed_connection(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    first = _p_data(_pdv(1, 0x00, b"x" * 100), _pdv(1, 0x00, b"y" * 100))
    cut = _p_data(_pdv(1, 0x02, b"z" * 100))[:50]
    peer.sendall(first + cut)
    peer.shutdown(socket.SHUT_WR)
    reader = dimse._PduReader(_Transport(ours), wait_s=1.0)
    header = bytes(reader(6))
    declared = struct.unpack(">L", header[2:6])[0]
    body = bytes(reader(declared))
    assert len(body) < declared  # short: pynetdicom sees the connection closed (Evt17)
    assert body.startswith(first[6:])


def test_no_merge_when_the_next_pdu_does_not_come(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    part = _p_data(_pdv(1, 0x00, b"q" * 64))
    peer.sendall(part)
    reader = dimse._PduReader(_Transport(ours), wait_s=0.05)
    assert _read_pdu(reader) == part and reader.merged == 0


def test_message_open() -> None:
    assert dimse._message_open(_p_data(_pdv(1, 0x00, b"a"), _pdv(1, 0x00, b"b"))[6:])
    assert not dimse._message_open(_p_data(_pdv(1, 0x00, b"a"), _pdv(1, 0x02, b"b"))[6:])
    assert not dimse._message_open(_p_data(_pdv(1, 0x03, b"a"))[6:])
    assert not dimse._message_open(b"\x00\x00\x00\x09\x01")  # malformed: let pynetdicom judge


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.50"])
def test_file_meta_bytes_equal_pynetdicoms(syntax: str) -> None:
    from pynetdicom.dsutils import create_file_meta, encode_file_meta

    for sop in ("1.2.3.4", "1.2.3.45"):  # even and odd lengths
        expected = (
            b"\0" * 128 + b"DICM" + encode_file_meta(create_file_meta(sop_class_uid="1.2.840.10008.5.1.4.1.1.2", sop_instance_uid=sop, transfer_syntax=syntax))
        )
        assert dimse.file_meta_bytes("1.2.840.10008.5.1.4.1.1.2", sop, syntax) == expected


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_dataset_uids_read_only_the_header(tmp_path: Path, implicit: bool) -> None:
    import pydicom
    from pynetdicom.dsutils import encode

    from vtkdicom_app.phantom import write_phantom

    ph = write_phantom(tmp_path / "ph", rows=8, columns=8, slices=1)
    ds = pydicom.dcmread(ph.files[0])
    del ds.file_meta
    encoded = encode(ds, implicit, True)  # as a C-STORE carries it
    assert encoded is not None
    buf = io.BytesIO(encoded)
    syntax = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    assert dimse.dataset_uids(buf, syntax) == (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    assert dimse.dataset_uids(buf, "1.2.840.10008.1.2.1.99") is None  # deflated: read whole
    assert dimse.dataset_uids(buf, "1.2.3.4.5.6") is None  # unknown to pydicom
