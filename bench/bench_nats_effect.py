"""What publishing events to NATS costs SIP: the same call load through EdgePort, NATS off and on.

    .venv/bin/python bench/bench_nats_effect.py [--rate 40] [--calls 1200] [--rounds 2] [--json]

Starts a real nats-server, the reference processor, a sipp uas and EdgePort (restarted for each
run, NATS_PUBLISHER_ENABLED false then true, alternating for --rounds), runs the same sipp uac
load and reads EdgePort's CPU per call from /proc and its own time per message from /metrics.
A call publishes two events (call.started, call.ended). Throughput capacity goes as the inverse
of CPU per call, so "slower with NATS" = cpu_on / cpu_off - 1 (target: under 10%). The events
delivered are counted by a subscriber on routr.> to show they really went out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nats  # noqa: E402

from bench._stack import (  # noqa: E402
    Window,
    loadavg,
    run_uac,
    start_edgeport,
    start_processor,
    start_uas,
    stop,
    stop_gracefully,
    table,
    thread_cpu_seconds,
)
from edgeport_lib.events.nats_publisher import THREAD_NAME  # noqa: E402
from tests.helpers import free_port, start_process  # noqa: E402


def count_events(url: str, stop_flag: threading.Event, counter: list[int]) -> None:
    async def main() -> None:
        client = await nats.connect(url)

        async def on_message(_msg) -> None:
            counter[0] += 1

        await client.subscribe("routr.>", cb=on_message)
        while not stop_flag.is_set():
            await asyncio.sleep(0.2)
        await client.close()

    asyncio.run(main())


def one_run(
    workdir: Path, processor_port: int, nats_url: str, nats_on: bool, rate: float, calls: int
) -> dict:
    env = {"NATS_PUBLISHER_ENABLED": "true", "NATS_PUBLISHER_URL": nats_url} if nats_on else {}
    edge = start_edgeport(workdir, processor_port, env=env)
    try:
        nats_before = thread_cpu_seconds(edge.pid, THREAD_NAME)
        with Window(edge) as window:
            run = run_uac(f"127.0.0.1:{edge.port}", rate, calls, "udp", workdir, call_ms=1000)
        nats_cpu = thread_cpu_seconds(edge.pid, THREAD_NAME) - nats_before
        figures = window.figures(calls)
    finally:
        stop_gracefully(edge.process)
    return {
        "nats": "on" if nats_on else "off",
        "successful": run.successful,
        "failed": run.failed,
        "cpu_ms_per_call": figures["cpu_ms_per_call"],
        "nats_thread_ms_per_call": round(nats_cpu / calls * 1e3, 3),
        "added_p50_us": figures["added_p50_us"],
        "load": run.load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=40)
    parser.add_argument("--calls", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-nats-"))
    nats_port = free_port("tcp")
    server = start_process(
        [shutil.which("nats-server"), "-a", "127.0.0.1", "-p", str(nats_port)],
        ready_line="Server is ready",
        timeout=15,
    )
    nats_url = f"nats://127.0.0.1:{nats_port}"
    stop_flag, counter = threading.Event(), [0]
    subscriber = threading.Thread(target=count_events, args=(nats_url, stop_flag, counter), daemon=True)
    subscriber.start()
    uas, uas_port = start_uas("udp", workdir)
    processor, processor_port = start_processor(workdir, {"service": (uas_port, "udp")})
    rows = []
    try:
        for _ in range(args.rounds):
            for nats_on in (False, True):
                rows.append(one_run(workdir, processor_port, nats_url, nats_on, args.rate, args.calls))
    finally:
        stop(processor)
        stop(uas)
        stop_flag.set()
        subscriber.join(10)
        stop(server)
    off = min(r["cpu_ms_per_call"] for r in rows if r["nats"] == "off")
    on = min(r["cpu_ms_per_call"] for r in rows if r["nats"] == "on")
    on_rows = [r for r in rows if r["nats"] == "on"]
    thread = sorted(r["nats_thread_ms_per_call"] for r in on_rows)[len(on_rows) // 2]
    summary = {
        "cpu_ms_per_call_off": off,
        "cpu_ms_per_call_on": on,
        "slower_with_nats_percent": round((on / off - 1) * 100, 1),
        "nats_thread_ms_per_call_median": thread,
        "nats_thread_share_percent": round(thread / off * 100, 1),
        "target_percent": 10,
        "events_received": counter[0],
        "load": loadavg(),
    }
    print(
        table(
            rows,
            [
                ("nats", "NATS"),
                ("successful", "ok calls"),
                ("failed", "failed"),
                ("cpu_ms_per_call", "CPU ms/call"),
                ("nats_thread_ms_per_call", "NATS thread ms/call"),
                ("added_p50_us", "added p50 us"),
                ("load", "load"),
            ],
        )
    )
    print(
        f"slower with NATS: {summary['slower_with_nats_percent']}% (best CPU/call {on} vs {off} ms; "
        f"target < 10%); events received by the subscriber: {counter[0]}"
    )
    print(
        f"the NATS thread itself: {thread} ms CPU per call (median), {summary['nats_thread_share_percent']}% "
        f"of EdgePort's best CPU per call without NATS (the whole-process figures above move with the load)"
    )
    if args.json:
        print(json.dumps({"bench": "nats_effect", "rows": rows, "summary": summary}))


if __name__ == "__main__":
    main()
