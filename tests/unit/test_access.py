"""Source address allow/deny lists (edgeport_lib/access.py) and their use by the UDP and TCP transports."""

from __future__ import annotations

import logging

import gevent
import pytest
from gevent import socket as gsocket

from edgeport_lib import access as access_module
from edgeport_lib.access import ALLOW_ALL, AccessList, parse_networks
from edgeport_lib.sip.limits import Limits
from edgeport_lib.transports.connections import ConnectionTable
from edgeport_lib.transports.pool import MessagePool
from edgeport_lib.transports.stream import StreamTransport
from edgeport_lib.transports.udp import UdpTransport


def test_no_rules_allow_everything() -> None:
    acl = AccessList()
    assert not acl.enabled
    assert all(acl.allows(ip) for ip in ("127.0.0.1", "203.0.113.9", "2001:db8::1", "not an ip"))
    assert acl.denied == 0
    assert ALLOW_ALL.allows("198.51.100.1")


def test_deny_list_only() -> None:
    acl = AccessList(deny=["203.0.113.0/24", "2001:db8:bad::/48"])
    assert acl.allows("192.0.2.1")
    assert not acl.allows("203.0.113.77")
    assert acl.allows("2001:db8::1")
    assert not acl.allows("2001:db8:bad::7")
    assert acl.denied == 2


def test_allow_list_admits_only_its_networks() -> None:
    acl = AccessList(allow=["10.0.0.0/8", "192.0.2.10/32"])
    assert acl.allows("10.200.3.4")
    assert acl.allows("192.0.2.10")
    assert not acl.allows("192.0.2.11")
    assert not acl.allows("2001:db8::1")  # no IPv6 network is allowed


def test_deny_wins_over_allow() -> None:
    acl = AccessList(allow=["10.0.0.0/8"], deny=["10.1.2.0/24"])
    assert acl.allows("10.1.3.1")
    assert not acl.allows("10.1.2.3")
    decision = acl.decide("10.1.2.3")
    assert (decision.allowed, decision.rule) == (False, "deny 10.1.2.0/24")
    assert acl.decide("10.9.9.9").rule == "allow 10.0.0.0/8"
    assert acl.decide("11.0.0.1").rule == "not in the allow list"


def test_host_bits_are_accepted_in_networks() -> None:
    acl = AccessList(allow=["192.168.1.10/24"])
    assert acl.allows("192.168.1.200")


def test_ipv4_mapped_ipv6_and_zones() -> None:
    acl = AccessList(allow=["192.0.2.0/24", "fe80::/10"])
    assert acl.allows("::ffff:192.0.2.5")
    assert not acl.allows("::ffff:198.51.100.5")
    assert acl.allows("fe80::1%eth0")


def test_exempt_addresses_are_always_allowed() -> None:
    acl = AccessList(allow=["10.0.0.0/8"], deny=["127.0.0.0/8"], exempt=["127.0.0.1", "::1"])
    assert acl.allows("127.0.0.1")
    assert acl.allows("::1")
    assert not acl.allows("127.0.0.2")
    assert acl.decide("127.0.0.1").rule == "exempt (health probe)"
    assert AccessList(exempt=["127.0.0.1"]).enabled is False  # exemptions alone are no rules


def test_a_source_that_is_not_an_address_is_refused_when_rules_exist() -> None:
    acl = AccessList(deny=["203.0.113.0/24"])
    assert not acl.allows("")
    assert not acl.allows("example.com")
    assert acl.decide("example.com").rule == "not an IP address"


@pytest.mark.parametrize("bad", ["10.0.0.1", "10.0.0.0/33", "bogus/8", "", "::1/129"])
def test_bad_networks_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a CIDR network"):
        parse_networks([bad])
    with pytest.raises(ValueError):
        AccessList(deny=["10.0.0.0/8", bad])


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_module, "CACHE_SIZE", 8)
    acl = AccessList(allow=["10.0.0.0/8"])
    for i in range(100):
        assert acl.allows(f"10.0.0.{i}")
        assert len(acl._cache) <= 8
    assert not acl.allows("11.0.0.1")  # decisions stay right after the cache was emptied


def test_refusals_are_logged_once_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    acl = AccessList(deny=["203.0.113.0/24"])
    with caplog.at_level(logging.WARNING, logger="edgeport_lib.access"):
        for _ in range(access_module.LOG_EVERY * 2 + 5):
            acl.allows("203.0.113.1")
    assert acl.denied == access_module.LOG_EVERY * 2 + 5
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3  # the first refusal, then one line per LOG_EVERY
    assert "203.0.113.1" in lines[0] and "denied" in lines[0]


# -- the transports drop denied sources before anything is parsed -----------------------------------
OPTIONS = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n\r\n"


def _udp(acl: AccessList) -> tuple[UdpTransport, list]:
    seen: list = []

    def handler(data, flow):
        seen.append((data, flow.remote[0]))

    transport = UdpTransport("127.0.0.1", 0, handler, MessagePool(10), acl)
    transport.start()
    return transport, seen


def _send_udp(source: str, port: int, data: bytes) -> None:
    with gsocket.socket(gsocket.AF_INET, gsocket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(data, ("127.0.0.1", port))


def test_udp_drops_datagrams_from_denied_sources_before_the_handler() -> None:
    acl = AccessList(deny=["127.0.0.2/32"])
    transport, seen = _udp(acl)
    try:
        for _ in range(300):  # more than one read round of denied datagrams
            _send_udp("127.0.0.2", transport.port, b"denied")
        _send_udp("127.0.0.1", transport.port, OPTIONS)
        with gevent.Timeout(5):
            while not seen:
                gevent.sleep(0.01)
        gevent.sleep(0.1)
        assert seen == [(OPTIONS, "127.0.0.1")]
        assert acl.denied == 300
    finally:
        transport.stop()


def test_tcp_resets_connections_from_denied_sources_at_accept() -> None:
    acl = AccessList(allow=["127.0.0.0/8"], deny=["127.0.0.3/32"])
    seen: list = []
    transport = StreamTransport(
        "127.0.0.1",
        0,
        lambda data, flow: seen.append(data),
        MessagePool(10),
        ConnectionTable(),
        Limits(),
        access=acl,
    )
    transport.start()
    try:
        denied = gsocket.create_connection(
            ("127.0.0.1", transport.port), timeout=5, source_address=("127.0.0.3", 0)
        )
        try:
            denied.sendall(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n")
            assert denied.recv(100) == b""
        except ConnectionResetError:
            pass  # the reset can come first
        finally:
            denied.close()
        allowed = gsocket.create_connection(("127.0.0.1", transport.port), timeout=5)
        message = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n"
        allowed.sendall(message)
        with gevent.Timeout(5):
            while not seen:
                gevent.sleep(0.01)
        allowed.close()
        assert seen == [message]
        assert acl.denied == 1
        assert transport.gate.total <= 1  # the denied connection never reached the gate
    finally:
        transport.stop()
