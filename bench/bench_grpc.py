"""gRPC ceiling: EdgePort's own ProcessorClient, under gevent, against the reference processor.

    .venv/bin/python bench/bench_grpc.py [--concurrency 1,10,50] [--seconds 4] [--runs 2] [--json]
    .venv/bin/python bench/bench_grpc.py --target 127.0.0.1:51904   # an already running processor
    .venv/bin/python bench/bench_grpc.py --compare-threads          # + the same client without gevent

Each measurement is a child process set up exactly like EdgePort (edgeport_lib/cli.py): it
imports edgeport_lib.gevent_setup before anything else (GRPC_ENABLE_FORK_SUPPORT=0,
gevent.monkey.patch_all(), grpc.experimental.gevent.init_gevent(), gRPC's blocking waits on
grpc_waits' native threads). It creates one ``ProcessorClient`` (EdgePort's channel
options, 5 s deadline), warms it up, then N greenlets call ``process()`` in a loop for --seconds
with the MessageRequest of a sipp INVITE to the static route (``sip:service@...``: the
reference processor answers with a request to forward, the same work as in an EdgePort call),
built with edgeport_lib.convert.to_protobuf + message_request. Figures per concurrency: calls/s,
the latency of one call (p50/p99), and the client process's CPU time per call (utime+stime of
all its threads, gRPC's C-core threads included). Without --target a reference processor is
started here (with a static route to nowhere: the request is never sent on). The best of --runs
counts. --compare-threads adds the same client without gevent, on N OS threads: not how EdgePort
runs, a measure of what grpc's gevent integration costs. A call of EdgePort needs six processor
round trips (INVITE, 180, 200, ACK, BYE, 200 of BYE), so the ceiling this allows is calls/s / 6.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and "--worker" in sys.argv and "--threads" not in sys.argv:
    # set up as EdgePort is (cli.py): patch_all, init_gevent and gRPC's waits on grpc_waits' threads
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import edgeport_lib.gevent_setup  # noqa: F401

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

PROCESSOR_ROUND_TRIPS_PER_CALL = 6

SDP = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)


def sipp_invite(edge_port: int = 5060, caller_port: int = 5070) -> bytes:
    """The INVITE of sipp's built-in uac, as EdgePort has it after stamping received/rport."""
    return (
        f"INVITE sip:service@127.0.0.1:{edge_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{caller_port};branch=z9hG4bK-12345-1-0;received=127.0.0.1;"
        f"rport={caller_port}\r\n"
        f"From: sipp <sip:sipp@127.0.0.1:{caller_port}>;tag=12345SIPpTag001\r\n"
        f"To: service <sip:service@127.0.0.1:{edge_port}>\r\n"
        "Call-ID: 1-12345@127.0.0.1\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: sip:sipp@127.0.0.1:{caller_port}\r\n"
        "Max-Forwards: 70\r\n"
        "Subject: Performance Test\r\n"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(SDP)}\r\n"
        "\r\n"
        f"{SDP}"
    ).encode()


def make_request(edge_port: int = 5060, caller_port: int = 5070):
    from edgeport_lib.convert import EdgeInfo, NetAddress, message_request, to_protobuf
    from edgeport_lib.sip.parser import parse_message

    edge = EdgeInfo(
        edge_port_ref="edgeport-bench",
        listening_points=tuple(NetAddress("127.0.0.1", edge_port, t) for t in ("UDP", "TCP")),
        localnets=("127.0.0.1/8",),
    )
    converted = to_protobuf(parse_message(sipp_invite(edge_port, caller_port)))
    return message_request(converted, NetAddress("127.0.0.1", caller_port, "UDP"), edge)


