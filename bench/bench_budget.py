"""The CPU budget of a call: what each process of the stack spends on it, and what that allows.

    .venv/bin/python bench/bench_budget.py [--rate 100] [--seconds 30] [--transports udp,tcp] [--json]
    .venv/bin/python bench/bench_budget.py --workers 2   # EdgePort's --workers 2 (all workers counted)

The stack of bench_edgeport.py (sipp uac -> EdgePort -> reference processor -> sipp uas), all
on the same cores. First the gRPC ceiling with the stack's own processor (bench_grpc.py, x10 and
x50 greenlets), then per transport one window of --rate calls/s to a fresh EdgePort, pick a rate
every process keeps up with (no failed call). For each process: CPU seconds (utime + stime, all
threads) per completed call. The uac's is its rusage as a child of this script.

When the processes share the cores and nothing else limits them, the stack cannot carry more than

    CPU-bound max = cores / (sum of the CPU per call of every process)

calls/s. Set against the gRPC ceiling / 6 (issue 7's item 4), that bounds the ratio EdgePort can
reach on this machine, and it gives the EdgePort CPU per call that a ratio of 0.75 would need with
the other processes as they are:

    EdgePort CPU for ratio r = cores / (r x ceiling / 6) - (processor + uas + uac CPU per call)

CPU per call falls as the rate rises (more work per wake-up), so a window below the maximum makes
these bounds a little pessimistic; a failed call makes the window's figures meaningless (flagged).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _stack import Window, cpu_seconds, loadavg, log, table  # noqa: E402
from bench_edgeport import Stack  # noqa: E402
from bench_grpc import PROCESSOR_ROUND_TRIPS_PER_CALL  # noqa: E402
from bench_grpc import ceiling as grpc_ceiling  # noqa: E402

TARGET_RATIO = 0.75


def children_cpu() -> float:
    """utime + stime of the children this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def budget_window(stack: Stack, transport: str, rate: float, seconds: float) -> dict:
    """CPU per completed call of each process, over one window of ``rate`` calls/s."""
    stack.fresh_edge()
    others = {"processor": stack.processor.popen.pid, "uas": stack.uas[transport][0].pid}
    before = {name: cpu_seconds(pid) for name, pid in others.items()}
    uac_before = children_cpu()
    with Window(stack.edge) as window:
        run = stack.uac(transport, rate, seconds)
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in others.items()}
    spent["uac"] = children_cpu() - uac_before
    calls = max(run.successful, 1)
    per_call = {name: round(s / calls * 1e3, 3) for name, s in spent.items()}
    per_call["edgeport"] = window.figures(calls)["cpu_ms_per_call"]
    return {"transport": transport, "rate": rate, "calls": run.calls, "successful": run.successful,
            "failed": run.failed, "cpu_ms_per_call": per_call, "load": run.load}


def bounds(window: dict, cores: int, allowed: float) -> dict:
    """What the window's CPU per call allows on ``cores``, against ``allowed`` (ceiling / 6)."""
    per_call = window["cpu_ms_per_call"]
    stack_ms = sum(per_call.values())
    cpu_bound_max = cores / stack_ms * 1e3
    others_ms = stack_ms - per_call["edgeport"]
    return {
        "stack_ms_per_call": round(stack_ms, 3),
        "edgeport_share": round(per_call["edgeport"] / stack_ms, 2),
        "cpu_bound_max_cps": round(cpu_bound_max, 1),
        "ratio_bound": round(cpu_bound_max / allowed, 2),
        "edgeport_ms_for_target": round(cores / (TARGET_RATIO * allowed) * 1e3 - others_ms, 3),
    }


def run(args) -> dict:
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
        stack = Stack(Path(tmp), args.call_ms, workers=args.workers)
        try:
            log("gRPC ceiling")
            grpc = grpc_ceiling(stack.processor_target, [10, 50], args.grpc_seconds, 1,
                                stack.processor.popen.pid)
            windows = []
            for transport in args.transports.split(","):
                log(f"{transport}: {args.rate:g} calls/s for {args.seconds:g} s")
                windows.append(budget_window(stack, transport, args.rate, args.seconds))
        finally:
            stack.close()
    allowed = grpc["ceiling_calls_per_s"] / PROCESSOR_ROUND_TRIPS_PER_CALL
    for window in windows:
        window.update(bounds(window, cores, allowed))
    return {"bench": "budget", "command": " ".join(["bench/bench_budget.py", *sys.argv[1:]]),
            "cores": cores, "workers": args.workers, "grpc_ceiling_calls_per_s": grpc["ceiling_calls_per_s"],
            "grpc_processor_cpu_us_per_call": min(r["processor_cpu_us_per_call"] for r in grpc["rows"]),
            "sip_calls_per_s_allowed_by_grpc": round(allowed, 1), "windows": windows,
            "load_after": loadavg()}


def print_result(result: dict) -> None:
    print(f"gRPC ceiling {result['grpc_ceiling_calls_per_s']:,.0f} calls/s -> "
          f"{result['sip_calls_per_s_allowed_by_grpc']:g} SIP calls/s (ratio 1); processor CPU "
          f"{result['grpc_processor_cpu_us_per_call']} us per gRPC call; {result['cores']} cores; "
          f"EdgePort --workers {result['workers']}")
    rows = [{**w, **{f"{k}_ms": v for k, v in w["cpu_ms_per_call"].items()}} for w in result["windows"]]
    print(table(rows, [
        ("transport", "transport"), ("rate", "calls/s"), ("successful", "ok"), ("failed", "failed"),
        ("edgeport_ms", "EdgePort ms/call"), ("processor_ms", "processor"), ("uas_ms", "uas"),
        ("uac_ms", "uac"), ("stack_ms_per_call", "all"), ("edgeport_share", "EdgePort share"),
        ("cpu_bound_max_cps", "CPU-bound max/s"), ("ratio_bound", "ratio bound"),
        ("edgeport_ms_for_target", f"EdgePort ms for {TARGET_RATIO}"), ("load", "load"),
    ]))
    if any(w["failed"] for w in result["windows"]):
        print("a window had failed calls: lower --rate, its figures do not hold")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="calls/s, below the max (default 100)")
    parser.add_argument("--seconds", type=float, default=30.0, help="per window (default 30)")
    parser.add_argument("--transports", default="udp,tcp", help="comma list (default udp,tcp)")
    parser.add_argument("--call-ms", type=int, default=1000, help="sipp -d (default 1000)")
    parser.add_argument("--workers", type=int, default=1, help="EdgePort's --workers (default 1)")
    parser.add_argument("--grpc-seconds", type=float, default=4.0, help="per gRPC ceiling run (default 4)")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    args = parser.parse_args()
    result = run(args)
    if not args.json:
        print_result(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
