"""CONSOLE_PUBLISHER_ENABLED: one JSON line per event on the log stream, at info level."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .payloads import console_line

log = logging.getLogger("edgeport.events")


class ConsolePublisher:
    """Writes each event as ``{"event": "call.started", "payload": {...}}`` to ``edgeport.events``."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self._log = logger
        self.published = 0

    def publish(self, event: str, payload: Mapping[str, Any]) -> None:
        self._log.info("%s", console_line(event, payload))
        self.published += 1
