"""Via header values (RFC 3261 section 20.42, RFC 3581 rport)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import SipParseError
from .params import Params, format_params, parse_params
from .uri import parse_hostport

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 8.1.1.7: branches of RFC 3261 elements start with it

_SENT_PROTOCOL = re.compile(r"^\s*([^\s/]+)\s*/\s*([^\s/]+)\s*/\s*([^\s/;]+)\s*(.*)$", re.DOTALL)
# The common shape in one match: `SIP/2.0/transport host[:port][;params]`, a plain host name or
# IPv4 address and no comment; anything else is left to the careful path.
_PLAIN_VIA = re.compile(
    r"SIP/2\.0/([^\s/;]+)[ \t]+([^\s<>\"@:;?\[(]+)(?::([0-9]{1,5}))?(?:;([^(]*))?", re.DOTALL
)


@dataclass(slots=True)
class Via:
    transport: str = "UDP"  # upper case
    host: str = ""
    port: int | None = None
    params: Params = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        return f"{self.host}:{self.port}" if self.port is not None else self.host

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{format_params(self.params)}"


def parse_via(text: str) -> Via:
    """Parse one Via element (split comma lists first)."""
    match = _PLAIN_VIA.fullmatch(text)
    if match is not None:
        transport, host, port, params = match.groups()
        number = int(port) if port is not None else None
        if number is None or 0 < number <= 65535:
            return Via(transport.upper(), host, number, parse_params(params or ""), "SIP/2.0")
    match = _SENT_PROTOCOL.match(text)
    if not match:
        raise SipParseError(f"malformed Via {text[:60]!r}")
    name, version, transport, rest = match.groups()
    rest = _strip_comment(rest)
    hostport, _, params = rest.partition(";")
    host, port = parse_hostport(hostport, text)
    return Via(
        transport=transport.upper(),
        host=host,
        port=port,
        params=parse_params(params),
        protocol=f"{name.upper()}/{version}",
    )


def _strip_comment(text: str) -> str:
    """Cut a trailing `(comment)`; a parenthesis inside a quoted parameter value is not one."""
    if "(" not in text:
        return text
    in_quotes = False
    for i, ch in enumerate(text):
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == "(" and not in_quotes:
            return text[:i]
    return text
