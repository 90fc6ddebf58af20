"""TLS material from ``spec.securityContext`` (wire contract section 8) as ``ssl.SSLContext`` objects.

Conventions:

- ``keyStore`` with ``keyStoreType: pkcs12`` (the default, as Routr ships ``signaling.p12``): the
  private key, its certificate and any chain certificates, decrypted with ``keyStorePassword``.
- ``keyStoreType: pem``: one PEM file holding the certificate (first), any chain certificates and
  the private key (encrypted PEM keys are decrypted with ``keyStorePassword``).
- ``trustStore``: a PEM bundle (a file starting with ``-----BEGIN``) or a PKCS#12 file (opened with
  ``trustStorePassword``); every certificate in it is trusted. It verifies client certificates and
  outbound TLS peers. Without one, client certificates are checked against the system CAs and
  outbound peers are not verified (a warning says so).
- Relative paths are resolved against the directory of the configuration file.

``ssl.SSLContext.load_cert_chain`` only reads files. The decrypted key is therefore handed to
OpenSSL through an anonymous in-memory file (``os.memfd_create``, read back through
``/proc/self/fd/N``): it lives in RAM only, has no name in any filesystem and is gone when the
descriptor is closed, right after loading. Where memfd does not exist (not Linux) the key is
written to a private temporary file *encrypted* with a random one-time password, so the plain key
never reaches a disk either way.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .config import SecurityContext

log = logging.getLogger(__name__)
WHERE = "spec.securityContext"
ACCEPTED_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
CLIENT_CERT_MODES = {
    "enabled": ssl.CERT_REQUIRED,
    "required": ssl.CERT_REQUIRED,
    "want": ssl.CERT_OPTIONAL,
    "wanted": ssl.CERT_OPTIONAL,
    "disabled": ssl.CERT_NONE,
    "disabledall": ssl.CERT_NONE,
    "default": ssl.CERT_NONE,
}
_PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----", re.DOTALL)


class SecurityError(Exception):
    """The TLS material cannot be used; ``str()`` names the file and the problem."""


@dataclass(frozen=True)
class KeyMaterial:
    key: object  # a cryptography private key
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class TlsContexts:
    server: ssl.SSLContext  # for accepted TLS and WSS connections
    client: ssl.SSLContext  # for TLS connections EdgePort opens to next hops


# --------------------------------------------------------------------------- mappings


def tls_versions(protocols: tuple[str, ...]) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    """(minimum, maximum) TLS version for ``client.protocols``; older entries are refused with a warning."""
    accepted = []
    for name in protocols:
        if name in ACCEPTED_VERSIONS:
            accepted.append(ACCEPTED_VERSIONS[name])
        else:
            log.warning("%s.client.protocols: %s refused: EdgePort only speaks TLSv1.2 and TLSv1.3",
                        WHERE, name)
    if not accepted:
        log.warning("%s.client.protocols: no accepted entry left, using TLSv1.2 and TLSv1.3", WHERE)
        accepted = list(ACCEPTED_VERSIONS.values())
    return min(accepted), max(accepted)


def client_cert_mode(auth_type: str) -> ssl.VerifyMode:
    """``client.authType``: Enabled/Required ask and require, Want/Wanted ask, others do not ask."""
    try:
        return CLIENT_CERT_MODES[auth_type.lower()]
    except KeyError:
        raise SecurityError(f"{WHERE}.client.authType: unknown value {auth_type!r}") from None


# --------------------------------------------------------------------------- reading stores


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SecurityError(f"{WHERE}.{what}: {path}: file not found") from None
    except IsADirectoryError:
        raise SecurityError(f"{WHERE}.{what}: {path}: is a directory, not a file") from None
    except OSError as error:
        raise SecurityError(f"{WHERE}.{what}: {path}: cannot read: {error.strerror or error}") from None


def _password(text: str | None) -> bytes | None:
    return text.encode() if text else None


def _load_pkcs12(data: bytes, password: str | None, path: Path, what: str) -> pkcs12.PKCS12KeyAndCertificates:
    try:
        return pkcs12.load_pkcs12(data, _password(password))
    except (ValueError, TypeError):
        secret = "keyStorePassword" if what == "keyStore" else "trustStorePassword"
        raise SecurityError(
            f"{WHERE}.{what}: {path}: cannot open: wrong {secret}, or not a PKCS#12 file"
        ) from None


def _pem_key(data: bytes, password: str | None, path: Path) -> object:
    match = _PEM_KEY.search(data)
    if match is None:
        raise SecurityError(f"{WHERE}.keyStore: {path}: no PEM private key in the file")
    block = match.group(0)
    try:
        return serialization.load_pem_private_key(block, _password(password))
    except TypeError:  # a password for a plain key, or none for an encrypted one
        if password:
            return serialization.load_pem_private_key(block, None)
        raise SecurityError(
            f"{WHERE}.keyStore: {path}: the private key is encrypted: set keyStorePassword"
        ) from None
    except ValueError:
        raise SecurityError(
            f"{WHERE}.keyStore: {path}: cannot decrypt the private key: wrong keyStorePassword"
        ) from None


def _pem_certificates(data: bytes, path: Path, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise SecurityError(f"{WHERE}.{what}: {path}: no readable PEM certificate in the file") from None


def _public_der(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_key_store(path: Path, store_type: str, password: str | None) -> KeyMaterial:
    """The private key, certificate and chain of ``keyStore``; checks that key and certificate match."""
    data = _read(path, "keyStore")
    if store_type == "pem":
        certs = _pem_certificates(data, path, "keyStore")
        key, cert, chain = _pem_key(data, password, path), certs[0], tuple(certs[1:])
    else:
        store = _load_pkcs12(data, password, path, "keyStore")
        if store.key is None:
            raise SecurityError(f"{WHERE}.keyStore: {path}: holds no private key")
        if store.cert is None:
            raise SecurityError(f"{WHERE}.keyStore: {path}: holds no certificate for its private key")
        key, cert = store.key, store.cert.certificate
        chain = tuple(c.certificate for c in store.additional_certs)
    if _public_der(key) != _public_der(cert):
        raise SecurityError(
            f"{WHERE}.keyStore: {path}: the private key does not match the certificate "
            f"({cert.subject.rfc4514_string()})"
        )
    if cert.not_valid_after_utc < datetime.now(UTC):
        log.warning("%s.keyStore: %s: the certificate expired on %s", WHERE, path, cert.not_valid_after_utc)
    return KeyMaterial(key, cert, chain)


def load_trust_store(path: Path, password: str | None) -> list[x509.Certificate]:
    """Every certificate of ``trustStore`` (PEM bundle or PKCS#12, told apart by content)."""
    data = _read(path, "trustStore")
    if data.lstrip().startswith(b"-----BEGIN"):
        return _pem_certificates(data, path, "trustStore")
    store = _load_pkcs12(data, password, path, "trustStore")
    certs = ([store.cert.certificate] if store.cert else []) + [c.certificate for c in store.additional_certs]
    if not certs:
        raise SecurityError(f"{WHERE}.trustStore: {path}: holds no certificate")
    return certs


# --------------------------------------------------------------------------- SSL contexts


def _pem(certs: list[x509.Certificate] | tuple[x509.Certificate, ...]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def load_cert_chain(context: ssl.SSLContext, material: KeyMaterial) -> None:
    """Give ``context`` the certificate chain and key without writing the plain key to a filesystem."""
    certs = _pem((material.cert, *material.chain))
    if hasattr(os, "memfd_create"):
        plain_key = material.key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.memfd_create("edgeport-tls", os.MFD_CLOEXEC)
        try:
            data = memoryview(certs + plain_key)
            while data:
                data = data[os.write(fd, data):]
            context.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    one_time = secrets.token_urlsafe(32).encode()
    sealed_key = material.key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time),
    )
    with tempfile.NamedTemporaryFile(prefix="edgeport-tls-", suffix=".pem") as file:  # mode 0600
        file.write(certs + sealed_key)
        file.flush()
        context.load_cert_chain(file.name, password=one_time)


