"""EventBus -> real nats-server. The bus runs in a driver process under gevent monkey patching
(as in the EdgePort); the test subscribes with nats-py on a plain asyncio loop."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
from pathlib import Path

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import PYTHON, Process, free_port, start_process

from .stack import NATS_SERVER
from .stack import start_nats as start_nats_server

DRIVER = Path(__file__).with_name("events_driver.py")

pytestmark = pytest.mark.skipif(not Path(NATS_SERVER).exists(), reason="nats-server is not installed")


# ------------------------------------------------------------------------------- helpers
@pytest.fixture
def processes():
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


def start_nats(processes: list[Process], port: int, *options: str) -> Process:
    server = start_nats_server(port, *options)
    processes.append(server)
    return server


def stop_nats(server: Process) -> None:
    """A clean stop (SIGTERM): clients see the connection close, JetStream state is saved."""
    server.popen.terminate()
    server.popen.wait(timeout=10)


def start_driver(
    processes: list[Process], url: str, *options: str, env: dict[str, str] | None = None
) -> Process:
    driver = start_process(
        [PYTHON, str(DRIVER), url, *options], ready_line="driver ready", timeout=20, env=env
    )
    processes.append(driver)
    return driver


def command(driver: Process, line: str, timeout: float = 20) -> tuple[str, dict]:
    """Send a command; return the driver's result line and the stats printed at its end."""
    driver.send(line)
    result = driver.wait_for_line("result ", timeout)
    stats = json.loads(result[result.index("{") :]) if "{" in result else {}
    return result, stats


async def in_thread(driver: Process, line: str, timeout: float = 20) -> tuple[str, dict]:
    """``command`` without stalling the test's asyncio loop (its subscriptions keep reading)."""
    return await asyncio.to_thread(command, driver, line, timeout)


def log_lines(driver: Process, level: str, text: str) -> list[str]:
    return [line for line in driver.output if line.startswith(f"LOG {level} ") and text in line]


async def receive(sub, count: int, timeout: float = 10) -> list:
    return [await sub.next_msg(timeout=timeout) for _ in range(count)]


# --------------------------------------------------------------------------------- tests
def test_events_arrive_on_their_subjects_with_contract_payloads(processes):
    port = free_port()
    start_nats(processes, port)
    url = f"nats://127.0.0.1:{port}"
    driver = start_driver(processes, url)

    async def scenario() -> None:
        nc = await nats.connect(url)
        sub = await nc.subscribe("routr.>")
        await nc.flush()
        for event in ("call.started", "call.ended", "endpoint.registered"):
            await in_thread(driver, f"publish 1 {event}")
        started, ended, registered = await receive(sub, 3)
        assert [started.subject, ended.subject, registered.subject] == [
            "routr.call.started",
            "routr.call.ended",
            "routr.endpoint.registered",
        ]
        check_payloads(json.loads(started.data), json.loads(ended.data), json.loads(registered.data))

        # close() flushes whatever is still buffered
        await in_thread(driver, "publish 2000")
        _, stats = await in_thread(driver, "close 10")
        assert stats["published"] == 2003 and stats["dropped"] == 0 and stats["buffered"] == 0, stats
        ids = {json.loads(m.data)["callId"] for m in await receive(sub, 2000)}
        assert ids == {f"ev-{n}" for n in range(4, 2004)}
        await nc.close()

    asyncio.run(scenario())
    assert "gateway-secret" not in driver.log() and "Z3c6" not in driver.log()


def check_payloads(started: dict, ended: dict, registered: dict) -> None:
    assert list(started) == ["callId", "from", "to", "startTime", "extraHeaders", "accountRef"]
    assert started["callId"] == "ev-1"
    assert started["from"] == "sip:alice@sip.example.org"  # no password, port or params
    assert started["to"] == "sip:bob@sip.example.org"
    assert started["extraHeaders"] == {"X-Room": "blue"}  # X-Gateway-Auth never included
    assert started["startTime"].endswith("Z") and len(started["startTime"]) == 24
    assert ended == {
        "callId": "ev-2",
        "endTime": ended["endTime"],
        "hangupCause": "USER_BUSY",
        "extraHeaders": {"X-Room": "blue"},
    }
    assert list(registered) == ["aor", "registeredAt", "expires", "extraHeaders"]
    assert registered["aor"] == "sip:alice@sip.example.org" and registered["expires"] == 600
    for payload in (started, ended, registered):
        text = json.dumps(payload)
        assert "Digest" not in text and "X-Gateway-Auth" not in text and ":pw@" not in text


def test_outage_buffers_events_and_delivers_them_after_a_restart(processes, tmp_path):
    """The server stops mid-run and comes back on the same port. A JetStream stream records
    what reaches the server, so the check does not depend on who reconnects first."""
    port = free_port()
    store = ["-js", "-sd", str(tmp_path / "jetstream")]
    server = start_nats(processes, port, *store)
    url = f"nats://127.0.0.1:{port}"
    asyncio.run(add_stream(url))
    driver = start_driver(processes, url, "--buffer", "500")

    command(driver, "publish 5")
    command(driver, "wait_at_least published 5 10")
    stop_nats(server)
    result, stats = command(driver, "wait connected false 10")
    assert "wait ok" in result, result

    _, stats = command(driver, "publish 300")  # SIP keeps going meanwhile
    assert stats["buffered"] == 300 and stats["dropped"] == 0, stats
    assert command(driver, "ping")[0] == "result pong"

    start_nats(processes, port, *store)
    result, stats = command(driver, "wait_at_least published 305 20")
    assert "wait ok" in result and stats["buffered"] == 0 and stats["dropped"] == 0, result

    assert asyncio.run(stored_call_ids(url)) == {f"ev-{n}" for n in range(1, 306)}
    assert len(log_lines(driver, "WARNING", "lost")) == 1, driver.log()
    assert len(log_lines(driver, "INFO", "reachable again")) == 1, driver.log()


