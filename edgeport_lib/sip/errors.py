"""The one exception type the SIP core raises for bad input."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .message import SipMessage

_REPLY_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")


class SipParseError(ValueError):
    """Input that is not a SIP message we accept.

    `partial` holds what could be read (start line and headers), so the caller can answer a
    request `400 Bad Request` with `reason` when `can_reply` is true.
    """

    def __init__(self, reason: str, partial: SipMessage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial

    @property
    def can_reply(self) -> bool:
        msg = self.partial
        if msg is None or not msg.is_request or msg.method == "ACK":
            return False
        if any(msg.count(name) == 0 for name in _REPLY_HEADERS):
            return False
        if not all(msg.count(name) == 1 for name in ("From", "To", "Call-ID", "CSeq")):
            return False
        number, method = msg.cseq
        return number > 0 or method == msg.method  # a readable CSeq to copy into the 400
