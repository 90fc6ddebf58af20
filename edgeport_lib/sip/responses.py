"""Building responses to a request locally (RFC 3261 section 8.2.6)."""

from __future__ import annotations

import secrets

from .address import parse_name_addr
from .errors import SipParseError
from .message import Header, SipMessage
from .status import reason_phrase

_COPIED = frozenset({"via", "from", "to", "call-id", "cseq"})


def new_tag() -> str:
    return secrets.token_hex(5)


def add_to_tag(to_value: str, tag: str) -> str:
    """The To header value with a tag, unless it has one already (a header parameter, not a URI's)."""
    try:
        if parse_name_addr(to_value).tag is not None:
            return to_value
    except SipParseError:
        if ";tag=" in to_value.replace(" ", "").lower():
            return to_value
    return f"{to_value};tag={tag}"


def make_response(
    request: SipMessage,
    status: int,
    reason: str | None = None,
    headers: list[Header] | None = None,
    to_tag: str | None = None,
) -> SipMessage:
    """A response carrying the request's Vias, From, To, Call-ID and CSeq, plus `headers`.

    Every response but 100 gets a To tag when the request's To has none.
    """
    copied = [Header(h.name, h.value) for h in request.headers if h.key in _COPIED]
    if status != 100:
        tag = to_tag or new_tag()
        for header in copied:
            if header.key == "to":
                header.value = add_to_tag(header.value, tag)
    response = SipMessage(status=status, reason=reason or reason_phrase(status), headers=copied)
    response.headers.extend(headers or [])
    return response
