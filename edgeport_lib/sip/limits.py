"""Bounds on what one SIP message may cost us to read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_size: int = 65536
    max_headers: int = 200
    max_line_length: int = 16384


DEFAULT_LIMITS = Limits()
