"""Logging set-up: Routr's ``LOGS_LEVEL`` names, one line per event (text or JSON), secrets redacted.

``setup_logging(level_name=None, fmt=None, stream=None)`` replaces the root logger's handlers
with one stream handler (stderr by default). ``level_name`` defaults to ``$LOGS_LEVEL`` (else
"info"), ``fmt`` to ``$LOGS_FORMAT`` (else "text"). Levels, as Routr's services name them:

    error, warn, info    ERROR, WARNING, INFO everywhere
    verbose              VERBOSE (15) for the EdgePort's loggers, INFO for libraries
    debug                DEBUG for the EdgePort's loggers, INFO for libraries (grpc, gevent, ...)
    silly                DEBUG everywhere

An unknown level or format falls back to info / text with a warning (a typo must not stop SIP).

Text lines: ``2025-01-02T03:04:05.678Z INFO edgeport_lib.edge: message key=value ...``; JSON
lines: ``{"ts": ..., "level": "info", "logger": ..., "msg": ..., <extra fields>, "exc": ...}``.
Newlines inside a message or a traceback are escaped, so every event stays on one line.

``RedactingFilter`` (installed on that handler) replaces secrets in each record's message, its
string extras and its traceback by ``[REDACTED]``: the values of ``X-Gateway-Auth``,
``Authorization`` and ``Proxy-Authorization`` headers (as SIP text, in dict or JSON form, or as
``name=..., value=...`` pairs from reprs and protobuf text) and ``user:password@`` in URLs.
``redact(text)`` is the same substitution for other uses.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

VERBOSE = 15
logging.addLevelName(VERBOSE, "VERBOSE")
LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "verbose": VERBOSE,
    "debug": logging.DEBUG,
    "silly": logging.DEBUG,
}
FORMATS = ("text", "json")
OWN_LOGGERS = ("edgeport", "edgeport_lib")
REDACTED = "[REDACTED]"
_LEVEL_NAMES = {logging.CRITICAL: "critical", logging.ERROR: "error", logging.WARNING: "warn",
                logging.INFO: "info", VERBOSE: "verbose", logging.DEBUG: "debug"}

# -- redaction ---------------------------------------------------------------------------------
_SECRET = r"(?:x-gateway-auth|proxy-authorization|authorization)"
_START = r"(?:(?<=\\[rnt])|(?<![\w-]))"  # a word start, also right after an escaped \r \n \t
_QUOTED_VALUE = r"""(["'])(?:\\.|(?!\3).)*\3"""
# name="Authorization", value="..." (reprs), "name": "X-Gateway-Auth", "value": "..." (JSON),
# name: "X-Gateway-Auth"\n value: "..." (protobuf text format)
_PAIR = re.compile(
    rf"""({_START}name["']?\s*[:=]\s*(["']){_SECRET}\2[\s,;"']*value["']?\s*[:=]\s*){_QUOTED_VALUE}""",
    re.IGNORECASE | re.DOTALL,
)
# Authorization: Digest ... (SIP text, to the end of the line or of an escaped \r / \n),
# 'Authorization': '...' (dict repr), "X-Gateway-Auth": "..." (JSON), Authorization=...
_HEADER = re.compile(
    rf"""({_START}{_SECRET}(["']?)\s*[:=][ \t]*)(?:{_QUOTED_VALUE}|(?:(?!\\[rn])[^\r\n])*)""",
    re.IGNORECASE,
)
# scheme://user:password@ and sip:user:password@ / sips:
_USERINFO = re.compile(
    r"""\b((?:[a-z][a-z0-9+.\-]*://)|(?:sips?:))[^\s:@/<>"'\[\]]+:[^\s@/<>"';]*@""", re.IGNORECASE
)
_HINT = re.compile(r"auth|@", re.IGNORECASE)  # cheap test before the real substitutions


def redact(text: str) -> str:
    """``text`` with secret header values and URL passwords replaced by ``[REDACTED]``."""
    if not _HINT.search(text):
        return text
    text = _PAIR.sub(lambda m: f"{m.group(1)}{m.group(3)}{REDACTED}{m.group(3)}", text)
    text = _HEADER.sub(_header_sub, text)
    return _USERINFO.sub(rf"\1{REDACTED}@", text)


def _header_sub(match: re.Match[str]) -> str:
    quote = match.group(3) or ""
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


_SECRET_NAME = re.compile(rf"{_SECRET}$", re.IGNORECASE)
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName"}


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: REDACTED if isinstance(k, str) and _SECRET_NAME.match(k) else _redact_value(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    return redact(str(value))


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller added with ``extra=``."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_FIELDS}


class RedactingFilter(logging.Filter):
    """Rewrites each record with secrets redacted (message, extras, traceback); never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep what there is rather than lose the event
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact(message), None
        for key, value in extra_fields(record).items():
            setattr(record, key, _redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# -- formatting ------------------------------------------------------------------------------------
def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def level_label(levelno: int) -> str:
    return _LEVEL_NAMES.get(levelno) or logging.getLevelName(levelno).lower()


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _exception_text(record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    parts = [p for p in (record.exc_text, record.stack_info) if p]
    return "\n".join(parts) if parts else None


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        for key, value in extra_fields(record).items():
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            if not text or any(c in text for c in ' ="'):
                text = json.dumps(text)
            line += f" {key}={text}"
        exc = _exception_text(record)
        if exc:
            line += f" | {exc}"
        return _one_line(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": level_label(record.levelno),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            entry.setdefault(key, value)
        exc = _exception_text(record)
        if exc:
            entry["exc"] = exc
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(
    level_name: str | None = None, fmt: str | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Install one redacting handler on the root logger; see the module docstring. Returns it."""
    level_name = level_name or os.environ.get("LOGS_LEVEL") or "info"
    fmt = fmt or os.environ.get("LOGS_FORMAT") or "text"
    key, fmt_key = level_name.strip().lower(), fmt.strip().lower()
    level = LEVELS.get(key, logging.INFO)

    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt_key == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if key == "silly" or level >= logging.INFO else logging.INFO)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)

    warn = logging.getLogger(__name__).warning
    if key not in LEVELS:
        warn("unknown LOGS_LEVEL %r, using info (one of: %s)", level_name, ", ".join(LEVELS))
    if fmt_key not in FORMATS:
        warn("unknown log format %r, using text (one of: %s)", fmt, ", ".join(FORMATS))
    return handler
