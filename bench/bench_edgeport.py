"""EdgePort under sipp: highest call rate with no failed call, time and CPU it adds, memory, profile.

    .venv/bin/python bench/bench_edgeport.py [--transports udp,tcp] [--workers 1] [--json]  # rates (~8 min)
    .venv/bin/python bench/bench_edgeport.py --memory [--memory-rate 55]         # leak check (~3 min)
    .venv/bin/python bench/bench_edgeport.py --profile 20 [--profile-rate 60]    # py-spy hotspots (~40 s)
    .venv/bin/python bench/bench_edgeport.py --gc 30 [--profile-rate 60]         # GC pauses (~75 s)

The stack, all on loopback: sipp uac -> EdgePort (edgeport.py, UDP and TCP, metrics on a free
ops port with ENABLE_HEALTHCHECKS=true) -> the reference processor (static routes
``service-udp`` and ``service-tcp``) -> sipp uas. Each call is sipp's built-in uac scenario:
INVITE, 180, 200, ACK, pause --call-ms (1000), BYE, 200, i.e. six messages through EdgePort and
six processor round trips. The pause matters: EdgePort handles every message in its own
greenlet, so an ACK and a BYE sent back to back (-d 0) can reach the uas in the wrong order, and
sipp's uas then drops the call (seen over TCP at 50-70 calls/s).

Rates (default mode), per transport:

* ramp: steps of --step-seconds (10) at -r R, R doubling from --start-rate until a step fails,
  then bisected to within 12 %; a failed step gets a fresh EdgePort and uas for the next one. A
  step passes when every call succeeds (none failed, none > 5 s late: sipp -recv_timeout 5000)
  and sipp ended within 2 s of the planned length (calls / rate + call length): no backlog.
* max: --confirm-seconds (30) at the ramp's best rate on a fresh EdgePort and fresh uas; if it
  fails, 10 % lower (at most 3 tries). This is "the highest call rate with no failed call over 30 s".
* half: --confirm-seconds at half of max, on a fresh EdgePort: the latency figures.

For the max and half windows, figures from EdgePort itself: scraped /metrics before and after
(the histogram ``edgeport_message_handling_seconds``, EdgePort's own time per received message
with processor calls excluded: p50/p99 interpolated inside the buckets, and its mean; same for
``edgeport_processor_call_seconds``), /proc/PID/stat utime+stime (all threads) per call and per
received message, and VmHWM (peak RSS). "Own CPU per message excl. gRPC" = (CPU per call -
processor calls per call x the gRPC client's CPU per call measured by bench_grpc in this run,
its lowest row) / messages per call.

The gRPC ceiling (bench_grpc.py, EdgePort's ProcessorClient under gevent against the same
reference processor) is measured before the first transport and after the last; the better of
the two, divided by 6 round trips per call, is the ceiling a call's processor round trips allow;
"ratio" is max / that.

--workers N: the rates with EdgePort's ``--workers N`` (SO_REUSEPORT). sipp then uses one socket
per call (-t un / tn), so that the kernel spreads the calls over the workers; the figures from
EdgePort add up those of every worker (each serves /metrics on its own port; CPU and VmHWM are
summed over the processes).

--memory: one fresh EdgePort over UDP at --memory-rate (55/s, well below the ~75-100 calls/s
this shared 2-core machine sustains, so no call fails and no retransmission inflates the
state); VmHWM and VmRSS after each checkpoint of --memory-calls (default 3000,6000,10000:
10,000 calls take 3 min at 55/s; 50,000 would take 15 min and 100,000 30 min, so the check is
3,000 vs 10,000 plus the RSS growth per call, extrapolated to 100,000). Flat (within 10 %)
means nothing leaks. UDP transactions live 32 s after their final response (timers J, L, M), so
the first checkpoint must come after that steady state (3,000 calls at 55/s: 55 s). After each
sipp run (at most 100 s) VmRSS, VmHWM, the thread count and sipp's errors are logged and kept
in the JSON's ``chunks``: a rise that comes with sipp errors (e.g. "Dead call", a late 200
retransmission) is a stall's backlog, whose high-water mark stays; a leak rises every chunk.

--profile S: py-spy (``.venv/bin/pip install py-spy``) records EdgePort for S seconds under UDP
load at --profile-rate, 100 samples/s, only samples of the thread holding the GIL (--gil: CPU
spent in Python and in C called with the GIL held; waiting, idle threads and gRPC's own C-core
threads are left out); prints the top functions by own samples and by inclusive samples
(file:function, % of all samples) and how busy the GIL was (samples / (S x 100)); the raw
(collapsed) stacks go to --profile-out.

--gc S: EdgePort started through a small wrapper that adds a ``gc.callbacks`` hook (nothing else
changes), 35 s of UDP load at --profile-rate to reach steady state, then S seconds more: the
collections per generation, their pauses, and the share of wall and CPU time spent collecting.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _stack import (  # noqa: E402
    PYTHON,
    REPO,
    SippRun,
    Window,
    cpu_seconds,
    loadavg,
    log,
    ramp,
    run_uac,
    scrape,
    sipp_socket_per_call,
    start_edgeport,
    start_processor,
    start_uas,
    status_kb,
    stop,
    stop_gracefully,
    table,
)
from bench_grpc import PROCESSOR_ROUND_TRIPS_PER_CALL  # noqa: E402
from bench_grpc import ceiling as grpc_ceiling  # noqa: E402

SAMPLE_HZ = 100
TARGETS = {
    "ratio": 0.75,  # EdgePort max / (gRPC ceiling / 6)
    "own_cpu_us_per_message": 150.0,  # EdgePort CPU per SIP message, gRPC call excluded
    "half_rate_p50_us": 2000.0,
    "half_rate_p99_us": 10000.0,
}


class Stack:
    """uas (UDP and TCP), one reference processor, and an EdgePort that can be started afresh."""

    def __init__(self, workdir: Path, call_ms: int = 1000, edge_prefix: list[str] | None = None,
                 workers: int = 1) -> None:
        self.workdir = workdir
        self.call_ms = call_ms
        self.workers = workers  # EdgePort's --workers
        self.edge_prefix = edge_prefix
        self.limits: dict | None = None  # spec.limits of the next fresh EdgePort
        self.uas: dict[str, tuple[subprocess.Popen, int]] = {}
        self.uas_restarts: list[dict] = []
        self.processor = None
        self.edge = None
        try:
            for transport in ("udp", "tcp"):
                self.uas[transport] = start_uas(transport, workdir)
            routes = {f"service-{t}": (port, t) for t, (_, port) in self.uas.items()}
            routes["service"] = routes["service-udp"]  # bench_grpc's INVITE
            self.processor, self.processor_port = start_processor(workdir, routes)
        except BaseException:
            self.close()
            raise

    @property
    def processor_target(self) -> str:
        return f"127.0.0.1:{self.processor_port}"

    def fresh_edge(self):
        if self.edge is not None:
            stop_gracefully(self.edge.process)
            time.sleep(0.3)
        self.fresh_uas()
        self.edge = start_edgeport(self.workdir, self.processor_port, prefix=self.edge_prefix,
                                   limits=self.limits, workers=self.workers)
        return self.edge

    def fresh_uas(self) -> None:
        """A new uas on the same port: after a failed window the old one keeps retransmitting
        the 200s of thousands of unacknowledged calls for 32 s, a CPU load the next window
        would inherit."""
        for transport, (proc, port) in list(self.uas.items()):
            stop(proc)
            self.uas[transport] = start_uas(transport, self.workdir, port)

    def check_uas(self) -> None:
        """Restart (on the same port) a uas that exited; sipp's TCP uas exits when a connection
        to it is reset, e.g. by a SIGKILLed EdgePort."""
        for transport, (proc, port) in list(self.uas.items()):
            if proc.poll() is not None:
                log(f"the {transport} uas exited ({proc.returncode}): restarted on port {port}")
                self.uas_restarts.append({"transport": transport, "exit": proc.returncode, "load": loadavg()})
                self.uas[transport] = start_uas(transport, self.workdir, port)

    def uac(self, transport: str, rate: float, seconds: float) -> SippRun:
        self.check_uas()
        mode = sipp_socket_per_call(transport) if self.workers > 1 else None
        return run_uac(f"127.0.0.1:{self.edge.port}", rate, max(1, int(rate * seconds)), transport,
                       self.workdir, user=f"service-{transport}", call_ms=self.call_ms, mode=mode)

    def close(self) -> None:
        if self.edge is not None:
            stop_gracefully(self.edge.process, timeout=5.0)
        stop(self.processor)
        for proc, _ in self.uas.values():
            stop(proc)


# -- rates ------------------------------------------------------------------------------------------
def window_run(stack: Stack, transport: str, rate: float, seconds: float) -> dict:
    stack.fresh_edge()
    with Window(stack.edge) as window:
        run = stack.uac(transport, rate, seconds)
    figures = window.figures(max(run.successful, 0))
    figures.update(run.summary())
    return figures


def transport_phase(stack: Stack, transport: str, args) -> dict:
    log(f"EdgePort over {transport}: ramp, {args.step_seconds:g} s per step")
    fresh = [True]

    def trial(rate: float) -> SippRun:
        if fresh[0]:
            stack.fresh_edge()
            fresh[0] = False
        run = stack.uac(transport, rate, args.step_seconds)
        if not run.ok:
            fresh[0] = True
        return run

    best, steps = ramp(trial, args.start_rate, args.max_rate, max_steps=args.max_steps)
    result = {"transport": transport, "ramp_best": best, "steps": [s.summary() for s in steps]}
    if best <= 0:
        result["max"] = None
        return result
    rate, tries = best, []
    for _ in range(3):
        log(f"EdgePort over {transport}: {rate:g} calls/s for {args.confirm_seconds:g} s")
        figures = window_run(stack, transport, rate, args.confirm_seconds)
        tries.append(figures)
        if figures["ok"]:
            break
        rate = math.floor(rate * 0.9)
    result["max_tries"] = [{k: t[k] for k in ("rate", "successful", "failed", "call_rate", "ok")}
                           for t in tries]
    result["max"] = tries[-1] if tries[-1]["ok"] else None
    if result["max"] is None:
        return result
    half = max(1.0, round(rate / 2))
    log(f"EdgePort over {transport}: half rate {half:g} calls/s for {args.confirm_seconds:g} s")
    result["half"] = window_run(stack, transport, half, args.confirm_seconds)
    return result


def own_cpu(figures: dict | None, grpc_cpu_us: float) -> float | None:
    """EdgePort CPU per received message with the gRPC client's share taken out."""
    if not figures or not figures.get("messages_per_call"):
        return None
    per_call_us = figures["cpu_ms_per_call"] * 1e3 - figures["processor_calls_per_call"] * grpc_cpu_us
    return round(per_call_us / figures["messages_per_call"], 1)


