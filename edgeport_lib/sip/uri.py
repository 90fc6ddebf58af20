"""SIP, SIPS and other URIs (RFC 3261 section 19.1; RFC 5118 IPv6 references)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import SipParseError
from .params import Params, format_params, parse_params


@dataclass(slots=True)
class SipUri:
    scheme: str = "sip"  # "sip" or "sips", lower case
    user: str | None = None
    password: str | None = None
    host: str = ""  # IPv6 references keep their brackets: "[2001:db8::1]"
    port: int | None = None
    params: Params = field(default_factory=dict)
    headers: str = ""  # the text after "?", undecoded

    @property
    def secure(self) -> bool:
        return self.scheme == "sips"

    def __str__(self) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user + (f":{self.password}" if self.password is not None else "") + "@"
        port = f":{self.port}" if self.port is not None else ""
        headers = f"?{self.headers}" if self.headers else ""
        return f"{self.scheme}:{userinfo}{self.host}{port}{format_params(self.params)}{headers}"


@dataclass(slots=True)
class AbsoluteUri:
    """A URI of another scheme (tel:, urn:, http:, ...), kept as opaque text."""

    scheme: str
    rest: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


Uri = SipUri | AbsoluteUri

_BAD_HOST_CHAR = re.compile(r'[ \t<>"@]')


def parse_uri(text: str) -> Uri:
    """Parse a URI; sip/sips are taken apart, other schemes are kept whole."""
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    if colon and (scheme == "sip" or scheme == "sips"):  # the usual spelling: nothing to check or lower
        return _parse_sip_uri(scheme, rest, text)
    if not colon or not scheme or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        raise SipParseError(f"URI without a scheme: {text[:40]!r}")
    lowered = scheme.lower()
    if lowered not in ("sip", "sips"):
        return AbsoluteUri(scheme, rest)
    return _parse_sip_uri(lowered, rest, text)


def _parse_sip_uri(scheme: str, rest: str, text: str) -> SipUri:
    rest, _, headers = rest.partition("?")
    userinfo, at, hostpart = rest.rpartition("@")
    user = password = None
    if at:
        user, colon, password = userinfo.partition(":")
        if not colon:
            password = None
    hostport, _, params = hostpart.partition(";")
    host, port = parse_hostport(hostport, text)
    return SipUri(scheme, user, password, host, port, parse_params(params), headers)


def parse_hostport(hostport: str, context: str = "") -> tuple[str, int | None]:
    """`host[:port]` with IPv6 references in brackets. Raises SipParseError when malformed."""
    hostport = hostport.strip()
    if hostport.startswith("["):
        end = hostport.find("]")
        if end == -1:
            raise SipParseError(f"unclosed IPv6 reference in {context[:60]!r}")
        host, after = hostport[: end + 1], hostport[end + 1 :]
        if after and not after.startswith(":"):
            raise SipParseError(f"garbage after IPv6 reference in {context[:60]!r}")
        port_text = after[1:] if after else None
    else:
        host, colon, port_text = hostport.partition(":")
        port_text = port_text if colon else None
    if not host or _BAD_HOST_CHAR.search(host):
        raise SipParseError(f"bad host in {context[:60]!r}")
    if port_text is None:
        return host, None
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5):
        raise SipParseError(f"bad port in {context[:60]!r}")
    port = int(port_text)
    if not 0 < port <= 65535:
        raise SipParseError(f"bad port in {context[:60]!r}")
    return host, port


def bare_host(host: str) -> str:
    """The host without IPv6 brackets, for sockets."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host
