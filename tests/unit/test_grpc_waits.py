"""CompletionWaits: the native threads gRPC's gevent mode waits in (edgeport_lib/grpc_waits.py)."""

from __future__ import annotations

import gevent
import pytest
from gevent import monkey

from edgeport_lib.grpc_waits import CompletionWaits

native_ident = monkey.get_original("_thread", "get_ident")
native_lock = monkey.get_original("_thread", "allocate_lock")


def test_a_wait_runs_in_a_native_thread_and_returns_its_result():
    waits = CompletionWaits()
    assert waits.apply(native_ident) != native_ident()
    assert waits.apply(divmod, (7, 2)) == (3, 1)
    assert waits.apply(dict, (), {"a": 1}) == {"a": 1}


def test_an_exception_is_raised_in_the_waiting_greenlet():
    waits = CompletionWaits()
    with pytest.raises(ZeroDivisionError):
        waits.apply(divmod, (1, 0))
    assert waits.apply(abs, (-3,)) == 3  # the thread that raised still serves


def test_as_many_waits_run_at_once_as_there_are_waiting_greenlets():
    """Each wait blocks its thread until all 25 have started: this only ends if 25 threads run
    at once (gevent's hub threadpool has 10)."""
    waits = CompletionWaits()
    started = native_lock()
    release = native_lock()
    release.acquire()
    count = [0]

    def blocking_wait(number: int) -> int:
        with started:
            count[0] += 1
            last = count[0] == 25
        if last:
            release.release()
        release.acquire()
        release.release()  # pass it on to the next one
        return number

    greenlets = [gevent.spawn(waits.apply, blocking_wait, (n,)) for n in range(25)]
    gevent.joinall(greenlets, timeout=30, raise_error=True)
    assert sorted(g.value for g in greenlets) == list(range(25))
    assert waits.threads == 25


def test_threads_are_reused_and_let_go_when_idle():
    waits = CompletionWaits(idle_seconds=0.05)
    for _ in range(20):
        waits.apply(abs, (-1,))
    assert waits.threads == 1  # one after the other: the same thread
    with gevent.Timeout(10):
        while waits.threads:
            gevent.sleep(0.02)  # the idle thread ends; no event tells when
    assert waits.apply(abs, (-2,)) == 2  # and a new one starts for the next wait
    assert waits.threads == 1


def test_the_thread_count_is_bounded():
    waits = CompletionWaits(max_threads=2)
    results = gevent.joinall([gevent.spawn(waits.apply, abs, (-n,)) for n in range(10)], raise_error=True)
    assert sorted(g.value for g in results) == list(range(10))
    assert waits.threads <= 2
