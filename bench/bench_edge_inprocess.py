"""EdgePort's own CPU per SIP message, measured in one process: no gRPC, no other process.

    .venv/bin/python bench/bench_edge_inprocess.py [--calls 3000] [--runs 3] [--profile N] [--json]
    .venv/bin/python bench/bench_edge_inprocess.py --retained [--calls 2000]

The real EdgePortApp (edge, transactions, transports, metrics, its greenlet pool) is built from a
config as `python edgeport.py` builds it, set up by edgeport_lib.gevent_setup. Two things differ:

* the processor is the reference processor's `handle`, called in-process instead of over gRPC;
* the caller and the callee are plain UDP sockets of this process, playing sipp's built-in uac and
  uas (INVITE, 180, 200, ACK, BYE, 200: six messages through the edge per call).

Each received message is handed to the app's UDP handler in a greenlet of its pool, as the UDP
transport does. CPU time (`time.process_time`) is taken over the whole run; the time spent in the
processor and in the two peers (building, parsing and reading their messages) is measured around
each of their steps and taken out, leaving EdgePort's own CPU per message: parsing, conversion
both ways, transactions, routing, metrics, greenlets, timers and sending. This is the figure the
150 us target of issue 7 is about, without the subtraction of a separately measured gRPC client.
The best of --runs counts. --profile N prints the N functions with the most own time (cProfile,
which slows everything down: use it for proportions, not for the figure).

--layers runs the same calls through two stand-ins for the edge as well, each on the same
transport, pool and peers, to show what the layers under EdgePort's own logic cost by themselves:

* `relay`: parse, add a Via (and a Record-Route to an INVITE) or take the top Via off a
  response, serialize, send: the floor of any SIP proxy in this harness;
* `convert`: the relay, with the message converted to protobuf, handed to the processor and
  converted back, as the edge does, but without transactions, timers, routing or metrics;
* `edge`: EdgePort itself, the figure above.

--steps times the main steps of the edge itself, as called from edge.py (wall time around each
call, so a little more than the CPU: each timer adds ~0.3 us): parsing, the conversions both
ways, `message_request` and serializing, per call of each and per message.

--retained measures memory instead: the bytes (tracemalloc) and GC-tracked objects each call
leaves alive while its transactions wait out their timers, which absorb retransmissions.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import edgeport_lib.gevent_setup  # noqa: E402, F401, I001  (before the rest, as in EdgePort)

import argparse  # noqa: E402
import cProfile  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import yaml  # noqa: E402
from gevent.event import Event  # noqa: E402

from edgeport_lib import edge as edge_module  # noqa: E402
from edgeport_lib import routing  # noqa: E402
from edgeport_lib.app import EdgePortApp  # noqa: E402
from edgeport_lib.config import load_config  # noqa: E402
from edgeport_lib.convert import NetAddress, from_protobuf, message_request, to_protobuf  # noqa: E402
from edgeport_lib.reference_processor.processor import ReferenceProcessor  # noqa: E402
from edgeport_lib.reference_processor.router import StaticRoute  # noqa: E402
from edgeport_lib.sip.message import Header, SipMessage  # noqa: E402
from edgeport_lib.sip.parser import parse_message  # noqa: E402
from edgeport_lib.sip.responses import make_response  # noqa: E402
from edgeport_lib.sip.serializer import serialize  # noqa: E402
from edgeport_lib.transports.base import Flow  # noqa: E402
from tests.e2e.stack import edge_config, free_udp_tcp_port  # noqa: E402

MESSAGES_PER_CALL = 6
WARM_UP_CALLS = 50
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"


class Stopwatch:
    """CPU seconds spent outside EdgePort (processor, peers), to take out of the total."""

    def __init__(self) -> None:
        self.outside = 0.0

    def run(self, fn, *args):
        started = time.process_time()
        try:
            return fn(*args)
        finally:
            self.outside += time.process_time() - started


class InProcessProcessor:
    """ProcessorClient's interface, answered by the reference processor in this process."""

    def __init__(self, processor: ReferenceProcessor, watch: Stopwatch) -> None:
        self.processor = processor
        self.watch = watch
        self.healthy = True
        self.last_success = None

    def process(self, request, timeout=None):
        return self.watch.run(self.processor.handle, request)

    def close(self) -> None:
        pass


