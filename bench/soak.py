"""Soak: calls through a real EdgePort for N minutes; do its resources come back to their idle level?

    .venv/bin/python bench/soak.py --minutes 10 [--rate 10] [--hold-ms 1000] [--transport udp|tcp]
                                   [--json out.json]

Starts the reference processor (static route `service` -> a sipp uas), an EdgePort with
ENABLE_HEALTHCHECKS=true and its ops port on loopback, and a sipp uac calling
sip:service@EdgePort at --rate calls per second (each call held --hold-ms) for --minutes.

Measured from /proc/<EdgePort pid> (RSS, peak RSS, open file descriptors, threads) and its /metrics
(edgeport_transactions_open, edgeport_connections_open, edgeport_greenlets) at four points:

* idle:    after a warm-up of a few calls, once the transactions they left have ended;
* peak:    the highest value sampled every 10 s while the calls run;
* after:   the moment the last call ended;
* end:     once the transactions have ended (timer J: 64*T1 = 32 s after the last BYE over UDP)
           and the native threads gRPC's calls waited in are back to the idle count (the
           threads the calls no longer need end within 120 s: edgeport_lib/grpc_waits.py).

The run passes when at the end transactions are 0, connections, greenlets and fds are back to
their idle level (fds and greenlets within 2, for a health probe's connection and its greenlet)
and every call succeeded; RSS is reported
(Python keeps freed memory in its arenas: it must level off, not come back to the byte).
Exit status 0 when it passed, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from tests.e2e.stack import start_edgeport, start_processor  # noqa: E402
from tests.helpers import free_port  # noqa: E402

SAMPLE_EVERY = 10.0
IDLE_WAIT = 60.0  # timer J over UDP is 64 * T1 = 32 s; transactions must have ended well within this
END_WAIT = 150.0  # and grpc_waits' threads end at most two 60 s periods after they were needed


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def metrics(ops_port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{ops_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + sample.value
    return out


def snapshot(pid: int, ops_port: int) -> dict[str, float]:
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            status[key] = int(value.split()[0])
    m = metrics(ops_port)
    return {
        "rss_mb": round(status["VmRSS"] / 1024, 1),
        "peak_rss_mb": round(status["VmHWM"] / 1024, 1),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": status["Threads"],
        "transactions": m.get("edgeport_transactions_open", -1),
        "connections": m.get("edgeport_connections_open", -1),
        "greenlets": m.get("edgeport_greenlets", -1),
        "messages_received": m.get("edgeport_sip_messages_received_total", 0),
    }


def wait_idle(pid: int, ops_port: int, connections: float, threads: float | None = None,
              timeout: float = IDLE_WAIT) -> dict:
    """Poll until no transaction is open and connections (and threads, when given) are down to
    the counts given, or until `timeout`; the last snapshot."""
    deadline = time.monotonic() + timeout
    while True:
        now = snapshot(pid, ops_port)
        idle = now["transactions"] == 0 and now["connections"] <= connections
        if (idle and (threads is None or now["threads"] <= threads)) or time.monotonic() > deadline:
            return now
        time.sleep(1.0)  # polling pace


def sipp_stat(output: str, name: str) -> int:
    match = re.search(rf"{name}\s*\|\s*(\d+)\s*\|\s*(\d+)", output)
    return int(match.group(2)) if match else -1


def uac(edge_port: int, transport: str, calls: int, rate: float, hold_ms: int, cwd: Path) -> subprocess.Popen:
    mode = ["-t", "t1"] if transport == "tcp" else []
    args = [
        "sipp",
        "-sn",
        "uac",
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port(transport)),
        *mode,
        "-s",
        "service",
        f"127.0.0.1:{edge_port}",
        "-m",
        str(calls),
        "-r",
        f"{rate:g}",
        "-d",
        str(hold_ms),
        "-l",
        str(max(10, int(rate * (hold_ms / 1000 + 2) * 2))),
        "-timeout",
        str(int(calls / rate) + 300),
        "-nostdin",
        "-trace_err",
    ]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)


def run(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="edgeport-soak-"))
    uas_port = free_port(args.transport)
    ops_port = free_port("tcp")
    stopped = []
    try:
        processor, processor_port = start_processor(
            work, routes={"service": {"host": "127.0.0.1", "port": uas_port, "transport": args.transport}}
        )
        stopped.append(processor)
        edge = start_edgeport(
            work,
            processor_port,
            env={"ENABLE_HEALTHCHECKS": "true"},
            ops={"bindAddr": "127.0.0.1", "port": ops_port},
            processor={"addr": f"127.0.0.1:{processor_port}", "timeout": 5},
        )
        stopped.append(edge.process)
        pid = edge.process.popen.pid
        mode = ["-t", "t1"] if args.transport == "tcp" else []
        uas = subprocess.Popen(
            ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port), *mode, "-nostdin"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=work,
        )
        stopped.append(uas)
        log(f"EdgePort pid {pid} on {args.transport} {edge.port}, ops {ops_port}; warming up")
        started = snapshot(pid, ops_port)
        warm = uac(edge.port, args.transport, 20, 10, 100, work)
        warm.communicate(timeout=120)
        idle = wait_idle(pid, ops_port, started["connections"] + (1 if args.transport == "tcp" else 0))
        log(f"idle: {idle}")

        calls = max(1, int(args.rate * args.minutes * 60))
        log(f"{calls} calls at {args.rate:g}/s, held {args.hold_ms} ms, for {args.minutes:g} min")
        load = uac(edge.port, args.transport, calls, args.rate, args.hold_ms, work)
        samples = []
        next_sample = time.monotonic() + SAMPLE_EVERY
        while load.poll() is None:
            time.sleep(0.5)
            if time.monotonic() >= next_sample:
                next_sample += SAMPLE_EVERY
                samples.append(snapshot(pid, ops_port))
                log(f"running: {samples[-1]}")
        output, _ = load.communicate()
        after = snapshot(pid, ops_port)
        log(f"calls ended: {after}; waiting for transactions and gRPC's wait threads to end")
        end = wait_idle(pid, ops_port, idle["connections"], idle["threads"], timeout=END_WAIT)
        log(f"end: {end}")
    finally:
        for proc in reversed(stopped):
            if isinstance(proc, subprocess.Popen):
                proc.kill()
                proc.wait(timeout=10)
            else:
                proc.kill()

    keys = ("rss_mb", "peak_rss_mb", "fds", "threads", "greenlets", "transactions", "connections")
    peak = {key: max([s[key] for s in samples + [after]]) for key in keys}
    successful, failed = sipp_stat(output, "Successful call"), sipp_stat(output, "Failed call")
    checks = {
        "every call succeeded": successful == calls and failed == 0,
        "transactions back to 0": end["transactions"] == 0,
        "connections back to idle": end["connections"] <= idle["connections"],
        "fds back to idle (+2)": end["fds"] <= idle["fds"] + 2,
        "greenlets back to idle (+2)": end["greenlets"] <= idle["greenlets"] + 2,
        "threads back to idle": end["threads"] <= idle["threads"],
    }
    return {
        "minutes": args.minutes,
        "rate": args.rate,
        "hold_ms": args.hold_ms,
        "transport": args.transport,
        "calls": calls,
        "successful": successful,
        "failed": failed,
        "idle": {k: idle[k] for k in keys},
        "peak": peak,
        "after": {k: after[k] for k in keys},
        "end": {k: end[k] for k in keys},
        "rss_growth_mb": round(end["rss_mb"] - idle["rss_mb"], 1),
        "samples": [{k: s[k] for k in keys} for s in samples],
        "checks": checks,
        "passed": all(checks.values()),
    }


def print_table(result: dict) -> None:
    keys = ("rss_mb", "peak_rss_mb", "fds", "threads", "greenlets", "transactions", "connections")
    print(
        f"\nsoak: {result['calls']} calls over {result['transport']} at {result['rate']:g}/s held "
        f"{result['hold_ms']} ms for {result['minutes']:g} min: "
        f"{result['successful']} ok, {result['failed']} failed"
    )
    print(f"{'':14}" + "".join(f"{k:>14}" for k in keys))
    for row in ("idle", "peak", "after", "end"):
        print(f"{row:14}" + "".join(f"{result[row][k]:>14g}" for k in keys))
    print(f"RSS growth idle -> end: {result['rss_growth_mb']:+.1f} MB")
    for name, ok in result["checks"].items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=10.0, help="calls per second (default 10)")
    parser.add_argument("--hold-ms", type=int, default=1000, help="how long each call lasts (default 1000)")
    parser.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = run(args)
    print_table(result)
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
