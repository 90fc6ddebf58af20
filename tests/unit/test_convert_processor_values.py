"""What the processor sets must not break the message it goes into.

A value with a CR or LF would end its line early, and what follows would go out as headers (or a
message) of the processor's making; a space in the Request-URI would end it. Such an answer is
refused (InvalidProcessorMessage: the edge answers 500 and logs which field, never the value).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeport_lib.convert import from_protobuf, local_response, to_protobuf
from edgeport_lib.convert.from_proto import InvalidProcessorMessage
from edgeport_lib.protocol import sipmessage_pb2 as pb
from edgeport_lib.sip.parser import parse_message
from edgeport_lib.sip.serializer import serialize

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
    b"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
    b"Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nX-Note: a\r\nContent-Length: 0\r\n\r\n"
)
SECRET = "s3cret"


def _to_display_name(m: pb.SIPMessage) -> None:
    m.to.address.display_name = f"Bob\r\nX-Injected: {SECRET}"


def _extension_value(m: pb.SIPMessage) -> None:
    m.extensions[-1].value = f"a\nX-Injected: {SECRET}"


def _extension_name(m: pb.SIPMessage) -> None:
    m.extensions.add(name=f"X-A: {SECRET}\r\nX-B", value="1")


def _empty_extension_name(m: pb.SIPMessage) -> None:
    m.extensions.add(name="", value=SECRET)


def _request_uri_host(m: pb.SIPMessage) -> None:
    m.request_uri.host = f"example.com SIP/2.0\r\nX-Injected: {SECRET}"


def _request_uri_user_space(m: pb.SIPMessage) -> None:
    m.request_uri.user = f"bob {SECRET}"


def _via_host_nul(m: pb.SIPMessage) -> None:
    m.via.add(host=f"p1.example.com\x00{SECRET}", port=5060, transport="UDP", branch="z9hG4bK2")


def _call_id(m: pb.SIPMessage) -> None:
    m.call_id.call_id = f"c1\r\n\r\n{SECRET}"


def _record_route_param(m: pb.SIPMessage) -> None:
    m.record_route.add().address.uri.host = "p1.example.com"
    m.record_route[0].parameters["lr"] = f"\r{SECRET}"


BREAKING: dict[str, Callable[[pb.SIPMessage], None]] = {
    "To display name with CRLF": _to_display_name,
    "extension value with LF": _extension_value,
    "extension name with a colon and CRLF": _extension_name,
    "empty extension name": _empty_extension_name,
    "Request-URI host with CRLF": _request_uri_host,
    "Request-URI user with a space": _request_uri_user_space,
    "Via host with NUL": _via_host_nul,
    "Call-ID with CRLF CRLF": _call_id,
    "Record-Route parameter with CR": _record_route_param,
}


def returned_with(change: Callable[[pb.SIPMessage], None]):
    converted = to_protobuf(parse_message(INVITE))
    returned = pb.SIPMessage()
    returned.CopyFrom(converted.pb)
    change(returned)
    return returned, converted


@pytest.mark.parametrize("change", list(BREAKING))
def test_a_value_that_would_break_the_message_is_refused(change: str) -> None:
    returned, converted = returned_with(BREAKING[change])
    with pytest.raises(InvalidProcessorMessage) as refused:
        from_protobuf(returned, converted)
    assert SECRET not in str(refused.value)  # it is logged: the field, never the value


def _cseq(value: str) -> Callable[[pb.SIPMessage], None]:
    def change(m: pb.SIPMessage) -> None:
        for ext in m.extensions:
            if ext.name == "CSeq":
                ext.value = value
    return change


def _without_cseq(m: pb.SIPMessage) -> None:
    kept = [ext for ext in m.extensions if ext.name != "CSeq"]
    del m.extensions[:]
    m.extensions.extend(kept)


# What a receiver would refuse (RFC 3261 8.1.1): refused here, with the header named.
NOT_SIP: dict[str, tuple[Callable[[pb.SIPMessage], None], str]] = {
    "empty Call-ID": (lambda m: setattr(m.call_id, "call_id", ""), "empty Call-ID"),
    "no From": (lambda m: m.ClearField("from"), "missing From"),
    "no To": (lambda m: m.ClearField("to"), "missing To"),
    "no CSeq": (_without_cseq, "missing CSeq"),
    "CSeq without a number": (_cseq("one INVITE"), "malformed CSeq"),
    "CSeq of another method": (_cseq("1 BYE"), "CSeq method"),
    "negative Max-Forwards": (lambda m: setattr(m.max_forwards, "max_forwards", -1), "Max-Forwards"),
}


@pytest.mark.parametrize("change", list(NOT_SIP))
def test_a_message_a_receiver_would_refuse_is_refused(change: str) -> None:
    edit, named = NOT_SIP[change]
    with pytest.raises(InvalidProcessorMessage, match=named):
        from_protobuf(*returned_with(edit))


def test_a_local_response_without_its_call_id_is_refused() -> None:
    converted = to_protobuf(parse_message(INVITE))
    answer = pb.SIPMessage(response_type=pb.ResponseType.BUSY_HERE, call_id=pb.CallID(call_id=""))
    with pytest.raises(InvalidProcessorMessage, match="empty Call-ID"):
        local_response(converted, answer)


def test_a_reason_phrase_with_a_line_break_is_refused_in_a_local_response() -> None:
    converted = to_protobuf(parse_message(INVITE))
    answer = pb.SIPMessage(response_type=pb.ResponseType.BUSY_HERE, reason_phrase="Busy\r\nX-Injected: 1")
    with pytest.raises(InvalidProcessorMessage, match="reason phrase"):
        local_response(converted, answer)


def test_tabs_and_non_ascii_text_are_values_like_any_other() -> None:
    def change(m: pb.SIPMessage) -> None:
        m.extensions[-1].value = "a\tb"  # X-Note
        m.to.address.display_name = "Böb"

    out = serialize(from_protobuf(*returned_with(change)))
    assert b"\r\nX-Note: a\tb\r\n" in out
    assert '\r\nTo: "Böb" <sip:bob@example.com>\r\n'.encode() in out


def string_fields(message: Message) -> Iterator[tuple[Message, str]]:
    """(message, field name) of every set string field, nested messages included."""
    for field in message.DESCRIPTOR.fields:
        if field.type == field.TYPE_STRING and not field.is_repeated:
            yield message, field.name
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            items = getattr(message, field.name) if field.is_repeated else (
                [getattr(message, field.name)] if message.HasField(field.name) else [])
            for item in items:
                yield from string_fields(item)


SEED = "\r\n".join([
    "INVITE sip:bob@example.com;transport=tcp SIP/2.0",
    "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1;rport", "Route: <sip:p1.example.com;lr>",
    'From: "Alice" <sip:alice@example.com>;tag=1', "To: <sip:bob@example.com>", "Call-ID: c1",
    "CSeq: 1 INVITE", "Contact: <sip:alice@192.0.2.1:5060>;expires=60", "Max-Forwards: 70",
    'Authorization: Digest username="alice", realm="example.com", nonce="n", uri="sip:x", response="r"',
    "Allow: INVITE, ACK", "X-Note: a", "Content-Length: 0", "", "",
]).encode()
PIECES = st.sampled_from(["\r\n", "\n", "\r", "\x00", "\x7f", "\x1b", " ", "\t", ",", ";", "<", ">", '"', ":",
                          "=", "@", "[", "é", "a", "sip:x@y"])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_whatever_strings_the_processor_sets_no_line_is_added_or_broken(data) -> None:
    converted = to_protobuf(parse_message(SEED))
    returned = pb.SIPMessage()
    returned.CopyFrom(converted.pb)
    slots = list(string_fields(returned))
    for _ in range(data.draw(st.integers(1, 3))):
        message, name = data.draw(st.sampled_from(slots))
        setattr(message, name, "".join(data.draw(st.lists(PIECES, min_size=1, max_size=4))))
    try:
        out = from_protobuf(returned, converted)
    except InvalidProcessorMessage:
        return
    wire = serialize(out)
    head = wire.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert len(head) == len(out.headers) + 2  # start line, headers, Content-Length
    assert not any(byte < 0x20 and byte != 0x09 or byte == 0x7F for line in head for byte in line)
    parse_message(wire)  # and a receiver can read it


def _forwarded_with_record_route(host: str) -> bytes:
    converted = to_protobuf(parse_message(INVITE))
    returned = pb.SIPMessage()
    returned.CopyFrom(converted.pb)
    returned.record_route.add().address.uri.host = host
    return serialize(from_protobuf(returned, converted))


def test_remembered_texts_of_processor_items_are_theirs_and_bounded() -> None:
    from edgeport_lib.convert import from_proto

    first = _forwarded_with_record_route("edge-1.example.com")
    assert b"Record-Route: <sip:edge-1.example.com>\r\n" in first
    assert _forwarded_with_record_route("edge-1.example.com") == first  # remembered: the same
    assert b"<sip:edge-2.example.com>" in _forwarded_with_record_route("edge-2.example.com")
    for n in range(from_proto.FORMATTED_CACHE_SIZE + 10):
        _forwarded_with_record_route(f"edge-{n}.example.com")
    assert len(from_proto._FORMATTED) <= from_proto.FORMATTED_CACHE_SIZE


def test_a_refused_value_is_refused_every_time() -> None:
    for _ in range(2):  # never remembered as a text
        with pytest.raises(InvalidProcessorMessage):
            _forwarded_with_record_route("edge.example.com\r\nX-Injected: 1")
