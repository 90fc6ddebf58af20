"""routing.py's next hops and forwarded Vias (contract section 5), first parsed and then remembered.

The same Route, Request-URI and processor Via come back call after call, and what they parse
to is remembered by their text: every answer must be the one a fresh parse gives, a remembered
Via must never carry one request's branch into the next, and the tables stay bounded.
"""

from __future__ import annotations

import pytest

from edgeport_lib import routing
from edgeport_lib.sip.message import Header, SipMessage
from edgeport_lib.sip.via import MAGIC_COOKIE
from edgeport_lib.transports.base import Target

PORTS = {"UDP": 5060, "TCP": 5060, "TLS": 5061}


def request(uri: str, via: str = "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1", routes: tuple = ()) -> SipMessage:
    headers = [Header("Via", via), *(Header("Route", r) for r in routes)]
    return SipMessage(method="INVITE", uri=uri, headers=headers)


@pytest.mark.parametrize("uri, via, routes, expected", [
    ("sip:bob@192.0.2.5:5070", "SIP/2.0/UDP h", (), Target("UDP", "192.0.2.5", 5070)),
    ("sip:bob@192.0.2.5", "SIP/2.0/TCP h", (), Target("TCP", "192.0.2.5", 5060)),
    ("sips:bob@example.com", "SIP/2.0/UDP h", (), Target("TLS", "example.com", 5061)),
    ("sip:bob@example.com;transport=tcp;maddr=192.0.2.9", "SIP/2.0/UDP h", (),
     Target("TCP", "192.0.2.9", 5060)),
    ("sip:bob@example.com", "SIP/2.0/UDP h", ("<sip:[2001:db8::1]:5080;lr>, <sip:x@y>",),
     Target("UDP", "2001:db8::1", 5080)),
    ("sip:bob@example.com", "SIP/2.0/UDP h", ("<sip:p1.example.com;lr;transport=tcp>", "<sip:p2;lr>"),
     Target("TCP", "p1.example.com", 5060)),
])
def test_next_hop_fresh_and_remembered(uri: str, via: str, routes: tuple, expected: Target) -> None:
    for _ in range(2):
        assert routing.next_hop(request(uri, via, routes)) == expected


def test_the_same_route_text_under_another_via_transport_is_another_hop() -> None:
    route = ("<sip:proxy.example.com;lr>",)
    assert routing.next_hop(request("sip:a@b", "SIP/2.0/UDP h", route)).transport == "UDP"
    assert routing.next_hop(request("sip:a@b", "SIP/2.0/TCP h", route)).transport == "TCP"


def test_a_non_sip_uri_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            routing.next_hop(request("tel:+15551234567"))


def test_a_remembered_processor_via_never_keeps_a_branch() -> None:
    self_via = "SIP/2.0/UDP 192.0.2.1"  # the processor's own Via: no branch, no port
    branches = set()
    for _ in range(3):
        msg = request("sip:a@b", self_via)
        via = routing.prepare_forwarded_via(msg, PORTS)
        assert via.branch.startswith(MAGIC_COOKIE) and via.port == 5060
        assert msg.top_via == f"SIP/2.0/UDP 192.0.2.1:5060;branch={via.branch}"
        branches.add(via.branch)
    assert len(branches) == 3


def test_a_processor_via_with_a_branch_is_kept() -> None:
    text = "SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bKfixed;rport"
    for _ in range(2):
        msg = request("sip:a@b", text)
        assert routing.prepare_forwarded_via(msg, PORTS).branch == "z9hG4bKfixed"
        assert msg.top_via == text


def test_the_tables_stay_bounded() -> None:
    for n in range(routing.REMEMBERED + 20):
        routing.next_hop(request(f"sip:bob@10.0.{n // 250}.{n % 250}"))
        routing.prepare_forwarded_via(request("sip:a@b", f"SIP/2.0/UDP 10.1.{n // 250}.{n % 250}"), PORTS)
    assert len(routing._HOPS) <= routing.REMEMBERED
    assert len(routing._PROCESSOR_VIAS) <= routing.REMEMBERED


@pytest.mark.parametrize("lines, expected", [
    (["SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b"], ["NEW", "SIP/2.0/UDP b"]),
    (["SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b", "SIP/2.0/UDP c"],
     ["NEW, SIP/2.0/TCP b", "SIP/2.0/UDP c"]),
    ([",", "SIP/2.0/UDP a, SIP/2.0/UDP b"], [",", "NEW, SIP/2.0/UDP b"]),  # no element on the first line
])
def test_the_top_via_element_is_replaced_wherever_it_is(lines: list[str], expected: list[str]) -> None:
    msg = SipMessage(method="INVITE", uri="sip:b@c", headers=[Header("Via", line) for line in lines])
    routing.replace_top_via(msg, "NEW")
    assert [h.value for h in msg.headers] == expected
