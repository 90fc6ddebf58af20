"""Event payloads (wire contract section 7), the console publisher and NATS URL handling."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeport_lib.events import (
    CANCEL_STATUS,
    EventBus,
    call_connection_failed,
    call_ended,
    call_started,
    endpoint_registered,
    hangup_cause,
    timestamp,
)
from edgeport_lib.events.nats_publisher import NatsPublisher, parse_servers, redact, url_secrets
from edgeport_lib.events.payloads import address_of, console_line, encode, extra_headers
from edgeport_lib.sip.message import Header, SipMessage
from edgeport_lib.sip.parser import parse_message
from edgeport_lib.sip.serializer import serialize

NOW = datetime(2024, 5, 1, 12, 34, 56, 789999, tzinfo=UTC)
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

INVITE = (
    b"INVITE sip:bob@sip.example.org SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-inv\r\n"
    b"Max-Forwards: 69\r\n"
    b'f: "Alice Smith" <sip:alice:secretpw@sip.example.org:5070;transport=tcp>;tag=9fxced76sl\r\n'
    b"t: <sips:bob@[2001:db8::7]:5061>\r\n"
    b"i: call-123@10.0.0.5\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"X-Room: blue\r\n"
    b'Authorization: Digest username="alice", response="6629fae49393a05397450978507c4ef1"\r\n'
    b'Proxy-Authorization: Digest username="alice", response="aa"\r\n'
    b"X-Gateway-Auth: Z3c6c2VjcmV0\r\n"
    b"x-gateway-auth: Z3c6c2VjcmV0\r\n"
    b"X-Trace: first\r\n"
    b"X-Trace: second\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def invite() -> SipMessage:
    return parse_message(INVITE)


def register(*extra: str) -> SipMessage:
    lines = [
        "REGISTER sip:example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreg",
        "From: Alice <sip:alice@example.com>;tag=a7",
        "To: Alice <sip:alice@example.com>",
        "Call-ID: reg-1",
        "CSeq: 2 REGISTER",
        "Contact: <sip:alice@192.0.2.10:5060>;expires=3600",
        *extra,
        "Content-Length: 0",
    ]
    return parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())


# ----------------------------------------------------------------------------- timestamps
def test_timestamp_is_utc_with_milliseconds_and_z():
    assert timestamp(NOW) == "2024-05-01T12:34:56.789Z"  # truncated, not rounded
    assert timestamp(datetime(2024, 5, 1, 12, 0, 0)) == "2024-05-01T12:00:00.000Z"  # naive = UTC
    paris = timezone(timedelta(hours=2))
    assert timestamp(datetime(2024, 5, 1, 14, 0, 0, 1000, tzinfo=paris)) == "2024-05-01T12:00:00.001Z"
    assert TIMESTAMP_RE.match(timestamp())


@given(st.datetimes(min_value=datetime(1000, 1, 2), timezones=st.timezones()))
def test_timestamp_format_for_any_instant(moment: datetime):
    text = timestamp(moment)
    assert TIMESTAMP_RE.match(text), text
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert timedelta(0) <= moment - parsed < timedelta(milliseconds=1)


# ----------------------------------------------------------------------------- hangupCause
@pytest.mark.parametrize(
    ("status", "cause"),
    [
        (200, "NORMAL_CLEARING"),
        (487, "NORMAL_CLEARING"),
        (401, "CALL_REJECTED"),
        (403, "CALL_REJECTED"),
        (407, "CALL_REJECTED"),
        (603, "CALL_REJECTED"),
        (404, "UNALLOCATED"),
        (485, "UNALLOCATED"),
        (604, "UNALLOCATED"),
        (408, "NO_USER_RESPONSE"),
        (420, "NO_ROUTE_DESTINATION"),
        (480, "NO_ANSWER"),
        (483, "NO_ANSWER"),
        (484, "INVALID_NUMBER_FORMAT"),
        (486, "USER_BUSY"),
        (600, "USER_BUSY"),
        (488, "NOT_ACCEPTABLE_HERE"),
        (503, "SERVICE_UNAVAILABLE"),
        (500, "UNKNOWN"),
        (502, "UNKNOWN"),
        (481, "UNKNOWN"),
        (202, "UNKNOWN"),
        (606, "UNKNOWN"),
        (0, "UNKNOWN"),
    ],
)
def test_hangup_cause_table(status: int, cause: str):
    assert hangup_cause(status) == cause


def test_cancel_counts_as_200():
    assert call_ended("c", CANCEL_STATUS, {}, NOW)["hangupCause"] == "NORMAL_CLEARING"


# ----------------------------------------------------------------------------- call.started
def test_call_started_payload():
    payload = call_started(invite(), {"accountRef": "AC1", "trunkRef": "TK9"}, NOW)
    assert payload == {
        "callId": "call-123@10.0.0.5",
        "from": "sip:alice@sip.example.org",
        "to": "sip:bob@[2001:db8::7]",
        "startTime": "2024-05-01T12:34:56.789Z",
        "extraHeaders": {"X-Room": "blue", "X-Trace": "first"},
        "accountRef": "AC1",
        "trunkRef": "TK9",
    }
    assert list(payload) == ["callId", "from", "to", "startTime", "extraHeaders", "accountRef", "trunkRef"]


def test_call_started_metadata_cannot_overwrite_fields_or_carry_credentials():
    metadata = {
        "callId": "forged",
        "extraHeaders": "x",
        "X-Gateway-Auth": "Z3c6",
        "authorization": "D",
        "a": "1",
    }
    payload = call_started(invite(), metadata, NOW)
    assert payload["callId"] == "call-123@10.0.0.5"
    assert payload["extraHeaders"] == {"X-Room": "blue", "X-Trace": "first"}
    assert "X-Gateway-Auth" not in payload and "authorization" not in payload
    assert payload["a"] == "1"


def test_no_credential_reaches_any_payload():
    texts = [
        encode(call_started(invite(), {}, NOW)).decode(),
        encode(endpoint_registered(invite(), NOW)).decode(),
        encode(
            call_ended("c", 200, {"X-Gateway-Auth": "Z3c6", "PROXY-AUTHORIZATION": "D", "X-A": "1"})
        ).decode(),
    ]
    for text in texts:
        for secret in ("Z3c6", "secretpw", "Digest", "response=", "Gateway-Auth", "Authorization"):
            assert secret.lower() not in text.lower(), (secret, text)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["X-Gateway-Auth", "x-gateway-auth", "X-GATEWAY-AUTH", "Authorization", "X-A", "X-b"]
            ),
            st.text(alphabet="abc123=", min_size=1, max_size=8),
        ),
        max_size=8,
    )
)
def test_extra_headers_are_x_headers_without_credentials(headers: list[tuple[str, str]]):
    message = SipMessage(method="INVITE", uri="sip:b@h", headers=[Header(n, v) for n, v in headers])
    found = extra_headers(message)
    assert all(name.lower() in ("x-a", "x-b") for name in found)
    for name, value in found.items():  # the first instance wins
        assert value == next(v for n, v in headers if n.lower() == name.lower())


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ('"Bob" <sip:bob@example.com;transport=tcp>;tag=1', "sip:bob@example.com"),
        ("<sip:bob:pw@example.com:5080>", "sip:bob@example.com"),
        ("sips:carol@secure.example.com;tag=9", "sip:carol@secure.example.com"),
        ("<sip:example.com>", "sip:example.com"),
        ("<tel:+15551234567>", "tel:+15551234567"),
        ("<sip:%61lice@example.com>", "sip:%61lice@example.com"),
        ("not an address <", ""),
        (None, ""),
        ("*", ""),
    ],
)
def test_address_of(value: str | None, address: str):
    assert address_of(value) == address


# ------------------------------------------------------------------------------- call.ended
def test_call_ended_payload():
    payload = call_ended("call-9", 486, {"X-Room": "blue", "x-gateway-auth": "Z3c6"}, NOW)
    assert payload == {
        "callId": "call-9",
        "endTime": "2024-05-01T12:34:56.789Z",
        "hangupCause": "USER_BUSY",
        "extraHeaders": {"X-Room": "blue"},
    }
    assert list(payload) == ["callId", "endTime", "hangupCause", "extraHeaders"]


def test_call_ended_when_the_connection_failed():
    payload = call_connection_failed("call-9", now=NOW)
    assert payload == {
        "callId": "call-9",
        "endTime": "2024-05-01T12:34:56.789Z",
        "hangupCause": "SERVICE_UNAVAILABLE",
        "extraHeaders": {},
    }


# ---------------------------------------------------------------------- endpoint.registered
def test_endpoint_registered_payload():
    payload = endpoint_registered(register("Expires: 600", "X-Tenant: t1", "X-Gateway-Auth: Z3c6"), NOW)
    assert payload == {
        "aor": "sip:alice@example.com",
        "registeredAt": "2024-05-01T12:34:56.789Z",
        "expires": 600,
        "extraHeaders": {"X-Tenant": "t1"},
    }
    assert list(payload) == ["aor", "registeredAt", "expires", "extraHeaders"]


@pytest.mark.parametrize("extra", [(), ("Expires: soon",), ("Expires: ²",), ("Expires: -5",)])
def test_endpoint_registered_expires_is_0_without_a_usable_expires_header(extra: tuple[str, ...]):
    # the Contact's expires=3600 parameter is not used: the contract names the Expires header
    assert endpoint_registered(register(*extra), NOW)["expires"] == 0


# ------------------------------------------------------------------------------- encoding
def test_encode_is_compact_utf8_json():
    data = encode({"callId": "é", "n": 1, "when": NOW})
    assert data == '{"callId":"é","n":1,"when":"2024-05-01 12:34:56.789999+00:00"}'.encode()


def test_encode_reads_header_bytes_that_are_not_utf8_as_replacement_characters():
    data = serialize(register("X-Note: cafX")).replace(b"cafX", b"caf\xe9")  # \xe9 alone is not UTF-8
    payload = endpoint_registered(parse_message(data), NOW)
    assert json.loads(encode(payload))["extraHeaders"] == {"X-Note": "caf\ufffd"}
    line = console_line("endpoint.registered", payload)
    assert line.isascii() and json.loads(line)["payload"]["extraHeaders"] == {"X-Note": "caf\ufffd"}
    emoji = {"X-Mood": "\U0001f400"}  # its JSON escape is a surrogate pair, \ud83d\udc00: kept
    assert json.loads(console_line("e", emoji))["payload"] == emoji


# --------------------------------------------------------------------------------- EventBus
def test_console_publisher_writes_one_json_line_per_event(caplog):
    bus = EventBus(console=True)
    with caplog.at_level(logging.INFO, logger="edgeport.events"):
        bus.publish("call.started", call_started(invite(), {"k": "v\nw"}, NOW))
        bus.publish("call.ended", call_ended("call-123@10.0.0.5", 200, {}, NOW))
    records = [r for r in caplog.records if r.name == "edgeport.events"]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO]
    lines = [r.getMessage() for r in records]
    assert all("\n" not in line for line in lines)
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "call.started" and first["payload"]["k"] == "v\nw"
    assert first["payload"]["extraHeaders"] == {"X-Room": "blue", "X-Trace": "first"}
    assert second == {"event": "call.ended", "payload": call_ended("call-123@10.0.0.5", 200, {}, NOW)}
    assert "Z3c6" not in caplog.text and "secretpw" not in caplog.text
    assert bus.stats() == {
        "published": 2,
        "dropped": 0,
        "buffered": 0,
        "connected": None,
        "connect_attempts": 0,
    }


def test_disabled_bus_ignores_events():
    bus = EventBus()
    bus.start()
    bus.publish("call.started", {"callId": "x"})
    bus.close()
    assert not bus.enabled
    assert bus.stats()["published"] == 0


def test_publish_never_raises(caplog):
    class Broken(dict):
        def items(self):
            raise RuntimeError("boom")

    bus = EventBus(console=True)
    with caplog.at_level(logging.ERROR, logger="edgeport.events"):
        bus.publish("call.started", Broken(a=1))
        bus.publish("call.started", Broken(a=1))
    assert bus.stats()["dropped"] == 2
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1  # said once


def test_nats_events_wait_in_the_buffer_until_started():
    bus = EventBus(nats_url="nats://127.0.0.1:1", buffer_size=2)
    for _ in range(3):
        bus.publish("call.started", {"callId": "x"})
    assert bus.stats() == {
        "published": 0,
        "dropped": 1,
        "buffered": 2,
        "connected": False,
        "connect_attempts": 0,
    }
    bus.close(0.1)  # never started: the buffer is given up at once
    assert bus.stats()["dropped"] == 3 and bus.stats()["buffered"] == 0


# ------------------------------------------------------------------------------- NATS URLs
def test_parse_servers_accepts_lists_credentials_tls_and_bare_hosts():
    url = "nats://u:p@n1:4222, tls://tok@n2:4443 ,n3:4222,n4,[::1]:4222"
    assert parse_servers(url) == [
        "nats://u:p@n1:4222",
        "tls://tok@n2:4443",
        "nats://n3:4222",
        "nats://n4",
        "nats://[::1]:4222",
    ]
    assert parse_servers("nats:4222") == ["nats://nats:4222"]  # Routr's docker-compose example


@pytest.mark.parametrize(
    "url", ["", " , ", "http://u:hunter22@h:80", "nats://u:hunter22@h:99999", "nats://:4222"]
)
def test_parse_servers_rejects_bad_urls_without_showing_credentials(url: str):
    with pytest.raises(ValueError) as error:
        parse_servers(url)
    assert "hunter22" not in str(error.value)


def test_redact_and_secrets():
    url = "nats://user:p%40ss@h1:4222,tls://t0ken@h2,h3:4222,p@ss:w@rd@h4"
    assert redact(url) == "nats://***@h1:4222,tls://***@h2,h3:4222,***@h4"
    secrets = url_secrets(url)
    for secret in ("user:p%40ss", "user", "p%40ss", "p@ss", "t0ken", "p@ss:w@rd", "w@rd"):
        assert secret in secrets
    assert secrets == sorted(secrets, key=len, reverse=True)


def test_nats_publisher_rejects_bad_subjects():
    for subject in ("", "a..b", "a b", "a.*", "a.>"):
        with pytest.raises(ValueError):
            NatsPublisher("nats://127.0.0.1:4222", subject)
    publisher = NatsPublisher("nats://127.0.0.1:4222", "edge.events")
    publisher.publish("bad event", b"{}")  # not a valid subject token: refused, not raised
    assert publisher.rejected == 1 and publisher.buffered == 0


def test_stats_is_a_callable_for_scrape_time_metrics():
    bus = EventBus(console=True)
    read = bus.stats  # what Metrics.bind_events keeps and calls at each scrape
    bus.publish("call.ended", call_ended("c", 200, {}, NOW))
    assert read()["published"] == 1 and read()["dropped"] == 0
