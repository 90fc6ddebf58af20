"""SipMessage -> bytes. Content-Length is always recomputed from the body."""

from __future__ import annotations

from .message import SentResponse, SipMessage


def start_line(msg: SipMessage) -> str:
    if msg.is_request:
        return f"{msg.method} {msg.uri} {msg.version}"
    return f"{msg.version} {msg.status} {msg.reason}"


def serialize(msg: SipMessage | SentResponse) -> bytes:
    if isinstance(msg, SentResponse):
        return msg.data
    lines = [start_line(msg)]
    length_written = False
    for header in msg.headers:
        if header.key == "content-length":
            if length_written:
                continue
            lines.append(f"Content-Length: {len(msg.body)}")
            length_written = True
        else:
            lines.append(f"{header.name}: {header.value}")
    if not length_written:
        lines.append(f"Content-Length: {len(msg.body)}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8", "surrogateescape") + msg.body


def sent_response(response: SipMessage) -> SentResponse:
    """The bytes of `response`, kept to be sent again (see SentResponse)."""
    return SentResponse(response.status or 0, response.call_id, response.cseq[1], serialize(response))
