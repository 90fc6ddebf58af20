"""Routr parity details over raw UDP: CANCEL, unnamed status codes, STRIP_SESSION_PROGRESS_SDP."""

from __future__ import annotations

import pytest

from .sipclient import TcpPeer, UdpPeer, cancel_of, request, response_to
from .stack import start_edgeport, start_processor

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


@pytest.fixture
def setup(tmp_path, request_env):
    client, callee = UdpPeer(), UdpPeer()
    route = {"host": "127.0.0.1", "port": callee.address[1], "transport": "udp"}
    processor, processor_port = start_processor(tmp_path, routes={"callee": route})
    edge = start_edgeport(tmp_path, processor_port, env=request_env)
    yield client, callee, ("127.0.0.1", edge.port)
    edge.process.kill()
    processor.kill()
    client.close()
    callee.close()


@pytest.fixture
def request_env():
    return {}


def with_headers(data: bytes, *lines: str, body: str = "") -> bytes:
    head = "".join(f"{line}\r\n" for line in lines)
    return data.replace(
        b"Content-Length: 0\r\n\r\n", f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode()
    )


def final(msg) -> bool:
    return msg.status is not None and msg.status >= 200


def cancel_after_final(client, callee, edge, call_id: str, status: int, reason: str) -> None:
    """An INVITE that the callee answers `status`, then a CANCEL from the caller (answered 200)."""
    invite = request("INVITE", "sip:callee@127.0.0.1", client.address, call_id=call_id,
                     branch=f"z9hG4bK{call_id}")
    client.send(invite, edge)
    forwarded, source = callee.receive()
    callee.send(response_to(forwarded, status, reason), source)
    assert client.receive_until(lambda m: m.cseq[1] == "INVITE" and final(m)).status == status
    client.send(cancel_of(invite), edge)
    assert client.receive_until(lambda m: m.cseq[1] == "CANCEL").status == 200


def test_cancel_gets_200_and_the_invite_487(setup):
    client, callee, edge = setup
    invite = request(
        "INVITE", "sip:callee@127.0.0.1", client.address, call_id="cancel-1", branch="z9hG4bKcancel1"
    )
    client.send(invite, edge)
    forwarded, source = callee.receive()
    callee.send(response_to(forwarded, 180, "Ringing"), source)
    client.receive_until(lambda m: m.status == 180)
    client.send(cancel_of(invite), edge)
    assert client.receive_until(lambda m: m.cseq[1] == "CANCEL").status == 200
    downstream_cancel, source = callee.receive()
    assert downstream_cancel.method == "CANCEL"
    assert downstream_cancel.top_via == forwarded.top_via, "CANCEL travels on the forwarded INVITE's branch"
    assert downstream_cancel.cseq == (forwarded.cseq[0], "CANCEL")
    callee.send(response_to(downstream_cancel, 200, "OK"), source)
    callee.send(response_to(forwarded, 487, "Request Terminated"), source)
    terminated = client.receive_until(lambda m: m.cseq[1] == "INVITE" and final(m))
    assert terminated.status == 487


def test_cancel_after_the_answer_gets_200_and_is_not_forwarded(setup):
    """RFC 3261 16.10: only pending client transactions are cancelled; an answered INVITE is not."""
    client, callee, edge = setup
    cancel_after_final(client, callee, edge, "cancel-2", 200, "OK")
    host, port = callee.address  # the ACK for a 2xx goes to the callee (its Contact, here)
    ack = request("ACK", f"sip:callee@{host}:{port}", client.address, call_id="cancel-2",
                  branch="z9hG4bKcancel2ack", to_tag="uas1")
    client.send(ack, edge)
    # requests of one call are handled in arrival order: a forwarded CANCEL would come first
    assert callee.receive()[0].method == "ACK"


@pytest.fixture
def with_events(tmp_path):
    """Like `setup`, with call events on the console: (client, callee, edge address, edge process)."""
    client, callee = UdpPeer(), UdpPeer()
    route = {"host": "127.0.0.1", "port": callee.address[1], "transport": "udp"}
    processor, processor_port = start_processor(tmp_path, routes={"callee": route})
    edge = start_edgeport(tmp_path, processor_port, env={"CONSOLE_PUBLISHER_ENABLED": "true"})
    yield client, callee, ("127.0.0.1", edge.port), edge.process
    edge.process.kill()
    processor.kill()
    client.close()
    callee.close()


def call_ended_lines(client, edge, process, call_id: str) -> list[str]:
    """The call.ended events of `call_id` so far. A REGISTER of the same call goes first: it is
    handled after the requests before it, and its endpoint.registered line comes after theirs."""
    register = request("REGISTER", "sip:127.0.0.1", client.address, call_id=call_id, cseq=90,
                       to="<sip:alice@127.0.0.1>")
    client.send(register, edge)
    assert client.receive_until(lambda m: m.cseq[1] == "REGISTER").status == 200
    process.wait_for_line("endpoint.registered", timeout=10)
    return [line for line in process.output if "call.ended" in line and call_id in line]


