"""From, To, Route and Record-Route lines convert as a whole parse of them says, cached or not.

to_proto.py keeps the encoded address of these headers by its text and parses only the header
parameters of each new line. Whatever the value, the result must be what a parse of the whole
value gives: the reference here fills the protobuf from `parse_name_addr` field by field. The
values come from the corpus and from mutations of it (the fuzzer's mutator, seeded).
"""

from __future__ import annotations

import pytest

from edgeport_lib.convert import to_proto
from edgeport_lib.protocol import sipmessage_pb2 as pb
from edgeport_lib.sip.address import parse_name_addr
from edgeport_lib.sip.errors import SipParseError
from edgeport_lib.sip.message import valid_utf8
from tests.unit.header_values import corpus_values, mutated_values

FIELDS = {"from": pb.From, "to": pb.To, "route": pb.Route, "record-route": pb.RecordRoute}
EXTRA = [
    "*", '"Alice \\"A\\"" <sip:alice@atlanta.example.com;transport=tcp>;tag=88sja8x;x=1',
    "sip:bob@biloxi.example.com;tag=a6c85cf", "<tel:+15551234567;phone-context=x>;tag=1",
    "<sips:[2001:db8::1]:5061;lr>;ftag=abc", "  Bob <sip:bob@b.example.com:5070>  ;tag=z ;q",
    # the same URI under other display names, and with other URI parameters: other addresses
    '"Carol" <sip:c@example.com>;tag=1', '"Dave" <sip:c@example.com>;tag=1', "<sip:c@example.com>;tag=1",
    "<sip:c@example.com;transport=tcp>;tag=1", "sip:c@example.com;tag=1",
]


def reference(key: str, value: str) -> pb.Message:
    """The field as a parse of the whole value fills it (contract section 3), bytes that are not
    UTF-8 read as U+FFFD."""
    target = FIELDS[key]()
    na = parse_name_addr(valid_utf8(value))
    to_proto._fill_address(target.address, na)
    if key in ("from", "to"):
        target.tag = na.tag or ""
    target.parameters.update({k: v or "" for k, v in na.params.items()})
    return target


def converted(key: str, value: str) -> pb.Message:
    fname = key.replace("-", "_")
    message = pb.SIPMessage.FromString(to_proto._encode_item(fname, value))
    return getattr(message, fname)[0] if fname in ("route", "record_route") else getattr(message, fname)


def agree(key: str, value: str) -> None:
    try:
        expected = reference(key, value)
    except (SipParseError, ValueError) as error:
        with pytest.raises(type(error)):
            converted(key, value)
        return
    for attempt in ("new", "cached"):
        assert converted(key, value) == expected, (attempt, key, value)


def test_corpus_values_convert_as_a_whole_parse_says() -> None:
    values = corpus_values(FIELDS)
    values += [(key, value) for key in FIELDS for value in EXTRA]
    assert len(values) > 200
    for key, value in values:
        agree(key, value)


def test_mutated_values_convert_as_a_whole_parse_says() -> None:
    for key, value in mutated_values(FIELDS, seed=7):
        agree(key, value)


def test_the_address_is_parsed_once_for_many_tags() -> None:
    to_proto._ADDRESSES.clear()
    for tag in range(5):
        converted("from", f'"Alice" <sip:alice@atlanta.example.com>;tag={tag}')
    assert list(to_proto._ADDRESSES) == [('"Alice"', "sip:alice@atlanta.example.com")]