def _within(value: float | None, bound: float) -> bool:
    return value is not None and value <= bound


def rates_mode(args) -> dict:
    concurrencies = [int(c) for c in args.grpc_concurrency.split(",")]
    result: dict = {"transports": []}
    with tempfile.TemporaryDirectory(prefix="bench-edgeport-") as tmp:
        stack = Stack(Path(tmp), args.call_ms, workers=args.workers)
        result["workers"] = args.workers
        try:
            pid = stack.processor.popen.pid
            log("gRPC ceiling (before)")
            grpc = [grpc_ceiling(stack.processor_target, concurrencies, args.grpc_seconds, 1, pid)]
            for transport in args.transports.split(","):
                result["transports"].append(transport_phase(stack, transport, args))
            if stack.edge is not None:
                stop_gracefully(stack.edge.process)
                stack.edge = None
            log("gRPC ceiling (after)")
            grpc.append(grpc_ceiling(stack.processor_target, concurrencies, args.grpc_seconds, 1, pid))
            result["uas_restarts"] = stack.uas_restarts
        finally:
            stack.close()
    best_grpc = max(grpc, key=lambda g: g["ceiling_calls_per_s"])
    grpc_cpu_us = min(row["client_cpu_us_per_call"] for g in grpc for row in g["rows"])
    allowed = best_grpc["ceiling_calls_per_s"] / PROCESSOR_ROUND_TRIPS_PER_CALL
    result["grpc"] = grpc
    result["grpc_ceiling_calls_per_s"] = best_grpc["ceiling_calls_per_s"]
    result["grpc_client_cpu_us_per_call"] = grpc_cpu_us
    result["sip_calls_per_s_allowed_by_grpc"] = round(allowed, 1)
    summary = []
    for phase in result["transports"]:
        top, half = phase.get("max"), phase.get("half")
        row = {"transport": phase["transport"]}
        if top:
            row.update({
                "max_cps": top["rate"],
                "ratio": round(top["rate"] / allowed, 2),
                "cpu_ms_per_call": top["cpu_ms_per_call"],
                "cpu_us_per_msg": top["cpu_us_per_message"],
                "own_cpu_us_per_msg": own_cpu(top, grpc_cpu_us),
                "max_p50_us": top["added_p50_us"],
                "max_p99_us": top["added_p99_us"],
                "vmhwm_mb": round(top["vmhwm_kb"] / 1024, 1),
            })
        if half:
            row.update({
                "half_cps": half["rate"],
                "half_ok": half["ok"],
                "half_p50_us": half["added_p50_us"],
                "half_p99_us": half["added_p99_us"],
                "half_mean_us": half["added_mean_us"],
                "half_own_cpu_us_per_msg": own_cpu(half, grpc_cpu_us),
                "half_processor_p50_us": half["processor_p50_us"],
            })
        row["met"] = {
            "ratio": row.get("ratio") is not None and row["ratio"] >= TARGETS["ratio"],
            "own_cpu": _within(row.get("own_cpu_us_per_msg"), TARGETS["own_cpu_us_per_message"]),
            "half_p50": _within(row.get("half_p50_us"), TARGETS["half_rate_p50_us"]),
            "half_p99": _within(row.get("half_p99_us"), TARGETS["half_rate_p99_us"]),
        }
        summary.append(row)
    result["summary"] = summary
    return result


