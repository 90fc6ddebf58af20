"""`--workers 2`: real calls through two EdgePort processes sharing the ports, hand-offs between
them, SIGTERM of the parent, a killed worker restarted, start-up failures."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time

import pytest
import yaml

from tests.helpers import PYTHON, REPO_ROOT, free_port, start_process

from .sipclient import TcpPeer, UdpPeer, request, response_to
from .stack import edge_config, free_udp_tcp_port, run_sipp, start_processor, start_sipp

READY = "workers ready"


def start_workers(tmp_path, processor_port: int, workers: str = "2", env: dict | None = None, port=None):
    port = port or free_udp_tcp_port()
    path = tmp_path / "edgeport.yaml"
    path.write_text(yaml.safe_dump(edge_config(port, processor_port, shutdownGracePeriod=1)))
    args = [PYTHON, str(REPO_ROOT / "edgeport.py"), str(path)]
    if env is None:
        args += ["--workers", workers]
    process = start_process(args, ready_line=READY, timeout=30, env=env)
    return process, port


def worker_pids(process) -> list[int]:
    line = next(line for line in process.output if READY in line)
    return [int(pid) for pid in re.search(r"pids ([\d, ]+)", line).group(1).split(", ")]


def stop(process) -> int:
    process.popen.send_signal(signal.SIGTERM)
    return process.popen.wait(timeout=30)


def handoff_counts(process) -> dict[int, tuple[int, int]]:
    """worker -> (hand-offs sent, received), from each worker's last log line."""
    counts = {}
    for line in process.output:
        match = re.search(r"worker (\d+) hand-offs: (\d+) sent, (\d+) received", line)
        if match:
            counts[int(match.group(1))] = (int(match.group(2)), int(match.group(3)))
    return counts


def calls(edge_port: int, route: str, transport: str, count: int, tmp_path) -> None:
    """`count` calls, each from its own socket (source port): the kernel spreads them over the workers."""
    mode = ["-t", "un"] if transport == "udp" else ["-t", "tn"]
    result = run_sipp(
        ["-sn", "uac", "-i", "127.0.0.1", "-p", str(free_port(transport)), *mode, "-max_socket", "1000",
         "-s", route, f"127.0.0.1:{edge_port}", "-m", str(count), "-r", "50", "-l", "40", "-timeout", "60"],
        cwd=tmp_path,
    )
    assert (result.successful, result.failed) == (count, 0), result.output[-3000:]


def test_calls_over_udp_and_tcp_with_responses_handed_between_workers(tmp_path, sipp_procs):
    """The UAS answers from one address, so the kernel gives all its responses to one worker:
    those for calls held by the other worker must be handed over, or those calls fail."""
    udp_uas, tcp_uas = free_port("udp"), free_port("tcp")
    routes = {"service": {"host": "127.0.0.1", "port": udp_uas, "transport": "udp"},
              "tservice": {"host": "127.0.0.1", "port": tcp_uas, "transport": "tcp"}}
    processor, processor_port = start_processor(tmp_path, routes=routes)
    edge, port = start_workers(tmp_path, processor_port)
    try:
        sipp_procs.append(start_sipp(["-sn", "uas", "-i", "127.0.0.1", "-p", str(udp_uas)]))
        sipp_procs.append(start_sipp(["-sn", "uas", "-i", "127.0.0.1", "-p", str(tcp_uas), "-t", "t1"]))
        calls(port, "service", "udp", 100, tmp_path)
        calls(port, "tservice", "tcp", 100, tmp_path)
        assert stop(edge) == 0, edge.log()[-3000:]
        counts = handoff_counts(edge)
        assert set(counts) == {0, 1}, edge.log()[-3000:]
        # every response of the calls of one of the workers went through the other (3 per call)
        assert max(received for _, received in counts.values()) >= 30, counts
        assert "Traceback" not in edge.log()
    finally:
        edge.kill()
        processor.kill()


