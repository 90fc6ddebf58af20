"""Runs the ops HTTP server under gevent beside real UDP and TCP listeners, for the e2e tests.

    python tests/e2e/ops_driver.py PROCESSOR_TARGET

Wiring as the app does it: a shared worker pool, a UDP listener whose handler is wrapped by its
heartbeat, a TCP listener with a ping probe, a pool probe, a ProcessorClient checked by
``processor_check``, metrics counted by the handler, JSON logs on stdout. Prints
``driver ready udp=PORT tcp=PORT http=PORT`` and then reads commands on stdin, one per line,
printing one ``result ...`` line for each: ``block`` (occupy every worker of the pool),
``unblock``, ``stop_tcp`` (stop the TCP listener), ``call`` (one REGISTER to the processor),
``until_ok SECONDS`` (call until one succeeds), ``quit``.
"""

# ruff: noqa: I001
import edgeport_lib.gevent_setup  # noqa: F401  (first: gevent and gRPC set up as EdgePort does)

import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402
from gevent.fileobject import FileObjectPosix  # noqa: E402
from edgeport_lib.transports.pool import MessagePool  # noqa: E402

from edgeport_lib.ops import (  # noqa: E402
    Health,
    Heartbeat,
    Metrics,
    OpsServer,
    processor_check,
    setup_logging,
    start_pool_probe,
    start_probe,
)
from edgeport_lib.processor_client import ProcessorClient, ProcessorUnavailable  # noqa: E402
from edgeport_lib.sip.errors import SipParseError  # noqa: E402
from edgeport_lib.sip.limits import Limits  # noqa: E402
from edgeport_lib.sip.parser import parse_message  # noqa: E402
from edgeport_lib.transactions import ServerTransactionTable  # noqa: E402
from edgeport_lib.transports.connections import ConnectionTable  # noqa: E402
from edgeport_lib.transports.stream import StreamTransport  # noqa: E402
from edgeport_lib.transports.udp import UdpTransport  # noqa: E402
from tests.e2e.processor_client_driver import register_request  # noqa: E402

MAX_AGE = 1.0
INTERVAL = 0.1


def main() -> None:
    target = sys.argv[1]
    setup_logging("info", "json", sys.stdout)

    metrics = Metrics()
    limits = Limits()

    def handle(data: bytes, flow) -> None:  # stands in for Edge.handle: parse and count
        try:
            msg = parse_message(data, limits)
        except SipParseError:
            metrics.parse_error(flow.transport)
            return
        metrics.received(flow.transport, msg)

    pool = MessagePool(4)
    table = ConnectionTable()
    udp_beat, tcp_beat, pool_beat = Heartbeat(MAX_AGE), Heartbeat(MAX_AGE), Heartbeat(MAX_AGE)
    udp = UdpTransport("127.0.0.1", 0, udp_beat.wrap_handler(handle), pool)
    tcp = StreamTransport("127.0.0.1", 0, handle, pool, table, limits)
    udp.start()
    tcp.start()

    client = ProcessorClient(target, timeout=1.0)
    health = Health()
    health.add_check("processor", processor_check(client))
    health.add_check(f"udp 127.0.0.1:{udp.port}", udp_beat.check)
    health.add_check(f"tcp 127.0.0.1:{tcp.port}", tcp_beat.check)
    health.add_check("worker pool", pool_beat.check)
    probes = [
        start_probe(udp_beat, "udp", "127.0.0.1", udp.port, INTERVAL),
        start_probe(tcp_beat, "tcp", "127.0.0.1", tcp.port, INTERVAL),
        start_pool_probe(pool_beat, pool, INTERVAL),
    ]
    servers = ServerTransactionTable()
    metrics.bind_gauges(transactions=lambda: len(servers), connections=lambda: len(table))
    ops = OpsServer(health, metrics, host="127.0.0.1", port=0)
    ops.start()

    def call() -> tuple[bool, str]:
        started = time.monotonic()
        try:
            client.process(register_request())
        except ProcessorUnavailable as error:
            metrics.processor_call(time.monotonic() - started, error)
            return False, error.reason
        metrics.processor_call(time.monotonic() - started)
        return True, "OK"

    gate = Event()
    stdin = FileObjectPosix(sys.stdin.fileno(), "r", close=False)  # reads without blocking the hub
    print(f"driver ready udp={udp.port} tcp={tcp.port} http={ops.port}", flush=True)
    for line in stdin:
        command, *args = line.split()
        if command == "block":
            busy = pool.free_count()
            for _ in range(busy):
                pool.spawn(gate.wait)
            print(f"result blocked {busy}", flush=True)
        elif command == "unblock":
            gate.set()
            gate = Event()
            print("result unblocked", flush=True)
        elif command == "stop_tcp":
            tcp.stop()
            print("result stopped", flush=True)
        elif command == "call":
            ok, detail = call()
            print(f"result {'ok' if ok else 'unavailable'} {detail}", flush=True)
        elif command == "until_ok":
            deadline = time.monotonic() + float(args[0])
            while True:
                ok, detail = call()
                if ok or time.monotonic() > deadline:
                    break
                gevent.sleep(0.05)
            print(f"result {'ok' if ok else 'gave_up'} {detail}", flush=True)
        elif command == "quit":
            break
    gate.set()
    for probe in probes:
        probe.kill()
    ops.stop()
    udp.stop()
    client.close()


if __name__ == "__main__":
    main()
