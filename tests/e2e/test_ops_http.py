"""The ops HTTP server under gevent in a real process: /healthz follows a stalled listener and the
processor, /livez stays up, /metrics parses. Driven by ``ops_driver.py``; the processor is the
reference processor, killed and restarted."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import PYTHON, Process, free_port, start_process

DRIVER = Path(__file__).with_name("ops_driver.py")


def start_reference_processor(port: int) -> Process:
    return start_process(
        [PYTHON, "-m", "edgeport_lib.reference_processor", "--bind", f"127.0.0.1:{port}"],
        ready_line="reference processor listening on",
        timeout=15,
    )


def command(driver: Process, line: str, timeout: float = 20) -> list[str]:
    """Send a command to the driver; return the words of its ``result`` line."""
    driver.send(line)
    return driver.wait_for_line("result ", timeout).split()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def poll(url: str, accept, timeout: float = 15.0) -> tuple[int, bytes]:
    """GET ``url`` until ``accept(status, body)`` holds; fail with the last answer after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = get(url)
        if accept(status, body):
            return status, body
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}: still {status} {body!r} after {timeout} s")
        time.sleep(0.05)  # polling interval, not synchronisation


def failing(body: bytes) -> dict[str, str]:
    return json.loads(body).get("failing", {})


def metric_samples(body: bytes) -> list:
    return [s for family in text_string_to_metric_families(body.decode()) for s in family.samples]


def value(samples: list, name: str, **labels: str) -> float | None:
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def options(transport: str) -> bytes:
    return (
        "OPTIONS sip:edge@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} 127.0.0.1:5099;branch=z9hG4bK-ops-e2e\r\n"
        "Max-Forwards: 70\r\nTo: <sip:edge@127.0.0.1>\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\n"
        "Call-ID: ops-e2e\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@pytest.fixture
def processes():
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


def test_health_follows_listener_and_processor_and_metrics_parse(processes):
    processor_port = free_port("tcp")
    processes.append(processor := start_reference_processor(processor_port))
    processes.append(driver := start_process([PYTHON, str(DRIVER), f"127.0.0.1:{processor_port}"],
                                             ready_line="driver ready", timeout=20))
    ready = next(line for line in driver.output if line.startswith("driver ready"))
    ports = dict(word.split("=") for word in ready.split()[2:])
    base = f"http://127.0.0.1:{ports['http']}"
    udp_name, tcp_name = f"udp 127.0.0.1:{ports['udp']}", f"tcp 127.0.0.1:{ports['tcp']}"

    def alive() -> None:
        assert get(f"{base}/livez") == (200, b'{"status":"OK"}')

    # green: probes beat, the processor answers
    assert poll(f"{base}/healthz", lambda s, b: s == 200)[1] == b'{"status":"OK"}'
    assert command(driver, "call")[1] == "ok"
    alive()

    # every worker busy: gevent stops reading the UDP socket, no datagram is handled, red
    assert command(driver, "block")[1] == "blocked"
    stalled = {udp_name, "worker pool"}
    status, body = poll(f"{base}/healthz", lambda s, b: s == 503 and stalled <= failing(b).keys())
    assert json.loads(body)["status"] == "FAIL"
    assert failing(body)[udp_name].startswith("stalled: no heartbeat for ")
    assert failing(body)["worker pool"].startswith("stalled: no heartbeat for ")
    # TCP pings are answered by the connection's reader, not the pool: why the pool check exists
    assert tcp_name not in failing(body) and "processor" not in failing(body)
    alive()

    assert command(driver, "unblock")[1] == "unblocked"
    assert poll(f"{base}/healthz", lambda s, b: s == 200)[1] == b'{"status":"OK"}'
    alive()

    # the processor goes away: the next call fails and /healthz names it
    processor.kill()
    assert command(driver, "call")[1] == "unavailable"
    status, body = get(f"{base}/healthz")
    assert status == 503
    assert list(failing(body)) == ["processor"]
    assert failing(body)["processor"].startswith("unreachable (last success ")
    alive()

    processes.append(start_reference_processor(processor_port))
    assert command(driver, "until_ok 15")[1] == "ok"
    assert poll(f"{base}/healthz", lambda s, b: s == 200)[1] == b'{"status":"OK"}'

    # traffic shows up in /metrics (real prometheus-client text, parsed back)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(options("UDP"), ("127.0.0.1", int(ports["udp"])))
        udp.sendto(b"not sip at all", ("127.0.0.1", int(ports["udp"])))
    with socket.create_connection(("127.0.0.1", int(ports["tcp"])), timeout=5) as tcp:
        tcp.sendall(options("TCP"))

        def counted(status: int, body: bytes) -> bool:
            samples = metric_samples(body)
            received = "edgeport_sip_messages_received_total"
            return (
                value(samples, received, transport="udp", kind="request", method="OPTIONS") == 1
                and value(samples, received, transport="tcp", kind="request", method="OPTIONS") == 1
                and value(samples, "edgeport_sip_parse_errors_total", transport="udp") == 1
                and (value(samples, "edgeport_connections_open") or 0) >= 1
            )

        status, body = poll(f"{base}/metrics", counted)
    samples = metric_samples(body)
    assert value(samples, "edgeport_processor_call_seconds_count") >= 3
    reasons = {s.labels["reason"] for s in samples if s.name == "edgeport_processor_errors_total"}
    assert reasons and reasons <= {"unavailable", "deadline_exceeded"}, reasons
    assert value(samples, "edgeport_transactions_open") == 0
    assert all(s.name.startswith("edgeport_") for s in samples)

    # a stopped TCP listener: connections are refused and the probe says so
    assert command(driver, "stop_tcp")[1] == "stopped"
    status, body = poll(f"{base}/healthz", lambda s, b: s == 503 and tcp_name in failing(b))
    assert "(probe: " in failing(body)[tcp_name]
    alive()

    # the logs are JSON lines, the outage warning among them
    logs = [json.loads(line) for line in driver.output if line.startswith("{")]
    assert any(e["level"] == "warn" and "unreachable" in e["msg"] for e in logs), driver.log()
    assert {"ts", "level", "logger", "msg"} <= logs[0].keys()
    driver.send("quit")
    assert driver.popen.wait(timeout=10) == 0, driver.log()
