"""Digest authentication header values (RFC 7616 / 2617): `Digest k="v", k2=v2`."""

from __future__ import annotations

import re

from .headers import split_list

_QUOTED_PAIR = re.compile(r"\\(.)")


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    """Split `Digest realm="x", nonce="y"` into ("Digest", {"realm": "x", "nonce": "y"})."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for item in split_list(rest):
        name, eq, val = item.partition("=")
        if not eq:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = _QUOTED_PAIR.sub(r"\1", val[1:-1])
        params[name.strip().lower()] = val
    return scheme, params


def format_challenge(scheme: str, params: list[tuple[str, str, bool]]) -> str:
    """The inverse of parse_challenge: (name, value, quoted) in the order given."""
    items = []
    for name, val, quoted in params:
        escaped = val.replace("\\", "\\\\").replace('"', '\\"')
        items.append(f'{name}="{escaped}"' if quoted else f"{name}={val}")
    return f"{scheme or 'Digest'} " + ", ".join(items)
