"""DICOM TLS: C-ECHO and C-GET from a real Orthanc with ``DicomTlsEnabled``.

A throw-away CA, server certificate (subjectAltName IP:127.0.0.1) and client certificate are
made with the ``openssl`` command line in a temporary folder. Orthanc requires the client's
certificate (``DicomTlsRemoteCertificateRequired``) and we check the server's against the CA
and its address (``tls_verify``), through the TLS options of ``servers.toml``
(:class:`vtkdicom_app.net.ServerConfig`). If Orthanc's build cannot do DICOM TLS (it says so
in its log, or the port does not speak TLS) the tests skip with what was seen.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.net_orthanc import LocalOrthanc, missing_reason

pytest.importorskip("pynetdicom", reason="pip install pynetdicom dicomweb-client (install_requires of vtkdicom_app)")

import vtkdicom_app as vda  # noqa: E402
from vtkdicom_app import net  # noqa: E402

ORTHANC_MISSING = missing_reason()
ME = "VDATLS"


def _openssl(*args: str, cwd: Path) -> None:
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"openssl {' '.join(args)}: {out.stderr}"


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, PEM.

    Returns
    -------
    dict
        ``ca``, ``server_cert``, ``server_key``, ``client_cert``, ``client_key``, and
        ``other_ca`` (a CA that signed neither).
    """
    folder.mkdir(parents=True, exist_ok=True)
    days = "2"
    for ca in ("ca", "other_ca"):
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", days,
            "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-subj", f"/CN=vtkdicom_app test {ca}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=folder,
        )  # fmt: skip
    for who, usage, san in (("server", "serverAuth", "IP:127.0.0.1,DNS:localhost"), ("client", "clientAuth", f"DNS:{ME.lower()}")):
        (folder / f"{who}.ext").write_text(
            f"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\nsubjectAltName={san}\n"
        )
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN={who}", cwd=folder)
        _openssl(
            "x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{who}.pem", "-days", days, "-sha256", "-extfile", f"{who}.ext",
            cwd=folder,
        )  # fmt: skip
    return {
        "ca": folder / "ca.pem",
        "other_ca": folder / "other_ca.pem",
        "server_cert": folder / "server.pem",
        "server_key": folder / "server.key",
        "client_cert": folder / "client.pem",
        "client_key": folder / "client.key",
    }


def _tls_handshake(port: int, certs: dict[str, Path]) -> str | None:
    """None when the port completes a TLS handshake with our client certificate, else why not."""
    ctx = ssl.create_default_context(cafile=str(certs["ca"]))
    ctx.load_cert_chain(str(certs["client_cert"]), str(certs["client_key"]))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return None if tls.version() else "no TLS version negotiated"
    except (OSError, ssl.SSLError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _tls_log_lines(orthanc: LocalOrthanc) -> list[str]:
    return [line.strip() for line in orthanc.log_tail(200).splitlines() if "tls" in line.lower() or "ssl" in line.lower()]


class TlsPacs:
    """An Orthanc that speaks DICOM TLS only, holding one phantom series."""

    def __init__(self, orthanc: LocalOrthanc, certs: dict[str, Path], phantom: Any) -> None:
        self.orthanc, self.certs, self.phantom = orthanc, certs, phantom

    def server(self, **options: Any) -> net.ServerConfig:
        kwargs: dict[str, Any] = dict(
            host="127.0.0.1",
            port=self.orthanc.dicom_port,
            called_aet="ORTHANC",
            calling_aet=ME,
            tls=True,
            tls_ca_file=str(self.certs["ca"]),
            tls_cert_file=str(self.certs["client_cert"]),
            tls_key_file=str(self.certs["client_key"]),
            timeout=10.0,
        )
        kwargs.update(options)
        return net.ServerConfig.adhoc(**kwargs)


@pytest.fixture(scope="module")
def tls_pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsPacs]:
    if ORTHANC_MISSING:
        pytest.skip(ORTHANC_MISSING)
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line is not installed (Debian package openssl): it makes the test certificates")
    from vtkdicom_app.phantom import write_phantom

    base = tmp_path_factory.mktemp("tls")
    certs = make_certificates(base / "certs")
    phantom = write_phantom(base / "ph", rows=64, columns=64, slices=8)
    orthanc = LocalOrthanc(
        base / "orthanc",
        modalities={ME: 104},
        extra={
            "DicomTlsEnabled": True,
            "DicomTlsCertificate": str(certs["server_cert"]),
            "DicomTlsPrivateKey": str(certs["server_key"]),
            "DicomTlsTrustedCertificates": str(certs["ca"]),
            "DicomTlsRemoteCertificateRequired": True,
        },
    )
    try:
        orthanc.start()
    except RuntimeError as exc:
        tls = _tls_log_lines(orthanc)
        if tls:  # e.g. a build without DICOM TLS refusing the option
            pytest.skip(f"Orthanc does not start with DicomTlsEnabled: {tls[-1][:200]}")
        raise AssertionError(f"Orthanc with DicomTlsEnabled did not start: {exc}") from None
    try:
        why = _tls_handshake(orthanc.dicom_port, certs)
        if why is not None:
            tls = _tls_log_lines(orthanc)
            if tls and any(w in " ".join(tls).lower() for w in ("not support", "unsupported", "without", "disabled")):
                pytest.skip(f"this Orthanc build has no DICOM TLS: {tls[-1][:200]}")
            raise AssertionError(f"Orthanc's DICOM port does not complete a TLS handshake ({why}); its log: {tls[-3:]}")
        yield TlsPacs(orthanc, certs, phantom)
    finally:
        orthanc.stop()