def print_rates(result: dict) -> None:
    for phase in result["transports"]:
        print(f"\n{phase['transport'].upper()} ramp ({len(phase['steps'])} steps):")
        print(table(phase["steps"], [("rate", "asked/s"), ("calls", "calls"), ("successful", "ok"),
                                     ("failed", "failed"), ("call_rate", "sipp cps"),
                                     ("invite_retrans", "INVITE retrans"), ("ok", "pass"), ("load", "load")]))
        windows = [dict(phase[k], window=k) for k in ("max", "half") if phase.get(k)]
        for w in windows:
            if w.get("added_p99_above_buckets"):
                w["added_p99_us"] = f">{w['added_p99_us']}"
        if windows:
            print(f"{phase['transport'].upper()} windows:")
            print(table(windows, [
                ("window", "window"), ("rate", "calls/s"), ("successful", "calls"), ("failed", "failed"),
                ("messages_per_call", "msgs/call"), ("processor_calls_per_call", "proc calls/call"),
                ("added_p50_us", "added p50 us"), ("added_p99_us", "added p99 us"),
                ("added_mean_us", "added mean us"), ("processor_p50_us", "proc p50 us"),
                ("processor_p99_us", "proc p99 us"), ("cpu_ms_per_call", "CPU ms/call"),
                ("cpu_us_per_message", "CPU us/msg"), ("vmhwm_kb", "VmHWM kB"), ("load", "load"),
            ]))
    print(f"\ngRPC ceiling (best of before/after): {result['grpc_ceiling_calls_per_s']:,.0f} calls/s "
          f"-> {result['sip_calls_per_s_allowed_by_grpc']:g} SIP calls/s at 6 round trips per call; "
          f"gRPC client CPU {result['grpc_client_cpu_us_per_call']} us/call")
    for g, when in zip(result["grpc"], ("before", "after"), strict=False):
        print(f"  {when}: " + ", ".join(f"x{r['concurrency']} {r['calls_per_s']:,.0f}/s" for r in g["rows"]))
    print(f"\nSummary, EdgePort --workers {result['workers']} (targets: ratio >= 0.75, own CPU <= 150 "
          "us/msg, half-rate p50 <= 2000 us, p99 <= 10000 us)")
    rows = [{**r, "met": " ".join(k for k, v in r["met"].items() if v) or "none"} for r in result["summary"]]
    print(table(rows, [
        ("transport", "transport"), ("max_cps", "max cps"), ("ratio", "ratio"),
        ("cpu_ms_per_call", "CPU ms/call"), ("cpu_us_per_msg", "CPU us/msg"),
        ("own_cpu_us_per_msg", "own CPU us/msg"), ("half_cps", "half cps"), ("half_p50_us", "half p50 us"),
        ("half_p99_us", "half p99 us"), ("vmhwm_mb", "VmHWM MB"), ("met", "targets met"),
    ]))


