"""The bounded pool every received SIP message runs in (``spec.limits.maxInFlight``).

gevent's ``Pool`` gives each message a full ``Greenlet``: links, a group set to join on, the
spawning stack. A message needs none of that: it is started, runs, and is forgotten. This pool
starts raw greenlets (``gevent.spawn_raw``) and only counts them with a semaphore, which costs
~4 us a message instead of ~27 (bench/RESULTS.md, fourth session).

It keeps the part of ``Pool``'s interface the servers use: ``spawn`` waits for a free slot,
``full`` and ``free_count`` tell whether one is free, and ``_semaphore`` is what gevent's
``DatagramServer`` links to when it pauses reading on a full pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gevent import spawn_raw
from gevent.lock import Semaphore

log = logging.getLogger(__name__)


class MessagePool:
    """At most ``size`` message handlers at a time, each in a greenlet of its own."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphore = Semaphore(size)  # the name gevent's servers look for

    def __len__(self) -> int:
        return self.size - self._semaphore.counter

    def full(self) -> bool:
        return self._semaphore.counter <= 0

    def free_count(self) -> int:
        return max(self._semaphore.counter, 0)

    def spawn(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` in a new greenlet, first waiting (cooperatively) for a free slot."""
        self._semaphore.acquire()
        spawn_raw(self._run, func, args)

    def try_spawn(self, func: Callable[..., Any], timeout: float) -> bool:
        """Like ``spawn``, but give up (False) when no slot frees within ``timeout`` seconds."""
        if not self._semaphore.acquire(timeout=timeout):
            return False
        spawn_raw(self._run, func, ())
        return True

    def _run(self, func: Callable[..., Any], args: tuple) -> None:
        try:
            func(*args)
        except Exception:  # the handlers catch their own; this is the last line
            log.exception("message handler failed")
        finally:
            self._semaphore.release()
