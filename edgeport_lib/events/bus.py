"""EventBus: what the edge core calls to publish events, whatever publishers are enabled."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .console import ConsolePublisher
from .nats_publisher import DEFAULT_BUFFER_SIZE, DEFAULT_SUBJECT, NatsPublisher
from .payloads import encode

log = logging.getLogger("edgeport.events")


class EventBus:
    """Fans events out to the console and NATS publishers chosen by configuration.

    ``publish`` never blocks and never raises: a failure costs the event, not the SIP
    transaction that produced it. Extra keyword arguments tune the NATS publisher
    (``reconnect_delay``, ``flush_timeout``, ``connect_timeout``, ``batch_size``).
    """

    def __init__(
        self,
        console: bool = False,
        nats_url: str | None = None,
        subject: str = DEFAULT_SUBJECT,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        **nats_options: Any,
    ) -> None:
        self._console = ConsolePublisher() if console else None
        self._nats = NatsPublisher(nats_url, subject, buffer_size, **nats_options) if nats_url else None
        self._failures = 0

    @classmethod
    def from_config(cls, config: Any) -> EventBus:
        """Built from a Config (``console_publisher``, ``nats_enabled``, ``nats_url``,
        ``nats_subject``, ``limits.max_queued_events``)."""
        return cls(
            console=config.console_publisher,
            nats_url=config.nats_url if config.nats_enabled else None,
            subject=config.nats_subject,
            buffer_size=config.limits.max_queued_events,
        )

    @property
    def enabled(self) -> bool:
        return self._console is not None or self._nats is not None

    def start(self) -> None:
        """Start the NATS thread, if NATS is enabled. Call from the gevent hub's thread."""
        if self._nats is not None:
            self._nats.start()

    def publish(self, event: str, payload: Mapping[str, Any]) -> None:
        """Hand one event to every enabled publisher; returns at once."""
        if self._console is None and self._nats is None:
            return
        try:
            if self._console is not None:
                self._console.publish(event, payload)
            if self._nats is not None:
                self._nats.publish(event, encode(payload))
        except Exception:
            self._failures += 1
            if self._failures == 1:  # a bug, not an outage: say it once, with the traceback
                log.exception("cannot publish event %s", event)

    def close(self, timeout: float = 5.0) -> None:
        """Flush buffered events within ``timeout`` seconds (cooperatively), then stop."""
        if self._nats is not None:
            self._nats.close(timeout)

    def stats(self) -> dict[str, Any]:
        """``published`` (confirmed by NATS, or written to the console when NATS is off),
        ``dropped``, ``buffered``, ``connected`` (None when NATS is off) and ``connect_attempts``."""
        if self._nats is None:
            published = self._console.published if self._console is not None else 0
            return {
                "published": published,
                "dropped": self._failures,
                "buffered": 0,
                "connected": None,
                "connect_attempts": 0,
            }
        return {
            "published": self._nats.published,
            "dropped": self._nats.dropped + self._failures,
            "buffered": self._nats.buffered,
            "connected": self._nats.connected,
            "connect_attempts": self._nats.connect_attempts,
        }
