"""Real test certificates made with `cryptography`: a CA, server and client certificates, and the
key and trust stores EdgePort reads (PKCS#12 with a password, as Routr ships them, and PEM)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASSWORD = "changeme"


def new_key(kind: str = "ec"):
    return rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_cert(
    common_name: str,
    key,
    issuer: tuple | None = None,
    *,
    ca: bool = False,
    sans: tuple[str, ...] = (),
    days: int = 30,
) -> x509.Certificate:
    """A certificate for `key`, signed by `issuer` = (issuer_key, issuer_cert), else self-signed."""
    now = datetime.datetime.now(datetime.UTC)
    signer_key, signer_name = (issuer[0], issuer[1].subject) if issuer else (key, _name(common_name))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days - 1)))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        names = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def pem_cert(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def pem_key(key, password: str | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def p12(key, cert, chain=(), password: str | None = PASSWORD, name: bytes = b"signaling") -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(name, key, cert, list(chain) or None, encryption)


@dataclass
class Certs:
    """Files in `dir`; every path is absolute."""

    dir: Path
    ca: Path  # the test CA certificate (PEM): the trust store
    trust_p12: Path  # the CA certificate alone in a PKCS#12 file (password changeme)
    server_p12: Path  # signaling.p12: EdgePort's key, certificate and the CA (password changeme)
    server_pem: Path  # the same as one PEM file: certificate, CA, key
    server_cert: Path  # separate PEM files for third-party peers (Kamailio)
    server_key: Path
    client_cert: Path  # a client certificate from the test CA
    client_key: Path
    rogue_cert: Path  # a client certificate from another CA
    rogue_key: Path
    mismatched_pem: Path  # EdgePort's certificate with some other key (OpenSSL refuses to make such a .p12)


def make_certs(directory: Path, key_kind: str = "ec") -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = new_key(key_kind)
    ca_cert = make_cert("EdgePort Test CA", ca_key, ca=True)
    server_key = new_key(key_kind)
    server_cert = make_cert("edgeport.test", server_key, (ca_key, ca_cert), sans=("localhost", "127.0.0.1"))
    client_key = new_key(key_kind)
    client_cert = make_cert("phone.test", client_key, (ca_key, ca_cert))
    rogue_ca_key = new_key(key_kind)
    rogue_ca = make_cert("Rogue CA", rogue_ca_key, ca=True)
    rogue_key = new_key(key_kind)
    rogue_cert = make_cert("rogue.test", rogue_key, (rogue_ca_key, rogue_ca))
    other_key = new_key(key_kind)

    files = {
        "ca.pem": pem_cert(ca_cert),
        "trust.p12": pkcs12.serialize_key_and_certificates(
            None, None, None, [ca_cert], serialization.BestAvailableEncryption(PASSWORD.encode())
        ),
        "signaling.p12": p12(server_key, server_cert, [ca_cert]),
        "signaling.pem": pem_cert(server_cert, ca_cert) + pem_key(server_key),
        "server.crt": pem_cert(server_cert, ca_cert),
        "server.key": pem_key(server_key),
        "client.crt": pem_cert(client_cert),
        "client.key": pem_key(client_key),
        "rogue.crt": pem_cert(rogue_cert),
        "rogue.key": pem_key(rogue_key),
        "mismatched.pem": pem_cert(server_cert) + pem_key(other_key),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    d = directory.resolve()
    return Certs(
        d,
        d / "ca.pem",
        d / "trust.p12",
        d / "signaling.p12",
        d / "signaling.pem",
        d / "server.crt",
        d / "server.key",
        d / "client.crt",
        d / "client.key",
        d / "rogue.crt",
        d / "rogue.key",
        d / "mismatched.pem",
    )


def security_context(certs: Certs, auth_type: str = "Disabled", **overrides) -> dict:
    """A Routr-style spec.securityContext for these certificates."""
    context = {
        "client": {"protocols": ["TLSv1.2", "TLSv1.3"], "authType": auth_type},
        "keyStore": str(certs.server_p12),
        "trustStore": str(certs.ca),
        "keyStorePassword": PASSWORD,
        "trustStorePassword": PASSWORD,
        "keyStoreType": "pkcs12",
    }
    context.update(overrides)
    return context
