"""Bytes -> SipMessage for one whole message (a UDP datagram or a frame from framer.py).

RFC 3261 sections 7 and 25: start line, headers (folding, compact forms, whitespace before the
colon), Content-Length framing. Every failure is a SipParseError with a reason and, when the
start line and headers could be read, the partial message so a 400 can be built.
"""

from __future__ import annotations

import re

from .errors import SipParseError
from .headers import canonical_name
from .limits import DEFAULT_LIMITS, Limits
from .message import Header, SipMessage

_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
# Fast paths for the common shapes; anything else takes the careful path, which decides.
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9][0-9])(?: (.*))?", re.DOTALL)
_METHODS = frozenset(
    ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
     "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE")
)
# RFC 3261 25.1: no control characters but HTAB (CR is checked apart: only as part of CRLF)
_CONTROL = frozenset(b"\x7f" + bytes(range(0x20))) - frozenset(b"\t\r\n")
# head.translate(None, _PLAIN) keeps just the control characters, CRs and LFs, in order: one C pass
_PLAIN = bytes(b for b in range(256) if b not in _CONTROL and b not in b"\r\n")
_SIP_VERSION = "SIP/2.0"
_SINGLETON_KEYS = (("From", "from"), ("To", "to"), ("Call-ID", "call-id"), ("CSeq", "cseq"))


def parse_message(data: bytes, limits: Limits = DEFAULT_LIMITS) -> SipMessage:
    """Parse one complete SIP message. Raises SipParseError on anything we do not accept."""
    if len(data) > limits.max_message_size:
        raise SipParseError(f"message too large ({len(data)} bytes, limit {limits.max_message_size})")
    if data[:1] in (b"\r", b"\n"):
        data = data.lstrip(b"\r\n")  # RFC 3261 7.5: ignore CRLFs before the start line
    msg, rest = _parse_plain_head(data, limits) or _parse_head_carefully(data, limits)
    keys = [header.key for header in msg.headers]
    _check_mandatory(msg, keys)
    msg.body = _frame_body(msg, keys, rest)
    return msg


def _parse_plain_head(data: bytes, limits: Limits) -> tuple[SipMessage, bytes] | None:
    """(message, body) for a head of the common shape, or None to leave it to the careful path.

    Common: the head ends at a CRLF CRLF, every line ends in CRLF, no control characters, no
    line over the limit, a plain start line, every header line `Name: value` with a name
    already met. Within that shape the result is exactly the careful path's, and no error is
    possible before _check_mandatory.
    """
    end = data.find(b"\r\n\r\n")
    if end == -1 or end > limits.max_line_length:  # then no line is too long either
        return None
    head = data[:end]
    lines = head.decode("utf-8", "surrogateescape").split("\r\n")
    # Nothing but the CR and LF of each CRLF: then this is the first empty line (find_head_end's
    # answer too), and the head has no control characters.
    if len(head.translate(None, _PLAIN)) != 2 * (len(lines) - 1):
        return None
    msg = _plain_start_line(lines[0])
    if msg is None or len(lines) > limits.max_headers + 1:
        return None
    names = _NAMES
    headers = msg.headers
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        canonical = names.get(name)
        if canonical is None or not colon:  # a new name, a folded line, blanks before the colon
            return None
        headers.append(Header(canonical, value.strip()))
    return msg, data[end + 4 :]


def _parse_head_carefully(data: bytes, limits: Limits) -> tuple[SipMessage, bytes]:
    head, rest = _split_head(data)
    text = head.decode("utf-8", "surrogateescape")
    # CRLF line ends (the norm) split directly; bare LFs (tolerated) need the CRs trimmed
    if _only_crlf(head):
        lines = text.split("\r\n")
    else:
        lines = [line.rstrip("\r") for line in text.split("\n")]
    msg = _parse_start_line(lines, limits)
    _parse_headers(msg, lines, limits)
    return msg, rest