# -- memory -----------------------------------------------------------------------------------------
def memory_mode(args) -> dict:
    checkpoints = [int(n) for n in args.memory_calls.split(",")]
    rate = args.memory_rate
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-edgeport-mem-") as tmp:
        stack = Stack(Path(tmp), args.call_ms)
        try:
            edge = stack.fresh_edge()
            start_kb = status_kb(edge.pid, "VmHWM")
            done = failed = 0
            chunks = []  # after every sipp run: when memory grew, and whether sipp saw trouble then
            seen = 0  # EdgePort log lines already looked at
            for checkpoint in checkpoints:
                while done < checkpoint:  # sipp runs of at most ~100 s each
                    chunk = min(checkpoint - done, int(rate * 100))
                    log(f"memory: {chunk} calls at {rate:g}/s (done {done})")
                    run = stack.uac("udp", rate, chunk / rate)
                    if run.errors:
                        log(f"memory: sipp errors: {run.errors[:2]}")
                    output = edge.process.output
                    notable = [line for line in output[seen:] if " WARNING " in line or " ERROR " in line]
                    seen = len(output)
                    if notable:  # what EdgePort said about it, if anything
                        log(f"memory: EdgePort logged {len(notable)} warnings: {notable[:3]}")
                    done += run.calls
                    failed += run.calls - max(run.successful, 0)
                    measured = _chunk_row(edge.pid, done, failed, run)
                    chunks.append(measured)
                    log(f"memory: VmRSS {measured['vmrss_kb']:,} kB, VmHWM {measured['vmhwm_kb']:,} kB, "
                        f"{measured['threads']} threads")
                after = scrape(edge.ops_port)
                rows.append({
                    "calls": done,
                    "failed": failed,
                    "vmhwm_kb": status_kb(edge.pid, "VmHWM"),
                    "vmrss_kb": status_kb(edge.pid, "VmRSS"),
                    "transactions_open": after.gauges.get("edgeport_transactions_open"),
                    "cpu_s": round(cpu_seconds(edge.pid), 1),
                    "load": loadavg(),
                })
        finally:
            stack.close()
    first, last = rows[0], rows[-1]
    growth = (last["vmhwm_kb"] - first["vmhwm_kb"]) / first["vmhwm_kb"]
    calls = last["calls"] - first["calls"]
    per_call = (last["vmrss_kb"] - first["vmrss_kb"]) * 1024 / calls if calls else 0.0
    at_100k = last["vmrss_kb"] + per_call * (100_000 - last["calls"]) / 1024
    return {"rate": rate, "checkpoints": rows, "chunks": chunks, "vmhwm_at_start_kb": start_kb,
            "growth": round(growth, 4), "flat_within_10pct": abs(growth) <= 0.10,
            "rss_bytes_per_call": round(per_call, 1), "rss_at_100k_calls_kb_extrapolated": round(at_100k)}


