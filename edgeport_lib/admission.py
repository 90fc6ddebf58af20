"""Refusing new work while the processor answers slowly (``spec.limits.maxProcessorDelay``).

A full greenlet pool (``maxInFlight``) refuses new requests only once that many messages are in
progress. At a few hundred messages a second that is already a second or more of queued work,
and every call's signalling waits that long at every step. This gate looks at the delay itself:
when each of the processor's last ``SLOW_ANSWERS`` answers took longer than the limit, a queue
has built up (one slow answer is not enough: a processor may have looked something up). New
requests then get 503 + Retry-After, so callers can try another EdgePort, while the calls in
progress go on at the pace they had. The gate opens again at the first quick answer, or when no
answer came for ``HOLD`` seconds: with nothing left to measure, the next request measures anew.

Sans I/O: the caller passes the clock (``time.perf_counter()`` seconds).
"""

from __future__ import annotations

SLOW_ANSWERS = 8
HOLD = 1.0


class ProcessorDelayGate:
    """Says whether new requests should be refused; ``max_delay`` 0 turns it off."""

    def __init__(self, max_delay: float) -> None:
        self.max_delay = max_delay
        self.last_delay = 0.0  # of the last answer recorded, for the log
        self._slow_in_a_row = 0
        self._last_answer = float("-inf")

    def record(self, delay: float, now: float) -> None:
        """A processor call ended after ``delay`` seconds (answered or failed)."""
        if not self.max_delay:
            return
        self._slow_in_a_row = self._slow_in_a_row + 1 if delay > self.max_delay else 0
        self._last_answer = now
        self.last_delay = delay

    def refusing(self, now: float) -> bool:
        return self._slow_in_a_row >= SLOW_ANSWERS and now - self._last_answer < HOLD
