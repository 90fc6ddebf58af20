"""The in-memory SIP message: a start line, headers in wire order, and a body of bytes.

Header values are kept as text exactly as received (folding removed), so serialising an
unchanged message gives back equivalent bytes. Bytes that are not UTF-8 are kept as lone
surrogates (the parser decodes with ``surrogateescape``) and go out as they came in; where
text must be valid UTF-8 (protobuf strings, JSON events) ``valid_utf8`` gives U+FFFD for them.
Structured views (URIs, Vias, addresses) are parsed on demand by the modules that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from .headers import canonical_key, canonical_name, is_list_header, split_list


def valid_utf8(text: str) -> str:
    """`text` with the bytes that were not UTF-8 (surrogates, see above) read as U+FFFD."""
    if text.isascii():  # the common case, answered without looking at the characters
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def message_fingerprint(msg: SipMessage) -> int:
    """Equal for a message and its retransmissions: start line, headers and body."""
    headers = tuple((h.key, h.value) for h in msg.headers)
    return hash((msg.method, msg.uri, msg.status, msg.reason, headers, msg.body))


class Header:
    """One header field: its canonical name (compact forms expanded), its value text, and
    `key`, the lower-case name every lookup compares (computed once: lookups are hot)."""

    __slots__ = ("name", "value", "key")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value
        self.key = name.lower()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Header) and self.name == other.name and self.value == other.value

    def __repr__(self) -> str:
        return f"Header(name={self.name!r}, value={self.value!r})"


@dataclass(slots=True)
class SipMessage:
    """A SIP request (method and uri set) or response (status set)."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    version: str = "SIP/2.0"
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    # -- header access --------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        """The first header of that name (any case, compact forms accepted), or None."""
        return self._first_value(canonical_key(name))

    def _first_value(self, key: str) -> str | None:
        for header in self.headers:
            if header.key == key:
                return header.value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every header line of that name, in order, as raw values."""
        key = canonical_key(name)
        return [h.value for h in self.headers if h.key == key]

    def values(self, name: str) -> list[str]:
        """Every element of that header: lines in order, comma lists split for list headers."""
        out: list[str] = []
        for value in self.get_all(name):
            if is_list_header(name, value):
                out.extend(split_list(value))
            else:
                out.append(value)
        return out

    def count(self, name: str) -> int:
        key = canonical_key(name)
        return sum(1 for h in self.headers if h.key == key)

    def set(self, name: str, value: str) -> None:
        """Replace every header of that name by one, at the first one's place (or at the end)."""
        name = canonical_name(name)
        key = name.lower()
        for i, header in enumerate(self.headers):
            if header.key == key:
                self.headers[i] = Header(name, value)
                self.headers[i + 1 :] = [h for h in self.headers[i + 1 :] if h.key != key]
                return
        self.headers.append(Header(name, value))

    def add(self, name: str, value: str, first: bool = False) -> None:
        header = Header(canonical_name(name), value)
        if first:
            self.headers.insert(0, header)
        else:
            self.headers.append(header)

    def remove(self, name: str) -> None:
        key = canonical_key(name)
        self.headers = [h for h in self.headers if h.key != key]

    # -- common fields ---------------------------------------------------------------------
    # call_id and cseq are read several times per message: their keys are looked up as they are
    @property
    def call_id(self) -> str:
        return self._first_value("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method) of the CSeq header; (0, "") when absent or unreadable."""
        parts = (self._first_value("cseq") or "").split(None, 1)
        if len(parts) != 2 or not (parts[0].isascii() and parts[0].isdigit()):
            return 0, ""
        digits = parts[0]
        # int() refuses more than 4300 digits; a number this long is past every limit anyway
        number = int(digits) if len(digits) <= 18 else 10**18
        return number, parts[1].strip().upper()

    @property
    def top_via(self) -> str | None:
        return self.first_element("via")

    def first_element(self, key: str) -> str | None:
        """The first element of a list header (Via, Route...; `key` lower case), or None:
        values(name)[0], without splitting every line."""
        for header in self.headers:
            if header.key == key:
                value = header.value
                if "," not in value:
                    return value.strip()
                elements = split_list(value)
                if elements:  # `Via: ,` holds none: the first element is on a later line
                    return elements[0]
        return None


class SentResponse(NamedTuple):
    """A response kept only to be sent again: its bytes, and the little that logs and metrics
    read. A finished non-INVITE server transaction answers retransmissions with it for up to
    32 s; as bytes it costs a sixth of the parsed message, and the collector never visits it."""

    status: int
    call_id: str
    cseq_method: str
    data: bytes

    method = None  # a response, as SipMessage.method says

    @property
    def is_request(self) -> bool:
        return False
