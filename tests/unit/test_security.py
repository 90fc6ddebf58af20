"""spec.securityContext -> SSL contexts, with real certificates made by the test (no mocks of TLS)."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from edgeport_lib import security
from edgeport_lib.config import SecurityContext, TlsClientConfig
from edgeport_lib.security import (
    SecurityError,
    build_tls_contexts,
    client_cert_mode,
    tls_contexts_for,
    tls_versions,
)
from tests.e2e.tls_certs import PASSWORD, Certs, make_certs, pem_cert, pem_key


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def context(certs: Certs, auth_type: str = "Disabled", **changes) -> SecurityContext:
    base = SecurityContext(
        client=TlsClientConfig(("TLSv1.2", "TLSv1.3"), auth_type),
        key_store=str(certs.server_p12),
        trust_store=str(certs.ca),
        key_store_type="pkcs12",
        key_store_password=PASSWORD,
        trust_store_password=PASSWORD,
    )
    return replace(base, **changes)


def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> tuple[str | None, str | None]:
    """Run a real handshake over a socket pair; (server error, client error), None where it worked."""
    left, right = socket.socketpair()
    errors: dict[str, str | None] = {"server": None, "client": None}

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(left, server_side=True) as tls:
                tls.sendall(b"hello")
        except (OSError, ssl.SSLError) as error:
            errors["server"] = str(error)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client_ctx.wrap_socket(right, server_hostname="127.0.0.1") as tls:
            tls.settimeout(5)
            assert tls.recv(5) == b"hello"  # TLS 1.3 reports a refused client certificate here
    except (OSError, ssl.SSLError) as error:
        errors["client"] = str(error)
    thread.join(5)
    return errors["server"], errors["client"]


def client_with(certs: Certs, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


# --------------------------------------------------------------------------- loading stores


def test_pkcs12_key_store_with_password_serves_a_verified_handshake(certs):
    contexts = build_tls_contexts(context(certs), Path("/"))
    assert handshake(contexts.server, client_with(certs)) == (None, None)
    # the outbound context trusts the trust store and checks the peer's name (127.0.0.1 here)
    assert contexts.client.verify_mode == ssl.CERT_REQUIRED and contexts.client.check_hostname
    assert handshake(contexts.server, contexts.client) == (None, None)


def test_pem_key_store_holds_certificate_chain_and_key(certs):
    contexts = build_tls_contexts(
        context(certs, key_store=str(certs.server_pem), key_store_type="pem"), Path("/")
    )
    assert handshake(contexts.server, client_with(certs)) == (None, None)


def test_pem_key_store_with_an_encrypted_key(certs, tmp_path):
    sealed = tmp_path / "sealed.pem"
    plain = certs.server_key.read_bytes()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    sealed.write_bytes(certs.server_cert.read_bytes() + pem_key(load_pem_private_key(plain, None), "s3cret"))
    ok = context(certs, key_store=str(sealed), key_store_type="pem", key_store_password="s3cret")
    assert handshake(build_tls_contexts(ok, Path("/")).server, client_with(certs)) == (None, None)
    with pytest.raises(SecurityError, match="wrong keyStorePassword"):
        build_tls_contexts(replace(ok, key_store_password="nope"), Path("/"))
    with pytest.raises(SecurityError, match="encrypted: set keyStorePassword"):
        build_tls_contexts(replace(ok, key_store_password=None), Path("/"))


def test_relative_paths_are_resolved_against_the_config_directory(certs):
    relative = context(certs, key_store=certs.server_p12.name, trust_store=certs.ca.name)
    build_tls_contexts(relative, certs.dir)


def test_pkcs12_trust_store_with_password(certs):
    contexts = build_tls_contexts(context(certs, trust_store=str(certs.trust_p12)), Path("/"))
    assert handshake(contexts.server, contexts.client) == (None, None)
    with pytest.raises(SecurityError, match=r"trustStore: .*trust\.p12: .*wrong trustStorePassword"):
        build_tls_contexts(
            context(certs, trust_store=str(certs.trust_p12), trust_store_password="x"), Path("/")
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"key_store_password": "wrong"}, r"keyStore: .*signaling\.p12: cannot open: wrong keyStorePassword"),
        (
            {"key_store": "/nonexistent/signaling.p12"},
            r"keyStore: /nonexistent/signaling\.p12: file not found",
        ),
        ({"trust_store": "/nonexistent/ca.pem"}, r"trustStore: /nonexistent/ca\.pem: file not found"),
        (
            {"key_store": "MISMATCHED", "key_store_type": "pem"},
            r"mismatched\.pem: the private key does not match",
        ),
        ({"key_store": "CA", "key_store_type": "pem"}, r"ca\.pem: no PEM private key"),
        ({"key_store": "CA"}, r"ca\.pem: cannot open: wrong keyStorePassword, or not a PKCS#12 file"),
        ({"key_store": "TRUST_P12"}, r"trust\.p12: holds no private key"),
        ({"key_store": "DIR"}, r"is a directory"),
    ],
)
def test_unusable_stores_name_the_file_and_the_problem(certs, changes, message):
    names = {
        "MISMATCHED": certs.mismatched_pem,
        "CA": certs.ca,
        "TRUST_P12": certs.trust_p12,
        "DIR": certs.dir,
    }
    changes = {k: str(names.get(v, v)) if isinstance(v, str) else v for k, v in changes.items()}
    with pytest.raises(SecurityError, match=message):
        build_tls_contexts(context(certs, **changes), Path("/"))


def test_errors_are_prefixed_with_the_config_file(certs):
    with pytest.raises(SecurityError) as caught:
        tls_contexts_for(context(certs, key_store_password="bad"), Path("/etc/edgeport/edgeport.yaml"))
    assert str(caught.value).startswith("/etc/edgeport/edgeport.yaml: spec.securityContext.keyStore: ")
    with pytest.raises(SecurityError, match="required by tls and wss"):
        tls_contexts_for(None, Path("edgeport.yaml"))


def test_the_plain_key_goes_through_memfd_not_a_file(certs, monkeypatch):
    def no_files(*args, **kwargs):
        raise AssertionError("a temporary file was written")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", no_files)
    build_tls_contexts(context(certs), Path("/"))


def test_without_memfd_only_an_encrypted_key_touches_the_disk(certs, monkeypatch):
    written: list[bytes] = []
    real = tempfile.NamedTemporaryFile

    class Spy:
        def __init__(self, *args, **kwargs):
            self.file = real(*args, **kwargs)
            self.name = self.file.name

        def write(self, data):
            written.append(bytes(data))
            return self.file.write(data)

        def flush(self):
            self.file.flush()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()
            assert not os.path.exists(self.name)

    monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", Spy)
    contexts = build_tls_contexts(context(certs), Path("/"))
    assert handshake(contexts.server, client_with(certs)) == (None, None)
    data = b"".join(written)
    assert b"ENCRYPTED PRIVATE KEY" in data and b"BEGIN PRIVATE KEY" not in data


# --------------------------------------------------------------------------- mappings


def test_protocols_below_tls12_are_refused_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger=security.__name__):
        assert tls_versions(("TLSv1", "TLSv1.1", "TLSv1.2")) == (
            ssl.TLSVersion.TLSv1_2,
            ssl.TLSVersion.TLSv1_2,
        )
    refused = [r.getMessage() for r in caplog.records]
    assert any("TLSv1 refused" in m for m in refused) and any("TLSv1.1 refused" in m for m in refused)
    assert all("client.protocols" in m for m in refused)


def test_protocol_versions_map_to_a_range(caplog):
    assert tls_versions(("TLSv1.3",)) == (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)
    assert tls_versions(("TLSv1.3", "TLSv1.2")) == (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
    with caplog.at_level(logging.WARNING, logger=security.__name__):
        assert tls_versions(("SSLv3",)) == (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
    assert "SSLv3 refused" in caplog.text and "no accepted entry left" in caplog.text


def test_tls13_only_refuses_a_tls12_client(certs):
    contexts = build_tls_contexts(context(certs, client=TlsClientConfig(("TLSv1.3",), "Disabled")), Path("/"))
    old = client_with(certs)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    server_error, client_error = handshake(contexts.server, old)
    assert server_error and client_error


@pytest.mark.parametrize(
    ("auth_type", "mode"),
    [
        ("Enabled", ssl.CERT_REQUIRED),
        ("Required", ssl.CERT_REQUIRED),
        ("Want", ssl.CERT_OPTIONAL),
        ("Wanted", ssl.CERT_OPTIONAL),
        ("Disabled", ssl.CERT_NONE),
        ("DisabledAll", ssl.CERT_NONE),
        ("Default", ssl.CERT_NONE),
    ],
)
def test_auth_type_maps_to_the_client_certificate_mode(auth_type, mode):
    assert client_cert_mode(auth_type) == mode


@pytest.mark.parametrize(
    ("auth_type", "which", "accepted"),
    [
        ("Enabled", "none", False),
        ("Enabled", "client", True),
        ("Enabled", "rogue", False),
        ("Want", "none", True),
        ("Want", "client", True),
        ("Want", "rogue", False),  # asked: a certificate from an unknown CA is refused
        ("Disabled", "none", True),
        ("Disabled", "rogue", True),  # never asked, so never checked
    ],
)
def test_client_certificate_modes_in_real_handshakes(certs, auth_type, which, accepted):
    server = build_tls_contexts(context(certs, auth_type), Path("/")).server
    pair = {
        "none": (None, None),
        "client": (certs.client_cert, certs.client_key),
        "rogue": (certs.rogue_cert, certs.rogue_key),
    }[which]
    server_error, _client_error = handshake(server, client_with(certs, *pair))
    assert (server_error is None) == accepted, server_error


def test_without_a_trust_store_outbound_peers_are_not_verified(certs, caplog):
    with caplog.at_level(logging.WARNING, logger=security.__name__):
        contexts = build_tls_contexts(context(certs, trust_store=None), Path("/"))
    assert contexts.client.verify_mode == ssl.CERT_NONE and not contexts.client.check_hostname
    assert "not verified" in caplog.text


def test_an_expired_certificate_is_loaded_with_a_warning(certs, tmp_path, caplog):
    from tests.e2e.tls_certs import make_cert, new_key

    key = new_key()
    expired = make_cert("old.test", key, days=-1)
    path = tmp_path / "old.pem"
    path.write_bytes(pem_cert(expired) + pem_key(key))
    with caplog.at_level(logging.WARNING, logger=security.__name__):
        build_tls_contexts(context(certs, key_store=str(path), key_store_type="pem"), Path("/"))
    assert "expired" in caplog.text


# --------------------------------------------------------------------------- connection limits


def test_connection_gate_limits_per_transport_and_per_ip():
    from edgeport_lib.transports.stream import ConnectionGate, ConnectionPolicy

    gate = ConnectionGate(ConnectionPolicy(max_connections=3, max_per_ip=2), "TCP")
    assert gate.enter("10.0.0.1") and gate.enter("10.0.0.1")
    assert not gate.enter("10.0.0.1")  # per IP
    assert gate.enter("10.0.0.2")
    assert not gate.enter("10.0.0.3")  # per transport
    gate.leave("10.0.0.1")
    assert gate.enter("10.0.0.3") and gate.total == 3 and gate.refused == 2
