"""api_check's HTTP over real TLS: a loopback HTTPS server with a CA made for the test."""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_collections.relrun.release.plugins.module_utils.http.client import (  # type: ignore[import-not-found, unused-ignore]
    RequestFailed,
    Tls,
    send,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer if issuer else (_name(subject), key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> Path:
    data = cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)
    return path


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = _issue("relrun test CA", None, ca=True)
    server_cert, server_key = _issue("localhost", (ca_cert.subject, ca_key), server=True)
    client_cert, client_key = _issue("relrun checks", (ca_cert.subject, ca_key))
    return {
        "ca": _write(root / "ca.pem", ca_cert, None),
        "server": _write(root / "server.pem", server_cert, server_key),
        "client": _write(root / "client.pem", client_cert, client_key),
    }


def _serve(pki: dict[str, Path], require_client: bool) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"])
    if require_client:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki["ca"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def https_url(pki: dict[str, Path]) -> Iterator[str]:
    yield from _serve(pki, require_client=False)


@pytest.fixture
def mtls_url(pki: dict[str, Path]) -> Iterator[str]:
    yield from _serve(pki, require_client=True)


def test_certificates_are_checked_by_default(https_url: str) -> None:
    with pytest.raises(RequestFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        send("GET", https_url, tls=Tls(use_proxy=False))


def test_a_ca_bundle_makes_the_server_trusted(https_url: str, pki: dict[str, Path]) -> None:
    resp = send("GET", https_url, tls=Tls(ca_path=str(pki["ca"]), use_proxy=False))
    assert resp.status == 200
    assert resp.json() == (True, {"status": "ok"})


def test_turning_verification_off_is_explicit(https_url: str) -> None:
    resp = send("GET", https_url, tls=Tls(validate_certs=False, use_proxy=False))
    assert resp.status == 200


def test_client_certificate(mtls_url: str, pki: dict[str, Path]) -> None:
    trusted = Tls(ca_path=str(pki["ca"]), use_proxy=False)
    with pytest.raises(RequestFailed):
        send("GET", mtls_url, tls=trusted)
    with_cert = Tls(ca_path=str(pki["ca"]), client_cert=str(pki["client"]), use_proxy=False)
    assert send("GET", mtls_url, tls=with_cert).status == 200


def test_runbook_tls_settings_reach_the_module(tmp_path: Path) -> None:
    from relrun.render.playbook import render_playbook_data
    from relrun.runbook.loader import load_runbook
    from tests.helpers import ROOT

    text = (ROOT / "runbooks" / "release-v2.yml").read_text(encoding="utf-8")
    marker = "api_checks:\n"
    assert marker in text
    tls = "  tls:\n    ca_path: \"{{ relrun_api_ca }}\"\n    use_proxy: false\n"
    runbook = tmp_path / "tls.yml"
    runbook.write_text(text.replace(marker, marker + tls, 1), encoding="utf-8")
    loaded = load_runbook(runbook)
    tasks: list[dict[str, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "relrun.release.api_check" in node:
                tasks.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(render_playbook_data(loaded.runbook, loaded.sha256))
    assert tasks  # the gate, and the rollback's verify
    args = tasks[0]["relrun.release.api_check"]
    assert isinstance(args, dict)
    assert args["ca_path"] == "{{ relrun_api_ca }}"
    assert args["validate_certs"] is True
    assert args["use_proxy"] is False