def _resolve(path: str, base_dir: Path) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else base_dir / candidate


def build_tls_contexts(security: SecurityContext, base_dir: Path) -> TlsContexts:
    """Server and client contexts from the security context; raises :class:`SecurityError`."""
    if not security.key_store:
        raise SecurityError(f"{WHERE}.keyStore: required by tls and wss")
    material = load_key_store(_resolve(security.key_store, base_dir), security.key_store_type,
                              security.key_store_password)
    trusted = None
    if security.trust_store:
        trust_path = _resolve(security.trust_store, base_dir)
        trusted = _pem(load_trust_store(trust_path, security.trust_store_password))
    lowest, highest = tls_versions(security.client.protocols)
    mode = client_cert_mode(security.client.auth_type)

    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for context in (server, client):
        context.minimum_version, context.maximum_version = lowest, highest
        load_cert_chain(context, material)  # the client context presents it to peers that ask
    server.verify_mode = mode
    if mode != ssl.CERT_NONE:
        if trusted:
            server.load_verify_locations(cadata=trusted.decode())
        else:
            log.warning("%s: no trustStore: client certificates are checked against the system CAs", WHERE)
            server.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    if trusted:
        client.load_verify_locations(cadata=trusted.decode())
    else:
        log.warning("%s: no trustStore: the certificates of outbound TLS peers are not verified", WHERE)
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE
    return TlsContexts(server, client)


def tls_contexts_for(security: SecurityContext | None, config_path: Path) -> TlsContexts:
    """:func:`build_tls_contexts` with errors prefixed by the configuration file, like config errors."""
    if security is None:
        raise SecurityError(f"{config_path}: {WHERE}: required by tls and wss")
    try:
        return build_tls_contexts(security, config_path.parent)
    except SecurityError as error:
        raise SecurityError(f"{config_path}: {error}") from None
    except ssl.SSLError as error:
        raise SecurityError(f"{config_path}: {WHERE}: OpenSSL refused the key store: {error}") from None
