"""The bounded message pool (edgeport_lib/transports/pool.py): slots, waiting, failures."""

from __future__ import annotations

import logging

import gevent
import pytest
from gevent import socket
from gevent.event import Event

from edgeport_lib.transports.pool import KEEP_IDLE, MessagePool
from edgeport_lib.transports.udp import UdpTransport


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


def test_a_finished_greenlet_takes_the_next_message() -> None:
    pool = MessagePool(4)
    ran_in: list[object] = []
    pool.spawn(lambda: ran_in.append(gevent.getcurrent()))
    gevent.sleep(0)
    assert pool.idle_count == 1
    pool.spawn(lambda: ran_in.append(gevent.getcurrent()))
    gevent.sleep(0)
    assert len(ran_in) == 2 and ran_in[0] is ran_in[1]
    assert pool.idle_count == 1 and pool.free_count() == 4


def test_idle_greenlets_kept_are_bounded() -> None:
    pool = MessagePool(KEEP_IDLE + 20)
    gate = Event()
    for _ in range(KEEP_IDLE + 20):
        pool.spawn(gate.wait)
    gevent.sleep(0)
    gate.set()
    gevent.sleep(0.01)
    assert pool.idle_count == KEEP_IDLE and pool.free_count() == KEEP_IDLE + 20


def _pool_with_one_idle_greenlet() -> tuple[MessagePool, object]:
    pool = MessagePool(1)
    pool.spawn(lambda: None)
    gevent.sleep(0)
    (idle,) = pool._idle
    return pool, idle


def _runs_next_message(pool: MessagePool) -> bool:
    ran: list[str] = []
    pool.spawn(ran.append, "next")
    gevent.sleep(0)
    return ran == ["next"]


def test_an_idle_greenlet_woken_without_a_message_keeps_waiting(caplog: pytest.LogCaptureFixture) -> None:
    pool, idle = _pool_with_one_idle_greenlet()
    with caplog.at_level(logging.WARNING, logger="edgeport_lib.transports.pool"):
        gevent.get_hub().loop.run_callback(idle.switch, "stray")  # e.g. a late wake-up
        gevent.sleep(0)
    assert "woken without a message" in caplog.text
    assert _runs_next_message(pool) and pool.idle_count == 1


def test_an_exception_thrown_into_an_idle_greenlet_is_not_obeyed(caplog: pytest.LogCaptureFixture) -> None:
    pool, idle = _pool_with_one_idle_greenlet()
    with caplog.at_level(logging.WARNING, logger="edgeport_lib.transports.pool"):
        gevent.get_hub().loop.run_callback(idle.throw, gevent.Timeout(1))  # a timer left running
        gevent.sleep(0)
    assert "interrupted" in caplog.text and not idle.dead
    assert _runs_next_message(pool)


def test_a_killed_idle_greenlet_is_not_given_messages() -> None:
    pool, idle = _pool_with_one_idle_greenlet()
    gevent.kill(idle)
    gevent.sleep(0)
    assert idle.dead and pool.idle_count == 0
    assert _runs_next_message(pool)


def test_spawn_message_lets_overflow_answer_only_when_full() -> None:
    pool = MessagePool(1)
    gate = Event()
    met: list[bytes] = []
    ran: list[bytes] = []

    def overflow(data: bytes, flow: object) -> bytes | None:
        met.append(data)
        return None if data == b"new" else data.upper()  # None: answered at once; else it waits

    pool.spawn_message(lambda data, flow: ran.append(data), b"first", None, overflow)
    gevent.sleep(0)
    pool.spawn(gate.wait)
    pool.spawn_message(lambda data, flow: ran.append(data), b"new", None, overflow)
    waiting = gevent.spawn(pool.spawn_message, lambda data, flow: ran.append(data), b"old", None, overflow)
    gevent.sleep(0.01)
    assert (met, ran, waiting.dead) == ([b"new", b"old"], [b"first"], False)
    gate.set()
    waiting.join(timeout=1)
    gevent.sleep(0)
    assert ran == [b"first", b"OLD"]  # what overflow handed on


def test_join_waits_for_the_messages_in_progress() -> None:
    pool = MessagePool(2)
    gate = Event()
    pool.spawn(gate.wait)
    gevent.sleep(0)
    assert pool.join(timeout=0.01) is False  # still in progress
    gevent.spawn_later(0.01, gate.set)
    assert pool.join(timeout=5) is True
    assert (len(pool), pool.free_count()) == (0, 2)  # every slot given back


def test_kill_ends_the_idle_greenlets() -> None:
    pool, idle = _pool_with_one_idle_greenlet()
    pool.kill()
    gevent.sleep(0)
    assert idle.dead and pool.idle_count == 0
    assert _runs_next_message(pool)


def test_a_udp_server_stops_while_a_message_is_in_progress() -> None:
    """gevent's DatagramServer.stop() joins and kills its pool when a handler is running."""
    pool = MessagePool(2)
    started, gate = Event(), Event()
    handled: list[bytes] = []

    def handler(data: bytes, flow: object) -> None:
        started.set()
        gate.wait()
        handled.append(data)

    udp = UdpTransport("127.0.0.1", 0, handler, pool)
    udp.start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sender.sendto(b"OPTIONS", ("127.0.0.1", udp.port))
        assert started.wait(timeout=5)
        stopping = gevent.spawn(udp.stop)
        gevent.sleep(0)
        gate.set()
        stopping.join(timeout=5)
    finally:
        sender.close()
    assert stopping.successful(), stopping.exception
    assert handled == [b"OPTIONS"]