def _chunk_row(pid: int, done: int, failed: int, run: SippRun) -> dict:
    return {"calls": done, "failed": failed, "sipp_errors": len(run.errors),
            "vmrss_kb": status_kb(pid, "VmRSS"), "vmhwm_kb": status_kb(pid, "VmHWM"),
            "threads": len(os.listdir(f"/proc/{pid}/task"))}


def print_memory(result: dict) -> None:
    print(f"EdgePort memory over UDP at {result['rate']:g} calls/s (VmHWM at start "
          f"{result['vmhwm_at_start_kb']:,} kB)")
    print(table(result["checkpoints"], [("calls", "calls"), ("failed", "failed"), ("vmhwm_kb", "VmHWM kB"),
                                        ("vmrss_kb", "VmRSS kB"), ("transactions_open", "transactions"),
                                        ("cpu_s", "CPU s"), ("load", "load")]))
    verdict = "flat (no leak)" if result["flat_within_10pct"] else "NOT flat"
    print(f"peak RSS growth first -> last checkpoint: {result['growth']:+.1%}: {verdict}; RSS slope "
          f"{result['rss_bytes_per_call']} bytes/call (at 100,000 calls: "
          f"~{result['rss_at_100k_calls_kb_extrapolated']:,} kB)")


# -- profile ----------------------------------------------------------------------------------------
# (area, substrings of frame names): a stack belongs to the first area one of its frames matches
AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("gRPC call (ProcessorClient.process and below)", (":ProcessorClient.process",)),
    ("SIP -> protobuf (convert/to_proto, message_request)",
     ("edgeport_lib/convert/to_proto", ":message_request")),
    ("protobuf -> SIP (convert/from_proto)", ("edgeport_lib/convert/",)),
    ("SIP parse / serialize / headers (sip/)", ("edgeport_lib/sip/",)),
    ("transactions.py", ("edgeport_lib/transactions",)),
    ("routing.py", ("edgeport_lib/routing",)),
    ("ops/metrics.py", ("edgeport_lib/ops/metrics",)),
    ("timers (Edge._start_timer, Edge._fire_timer)", (":Edge._start_timer", ":Edge._fire_timer")),
    ("edge.py and transports, own code", ("edgeport_lib/",)),
    ("gevent hub and threadpool, outside a message", ("gevent/",)),
    ("other", ("",)),
]


