"""Header names: compact forms, canonical spelling, and which headers hold comma lists."""

from __future__ import annotations

import re

COMPACT_FORMS = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "m": "Contact",
    "i": "Call-ID",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "r": "Refer-To",
    "u": "Allow-Events",
    "x": "Session-Expires",
    "y": "Identity",
    "b": "Referred-By",
}

_KNOWN = [
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length", "Content-Type",
    "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "Identity", "In-Reply-To",
    "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version", "Organization", "P-Asserted-Identity",
    "P-Preferred-Identity", "Path", "Priority", "Privacy", "Proxy-Authenticate",
    "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route", "Refer-To",
    "Referred-By", "Reply-To", "Require", "Retry-After", "Route", "RSeq", "Server",
    "Session-Expires", "Subject", "Subscription-State", "Supported", "Timestamp", "To",
    "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
]
_CANONICAL = {name.lower(): name for name in _KNOWN}
_CANONICAL.update(COMPACT_FORMS)

# Headers whose value is a comma-separated list of elements (RFC 3261 section 7.3.1).
# Unknown headers are split too when their value is a list (see split_list); these
# known ones are single-valued and must never be split, even when they hold commas.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Via", "Route", "Record-Route", "Contact", "Allow", "Supported", "Require",
        "Proxy-Require", "Allow-Events", "Accept", "Accept-Encoding", "Accept-Language",
        "Privacy", "P-Asserted-Identity", "P-Preferred-Identity", "Reason", "Path",
        "Unsupported", "Warning", "Content-Encoding", "Content-Language", "Accept-Contact",
        "Call-Info", "Alert-Info", "Error-Info", "In-Reply-To",
    )
)
SINGLE_VALUE_HEADERS = frozenset(
    name.lower()
    for name in (
        "From", "To", "Call-ID", "CSeq", "Content-Length", "Content-Type", "Max-Forwards",
        "Expires", "Min-Expires", "Date", "User-Agent", "Server", "Subject", "Organization",
        "Authorization", "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate",
        "Authentication-Info", "Timestamp", "Retry-After", "Priority", "MIME-Version",
        "Event", "Subscription-State", "Refer-To", "Referred-By", "Session-Expires", "Min-SE",
        "RSeq", "RAck", "Reply-To", "Content-Disposition", "Identity",
    )
)


_NAMES: dict[str, str] = {}


def canonical_name(name: str) -> str:
    """The canonical spelling of a header name (compact forms expanded); unknown names as given.

    Remembered for the names met (bounded): every header of every message passes here.
    """
    canonical = _NAMES.get(name)
    if canonical is None:
        canonical = _CANONICAL.get(name.lower(), name)
        if len(_NAMES) < 2048:  # never let hostile input grow it without bound
            _NAMES[name] = canonical
    return canonical


_KEYS: dict[str, str] = {}


def canonical_key(name: str) -> str:
    """canonical_name(name).lower(), remembered for the names code asks about."""
    key = _KEYS.get(name)
    if key is None:
        key = canonical_name(name).lower()
        if len(_KEYS) < 1024:  # names come from our code, but never let the cache grow unbounded
            _KEYS[name] = key
    return key


# Without quotes only <> hide commas: an element is a run of other characters and <...> spans
# (an unclosed '<' runs to the end, and a stray '>' is an ordinary character).
_ANGLE_LIST_ELEMENT = re.compile(r"(?:[^,<]+|<[^>]*>?)+")


def split_list(value: str) -> list[str]:
    """Split a header value at top-level commas: not inside quotes, <>, or a quoted pair."""
    if "," not in value:
        return [value.strip()]
    if '"' not in value:
        if "<" not in value:
            return [part for part in (p.strip() for p in value.split(",")) if part]
        return [part for part in (p.strip() for p in _ANGLE_LIST_ELEMENT.findall(value)) if part]
    parts: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if in_quotes:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            parts.append(value[start:i].strip())
            start = i + 1
        i += 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def is_list_header(name: str, value: str) -> bool:
    """Whether a header instance holds a comma list whose elements stand alone."""
    key = name.lower()
    if key in LIST_HEADERS:
        return True
    if key in SINGLE_VALUE_HEADERS:
        return False
    return len(split_list(value)) > 1
