"""newman with the runbook's TLS settings: real newman against a loopback HTTPS server."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.http.newman_run import (  # noqa: E501
    newman_environ,
    run_newman,
    tls_flags,
)
from relrun.render.check_tasks import render_check_tasks
from relrun.runbook.check_models import ApiChecksSection
from tests.integration.test_newman_sandbox import newman  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


def _cert(
    subject: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None, *, ca: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer if issuer else (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> str:
    data = cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("pki")
    ca, ca_key = _cert("relrun newman test CA", None, ca=True)
    server, server_key = _cert("127.0.0.1", (ca.subject, ca_key), ca=False)
    client, client_key = _cert("relrun checks", (ca.subject, ca_key), ca=False)
    return {
        "ca": _pem(root / "ca.pem", ca, None),
        "server": _pem(root / "server.pem", server, server_key),
        "client": _pem(root / "client.pem", client, client_key),
    }


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(pki: dict[str, str], mutual: bool) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"])
    if mutual:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki["ca"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def https_url(pki: dict[str, str]) -> Iterator[str]:
    yield from _serve(pki, mutual=False)


@pytest.fixture
def mtls_url(pki: dict[str, str]) -> Iterator[str]:
    yield from _serve(pki, mutual=True)


COLLECTION = {
    "info": {"name": "tls", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
    "item": [{
        "name": "health",
        "request": {"method": "GET", "url": "{{baseUrl}}/health"},
        "event": [{"listen": "test", "script": {"exec": [
            "pm.test('status 200', function () { pm.response.to.have.status(200); });"]}}],
    }],
}


def _health(newman_bin: Path, tmp_path: Path, url: str, flags: list[str]) -> dict[str, Any]:
    collection = tmp_path / "tls.postman_collection.json"
    collection.write_text(json.dumps(COLLECTION))
    environment = {"values": [{"key": "baseUrl", "value": url, "enabled": True}]}
    report, _code, _tail = run_newman(
        str(newman_bin), str(collection), environment, timeout_s=60, request_timeout_s=20,
        flags=flags, environ=newman_environ(False),
    )
    execution = report["run"]["executions"][0]
    error = execution.get("requestError")
    return {
        "status": (execution.get("response") or {}).get("code"),
        "error": json.dumps(error) if error else "",
    }


def test_certificates_are_checked_and_the_ca_bundle_trusts_the_server(
    newman: Path, tmp_path: Path, https_url: str, pki: dict[str, str]  # noqa: F811
) -> None:
    refused = _health(newman, tmp_path, https_url, tls_flags())
    assert refused["status"] is None and refused["error"], refused
    assert "UNABLE_TO_VERIFY_LEAF_SIGNATURE" in refused["error"], refused
    trusted = _health(newman, tmp_path, https_url, tls_flags(ca_path=pki["ca"]))
    assert trusted == {"status": 200, "error": ""}
    unchecked = _health(newman, tmp_path, https_url, tls_flags(validate_certs=False))
    assert unchecked["status"] == 200


def test_client_certificate(
    newman: Path, tmp_path: Path, mtls_url: str, pki: dict[str, str]  # noqa: F811
) -> None:
    without = _health(newman, tmp_path, mtls_url, tls_flags(ca_path=pki["ca"]))
    assert without["status"] is None, without
    # One PEM file holding certificate and key, as api_check takes it.
    with_cert = _health(
        newman, tmp_path, mtls_url, tls_flags(ca_path=pki["ca"], client_cert=pki["client"])
    )
    assert with_cert == {"status": 200, "error": ""}


def test_the_runbook_tls_settings_reach_the_newman_module() -> None:
    section = ApiChecksSection.model_validate({
        "engine": "newman", "collection": "c.json",
        "tls": {"ca_path": "{{ relrun_api_ca }}", "client_cert": "/etc/relrun/client.pem",
                "validate_certs": True, "use_proxy": False},
    })
    (task,) = render_check_tasks(section, phase="gate", base_url_var="relrun_canary_url")
    args = task["relrun.release.newman"]
    assert args["ca_path"] == "{{ relrun_api_ca }}"
    assert args["client_cert"] == "/etc/relrun/client.pem"
    assert (args["validate_certs"], args["use_proxy"]) == (True, False)


def test_proxies_reach_newman_only_when_wanted() -> None:
    host = {"PATH": "/usr/bin", "https_proxy": "http://proxy:3128", "HTTP_PROXY": "http://p:1"}
    assert newman_environ(True, host) == host
    assert newman_environ(False, host) == {"PATH": "/usr/bin"}
