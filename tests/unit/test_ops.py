"""edgeport_lib.ops: health aggregation, heartbeats and probes, the WSGI app, metrics, logging."""

from __future__ import annotations

import io
import json
import logging
import time
from types import SimpleNamespace
from wsgiref.util import setup_testing_defaults

import gevent
import pytest
from gevent.event import Event
from greenlet import greenlet
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from edgeport_lib.ops import (
    Health,
    Heartbeat,
    Metrics,
    OpsServer,
    RedactingFilter,
    probe_host,
    processor_check,
    redact,
    setup_logging,
    start_pool_probe,
    start_probe,
)
from edgeport_lib.ops.logs import VERBOSE
from edgeport_lib.ops.metrics import error_reason, live_greenlets
from edgeport_lib.processor_client import ProcessorClient, ProcessorUnavailable
from edgeport_lib.sip.limits import Limits
from edgeport_lib.sip.parser import parse_message
from edgeport_lib.sip.serializer import sent_response
from edgeport_lib.transports.connections import ConnectionTable
from edgeport_lib.transports.pool import MessagePool
from edgeport_lib.transports.stream import StreamTransport
from edgeport_lib.transports.udp import UdpTransport


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_until(condition, timeout: float = 5.0) -> None:
    """Run the gevent loop until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        gevent.sleep(0.01)


def request(method: str = "OPTIONS") -> bytes:
    return (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n"
        "Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\n"
        f"Call-ID: c1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def response(status: int, method: str) -> bytes:
    return (
        f"SIP/2.0 {status} Whatever\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n"
        "To: <sip:bob@example.com>;tag=2\r\nFrom: <sip:alice@example.com>;tag=1\r\n"
        f"Call-ID: c1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


# -- Health -----------------------------------------------------------------------------------
def test_health_aggregates_checks():
    health = Health()
    assert health.report() == (True, {"status": "OK"})
    state = {"db": None}
    health.add_check("a", lambda: None)
    health.add_check("b", lambda: state["db"])
    assert health.report() == (True, {"status": "OK"})
    state["db"] = "down"
    assert health.report() == (False, {"status": "FAIL", "failing": {"b": "down"}})
    health.remove_check("b")
    assert health.report()[0] is True
    assert health.names == ["a"]


def test_health_rejects_duplicate_names():
    health = Health()
    health.add_check("x", lambda: None)
    with pytest.raises(ValueError):
        health.add_check("x", lambda: None)


def test_a_check_that_raises_or_hangs_fails():
    health = Health(check_timeout=0.05)

    def broken():
        raise RuntimeError("boom")

    def hangs():
        gevent.sleep(10)

    health.add_check("broken", broken)
    health.add_check("hangs", hangs)
    health.add_check("fine", lambda: None)
    failing = health.failing()
    assert failing == {"broken": "check raised RuntimeError: boom", "hangs": "check timed out after 0.05 s"}


def test_processor_check_follows_client_health():
    clock = Clock()
    client = SimpleNamespace(healthy=True, last_success=None)
    check = processor_check(client, clock)
    assert check() is None
    client.healthy = False
    assert check() == "unreachable (no successful call yet)"
    client.last_success = clock.now - 12
    assert check() == "unreachable (last success 12 s ago)"
    client.healthy = True
    assert check() is None


def test_processor_check_with_a_real_client_before_any_call():
    client = ProcessorClient("127.0.0.1:1", timeout=0.5)
    assert processor_check(client)() is None  # healthy until a call fails
    client.close()


# -- Heartbeat ---------------------------------------------------------------------------------
def test_heartbeat_goes_stale_and_recovers():
    clock = Clock()
    beat = Heartbeat(max_age=3.0, clock=clock)
    assert beat.check() is None  # grace period from creation
    clock.now += 3.0
    assert beat.check() is None
    clock.now += 1.5
    assert beat.check() == "stalled: no heartbeat for 4 s"
    beat.last_error = "worker pool full"
    assert beat.check() == "stalled: no heartbeat for 4 s (probe: worker pool full)"
    beat.beat()
    assert beat.check() is None
    assert beat.age() == 0


def test_wrapped_handler_beats_and_swallows_keepalives():
    clock = Clock()
    beat = Heartbeat(max_age=1.0, clock=clock)
    seen = []
    handle = beat.wrap_handler(lambda data, flow: seen.append((data, flow)))
    for data in (b"\r\n\r\n", b"\r\n", b"", b"\n\n\r\n"):
        clock.now += 5
        handle(data, "flow")
        assert beat.check() is None
    assert seen == []
    handle(b"OPTIONS sip:x SIP/2.0\r\n\r\n", "flow")
    assert seen == [(b"OPTIONS sip:x SIP/2.0\r\n\r\n", "flow")]


def test_probe_host():
    assert probe_host("0.0.0.0") == "127.0.0.1"
    assert probe_host("") == "127.0.0.1"
    assert probe_host("::") == "::1"
    assert probe_host("[::]") == "::1"
    assert probe_host("10.1.2.3") == "10.1.2.3"
    with pytest.raises(ValueError):
        start_probe(Heartbeat(), "tls", "127.0.0.1", 5061)


def test_udp_probe_beats_through_the_real_transport_until_its_pool_is_exhausted():
    pool = MessagePool(2)
    beat = Heartbeat(max_age=0.5)
    handled: list[bytes] = []
    udp = UdpTransport("127.0.0.1", 0, beat.wrap_handler(lambda data, flow: handled.append(data)), pool)
    udp.start()
    probe = start_probe(beat, "udp", "127.0.0.1", udp.port, interval=0.05)
    gate = Event()
    try:
        wait_until(lambda: beat.age() < 0.2)
        assert beat.check() is None
        assert handled == []  # the probe's keep-alives never reach the SIP handler

        for _ in range(pool.free_count()):
            pool.spawn(gate.wait)  # every worker busy: gevent stops reading the socket
        wait_until(lambda: beat.check() is not None)
        assert beat.check().startswith("stalled")

        gate.set()
        wait_until(lambda: beat.check() is None)
    finally:
        gate.set()
        probe.kill()
        udp.stop()


def test_tcp_probe_pings_the_real_transport_and_notices_when_it_stops():
    pool = MessagePool(4)
    beat = Heartbeat(max_age=0.5)
    tcp = StreamTransport("127.0.0.1", 0, lambda data, flow: None, pool, ConnectionTable(), Limits())
    tcp.start()
    probe = start_probe(beat, "tcp", "127.0.0.1", tcp.port, interval=0.05)
    try:
        wait_until(lambda: beat.age() < 0.2)
        tcp.stop()
        wait_until(lambda: beat.check() is not None)
        reason = beat.check()
        assert reason.startswith("stalled") and "(probe: " in reason, reason
    finally:
        probe.kill()
        tcp.stop()


def test_pool_probe_beats_from_inside_the_pool():
    pool = MessagePool(1)
    beat = Heartbeat(max_age=0.3)
    probe = start_pool_probe(beat, pool, interval=0.05)
    gate = Event()
    try:
        wait_until(lambda: beat.age() < 0.1)
        pool.spawn(gate.wait)
        wait_until(lambda: beat.check() is not None)
        assert beat.last_error == "worker pool full"
        gate.set()
        wait_until(lambda: beat.check() is None)
    finally:
        gate.set()
        probe.kill()


# -- the WSGI app --------------------------------------------------------------------------------
def call_app(server: OpsServer, path: str, method: str = "GET", accept: str | None = None):
    environ: dict = {"PATH_INFO": path, "REQUEST_METHOD": method}
    if accept:
        environ["HTTP_ACCEPT"] = accept
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, headers):
        captured["status"], captured["headers"] = status, dict(headers)

    body = b"".join(server.app(environ, start_response))
    return captured["status"], captured["headers"], body


def test_healthz_livez_and_errors():
    health = Health()
    reason = {"value": None}
    health.add_check("processor", lambda: reason["value"])
    health.add_check("udp 0.0.0.0:5060", lambda: None)
    server = OpsServer(health)

    status, headers, body = call_app(server, "/healthz")
    assert (status, body) == ("200 OK", b'{"status":"OK"}')
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))

    reason["value"] = "unreachable (last success 12 s ago)"
    status, _, body = call_app(server, "/healthz")
    assert status == "503 Service Unavailable"
    failing = {"processor": "unreachable (last success 12 s ago)"}
    assert json.loads(body) == {"status": "FAIL", "failing": failing}

    assert call_app(server, "/livez")[::2] == ("200 OK", b'{"status":"OK"}')
    status, headers, body = call_app(server, "/livez", "HEAD")
    assert (status, body) == ("200 OK", b"")
    assert headers["Content-Length"] == "15"
    assert call_app(server, "/metrics")[0] == "404 Not Found"  # no Metrics given
    assert call_app(server, "/nope")[0] == "404 Not Found"
    status, headers, _ = call_app(server, "/healthz", "POST")
    assert status == "405 Method Not Allowed" and headers["Allow"] == "GET, HEAD"


def test_metrics_endpoint_serves_prometheus_and_openmetrics():
    metrics = Metrics()
    metrics.parse_error("UDP")
    server = OpsServer(Health(), metrics)
    status, headers, body = call_app(server, "/metrics")
    assert status == "200 OK"
    assert headers["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["edgeport_sip_parse_errors"].samples[0].value == 1

    status, headers, body = call_app(server, "/metrics", accept="application/openmetrics-text; version=1.0.0")
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in parse_openmetrics(body.decode())}
    assert families["edgeport_sip_parse_errors"].samples[0].value == 1


def test_a_failing_route_answers_500():
    health = Health()
    health.report = lambda: 1 / 0  # type: ignore[method-assign]
    assert call_app(OpsServer(health), "/healthz")[0] == "500 Internal Server Error"


# -- Metrics -------------------------------------------------------------------------------------
def scrape(metrics: Metrics) -> dict[str, list]:
    """Samples by family name, from the real exposition text parsed back."""
    text = generate_latest(metrics.registry).decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def sample(samples: list, name: str, **labels: str) -> float | None:
    for s in samples:
        if s.name == name and s.labels == labels:
            return s.value
    return None


def test_message_counters_have_bounded_labels():
    metrics = Metrics()
    limits = Limits()
    for _ in range(3):
        metrics.received("UDP", parse_message(request("INVITE"), limits))
    metrics.received("TCP", parse_message(request("FOOBAR"), limits))
    metrics.received("SCTP", parse_message(request("OPTIONS"), limits))
    metrics.received("carrier-pigeon", parse_message(request("OPTIONS"), limits))
    metrics.received("UDP", parse_message(response(180, "INVITE"), limits))
    ok, busy = parse_message(response(200, "INVITE"), limits), parse_message(response(486, "FOOBAR"), limits)
    for sent in (ok, sent_response(ok)):  # the second one as a finished transaction keeps it
        metrics.sent("UDP", sent)
    for sent in (busy, sent_response(busy)):
        metrics.sent("tcp", sent)
    metrics.sent("UDP", parse_message(request("BYE"), limits))

    samples = scrape(metrics)
    received = samples["edgeport_sip_messages_received"]
    total = "edgeport_sip_messages_received_total"
    assert sample(received, total, transport="udp", kind="request", method="INVITE", status_class="") == 3
    assert sample(received, total, transport="tcp", kind="request", method="other", status_class="") == 1
    assert sample(received, total, transport="sctp", kind="request", method="OPTIONS", status_class="") == 1
    assert sample(received, total, transport="other", kind="request", method="OPTIONS", status_class="") == 1
    assert sample(received, total, transport="udp", kind="response", method="INVITE", status_class="1xx") == 1
    sent = samples["edgeport_sip_messages_sent"]
    total = "edgeport_sip_messages_sent_total"
    assert sample(sent, total, transport="udp", kind="response", method="INVITE", status_class="2xx") == 2
    assert sample(sent, total, transport="tcp", kind="response", method="other", status_class="4xx") == 2
    assert sample(sent, total, transport="udp", kind="request", method="BYE", status_class="") == 1
    assert len(sent) == 3


def test_response_labels_from_a_message_without_cseq():
    metrics = Metrics()
    metrics.received("UDP", SimpleNamespace(method=None, status=999, headers=[]))
    received = scrape(metrics)["edgeport_sip_messages_received"]
    labels = {"transport": "udp", "kind": "response", "method": "other", "status_class": "other"}
    assert received[0].labels == labels


def test_processor_histogram_and_errors():
    metrics = Metrics()
    metrics.processor_call(0.003)
    metrics.processor_call(0.004)
    metrics.processor_call(0.2)
    late = ProcessorUnavailable("DEADLINE_EXCEEDED: late", SimpleNamespace(name="DEADLINE_EXCEEDED"))
    metrics.processor_call(1.0, late)
    metrics.processor_call(12.0, "unavailable")
    metrics.processor_call(0.001, "invalid response")
    metrics.processor_call(0.001, ValueError("whatever"))

    samples = scrape(metrics)
    hist = samples["edgeport_processor_call_seconds"]
    buckets = {s.labels["le"]: s.value for s in hist if s.name.endswith("_bucket")}
    assert buckets["0.001"] == 2  # upper bounds are inclusive
    assert buckets["0.0025"] == 2
    assert buckets["0.005"] == 4
    assert buckets["0.25"] == 5
    assert buckets["1.0"] == 6
    assert buckets["10.0"] == 6
    assert buckets["+Inf"] == 7
    assert sample(hist, "edgeport_processor_call_seconds_count") == 7
    assert sample(hist, "edgeport_processor_call_seconds_sum") == pytest.approx(13.209)
    errors = {s.labels["reason"]: s.value for s in samples["edgeport_processor_errors"]}
    assert errors == {"deadline_exceeded": 1, "unavailable": 1, "invalid_response": 1, "other": 1}


def test_error_reason_is_bounded():
    assert error_reason("UNAVAILABLE") == "unavailable"
    assert error_reason("client closed") == "client_closed"
    assert error_reason("something new " * 10) == "other"
    assert error_reason(ProcessorUnavailable("client closed")) == "other"
    assert error_reason(SimpleNamespace(code=SimpleNamespace(name="NOT_A_CODE"))) == "other"


def test_parse_errors_retransmissions_gauges_and_events():
    metrics = Metrics()
    metrics.parse_error("UDP")
    metrics.parse_error("UDP")
    metrics.parse_error("WSS")
    metrics.retransmission()
    metrics.retransmission("received")
    metrics.retransmission("sideways")
    for timer in ("C", "C", "B", "Z"):
        metrics.timeout(timer)
    samples = scrape(metrics)
    assert "edgeport_transactions_open" not in samples  # nothing bound yet
    assert "edgeport_events_published" not in samples
    errors = {s.labels["transport"]: s.value for s in samples["edgeport_sip_parse_errors"]}
    assert errors == {"udp": 2, "wss": 1}
    retrans = {s.labels["direction"]: s.value for s in samples["edgeport_sip_retransmissions"]}
    assert retrans == {"sent": 1, "received": 1, "other": 1}
    timeouts = {s.labels["timer"]: s.value for s in samples["edgeport_sip_timeouts"]}
    assert timeouts == {"B": 1, "C": 2, "F": 0, "H": 0, "other": 1}

    table = ConnectionTable()
    stats = {"published": 7, "dropped": 2}
    metrics.bind_gauges(transactions=lambda: {"server": 3, "client": 1}, connections=lambda: len(table),
                        processor_calls=lambda: 4)
    metrics.bind_events(lambda: stats)
    samples = scrape(metrics)
    assert sample(samples["edgeport_processor_calls_in_flight"], "edgeport_processor_calls_in_flight") == 4
    transactions = {s.labels["kind"]: s.value for s in samples["edgeport_transactions_open"]}
    assert transactions == {"server": 3, "client": 1}
    assert sample(samples["edgeport_connections_open"], "edgeport_connections_open") == 0
    assert sample(samples["edgeport_events_published"], "edgeport_events_published_total") == 7
    assert sample(samples["edgeport_events_dropped"], "edgeport_events_dropped_total") == 2

    metrics.bind_gauges(transactions=lambda: 5)
    stats["published"] = 9
    samples = scrape(metrics)
    assert sample(samples["edgeport_transactions_open"], "edgeport_transactions_open") == 5
    assert sample(samples["edgeport_events_published"], "edgeport_events_published_total") == 9


def test_the_greenlet_gauge_counts_live_greenlets_only():
    metrics = Metrics()
    metrics.bind_gauges(greenlets=live_greenlets)
    before = sample(scrape(metrics)["edgeport_greenlets"], "edgeport_greenlets")
    alive = [greenlet(lambda: None) for _ in range(5)]
    finished = greenlet(lambda: None)
    finished.switch()
    assert sample(scrape(metrics)["edgeport_greenlets"], "edgeport_greenlets") == before + 5
    del alive


def test_a_broken_callback_leaves_only_its_metric_out(caplog):
    metrics = Metrics()
    metrics.bind_gauges(transactions=lambda: 1 / 0, connections=lambda: "many")
    metrics.bind_events(lambda: {"published": "lots"})
    metrics.parse_error("TCP")
    samples = scrape(metrics)
    assert "edgeport_transactions_open" not in samples
    assert "edgeport_connections_open" not in samples
    assert samples["edgeport_events_published"] == []
    assert samples["edgeport_sip_parse_errors"][0].value == 1
    assert "metrics callback for edgeport_transactions_open failed" in caplog.text


def test_metrics_use_their_own_registry_and_stable_names():
    metrics = Metrics()
    metrics.bind_gauges(transactions=lambda: 0, connections=lambda: 0)
    metrics.bind_events(lambda: {"published": 0, "dropped": 0})
    names = set(scrape(metrics))
    assert names == {
        "edgeport_sip_messages_received", "edgeport_sip_messages_sent", "edgeport_sip_parse_errors",
        "edgeport_sip_retransmissions", "edgeport_processor_call_seconds", "edgeport_processor_errors",
        "edgeport_sip_overload", "edgeport_sip_timeouts",
        "edgeport_message_handling_seconds", "edgeport_transactions_open", "edgeport_connections_open",
        "edgeport_events_published",
        "edgeport_events_dropped",
    }
    assert "edgeport_sip_parse_errors_total" not in generate_latest(REGISTRY).decode()
    Metrics()  # a second instance gets a second registry: no duplicate-name error


# -- logging -------------------------------------------------------------------------------------
@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level,
             {name: logging.getLogger(name).level for name in ("edgeport", "edgeport_lib", "somelib")})
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def emitted(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


@pytest.mark.parametrize(
    ("name", "own", "library"),
    [
        ("error", logging.ERROR, logging.ERROR),
        ("warn", logging.WARNING, logging.WARNING),
        ("INFO", logging.INFO, logging.INFO),
        ("verbose", VERBOSE, logging.INFO),
        ("debug", logging.DEBUG, logging.INFO),
        ("silly", logging.DEBUG, logging.DEBUG),
    ],
)
def test_routr_level_names(restore_logging, name, own, library):
    stream = io.StringIO()
    setup_logging(name, "text", stream)
    assert logging.getLogger("edgeport_lib.edge").getEffectiveLevel() == own
    assert logging.getLogger("edgeport").getEffectiveLevel() == own
    assert logging.getLogger("somelib").getEffectiveLevel() == library


def test_level_and_format_from_the_environment(restore_logging, monkeypatch):
    monkeypatch.setenv("LOGS_LEVEL", "verbose")
    monkeypatch.setenv("LOGS_FORMAT", "json")
    stream = io.StringIO()
    setup_logging(stream=stream)
    log = logging.getLogger("edgeport_lib.test")
    log.log(VERBOSE, "shown")
    log.debug("hidden")
    lines = [json.loads(line) for line in emitted(stream)]
    assert [(e["level"], e["msg"]) for e in lines] == [("verbose", "shown")]


def test_unknown_level_falls_back_to_info_with_a_warning(restore_logging):
    stream = io.StringIO()
    setup_logging("chatty", "yaml", stream)
    assert logging.getLogger("edgeport_lib").getEffectiveLevel() == logging.INFO
    text = stream.getvalue()
    assert "unknown LOGS_LEVEL 'chatty'" in text and "unknown log format 'yaml'" in text


def test_json_lines_with_extras_and_exceptions(restore_logging):
    stream = io.StringIO()
    setup_logging("info", "json", stream)
    log = logging.getLogger("edgeport_lib.edge")
    log.info("call %s from %s", "c1", "10.0.0.1", extra={"call_id": "c1", "port": 5060})
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        log.exception("failed")
    lines = emitted(stream)
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert list(first)[:4] == ["ts", "level", "logger", "msg"]
    assert first["ts"].endswith("Z") and "T" in first["ts"]
    assert (first["level"], first["logger"]) == ("info", "edgeport_lib.edge")
    assert first["msg"] == "call c1 from 10.0.0.1"
    assert (first["call_id"], first["port"]) == ("c1", 5060)
    assert second["level"] == "error"
    assert "ValueError: bad\nthing" in second["exc"]


def test_text_lines_stay_on_one_line(restore_logging):
    stream = io.StringIO()
    setup_logging("debug", "text", stream)
    log = logging.getLogger("edgeport_lib.edge")
    log.warning("got\r\nmessage", extra={"peer": "10.0.0.1:5060", "note": "two words"})
    try:
        raise KeyError("k")
    except KeyError:
        log.error("oops", exc_info=True)
    lines = emitted(stream)
    assert len(lines) == 2
    expected = 'WARNING edgeport_lib.edge: got\\r\\nmessage peer=10.0.0.1:5060 note="two words"'
    assert lines[0].endswith(expected)
    assert " | Traceback (most recent call last):\\n" in lines[1]


SECRETS = [
    ("REGISTER sip:x SIP/2.0\r\nAuthorization: Digest username=\"a\", response=\"abc\"\r\nVia: v",
     "REGISTER sip:x SIP/2.0\r\nAuthorization: [REDACTED]\r\nVia: v"),
    (repr(b"INVITE sip:x SIP/2.0\r\nproxy-authorization: Digest response=\"abc\"\r\nTo: t"),
     repr(b"INVITE sip:x SIP/2.0\r\nproxy-authorization: [REDACTED]\r\nTo: t")),
    ("headers {'X-Gateway-Auth': 'dG9rZW4=', 'To': 'x'}",
     "headers {'X-Gateway-Auth': '[REDACTED]', 'To': 'x'}"),
    ('{"Proxy-Authorization": "Digest a=\\"b\\"", "to": 1}',
     '{"Proxy-Authorization": "[REDACTED]", "to": 1}'),
    ("[Header(name='X-Gateway-Auth', value='s3cret'), Header(name='To', value='x')]",
     "[Header(name='X-Gateway-Auth', value='[REDACTED]'), Header(name='To', value='x')]"),
    ('extensions {\n  name: "X-Gateway-Auth"\n  value: "s3cret"\n}',
     'extensions {\n  name: "X-Gateway-Auth"\n  value: "[REDACTED]"\n}'),
    ('[{"name": "authorization", "value": "Basic abc"}]',
     '[{"name": "authorization", "value": "[REDACTED]"}]'),
    ("x-gateway-auth=abc", "x-gateway-auth=[REDACTED]"),
    ("nats://user:pass@nats:4222 and https://a:b@host/x",
     "nats://[REDACTED]@nats:4222 and https://[REDACTED]@host/x"),
    ("Contact: <sip:alice:pw@10.0.0.1;transport=tcp>", "Contact: <sip:[REDACTED]@10.0.0.1;transport=tcp>"),
]
UNTOUCHED = [
    "sip:alice@example.com:5060 <sip:10.0.0.1:5060;lr>,<sip:bob@x>",
    "request without an Authorization header; Proxy-Authorization required: 407",
    'WWW-Authenticate: Digest realm="x", nonce="abc"',
    "http://example.com:8080/path@x",
]


@pytest.mark.parametrize(("text", "expected"), SECRETS)
def test_redact_secrets(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", UNTOUCHED)
def test_redact_leaves_other_text_alone(text):
    assert redact(text) == text


def test_the_filter_redacts_args_extras_and_tracebacks(restore_logging):
    stream = io.StringIO()
    setup_logging("info", "json", stream)
    log = logging.getLogger("edgeport_lib.edge")
    log.info("forwarding %r", "X-Gateway-Auth: dG9rZW4=",
             extra={"headers": {"X-Gateway-Auth": "dG9rZW4=", "To": "x"}, "url": "http://u:p@h/"})
    try:
        raise RuntimeError("Authorization: Bearer abc.def")
    except RuntimeError:
        log.exception("failed for nats://u:hunter2@nats")
    text = stream.getvalue()
    for secret in ("dG9rZW4=", "hunter2", "abc.def", "u:p@"):
        assert secret not in text
    first, second = (json.loads(line) for line in emitted(stream))
    assert first["msg"] == "forwarding 'X-Gateway-Auth: [REDACTED]"  # unquoted: to the end of the line
    assert first["headers"] == {"X-Gateway-Auth": "[REDACTED]", "To": "x"}
    assert first["url"] == "http://[REDACTED]@h/"
    assert second["msg"] == "failed for nats://[REDACTED]@nats"
    assert "RuntimeError: Authorization: [REDACTED]" in second["exc"]


def test_the_filter_keeps_a_record_with_bad_arguments():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items, Authorization: %s", ("a",), None)
    assert RedactingFilter().filter(record) is True
    assert "Authorization: [REDACTED]" in record.getMessage()
