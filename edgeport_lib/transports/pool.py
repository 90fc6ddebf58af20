"""The bounded pool every received SIP message runs in (``spec.limits.maxInFlight``).

gevent's ``Pool`` starts a new ``Greenlet`` per message: links, a group set to join on, and,
the dearest part, a new greenlet, whose first Python frame makes CPython 3.11 map a fresh frame
stack (~14 us here to start a greenlet and let it die, against ~1 us to switch to a live one).
A message needs none of that. This pool keeps the greenlets that finished a message, up to
``KEEP_IDLE`` of them, and hands the next message to one of those; a semaphore counts the
messages in progress.

It keeps the part of ``Pool``'s interface the servers use: ``spawn`` waits for a free slot,
``full`` and ``free_count`` tell whether one is free, ``_semaphore`` is what gevent's
``DatagramServer`` links to when it pauses reading on a full pool, and ``join`` and ``kill``
are what its ``stop()`` calls while a message is still in progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from gevent import get_hub, getcurrent, kill, spawn_raw
from gevent.lock import Semaphore
from greenlet import GreenletExit, greenlet

log = logging.getLogger(__name__)
KEEP_IDLE = 64  # idle greenlets kept for the next messages; more would only hold memory
_JOB = object()  # marks a switch into an idle worker as a new message (anything else is ignored)


class MessagePool:
    """At most ``size`` message handlers at a time, each in a greenlet of its own."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphore = Semaphore(size)  # the name gevent's servers look for
        self._idle: list[greenlet] = []  # last in, first out: the warmest greenlet works next

    def __len__(self) -> int:
        return self.size - self._semaphore.counter

    @property
    def idle_count(self) -> int:
        """Greenlets waiting for a message (alive, but doing nothing)."""
        return len(self._idle)

    def full(self) -> bool:
        return self._semaphore.counter <= 0

    def free_count(self) -> int:
        return max(self._semaphore.counter, 0)

    def spawn(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` in a greenlet of its own, first waiting (cooperatively) for a slot."""
        self._semaphore.acquire()
        self._start(func, args)

    def spawn_message(self, handler: Callable[[Any, Any], None], data: bytes, flow: Any,
                      overflow: Callable[[bytes, Any], Any] | None = None) -> None:
        """A stream's message: like ``spawn``, but when every slot is taken ``overflow`` sees it
        first. It answers it at once (e.g. a new request with 503) and returns None, or returns
        what ``handler`` gets instead of `data` (the message it parsed: not parsed twice)."""
        if overflow is not None and self.full():
            data = overflow(data, flow)
            if data is None:
                return
        self.spawn(handler, data, flow)

    def try_spawn(self, func: Callable[..., Any], timeout: float) -> bool:
        """Like ``spawn``, but give up (False) when no slot frees within ``timeout`` seconds."""
        if not self._semaphore.acquire(timeout=timeout):
            return False
        self._start(func, ())
        return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no message is in progress (False when ``timeout`` seconds pass first).

        Takes every slot, so nothing new starts meanwhile, and gives them back before returning.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        taken = 0
        try:
            while taken < self.size:
                remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                if not self._semaphore.acquire(timeout=remaining):
                    return False
                taken += 1
            return True
        finally:
            for _ in range(taken):
                self._semaphore.release()

    def kill(self, block: bool = True, timeout: float | None = None) -> None:
        """End the idle greenlets. A handler still running is left to finish: the servers stop
        their pool only on EdgePort's way out. (``block`` and ``timeout`` are gevent's ``Pool``
        signature; raw greenlets end at their next switch, so there is nothing to wait for.)"""
        idle, self._idle = self._idle, []
        for worker in idle:
            kill(worker)

    def _start(self, func: Callable[..., Any], args: tuple) -> None:
        while self._idle:
            worker = self._idle.pop()
            if not worker.dead:
                get_hub().loop.run_callback(worker.switch, _JOB, func, args)
                return
        spawn_raw(self._work, func, args)

    def _work(self, func: Callable[..., Any], args: tuple) -> None:
        hub = get_hub()
        while True:
            try:
                func(*args)
            except Exception:  # the handlers catch their own; this is the last line
                log.exception("message handler failed")
            finally:
                self._semaphore.release()
            func = args = None  # type: ignore[assignment]  # nothing of the last message kept
            if len(self._idle) >= KEEP_IDLE:
                return
            self._idle.append(getcurrent())
            func, args = self._next_job(hub)

    def _next_job(self, hub: Any) -> tuple[Callable[..., Any], tuple]:
        """Wait, idle, for the next message; a stray wake-up or exception is logged, not obeyed."""
        while True:
            try:
                switched = hub.switch()
            except GreenletExit:
                if getcurrent() in self._idle:
                    self._idle.remove(getcurrent())
                raise
            except BaseException as error:  # e.g. a Timeout a finished handler left running
                log.warning("idle message greenlet interrupted: %r", error)
                continue
            if type(switched) is tuple and len(switched) == 3 and switched[0] is _JOB:
                return switched[1], switched[2]
            log.warning("idle message greenlet woken without a message: %r", switched)
