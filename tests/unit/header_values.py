"""Header values of the corpus's messages, for the conversion tests that check them one by one."""

from __future__ import annotations

from edgeport_lib.sip.errors import SipParseError
from edgeport_lib.sip.headers import split_list
from edgeport_lib.sip.parser import parse_message

_LISTS = ("via", "route", "record-route")  # split into their elements


def header_values(data: bytes, keys: tuple[str, ...] | dict) -> list[tuple[str, str]]:
    """(key, value) of every header of `data` named in `keys`, list headers element by element;
    none when `data` does not parse."""
    try:
        msg = parse_message(data)
    except SipParseError:
        return []
    found = []
    for header in msg.headers:
        if header.key in keys:
            elements = split_list(header.value) if header.key in _LISTS else [header.value]
            found += [(header.key, element) for element in elements]
    return found
