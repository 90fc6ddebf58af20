"""EdgePort answers a trunk's 407 with the credentials the processor gave in X-Gateway-Auth."""

from __future__ import annotations

import hashlib

import pytest

from edgeport_lib.sip.auth import parse_challenge

from .sipclient import UdpPeer, request, response_to
from .stack import start_edgeport, start_processor

REALM, NONCE = "trunk.example", "f84f1cec41e6cbe5aea9c8e88d359"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
def call_setup(tmp_path):
    client, trunk = UdpPeer(), UdpPeer()
    route = {
        "host": "127.0.0.1",
        "port": trunk.address[1],
        "transport": "udp",
        "username": "acme",
        "password": "s3cret",
    }
    processor, processor_port = start_processor(tmp_path, routes={"trunk": route})
    edge = start_edgeport(tmp_path, processor_port)
    yield client, trunk, ("127.0.0.1", edge.port), edge
    edge.process.kill()
    processor.kill()
    client.close()
    trunk.close()


def test_407_is_answered_and_the_caller_keeps_its_cseq(call_setup):
    client, trunk, edge_addr, edge = call_setup
    client.send(
        request(
            "INVITE", "sip:trunk@127.0.0.1", client.address, call_id="aob-1", cseq=10, from_tag="caller1"
        ),
        edge_addr,
    )

    first, source = trunk.receive()
    assert (first.method, first.cseq) == ("INVITE", (10, "INVITE"))
    assert first.get("X-Gateway-Auth") is None, "the credentials must never reach the wire"
    challenge = f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth", algorithm=MD5'
    trunk.send(
        response_to(first, 407, "Proxy Authentication Required").replace(
            b"Content-Length: 0", f"Proxy-Authenticate: {challenge}\r\nContent-Length: 0".encode()
        ),
        source,
    )

    # the hop-by-hop ACK for the 407 and the new INVITE, in either order
    (ack, _), (retry, source) = sorted((trunk.receive() for _ in range(2)), key=lambda m: m[0].method)
    assert (ack.method, ack.cseq) == ("ACK", (10, "ACK"))
    assert (retry.method, retry.cseq) == ("INVITE", (11, "INVITE"))
    assert retry.top_via != first.top_via, "a new transaction needs a new branch"
    _, creds = parse_challenge(retry.get("Proxy-Authorization"))
    ha1, ha2 = md5(f"acme:{REALM}:s3cret"), md5(f"INVITE:{creds['uri']}")
    expected = md5(f"{ha1}:{NONCE}:{creds['nc']}:{creds['cnonce']}:auth:{ha2}")
    assert (creds["username"], creds["response"]) == ("acme", expected)

    ok = response_to(retry, 200, "OK").replace(
        b"Content-Length: 0",
        f"Contact: <sip:trunk@127.0.0.1:{trunk.address[1]}>\r\nContent-Length: 0".encode(),
    )
    trunk.send(ok, source)
    answer = client.receive_until(lambda m: m.status == 200)
    assert answer.cseq == (10, "INVITE"), "the caller sees its own CSeq"
    assert not any(m.status == 407 for m in [answer])

    routes = "".join(f"Route: {rr}\r\n" for rr in answer.get_all("Record-Route"))
    client.send(
        request(
            "ACK",
            f"sip:trunk@127.0.0.1:{trunk.address[1]}",
            client.address,
            call_id="aob-1",
            cseq=10,
            to=answer.get("To"),
            extra=routes,
            from_tag="caller1",
        ),
        edge_addr,
    )
    end_to_end_ack, _ = trunk.receive()
    assert (end_to_end_ack.method, end_to_end_ack.cseq) == ("ACK", (11, "ACK")), (
        "the ACK for the 2xx carries the CSeq of the INVITE it acknowledges"
    )
    assert "s3cret" not in edge.process.log()