class Peer:
    """A UDP socket of this process playing a SIP user agent."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.settimeout(2)
        self.address = self.sock.getsockname()

    def receive(self) -> SipMessage:
        data, _ = self.sock.recvfrom(65535)
        return parse_message(data)

    def receive_final(self) -> SipMessage:
        while True:
            msg = self.receive()
            if msg.is_request or msg.status >= 200:
                return msg


def request(method: str, uri: str, peer: Peer, call: int, cseq: int, to: str, extra=()) -> bytes:
    host, port = peer.address
    headers = [
        Header("Via", f"SIP/2.0/UDP {host}:{port};branch=z9hG4bK-{call}-{cseq}-{method}"),
        Header("From", f"sipp <sip:sipp@{host}:{port}>;tag={call}SIPpTag00"),
        Header("To", to),
        Header("Call-ID", f"{call}-bench@{host}"),
        Header("CSeq", f"{cseq} {method}"),
        Header("Contact", f"sip:sipp@{host}:{port}"),
        Header("Max-Forwards", "70"),
        *extra,
    ]
    body = SDP.encode() if method == "INVITE" else b""
    if body:
        headers.append(Header("Content-Type", "application/sdp"))
    headers.append(Header("Content-Length", str(len(body))))
    return serialize(SipMessage(method=method, uri=uri, headers=headers, body=body))


def answer(invite: SipMessage, status: int, uas: Peer, tag: str) -> bytes:
    host, port = uas.address
    response = make_response(invite, status, to_tag=tag,
                             headers=[Header("Contact", f"<sip:{host}:{port};transport=UDP>")])
    for value in invite.get_all("Record-Route"):
        response.add("Record-Route", value)
    return serialize(response)


class Bench:
    def __init__(self, app: EdgePortApp, uac: Peer, uas: Peer, watch: Stopwatch) -> None:
        self.app, self.uac, self.uas, self.watch = app, uac, uas, watch
        self.handle = app.transports()[0]._handler  # the UDP transport's handler (heartbeat + edge)
        self.edge_port = app.config.transports[0].port

    def deliver(self, data: bytes, sender: Peer) -> None:
        """One datagram into EdgePort, in a greenlet of its pool, as the UDP transport does it."""
        flow = Flow("UDP", sender.address, self.edge_port)
        handled = Event()

        def handle() -> None:
            try:
                self.handle(data, flow)
            finally:
                handled.set()

        self.app.pool.spawn(handle)
        handled.wait()

    def call(self, n: int) -> None:
        uac, uas, w = self.uac, self.uas, self.watch
        edge = f"127.0.0.1:{self.edge_port}"
        self.deliver(w.run(request, "INVITE", f"sip:service@{edge}", uac, n, 1, f"<sip:service@{edge}>"), uac)
        w.run(uac.receive)  # 100 Trying
        invite = w.run(uas.receive)
        for status in (180, 200):
            self.deliver(w.run(answer, invite, status, uas, f"uas{n}"), uas)
        ok = w.run(uac.receive_final)
        self.in_dialog("ACK", ok, n, 1)
        w.run(uas.receive)
        self.in_dialog("BYE", ok, n, 2)
        bye = w.run(uas.receive)
        self.deliver(w.run(lambda: serialize(make_response(bye, 200))), uas)
        w.run(uac.receive)

    def in_dialog(self, method: str, ok: SipMessage, n: int, cseq: int) -> None:
        def build() -> bytes:
            contact = ok.get("Contact").strip("<>").split(";")[0]
            routes = [Header("Route", r) for r in reversed(ok.get_all("Record-Route"))]
            return request(method, contact, self.uac, n, cseq, ok.get("To"), routes)

        self.deliver(self.watch.run(build), self.uac)


class StatelessRelay:
    """A stand-in for the edge (see --layers): no transactions, no timers, no routing, no metrics.

    Requests go to the callee, responses to the caller; an INVITE gets its 100 Trying, as from
    the edge. With `convert`, the message goes to the processor and back as the edge sends it;
    without, the relay adds or removes the one Via (and Record-Route) the processor would."""

    def __init__(self, app: EdgePortApp, uac: Peer, uas: Peer, convert: bool) -> None:
        self.app, self.uac, self.uas, self.convert = app, uac, uas, convert
        self.udp = app.transports()[0]
        self.via = f"SIP/2.0/UDP 127.0.0.1:{self.udp.port}"
        self.record_route = f"<sip:127.0.0.1:{self.udp.port};transport=udp;lr>"

    def handle(self, data: bytes, flow: Flow) -> None:
        msg = parse_message(data)
        out = self._through_processor(msg, flow) if self.convert else self._as_processor_would(msg)
        if not msg.is_request:
            self.udp.send(serialize(out), self.uac.address)
            return
        if msg.method == "INVITE":
            self.udp.send(serialize(make_response(msg, 100)), flow.remote)
        routing.prepare_forwarded_via(out, {"UDP": self.udp.port})  # its branch
        self.udp.send(serialize(out), self.uas.address)

    def _through_processor(self, msg: SipMessage, flow: Flow) -> SipMessage:
        converted = to_protobuf(msg)
        sender = NetAddress(flow.remote[0], flow.remote[1], flow.transport)
        answer = self.app.processor.process(message_request(converted, sender, self.app.edge.edge_info))
        return from_protobuf(answer.message, converted)

    def _as_processor_would(self, msg: SipMessage) -> SipMessage:
        if not msg.is_request:
            del msg.headers[0]  # the edge's own Via, a line of its own
            return msg
        msg.headers.insert(0, Header("Via", self.via))
        if msg.method == "INVITE":
            msg.headers.insert(1, Header("Record-Route", self.record_route))
        return msg


LAYERS = ("relay", "convert", "edge")


def build_app(workdir: Path, uas: Peer, watch: Stopwatch, **spec_extra) -> EdgePortApp:
    port = free_udp_tcp_port()
    config = edge_config(port, 1, protocols=("udp",), **spec_extra)
    path = workdir / "edgeport.yaml"
    path.write_text(yaml.safe_dump(config))
    app = EdgePortApp(load_config(path))
    route = StaticRoute(host="127.0.0.1", port=uas.address[1], transport="udp")
    app.processor = InProcessProcessor(ReferenceProcessor({"service": route}), watch)
    app.edge.processor = app.processor
    app.start()
    return app


def run_once(calls: int, profile: cProfile.Profile | None = None, layer: str = "edge") -> dict:
    watch = Stopwatch()
    uac, uas = Peer(), Peer()
    app = build_app(Path(tempfile.mkdtemp(prefix="bench-edge-")), uas, watch)
    bench = Bench(app, uac, uas, watch)
    if layer != "edge":
        bench.handle = StatelessRelay(app, uac, uas, convert=layer == "convert").handle
    for n in range(WARM_UP_CALLS):  # caches, allocator
        bench.call(n)
    watch.outside = 0.0
    if profile:
        profile.enable()
    started_cpu, started = time.process_time(), time.perf_counter()
    for n in range(WARM_UP_CALLS, WARM_UP_CALLS + calls):
        bench.call(n)
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
    if profile:
        profile.disable()
    own = cpu - watch.outside
    app.edge.draining = True
    messages = calls * MESSAGES_PER_CALL
    return {
        "layer": layer,
        "calls": calls,
        "messages": messages,
        "cpu_s": round(cpu, 3),
        "outside_s": round(watch.outside, 3),
        "own_us_per_message": round(own / messages * 1e6, 1),
        "messages_per_s_one_core": round(messages / own),
        "wall_s": round(wall, 2),
    }


def retained_per_call(calls: int) -> dict:
    """Bytes and GC-tracked objects per call still alive after `calls` calls, before any timer ends.

    Both counted after a full collection. T4 (timer K, 5 s by default) is raised above the run's
    length so that every call counts the same; the timers the other transactions wait out
    (64*T1 = 32 s) outlast a run of a few thousand calls: `transactions_alive` shows it (4 a call).
    """
    watch, uac, uas = Stopwatch(), Peer(), Peer()
    app = build_app(Path(tempfile.mkdtemp(prefix="bench-edge-")), uas, watch, timers={"t4": 60})
    bench = Bench(app, uac, uas, watch)
    for n in range(50):  # warm-up: caches
        bench.call(n)
    tracemalloc.start()
    gc.collect()
    objects, traced = len(gc.get_objects()), tracemalloc.get_traced_memory()[0]
    for n in range(50, 50 + calls):
        bench.call(n)
    gc.collect()
    objects, traced = len(gc.get_objects()) - objects, tracemalloc.get_traced_memory()[0] - traced
    tracemalloc.stop()
    app.edge.draining = True
    return {
        "calls": calls,
        "bytes_per_call": round(traced / calls),
        "gc_objects_per_call": round(objects / calls, 1),
        "transactions_alive": len(app.edge.servers) + len(app.edge.clients),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--retained", action="store_true", help="memory left per call, not CPU")
    parser.add_argument("--layers", action="store_true", help="also through the stand-ins (see above)")
    parser.add_argument("--steps", action="store_true", help="time the edge's main steps (see above)")
    args = parser.parse_args()
    if args.steps:
        print_steps(args.calls, args.json)
        return
    if args.layers:
        print_layers(args.calls, args.runs, args.json)
        return
    if args.retained:
        result = retained_per_call(args.calls)
        print(f"retained per call while its transactions wait: {result['bytes_per_call']} bytes, "
              f"{result['gc_objects_per_call']} GC-tracked objects "
              f"({result['transactions_alive']} transactions alive after {result['calls'] + 50} calls)")
        if args.json:
            print(json.dumps({"bench": "edge_inprocess_retained", **result}))
        return
    if args.profile:
        profile = cProfile.Profile()
        result = run_once(args.calls, profile)
        print(f"(under cProfile) {result}")
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)
        return
    runs = [run_once(args.calls) for _ in range(args.runs)]
    best = min(runs, key=lambda r: r["own_us_per_message"])
    print(f"{'run':>4} {'calls':>6} {'CPU s':>7} {'outside s':>9} {'own us/msg':>10} {'msgs/s/core':>11}")
    for i, r in enumerate(runs, 1):
        print(f"{i:>4} {r['calls']:>6} {r['cpu_s']:>7} {r['outside_s']:>9} {r['own_us_per_message']:>10} "
              f"{r['messages_per_s_one_core']:>11}")
    print(f"EdgePort's own CPU per SIP message, best of {len(runs)}: {best['own_us_per_message']} us "
          f"(target 150 us)")
    if args.json:
        print(json.dumps({"bench": "edge_inprocess", "runs": runs, "best": best, "target_us": 150}))


STEPS = ("parse_message", "to_protobuf", "message_request", "from_protobuf", "serialize")


def print_steps(calls: int, as_json: bool) -> None:
    """Each of STEPS timed where edge.py calls it, over a run (its warm-up calls included)."""
    totals = {name: [0.0, 0] for name in STEPS}
    originals = {name: getattr(edge_module, name) for name in STEPS}
    for name in STEPS:
        setattr(edge_module, name, _timed(originals[name], totals[name]))
    try:
        result = run_once(calls)
    finally:
        for name, fn in originals.items():
            setattr(edge_module, name, fn)
    messages = (calls + WARM_UP_CALLS) * MESSAGES_PER_CALL
    print(f"{'step':>16} {'per message':>11} {'us each':>8} {'us/msg':>7}")
    rows = {}
    for name, (seconds, count) in totals.items():
        rows[name] = {"per_message": count / messages, "us_each": seconds / count * 1e6,
                      "us_per_message": seconds / messages * 1e6}
        print(f"{name:>16} {count / messages:>11.2f} {rows[name]['us_each']:>8.1f} "
              f"{rows[name]['us_per_message']:>7.1f}")
    print(f"EdgePort's own CPU per SIP message in this run: {result['own_us_per_message']} us")
    if as_json:
        print(json.dumps({"bench": "edge_inprocess_steps", "steps": rows, "run": result}))


def _timed(fn, total: list):
    def timed(*args):
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            total[0] += time.perf_counter() - started
            total[1] += 1
    return timed


def print_layers(calls: int, runs: int, as_json: bool) -> None:
    """Each layer `runs` times, the layers taking turns so that the machine's drift hits all alike."""
    results: dict[str, list[float]] = {layer: [] for layer in LAYERS}
    for _ in range(runs):
        for layer in LAYERS:
            results[layer].append(run_once(calls, layer=layer)["own_us_per_message"])
    print(f"{'layer':>8} {'own us/msg, each run':>28} {'best':>7} {'added':>7}")
    below = 0.0
    for layer in LAYERS:
        best = min(results[layer])
        each = " / ".join(f"{v:.1f}" for v in results[layer])
        print(f"{layer:>8} {each:>28} {best:>7.1f} {best - below:>7.1f}")
        below = best
    if as_json:
        print(json.dumps({"bench": "edge_inprocess_layers", "calls": calls, "runs": results,
                          "best": {layer: min(values) for layer, values in results.items()}}))


if __name__ == "__main__":
    main()
