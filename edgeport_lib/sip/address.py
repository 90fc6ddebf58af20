"""name-addr / addr-spec values: From, To, Contact, Route, Record-Route (RFC 3261 section 20)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import SipParseError
from .params import Params, format_params, parse_params
from .uri import Uri, parse_uri

# The common name-addr shape in one match: [display name] <uri> [;params], the display name a
# quoted string or free of quotes and '<'; anything else is left to the careful path.
_PLAIN_NAME_ADDR = re.compile(r'("(?:[^"\\]|\\.)*"|[^"<]*)[ \t]*<([^>]*)>(?:[ \t]*;(.*))?', re.DOTALL)
WILDCARD = "*"  # Contact: *


@dataclass(slots=True)
class NameAddr:
    uri: Uri | None = None
    display_name: str = ""  # as written, quotes included
    params: Params = field(default_factory=dict)  # header parameters (tag, expires, q, ...)
    wildcard: bool = False  # Contact: *

    @property
    def display_text(self) -> str:
        """The display name without quotes and escapes."""
        name = self.display_name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return name

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        if self.wildcard:
            return WILDCARD
        display = f"{self.display_name} " if self.display_name else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


def parse_name_addr(text: str) -> NameAddr:
    """Parse `"Alice" <sip:a@x>;tag=1`, `<sip:a@x>`, `sip:a@x;tag=1` or `*`."""
    if text.strip() == WILDCARD:
        return NameAddr(wildcard=True)
    display_name, uri, params = split_name_addr(text)
    return NameAddr(parse_uri(uri), display_name, parse_params(params))


def split_name_addr(text: str) -> tuple[str, str, str]:
    """The display name (as written), the URI and the header parameters (no leading `;`) of a
    name-addr or addr-spec value, unparsed (`*` gives a URI of `*`)."""
    text = text.strip()
    match = _PLAIN_NAME_ADDR.fullmatch(text)
    if match is not None:
        display_name, uri, params = match.groups()
        return display_name.strip(), uri, params or ""
    start = _display_name_end(text)
    lt = text.find("<", start)
    if lt == -1:
        # addr-spec: everything after the first ';' is a header parameter (RFC 3261 20.10)
        uri, _, params = text.partition(";")
        return "", uri, params
    gt = text.find(">", lt)
    if gt == -1:
        raise SipParseError(f"unclosed '<' in {text[:60]!r}")
    after = text[gt + 1 :].strip()
    if after and not after.startswith(";"):
        raise SipParseError(f"garbage after '>' in {text[:60]!r}")
    return text[:lt].strip(), text[lt + 1 : gt], after[1:]


def _display_name_end(text: str) -> int:
    """Index just past a leading quoted display name (0 when there is none)."""
    if not text.startswith('"'):
        return 0
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    raise SipParseError(f"unclosed quote in {text[:60]!r}")