def _only_crlf(head: bytes) -> bool:
    """Whether every line ends in CRLF (else some in a bare LF); raises on control characters."""
    specials = head.translate(None, _PLAIN)
    crlf = head.count(b"\r\n")
    if len(specials) == 2 * crlf:  # nothing but the CR and LF of each CRLF
        return True
    bad = specials.translate(None, b"\r\n")
    if bad or specials.count(b"\r") != crlf:
        what = "NUL byte" if bad[:1] == b"\x00" else "control character"
        raise SipParseError(f"{what} in message head")
    return False


def _plain_start_line(line: str) -> SipMessage | None:
    method, _, rest = line.partition(" ")
    uri, _, version = rest.partition(" ")
    # exactly `method uri SIP/2.0`: a token (never "SIP/..."), a non-empty URI with a scheme
    if version == _SIP_VERSION and ":" in uri and (method in _METHODS or _TOKEN.match(method)):
        return SipMessage(method, uri)
    match = _STATUS_LINE.fullmatch(line)
    if match is not None:
        return SipMessage(status=int(match[1]), reason=(match[2] or "").strip(), version=_SIP_VERSION)
    return None


def is_uint(text: str) -> bool:
    """ASCII digits only, at most 18 of them.

    str.isdigit alone also accepts superscripts and other scripts' digits, and int() refuses
    strings of more than 4300 digits.
    """
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def find_head_end(data: bytes | bytearray) -> tuple[int, int] | None:
    """(end of the head, start of the body) at the first empty line, or None when there is none.

    An empty line is a LF followed by LF or CRLF (CRLF CRLF, or a bare-LF variant); the CR
    before that first LF is not part of the head. The stream framer cuts with this too, so
    framer and parser always agree on where a head ends.
    """
    crlf = data.find(b"\n\r\n")
    # a bare-LF empty line may come first (one at crlf - 1 ends at crlf, hence the + 1)
    lf = data.find(b"\n\n", 0, len(data) if crlf == -1 else crlf + 1)
    if lf == -1:
        if crlf == -1:
            return None
        lf = crlf
    body = lf + 2 if data[lf + 1] == 0x0A else lf + 3
    head_end = lf - 1 if lf > 0 and data[lf - 1] == 0x0D else lf
    return head_end, body


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    found = find_head_end(data)
    if found is None:
        return data, b""
    return data[: found[0]], data[found[1] :]


def _parse_start_line(lines: list[str], limits: Limits) -> SipMessage:
    # RFC 3261 7.5: ignore empty lines before the start line.
    while lines and not lines[0].strip("\r"):
        lines.pop(0)
    if not lines:
        raise SipParseError("empty message")
    line = lines.pop(0)
    if len(line) > limits.max_line_length:
        raise SipParseError("start line too long")
    if line[:4].upper() == "SIP/":
        return _parse_status_line(line)
    return _parse_request_line(line)


def _parse_status_line(line: str) -> SipMessage:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not _is_sip_version(version):
        raise SipParseError(f"unsupported SIP version {version[:20]!r} in start line")
    if len(code) != 3 or not is_uint(code) or not 100 <= int(code) <= 699:
        raise SipParseError(f"bad status code {code[:20]!r} in start line")
    return SipMessage(status=int(code), reason=reason.strip(), version=_SIP_VERSION)


def _parse_request_line(line: str) -> SipMessage:
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipParseError("malformed request start line")
    method, uri, version = parts
    if not _TOKEN.match(method):
        raise SipParseError(f"bad method {method[:20]!r} in start line")
    if not _is_sip_version(version):
        raise SipParseError(f"unsupported SIP version {version[:20]!r} in start line")
    if ":" not in uri:
        raise SipParseError("Request-URI has no scheme")
    return SipMessage(method=method, uri=uri, version=_SIP_VERSION)


def _is_sip_version(text: str) -> bool:
    return text.isascii() and text.upper() == _SIP_VERSION


