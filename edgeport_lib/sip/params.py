"""`;name=value` parameter lists, as used by URIs, Vias and name-addr headers."""

from __future__ import annotations

Params = dict[str, str | None]


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split text at sep, ignoring separators inside double-quoted strings."""
    if '"' not in text:
        return text.split(sep)
    parts: list[str] = []
    start = 0
    in_quotes = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and in_quotes:
            i += 2
            continue
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == sep and not in_quotes:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def parse_params(text: str) -> Params:
    """Parse `a=1;b;c="x;y"` (no leading `;`) into an ordered dict; names lower-cased."""
    params: Params = {}
    if not text.strip():
        return params
    for item in split_outside_quotes(text, ";"):
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        if not name:
            continue
        params[name] = value.strip() if eq else None
    return params


def format_params(params: Params) -> str:
    """The inverse of parse_params, with a leading `;` when non-empty."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())
