"""SIP core throughput on one core: messages per second, best of 3 runs.

    .venv/bin/python bench/bench_core.py [--seconds 3] [--runs 3] [--json]

Rows:

* parse+serialize: parse_message + serialize of a typical INVITE with SDP (~900 bytes, 13 headers);
* round trip: parse_message -> to_protobuf -> message_request -> SerializeToString ->
  MessageRequest.ParseFromString -> from_protobuf -> serialize, i.e. everything the EdgePort does
  to a request on its way to the processor and back, minus the network.

Each run repeats the work for about --seconds (time.perf_counter) in batches; a run's rate is the
messages done divided by the time taken, and the best of --runs is reported next to its target.
With --json only one JSON object is printed. --profile NAME runs cProfile on that row instead and
prints the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import platform
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgeport_lib.convert import EdgeInfo, NetAddress, from_protobuf, message_request, to_protobuf  # noqa: E402
from edgeport_lib.protocol import processor_pb2  # noqa: E402
from edgeport_lib.sip.parser import parse_message  # noqa: E402
from edgeport_lib.sip.serializer import serialize  # noqa: E402

SDP = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
)
INVITE = (
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport=5060;received=192.0.2.101\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:edge.example.com;lr>\r\n"
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n'
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:alice@client.atlanta.example.com;transport=udp>\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: Softphone Beta1.5\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n"
    "\r\n"
    f"{SDP}"
).encode()

EDGE = EdgeInfo(
    edge_port_ref="edgeport-01",
    listening_points=(NetAddress("0.0.0.0", 5060, "UDP"), NetAddress("0.0.0.0", 5060, "TCP")),
    external_addrs=("203.0.113.100",),
    localnets=("10.100.0.10/16",),
)
SENDER = NetAddress("client.atlanta.example.com", 5060, "UDP")

TARGETS = {"parse+serialize": 20_000, "round trip": 8_000, "round trip, new dialogs": 8_000}


def parse_serialize(data: bytes = INVITE) -> bytes:
    return serialize(parse_message(data))


def round_trip(data: bytes = INVITE) -> bytes:
    converted = to_protobuf(parse_message(data))
    wire = message_request(converted, SENDER, EDGE).SerializeToString()
    request = processor_pb2.MessageRequest()
    request.ParseFromString(wire)  # what the processor gets (and, unchanged, sends back)
    return serialize(from_protobuf(request.message, converted))


_DIALOGS = iter(range(10**12))


def round_trip_new_dialog() -> bytes:
    """The round trip with a fresh Call-ID, From tag and branch each time: the headers that
    differ per call miss the converter's cache, as in real traffic; the rest (To, Contact,
    Route, Request-URI of a busy trunk) hit it."""
    n = next(_DIALOGS)
    data = (
        INVITE.replace(b"3848276298220188511", b"%019d" % n)
        .replace(b"9fxced76sl", b"t%09d" % (n % 10**9))
        .replace(b"z9hG4bK74bf9", b"z9hG4bK%05d" % (n % 10**5))
    )
    return round_trip(data)


WORK: dict[str, Callable[[], bytes]] = {
    "parse+serialize": parse_serialize,
    "round trip": round_trip,
    "round trip, new dialogs": round_trip_new_dialog,
}


def rate(fn: Callable[[], bytes], seconds: float, batch: int = 200) -> float:
    """Messages per second over about `seconds` of repeated calls."""
    done = 0
    gc.collect()
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        done += batch
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def check() -> None:
    """The benchmarked work does what it should (the round trip is lossless)."""
    original = parse_message(INVITE)
    assert parse_message(parse_serialize()) == original
    again = parse_message(round_trip())
    assert (again.method, again.uri, again.body) == (original.method, original.uri, original.body)
    for name in ("Via", "Route", "From", "To", "Call-ID", "CSeq", "Contact", "Allow", "Content-Type"):
        assert again.values(name) == original.values(name), name


def profile(name: str, seconds: float, top: int = 20) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    rate(WORK[name], seconds)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one run (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="runs per row; the best counts (default 3)")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    parser.add_argument("--profile", choices=sorted(WORK), help="cProfile one row instead of timing")
    args = parser.parse_args()

    check()
    if args.profile:
        profile(args.profile, args.seconds)
        return
    for fn in WORK.values():  # warm up caches and the allocator
        rate(fn, 0.2)
    rows = []
    for name, fn in WORK.items():
        runs = [rate(fn, args.seconds) for _ in range(args.runs)]
        best = max(runs)
        rows.append(
            {
                "name": name,
                "msgs_per_s": round(best),
                "runs": [round(r) for r in runs],
                "target": TARGETS[name],
                "met": best >= TARGETS[name],
                "us_per_msg": round(1e6 / best, 2),
            }
        )
    result = {
        "bench": "core",
        "message_bytes": len(INVITE),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "seconds_per_run": args.seconds,
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"INVITE with SDP: {len(INVITE)} bytes; best of {args.runs} x {args.seconds:g} s, one core")
    print(f"{'row':<18}{'msgs/s':>10}{'us/msg':>9}{'target':>9}  status")
    for row in rows:
        status = "ok" if row["met"] else "MISSED"
        print(f"{row['name']:<18}{row['msgs_per_s']:>10,}{row['us_per_msg']:>9}{row['target']:>9,}  {status}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
