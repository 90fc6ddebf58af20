"""A relayed response returned as sent but for its top Via takes from_protobuf's fast path, and
the fast path writes exactly what the general path (field by field) writes for it.

Routr's processors return a response minus the EdgePort's own Via and nothing else
(tests/compat/processor.js: removeTopVia). Every response of the corpus, and responses built
here for the corner cases, go both ways; any other change must leave the fast path.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from edgeport_lib.convert import Converted, from_proto, from_protobuf, to_protobuf
from edgeport_lib.protocol import sipmessage_pb2 as pb
from edgeport_lib.sip.errors import SipParseError
from edgeport_lib.sip.message import SipMessage
from edgeport_lib.sip.parser import parse_message
from edgeport_lib.sip.serializer import serialize
from fuzz import targets

SDP = b"v=0\r\no=bob 1 1 IN IP4 192.0.2.4\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\n"
EDGE_VIA = "Via: SIP/2.0/UDP 203.0.113.100:5060;branch=z9hG4bK-edge-1;rport=5060\r\n"


def wire(head: str, body: bytes = b"", start: str = "SIP/2.0 200 OK") -> bytes:
    """Wire bytes; surrogates in the text stand for bytes that are not UTF-8, as in the parser."""
    return f"{start}\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode("utf-8", "surrogateescape") + body


DIALOG = (
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
)
BUILT = {
    "invite 200 with SDP": wire(
        EDGE_VIA + "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
        "Record-Route: <sip:203.0.113.100;lr>\r\n" + DIALOG
        + "Contact: <sip:bob@192.0.2.4;transport=udp>\r\nContent-Type: application/sdp\r\n", SDP),
    "Vias on one line, ours first": wire(
        "Via: SIP/2.0/UDP 203.0.113.100;branch=z9hG4bK-edge-2, SIP/2.0/TCP 198.51.100.2;branch=z9hG4bKb2,"
        "  SIP/2.0/TLS client.example.com:5061;branch=z9hG4bKc3;alias\r\n"
        "Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKd4\r\n" + DIALOG),
    "compact forms": wire(
        "v: SIP/2.0/UDP 203.0.113.100;branch=z9hG4bK-edge-3\r\nv: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKe5\r\n"
        "f: <sip:alice@atlanta.example.com>;tag=1\r\nt: <sip:bob@biloxi.example.com>;tag=2\r\n"
        "i: compact@example.com\r\nCSeq: 2 INVITE\r\nm: <sip:bob@192.0.2.4>\r\nk: timer, 100rel\r\n"
        "c: application/sdp\r\n", SDP),
    "several Contacts, extensions with comma lists, X- headers": wire(
        EDGE_VIA + "Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKf6\r\n" + DIALOG
        + "Contact: <sip:bob@192.0.2.4>;expires=60;q=0.5, \"Bob\" <sip:bob@192.0.2.5>\r\n"
        "Allow: INVITE, ACK,CANCEL ,  BYE\r\nSupported: timer\r\nSupported: replaces, 100rel\r\n"
        "X-Trace: a, b\r\nX-Gateway-Auth: c2VjcmV0\r\nContact: <sip:bob@192.0.2.6>\r\nX-Empty: \r\n"
        "Expires: 60\r\nAccept: application/sdp;q=1, text/plain\r\n"),
    "non-UTF-8 body, reason, To and extension": wire(
        EDGE_VIA + "Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKg7\r\n" + DIALOG.replace("Bob", "B\udce9b")
        + "Content-Type: text/plain;charset=latin1\r\nX-Note: caf\udce9\r\n",
        "Caf\u00e9 cr\u00e8me".encode("latin-1"), start="SIP/2.0 200 Tr\udce8s bien"),
    "challenges, odd status, empty reason": wire(
        EDGE_VIA + "Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKh8\r\n" + DIALOG
        + 'WWW-Authenticate: Digest realm="a.example.com", nonce="1", qop="auth"\r\n'
        'WWW-Authenticate: Digest realm="b.example.com", nonce="2", stale=true\r\n', start="SIP/2.0 499 "),
    "q=nan, IPv6 Vias, Record-Routes on one line": wire(
        "Via: SIP/2.0/UDP [2001:db8::100]:5060;branch=z9hG4bK-edge-4\r\n"
        "Via: SIP/2.0/TCP [2001:db8::9];branch=z9hG4bKi9;rport=5070;received=2001:db8::9\r\n"
        "Record-Route: <sip:[2001:db8::100];lr>, <sip:p1.example.com;lr>\r\n" + DIALOG
        + "Contact: <sip:bob@[2001:db8::4]>;q=nan\r\n"),
    "a single Via": wire(EDGE_VIA + DIALOG),
}


def corpus_responses() -> list[tuple[str, Converted]]:
    found = []
    for name, data in targets.load_corpus() + list(BUILT.items()):
        try:
            msg = parse_message(data)
            if msg.is_request or not msg.values("Via"):
                continue
            found.append((name, to_protobuf(msg)))
        except SipParseError:
            continue
    return found


RESPONSES = corpus_responses()


def minus_top_via(converted: Converted) -> pb.SIPMessage:
    """What removeTopVia returns, as it comes off the wire."""
    returned = pb.SIPMessage()
    returned.CopyFrom(converted.pb)
    del returned.via[0]
    return pb.SIPMessage.FromString(returned.SerializeToString())


@pytest.fixture
def fast_path_calls(monkeypatch) -> list[pb.SIPMessage]:
    """The messages from_protobuf took the fast path for."""
    calls: list[pb.SIPMessage] = []
    relayed = from_proto._relayed_response

    def spy(returned: pb.SIPMessage, original: Converted) -> SipMessage:
        calls.append(returned)
        return relayed(returned, original)

    monkeypatch.setattr(from_proto, "_relayed_response", spy)
    return calls


def assert_as_general_path(returned: pb.SIPMessage, converted: Converted) -> None:
    before = converted.pb.SerializeToString()
    out = from_protobuf(returned, converted)
    general = from_proto._field_by_field(returned, converted)
    assert [(h.name, h.value) for h in out.headers] == [(h.name, h.value) for h in general.headers]
    assert (out.status, out.reason, out.body) == (general.status, general.reason, general.body)
    assert serialize(out) == serialize(general)
    assert converted.pb.SerializeToString() == before  # later code compares with it


def test_the_corpus_has_responses_of_every_kind() -> None:
    names = [name for name, _ in RESPONSES]
    assert len(names) >= 25 and set(BUILT) <= set(names)
    assert any(len(c.pb.via) == 1 for _, c in RESPONSES) and any(len(c.pb.via) > 3 for _, c in RESPONSES)


@pytest.mark.parametrize("converted", [c for _, c in RESPONSES], ids=[n for n, _ in RESPONSES])
def test_minus_top_via_takes_the_fast_path_and_writes_what_the_general_path_writes(
    converted: Converted, fast_path_calls: list
) -> None:
    returned = minus_top_via(converted)
    assert_as_general_path(returned, converted)
    assert fast_path_calls == [returned]


def test_the_fast_path_keeps_original_texts_in_canonical_order(fast_path_calls: list) -> None:
    converted = dict(RESPONSES)["several Contacts, extensions with comma lists, X- headers"]
    out = from_protobuf(minus_top_via(converted), converted)
    assert fast_path_calls
    assert [(h.name, h.value) for h in out.headers] == [
        ("Via", "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKf6"),
        ("From", "Alice <sip:alice@atlanta.example.com>;tag=1928301774"),
        ("To", "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf"),
        ("Call-ID", "a84b4c76e66710@pc33.atlanta.example.com"),
        ("Contact", "<sip:bob@192.0.2.4>;expires=60;q=0.5"),
        ("Contact", '"Bob" <sip:bob@192.0.2.5>'),
        ("Contact", "<sip:bob@192.0.2.6>"),
        ("Expires", "60"),
        ("CSeq", "314159 INVITE"),
        ("Allow", "INVITE, ACK,CANCEL ,  BYE"),
        ("Supported", "timer"),
        ("Supported", "replaces, 100rel"),
        ("X-Trace", "a, b"),
        ("X-Empty", ""),
        ("Accept", "application/sdp;q=1, text/plain"),
    ]


def test_bytes_that_are_not_utf8_go_out_as_they_came() -> None:
    name = "non-UTF-8 body, reason, To and extension"
    converted = dict(RESPONSES)[name]
    assert converted.pb.to.address.display_name == "B\ufffdb"  # the processor reads U+FFFD
    out = serialize(from_protobuf(minus_top_via(converted), converted))
    assert out == BUILT[name].replace(EDGE_VIA.encode(), b"", 1)


def _set_reason(m: pb.SIPMessage) -> None:
    m.reason_phrase = "Fine"


def _change_to_tag(m: pb.SIPMessage) -> None:
    m.to.tag = "changed"


def _change_body(m: pb.SIPMessage) -> None:
    m.body = "v=0\r\n"


def _remove_another_via(m: pb.SIPMessage) -> None:
    del m.via[0]


def _change_an_extension(m: pb.SIPMessage) -> None:
    m.extensions[-1].value = "changed"


def _add_record_route(m: pb.SIPMessage) -> None:
    m.record_route.add().address.uri.host = "p9.example.com"


def _change_status(m: pb.SIPMessage) -> None:
    m.response_type = pb.ResponseType.ACCEPTED


def _change_remaining_via(m: pb.SIPMessage) -> None:
    m.via[0].received = "192.0.2.77"


CHANGES: dict[str, Callable[[pb.SIPMessage], None]] = {
    "reason": _set_reason, "To tag": _change_to_tag, "body": _change_body, "status": _change_status,
    "two Vias removed": _remove_another_via, "remaining Via": _change_remaining_via,
    "extension": _change_an_extension, "Record-Route added": _add_record_route,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_other_change_takes_the_general_path(change: str, fast_path_calls: list) -> None:
    converted = dict(RESPONSES)["several Contacts, extensions with comma lists, X- headers"]
    returned = minus_top_via(converted)
    CHANGES[change](returned)
    assert_as_general_path(returned, converted)
    assert fast_path_calls == []


def test_nothing_removed_takes_the_general_path(fast_path_calls: list) -> None:
    converted = dict(RESPONSES)["invite 200 with SDP"]
    assert_as_general_path(pb.SIPMessage.FromString(converted.pb.SerializeToString()), converted)
    assert fast_path_calls == []


def test_a_forwarded_request_is_not_checked(monkeypatch) -> None:
    monkeypatch.setattr(from_proto, "_is_original_minus_top_via", lambda *_: pytest.fail("checked"))
    invite = parse_message(wire(EDGE_VIA + DIALOG, start="INVITE sip:bob@biloxi.example.com SIP/2.0"))
    converted = to_protobuf(invite)
    returned = pb.SIPMessage()
    returned.CopyFrom(converted.pb)
    del returned.via[0]
    general = from_proto._field_by_field(returned, converted)
    assert serialize(from_protobuf(returned, converted)) == serialize(general)


@pytest.mark.parametrize("below", ["SIP/2.0/UDP 203.0.113.100:5060;branch=z9hG4bK-loop;alias",
                                   "SIP/2.0/UDP 203.0.113.100:5060;branch=z9hG4bK-loop"])
def test_a_via_below_equal_to_the_top_one_keeps_its_own_text(below: str, fast_path_calls: list) -> None:
    """A loop: equal protobufs, texts that may differ (`alias` has no field). Both paths write the
    text of the Via that is left, the lower one."""
    data = wire(f"Via: SIP/2.0/UDP 203.0.113.100:5060;branch=z9hG4bK-loop\r\nVia: {below}\r\n" + DIALOG)
    converted = to_protobuf(parse_message(data))
    assert converted.pb.via[0] == converted.pb.via[1]
    returned = minus_top_via(converted)
    assert_as_general_path(returned, converted)
    assert fast_path_calls == [returned]
    assert from_protobuf(returned, converted).values("Via") == [below]


@pytest.mark.parametrize("fname", ["contact", "from", "call_id", "record_route"])
def test_a_field_without_original_text_is_written_from_the_protobuf_either_way(
    fname: str, fast_path_calls: list
) -> None:
    """to_protobuf never leaves a field without its text; were it to, both paths would agree."""
    converted = to_protobuf(parse_message(BUILT["invite 200 with SDP"]))
    del converted.originals[fname]
    assert_as_general_path(minus_top_via(converted), converted)
    assert len(fast_path_calls) == 1


@pytest.mark.parametrize("fname", ["contact", "expires"])  # without From the general path refuses
def test_a_text_without_its_field_is_left_out_either_way(fname: str, fast_path_calls: list) -> None:
    data = wire(EDGE_VIA + "Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKj1\r\n" + DIALOG
                    + "Contact: <sip:bob@192.0.2.4>\r\nExpires: 30\r\n")
    converted = to_protobuf(parse_message(data))
    converted.pb.ClearField(fname)
    assert_as_general_path(minus_top_via(converted), converted)
    out = from_protobuf(minus_top_via(converted), converted)
    assert len(fast_path_calls) == 2
    assert fname.title() not in [h.name for h in out.headers]
