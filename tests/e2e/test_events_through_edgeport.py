"""Call and registration events from a real EdgePort to a real nats-server, driven by sipp."""

from __future__ import annotations

import asyncio
import json
import queue
import re
import threading
import time

import nats
import pytest

from tests.helpers import free_port

from .stack import SCENARIOS, run_sipp, start_edgeport, start_nats, start_processor, start_sipp

STAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


class Subscriber:
    """Collects every message on `routr.>` in a thread of its own (nats-py needs asyncio)."""

    def __init__(self, url: str) -> None:
        self.messages: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(url),), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "could not subscribe to NATS"

    async def _run(self, url: str) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        client = await nats.connect(url)
        await client.subscribe("routr.>", cb=self._on_message)
        await client.flush()
        self._ready.set()
        await self._stop.wait()
        await client.close()

    async def _on_message(self, msg) -> None:
        self.messages.put((msg.subject, json.loads(msg.data)))

    def next(self, timeout: float = 15) -> tuple[str, dict]:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def nats_url():
    port = free_port()
    server = start_nats(port)
    yield f"nats://127.0.0.1:{port}"
    server.kill()


def test_registration_and_call_publish_their_events(tmp_path, nats_url):
    subscriber = Subscriber(nats_url)
    uas_port = free_port("udp")
    processor, processor_port = start_processor(
        tmp_path, routes={"service": {"host": "127.0.0.1", "port": uas_port, "transport": "udp"}}
    )
    env = {
        "NATS_PUBLISHER_ENABLED": "true",
        "NATS_PUBLISHER_URL": nats_url,
        "CONSOLE_PUBLISHER_ENABLED": "true",
    }
    edge = start_edgeport(tmp_path, processor_port, env=env)
    uas = start_sipp(["-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port)], cwd=tmp_path)
    remote = f"127.0.0.1:{edge.port}"
    try:
        registered = run_sipp(
            [
                "-sf",
                str(SCENARIOS / "register.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port("udp")),
                "-s",
                "alice",
                "-key",
                "contact_port",
                "5099",
                "-m",
                "1",
                remote,
            ],
            cwd=tmp_path,
        )
        assert registered.successful == 1, registered.output[-2000:]
        subject, payload = subscriber.next()
        assert subject == "routr.endpoint.registered"
        assert payload["aor"] == "sip:alice@127.0.0.1" and payload["expires"] == 600
        assert set(payload) == {"aor", "registeredAt", "expires", "extraHeaders"}

        called = run_sipp(
            [
                "-sn",
                "uac",
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port("udp")),
                "-s",
                "service",
                "-m",
                "1",
                remote,
            ],
            cwd=tmp_path,
        )
        assert called.successful == 1, called.output[-2000:]
        (started_subject, started), (ended_subject, ended) = subscriber.next(), subscriber.next()
        assert (started_subject, ended_subject) == ("routr.call.started", "routr.call.ended")
        assert started["callId"] == ended["callId"]
        assert started["from"].startswith("sip:sipp@") and started["to"].startswith("sip:service@")
        assert ended["hangupCause"] == "NORMAL_CLEARING"
        for stamp in (payload["registeredAt"], started["startTime"], ended["endTime"]):
            assert re.match(STAMP, stamp), stamp
        deadline = time.monotonic() + 10
        while sum("call.started" in line for line in edge.process.output) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)  # polling pace: the console line is written as the event is published
        assert any('"call.started"' in line for line in edge.process.output), "console publisher line missing"
    finally:
        subscriber.close()
        uas.kill()
        edge.process.kill()
        processor.kill()


def test_sip_keeps_working_when_nats_never_started(tmp_path):
    processor, processor_port = start_processor(tmp_path)
    env = {"NATS_PUBLISHER_ENABLED": "true", "NATS_PUBLISHER_URL": f"nats://127.0.0.1:{free_port()}"}
    edge = start_edgeport(tmp_path, processor_port, env=env)
    try:
        for user in ("bob", "carol", "dave"):
            registered = run_sipp(
                [
                    "-sf",
                    str(SCENARIOS / "register.xml"),
                    "-i",
                    "127.0.0.1",
                    "-p",
                    str(free_port("udp")),
                    "-s",
                    user,
                    "-key",
                    "contact_port",
                    "5098",
                    "-m",
                    "1",
                    f"127.0.0.1:{edge.port}",
                ],
                cwd=tmp_path,
            )
            assert registered.successful == 1, registered.output[-2000:]
        outage_lines = [line for line in edge.process.output if "NATS" in line and "WARNING" in line]
        assert len(outage_lines) == 1, outage_lines
    finally:
        edge.process.kill()
        processor.kill()
