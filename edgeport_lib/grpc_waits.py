"""Native threads for gRPC's blocking waits, in place of gevent's hub threadpool.

Under ``grpc.experimental.gevent.init_gevent()`` a blocking gRPC call (EdgePort's
``ProcessMessage``) waits for its completion queue in a native thread: gRPC hands the wait to
``threadpool.apply()`` and the greenlet sleeps until it returns. gRPC takes the hub's threadpool
for that, which costs EdgePort twice:

* it holds at most 10 threads, and a thread stays with one call until that call ends. When 10
  calls wait on a processor that hangs, the answers of every other call, quick ones included,
  wait behind them until a slow one reaches its deadline (5 s by default);
* each wait builds a result object with an async watcher of its own and goes through gevent's
  pure-Python queue and condition: about 55 us of CPU per processor call.

``CompletionWaits`` starts a thread whenever every thread is taken, up to ``max_threads``. Every
``idle_seconds`` it lets go of the threads that the busiest moment of that period did not need,
so a thread ends at most two periods after it was last needed. (A thread that ended after a
period without work of its own would never end under a steady load: the threads take turns at
the queue, so a burst's threads all stay busy enough. Their stacks then held ~23 kB of RSS
each for good.) Waits reach the threads through a C ``SimpleQueue``; results come back through
one deque and one async watcher shared by all the threads, so a burst of answers wakes the hub
once. Counters live in the hub's thread only.
"""

from __future__ import annotations

import _queue
import collections
import os
from collections.abc import Callable
from typing import Any

from gevent import get_hub, monkey
from gevent._waiter import Waiter

_start_native_thread = monkey.get_original("_thread", "start_new_thread")
_THREAD_ENDED = object()
_RETIRE = object()  # a task that ends the thread taking it


class CompletionWaits:
    """``apply(func, args)`` runs ``func`` in a native thread; the calling greenlet waits."""

    def __init__(self, max_threads: int = 1024, idle_seconds: float = 60.0) -> None:
        self.max_threads = max_threads
        self.idle_seconds = idle_seconds
        self._hub = None  # set at the first wait, in the process that makes it
        os.register_at_fork(after_in_child=self._forget_threads)

    @property
    def threads(self) -> int:
        """Native threads started and not yet ended."""
        return self._threads if self._hub is not None else 0

    def apply(self, func: Callable[..., Any], args: tuple = (), kwds: dict | None = None) -> Any:
        hub = get_hub()
        if hub is not self._hub:
            if self._hub is not None:  # a greenlet of another native thread: wait right here
                return _call(func, args, kwds)
            self._start(hub)
        waiter = Waiter(hub)
        self._waiting += 1
        if self._waiting > self._peak:
            self._peak = self._waiting
        if self._waiting == 1:
            self._watcher.ref = True  # the loop must not end while a wait is out
        self._start_thread_if_all_taken()
        self._tasks.put((waiter, func, args, kwds))
        return waiter.get()

    def _start(self, hub) -> None:
        self._hub = hub
        self._tasks = _queue.SimpleQueue()
        self._results: collections.deque = collections.deque()
        self._watcher = hub.loop.async_()
        self._watcher.start(self._deliver)
        self._watcher.ref = False
        self._waiting = 0  # handed to a thread, result not delivered yet
        self._peak = 0  # the most waits out at once since the last trim
        self._threads = 0
        self._retiring = 0  # told to end, not ended yet
        self._trim_timer = hub.loop.timer(self.idle_seconds, self.idle_seconds)
        self._trim_timer.start(self._trim)
        self._trim_timer.ref = False

    def _forget_threads(self) -> None:
        self._hub = None  # the threads did not follow the fork: start afresh at the next wait

    def _start_thread_if_all_taken(self) -> None:
        """One more thread when there are more waits out than threads, within the bound."""
        if self._waiting > self._threads - self._retiring and self._threads < self.max_threads:
            self._threads += 1
            _start_native_thread(self._work, (self._tasks, self._results, self._watcher))

    def _trim(self) -> None:
        """Every ``idle_seconds``, in the hub: one retire task for each thread the period's peak
        did not need. Idle threads take them at once, so the waits queued after them do not wait."""
        surplus = max(self._threads - self._retiring - self._peak, 0)
        for _ in range(surplus):
            self._tasks.put(_RETIRE)
        self._retiring += surplus
        self._peak = self._waiting

    @staticmethod
    def _work(tasks: _queue.SimpleQueue, results: collections.deque, watcher) -> None:
        while True:
            task = tasks.get()
            if task is _RETIRE:
                results.append((None, _THREAD_ENDED, None))
                watcher.send()
                return
            waiter, func, args, kwds = task
            try:
                results.append((waiter, True, _call(func, args, kwds)))
            except BaseException as error:  # handed to the waiting greenlet, raised there
                results.append((waiter, False, error))
            watcher.send()

    def _deliver(self) -> None:
        """In the hub, once per wake-up: every result that arrived goes to its greenlet."""
        results = self._results
        while results:
            waiter, outcome, value = results.popleft()
            if outcome is _THREAD_ENDED:
                self._threads -= 1
                self._retiring -= 1  # the threads that can take a wait are as many as before
                continue
            self._waiting -= 1
            if self._waiting == 0:
                self._watcher.ref = False
            if outcome:
                waiter.switch(value)
            else:
                waiter.throw(value)


def _call(func: Callable[..., Any], args: tuple, kwds: dict | None) -> Any:
    return func(*args, **kwds) if kwds else func(*args)  # gRPC passes no keywords


def install(waits: CompletionWaits | None = None) -> CompletionWaits:
    """Make gRPC's gevent mode wait through ``waits``; call right after ``init_gevent()``."""
    from grpc._cython import cygrpc

    if getattr(cygrpc, "g_gevent_threadpool", None) is None:
        raise RuntimeError("grpc has no g_gevent_threadpool: call init_gevent() first, or grpc changed")
    waits = waits or CompletionWaits()
    cygrpc.g_gevent_threadpool = waits
    return waits