def _study_uid(ph: Any) -> str:
    import pydicom

    return str(pydicom.dcmread(ph.files[0], stop_before_pixels=True).StudyInstanceUID)


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, repr(text)
    return text


def test_echo_and_get_over_tls(tls_pacs: TlsPacs, tmp_path: Path) -> None:
    s = tls_pacs.server()
    assert net.echo(s, web=False) > 0
    assert net.echo(tls_pacs.server(tls_verify=False, tls_ca_file=None), web=False) > 0  # encrypted, server unchecked
    orthanc = tls_pacs.orthanc
    if not orthanc.rest("/instances"):
        assert orthanc.upload(tls_pacs.phantom.files) == 8
    result = net.retrieve(s, _study_uid(tls_pacs.phantom), method="get", cache_dir=tmp_path)
    assert (result.n_transferred, result.n_instances) == (8, 8)
    got, ref = vda.load(result), vda.load(tls_pacs.phantom.outdir)
    assert np.array_equal(got.array, ref.array)
    again = net.retrieve(s, _study_uid(tls_pacs.phantom), method="get", cache_dir=tmp_path)
    assert (again.n_transferred, again.n_cached) == (0, 8)


def test_tls_faults_are_one_line(tls_pacs: TlsPacs, tmp_path: Path) -> None:
    # a server certificate from another CA: our verification refuses it
    with pytest.raises(net.PacsError) as info:
        net.echo(tls_pacs.server(tls_ca_file=str(tls_pacs.certs["other_ca"])), web=False)
    msg = _one_line(info.value)
    assert f"127.0.0.1:{tls_pacs.orthanc.dicom_port}" in msg and "TLS handshake" in msg and "certificate verify failed" in msg and "tls_ca_file" in msg
    # plain DIMSE to a TLS-only port
    with pytest.raises(net.PacsError) as info:
        net.echo(tls_pacs.server(tls=False, timeout=3.0), web=False)
    msg = _one_line(info.value)
    assert f"127.0.0.1:{tls_pacs.orthanc.dicom_port}" in msg and "TLS" in msg
    # no client certificate: Orthanc requires one
    with pytest.raises(net.PacsError) as info:
        net.echo(tls_pacs.server(tls_cert_file=None, tls_key_file=None), web=False)
    assert "TLS" in _one_line(info.value)
    # unreadable TLS files: a configuration error before any connection
    with pytest.raises(net.ServerConfigError) as info:
        net.echo(tls_pacs.server(tls_ca_file=str(tmp_path / "missing.pem")), web=False)
    assert "tls_ca_file" in _one_line(info.value)