def worker(target: str, concurrency: int, seconds: float, threads: bool = False) -> dict:
    """Runs in the gevent-patched child: N greenlets calling ProcessorClient.process(). With
    ``threads`` (a comparison, not EdgePort's set-up): no gevent, N OS threads."""
    import threading

    from edgeport_lib.processor_client import ProcessorClient, ProcessorUnavailable

    request = make_request()
    client = ProcessorClient(target, timeout=5.0)
    kind = client.process(request).message.WhichOneof("message_type")
    for _ in range(200):  # warm up: connection, allocator
        client.process(request)
    latencies: list[float] = []
    failures = 0
    stop_at = 0.0

    def loop() -> None:
        nonlocal failures
        perf = time.perf_counter
        while True:
            started = perf()
            if started >= stop_at:
                return
            try:
                client.process(request)
            except ProcessorUnavailable:
                failures += 1
                continue
            latencies.append(perf() - started)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    stop_at = started + seconds
    if threads:
        workers = [threading.Thread(target=loop) for _ in range(concurrency)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
    else:
        import gevent

        gevent.joinall([gevent.spawn(loop) for _ in range(concurrency)])
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    client.close()
    latencies.sort()
    calls = len(latencies)

    def pct(q: float) -> float | None:
        return round(latencies[min(calls - 1, int(q * calls))] * 1e6, 1) if calls else None

    return {
        "concurrency": concurrency,
        "mode": "threads, no gevent" if threads else "gevent",
        "calls": calls,
        "failures": failures,
        "seconds": round(elapsed, 3),
        "calls_per_s": round(calls / elapsed, 1),
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "client_cpu_us_per_call": round(cpu / calls * 1e6, 1) if calls else None,
        "client_cpu_share": round(cpu / elapsed, 2),
        "request_bytes": request.ByteSize(),
        "answer": kind,
    }


def measure(target: str, concurrency: int, seconds: float, threads: bool = False) -> dict:
    """One worker run in a fresh child process (gevent-patched unless ``threads``)."""
    from tests.helpers import PYTHON, REPO_ROOT

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [PYTHON, str(Path(__file__).resolve()), "--worker", "--target", target,
         "--concurrency", str(concurrency), "--seconds", str(seconds), *(["--threads"] if threads else [])],
        capture_output=True, text=True, timeout=seconds + 60, env=env, cwd=REPO_ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"gRPC worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ceiling(target: str, concurrencies: list[int], seconds: float, runs: int,
            processor_pid: int | None = None, threads: bool = False) -> dict:
    """Best of ``runs`` per concurrency; the ceiling is the best calls/s of any concurrency.
    With ``processor_pid`` the processor's CPU time per call is read from /proc too (it
    includes the worker's start and warm-up calls: an upper bound)."""
    from _stack import cpu_seconds, loadavg, log

    rows = []
    for concurrency in concurrencies:
        results = []
        for _ in range(runs):
            cpu_before = cpu_seconds(processor_pid) if processor_pid else 0.0
            result = measure(target, concurrency, seconds, threads)
            if processor_pid:
                cpu = cpu_seconds(processor_pid) - cpu_before
                result["processor_cpu_us_per_call"] = round(cpu / (result["calls"] + 201) * 1e6, 1)
            result["load"] = loadavg()
            results.append(result)
            log(f"  gRPC {result['mode']} x{concurrency}: {result['calls_per_s']:,.0f} calls/s, "
                f"p50 {result['p50_us']} us, client CPU {result['client_cpu_us_per_call']} us/call")
        best = max(results, key=lambda r: r["calls_per_s"])
        best["runs_calls_per_s"] = [r["calls_per_s"] for r in results]
        rows.append(best)
    top = max(rows, key=lambda r: r["calls_per_s"])
    return {
        "rows": rows,
        "ceiling_calls_per_s": top["calls_per_s"],
        "ceiling_concurrency": top["concurrency"],
        "sip_calls_per_s_allowed": round(top["calls_per_s"] / PROCESSOR_ROUND_TRIPS_PER_CALL, 1),
    }


def start_processor_for_bench(workdir: Path):
    """A reference processor whose static route ``service`` points at a port nobody uses."""
    from _stack import start_processor

    return start_processor(workdir, {"service": (9, "udp")})


COLUMNS = [("concurrency", "concurrency"), ("calls_per_s", "calls/s"), ("p50_us", "p50 us"),
           ("p99_us", "p99 us"), ("client_cpu_us_per_call", "client CPU us/call"),
           ("client_cpu_share", "client CPU share"),
           ("processor_cpu_us_per_call", "processor CPU us/call"), ("failures", "failed"), ("load", "load")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,10,50", help="greenlet counts (default 1,10,50)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one run (default 4)")
    parser.add_argument("--runs", type=int, default=2, help="runs per concurrency; best counts (default 2)")
    parser.add_argument("--target", help="a running processor (host:port); default: start one")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    parser.add_argument("--compare-threads", action="store_true",
                        help="also run the same client without gevent, on OS threads (a comparison)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    if args.worker:
        print(json.dumps(worker(args.target, concurrencies[0], args.seconds, args.threads)))
        return

    from _stack import loadavg, stop, table

    load_before = loadavg()
    processor = None
    with tempfile.TemporaryDirectory(prefix="bench-grpc-") as tmp:
        target = args.target
        try:
            if target is None:
                processor, port = start_processor_for_bench(Path(tmp))
                target = f"127.0.0.1:{port}"
            pid = processor.popen.pid if processor else None
            result = ceiling(target, concurrencies, args.seconds, args.runs, pid)
            if args.compare_threads:
                result["threads"] = ceiling(target, concurrencies, args.seconds, args.runs, pid, threads=True)
        finally:
            stop(processor)
    result.update({
        "bench": "grpc",
        "command": " ".join([".venv/bin/python", "bench/bench_grpc.py", *sys.argv[1:]]),
        "seconds_per_run": args.seconds,
        "runs": args.runs,
        "python": platform.python_version(),
        "load_before": load_before,
        "load_after": loadavg(),
    })
    if args.json:
        print(json.dumps(result))
        return
    print(f"ProcessorClient under gevent -> reference processor, best of {args.runs} x {args.seconds:g} s "
          f"(load {load_before} -> {result['load_after']})")
    print(table(result["rows"], COLUMNS))
    if "threads" in result:
        print("The same ProcessorClient without gevent, on OS threads (not how EdgePort runs; a comparison):")
        print(table(result["threads"]["rows"], COLUMNS))
    print(f"gRPC ceiling: {result['ceiling_calls_per_s']:,.0f} calls/s (x{result['ceiling_concurrency']}) "
          f"-> {result['sip_calls_per_s_allowed']:,.1f} SIP calls/s at {PROCESSOR_ROUND_TRIPS_PER_CALL} "
          f"round trips per call")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