def _area(frames: list[str]) -> str:
    return next(name for name, marks in AREAS if any(m in f for f in frames for m in marks))


def parse_raw(path: Path) -> tuple[int, Counter, Counter, Counter]:
    """py-spy raw (collapsed) stacks -> total samples, own and inclusive samples per frame, and
    samples per area (AREAS)."""
    own: Counter = Counter()
    inclusive: Counter = Counter()
    areas: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame_name(f) for f in stack.split(";")
                  if "(" in f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
        areas[_area(frames)] += n
    return total, own, inclusive, areas


def _frame_name(frame: str) -> str:
    """``func (/full/path/file.py:12)`` -> ``package/file.py:func`` (repository or site-packages
    relative; the standard library as ``stdlib/file.py``)."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{REPO}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        if "/lib/python3" in path:
            path = "stdlib/" + path.rsplit("/", 1)[-1]
    return f"{path}:{func}"


def profile_mode(args) -> dict:
    py_spy = shutil.which("py-spy") or str(REPO / ".venv" / "bin" / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("py-spy not found: .venv/bin/pip install py-spy")
    out = Path(args.profile_out)
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "edgeport-udp.txt"
    seconds, rate = args.profile, args.profile_rate
    with tempfile.TemporaryDirectory(prefix="bench-edgeport-prof-") as tmp:
        stack = Stack(Path(tmp), args.call_ms)
        try:
            edge = stack.fresh_edge()
            runs: list[SippRun] = []
            load = threading.Thread(target=lambda: runs.append(stack.uac("udp", rate, seconds + 8)))
            load.start()
            time.sleep(3)
            log(f"py-spy: {seconds:g} s of EdgePort (pid {edge.pid}) at {rate:g} calls/s over UDP")
            base = [py_spy, "record", "--pid", str(edge.pid), "--duration", str(int(seconds)),
                    "--rate", str(SAMPLE_HZ), "--function", "--gil", "--full-filenames"]
            recorder = subprocess.run([*base, "--format", "raw", "-o", str(raw)],
                                      capture_output=True, text=True)
            if recorder.returncode != 0:
                raise RuntimeError(f"py-spy failed: {recorder.stderr[-2000:]}")
            load.join()
        finally:
            stack.close()
    total, own, inclusive, areas = parse_raw(raw)
    pct = lambda n: round(100.0 * n / total, 1)  # noqa: E731
    top_own = [{"function": f, "own_pct": pct(n), "inclusive_pct": pct(inclusive[f])}
               for f, n in own.most_common(args.top)]
    top_inclusive = [{"function": f, "inclusive_pct": pct(n), "own_pct": pct(own[f])}
                     for f, n in inclusive.most_common() if not f.endswith(("<module>", ":run", ":main"))
                     ][: args.top]
    by_area = [{"area": name, "pct": pct(areas[name])} for name, _ in AREAS if areas[name]]
    run = runs[0].summary() if runs else None
    return {"rate": rate, "seconds": seconds, "samples": total, "raw": str(raw),
            "gil_busy": round(total / (seconds * SAMPLE_HZ), 2),
            "load": run, "top_own": top_own, "top_inclusive": top_inclusive, "by_area": by_area}


def print_profile(result: dict) -> None:
    load = result["load"] or {}
    print(f"py-spy --gil, {result['samples']:,} samples over {result['seconds']:g} s (GIL busy "
          f"{result['gil_busy']:.0%}), EdgePort at "
          f"{result['rate']:g} calls/s over UDP (sipp: {load.get('successful')} ok, "
          f"{load.get('failed')} failed; load {load.get('load')})")
    print("Top by own samples:")
    print(table(result["top_own"], [("function", "file:function"), ("own_pct", "own %"),
                                    ("inclusive_pct", "incl %")]))
    print("Top by inclusive samples:")
    print(table(result["top_inclusive"], [("function", "file:function"), ("inclusive_pct", "incl %"),
                                          ("own_pct", "own %")]))
    print("By area (each sample counted once, first matching area):")
    print(table(result["by_area"], [("area", "area"), ("pct", "% of samples")]))
    print(f"raw stacks: {result['raw']}")


# -- garbage collector --------------------------------------------------------------------------
# Runs edgeport.py (argv[2:]) with a gc callback; every gen2 collection and every 100th gen0 one
# prints the running totals per generation: count, pause seconds, longest pause, objects.
GC_WRAPPER = """
import gc, json, runpy, sys, time
totals = {g: [0, 0.0, 0.0] for g in (0, 1, 2)}
started = [0.0]
def watch(phase, info):
    if phase == "start":
        started[0] = time.perf_counter()
        return
    pause = time.perf_counter() - started[0]
    t = totals[info["generation"]]
    t[0] += 1; t[1] += pause; t[2] = max(t[2], pause)
    if info["generation"] == 2 or totals[0][0] % 100 == 0:
        print("GCSTATS " + json.dumps(totals), flush=True)
