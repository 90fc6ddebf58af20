"""The bounded message pool (edgeport_lib/transports/pool.py): slots, waiting, failures."""

from __future__ import annotations

import logging

import gevent
import pytest
from gevent.event import Event

from edgeport_lib.transports.pool import MessagePool


def test_counts_running_handlers_and_frees_their_slots() -> None:
    pool = MessagePool(2)
    gate = Event()
    pool.spawn(gate.wait)
    pool.spawn(gate.wait)
    gevent.sleep(0)
    assert (len(pool), pool.free_count(), pool.full()) == (2, 0, True)
    gate.set()
    gevent.sleep(0)
    assert (len(pool), pool.free_count(), pool.full()) == (0, 2, False)


def test_spawn_waits_for_a_free_slot_and_runs_in_order() -> None:
    pool = MessagePool(1)
    gate = Event()
    ran: list[str] = []
    pool.spawn(lambda: (gate.wait(), ran.append("first")))
    waiting = gevent.spawn(pool.spawn, ran.append, "second")
    gevent.sleep(0.01)
    assert not waiting.dead and ran == []  # the pool is full: spawn is still waiting
    gate.set()
    waiting.join(timeout=1)
    gevent.sleep(0)
    assert ran == ["first", "second"]


def test_try_spawn_gives_up_when_no_slot_frees_in_time() -> None:
    pool = MessagePool(1)
    gate = Event()
    pool.spawn(gate.wait)
    ran: list[int] = []
    assert pool.try_spawn(lambda: ran.append(1), timeout=0.01) is False
    gate.set()
    assert pool.try_spawn(lambda: ran.append(2), timeout=1) is True
    gevent.sleep(0)
    assert ran == [2]


def test_a_failing_handler_is_logged_and_gives_its_slot_back(caplog: pytest.LogCaptureFixture) -> None:
    pool = MessagePool(1)

    def fail() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="edgeport_lib.transports.pool"):
        pool.spawn(fail)
        gevent.sleep(0)
    assert pool.free_count() == 1
    assert "message handler failed" in caplog.text and "boom" in caplog.text
