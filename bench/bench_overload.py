"""Past the maximum: EdgePort offered more calls than it carries, with and without maxProcessorDelay.

    .venv/bin/python bench/bench_overload.py --rate 170 [--seconds 30] [--delays 0,0.2] [--json]

The stack of bench_edgeport.py (sipp uac -> EdgePort -> reference processor -> sipp uas, calls of
--call-ms with a pause between ACK and BYE). For each transport and each value of
``spec.limits.maxProcessorDelay`` (0: off), a fresh EdgePort gets --rate calls/s for --seconds.
Printed per window: the calls sipp completed and those that failed (a 503 counts as failed for
sipp), the new requests EdgePort refused with 503 (by cause: a full greenlet pool, or a slow
processor), the processor call p50/p99 EdgePort saw, and EdgePort's CPU per completed call.

What to look for: with the gate off, the processor's queue grows until calls fail by sipp's 5 s
timeouts; with it on, the excess is refused with 503 early and the accepted calls stay quick.
Pick --rate above the max that bench_edgeport.py finds on the same machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import Window, loadavg, log, table  # noqa: E402
from bench_edgeport import Stack  # noqa: E402

from tests.e2e.ops_client import samples, total  # noqa: E402


def overload_window(stack: Stack, transport: str, rate: float, seconds: float, delay: float) -> dict:
    stack.limits = {"maxProcessorDelay": delay} if delay else None
    stack.fresh_edge()
    with Window(stack.edge) as window:
        run = stack.uac(transport, rate, seconds)
    figures = window.figures(max(run.successful, 0))
    counted = samples(stack.edge.ops_port)
    return {
        "transport": transport, "max_processor_delay": delay, "rate": rate,
        "calls": run.calls, "successful": run.successful, "failed": run.failed,
        "refused_pool_full": int(total(counted, "edgeport_sip_overload_total", action="rejected")),
        "refused_slow": int(total(counted, "edgeport_sip_overload_total", action="rejected_slow")),
        "processor_p50_ms": _ms(figures["processor_p50_us"]),
        "processor_p99_ms": _ms(figures["processor_p99_us"]),
        "cpu_ms_per_call": figures["cpu_ms_per_call"],
        "added_p50_us": figures["added_p50_us"], "added_p99_us": figures["added_p99_us"],
        "load": run.load,
    }


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, required=True, help="calls/s offered, above the max")
    parser.add_argument("--seconds", type=float, default=30.0, help="per window (default 30)")
    parser.add_argument("--delays", default="0,0.2", help="maxProcessorDelay values (default 0,0.2)")
    parser.add_argument("--transports", default="udp,tcp", help="comma list (default udp,tcp)")
    parser.add_argument("--call-ms", type=int, default=1000, help="sipp -d (default 1000)")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    args = parser.parse_args()
    delays = [float(d) for d in args.delays.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeport-overload-") as workdir:
        stack = Stack(Path(workdir), call_ms=args.call_ms)
        try:
            for transport in args.transports.split(","):
                for delay in delays:
                    log(f"{transport}, maxProcessorDelay {delay:g}: {args.rate:g}/s for {args.seconds:g} s")
                    rows.append(overload_window(stack, transport, args.rate, args.seconds, delay))
        finally:
            stack.close()
    result = {"bench": "edgeport_overload", "command": " ".join(["bench/bench_overload.py", *sys.argv[1:]]),
              "rows": rows, "load_after": loadavg()}
    if args.json:
        print(json.dumps(result))
        return
    print(table(rows, [("transport", "transport"), ("max_processor_delay", "maxProcessorDelay"),
                       ("rate", "calls/s"), ("calls", "calls"), ("successful", "ok"), ("failed", "failed"),
                       ("refused_pool_full", "503 pool"), ("refused_slow", "503 slow"),
                       ("processor_p50_ms", "proc p50 ms"), ("processor_p99_ms", "proc p99 ms"),
                       ("added_p50_us", "added p50 us"), ("added_p99_us", "added p99 us"),
                       ("cpu_ms_per_call", "CPU ms/call"), ("load", "load")]))


if __name__ == "__main__":
    main()