gc.callbacks.append(watch)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _gc_totals(edge) -> dict[str, list[float]]:
    lines = [line for line in edge.process.output if line.startswith("GCSTATS ")]
    return json.loads(lines[-1][8:]) if lines else {g: [0, 0.0, 0.0] for g in ("0", "1", "2")}


def gc_mode(args) -> dict:
    """EdgePort (through GC_WRAPPER) under UDP load: time spent in the cyclic garbage collector."""
    seconds, rate = args.gc, args.profile_rate
    with tempfile.TemporaryDirectory(prefix="bench-edgeport-gc-") as tmp:
        stack = Stack(Path(tmp), args.call_ms, edge_prefix=[PYTHON, "-c", GC_WRAPPER])
        try:
            edge = stack.fresh_edge()
            warm = stack.uac("udp", rate, 35)  # past the 32 s the UDP transactions live: steady state
            before, cpu_before, started = _gc_totals(edge), cpu_seconds(edge.pid), time.perf_counter()
            with Window(edge) as window:
                run = stack.uac("udp", rate, seconds)
            wall = time.perf_counter() - started
            after, cpu = _gc_totals(edge), cpu_seconds(edge.pid) - cpu_before
            transactions = window.after.gauges.get("edgeport_transactions_open")
        finally:
            stack.close()
    rows = []
    for gen in ("0", "1", "2"):
        count = after[gen][0] - before[gen][0]
        pause = after[gen][1] - before[gen][1]
        rows.append({"generation": int(gen), "collections": int(count), "pause_ms": round(pause * 1e3, 1),
                     "mean_ms": round(pause / count * 1e3, 2) if count else None,
                     "longest_ms_so_far": round(after[gen][2] * 1e3, 1)})
    total = sum(r["pause_ms"] for r in rows) / 1e3
    return {"rate": rate, "seconds": seconds, "warm_up": warm.summary(), "load": run.summary(), "rows": rows,
            "gc_s": round(total, 2), "gc_share_of_wall": round(total / wall, 3),
            "gc_share_of_cpu": round(total / cpu, 3) if cpu else None,
            "gc_ms_per_call": round(total / max(run.successful, 1) * 1e3, 3),
            "transactions_open": transactions}