async def add_stream(url: str) -> None:
    nc = await nats.connect(url)
    await nc.jetstream().add_stream(name="EVENTS", subjects=["routr.>"])
    await nc.close()


async def stored_call_ids(url: str) -> set[str]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    state = (await js.stream_info("EVENTS")).state
    ids = set()
    for seq in range(state.first_seq, state.last_seq + 1):
        ids.add(json.loads((await js.get_msg("EVENTS", seq)).data)["callId"])
    await nc.close()
    return ids


def test_nats_never_started_publish_does_not_block_and_logs_once(processes):
    port = free_port()
    url = f"nats://edgeuser:n0tl0gged@127.0.0.1:{port}"
    driver = start_driver(processes, url, "--buffer", "100")

    result, stats = command(driver, "publish 1000")
    assert stats["buffered"] == 100 and stats["dropped"] == 900 and stats["published"] == 0, result
    assert command(driver, "ping")[0] == "result pong"  # the hub still answers
    result, _ = command(driver, "wait_at_least connect_attempts 4 20")  # several retries
    assert "wait ok" in result, result
    _, stats = command(driver, "publish 10")
    assert stats["dropped"] == 910, stats

    _, stats = command(driver, "close 0.5")
    assert stats["dropped"] == 1010 and stats["buffered"] == 0, stats
    assert len(log_lines(driver, "WARNING", "unreachable (")) == 1, driver.log()
    assert len(log_lines(driver, "WARNING", "buffer full")) == 1, driver.log()  # once per burst
    assert len(log_lines(driver, "WARNING", "100 buffered events lost")) == 1, driver.log()
    assert "n0tl0gged" not in driver.log() and "edgeuser" not in driver.log()
    assert f"nats://***@127.0.0.1:{port}" in driver.log()


@pytest.mark.parametrize("auth", ["user", "token"])
def test_credentials_and_several_servers(processes, auth):
    port, dead = free_port(), free_port()
    if auth == "user":
        start_nats(processes, port, "--user", "edgeuser", "--pass", "s3cretpass")
        userinfo = "edgeuser:s3cretpass@"
    else:
        start_nats(processes, port, "--auth", "t0kens3cret")
        userinfo = "t0kens3cret@"
    url = f"nats://{userinfo}127.0.0.1:{dead}, {userinfo}127.0.0.1:{port}"
    driver = start_driver(processes, url, "--subject", "edge.events")

    async def scenario() -> None:
        nc = await nats.connect(f"nats://{userinfo}127.0.0.1:{port}")
        sub = await nc.subscribe("edge.events.>")
        await nc.flush()
        await in_thread(driver, "publish 3 endpoint.registered")
        messages = await receive(sub, 3)
        assert {m.subject for m in messages} == {"edge.events.endpoint.registered"}
        await nc.close()

    asyncio.run(scenario())
    command(driver, "close 2")
    for secret in ("s3cretpass", "t0kens3cret", "edgeuser"):
        assert secret not in driver.log()
    assert f"nats://***@127.0.0.1:{dead},nats://***@127.0.0.1:{port}" in driver.log()


def test_wrong_credentials_are_an_outage_without_leaking_them(processes):
    port = free_port()
    start_nats(processes, port, "--user", "edgeuser", "--pass", "rightpass")
    driver = start_driver(processes, f"nats://edgeuser:wr0ngpass@127.0.0.1:{port}")
    result, _ = command(driver, "wait_at_least connect_attempts 3 20")
    assert "wait ok" in result, result
    command(driver, "close 0.2")
    warnings = log_lines(driver, "WARNING", "unreachable (")
    assert len(warnings) == 1 and "Authorization" in warnings[0], driver.log()
    assert "wr0ngpass" not in driver.log() and "edgeuser" not in driver.log()


def test_tls_url(processes, tmp_path):
    """tls:// with a server certificate from a private CA, trusted through SSL_CERT_FILE."""
    ca_file, cert_file, key_file = write_certificates(tmp_path)
    port = free_port()
    start_nats(processes, port, "--tls", "--tlscert", str(cert_file), "--tlskey", str(key_file))
    url = f"tls://127.0.0.1:{port}"
    driver = start_driver(processes, url, env={"SSL_CERT_FILE": str(ca_file)})

    async def scenario() -> None:
        nc = await nats.connect(url, tls=ssl.create_default_context(cafile=str(ca_file)))
        sub = await nc.subscribe("routr.>")
        await nc.flush()
        await in_thread(driver, "publish 5 call.ended")
        messages = await receive(sub, 5)
        assert [json.loads(m.data)["hangupCause"] for m in messages] == ["USER_BUSY"] * 5
        await nc.close()

    asyncio.run(scenario())


def write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 signed by it, as PEM files."""
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("edgeport test CA", ca_key, "edgeport test CA", ca_key, ca=True)
    server = certificate("127.0.0.1", server_key, "edgeport test CA", ca_key, ca=False)
    files = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files
