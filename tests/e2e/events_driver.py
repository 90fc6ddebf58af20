"""Drives an EventBus under gevent monkey patching, the way the EdgePort runs it, for e2e tests.

    python tests/e2e/events_driver.py NATS_URL [--subject S] [--buffer N] [--console]

Reads commands on stdin, one per line, and prints one ``result ...`` line for each:

* ``publish N [EVENT]``: N events (call.started by default), ids ``ev-<seq>``, one after the
  other from one greenlet; prints the stats after.
* ``stats``: prints ``result stats {json}``.
* ``wait KEY VALUE SECONDS``: until stats[KEY] == VALUE (``connected true``, ``buffered 0``).
* ``wait_at_least KEY N SECONDS``: until stats[KEY] >= N.
* ``ping``: ``result pong`` (shows the hub still answers).
* ``close SECONDS``: EventBus.close, then the stats; ``quit`` ends the driver.

Log records (edgeport.*, nats.*) are printed as ``LOG LEVEL name message``.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import gevent  # noqa: E402
from gevent.fileobject import FileObjectPosix  # noqa: E402

from edgeport_lib.events import EventBus, call_ended, call_started, endpoint_registered  # noqa: E402
from edgeport_lib.sip.message import Header, SipMessage  # noqa: E402

GATEWAY_AUTH = "Z3c6Z2F0ZXdheS1zZWNyZXQ="  # base64 "gw:gateway-secret"


def request(method: str, call_id: str) -> SipMessage:
    """A request as the processor would have it forwarded, with X- headers and credentials."""
    headers = [
        ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1"),
        ("From", '"Alice" <sip:alice:pw@sip.example.org:5070;transport=udp>;tag=a1'),
        ("To", "<sip:bob@sip.example.org>"),
        ("Call-ID", call_id),
        ("CSeq", f"1 {method}"),
        ("Expires", "600"),
        ("X-Room", "blue"),
        ("X-Gateway-Auth", GATEWAY_AUTH),
        ("Authorization", 'Digest username="alice", response="abc"'),
        ("Proxy-Authorization", 'Digest username="alice", response="def"'),
    ]
    return SipMessage(method=method, uri="sip:bob@sip.example.org", headers=[Header(*h) for h in headers])


def payload(event: str, call_id: str) -> dict:
    now = datetime.now(UTC)
    if event == "call.started":
        return call_started(request("INVITE", call_id), {"accountRef": "ac-1"}, now)
    if event == "call.ended":
        return call_ended(call_id, 486, {"X-Room": "blue", "X-Gateway-Auth": GATEWAY_AUTH}, now)
    return endpoint_registered(request("REGISTER", call_id), now)


class Driver:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.seq = 0

    def stats(self) -> str:
        return json.dumps(self.bus.stats(), sort_keys=True)

    def publish(self, count: int, event: str = "call.started") -> str:
        started = time.monotonic()
        for _ in range(count):
            self.seq += 1
            self.bus.publish(event, payload(event, f"ev-{self.seq}"))
        return f"published {count} {time.monotonic() - started:.3f} {self.stats()}"

    def wait(self, key: str, check, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while not check(self.bus.stats()[key]):
            if time.monotonic() > deadline:
                return f"wait timeout {self.stats()}"
            gevent.sleep(0.01)  # polls a condition, with a deadline
        return f"wait ok {self.stats()}"

    def run(self, command: str, args: list[str]) -> str | None:
        if command == "publish":
            return self.publish(int(args[0]), *args[1:])
        if command == "stats":
            return f"stats {self.stats()}"
        if command == "wait":
            value = json.loads(args[1])
            return self.wait(args[0], lambda v: v == value, float(args[2]))
        if command == "wait_at_least":
            return self.wait(args[0], lambda v: v >= int(args[1]), float(args[2]))
        if command == "ping":
            return "pong"
        if command == "close":
            self.bus.close(float(args[0]))
            return f"closed {self.stats()}"
        return f"unknown {command}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--subject", default="routr")
    parser.add_argument("--buffer", type=int, default=10_000)
    parser.add_argument("--console", action="store_true")
    args = parser.parse_args()

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("LOG %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])

    bus = EventBus(args.console, args.url or None, args.subject, args.buffer, reconnect_delay=(0.05, 0.5))
    bus.start()
    driver = Driver(bus)
    stdin = FileObjectPosix(sys.stdin.fileno(), "r", close=False)  # reads without blocking the hub
    print("driver ready", flush=True)
    for line in stdin:
        command, *rest = line.split()
        if command == "quit":
            break
        print(f"result {driver.run(command, rest)}", flush=True)
    bus.close(1.0)


if __name__ == "__main__":
    main()
