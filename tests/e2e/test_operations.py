"""Operations against a real EdgePort: /healthz, /metrics, graceful shutdown, what the logs hold."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.helpers import free_port

from .ops_client import get, samples, total, wait_for_health, wait_for_metric
from .sipclient import UdpPeer, request
from .stack import run_sipp, start_edgeport, start_processor, start_sipp

GREEN = lambda status, body: status == 200 and body == {"status": "OK"}  # noqa: E731


@pytest.fixture
def processor_args():
    return []


@pytest.fixture
def stack(tmp_path, processor_args):
    uas_port = free_port("udp")
    routes = {"service": {"host": "127.0.0.1", "port": uas_port, "transport": "udp"}}
    processor, processor_port = start_processor(tmp_path, routes=routes, extra=processor_args)
    ops_port = free_port("tcp")
    edge = start_edgeport(
        tmp_path,
        processor_port,
        env={"ENABLE_HEALTHCHECKS": "true"},
        ops={"bindAddr": "127.0.0.1", "port": ops_port},
        shutdownGracePeriod=30,
        processor={"addr": f"127.0.0.1:{processor_port}", "timeout": 12},
        limits={"maxInFlight": 4},
    )
    uas = start_sipp(["-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port)], cwd=tmp_path)
    world = {
        "edge": edge,
        "processor": processor,
        "processor_port": processor_port,
        "ops": ops_port,
        "tmp_path": tmp_path,
        "routes": routes,
    }
    yield world
    uas.kill()
    uas.wait(timeout=10)
    edge.process.kill()
    world["processor"].kill()


def call(world, count: int = 1, *extra: str):
    return run_sipp(
        [
            "-sn",
            "uac",
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port("udp")),
            "-s",
            "service",
            f"127.0.0.1:{world['edge'].port}",
            "-m",
            str(count),
            "-timeout",
            "60",
            *extra,
        ],
        cwd=world["tmp_path"],
    )


def test_healthz_follows_the_processor(stack):
    wait_for_health(stack["ops"], GREEN)
    assert get(stack["ops"], "/livez")[0] == 200
    stack["processor"].kill()
    status, body = wait_for_health(stack["ops"], lambda s, b: s == 503)
    assert set(body["failing"]) == {"processor connection"}
    stack["processor"], _ = start_processor(
        stack["tmp_path"], routes=stack["routes"], port=stack["processor_port"]
    )
    wait_for_health(stack["ops"], GREEN)


@pytest.mark.parametrize("processor_args", [["--delay", "8"]])
def test_healthz_turns_red_while_the_sip_path_is_stuck(stack):
    """A processor that hangs fills the worker pool: UDP gets only 503s, /healthz says the path is stuck."""
    wait_for_health(stack["ops"], GREEN)
    client = UdpPeer()
    try:
        for _ in range(6):  # more than maxInFlight: 4 greenlets wait on the slow processor
            client.send(
                request("OPTIONS", "sip:service@127.0.0.1", client.address), ("127.0.0.1", stack["edge"].port)
            )
        status, body = wait_for_health(stack["ops"], lambda s, b: s == 503 and "worker pool" in b["failing"])
        assert any(name.startswith("udp ") for name in body["failing"])
        assert get(stack["ops"], "/livez")[0] == 200
        wait_for_health(stack["ops"], GREEN, timeout=60)  # the slow answers come (8 s), the pool drains
    finally:
        client.close()


def test_metrics_move_with_a_call(stack):
    wait_for_health(stack["ops"], GREEN)
    before = samples(stack["ops"])
    result = call(stack)
    assert result.successful == 1, result.output[-2000:]
    after = samples(stack["ops"])
    for labels in (
        {"method": "INVITE", "kind": "request"},
        {"method": "BYE", "kind": "request"},
        {"method": "INVITE", "status_class": "2xx"},
    ):
        name = "edgeport_sip_messages_sent_total"
        assert total(after, name, **labels) > total(before, name, **labels), labels
    assert total(after, "edgeport_processor_call_seconds_count") > total(
        before, "edgeport_processor_call_seconds_count"
    )
    assert total(after, "edgeport_message_handling_seconds_count") > 0


def test_sigterm_lets_calls_in_progress_end_then_exits_0(stack):
    wait_for_health(stack["ops"], GREEN)
    calls = subprocess.Popen(
        [
            "sipp",
            "-sn",
            "uac",
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port("udp")),
            "-s",
            "service",
            f"127.0.0.1:{stack['edge'].port}",
            "-m",
            "20",
            "-r",
            "20",
            "-l",
            "20",
            "-d",
            "4000",
            "-timeout",
            "60",
            "-nostdin",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=stack["tmp_path"],
    )
    try:
        wait_for_metric(
            stack["ops"], "edgeport_sip_messages_sent_total", 20, method="INVITE", status_class="2xx"
        )
        stack["edge"].process.popen.send_signal(signal.SIGTERM)
        output, _ = calls.communicate(timeout=60)
    finally:
        calls.kill()
    assert "Successful call" in output
    successful = [line for line in output.splitlines() if "Successful call" in line][0]
    assert successful.split("|")[2].strip() == "20", output[-2000:]
    assert stack["edge"].process.popen.wait(timeout=40) == 0
    log = stack["edge"].process.log()
    assert "EdgePort stopped" in log
    assert "v=0" not in log and "m=audio" not in log, "SIP bodies must not reach info logs"


def test_sigterm_exits_when_the_grace_period_ends_with_a_message_in_progress(tmp_path):
    """The grace period ends while an INVITE still waits for the processor: EdgePort stops anyway
    (its UDP server's stop() joins the message pool; it used to raise there and never exit)."""
    processor, processor_port = start_processor(tmp_path, extra=["--delay", "30"])
    edge = start_edgeport(tmp_path, processor_port, shutdownGracePeriod=0.5,
                          processor={"addr": f"127.0.0.1:{processor_port}", "timeout": 60})
    peer = UdpPeer(timeout=10)
    try:
        peer.send(request("INVITE", "sip:service@127.0.0.1", peer.address, call_id="in-progress"),
                  ("127.0.0.1", edge.port))
        assert peer.receive()[0].status == 100  # the INVITE now waits for the processor
        edge.process.popen.send_signal(signal.SIGTERM)
        assert edge.process.popen.wait(timeout=30) == 0
        assert "EdgePort stopped" in edge.process.log()
    finally:
        peer.close()
        edge.process.kill()
        processor.kill()


def test_sigterm_after_the_calls_ended_does_not_wait_out_the_grace_period(stack):
    """Finished transactions only absorb retransmissions: a shutdown does not wait for their
    timers (32 s), so an idle EdgePort stops before an orchestrator's kill deadline."""
    wait_for_health(stack["ops"], GREEN)
    result = call(stack, 2)
    assert result.successful == 2, result.output[-2000:]
    stack["edge"].process.popen.send_signal(signal.SIGTERM)
    assert stack["edge"].process.popen.wait(timeout=60) == 0  # the grace period is 30 s
    log = stack["edge"].process.log()
    assert "EdgePort stopped" in log
    assert "grace period over" not in log
