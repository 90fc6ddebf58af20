"""A Via with a new branch, a From or To with a new tag: encoded from the rest of the line.

to_proto.py remembers the encoding of such a line without its branch or tag and appends the
fields that parameter sets. Whatever the value, the message must be the one the general path
(`_encode_line`, a parse of the whole line) gives, new and remembered. The values come from the
corpus, from mutations of it (the fuzzer's mutator, seeded) and from the odd cases below.
"""

from __future__ import annotations

import pytest

from edgeport_lib.convert import to_proto
from edgeport_lib.protocol import sipmessage_pb2 as pb
from edgeport_lib.sip.errors import SipParseError
from tests.unit.header_values import corpus_values, mutated_values

KEYS = ("via", "from", "to")
ODD = [
    ("via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1-2;rport=5070;received=127.0.0.1"),
    ("via", "SIP/2.0/TCP [2001:db8::1]:5060;rport;branch=z9hG4bKx;maddr=192.0.2.1;ttl=3"),
    ("via", "SIP/2.0/UDP h;branch=a;BRANCH=b"),  # two branches: the last one counts
    ("via", 'SIP/2.0/UDP h;x="a;branch=b"'),  # not a branch at all
    ("via", "SIP/2.0/UDP h;branch=z9hG4bK1 (a;branch=comment)"),
    ("via", "SIP/2.0/UDP h;branch=;rport"),
    ("via", "SIP/2.0/UDP h:99999;branch=z9hG4bK1"),  # malformed either way
    ("from", "sipp <sip:sipp@127.0.0.1:5070>;tag=12345SIPpTag001"),
    ("from", "<sip:tagger@b.example.com;transport=udp>;x=1;tag=abc;y"),
    ("to", "<sip:a@b.example.com;tag=in-the-uri>"),
    ("to", "sip:a@b.example.com;tag=addr-spec"),
    ("to", '"Alice;tag=x>" <sip:a@b.example.com>;tag=abc'),
    ("to", "<sip:a@b.example.com>;tag=abc;TAG=def"),
    ("from", "<sip:a@b.example.com>;tag=a b"),
]


def decoded(line: to_proto._Line) -> pb.SIPMessage:
    return pb.SIPMessage.FromString(line.data)


def agree(key: str, value: str) -> bool:
    """Whether the remembered-rest path took `value`; when it did, it gave the general path's line."""
    try:
        expected = to_proto._encode_line(key, key.title(), value)
    except (SipParseError, ValueError) as error:  # the same error, or left to the general path
        try:
            assert to_proto._with_new_id(key, value) is None, value
        except type(error):
            pass
        return False
    taken = False
    for attempt in ("new", "remembered"):
        line = to_proto._with_new_id(key, value)
        if line is None:
            return False
        taken = True
        assert (line.fname, line.elements) == (expected.fname, expected.elements), (attempt, value)
        assert decoded(line) == decoded(expected), (attempt, key, value)
    return taken


def test_corpus_and_odd_values_encode_as_the_general_path() -> None:
    values = corpus_values(KEYS) + ODD
    taken = sum(agree(key, value) for key, value in values)
    assert taken > 50  # the common shapes do take it


def test_mutated_values_encode_as_the_general_path() -> None:
    for key, value in mutated_values(KEYS, seed=11):
        agree(key, value)


@pytest.mark.parametrize("key, value", [pair for pair in ODD if "BRANCH" in pair[1] or "TAG" in pair[1]
                                        or '"' in pair[1] or "(" in pair[1] or "a b" in pair[1]])
def test_odd_shapes_take_the_general_path(key: str, value: str) -> None:
    assert to_proto._with_new_id(key, value) is None


def test_many_peers_and_branches_keep_the_table_bounded() -> None:
    for n in range(to_proto.VIA_CACHE_SIZE + 50):
        to_proto._with_new_id("via", f"SIP/2.0/UDP 10.0.{n // 250}.{n % 250}:5060;branch=z9hG4bK{n}")
    assert len(to_proto._WITHOUT_ID) <= to_proto.VIA_CACHE_SIZE


def test_lengths_are_varints_as_protobuf_writes_them() -> None:
    from google.protobuf.internal.encoder import _VarintBytes  # the reference

    for number in [*range(300), 16_383, 16_384, 2**21 - 1, 2**21, 2**31 - 1]:
        assert to_proto._varint(number) == _VarintBytes(number), number