def _parse_headers(msg: SipMessage, lines: list[str], limits: Limits) -> None:
    headers = msg.headers
    for line in lines:
        if len(line) > limits.max_line_length:
            raise SipParseError("header line too long", msg)
        if not line:
            continue
        if line[0] in " \t":
            if not headers:
                raise SipParseError("continuation line before any header", msg)
            last = headers[-1]
            last.value = f"{last.value} {line.strip()}".strip()
            continue
        name, colon, value = line.partition(":")
        canonical = _NAMES.get(name) if colon else None
        if canonical is None:
            name = name.rstrip(" \t")
            if not colon or not _TOKEN.match(name):
                raise SipParseError(f"malformed header line {line[:40]!r}", msg)
            canonical = _remember_name(name)
        headers.append(Header(canonical, value.strip()))
        if len(headers) > limits.max_headers:
            raise SipParseError(f"too many headers (limit {limits.max_headers})", msg)


_NAMES: dict[str, str] = {}  # header names as received (valid tokens) -> canonical spelling


def _remember_name(name: str) -> str:
    canonical = canonical_name(name)
    if len(_NAMES) < 2048:  # names are few in practice; never let hostile input grow it
        _NAMES[name] = canonical
    return canonical


def check_mandatory(msg: SipMessage, *, via: bool = True) -> None:
    """What parse_message checks of the headers every message needs (RFC 3261 8.1.1): one From,
    To, Call-ID (not empty) and CSeq (well-formed, its method the request's), a Via unless `via`
    is False, and a valid Max-Forwards if any. For a message built rather than parsed; raises
    SipParseError."""
    _check_mandatory(msg, [header.key for header in msg.headers], via)


def _check_mandatory(msg: SipMessage, keys: list[str], via: bool = True) -> None:
    headers = msg.headers
    for name, key in _SINGLETON_KEYS:
        count = keys.count(key)
        if count != 1:
            problem = "missing" if count == 0 else "duplicated"
            raise SipParseError(f"{problem} {name} header", msg)
    if via and ("via" not in keys or not _has_via_element(msg, headers[keys.index("via")].value)):
        raise SipParseError("missing Via header", msg)
    if not headers[keys.index("call-id")].value.strip():
        raise SipParseError("empty Call-ID header", msg)
    _check_cseq(msg, headers[keys.index("cseq")].value)
    if "max-forwards" in keys:
        max_forwards = headers[keys.index("max-forwards")].value
        if not is_uint(max_forwards) or int(max_forwards) > 255:
            raise SipParseError("malformed Max-Forwards header", msg)


def _has_via_element(msg: SipMessage, first_via: str) -> bool:
    """At least one Via element (`Via: ,` is a line with none)."""
    return bool(first_via.strip(" \t,")) or bool(msg.values("Via"))


def _check_cseq(msg: SipMessage, value: str) -> None:
    method = _cseq_method(value)
    if method is None:
        raise SipParseError("malformed CSeq header", msg)
    if msg.is_request and method != msg.method:
        raise SipParseError("CSeq method does not match the request method", msg)


def _cseq_method(value: str) -> str | None:
    """The method of a well-formed CSeq value, None when it is malformed."""
    number, _, method = value.partition(" ")
    usual = method in _METHODS and number.isascii() and number.isdigit() and len(number) <= 10
    if not usual:  # other blanks, long numbers, other methods, garbage: the careful path
        parts = value.split(None, 1)
        number, method = (parts + ["", ""])[:2]
        method = method.strip()
        if not is_uint(number) or not method or not _TOKEN.match(method):
            return None
    return method if int(number) < 2**31 else None


def content_length(msg: SipMessage) -> int | None:
    """The declared Content-Length; None when absent. Raises SipParseError when malformed."""
    values = msg.get_all("Content-Length")
    if not values:
        return None
    if len(set(values)) > 1 or not is_uint(values[0]):
        raise SipParseError("malformed Content-Length header", msg)
    return int(values[0])


def _frame_body(msg: SipMessage, keys: list[str], rest: bytes) -> bytes:
    length = None
    if keys.count("content-length") == 1:  # the usual case: one valid value, read once
        value = msg.headers[keys.index("content-length")].value
        if is_uint(value):
            length = int(value)
    if length is None:  # absent, repeated or malformed: content_length decides (and raises)
        length = content_length(msg)
    if length is None:
        return rest
    if length > len(rest):
        raise SipParseError(f"Content-Length {length} exceeds the {len(rest)} body bytes received", msg)
    return rest[:length]
