"""Events per second through EventBus to a real nats-server, under gevent as in the EdgePort.

    python bench/bench_events.py [--events 100000] [--nats-url nats://host:4222] [--json-only]

Without ``--nats-url`` a ``nats-server`` is started on a free local port. Rows:

* payload: building a call.started payload from a SipMessage and encoding it (gevent side);
* publish: ``EventBus.publish`` calls per second, NATS up (what a SIP greenlet pays);
* delivered: events per second confirmed by the server (PING/PONG), first publish to last ack;
* ticker lag: the worst delay of a 1 ms ticker greenlet while the NATS thread delivers the
  backlog (the hub shares the GIL with that thread);
* console: ``EventBus(console=True)`` with the log going to /dev/null.

Prints a table, then one JSON line.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgeport_lib.events import EventBus, call_started  # noqa: E402
from edgeport_lib.events.payloads import encode  # noqa: E402
from edgeport_lib.sip.message import Header, SipMessage  # noqa: E402

INVITE_HEADERS = [
    ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-bench"),
    ("From", '"Alice" <sip:alice@sip.example.org>;tag=a1'),
    ("To", "<sip:bob@sip.example.org>"),
    ("Call-ID", "bench"),
    ("CSeq", "1 INVITE"),
    ("X-Room", "blue"),
    ("X-Gateway-Auth", "Z3c6c2VjcmV0"),
]


def invite(n: int) -> SipMessage:
    headers = [Header(name, f"bench-{n}" if name == "Call-ID" else value) for name, value in INVITE_HEADERS]
    return SipMessage(method="INVITE", uri="sip:bob@sip.example.org", headers=headers)


def payloads(count: int) -> list[dict]:
    now = datetime.now(UTC)
    return [call_started(invite(n), {"accountRef": "AC1"}, now) for n in range(count)]


@contextmanager
def nats_server(url: str | None):
    """Yield a NATS URL: the one given, or a nats-server started for the run."""
    if url:
        yield url
        return
    binary = shutil.which("nats-server") or "/usr/bin/nats-server"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:  # until it accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                gevent.sleep(0.02)
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


class Ticker:
    """A greenlet that wants to run every millisecond and records how late it gets."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            before = time.perf_counter()
            gevent.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - before - 0.001)

    def stop(self) -> float:
        self._greenlet.kill()
        return self.worst


def bench_payload(count: int) -> float:
    started = time.perf_counter()
    now = datetime.now(UTC)
    for n in range(count):
        encode(call_started(invite(n), {"accountRef": "AC1"}, now))
    return count / (time.perf_counter() - started)


def connected_bus(url: str, buffer_size: int) -> EventBus:
    bus = EventBus(nats_url=url, buffer_size=buffer_size)
    bus.start()
    deadline = time.monotonic() + 10
    while not bus.stats()["connected"] and time.monotonic() < deadline:
        gevent.sleep(0.01)
    return bus


def wait_delivered(bus: EventBus, count: int) -> None:
    while bus.stats()["published"] < count:
        gevent.sleep(0.001)


def bench_nats(url: str, events: list[dict]) -> dict[str, float]:
    """All events published back to back from one greenlet; then, while the NATS thread
    works through the backlog, a ticker greenlet measures how late the hub runs it."""
    bus = connected_bus(url, len(events))
    bus.publish("call.started", events[0])  # warm up (lazy imports on both sides)
    wait_delivered(bus, 1)
    started = time.perf_counter()
    for payload in events:
        bus.publish("call.started", payload)
    enqueued = time.perf_counter()
    ticker = Ticker()
    wait_delivered(bus, len(events) + 1)
    done = time.perf_counter()
    lag = ticker.stop()
    bus.close(5)
    assert bus.stats()["dropped"] == 0, bus.stats
    return {
        "publish_per_s": len(events) / (enqueued - started),
        "delivered_per_s": len(events) / (done - started),
        "hub_lag_ms": lag * 1000,
    }


def bench_console(events: list[dict]) -> float:
    handler = logging.FileHandler(os.devnull)
    logger = logging.getLogger("edgeport.events")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    bus = EventBus(console=True)
    started = time.perf_counter()
    for payload in events:
        bus.publish("call.started", payload)
    elapsed = time.perf_counter() - started
    logger.removeHandler(handler)
    return len(events) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--nats-url", default=None)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()

    events = payloads(args.events)
    results: dict[str, float] = {
        "events": args.events,
        "payload_per_s": bench_payload(min(args.events, 20_000)),
    }
    with nats_server(args.nats_url) as url:
        results.update(bench_nats(url, events))
    results["console_per_s"] = bench_console(events[:20_000])

    if not args.json_only:
        print(f"{'measure':<44}{'value':>14}")
        rows = [
            ("payload build + encode (events/s)", results["payload_per_s"]),
            ("EventBus.publish, NATS up (calls/s)", results["publish_per_s"]),
            ("delivered, server-confirmed (events/s)", results["delivered_per_s"]),
            ("1 ms ticker's worst lag meanwhile (ms)", results["hub_lag_ms"]),
            ("console publisher to /dev/null (events/s)", results["console_per_s"]),
        ]
        for name, value in rows:
            print(f"{name:<44}{value:>14,.1f}")
    print(json.dumps({k: round(v, 1) for k, v in results.items()}))


if __name__ == "__main__":
    main()
