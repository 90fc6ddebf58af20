"""Call and registration events (wire contract section 7): payloads and publishers.

``payloads`` is sans-I/O; ``EventBus`` sends them to the log stream and/or NATS.
"""

from .bus import EventBus
from .nats_publisher import DEFAULT_BUFFER_SIZE, DEFAULT_SUBJECT, parse_servers, redact
from .payloads import (
    CALL_ENDED,
    CALL_STARTED,
    CANCEL_STATUS,
    CONNECTION_FAILED_STATUS,
    ENDPOINT_REGISTERED,
    call_connection_failed,
    call_ended,
    call_started,
    endpoint_registered,
    extra_headers,
    hangup_cause,
    timestamp,
)

__all__ = [
    "CALL_ENDED",
    "CALL_STARTED",
    "CANCEL_STATUS",
    "CONNECTION_FAILED_STATUS",
    "DEFAULT_BUFFER_SIZE",
    "DEFAULT_SUBJECT",
    "ENDPOINT_REGISTERED",
    "EventBus",
    "call_connection_failed",
    "call_ended",
    "call_started",
    "endpoint_registered",
    "extra_headers",
    "hangup_cause",
    "parse_servers",
    "redact",
    "timestamp",
]
