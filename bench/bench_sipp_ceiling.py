"""Load-generator ceiling: sipp uac straight to sipp uas on loopback, calls/s at zero failures.

    .venv/bin/python bench/bench_sipp_ceiling.py [--transport udp] [--step-seconds 10] [--json]

No EdgePort: this is the most the load generator itself can push through this machine, the
ceiling above which no EdgePort figure can be trusted. The rate is ramped: each step runs
sipp's built-in ``uac`` scenario (INVITE, 180, 200, ACK, pause --call-ms, BYE, 200: the same
calls as bench_edgeport.py) at -r R for about --step-seconds (-m R * seconds), starting at
--start-rate and doubling until a step fails, then bisecting until the passing and failing rates
are within 12 % of each other. A step passes when every call succeeded (sipp's "Successful
call" = -m, "Failed call" = 0, exit status 0, no call more than 5 s late: -recv_timeout 5000)
and sipp ended within 2 s of the planned length (-m / R + call length): sipp kept
the rate and no backlog built up. Each step gets a fresh uas on a fresh port.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import loadavg, log, ramp, run_uac, start_uas, stop, table  # noqa: E402


def ceiling(transport: str, step_seconds: float, start: float, limit: float, max_steps: int,
            call_ms: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-sipp-") as tmp:
        workdir = Path(tmp)

        def trial(rate: float):
            uas, port = start_uas(transport, workdir)
            try:
                return run_uac(f"127.0.0.1:{port}", rate, int(rate * step_seconds), transport, workdir,
                               call_ms=call_ms)
            finally:
                stop(uas)

        best, runs = ramp(trial, start, limit, max_steps=max_steps)
    return {"transport": transport, "max_cps": best, "steps": [r.summary() for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    parser.add_argument("--step-seconds", type=float, default=10.0, help="length of one step (default 10)")
    parser.add_argument("--start-rate", type=float, default=500.0, help="first step's calls/s (default 500)")
    parser.add_argument("--max-rate", type=float, default=16000.0, help="never ask more (default 16000)")
    parser.add_argument("--max-steps", type=int, default=9, help="bound on the ramp's steps (default 9)")
    parser.add_argument("--call-ms", type=int, default=1000,
                        help="call length, sipp -d: pause between ACK and BYE (default 1000)")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    args = parser.parse_args()

    load_before = loadavg()
    log(f"sipp uac -> sipp uas over {args.transport}, {args.step_seconds:g} s per step")
    result = ceiling(args.transport, args.step_seconds, args.start_rate, args.max_rate, args.max_steps,
                     args.call_ms)
    result.update({
        "bench": "sipp_ceiling",
        "command": " ".join([".venv/bin/python", "bench/bench_sipp_ceiling.py", *sys.argv[1:]]),
        "step_seconds": args.step_seconds,
        "call_ms": args.call_ms,
        "cpus": len(__import__("os").sched_getaffinity(0)),
        "python": platform.python_version(),
        "load_before": load_before,
        "load_after": loadavg(),
    })
    if args.json:
        print(json.dumps(result))
        return
    print(f"sipp uac -> sipp uas, {args.transport.upper()} loopback, {args.step_seconds:g} s per step "
          f"(load {load_before} -> {result['load_after']})")
    print(table(result["steps"], [("rate", "asked/s"), ("calls", "calls"), ("successful", "ok"),
                                  ("failed", "failed"), ("call_rate", "sipp cps"),
                                  ("invite_retrans", "INVITE retrans"), ("wall_s", "wall s"),
                                  ("ok", "pass"), ("load", "load")]))
    print(f"ceiling: {result['max_cps']:g} calls/s with 0 failed calls")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
