"""End-to-end flows over UDP and TCP with raw-socket SIP peers: EdgePort + reference processor."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.helpers import PYTHON, free_port

from .ops_client import samples, total
from .sipclient import TcpPeer, UdpPeer, cancel_of, request, response_to
from .stack import start_edgeport, start_processor


@pytest.fixture
def peers():
    made = []

    def make(kind="udp", to=None):
        peer = UdpPeer() if kind == "udp" else TcpPeer(to)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()


@pytest.fixture
def stack(request, tmp_path, peers):
    """EdgePort and the reference processor, with `service` routed to a silent raw UDP peer.
    Parametrized indirectly, the parameter holds more spec.timers; then /metrics is served too."""
    downstream = peers("udp")
    processor, processor_port = start_processor(
        tmp_path, routes={"service": {"host": "127.0.0.1", "port": downstream.address[1], "transport": "udp"}}
    )
    timers = getattr(request, "param", None)
    ops_port, ops = None, {}
    if timers:
        ops_port = free_port("tcp")
        ops = {"env": {"ENABLE_HEALTHCHECKS": "true"}, "ops": {"bindAddr": "127.0.0.1", "port": ops_port}}
    edge = start_edgeport(tmp_path, processor_port, timers={"t1": 0.05, **(timers or {})}, **ops)
    yield {
        "edge": edge,
        "processor": processor,
        "processor_port": processor_port,
        "downstream": downstream,
        "tmp_path": tmp_path,
        "ops_port": ops_port,
    }
    edge.process.kill()
    processor.kill()


def _edge(stack) -> tuple[str, int]:
    return ("127.0.0.1", stack["edge"].port)


def is_status(status):
    return lambda msg: msg.status == status


def test_register_is_answered_by_the_processor(stack, peers):
    client = peers()
    client.send(
        request("REGISTER", "sip:127.0.0.1", client.address, to="<sip:alice@127.0.0.1>"), _edge(stack)
    )
    response, _ = client.receive()
    assert response.status == 200
    assert ";tag=" in response.get("To")
    assert "rport=" in response.get("Via") and "received=127.0.0.1" in response.get("Via")


def test_max_forwards_zero_gets_483(stack, peers):
    client = peers()
    client.send(request("OPTIONS", "sip:service@127.0.0.1", client.address, max_forwards=0), _edge(stack))
    response, _ = client.receive()
    assert (response.status, response.reason) == (483, "Too Many Hops")


def test_unknown_method_gets_405_with_allow(stack, peers):
    client = peers()
    client.send(request("FOO", "sip:service@127.0.0.1", client.address), _edge(stack))
    response, _ = client.receive()
    assert response.status == 405
    assert "INVITE" in response.get("Allow") and "FOO" not in response.get("Allow")


def test_method_not_configured_gets_405(stack, peers):
    client = peers()
    client.send(
        request("SUBSCRIBE", "sip:service@127.0.0.1", client.address, extra="Event: presence"), _edge(stack)
    )
    response, _ = client.receive()
    assert response.status == 405


def test_malformed_request_gets_400_with_reason(stack, peers):
    client = peers()
    data = request(
        "OPTIONS", "sip:service@127.0.0.1", client.address, max_forwards=None, extra="Max-Forwards: x"
    )
    client.send(data, _edge(stack))
    response, _ = client.receive()
    assert response.status == 400
    assert "Max-Forwards" in response.reason


def test_invite_retransmissions_are_absorbed(stack, peers):
    client, downstream = peers(), stack["downstream"]
    invite = request("INVITE", "sip:service@127.0.0.1", client.address, call_id="retrans-1")
    for _ in range(3):
        client.send(invite, _edge(stack))
    trying = client.receive_until(is_status(100))
    assert trying.call_id == "retrans-1"
    forwarded, source = downstream.receive()
    assert forwarded.method == "INVITE"
    downstream.send(response_to(forwarded, 180, "Ringing"), source)
    client.receive_until(is_status(180))
    downstream.send(response_to(forwarded, 486, "Busy Here"), source)
    assert client.receive_until(is_status(486)).call_id == "retrans-1"
    ack, _ = downstream.receive()  # hop-by-hop ACK for the 486
    assert ack.method == "ACK"
    # every INVITE that reached downstream was the one forwarded copy; later ones were absorbed
    downstream.sock.settimeout(0.5)
    extra = []
    try:
        while True:
            extra.append(downstream.receive()[0])
    except TimeoutError:
        pass
    assert [m.method for m in extra if m.method == "INVITE"] == []


def test_a_retransmitted_message_gets_the_same_final_response_again(stack, peers):
    """A finished non-INVITE server transaction keeps the bytes of its final response (timer J)."""
    client, downstream = peers(), stack["downstream"]
    message = request("MESSAGE", "sip:service@127.0.0.1", client.address, call_id="retrans-2", body="hi")
    client.send(message, _edge(stack))
    forwarded, source = downstream.receive()
    downstream.send(response_to(forwarded, 200, "OK"), source)
    first, _ = client.sock.recvfrom(65535)
    assert first.startswith(b"SIP/2.0 200 OK\r\n")
    client.send(message, _edge(stack))
    again, _ = client.sock.recvfrom(65535)
    assert again == first
    downstream.sock.settimeout(0.5)
    with pytest.raises(TimeoutError):  # the retransmission was answered, not forwarded again
        downstream.receive()


def _raw_200(peer: UdpPeer) -> bytes:
    while True:
        data, _ = peer.sock.recvfrom(65535)
        if data.startswith(b"SIP/2.0 200 "):
            return data


WITH_OPS = pytest.mark.parametrize("stack", [{"t1": 0.05}], indirect=True, ids=["with /metrics"])


@WITH_OPS
def test_a_retransmitted_2xx_goes_out_again_without_asking_the_processor(stack, peers):
    """A UAS sends its 2xx again until the ACK comes: each copy is relayed as the first one was.
    A 2xx from another fork (another To-tag) still goes through the processor."""
    client, downstream = peers(), stack["downstream"]
    invite = request("INVITE", "sip:service@127.0.0.1", client.address, call_id="retrans-2xx")
    client.send(invite, _edge(stack))
    forwarded, source = downstream.receive()
    ok = response_to(forwarded, 200, "OK")
    downstream.send(ok, source)
    first = _raw_200(client)
    calls = total(samples(stack["ops_port"]), "edgeport_processor_call_seconds_count")

    downstream.send(ok, source)
    assert _raw_200(client) == first
    downstream.send(response_to(forwarded, 200, "OK", to_tag="uas2"), source)
    fork = client.receive_until(is_status(200))
    assert "tag=uas2" in fork.get("To")

    after = samples(stack["ops_port"])
    assert total(after, "edgeport_processor_call_seconds_count") == calls + 1  # the fork only
    assert total(after, "edgeport_sip_retransmissions_total", direction="received") == 1


@WITH_OPS
def test_a_repeated_ack_goes_out_again_without_asking_the_processor(stack, peers):
    """A UAC sends its ACK again for every copy of the 2xx: each copy goes where the first went."""
    client, downstream = peers(), stack["downstream"]
    host, port = downstream.address
    ack = request("ACK", f"sip:service@{host}:{port}", client.address, call_id="retrans-ack", to_tag="uas1")
    client.send(ack, _edge(stack))
    first, _ = downstream.sock.recvfrom(65535)
    assert first.startswith(b"ACK ")
    calls = total(samples(stack["ops_port"]), "edgeport_processor_call_seconds_count")

    client.send(ack, _edge(stack))
    again, _ = downstream.sock.recvfrom(65535)
    assert again == first
    other = ack.replace(b"CSeq: 1 ACK", b"CSeq: 2 ACK")  # a new ACK (a re-INVITE's): asked for
    client.send(other, _edge(stack))
    assert downstream.receive()[0].cseq == (2, "ACK")

    after = samples(stack["ops_port"])
    assert total(after, "edgeport_processor_call_seconds_count") == calls + 1
    assert total(after, "edgeport_sip_retransmissions_total", direction="received") == 1


def test_header_bytes_that_are_not_utf8_reach_the_next_hop_unchanged(stack, peers):
    """The processor reads U+FFFD for them; lines it returns unchanged go out as they came."""
    client, downstream = peers(), stack["downstream"]
    invite = request("INVITE", "sip:service@127.0.0.1", client.address, extra="X-Note: cafX")
    invite = invite.replace(b"cafX", b"caf\xe9").replace(b"From: <sip:", b'From: "Jos\xe9" <sip:', 1)
    client.send(invite, _edge(stack))
    forwarded, _ = downstream.sock.recvfrom(65535)
    assert forwarded.startswith(b"INVITE sip:")
    assert b"\r\nX-Note: caf\xe9\r\n" in forwarded
    assert b'\r\nFrom: "Jos\xe9" <sip:alice@' in forwarded


def test_a_route_with_a_line_break_in_its_host_gets_500_and_sends_nothing(tmp_path, peers):
    """A value the processor set (here from its routes file) that would end a line early is
    refused: the caller gets 500, and the log names the field, not the value."""
    client = peers()
    host = "127.0.0.1\r\nX-Injected: yes"
    processor, processor_port = start_processor(tmp_path, routes={"service": {"host": host, "port": 5060}})
    edge = start_edgeport(tmp_path, processor_port)
    try:
        client.send(request("INVITE", "sip:service@127.0.0.1", client.address), ("127.0.0.1", edge.port))
        assert client.receive_until(lambda m: (m.status or 0) >= 200).status == 500
        line = edge.process.wait_for_line("unusable")
        assert "Request-URI" in line and "X-Injected" not in line
    finally:
        edge.process.kill()
        processor.kill()


BREAKING_PROCESSOR = Path(__file__).with_name("breaking_processor.py")


@pytest.mark.parametrize(("breakage", "named"), [("call-id", "empty Call-ID"), ("cseq", "CSeq method")])
def test_a_request_the_next_hop_would_refuse_gets_500_and_is_not_sent(tmp_path, peers, breakage, named):
    """The processor empties the Call-ID, or gives the CSeq another method: the caller gets 500,
    the next hop nothing, and the log names the header."""
    client, downstream = peers(), peers()
    processor, processor_port = start_processor(
        tmp_path, routes={"service": {"host": "127.0.0.1", "port": downstream.address[1]}},
        extra=["--break", breakage], program=(PYTHON, str(BREAKING_PROCESSOR)))
    edge = start_edgeport(tmp_path, processor_port)
    try:
        client.send(request("INVITE", "sip:service@127.0.0.1", client.address), ("127.0.0.1", edge.port))
        assert client.receive_until(lambda m: (m.status or 0) >= 200).status == 500
        assert named in edge.process.wait_for_line("unusable")
        downstream.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            downstream.receive()
    finally:
        edge.process.kill()
        processor.kill()


def ringing_call(stack, client):
    """An INVITE from `client` that the next hop answers 180 and nothing more.
    Returns (the INVITE sent, the INVITE forwarded, the hop's address)."""
    downstream = stack["downstream"]
    sent = request("INVITE", "sip:service@127.0.0.1", client.address)
    client.send(sent, _edge(stack))
    invite, hop = downstream.receive()
    downstream.send(response_to(invite, 180, "Ringing"), hop)
    client.receive_until(is_status(180))
    return sent, invite, hop


TIMER_C = pytest.mark.parametrize("stack", [{"c": 0.5}], indirect=True, ids=["timer C 0.5 s"])


@TIMER_C
def test_an_invite_ringing_past_timer_c_is_cancelled_downstream(stack, peers):
    client, downstream = peers(), stack["downstream"]
    _, invite, hop = ringing_call(stack, client)
    cancel = downstream.receive_until(lambda m: m.method == "CANCEL")
    assert cancel.values("Via")[0] == invite.values("Via")[0] and cancel.cseq == (invite.cseq[0], "CANCEL")
    downstream.send(response_to(cancel, 200, "OK"), hop)
    downstream.send(response_to(invite, 487, "Request Terminated"), hop)
    assert client.receive_until(lambda m: (m.status or 0) >= 200).status == 487
    assert downstream.receive_until(lambda m: m.method == "ACK").cseq == (invite.cseq[0], "ACK")
    assert total(samples(stack["ops_port"]), "edgeport_sip_timeouts_total", timer="C") == 1


@TIMER_C
def test_a_next_hop_that_rang_and_went_away_gets_the_caller_408(stack, peers):
    client = peers()
    ringing_call(stack, client)  # then silence, even to the CANCEL: 408 after 64*T1 more
    assert client.receive_until(lambda m: (m.status or 0) >= 200).status == 408
    assert total(samples(stack["ops_port"]), "edgeport_sip_timeouts_total", timer="C") == 2  # CANCEL, 408


def test_a_cancelled_invite_the_next_hop_never_ends_gets_487(stack, peers):
    """The caller's CANCEL is answered at once; when the next hop answers neither it nor the
    INVITE, the INVITE gets 487 after 64*T1 (RFC 3261 9.1) instead of waiting for timer C."""
    client = peers()
    sent, _, _ = ringing_call(stack, client)
    client.send(cancel_of(sent), _edge(stack))
    assert client.receive_until(lambda m: m.cseq[1] == "CANCEL").status == 200
    assert client.receive_until(lambda m: m.cseq[1] == "INVITE" and (m.status or 0) >= 200).status == 487


def test_silent_next_hop_gets_408_upstream(stack, peers):
    client, downstream = peers(), stack["downstream"]
    client.send(request("INVITE", "sip:service@127.0.0.1", client.address, call_id="silent"), _edge(stack))
    assert client.receive_until(lambda m: m.status is not None and m.status >= 200).status == 408
    copies = []
    downstream.sock.settimeout(0.2)
    try:
        while True:
            copies.append(downstream.receive()[0])
    except TimeoutError:
        pass
    invites = [m for m in copies if m.method == "INVITE"]
    assert len(invites) >= 3, "timer A should have retransmitted the INVITE to the silent hop"


def test_processor_down_gives_503_then_recovers(stack, peers):
    client = peers()
    register = lambda: request("REGISTER", "sip:127.0.0.1", client.address, to="<sip:bob@127.0.0.1>")  # noqa: E731
    stack["processor"].kill()
    client.send(register(), _edge(stack))
    response, _ = client.receive()
    assert response.status == 503
    processor, _ = start_processor(stack["tmp_path"], port=stack["processor_port"])
    stack["processor"] = processor
    deadline = time.monotonic() + 15  # the channel reconnects within its backoff (at most 2 s)
    while time.monotonic() < deadline:
        client.send(register(), _edge(stack))
        response, _ = client.receive()
        if response.status == 200:
            break
        time.sleep(0.2)  # polling pace, not synchronisation
    assert response.status == 200
    assert (
        stack["edge"].process.output.count(
            next(line for line in stack["edge"].process.output if "unreachable" in line)
        )
        == 1
    )


def test_processor_down_when_the_final_comes_gives_the_caller_503(stack, peers):
    """The final response cannot go through the processor: the caller gets 503, not silence
    (its INVITE transaction would otherwise wait forever, and stay in the table)."""
    client, downstream = peers(), stack["downstream"]
    invite = request("INVITE", "sip:service@127.0.0.1", client.address, call_id="lost-final")
    client.send(invite, _edge(stack))
    forwarded, source = downstream.receive()
    stack["processor"].kill()
    downstream.send(response_to(forwarded, 486, "Busy Here"), source)
    final = client.receive_until(lambda m: m.status is not None and m.status >= 200)
    assert (final.call_id, final.status) == ("lost-final", 503)


def test_tcp_client_gets_invite_on_its_registered_connection(stack, peers):
    alice = peers("tcp", _edge(stack))
    alice.send(
        request(
            "REGISTER",
            "sip:127.0.0.1",
            alice.address,
            "TCP",
            to="<sip:alice@127.0.0.1>",
            extra="Expires: 600",
        )
    )
    assert alice.receive().status == 200
    caller = peers()
    caller.send(
        request("INVITE", "sip:alice@127.0.0.1", caller.address, call_id="to-alice", from_user="carol"),
        _edge(stack),
    )
    invite = alice.receive_until(lambda m: m.method == "INVITE")
    assert invite.call_id == "to-alice"
    alice.send(response_to(invite, 486, "Busy Here"))
    assert caller.receive_until(lambda m: m.status is not None and m.status >= 200).status == 486


def test_garbage_is_dropped_and_logged_once(stack, peers):
    client = peers()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(50):
        sock.sendto(b"\x00\xffgarbage" * (i + 1), _edge(stack))
    sock.close()
    client.send(request("REGISTER", "sip:127.0.0.1", client.address, to="<sip:dan@127.0.0.1>"), _edge(stack))
    assert client.receive()[0].status == 200
    dropped = [line for line in stack["edge"].process.output if "unparseable" in line]
    assert len(dropped) == 1
