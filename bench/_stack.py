"""Shared helpers for the call benchmarks (bench_sipp_ceiling, bench_grpc, bench_edgeport).

Real processes on loopback, as in tests/e2e: sipp (uac and uas), the reference processor and
EdgePort. Also: ramping a call rate, scraping EdgePort's Prometheus metrics, reading CPU time and
memory from /proc, and printing tables. Every port is picked free at start (other people's sipp
and EdgePorts run on this machine too), and every process started here is killed here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from tests.e2e.stack import free_udp_tcp_port  # noqa: E402
from tests.helpers import PYTHON, Process, free_port, start_process  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVICE = "service"  # the static route's user: sip:service@edgeport goes to the uas


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def log(text: str) -> None:
    """Progress on stderr (stdout stays for the table and the JSON)."""
    print(f"[{time.strftime('%H:%M:%S')} load {loadavg()}] {text}", file=sys.stderr, flush=True)


# -- /proc ------------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (EdgePort's workers under ``--workers N``)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def tree_cpu(pid: int) -> float:
    """utime + stime so far of ``pid`` and of its children that are still running."""
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            total += cpu_seconds(p)
        except OSError:
            pass
    return total


def thread_cpu_seconds(pid: int, name: str) -> float:
    """utime + stime so far of the threads of ``pid`` named ``name`` (0 when there is none)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() != name:
                continue
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def status_kb(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` value in kB: VmHWM (peak RSS), VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


# -- sipp -------------------------------------------------------------------------------------------
@dataclass
class SippRun:
    """One sipp uac run: ``calls`` calls at ``rate`` calls/s."""

    rate: float
    calls: int
    transport: str
    call_ms: int = 0  # sipp -d: the pause between ACK and BYE
    wall_s: float = 0.0
    created: int = -1
    successful: int = -1
    failed: int = -1
    call_rate: float = 0.0  # sipp's cumulative "Call Rate"
    invite_retrans: int = -1
    returncode: int = -1
    load: str = ""
    errors: list[str] = field(default_factory=list)  # the first few of sipp's -trace_err events
    tail: str = field(default="", repr=False)

    @property
    def planned_s(self) -> float:
        return self.calls / self.rate + self.call_ms / 1000

    @property
    def ok(self) -> bool:
        """Every call succeeded, none failed, and the run ended within 2 s of its planned length
        (calls / rate + call length): sipp kept the asked rate and no backlog built up."""
        return (
            self.failed == 0
            and self.successful == self.calls
            and self.returncode == 0
            and self.wall_s <= self.planned_s + 2.0
        )

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("tail")
        data["ok"] = self.ok
        return data


def _cumulative(output: str, name: str) -> str | None:
    match = re.search(rf"{name}\s*\|[^|]*\|\s*([\d.]+)", output)
    return match.group(1) if match else None


def sipp_mode(transport: str) -> list[str]:
    return ["-t", "t1"] if transport == "tcp" else []


def sipp_socket_per_call(transport: str) -> list[str]:
    """sipp's options for one socket (one source port) per call: the kernel then spreads the
    calls over EdgePort's --workers by source address, where one socket would give all to one."""
    return ["-t", "un" if transport == "udp" else "tn", "-max_socket", "5000"]


def run_uac(remote: str, rate: float, calls: int, transport: str, workdir: Path,
            recv_timeout_ms: int = 5000, user: str = SERVICE, call_ms: int = 0,
            mode: list[str] | None = None) -> SippRun:
    """sipp's built-in ``uac`` to ``sip:USER@remote``: ``calls`` calls at ``rate`` per second,
    each ``call_ms`` long (sipp -d, the pause between ACK and BYE).

    Open loop (-l far above what is ever open): calls start on schedule whatever the answers.
    A call fails when an expected message is more than ``recv_timeout_ms`` late (-recv_timeout)
    or after sipp's retransmissions run out. ``mode``: sipp's transport options instead of
    ``sipp_mode(transport)`` (e.g. ``-t un``: one socket, so one source port, per call).
    """
    run = SippRun(rate=rate, calls=calls, transport=transport, call_ms=call_ms)
    port = free_port(transport)
    error_file = workdir / f"uac-{port}-errors.log"
    args = [
        "sipp", "-sn", "uac", "-i", "127.0.0.1", "-p", str(port), *(mode or sipp_mode(transport)),
        "-s", user, remote, "-m", str(calls), "-r", f"{rate:g}", "-l", "10000", "-d", str(call_ms),
        "-recv_timeout", str(recv_timeout_ms), "-timeout", f"{calls / rate + call_ms / 1000 + 30:.0f}",
        "-nostdin",
        "-trace_err", "-error_file", str(error_file),
    ]
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=workdir,
                          timeout=calls / rate + call_ms / 1000 + 60)
    run.wall_s = round(time.perf_counter() - started, 2)
    output = proc.stdout + proc.stderr
    run.returncode = proc.returncode
    run.load = loadavg()
    run.tail = output[-4000:]
    for attr, name in (("created", "Total Calls created"), ("successful", "Successful call"),
                       ("failed", "Failed call")):
        value = _cumulative(output, name)
        setattr(run, attr, int(value) if value is not None else -1)
    value = _cumulative(output, "Call Rate")
    run.call_rate = float(value) if value is not None else 0.0
    match = re.search(r"INVITE ---------->\s+(\d+)\s+(\d+)", output)
    run.invite_retrans = int(match.group(2)) if match else -1
    if error_file.exists():
        events = re.findall(r"\d+\.\d+: (.+?)(?=\d{4}-\d\d-\d\d\t|\Z)", error_file.read_text(), re.S)
        run.errors = [e.strip()[:300] for e in events if "open files" not in e][:5]
        error_file.unlink()
    return run


def start_uas(transport: str, workdir: Path, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """sipp's built-in ``uas`` on ``port`` or a free one; checked alive (a busy port makes sipp
    exit). Over TCP (-t t1) sipp's uas exits when a peer resets its connection."""
    wanted = port
    for _ in range(5):
        port = wanted or free_port(transport)
        proc = subprocess.Popen(
            ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), *sipp_mode(transport), "-nostdin"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
        )
        time.sleep(0.4)
        if proc.poll() is None:
            return proc, port
    raise RuntimeError("sipp uas would not start")


def stop_gracefully(proc: Process, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``: EdgePort closes its connections with a FIN
    instead of the reset a SIGKILL causes (which makes sipp's TCP uas exit)."""
    if proc.popen.poll() is None:
        proc.popen.terminate()
        try:
            proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    proc.kill()


def stop(proc: subprocess.Popen | Process | None) -> None:
    if proc is None:
        return
    if isinstance(proc, Process):
        proc.kill()
        return
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


# -- ramp -------------------------------------------------------------------------------------------
def ramp(trial: Callable[[float], SippRun], start: float, limit: float, max_steps: int = 9,
         precision: float = 1.12) -> tuple[float, list[SippRun]]:
    """The highest rate whose trial passes: double from ``start`` until a trial fails (or
    ``limit``), then bisect until the pass/fail rates are within ``precision`` of each other."""
    runs: list[SippRun] = []
    good, bad = 0.0, None
    rate = start
    while len(runs) < max_steps:
        run = trial(rate)
        runs.append(run)
        log(f"  {run.transport} {rate:g}/s x {run.calls}: ok={run.ok} successful={run.successful} "
            f"failed={run.failed} sipp rate={run.call_rate:.1f} retrans={run.invite_retrans}")
        if run.ok:
            good = rate
        else:
            bad = rate
        if bad is None:
            if rate >= limit:
                break
            rate = min(rate * 2, limit)
            continue
        if good == 0.0:
            if rate <= start / 8:
                break
            rate = rate / 2
            continue
        if bad / good <= precision:
            break
        rate = round((good * bad) ** 0.5, 0)
    return good, runs


# -- processes ----------------------------------------------------------------------------------
def start_processor(workdir: Path, routes: dict[str, tuple[int, str]]) -> tuple[Process, int]:
    """The reference processor with static routes ``{user: (port on 127.0.0.1, transport)}``."""
    port = free_port("tcp")
    path = workdir / "routes.yaml"
    path.write_text(yaml.safe_dump({"routes": {
        user: {"host": "127.0.0.1", "port": uas_port, "transport": transport}
        for user, (uas_port, transport) in routes.items()
    }}))
    args = [PYTHON, "-m", "edgeport_lib.reference_processor", "--bind", f"127.0.0.1:{port}",
            "--routes", str(path), "--log-level", "WARNING"]
    return start_process(args, ready_line="listening on", timeout=30), port


@dataclass
class EdgeProcess:
    process: Process
    port: int
    ops_port: int
    workers: int = 1

    @property
    def pid(self) -> int:
        return self.process.popen.pid

    @property
    def ops_ports(self) -> list[int]:
        """Worker i serves /metrics on spec.ops.port + i (edgeport_lib/workers.py)."""
        return [self.ops_port + i for i in range(self.workers)]

    def processes(self) -> list[int]:
        """The pids doing the work: EdgePort itself, or its workers under ``--workers N``."""
        return children(self.pid) if self.workers > 1 else [self.pid]


def start_edgeport(workdir: Path, processor_port: int, env: dict | None = None,
                   prefix: list[str] | None = None, limits: dict | None = None,
                   workers: int = 1) -> EdgeProcess:
    """EdgePort on UDP and TCP (same port) with its /metrics on a free port (ENABLE_HEALTHCHECKS).

    ``prefix``: a command put before ``python edgeport.py`` (e.g. a profiler); ``limits``:
    ``spec.limits`` (the defaults when None); ``workers``: ``--workers N``, each worker with
    /metrics on the next port (those ports are checked free too).
    """
    port = free_udp_tcp_port()
    ops_port = free_port("tcp")
    while workers > 1 and not all(_port_free(ops_port + i) for i in range(1, workers)):
        ops_port = free_port("tcp")
    config = {
        "kind": "EdgePort", "apiVersion": "v2beta1", "ref": "edgeport-bench",
        "spec": {
            "transport": [{"protocol": p, "port": port, "bindAddr": "127.0.0.1"} for p in ("udp", "tcp")],
            "methods": ["REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"],
            "processor": {"addr": f"127.0.0.1:{processor_port}"},
            "localnets": ["127.0.0.1/8"],
            "ops": {"bindAddr": "127.0.0.1", "port": ops_port},
            "shutdownGracePeriod": 0,  # a restart between ramp steps need not wait for calls
        },
    }
    if limits:
        config["spec"]["limits"] = limits
    path = workdir / "edgeport.yaml"
    path.write_text(yaml.safe_dump(config))
    child_env = {"ENABLE_HEALTHCHECKS": "true", **(env or {})}
    command = [*(prefix or []), PYTHON, str(REPO / "edgeport.py"), str(path)]
    if workers > 1:
        command += ["--workers", str(workers)]
    process = start_process(command, ready_line="workers ready" if workers > 1 else "ready:",
                            timeout=30, env=child_env)
    return EdgeProcess(process, port, ops_port, workers)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# -- metrics ----------------------------------------------------------------------------------------
@dataclass
class Scrape:
    """The parts of one /metrics answer the benches use."""

    histograms: dict[str, dict[float, float]]  # name -> {le: cumulative count}
    sums: dict[str, float]
    received: float  # edgeport_sip_messages_received_total, every label
    sent: float
    gauges: dict[str, float]  # name -> sum over labels


def scrape(ops_port: int) -> Scrape:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{ops_port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    histograms: dict[str, dict[float, float]] = {}
    sums: dict[str, float] = {}
    counters = {"edgeport_sip_messages_received": 0.0, "edgeport_sip_messages_sent": 0.0}
    gauges: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.type == "histogram":
            buckets = histograms.setdefault(family.name, {})
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    buckets[float(sample.labels["le"])] = sample.value
                elif sample.name.endswith("_sum"):
                    sums[family.name] = sample.value
        elif family.name in counters:
            counters[family.name] = sum(s.value for s in family.samples if s.name.endswith("_total"))
        elif family.type == "gauge":
            gauges[family.name] = sum(s.value for s in family.samples)
    return Scrape(histograms, sums, counters["edgeport_sip_messages_received"],
                  counters["edgeport_sip_messages_sent"], gauges)


def scrape_all(ops_ports: list[int]) -> Scrape:
    """One Scrape summing those of every port (every worker's)."""
    total = Scrape({}, {}, 0.0, 0.0, {})
    for one in (scrape(port) for port in ops_ports):
        for name, buckets in one.histograms.items():
            into = total.histograms.setdefault(name, {})
            for le, count in buckets.items():
                into[le] = into.get(le, 0.0) + count
        for name, value in one.sums.items():
            total.sums[name] = total.sums.get(name, 0.0) + value
        for name, value in one.gauges.items():
            total.gauges[name] = total.gauges.get(name, 0.0) + value
        total.received += one.received
        total.sent += one.sent
    return total


def histogram_delta(before: Scrape, after: Scrape, name: str) -> tuple[list[tuple[float, float]], float]:
    """[(le, cumulative count)] of the observations between two scrapes, and their sum."""
    b, a = before.histograms.get(name, {}), after.histograms[name]
    buckets = sorted((le, a[le] - b.get(le, 0.0)) for le in a)
    return buckets, after.sums.get(name, 0.0) - before.sums.get(name, 0.0)


def above_buckets(buckets: list[tuple[float, float]], q: float) -> bool:
    """The q-th observation is above the last finite bound (quantile() then answers that bound)."""
    finite = [count for le, count in buckets if le != float("inf")]
    return bool(buckets) and buckets[-1][1] > 0 and finite[-1] < q * buckets[-1][1]


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus-style histogram_quantile: linear inside the bucket holding the q-th observation.
    Above the last finite bound it answers that bound (a lower bound of the truth)."""
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lower_bound
            inside = count - lower_count
            return lower_bound + (le - lower_bound) * ((rank - lower_count) / inside if inside else 1.0)
        lower_bound, lower_count = le, count
    return lower_bound


@dataclass
class Window:
    """EdgePort's view of one load window: scrape + /proc before and after."""

    edge: EdgeProcess
    before: Scrape | None = None
    cpu_before: float = 0.0
    after: Scrape | None = None
    cpu_after: float = 0.0

    def __enter__(self) -> Window:
        self.before = scrape_all(self.edge.ops_ports)
        self.cpu_before = tree_cpu(self.edge.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu_after = tree_cpu(self.edge.pid)
        self.after = scrape_all(self.edge.ops_ports)

    def figures(self, calls: int) -> dict:
        handling, handling_sum = histogram_delta(self.before, self.after, "edgeport_message_handling_seconds")
        processor, processor_sum = histogram_delta(self.before, self.after, "edgeport_processor_call_seconds")
        messages = handling[-1][1]
        processor_calls = processor[-1][1]
        cpu = self.cpu_after - self.cpu_before
        us = lambda s: None if s is None else round(s * 1e6, 1)  # noqa: E731
        return {
            "calls": calls,
            "messages_received": int(self.after.received - self.before.received),
            "messages_sent": int(self.after.sent - self.before.sent),
            "handled_messages": int(messages),
            "messages_per_call": round(messages / calls, 2) if calls else None,
            "processor_calls": int(processor_calls),
            "processor_calls_per_call": round(processor_calls / calls, 2) if calls else None,
            "added_p50_us": us(quantile(handling, 0.50)),
            "added_p99_us": us(quantile(handling, 0.99)),
            "added_p99_above_buckets": above_buckets(handling, 0.99),
            "added_mean_us": us(handling_sum / messages) if messages else None,
            "processor_p50_us": us(quantile(processor, 0.50)),
            "processor_p99_us": us(quantile(processor, 0.99)),
            "processor_mean_us": us(processor_sum / processor_calls) if processor_calls else None,
            "cpu_s": round(cpu, 2),
            "cpu_ms_per_call": round(cpu / calls * 1e3, 3) if calls else None,
            "cpu_us_per_message": round(cpu / messages * 1e6, 1) if messages else None,
            # with workers: the sum over them (each has its own peak)
            "vmhwm_kb": sum(status_kb(pid, "VmHWM") for pid in self.edge.processes()),
            "vmrss_kb": sum(status_kb(pid, "VmRSS") for pid in self.edge.processes()),
        }


# -- output -----------------------------------------------------------------------------------------
def table(rows: Iterable[dict], columns: list[tuple[str, str]]) -> str:
    """A plain text table; ``columns`` is [(key, heading)]; None prints as '-'."""
    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    cells = [[cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max([len(head)] + [len(r[i]) for r in cells]) for i, (_, head) in enumerate(columns)]
    lines = ["  ".join(head.rjust(w) for (_, head), w in zip(columns, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
