"""Sans-I/O parts of --workers: worker ids in branches, the byte-level Via peek, hand-off messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeport_lib import handoff, routing


def _response(via_lines: list[str], status: str = "200 OK") -> bytes:
    head = [f"SIP/2.0 {status}", *via_lines, "Call-ID: x", "CSeq: 1 INVITE", "Content-Length: 0"]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def test_branch_prefix_round_trip():
    for worker in (0, 1, 9, 10, 63):
        branch = handoff.branch_prefix(worker) + "a1b2c3"
        assert branch.startswith(routing.MAGIC_COOKIE)
        assert handoff.worker_of_branch(branch) == worker
    with pytest.raises(ValueError):
        handoff.branch_prefix(handoff.MAX_WORKERS)


def test_branches_without_a_worker_id():
    for branch in ("z9hG4bK776asdhds", "z9hG4bKw.1", "z9hG4bKwx1.", "z9hG4bKw123.x", "", "w1.abc"):
        assert handoff.worker_of_branch(branch) is None


def test_new_branch_carries_the_prefix(monkeypatch):
    monkeypatch.setattr(routing, "BRANCH_PREFIX", handoff.branch_prefix(3))
    assert handoff.worker_of_branch(routing.new_branch()) == 3
    monkeypatch.setattr(routing, "BRANCH_PREFIX", routing.MAGIC_COOKIE)
    assert handoff.worker_of_branch(routing.new_branch()) is None


@pytest.mark.parametrize("via, expected", [
    ("Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKw1.abc;rport=5060", 1),
    ("v: SIP/2.0/TCP 10.0.0.1;received=1.2.3.4;branch=z9hG4bKw12.abc", 12),
    ("VIA : SIP/2.0/UDP 10.0.0.1 ; BRANCH = z9hG4bKw0.abc", 0),
    ("Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK776asdhds", None),
    ("Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKw1.abc", None),
    ("Via: SIP/2.0/UDP 10.0.0.1;lr", None),
])
def test_peek_reads_the_first_via_element(via, expected):
    assert handoff.peek_worker(_response([via])) == expected


def test_peek_reads_only_the_top_via():
    data = _response(["Via: SIP/2.0/UDP a;branch=z9hG4bKw1.x", "Via: SIP/2.0/UDP b;branch=z9hG4bKw0.y"])
    assert handoff.peek_worker(data) == 1
    data = _response(["Via: SIP/2.0/UDP a;branch=z9hG4bKother", "Via: SIP/2.0/UDP b;branch=z9hG4bKw0.y"])
    assert handoff.peek_worker(data) is None


def test_peek_ignores_requests_and_other_headers():
    request = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKw1.x\r\n\r\n"
    assert handoff.peek_worker(request) is None
    data = _response(["X-Via: SIP/2.0/UDP a;branch=z9hG4bKw1.x", "Via: SIP/2.0/UDP a;branch=z9hG4bKw0.x"])
    assert handoff.peek_worker(data) == 0
    body_only = b"SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\nv=0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKw1.x\r\n"
    assert handoff.peek_worker(body_only) is None


@pytest.mark.parametrize("data", [
    b"", b"SIP/2.0 ", b"SIP/2.0 200", b"SIP/2.0 200 OK\r\nVia:", b"SIP/2.0 200 OK\r\nVia: ;branch=",
    b"SIP/2.0 200 OK\r\nVia: x;branch=z9hG4bKw", b"\xff\xfe\x00" * 50, b"SIP/2.0 200 OK\n\n\n\nv:\xff",
])
def test_peek_on_malformed_input(data):
    assert handoff.peek_worker(data) in (None, 0, 1)


@given(st.binary(max_size=512))
def test_peek_never_raises(data):
    handoff.peek_worker(b"SIP/2.0 " + data)
    handoff.peek_worker(data)
    handoff.probe_worker(data)


def test_probe_payloads():
    assert handoff.probe_worker(handoff.probe_payload(2)) == 2
    assert handoff.probe_payload(2).startswith(b"\r\n\r\n")
    for data in (b"\r\n\r\n", b"\r\n\r\nw", b"\r\n\r\nwx", b"\r\n\r\nw1x", b"\r\n\r\nw123"):
        assert handoff.probe_worker(data) is None


def test_handoff_messages_round_trip():
    data = b"SIP/2.0 200 OK\r\nVia: x\r\n\r\nbody\nwith newlines\xff"
    msg = handoff.decode(handoff.encode("M", "UDP", "10.0.0.1", 5060, 5080, data=data))
    assert (msg.kind, msg.fields, msg.data) == ("M", ("UDP", "10.0.0.1", "5060", "5080"), data)
    msg = handoff.decode(handoff.encode("C", 1, "TCP", "::1", 40000))
    assert (msg.kind, msg.fields, msg.data) == ("C", ("1", "TCP", "::1", "40000"), b"")


@pytest.mark.parametrize(
    "raw", [b"", b"M UDP", b"M UDP a 1\n", b"Z 1\n", b"F\n", b"\xff 1\n", b"M a b c d e\n"]
)
def test_malformed_handoff_messages(raw):
    with pytest.raises(ValueError):
        handoff.decode(raw)


def test_encode_refuses_newlines_in_fields():
    with pytest.raises(ValueError):
        handoff.encode("S", "TCP", "a\nb", 1)