def test_sigterm_stops_every_worker_and_a_killed_worker_is_restarted(tmp_path, sipp_procs):
    uas = free_port("udp")
    processor, processor_port = start_processor(
        tmp_path, routes={"service": {"host": "127.0.0.1", "port": uas, "transport": "udp"}}
    )
    edge, port = start_workers(tmp_path, processor_port, env={"EDGEPORT_WORKERS": "2"})
    try:
        first, second = worker_pids(edge)
        os.kill(second, signal.SIGKILL)
        edge.wait_for_line("ready again", timeout=20)
        assert any(f"pid {second}) died (killed by signal 9): restarting" in line for line in edge.output)
        sipp_procs.append(start_sipp(["-sn", "uas", "-i", "127.0.0.1", "-p", str(uas)]))
        calls(port, "service", "udp", 20, tmp_path)
        restarted = int(re.search(r"worker 1 \(pid (\d+)\) ready again", edge.log()).group(1))
        assert stop(edge) == 0, edge.log()[-3000:]
        for pid in (first, restarted):
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert "all workers stopped" in edge.log()
    finally:
        edge.kill()
        processor.kill()


def test_workers_dying_at_start_up_stop_the_parent(tmp_path):
    """A port held by a socket without SO_REUSEPORT: every worker fails to bind; the parent gives up."""
    port = free_udp_tcp_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        path = tmp_path / "edgeport.yaml"
        path.write_text(yaml.safe_dump(edge_config(port, free_port("tcp"))))
        started = time.monotonic()
        result = subprocess.run([PYTHON, str(REPO_ROOT / "edgeport.py"), str(path), "--workers", "2"],
                                capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 1, result.stderr
    assert "keep dying at start-up" in result.stderr
    assert "cannot listen" in result.stderr
    assert time.monotonic() - started < 20


def test_bad_worker_counts_and_bad_config_exit_2(tmp_path):
    path = tmp_path / "edgeport.yaml"
    path.write_text(yaml.safe_dump(edge_config(5060, 51904)))
    for args, env, message in (
        (["--workers", "0"], {}, "--workers 0: the number of workers is 1 to 64"),
        ([], {"EDGEPORT_WORKERS": "two"}, "EDGEPORT_WORKERS='two': not a number of workers"),
    ):
        result = subprocess.run([PYTHON, str(REPO_ROOT / "edgeport.py"), str(path), *args],
                                capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
                                env={**os.environ, **env})
        assert result.returncode == 2 and message in result.stderr, result.stderr
    bad = edge_config(5060, 51904)
    bad["spec"]["processor"] = {}
    path.write_text(yaml.safe_dump(bad))
    result = subprocess.run([PYTHON, str(REPO_ROOT / "edgeport.py"), str(path), "--workers", "2"],
                            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 2 and f"{path}: spec.processor.addr" in result.stderr


def test_requests_to_a_client_connected_to_the_other_worker_go_over_its_connection(tmp_path):
    """bob registers over TCP (his connection lives in one worker); INVITEs for him from many
    source ports reach both workers, and those on the other worker must use bob's connection."""
    processor, processor_port = start_processor(tmp_path)
    edge, port = start_workers(tmp_path, processor_port)
    bob = TcpPeer(("127.0.0.1", port))
    try:
        register = request("REGISTER", f"sip:127.0.0.1:{port}", bob.address, "TCP", from_user="bob",
                           to="<sip:bob@127.0.0.1>", extra="Expires: 600")
        bob.send(register)
        assert bob.receive_until(lambda m: m.status is not None).status == 200
        for _ in range(12):
            alice = UdpPeer()
            try:
                call = request("INVITE", f"sip:bob@127.0.0.1:{port}", alice.address, to="<sip:bob@127.0.0.1>")
                alice.send(call, ("127.0.0.1", port))
                invite = bob.receive_until(lambda m: m.method == "INVITE")
                bob.send(response_to(invite, 200, "OK"))
                assert alice.receive_until(lambda m: (m.status or 0) >= 200).status == 200
            finally:
                alice.close()
        assert stop(edge) == 0, edge.log()[-3000:]
        assert re.search(r"received send [1-9]", edge.log()), edge.log()[-3000:]
    finally:
        bob.close()
        edge.kill()
        processor.kill()
