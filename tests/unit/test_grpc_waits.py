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


def run_at_once(waits: CompletionWaits, count: int) -> list[int]:
    """``count`` waits that each block their thread until all have started: this only returns if
    ``count`` threads run at once."""
    started = native_lock()
    release = native_lock()
    release.acquire()
    running = [0]

    def blocking_wait(number: int) -> int:
        with started:
            running[0] += 1
            last = running[0] == count
        if last:
            release.release()
        release.acquire()
        release.release()  # pass it on to the next one
        return number

    greenlets = [gevent.spawn(waits.apply, blocking_wait, (n,)) for n in range(count)]
    gevent.joinall(greenlets, timeout=30, raise_error=True)
    return sorted(g.value for g in greenlets)


def test_as_many_waits_run_at_once_as_there_are_waiting_greenlets():
    waits = CompletionWaits()
    assert run_at_once(waits, 25) == list(range(25))  # gevent's hub threadpool has 10 threads
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


def test_a_bursts_threads_end_under_a_steady_trickle_of_waits():
    """25 threads for a burst, then one wait at a time: the threads take turns at the queue, so
    none would ever be idle for a whole period. The trim lets go of those the trickle does not
    need."""
    waits = CompletionWaits(idle_seconds=0.1)
    run_at_once(waits, 25)
    with gevent.Timeout(10):
        while waits.threads > 1:
            assert waits.apply(abs, (-1,)) == 1
            gevent.sleep(0.001)
    assert waits.apply(abs, (-2,)) == 2