def test_cancel_after_the_answer_does_not_end_the_call(with_events):
    """The call goes on after a CANCEL that came too late: only its BYE publishes call.ended."""
    client, callee, edge, process = with_events
    cancel_after_final(client, callee, edge, "late-cancel-1", 200, "OK")
    host, port = callee.address
    bye = request("BYE", f"sip:callee@{host}:{port}", client.address, call_id="late-cancel-1",
                  branch="z9hG4bKlate1bye", to_tag="uas1", cseq=2)
    client.send(bye, edge)
    forwarded_bye, source = callee.receive()
    assert forwarded_bye.method == "BYE"
    callee.send(response_to(forwarded_bye, 200, "OK"), source)
    assert client.receive_until(lambda m: m.cseq[1] == "BYE").status == 200
    assert len(call_ended_lines(client, edge, process, "late-cancel-1")) == 1


def test_cancel_after_a_rejection_publishes_no_second_call_ended(with_events):
    client, callee, edge, process = with_events
    cancel_after_final(client, callee, edge, "late-cancel-2", 486, "Busy Here")
    lines = call_ended_lines(client, edge, process, "late-cancel-2")
    assert len(lines) == 1 and '"hangupCause":"USER_BUSY"' in lines[0], lines


def test_cancel_without_invite_gets_481(setup):
    client, _, edge = setup
    client.send(request("CANCEL", "sip:callee@127.0.0.1", client.address), edge)
    assert client.receive()[0].status == 481


@pytest.mark.parametrize(
    ("status", "reason"), [(580, "Precondition Failure"), (608, "Rejected"), (429, "Too Many")]
)
def test_status_without_a_name_is_relayed_with_its_code_and_phrase(setup, status, reason):
    client, callee, edge = setup
    client.send(request("INVITE", "sip:callee@127.0.0.1", client.address), edge)
    forwarded, source = callee.receive()
    callee.send(response_to(forwarded, status, reason), source)
    answer = client.receive_until(final)
    assert (answer.status, answer.reason) == (status, reason)


def test_204_to_message_is_relayed(setup):
    client, callee, edge = setup
    client.send(request("MESSAGE", "sip:callee@127.0.0.1", client.address, body="hi"), edge)
    forwarded, source = callee.receive()
    callee.send(response_to(forwarded, 204, "No Notification"), source)
    answer = client.receive_until(final)
    assert (answer.status, answer.reason) == (204, "No Notification")


@pytest.mark.parametrize("request_env", [{"STRIP_SESSION_PROGRESS_SDP": "true"}])
def test_183_sdp_is_stripped_unless_reliable(setup):
    client, callee, edge = setup
    client.send(request("INVITE", "sip:callee@127.0.0.1", client.address), edge)
    forwarded, source = callee.receive()
    plain = with_headers(
        response_to(forwarded, 183, "Session Progress"), "Content-Type: application/sdp", body=SDP
    )
    callee.send(plain, source)
    stripped = client.receive_until(lambda m: m.status == 183)
    assert stripped.body == b"" and stripped.get("Content-Type") is None
    reliable = with_headers(
        response_to(forwarded, 183, "Session Progress"),
        "Require: 100rel",
        "RSeq: 1",
        "Content-Type: application/sdp",
        body=SDP.replace("4000", "4002"),
    )
    callee.send(reliable, source)
    kept = client.receive_until(lambda m: m.status == 183)
    assert kept.body == SDP.replace("4000", "4002").encode()
    assert kept.get("Content-Type") == "application/sdp"


def test_a_closed_connection_ends_its_answered_calls(tmp_path):
    """call.ended (SERVICE_UNAVAILABLE) when the TCP connection of an answered call goes away."""
    callee = UdpPeer()
    route = {"host": "127.0.0.1", "port": callee.address[1], "transport": "udp"}
    processor, processor_port = start_processor(tmp_path, routes={"callee": route})
    edge = start_edgeport(tmp_path, processor_port, env={"CONSOLE_PUBLISHER_ENABLED": "true"})
    try:
        caller = TcpPeer(("127.0.0.1", edge.port))
        caller.send(request("INVITE", "sip:callee@127.0.0.1", caller.address, "TCP", call_id="dropped-1"))
        forwarded, source = callee.receive()
        callee.send(response_to(forwarded, 200, "OK"), source)
        assert caller.receive_until(final).status == 200
        caller.close()
        line = edge.process.wait_for_line('"hangupCause":"SERVICE_UNAVAILABLE"', timeout=15)
        assert "dropped-1" in line and "call.ended" in line
    finally:
        callee.close()
        edge.process.kill()
        processor.kill()