def print_gc(result: dict) -> None:
    load = result["load"]
    print(f"cyclic GC in EdgePort at {result['rate']:g} calls/s over UDP for {result['seconds']:g} s after "
          f"35 s of warm-up ({load['successful']} ok, {load['failed']} failed; {result['transactions_open']} "
          f"transactions open; load {load['load']})")
    print(table(result["rows"], [("generation", "gen"), ("collections", "collections"),
                                 ("pause_ms", "pause ms"), ("mean_ms", "mean ms"),
                                 ("longest_ms_so_far", "longest ms (since start)")]))
    print(f"GC: {result['gc_s']} s = {result['gc_share_of_wall']:.1%} of wall time, "
          f"{result['gc_share_of_cpu']:.1%} of EdgePort's CPU, {result['gc_ms_per_call']} ms per call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transports", default="udp,tcp", help="comma list (default udp,tcp)")
    parser.add_argument("--step-seconds", type=float, default=10.0, help="ramp step length (default 10)")
    parser.add_argument("--confirm-seconds", type=float, default=30.0,
                        help="max and half windows (default 30)")
    parser.add_argument("--start-rate", type=float, default=40.0,
                        help="first ramp step, calls/s (default 40)")
    parser.add_argument("--max-rate", type=float, default=2000.0, help="never ask more (default 2000)")
    parser.add_argument("--max-steps", type=int, default=8, help="bound on ramp steps (default 8)")
    parser.add_argument("--call-ms", type=int, default=1000,
                        help="call length, sipp -d: pause between ACK and BYE (default 1000)")
    parser.add_argument("--grpc-concurrency", default="1,10,50",
                        help="for the gRPC ceiling (default 1,10,50)")
    parser.add_argument("--grpc-seconds", type=float, default=4.0, help="per gRPC run (default 4)")
    parser.add_argument("--memory", action="store_true", help="run the memory check instead")
    parser.add_argument("--memory-calls", default="3000,6000,10000",
                        help="checkpoints (default 3000,6000,10000)")
    parser.add_argument("--memory-rate", type=float, default=55.0, help="calls/s (default 55)")
    parser.add_argument("--profile", type=float, metavar="S", help="py-spy EdgePort for S seconds instead")
    parser.add_argument("--profile-rate", type=float, default=60.0,
                        help="calls/s while profiling or counting GC (default 60)")
    parser.add_argument("--gc", type=float, metavar="S",
                        help="time EdgePort's garbage collector for S seconds under UDP load instead")
    parser.add_argument("--profile-out", default=str(Path(tempfile.gettempdir()) / "edgeport-profile"),
                        help="directory for the raw stacks (default /tmp/edgeport-profile)")
    parser.add_argument("--top", type=int, default=15, help="functions listed (default 15)")
    parser.add_argument("--workers", type=int, default=1,
                        help="EdgePort's --workers for the rates (default 1; the other modes use 1)")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    args = parser.parse_args()
    if args.workers != 1 and (args.memory or args.profile or args.gc):
        parser.error("--workers applies to the rates only")

    load_before = loadavg()
    if args.memory:
        mode, result, show = "memory", memory_mode(args), print_memory
    elif args.profile:
        mode, result, show = "profile", profile_mode(args), print_profile
    elif args.gc:
        mode, result, show = "gc", gc_mode(args), print_gc
    else:
        mode, result, show = "rates", rates_mode(args), print_rates
    result.update({
        "bench": f"edgeport_{mode}",
        "command": " ".join([".venv/bin/python", "bench/bench_edgeport.py", *sys.argv[1:]]),
        "targets": TARGETS,
        "python": platform.python_version(),
        "load_before": load_before,
        "load_after": loadavg(),
    })
    if args.json:
        print(json.dumps(result))
        return
    print(f"{mode}: load {load_before} -> {result['load_after']}")
    show(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
