"""EdgePort with --workers 1 vs 2: the highest call rate with no failed call, each.

    .venv/bin/python bench/bench_workers.py [--workers 1,2] [--transport udp] [--pin-processor 1] [--json]

The stack, on loopback: sipp uac -> EdgePort (``--workers N``) -> the reference processor ->
sipp uas, sipp's built-in uac scenario (INVITE, 180, 200, ACK, --call-ms pause, BYE, 200) as in
bench_edgeport.py. The uac uses one socket per call (``-t un`` / ``-t tn``), so calls come from
many source ports and the kernel spreads them over the workers (one socket would put every
call on one worker). The uas answers from one address, so all its responses reach one worker:
with 2 workers about half of them are handed to the other one (edgeport_lib/workers.py).

``--pin-processor CPU``: the reference processor runs under ``taskset -c CPU`` (default: 1 when
the machine has 2 or more CPUs; -1: not pinned), so it has its own core budget while EdgePort's
workers and sipp share the rest. On a 2-core machine that means EdgePort's workers, both sipps
and the processor all compete for 2 cores: see the note printed with the figures.

Per worker count: a ramp (bench/_stack.py: doubling from --start-rate, then bisection to 12 %,
steps of --step-seconds, a fresh EdgePort after a failed step), then --confirm-seconds at the
best rate (10 % lower, up to 3 times, when it fails). A step passes when every call succeeds and
sipp ended within 2 s of the planned length. CPU seconds of EdgePort (parent + workers), the
processor and the sipps are read from /proc for the confirm window.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import yaml  # noqa: E402
from _stack import (  # noqa: E402
    PYTHON,
    REPO,
    SippRun,
    free_udp_tcp_port,
    loadavg,
    log,
    ramp,
    run_uac,
    sipp_socket_per_call,
    start_uas,
    stop,
    stop_gracefully,
    table,
    tree_cpu,
)

from tests.helpers import Process, free_port, start_process  # noqa: E402


class Stack:
    def __init__(self, workdir: Path, transport: str, pin: int | None, call_ms: int) -> None:
        self.workdir, self.transport, self.call_ms = workdir, transport, call_ms
        self.edge: Process | None = None
        self.edge_port = 0
        self.workers = 1
        self.uas, uas_port = start_uas(transport, workdir)
        port = free_port("tcp")
        path = workdir / "routes.yaml"
        path.write_text(yaml.safe_dump({"routes": {"service": {"host": "127.0.0.1", "port": uas_port,
                                                               "transport": transport}}}))
        prefix = ["taskset", "-c", str(pin)] if pin is not None else []
        self.processor = start_process(
            [*prefix, PYTHON, "-m", "edgeport_lib.reference_processor", "--bind", f"127.0.0.1:{port}",
             "--routes", str(path), "--log-level", "WARNING"], ready_line="listening on", timeout=30)
        self.processor_port = port

    def fresh_edge(self, workers: int) -> None:
        if self.edge is not None:
            stop_gracefully(self.edge)
            time.sleep(0.3)
        if self.uas.poll() is not None:  # sipp's TCP uas exits when a connection to it is reset
            log(f"the uas exited ({self.uas.returncode}): restarted")
            self.uas, _ = start_uas(self.transport, self.workdir, self._uas_port())
        self.workers = workers
        self.edge_port = free_udp_tcp_port()
        config = {
            "kind": "EdgePort", "apiVersion": "v2beta1", "ref": "edgeport-bench",
            "spec": {
                "transport": [{"protocol": p, "port": self.edge_port, "bindAddr": "127.0.0.1"}
                              for p in ("udp", "tcp")],
                "methods": ["REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"],
                "processor": {"addr": f"127.0.0.1:{self.processor_port}"},
                "localnets": ["127.0.0.1/8"],
                "shutdownGracePeriod": 0,
            },
        }
        path = self.workdir / "edgeport.yaml"
        path.write_text(yaml.safe_dump(config))
        ready = "workers ready" if workers > 1 else "ready:"
        self.edge = start_process([PYTHON, str(REPO / "edgeport.py"), str(path), "--workers", str(workers)],
                                  ready_line=ready, timeout=30)

    def _uas_port(self) -> int:
        text = (self.workdir / "routes.yaml").read_text()
        return int(re.search(r"port: (\d+)", text).group(1))

    def uac(self, rate: float, seconds: float) -> SippRun:
        mode = sipp_socket_per_call(self.transport)
        return run_uac(f"127.0.0.1:{self.edge_port}", rate, max(1, int(rate * seconds)), self.transport,
                       self.workdir, call_ms=self.call_ms, mode=mode)

    def close(self) -> None:
        if self.edge is not None:
            stop_gracefully(self.edge, timeout=5.0)
        stop(self.processor)
        stop(self.uas)


def measure(stack: Stack, workers: int, args) -> dict:
    log(f"--workers {workers}: ramp, {args.step_seconds:g} s per step")
    fresh = [True]

    def trial(rate: float) -> SippRun:
        if fresh[0]:
            stack.fresh_edge(workers)
            fresh[0] = False
        run = stack.uac(rate, args.step_seconds)
        if not run.ok:
            fresh[0] = True
        return run

    best, steps = ramp(trial, args.start_rate, args.max_rate, max_steps=args.max_steps)
    result = {"workers": workers, "ramp_best": best, "steps": [s.summary() for s in steps], "max": None}
    rate = best
    for _ in range(3 if best > 0 else 0):
        log(f"--workers {workers}: {rate:g} calls/s for {args.confirm_seconds:g} s")
        stack.fresh_edge(workers)
        pids = {"edgeport": stack.edge.popen.pid, "processor": stack.processor.popen.pid}
        before = {name: tree_cpu(pid) for name, pid in pids.items()}
        started = time.monotonic()
        run = stack.uac(rate, args.confirm_seconds)
        wall = time.monotonic() - started
        cpu = {name: round((tree_cpu(pid) - before[name]) / wall, 2) for name, pid in pids.items()}
        log(f"  {rate:g}/s: ok={run.ok} successful={run.successful} failed={run.failed} cores used {cpu}")
        result.setdefault("confirm", []).append({**run.summary(), "cores_used": cpu})
        if run.ok:
            result["max"] = rate
            result["cores_used"] = cpu
            break
        rate = math.floor(rate * 0.9)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma list of worker counts (default 1,2)")
    parser.add_argument("--transport", default="udp", choices=("udp", "tcp"))
    default_pin = 1 if (os.cpu_count() or 1) >= 2 else -1
    parser.add_argument("--pin-processor", type=int, default=default_pin,
                        help=f"CPU for the reference processor, -1: not pinned (default {default_pin})")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--confirm-seconds", type=float, default=20.0)
    parser.add_argument("--start-rate", type=float, default=40.0)
    parser.add_argument("--max-rate", type=float, default=1000.0)
    parser.add_argument("--max-steps", type=int, default=7)
    parser.add_argument("--call-ms", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    args = parser.parse_args()
    pin = args.pin_processor if args.pin_processor >= 0 and shutil.which("taskset") else None

    load_before = loadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeport-bench-workers-") as tmp:
        stack = Stack(Path(tmp), args.transport, pin, args.call_ms)
        try:
            for workers in (int(w) for w in args.workers.split(",")):
                rows.append(measure(stack, workers, args))
        finally:
            stack.close()
    base = rows[0]["max"] if rows and rows[0]["max"] else None
    for row in rows:
        row["speedup"] = round(row["max"] / base, 2) if base and row["max"] else None
    result = {
        "bench": "edgeport_workers",
        "command": " ".join([".venv/bin/python", "bench/bench_workers.py", *sys.argv[1:]]),
        "transport": args.transport, "processor_cpu": pin, "cpus": os.cpu_count(),
        "python": platform.python_version(), "load_before": load_before, "load_after": loadavg(),
        "rows": rows, "target_speedup": 1.6,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"workers over {args.transport}, processor on CPU {pin}, {os.cpu_count()} CPUs: "
          f"load {load_before} -> {result['load_after']}")
    print(table(
        [{"workers": r["workers"], "ramp_best": r["ramp_best"], "max": r["max"], "speedup": r["speedup"],
          "edgeport_cores": (r.get("cores_used") or {}).get("edgeport"),
          "processor_cores": (r.get("cores_used") or {}).get("processor")} for r in rows],
        [("workers", "workers"), ("ramp_best", "ramp best calls/s"), ("max", "max calls/s (0 failed)"),
         ("speedup", "x vs first"), ("edgeport_cores", "EdgePort cores"),
         ("processor_cores", "processor cores")],
    ))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
