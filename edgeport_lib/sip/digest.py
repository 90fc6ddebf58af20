"""Answering a digest challenge (RFC 7616, RFC 2617) on someone's behalf. No I/O."""

from __future__ import annotations

import hashlib
import secrets

from .auth import format_challenge, parse_challenge

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


class DigestError(ValueError):
    """A challenge we cannot answer (unknown algorithm or scheme, no nonce)."""


def _hasher(algorithm: str):
    base = algorithm.upper().removesuffix("-SESS")
    factory = _HASHES.get(base)
    if factory is None:
        raise DigestError(f"unsupported digest algorithm {algorithm!r}")
    return lambda text: factory(text.encode("utf-8")).hexdigest()


def authorization(
    challenge: str, method: str, uri: str, username: str, password: str,
    nonce_count: int = 1, cnonce: str | None = None,
) -> str:
    """The Authorization / Proxy-Authorization value answering a WWW-/Proxy-Authenticate value."""
    scheme, params = parse_challenge(challenge)
    if scheme.lower() != "digest" or "nonce" not in params:
        raise DigestError("not a digest challenge with a nonce")
    algorithm = params.get("algorithm", "MD5")
    h = _hasher(algorithm)
    realm, nonce = params.get("realm", ""), params["nonce"]
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in qops else None
    if qops and qop is None:
        raise DigestError(f"unsupported qop {params['qop']!r}")
    cnonce = cnonce or secrets.token_hex(8)
    nc = f"{nonce_count:08x}"
    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}") if qop else h(f"{ha1}:{nonce}:{ha2}")
    fields = [("username", username, True), ("realm", realm, True), ("nonce", nonce, True),
              ("uri", uri, True), ("response", response, True), ("algorithm", algorithm, False)]
    if "opaque" in params:
        fields.append(("opaque", params["opaque"], True))
    if qop:
        fields += [("qop", qop, False), ("nc", nc, False), ("cnonce", cnonce, True)]
    return format_challenge("Digest", fields)
