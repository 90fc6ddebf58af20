"""What must hold for any input bytes, and a corpus-seeded mutator to look for inputs where it does not.

Oracles (each failure is a `Finding`, named by where it happened):

``parser``
    ``parse_message`` raises nothing but ``SipParseError``.
``400 reply``
    for a rejected request that ``can_reply``, building the 400 the edge sends (``make_response``,
    ``serialize``, ``routing.response_target``) raises nothing the edge does not catch (it catches
    ``SipParseError`` and ``IndexError`` around the send, nothing around ``make_response``). An
    exception here escapes ``Edge.handle``: a traceback on stderr for every such packet.
``request path`` / ``response path``
    an accepted message goes through what ``Edge._on_request`` / ``_on_response`` do before and
    after the processor (Via stamping, branch, server transaction, ``to_protobuf``, the processor's
    answer turned back into SIP, local responses, next hop) raising only the exceptions the edge
    handles as bad input. Anything else ends in the edge's catch-all: a ``500`` and a logged
    traceback per message. A response returned minus its top Via (Routr's removeTopVia) comes
    back from ``from_protobuf``'s fast path exactly as from its general path.
``roundtrip``
    ``parse(serialize(parse(x)))`` equals ``parse(x)`` (Content-Length aside, which the
    serializer always writes from the body).
``framer``
    ``StreamFramer`` raises nothing but ``SipParseError`` (``FramingError``), never buffers more
    than the size limit plus one read, cuts the same frames however the reads split the stream,
    and never hands on a frame larger than the limit.
``framing``
    the framer and the parser agree on where a frame's body ends: a frame the parser accepts has
    a body exactly as long as the Content-Length both read (no bytes silently dropped).

``check(data, cuts)`` runs them all; ``KNOWN_BUGS`` lists findings already reported, so a long
run or a property test can go on past them (their reproducers are pinned by strict xfails).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from edgeport_lib import routing  # noqa: E402
from edgeport_lib.convert import from_proto, from_protobuf, local_response, to_protobuf  # noqa: E402
from edgeport_lib.convert.from_proto import InvalidProcessorMessage  # noqa: E402
from edgeport_lib.protocol import sipmessage_pb2 as pb  # noqa: E402
from edgeport_lib.sip.errors import SipParseError  # noqa: E402
from edgeport_lib.sip.framer import KEEPALIVE, StreamFramer  # noqa: E402
from edgeport_lib.sip.limits import Limits  # noqa: E402
from edgeport_lib.sip.message import Header, SipMessage  # noqa: E402
from edgeport_lib.sip.parser import content_length, find_head_end, parse_message  # noqa: E402
from edgeport_lib.sip.responses import make_response  # noqa: E402
from edgeport_lib.sip.serializer import serialize  # noqa: E402
from edgeport_lib.transactions import ServerTransactionTable  # noqa: E402
from edgeport_lib.transports.base import Flow  # noqa: E402

CORPUS_DIR = REPO_ROOT / "tests" / "corpus"
CRASH_DIR = REPO_ROOT / "fuzz" / "crashes"
DEFAULT = Limits()
SMALL = Limits(max_message_size=1500, max_headers=20, max_line_length=200)
BIG = Limits(max_message_size=200_000, max_headers=2000, max_line_length=200_000)
UDP_FLOW = Flow("UDP", ("192.0.2.1", 5060), 5060)
TCP_FLOW = Flow("TCP", ("192.0.2.1", 40000), 5060)
PORTS = {"UDP": 5060, "TCP": 5060, "TLS": 5061}


# ==============================================================================================
# findings
# ==============================================================================================
class Finding(AssertionError):
    """An input breaks an oracle. ``where`` names the oracle, ``detail`` what went wrong."""

    def __init__(
        self,
        where: str,
        detail: str,
        data: bytes,
        cause: BaseException | None = None,
        cuts: Iterable[int] = (),
    ) -> None:
        self.where = where
        self.detail = detail
        self.data = data
        self.cause = cause
        self.cuts = tuple(cuts)
        self.trace = "".join(traceback.format_exception(cause)) if cause is not None else ""
        super().__init__(f"{where}: {detail} (input {len(data)} bytes: {data[:120]!r})")

    @property
    def location(self) -> str:
        """file:function of the innermost edgeport_lib frame of the exception, if any."""
        if self.cause is None:
            return ""
        frames = [f for f in traceback.extract_tb(self.cause.__traceback__) if "edgeport_lib" in f.filename]
        if not frames:
            return ""
        last = frames[-1]
        return f"{last.filename.split('edgeport_lib/')[-1]}:{last.name}"

    @property
    def signature(self) -> str:
        """Groups findings of one bug: oracle, exception type and where it was raised."""
        kind = type(self.cause).__name__ if self.cause is not None else re.sub(r"\d+", "N", self.detail)[:60]
        return f"{self.where} | {kind} | {self.location}"


@dataclass(frozen=True)
class KnownBug:
    """A finding already reported; `matches` tells its findings from new ones."""

    name: str
    description: str
    matches: Callable[[Finding], bool]


LOST_BEFORE_ERROR = "complete frames before a FramingError in the same read are dropped"

# Findings reported but not fixed yet, each with a reproducer pinned by a strict xfail in
# tests/unit/test_fuzz_short.py (and fuzz/pending/). Every finding so far is fixed.
KNOWN_BUGS: list[KnownBug] = []




def known_bug(finding: Finding) -> KnownBug | None:
    return next((bug for bug in KNOWN_BUGS if bug.matches(finding)), None)


def _guard(where: str, data: bytes, allowed: tuple[type[BaseException], ...], action: Callable[[], object]):
    """Run `action`; an exception not in `allowed` becomes a Finding (allowed ones pass through)."""
    try:
        return action()
    except allowed:
        raise
    except Finding:
        raise
    except Exception as error:  # noqa: BLE001 - that is the point
        raise Finding(where, f"{type(error).__name__}: {error}"[:300], data, error) from error


# ==============================================================================================
# the oracles
# ==============================================================================================
def check(data: bytes, cuts: Iterable[int] = (), limits: Limits = DEFAULT) -> None:
    """Every oracle on `data`, as a datagram and as a stream read in pieces cut at `cuts`."""
    check_message(data, limits)
    check_stream(data, cuts, limits)


def check_message(data: bytes, limits: Limits = DEFAULT) -> SipMessage | None:
    """The parser and what the edge does with its result; the message when accepted."""
    try:
        msg = _guard("parser", data, (SipParseError,), lambda: parse_message(data, limits))
    except SipParseError as error:
        if error.can_reply and error.partial is not None:
            _reply_400(error.partial, error.reason, data)
        return None
    _check_roundtrip(msg, data)
    if msg.is_request:
        _request_path(msg, data)
    else:
        _response_path(msg, data)
    return msg


def _reply_400(partial: SipMessage, reason: str, data: bytes) -> None:
    """Edge._reply_stateless(partial, flow, 400, reason): make_response unguarded, the send guarded."""
    if partial.method == "ACK":
        return
    response = _guard("400 reply", data, (), lambda: make_response(partial, 400, reason))
    try:
        _guard("400 reply", data, _REPLY_ERRORS, lambda: _reply_on(response))
    except _REPLY_ERRORS:
        pass


# what Edge._reply_stateless catches around the send (ValueError: a response with no Via)
_REPLY_ERRORS = (SipParseError, ValueError, IndexError)


def _reply_on(response: SipMessage) -> None:
    """What Network.reply needs from a response: its bytes and (eagerly) its Via fallback target."""
    serialize(response)
    routing.response_target(response)


def _snapshot(msg: SipMessage) -> tuple:
    headers = [(h.name, h.value) for h in msg.headers if h.key != "content-length"]
    return msg.method, msg.uri, msg.status, msg.reason, headers, msg.body


def _check_roundtrip(msg: SipMessage, data: bytes) -> None:
    wire = _guard("roundtrip", data, (), lambda: serialize(msg))
    try:
        again = parse_message(wire, BIG)
    except SipParseError as error:
        raise Finding("roundtrip", f"serialized message rejected: {error.reason}", data) from None
    except Exception as error:  # noqa: BLE001
        detail = f"{type(error).__name__} parsing the serialized message"
        raise Finding("roundtrip", detail, data, error) from error
    if _snapshot(again) != _snapshot(msg):
        first, second = _snapshot(msg), _snapshot(again)
        names = ("method", "uri", "status", "reason", "headers", "body")
        changed = [name for name, a, b in zip(names, first, second, strict=True) if a != b]
        raise Finding("roundtrip", f"serialize/parse changed {', '.join(changed)}", data)


def _copy(msg: SipMessage) -> SipMessage:
    return SipMessage(
        method=msg.method,
        uri=msg.uri,
        status=msg.status,
        reason=msg.reason,
        version=msg.version,
        headers=[Header(h.name, h.value) for h in msg.headers],
        body=msg.body,
    )


_BAD_INPUT = (SipParseError,)  # the edge answers 400 (requests) or drops (responses)
_BAD_ANSWER = (InvalidProcessorMessage, SipParseError, ValueError)  # the edge answers 500, logs one line


def _request_path(original: SipMessage, data: bytes) -> None:
    """Edge._on_request up to the processor and back, for a UDP and a TCP flow."""
    for flow in (UDP_FLOW, TCP_FLOW):
        msg = _copy(original)
        try:
            via = _guard("request path", data, _BAD_INPUT, lambda m=msg, f=flow: routing.stamp_received(m, f))
        except SipParseError as error:
            _reply_400(msg, error.reason, data)
            continue
        _guard("request path", data, (), lambda m=msg, v=via: _transaction(m, v))
        if msg.method == "ACK":
            _guard("request path", data, (), lambda m=msg: serialize(make_response(m, 200)))
            continue
        max_forwards = msg.get("Max-Forwards")
        if max_forwards is not None:
            _guard("request path", data, (), lambda v=max_forwards: int(v))
        try:
            converted = _guard("request path", data, _BAD_INPUT, lambda m=msg: to_protobuf(m))
        except SipParseError as error:
            _reply_400(msg, error.reason, data)
            continue
        _guard("request path", data, (), lambda c=converted: c.pb.SerializeToString())
        _guard("request path", data, (), lambda v=via, f=flow: routing.sender_of(v, f))
        _processor_answers(converted, data)


def _transaction(msg: SipMessage, via) -> None:
    branch = routing.transaction_branch(msg, via)
    table = ServerTransactionTable(max_size=10)
    table.match(branch, via.sent_by, msg.method or "")
    if msg.method in ("ACK", "CANCEL"):
        table.find_invite_for_cancel(branch, via.sent_by)
        return
    txn = table.create(msg, branch, via.sent_by, reliable=False, context=None)
    if txn.should_send_trying:
        txn.send_response(make_response(msg, 100))
    response = make_response(msg, 200)
    txn.send_response(response)
    _reply_on(response)


def _processor_answers(converted, data: bytes) -> None:
    """A processor that forwards the request unchanged, and one that answers it 200 itself."""
    unchanged = pb.SIPMessage()
    unchanged.CopyFrom(converted.pb)
    try:
        out = _guard("request path", data, _BAD_ANSWER, lambda: from_protobuf(unchanged, converted))
        out.add("Via", "SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKfuzz", first=True)
        _guard("request path", data, _BAD_ANSWER, lambda: routing.prepare_forwarded_via(out, PORTS))
        _guard("request path", data, _BAD_ANSWER, lambda: routing.next_hop(out))
        _guard("request path", data, (), lambda: serialize(out))
    except _BAD_ANSWER:
        pass
    answer = pb.SIPMessage()
    answer.CopyFrom(converted.pb)
    answer.response_type = pb.ResponseType.OK
    try:
        response = _guard("request path", data, _BAD_ANSWER, lambda: local_response(converted, answer))
        _guard("request path", data, (SipParseError, IndexError), lambda: _reply_on(response))
    except _BAD_ANSWER + (IndexError,):
        pass


def _response_path(msg: SipMessage, data: bytes) -> None:
    """Edge._on_response: match by top Via branch and CSeq method, then to the processor."""
    try:
        vias = msg.values("Via")
        _guard("response path", data, _BAD_INPUT, lambda: routing.parse_via(vias[0]))
        _guard("response path", data, (), lambda: msg.cseq)
        converted = _guard("response path", data, _BAD_INPUT, lambda: to_protobuf(msg))
    except SipParseError:
        return  # dropped and counted as a parse error
    _guard("response path", data, (), lambda: converted.pb.SerializeToString())
    unchanged = pb.SIPMessage()
    unchanged.CopyFrom(converted.pb)
    try:
        out = _guard("response path", data, _BAD_ANSWER, lambda: from_protobuf(unchanged, converted))
        _guard("response path", data, (), lambda: serialize(out))
    except _BAD_ANSWER:
        pass
    _relayed_as_general_path(converted, data)


def _relayed_as_general_path(converted, data: bytes) -> None:
    """The processor removed the top Via: fast path and general path write the same bytes."""
    relayed = pb.SIPMessage()
    relayed.CopyFrom(converted.pb)
    if relayed.via:
        del relayed.via[0]
    try:
        out = _guard("response path", data, _BAD_ANSWER, lambda: from_protobuf(relayed, converted))
    except _BAD_ANSWER:
        return
    general = _guard("response path", data, (), lambda: from_proto._field_by_field(relayed, converted))
    if serialize(out) != serialize(general):
        raise Finding("response path", "relay fast path and general path differ", data)


def stream_frames(data: bytes, cuts: Iterable[int], limits: Limits = DEFAULT) -> tuple[list, bool]:
    """Feed `data` cut at `cuts` to a fresh framer: (frames and "ping" markers, ended in FramingError)."""
    framer = StreamFramer(limits)
    out: list = []
    bounds = sorted({c for c in cuts if 0 < c < len(data)}) + [len(data)]
    start = 0
    for end in bounds:
        chunk = data[start:end]
        start = end
        try:
            items = _guard("framer", data, (SipParseError,), lambda c=chunk: framer.feed(c))
        except SipParseError as error:  # a FramingError carries the frames cut before it
            out += ["ping" if item is KEEPALIVE else item for item in getattr(error, "frames", [])]
            return out, True
        out += ["ping" if item is KEEPALIVE else item for item in items]
        if framer.buffered > limits.max_message_size + len(chunk):
            detail = f"buffers {framer.buffered} bytes (limit {limits.max_message_size})"
            raise Finding("framer", detail, data, cuts=cuts)
    return out, False


def check_stream(data: bytes, cuts: Iterable[int] = (), limits: Limits = DEFAULT) -> None:
    cuts = tuple(cuts)
    whole = stream_frames(data, (), limits)
    if cuts:
        pieces = stream_frames(data, cuts, limits)
        if pieces != whole:
            raise Finding("framer", _split_difference(whole, pieces), data, cuts=cuts)
    for item in whole[0]:
        if item == "ping":
            continue
        if len(item) > limits.max_message_size:
            raise Finding("framer", f"frame of {len(item)} bytes over the limit", data)
        msg = check_message(item, limits)
        if msg is not None:
            _check_framing(item, msg, data)


def _split_difference(whole: tuple[list, bool], pieces: tuple[list, bool]) -> str:
    (whole_items, whole_failed), (piece_items, piece_failed) = whole, pieces
    if whole_failed and piece_failed and piece_items[: len(whole_items)] == whole_items:
        return LOST_BEFORE_ERROR  # read whole, the frames before the bad one never come out

    def describe(result: tuple[list, bool]) -> str:
        items, failed = result
        kinds = ["ping" if i == "ping" else f"{len(i)}B" for i in items]
        return f"[{', '.join(kinds)}]{' then FramingError' if failed else ''}"

    return f"cut into pieces the stream gives {describe(pieces)}, read whole {describe(whole)}"


def _check_framing(frame: bytes, msg: SipMessage, data: bytes) -> None:
    """The framer cut a head + Content-Length bytes; the parser must read that same body.

    Both find the head's end with parser.find_head_end; what this checks is that the body the
    parser keeps is exactly what the framer cut after the head (nothing hidden, nothing lost).
    """
    found = find_head_end(frame)
    framer_head_end = found[1] if found else len(frame)
    try:
        declared = content_length(msg)
    except SipParseError:
        return
    framer_body = frame[framer_head_end:]
    if msg.body != framer_body:
        detail = (
            f"framer cut a {len(framer_body)}-byte body, the parser read {len(msg.body)} bytes "
            f"(Content-Length {declared})"
        )
        raise Finding("framing", detail, data)


# ==============================================================================================
# the corpus and the mutator
# ==============================================================================================
def wire_bytes(path: Path) -> bytes:
    """A corpus message as sent (LF -> CRLF unless its expectation says raw); see tests/corpus/README.md."""
    data = path.read_bytes()
    try:
        raw = json.loads(path.with_suffix(".json").read_text(encoding="utf-8")).get("raw", False)
    except (OSError, ValueError):
        raw = False
    return data if raw else data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def load_corpus(directory: Path = CORPUS_DIR) -> list[tuple[str, bytes]]:
    return [(path.name, wire_bytes(path)) for path in sorted(directory.glob("*.sip"))]


# bytes that mean something to a SIP parser or framer
TOKENS = [
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"\n\n",
    b"\r",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"<",
    b">",
    b'"',
    b"\\",
    b"[",
    b"]",
    b"@",
    b"=",
    b"/",
    b"?",
    b"&",
    b"%",
    b"%00",
    b"\x00",
    b"\x7f",
    b"\xff",
    b"\xc3\xa9",
    b"\xed\xb2\x80",
    b"\xef\xbb\xbf",
    b"\xc2\xb2",
    b"\xe2\x91\xa0",
    b"\xef\xbc\x91",
    b"0",
    b"9",
    b"-1",
    b"+1",
    b"65535",
    b"65536",
    b"2147483648",
    b"99999999999999999999",
    b"1" * 4400,
    b"Content-Length: 0\r\n",
    b"Content-Length: 70000\r\n",
    b"l: 3\r\n",
    b"content-length:5\r\n",
    b"Via: \r\n",
    b"v: SIP/2.0/UDP x\r\n",
    b"CSeq: 1 INVITE\r\n",
    b"Call-ID: \r\n",
    b"From: <sip:a@b>;tag=1\r\n",
    b"To: <sip:b@c>\r\n",
    b"Route: <sip:x;lr>\r\n",
    b"Contact: *\r\n",
    b"Max-Forwards: 0\r\n",
    b"SIP/2.0 ",
    b"SIP/2.0/TCP ",
    b"\r\n ",
    b"\r\n\t",
    b"sip:",
    b"sips:",
    b"sip:[::1]:",
    b"sip:[",
    b"tel:+1",
    b";branch=",
    b";rport",
    b";received=",
    b";maddr=",
    b";transport=tcp",
    b";tag=",
    b";lr",
    b"z9hG4bK",
    b"INVITE",
    b"ACK",
    b"CANCEL",
    b"REGISTER",
    b"(",
    b")",
    b"*",
    b"Digest ",
    b'realm="',
    b"X-Gateway-Auth: Zm9vOmJhcg==\r\n",
]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n")


def mutate(data: bytes, rnd: random.Random, others: list[bytes], rounds: int | None = None) -> bytes:
    """A few random edits: byte flips and splices, token inserts, line-level edits, CL changes."""
    buf = bytearray(data)
    for _ in range(rounds or rnd.choice((1, 1, 2, 3, 4, 6))):
        op = rnd.randrange(14)
        pos = rnd.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1 and buf:
            buf[min(pos, len(buf) - 1)] = rnd.randrange(256)
        elif op in (2, 3):
            buf[pos:pos] = rnd.choice(TOKENS)
        elif op == 4:
            del buf[pos : pos + rnd.choice((1, 2, 4, 16, 64))]
        elif op == 5:
            del buf[pos:]
        elif op == 6:
            buf[pos:pos] = rnd.randbytes(rnd.choice((1, 2, 4, 8)))
        elif op in (7, 8):
            buf = bytearray(_line_edit(bytes(buf), rnd, others))
        elif op == 9:
            buf = bytearray(_content_length_edit(bytes(buf), rnd))
        elif op == 10 and others:
            donor = rnd.choice(others)
            start = rnd.randrange(len(donor) + 1)
            buf[pos:pos] = donor[start : start + rnd.choice((4, 16, 64, 256))]
        elif op == 11:  # a repeated run, to reach the size, header and line limits
            unit = rnd.choice(TOKENS[:24] + [b"a", b"X-H: v\r\n", b"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"])
            buf[pos:pos] = unit * rnd.choice((50, 300, 2000, 20000))
        elif op == 12:
            buf = bytearray(bytes(buf).replace(b"\r\n", b"\n", rnd.choice((1, 2, 5))))
        elif op == 13:
            start = rnd.randrange(len(buf) + 1)
            buf[pos:pos] = buf[start : start + rnd.choice((1, 8, 64))]
    return bytes(buf)


def _line_edit(data: bytes, rnd: random.Random, others: list[bytes]) -> bytes:
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = _lines(head)
    if not lines:
        return data
    i = rnd.randrange(len(lines))
    op = rnd.randrange(7)
    if op == 0:
        lines.insert(i, lines[i])  # duplicate a header (two CSeqs, two Content-Lengths...)
    elif op == 1 and len(lines) > 1:
        del lines[i]
    elif op == 2:
        j = rnd.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3 and others:
        donor = _lines(rnd.choice(others).partition(b"\r\n\r\n")[0])
        lines.insert(i, rnd.choice(donor))
    elif op == 4:
        name, colon, value = lines[i].partition(b":")
        lines[i] = (name.swapcase() if rnd.random() < 0.5 else name + b" ") + colon + value
    elif op == 5:
        name, colon, _value = lines[i].partition(b":")
        lines[i] = name + colon + b" " + rnd.choice(TOKENS) + rnd.choice(TOKENS)
    else:
        lines.insert(i, b" " + rnd.choice(TOKENS))  # a folded continuation
    return b"\r\n".join(lines) + sep + body


_CL = re.compile(rb"(?im)^(content-length|l)([ \t]*:[ \t]*)([^\r\n]*)")


def _content_length_edit(data: bytes, rnd: random.Random) -> bytes:
    head, sep, body = data.partition(b"\r\n\r\n")
    value = rnd.choice(
        [
            b"%d" % len(body),
            b"%d" % (len(body) + rnd.choice((1, 7, 100))),
            b"%d" % max(len(body) - 1, 0),
            b"0",
            b"10485760",
            b"-1",
            b" 5 ",
            b"5, 5",
            b"0x10",
            b"1" * 30,
            b"\xc2\xb2",
            b"",
        ]
    )
    if _CL.search(head):
        head = _CL.sub(lambda m: m.group(1) + m.group(2) + value, head, count=1)
    else:
        head += b"\r\nContent-Length: " + value
    return head + sep + body


def stream_of(messages: list[bytes], rnd: random.Random) -> bytes:
    """Several messages back to back, with CRLF pings and pongs between some of them."""
    glue = [b"", b"", b"\r\n\r\n", b"\r\n"]
    return b"".join(m + rnd.choice(glue) for m in messages)


def random_cuts(length: int, rnd: random.Random) -> list[int]:
    if length < 2:
        return []
    style = rnd.randrange(4)
    if style == 0:
        return list(range(1, length)) if length <= 3000 else sorted(rnd.sample(range(1, length), 200))
    if style == 1:
        step = rnd.choice((2, 3, 4, 7, 64, 1400))
        return list(range(step, length, step))
    return sorted(rnd.sample(range(1, length), min(length - 1, rnd.choice((1, 2, 5, 20)))))


def generate(rnd: random.Random, seeds: list[bytes]) -> tuple[bytes, list[int]]:
    """One fuzz input (bytes and read cuts), from the corpus seeds."""
    kind = rnd.randrange(10)
    if kind == 0:
        data = rnd.randbytes(rnd.choice((0, 1, 4, 16, 100, 1000, 3000)))
    elif kind <= 6:
        data = mutate(rnd.choice(seeds), rnd, seeds)
    else:
        data = stream_of(
            [
                mutate(rnd.choice(seeds), rnd, seeds, rounds=rnd.choice((1, 1, 2)))
                for _ in range(rnd.randint(1, 3))
            ],
            rnd,
        )
    return data, random_cuts(len(data), rnd)


def limits_for(rnd: random.Random) -> Limits:
    return rnd.choice((DEFAULT, DEFAULT, SMALL))


# ==============================================================================================
# saving what was found
# ==============================================================================================
@dataclass
class Crashes:
    """Distinct findings by signature, each with its smallest input so far."""

    directory: Path = CRASH_DIR
    corpus_dir: Path | None = None  # also write parser-level findings in tests/corpus format here
    found: dict[str, Finding] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, finding: Finding) -> bool:
        """Record a finding; True when its signature is new."""
        key = finding.signature
        self.counts[key] = self.counts.get(key, 0) + 1
        old = self.found.get(key)
        if old is not None and len(old.data) <= len(finding.data):
            return False
        self.found[key] = finding
        self.save(finding)
        return old is None

    def save(self, finding: Finding) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "_", finding.where.lower()).strip("_")
        digest = hashlib.sha1(finding.signature.encode()).hexdigest()[:10]
        base = self.directory / f"{slug}_{digest}"
        base.with_suffix(".bin").write_bytes(finding.data)
        report = {
            "where": finding.where,
            "detail": finding.detail,
            "signature": finding.signature,
            "cuts": list(finding.cuts),
            "known": getattr(known_bug(finding), "name", None),
            "traceback": finding.trace,
        }
        base.with_suffix(".txt").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if self.corpus_dir is not None and finding.where != "framer":
            write_corpus_case(self.corpus_dir, f"fuzz_{slug}_{digest}", finding)
        return base


def write_corpus_case(directory: Path, name: str, finding: Finding) -> Path:
    """A tests/corpus pair (raw) for a finding: the bytes, and what parse_message must give.

    The expectation is a first draft (a crash has no right answer yet): review it before keeping it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.sip"
    path.write_bytes(finding.data)
    try:
        parse_message(finding.data)
        expectation: dict = {"valid": True, "raw": True}
    except SipParseError as error:
        expectation = {"valid": False, "raw": True, "reason": error.reason.split()[0]}
    except Exception:  # noqa: BLE001 - the parser crashed: it must reject the input instead
        expectation = {"valid": False, "raw": True, "reason": ["malformed", "bad", "too"]}
    expectation["comment"] = f"found by fuzz/fuzz_parser.py: {finding.where}: {finding.detail}"[:300]
    path.with_suffix(".json").write_text(json.dumps(expectation, indent=2) + "\n", encoding="utf-8")
    return path
