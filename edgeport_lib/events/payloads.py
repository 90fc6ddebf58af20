"""Event payloads of wire contract section 7, built from SIP messages. Pure functions, no I/O.

Field names and formats are what Routr's event consumers read: camelCase keys, addresses as
``sip:user@host``, timestamps in UTC ISO-8601 with milliseconds and ``Z``. Credentials never
reach a payload: ``X-Gateway-Auth``, ``Authorization`` and ``Proxy-Authorization`` are left out
of every header map, and addresses are rebuilt from user and host only, so a URI password
(``sip:alice:secret@host``) is dropped too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..sip.address import parse_name_addr
from ..sip.errors import SipParseError
from ..sip.message import SipMessage, valid_utf8
from ..sip.uri import SipUri

CALL_STARTED = "call.started"
CALL_ENDED = "call.ended"
ENDPOINT_REGISTERED = "endpoint.registered"

# Header names (lower case) whose values are credentials: never copied into a payload.
CREDENTIAL_HEADERS = frozenset({"x-gateway-auth", "authorization", "proxy-authorization"})

CANCEL_STATUS = 200  # a forwarded CANCEL ends the call as NORMAL_CLEARING
# RFC 3261 8.1.3.1: a transport failure is handled as if a 503 had been received.
CONNECTION_FAILED_STATUS = 503

_HANGUP_CAUSES: dict[int, str] = {
    200: "NORMAL_CLEARING",
    487: "NORMAL_CLEARING",
    401: "CALL_REJECTED",
    403: "CALL_REJECTED",
    407: "CALL_REJECTED",
    603: "CALL_REJECTED",
    404: "UNALLOCATED",
    485: "UNALLOCATED",
    604: "UNALLOCATED",
    408: "NO_USER_RESPONSE",
    420: "NO_ROUTE_DESTINATION",
    480: "NO_ANSWER",
    483: "NO_ANSWER",
    484: "INVALID_NUMBER_FORMAT",
    486: "USER_BUSY",
    600: "USER_BUSY",
    488: "NOT_ACCEPTABLE_HERE",
    503: "SERVICE_UNAVAILABLE",
}


def hangup_cause(status: int) -> str:
    """The contract's hangupCause for a final status code ("UNKNOWN" when it has none)."""
    return _HANGUP_CAUSES.get(status, "UNKNOWN")


def timestamp(now: datetime | None = None) -> str:
    """``2024-05-01T12:34:56.789Z``: UTC, milliseconds. A naive datetime is taken as UTC."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def address_of(value: str | None) -> str:
    """``sip:user@host`` of a From/To/Contact value; "" when absent or unreadable.

    Parameters, port, display name and any URI password are dropped. URIs of other schemes
    (``tel:+1555``) are given whole, since they have no user and host to take apart.
    """
    if not value:
        return ""
    try:
        uri = parse_name_addr(value).uri
    except SipParseError:
        return ""
    if uri is None:  # Contact: *
        return ""
    if not isinstance(uri, SipUri):
        return str(uri)
    return f"sip:{uri.user}@{uri.host}" if uri.user else f"sip:{uri.host}"


def extra_headers(message: SipMessage) -> dict[str, str]:
    """The ``X-`` headers of a message, name to value; the first one wins for repeated names."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for header in message.headers:
        key = header.key
        if key.startswith("x-") and key not in CREDENTIAL_HEADERS and key not in seen:
            seen.add(key)
            found[header.name] = header.value.strip()
    return found


def without_credentials(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of a header map without credential headers (any spelling)."""
    return {name: value for name, value in headers.items() if name.lower() not in CREDENTIAL_HEADERS}


def call_started(
    request: SipMessage, metadata: Mapping[str, str] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Payload of ``call.started`` for the forwarded INVITE and the processor's metadata.

    Metadata entries come after the contract fields; one named like a contract field (or a
    credential header) is ignored, so a processor cannot overwrite ``callId`` or leak a secret.
    """
    payload: dict[str, Any] = {
        "callId": request.call_id,
        "from": address_of(request.get("From")),
        "to": address_of(request.get("To")),
        "startTime": timestamp(now),
        "extraHeaders": extra_headers(request),
    }
    for key, value in (metadata or {}).items():
        if key not in payload and key.lower() not in CREDENTIAL_HEADERS:
            payload[key] = value
    return payload


def call_ended(
    call_id: str, status: int, extra_headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Payload of ``call.ended``. Pass ``CANCEL_STATUS`` for a forwarded CANCEL and
    ``CONNECTION_FAILED_STATUS`` when the connection of an active call failed."""
    return {
        "callId": call_id,
        "endTime": timestamp(now),
        "hangupCause": hangup_cause(status),
        "extraHeaders": without_credentials(extra_headers or {}),
    }


def call_connection_failed(
    call_id: str, extra_headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Payload of ``call.ended`` for a call whose connection failed (SERVICE_UNAVAILABLE)."""
    return call_ended(call_id, CONNECTION_FAILED_STATUS, extra_headers, now)


def endpoint_registered(request: SipMessage, now: datetime | None = None) -> dict[str, Any]:
    """Payload of ``endpoint.registered`` for a REGISTER the processor answered 200.

    ``expires`` is the Expires header as an integer, else 0 (the contract does not look at a
    Contact ``expires`` parameter).
    """
    return {
        "aor": address_of(request.get("From")),
        "registeredAt": timestamp(now),
        "expires": _expires(request.get("Expires")),
        "extraHeaders": extra_headers(request),
    }


def _expires(value: str | None) -> int:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else 0


def encode(payload: Mapping[str, Any]) -> bytes:
    """The payload as compact UTF-8 JSON (what goes on NATS). Never fails on odd values: bytes
    of a header that were not UTF-8 read as U+FFFD."""
    return _json_text(payload).encode()


def console_line(event: str, payload: Mapping[str, Any]) -> str:
    """One JSON line for the log stream: ``{"event": ..., "payload": {...}}``, ASCII only, with
    U+FFFD for bytes that were not UTF-8, as in `encode`."""
    entry = {"event": event, "payload": payload}
    line = json.dumps(entry, separators=(",", ":"), default=str)
    if "\\udc" in line:  # maybe such a byte (a lone surrogate); rare, so checked the slow way
        line = json.dumps(json.loads(_json_text(entry)), separators=(",", ":"))
    return line


def _json_text(value: Any) -> str:
    return valid_utf8(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str))
