"""Property tests of the SIP core and the protobuf conversion (hypothesis).

(a) parse(serialize(m)) == m for generated requests and responses;
(b) the stream framer cuts a byte stream the same way however the reads split it;
(c) SIP -> protobuf -> SIP keeps every header the wire contract names, and a changed field shows
    up while everything else survives byte for byte;
(d) no input (random or mutated bytes, up to 70 KB) makes the parser or the framer raise anything
    but SipParseError.

Each test keeps max_examples modest: the whole file runs in well under a minute.
"""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from edgeport_lib.convert import from_protobuf, to_protobuf
from edgeport_lib.convert.to_proto import sip_uri
from edgeport_lib.protocol import sipmessage_pb2 as pb
from edgeport_lib.sip.errors import SipParseError
from edgeport_lib.sip.framer import KEEPALIVE, StreamFramer
from edgeport_lib.sip.headers import LIST_HEADERS, canonical_name
from edgeport_lib.sip.limits import Limits
from edgeport_lib.sip.message import Header, SipMessage
from edgeport_lib.sip.parser import parse_message
from edgeport_lib.sip.serializer import serialize
from edgeport_lib.sip.uri import parse_uri

BIG = Limits(max_message_size=80_000)
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEAVY = settings(FAST, max_examples=50)  # generated messages with every dedicated header
SLOW = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# ==============================================================================================
# strategies
# ==============================================================================================
TOKEN_CHARS = string.ascii_letters + string.digits + ".!%*_+`'~-"
ALNUM = string.ascii_letters + string.digits
LOWER = string.ascii_lowercase + string.digits

token = st.text(TOKEN_CHARS, min_size=1, max_size=10)
alnum = st.text(ALNUM, min_size=1, max_size=10)
# Names the parser or the converter treat specially (mandatory, framing, dedicated fields, known
# list headers whose elements get joined, X-Gateway-Auth) come from their own strategies.
_RESERVED = {
    "via",
    "from",
    "to",
    "call-id",
    "cseq",
    "content-length",
    "max-forwards",
    "route",
    "record-route",
    "contact",
    "expires",
    "authorization",
    "www-authenticate",
    "x-gateway-auth",
} | set(LIST_HEADERS)
header_name = token.map(canonical_name).filter(lambda n: n.lower() not in _RESERVED)
# printable header text: no control characters (so no CR, LF, NUL, TAB), no surrounding blanks
printable = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=40).filter(
    lambda v: v == v.strip()
)

label = st.text(LOWER, min_size=1, max_size=8)
hostname = st.lists(label, min_size=1, max_size=3).map(".".join)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: f"[{a}]")
host = st.one_of(hostname, ipv4, ipv6)
port = st.one_of(st.none(), st.integers(1, 65535))
user = st.text(ALNUM + "-_.!~*'+", min_size=1, max_size=12)
transport = st.sampled_from(["udp", "tcp", "tls", "ws", "wss", "sctp"])


def _hostport(h: str, p: int | None) -> str:
    return h if p is None else f"{h}:{p}"


@st.composite
def uri_params(draw) -> str:
    """Known URI parameters (each at most once) and a few unknown ones."""
    items = []
    if draw(st.booleans()):
        items.append(f"transport={draw(transport)}")
    if draw(st.booleans()):
        items.append("lr")
    if draw(st.integers(0, 4)) == 0:
        items.append(f"maddr={draw(ipv4)}")
    if draw(st.integers(0, 4)) == 0:
        items.append(f"ttl={draw(st.integers(1, 255))}")
    if draw(st.integers(0, 4)) == 0:
        items.append(f"user={draw(st.sampled_from(['phone', 'ip', 'dialstring']))}")
    if draw(st.integers(0, 4)) == 0:
        items.append(f"method={draw(st.sampled_from(['INVITE', 'REGISTER', 'BYE']))}")
    if draw(st.integers(0, 4)) == 0:
        items.append("bnc")
    for name in draw(st.lists(alnum.map(lambda s: "x-" + s.lower()), max_size=2, unique=True)):
        value = draw(st.one_of(st.none(), alnum))
        items.append(name if value is None else f"{name}={value}")
    draw(st.randoms()).shuffle(items)
    return "".join(";" + item for item in items)


@st.composite
def sip_uri_text(draw, allow_user: bool = True) -> str:
    scheme = draw(st.sampled_from(["sip", "sip", "sips"]))
    userinfo = ""
    if allow_user and draw(st.booleans()):
        userinfo = draw(user)
        if draw(st.integers(0, 5)) == 0:
            userinfo += ":" + draw(alnum)
        userinfo += "@"
    return f"{scheme}:{userinfo}{_hostport(draw(host), draw(port))}{draw(uri_params())}"


@st.composite
def display_name(draw) -> str:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return ""
    if kind == 1:
        return " ".join(draw(st.lists(alnum, min_size=1, max_size=3)))
    text = draw(st.text(ALNUM + ' <>,;:@"\\=', max_size=15))
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def header_params(*known: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    extra = st.lists(
        st.tuples(
            alnum.map(lambda s: "x-" + s.lower()),
            st.one_of(st.none(), alnum, alnum.map(lambda s: f'"{s};,"')),
        ),
        max_size=2,
        unique_by=lambda kv: kv[0],
    ).map(lambda kvs: "".join(f";{k}" if v is None else f";{k}={v}" for k, v in kvs))
    return st.tuples(*known, extra).map("".join) if known else extra


@st.composite
def name_addr(draw, params: st.SearchStrategy[str] | None = None) -> str:
    uri = draw(sip_uri_text())
    hparams = draw(params if params is not None else header_params())
    name = draw(display_name())
    if not name and not draw(st.integers(0, 3)) and ";" not in uri and "?" not in uri:
        return uri + hparams  # addr-spec form: the params are header params
    return f"{name + ' ' if name else ''}<{uri}>{hparams}"


tag_param = token.map(lambda t: f";tag={t}")
optional_tag = st.one_of(st.just(""), tag_param)


@st.composite
def via_text(draw) -> str:
    items = [f"branch=z9hG4bK{draw(alnum)}"]
    rport = draw(st.integers(0, 2))
    if rport == 1:
        items.append("rport")
    elif rport == 2:
        items.append(f"rport={draw(st.integers(1, 65535))}")
    if draw(st.booleans()):
        items.append(f"received={draw(ipv4)}")
    if draw(st.integers(0, 4)) == 0:
        items.append(f"maddr={draw(ipv4)}")
    if draw(st.integers(0, 4)) == 0:
        items.append(f"ttl={draw(st.integers(1, 255))}")
    if draw(st.integers(0, 3)) == 0:
        items.append(f"x-{draw(alnum).lower()}")
    draw(st.randoms()).shuffle(items)
    proto = draw(st.sampled_from(["UDP", "TCP", "TLS", "WS", "WSS", "udp"]))
    return f"SIP/2.0/{proto} {_hostport(draw(host), draw(port))}" + "".join(";" + i for i in items)


@st.composite
def contact_text(draw) -> str:
    if draw(st.integers(0, 15)) == 0:
        return "*"
    known = []
    if draw(st.booleans()):
        known.append(f";expires={draw(st.integers(0, 100000))}")
    if draw(st.booleans()):
        known.append(f";q={draw(st.sampled_from(['0', '0.1', '0.5', '0.75', '1', '1.0']))}")
    if draw(st.integers(0, 3)) == 0:
        known.append(';+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";reg-id=1;ob')
    return draw(name_addr(header_params(st.just("".join(known)))))


def quoted(s: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return s.map(lambda v: f'"{v}"')


hex_text = st.text("0123456789abcdef", min_size=8, max_size=32)


@st.composite
def authorization_text(draw) -> str:
    items = [
        f'username="{draw(user)}"',
        f'realm="{draw(hostname)}"',
        f'nonce="{draw(hex_text)}"',
        f'uri="{draw(sip_uri_text())}"',
        f'response="{draw(hex_text)}"',
    ]
    if draw(st.booleans()):
        items.append("algorithm=" + draw(st.sampled_from(["MD5", "SHA-256", "MD5-sess"])))
    if draw(st.booleans()):
        items += [f'cnonce="{draw(hex_text)}"', "qop=auth", f"nc={draw(st.integers(0, 2**31 - 1)):08x}"]
    if draw(st.booleans()):
        items.append(f'opaque="{draw(hex_text)}"')
    draw(st.randoms()).shuffle(items)
    return "Digest " + ", ".join(items)


@st.composite
def www_authenticate_text(draw) -> str:
    items = [f'realm="{draw(hostname)}"', f'nonce="{draw(hex_text)}"']
    if draw(st.booleans()):
        items.append(f'domain="{draw(sip_uri_text())}"')
    if draw(st.booleans()):
        items.append(f'opaque="{draw(hex_text)}"')
    if draw(st.booleans()):
        items.append("stale=" + draw(st.sampled_from(["TRUE", "FALSE", "true"])))
    if draw(st.booleans()):
        items.append("algorithm=MD5")
    if draw(st.booleans()):
        items.append('qop="auth,auth-int"')
    draw(st.randoms()).shuffle(items)
    return "Digest " + ", ".join(items)


def list_of(element: st.SearchStrategy[str], max_size: int = 3) -> st.SearchStrategy[str]:
    return st.lists(element, min_size=1, max_size=max_size).map(", ".join)


# extension headers: realistic list headers plus unknown names with any printable text
extension_header = st.one_of(
    st.tuples(st.just("Allow"), list_of(st.sampled_from(["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"]), 5)),
    st.tuples(st.just("Supported"), list_of(st.sampled_from(["timer", "replaces", "100rel", "path"]))),
    st.tuples(
        st.just("Content-Type"), st.sampled_from(["application/sdp", 'multipart/mixed;boundary="a,b"'])
    ),
    st.tuples(st.just("User-Agent"), printable),
    st.tuples(st.just("Subject"), printable),
    st.tuples(st.just("P-Asserted-Identity"), list_of(name_addr(st.just("")), 2)),
    st.tuples(st.just("Reason"), st.just('Q.850;cause=16;text="Normal, call clearing"')),
    st.tuples(st.just("Proxy-Authorization"), authorization_text()),
    st.tuples(st.just("X-Gateway-Auth-Not"), printable),
    st.tuples(header_name, printable),
)


@st.composite
def sip_message(draw, with_dedicated: bool = False, request: bool | None = None) -> SipMessage:
    """A valid request or response; with_dedicated adds every header the contract has a field for."""
    is_request = draw(st.booleans()) if request is None else request
    method = draw(st.sampled_from(["INVITE", "REGISTER", "BYE", "ACK", "OPTIONS", "MESSAGE"]) | token)
    headers: list[Header] = []
    vias = draw(st.lists(via_text(), min_size=1, max_size=3))
    if draw(st.booleans()):
        headers += [Header("Via", v) for v in vias]
    else:
        headers.append(Header("Via", ", ".join(vias)))
    headers.append(Header("From", draw(name_addr(header_params(tag_param)))))
    headers.append(Header("To", draw(name_addr(header_params(optional_tag)))))
    headers.append(Header("Call-ID", draw(token) + draw(st.sampled_from(["", "@host.example.com"]))))
    headers.append(Header("CSeq", f"{draw(st.integers(0, 2**31 - 1))} {method}"))
    if is_request and draw(st.booleans()):
        headers.append(Header("Max-Forwards", str(draw(st.integers(0, 255)))))
    if with_dedicated:
        routes = st.lists(name_addr(header_params()), min_size=1, max_size=3)
        if is_request and draw(st.booleans()):
            headers.append(Header("Route", ", ".join(draw(routes))))
        if draw(st.booleans()):
            headers.append(Header("Record-Route", ", ".join(draw(routes))))
        if draw(st.booleans()):
            contacts = draw(st.lists(contact_text(), min_size=1, max_size=2))
            headers.append(Header("Contact", "*" if "*" in contacts else ", ".join(contacts)))
        if draw(st.booleans()):
            headers.append(Header("Expires", str(draw(st.integers(0, 2**31 - 1)))))
        if is_request and draw(st.booleans()):
            headers.append(Header("Authorization", draw(authorization_text())))
        if not is_request and draw(st.booleans()):
            headers.append(Header("WWW-Authenticate", draw(www_authenticate_text())))
    headers += [Header(canonical_name(n), v) for n, v in draw(st.lists(extension_header, max_size=6))]
    body = draw(st.binary(max_size=200))
    headers.append(Header("Content-Length", str(len(body))))
    # the mandatory headers may come in any order
    order = draw(st.permutations(range(len(headers))))
    headers = [headers[i] for i in order]
    if is_request:
        uri = draw(sip_uri_text())
        return SipMessage(method=method, uri=uri, headers=headers, body=body)
    status = draw(st.integers(100, 699))
    return SipMessage(status=status, reason=draw(printable), headers=headers, body=body)


# ==============================================================================================
# (a) parse(serialize(m)) == m
# ==============================================================================================
@FAST
@given(sip_message())
def test_parse_serialize_roundtrip(msg: SipMessage) -> None:
    data = serialize(msg)
    assert parse_message(data) == msg
    assert serialize(parse_message(data)) == data


@HEAVY
@given(sip_message(with_dedicated=True))
def test_parse_serialize_roundtrip_with_every_dedicated_header(msg: SipMessage) -> None:
    assert parse_message(serialize(msg)) == msg


# ==============================================================================================
# (b) the framer does not care how reads are split
# ==============================================================================================
PING = b"\r\n\r\n"


@st.composite
def stream(draw) -> tuple[bytes, list, list[int]]:
    """(bytes, expected items, offsets of the pings) of serialized messages mixed with CRLFCRLF pings."""
    items: list = []
    for msg in draw(st.lists(sip_message(), min_size=1, max_size=3)):
        items += [KEEPALIVE] * draw(st.integers(0, 2))
        items.append(serialize(msg))
    items += [KEEPALIVE] * draw(st.integers(0, 2))
    data = b""
    pings = []
    for item in items:
        if item is KEEPALIVE:
            pings.append(len(data))
            data += PING
        else:
            data += item
    return data, items, pings


def _feed_in_pieces(data: bytes, cuts: list[int]) -> list:
    framer = StreamFramer()
    out: list = []
    previous = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        out += framer.feed(data[previous:cut])
        previous = cut
    assert framer.buffered == 0
    return out


def _check_frames(out: list, expected: list) -> None:
    assert [x is KEEPALIVE for x in out] == [x is KEEPALIVE for x in expected]
    assert out == expected
    for frame in out:
        if frame is not KEEPALIVE:
            assert serialize(parse_message(frame)) == frame


@settings(FAST, max_examples=25)
@given(stream())
def test_framer_byte_at_a_time(generated) -> None:
    raw, expected, _ = generated
    _check_frames(_feed_in_pieces(raw, list(range(len(raw)))), expected)


@FAST
@example(generated=(PING, [KEEPALIVE], [0]), cuts=[3])
@given(stream(), st.lists(st.integers(0, 100_000), max_size=12))
def test_framer_split_invariance_anywhere(generated, cuts: list[int]) -> None:
    raw, expected, _ = generated
    _check_frames(_feed_in_pieces(raw, [c % (len(raw) + 1) for c in cuts]), expected)


# ==============================================================================================
# (c) SIP -> protobuf -> SIP
# ==============================================================================================
CONTRACT_HEADERS = (
    "Via",
    "Route",
    "Record-Route",
    "From",
    "To",
    "Contact",
    "Call-ID",
    "Expires",
    "Max-Forwards",
    "Authorization",
    "WWW-Authenticate",
    "CSeq",
)


def _names(msg: SipMessage) -> list[str]:
    seen: dict[str, str] = {}
    for h in msg.headers:
        seen.setdefault(h.key, h.name)
    return list(seen.values())


def _assert_headers_kept(original: SipMessage, rebuilt: SipMessage) -> None:
    for name in _names(original):
        if name.lower() == "content-length":
            continue
        assert rebuilt.values(name) == original.values(name), name
    for name in CONTRACT_HEADERS:
        if name == "Max-Forwards" and original.is_request and original.get(name) is None:
            assert rebuilt.values(name) == ["70"]  # RFC 3261 default, sent to the processor
            continue
        assert rebuilt.values(name) == original.values(name), name
    assert {n.lower() for n in _names(rebuilt)} - {n.lower() for n in _names(original)} <= {
        "max-forwards",
        "content-length",
    }


def _roundtrip(msg: SipMessage):
    original = parse_message(serialize(msg))
    converted = to_protobuf(original)
    wire = pb.SIPMessage.FromString(converted.pb.SerializeToString())  # what the processor sends back
    rebuilt = parse_message(serialize(from_protobuf(wire, converted)))
    return original, converted, rebuilt


@HEAVY
@given(sip_message(with_dedicated=True))
def test_conversion_roundtrip_keeps_every_header(msg: SipMessage) -> None:
    original, converted, rebuilt = _roundtrip(msg)
    assert (rebuilt.method, rebuilt.uri, rebuilt.status, rebuilt.reason) == (
        original.method,
        original.uri,
        original.status,
        original.reason,
    )
    assert rebuilt.body == original.body
    _assert_headers_kept(original, rebuilt)
    # the rebuilt message converts to the very same protobuf
    assert to_protobuf(rebuilt).pb == converted.pb


def _header_lines(msg: SipMessage) -> list[tuple[str, str]]:
    return [(h.name, h.value) for h in msg.headers]


@HEAVY
@given(sip_message(with_dedicated=True, request=True), hostname)
def test_changed_request_uri_host(msg: SipMessage, new_host: str) -> None:
    original, converted, unchanged = _roundtrip(msg)
    returned = pb.SIPMessage()
    returned.CopyFrom(converted.pb)
    assume(returned.request_uri.host != new_host)
    returned.request_uri.host = new_host
    rebuilt = parse_message(serialize(from_protobuf(returned, converted)))
    uri = parse_uri(rebuilt.uri)
    assert uri.host == new_host
    assert sip_uri(uri) == returned.request_uri  # every SipURI field survives the rewrite
    assert _header_lines(rebuilt) == _header_lines(unchanged)  # the rest byte for byte
    assert rebuilt.body == original.body


@HEAVY
@given(sip_message(with_dedicated=True, request=True), host, port, st.booleans(), transport)
def test_added_via(msg: SipMessage, via_host: str, via_port: int | None, rport: bool, proto: str) -> None:
    original, converted, unchanged = _roundtrip(msg)
    returned = pb.SIPMessage()
    returned.CopyFrom(converted.pb)
    new_via = pb.Via(
        host=via_host,
        port=-1 if via_port is None else via_port,
        branch="z9hG4bKedge1",
        transport=proto.upper(),
        r_port_flag=rport,
        r_port=-1,
        received="",
        m_addr="",
        ttl=-1,
    )
    vias = list(returned.via)
    del returned.via[:]
    returned.via.extend([new_via, *vias])
    rebuilt = parse_message(serialize(from_protobuf(returned, converted)))
    assert rebuilt.uri == original.uri
    rebuilt_pb = to_protobuf(rebuilt).pb
    assert list(rebuilt_pb.via) == [new_via, *converted.pb.via]
    # all header lines but the new Via are byte for byte those of the unchanged round trip
    first_via = next(i for i, h in enumerate(rebuilt.headers) if h.key == "via")
    lines = _header_lines(rebuilt)
    assert lines[:first_via] + lines[first_via + 1 :] == _header_lines(unchanged)
    assert rebuilt.body == original.body


def test_changed_contact_keeps_q_zero() -> None:
    msg = parse_message(
        b"REGISTER sip:example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKq0\r\n"
        b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: q0\r\n"
        b"CSeq: 1 REGISTER\r\nContact: <sip:a@192.0.2.1>;expires=60;q=0\r\n\r\n"
    )
    converted = to_protobuf(msg)
    assert converted.pb.contact.q_value == 0.0
    returned = pb.SIPMessage()
    returned.CopyFrom(converted.pb)
    returned.contact.expires = 30  # changed: the Contact is written from the protobuf
    rebuilt = parse_message(serialize(from_protobuf(returned, converted)))
    assert to_protobuf(rebuilt).pb.contact == returned.contact


_EXTENSIONS = parse_message(
    b"OPTIONS sip:b@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKext\r\n"
    b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: ext\r\nCSeq: 1 OPTIONS\r\n"
    b"Supported: timer\r\nSupported: replaces,100rel\r\nX-Gateway-Auth: dXNlcjpwdw==\r\n\r\n"
)


def _extension_lines(msg: SipMessage) -> list[tuple[str, str]]:
    return [(h.name, h.value) for h in msg.headers if h.key in ("supported", "x-gateway-auth", "x-new")]


def test_unchanged_extensions_are_written_as_they_came() -> None:
    converted = to_protobuf(_EXTENSIONS)
    returned = pb.SIPMessage.FromString(converted.pb.SerializeToString())
    rebuilt = from_protobuf(returned, converted)
    # line for line (two Supported lines stay two), and X-Gateway-Auth never on the wire
    assert _extension_lines(rebuilt) == [("Supported", "timer"), ("Supported", "replaces,100rel")]


def test_changed_extensions_keep_the_unchanged_lines() -> None:
    converted = to_protobuf(_EXTENSIONS)
    returned = pb.SIPMessage.FromString(converted.pb.SerializeToString())
    returned.extensions.add(name="X-New", value="1")
    rebuilt = from_protobuf(returned, converted)
    # element by element now, but with the same lines as when nothing changed
    expected = [("Supported", "timer"), ("Supported", "replaces,100rel"), ("X-New", "1")]
    assert _extension_lines(rebuilt) == expected


def test_conversion_tables_stay_small_whatever_comes_in() -> None:
    from edgeport_lib.convert import to_proto

    for n in range(to_proto.LINE_CACHE_SIZE + 100):  # every line new, every line long
        junk = f"{n}-".ljust(4000, "x")
        msg = parse_message(serialize(_EXTENSIONS).replace(b"Supported: timer", f"X-Junk: {junk}".encode()))
        to_protobuf(msg)
    tables = (to_proto._LINES, to_proto._VIA_LINES)
    assert len(to_proto._LINES) <= to_proto.LINE_CACHE_SIZE
    remembered = sum(len(value) + len(line.data) for table in tables for (_, value), line in table.items())
    assert remembered < 4_000_000  # characters and bytes: 4,096 such lines would be 32 MB


# -- conversion of odd but parseable input -----------------------------------------------------
# to_protobuf documents SipParseError for malformed dedicated headers (the EdgePort answers 400);
# any other exception escapes the request handler.
_BASE = (
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
    "From: <sip:a@example.org>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
)


def _odd(old: str, new: bytes) -> bytes:
    data = (_BASE + "\r\n").encode()
    if old:
        assert old.encode() in data
        return data.replace(old.encode(), new, 1)
    return data[:-2] + new + b"\r\n"


ODD_INPUTS = [
    pytest.param(_odd("5060", "\u00b2".encode()), id="via-port-superscript"),
    pytest.param(_odd("5060", b"1" * 5000), id="via-port-5000-digits"),
    pytest.param(
        _odd("example.com SIP", b"example.com:" + b"9" * 5000 + b" SIP"),
        id="ruri-port-5000-digits",
    ),
    pytest.param(_odd(";branch", ";rport=\u00b2;branch".encode()), id="via-rport-superscript"),
    pytest.param(_odd(";branch", b";ttl=" + b"1" * 5000 + b";branch"), id="via-ttl-5000-digits"),
    pytest.param(_odd("", "Expires: \u00b2\r\n".encode()), id="expires-superscript"),
    pytest.param(_odd("", b"Expires: " + b"1" * 5000 + b"\r\n"), id="expires-5000-digits"),
    pytest.param(
        _odd("", "Contact: <sip:a@b>;expires=\u00b9\r\n".encode()), id="contact-expires-superscript"
    ),
    pytest.param(_odd("", b"Contact: <sip:a@b>;q=1e999\r\n"), id="contact-q-huge"),
    pytest.param(
        _odd("", b"Max-Forwards: 0\r\nAuthorization: Digest nc=80000000\r\n"),
        id="authorization-nc-beyond-int32",
    ),
    pytest.param(_odd("10.0.0.1", b"h\xe9st"), id="via-host-latin1"),
    pytest.param(_odd("z9hG4bK1", b"z9hG4bK\xe9"), id="via-branch-latin1"),
    pytest.param(_odd("example.com SIP", b"exampl\xe9.com SIP"), id="ruri-host-latin1"),
    pytest.param(
        _odd("example.com SIP", b"example.com;transport=\xe9 SIP"),
        id="ruri-param-latin1",
    ),
    pytest.param(
        _odd("", b'Authorization: Digest realm="\xe9"\r\n'),
        id="authorization-latin1",
    ),
    pytest.param(
        _odd("", b'WWW-Authenticate: Digest nonce="\xe9"\r\n'),
        id="www-authenticate-latin1",
    ),
    pytest.param(
        b"SIP/2.0 200 O\xe9K\r\n" + _odd("", b"")[len(_BASE.split("\r\n")[0]) + 2 :],
        id="reason-latin1",
    ),
    pytest.param(
        _odd("", b"From: <sip:\xe9@example.org>;tag=1\r\n").replace(
            b"From: <sip:a@example.org>;tag=1\r\n", b""
        ),
        id="from-user-latin1",
    ),
    pytest.param(_odd("", b"X-Latin: caf\xe9\r\n"), id="extension-latin1"),
]


@pytest.mark.parametrize("data", ODD_INPUTS)
def test_to_protobuf_raises_only_sip_parse_error(data: bytes) -> None:
    msg = parse_message(data)
    try:
        converted = to_protobuf(msg)  # lenient (a -1 sentinel, U+FFFD) is fine
    except SipParseError:
        return  # so is a 400
    converted.pb.SerializeToString()


# ==============================================================================================
# (d) nothing but SipParseError, whatever the bytes
# ==============================================================================================
SAMPLE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport;received=203.0.113.5\r\n"
    b"Max-Forwards: 70\r\n"
    b"Route: <sip:edge.example.com;lr>, <sip:[2001:db8::1]:5080;transport=tcp;lr>\r\n"
    b'From: "Alice, \\"A\\"" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n'
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@client.atlanta.example.com;transport=tcp>;expires=60;q=0.5\r\n"
    b"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 24\r\n"
    b"\r\n"
    b"v=0\r\no=- 1 1 IN IP4 x\r\n"
)
RESPONSE_SAMPLE = (
    b"SIP/2.0 401 Unauthorized\r\n"
    b"v: SIP/2.0/UDP 192.0.2.20:5060;rport=5060;branch=z9hG4bKnashds7\r\n"
    b"f: <sip:alice@sip.example.com>;tag=a73kszlfl\r\n"
    b"t: <sip:alice@sip.example.com>;tag=1410948204\r\n"
    b"i: 1j9FpLxk3uxtm8tn@192.0.2.20\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b'WWW-Authenticate: Digest realm="sip.example.com", nonce="ea9c8e88", qop="auth"\r\n'
    b"l: 0\r\n"
    b"\r\n"
)
# bytes that mean something to a SIP parser, to splice into messages
TOKENS = [
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
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
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b"0",
    b"9",
    b"-1",
    b"65536",
    b"99999999999",
    b"Content-Length: 70000\r\n",
    b"l: 3\r\n",
    b"Via: \r\n",
    b"CSeq: 1 INVITE\r\n",
    b"SIP/2.0 ",
    b"\r\n ",
    b"sip:",
    b"sips:[::1]:",
    b"tel:",
]
# characters str.isdigit() accepts and int() rejects, and numbers too long for int()
NUMERIC_TRAPS = [b"\xc2\xb2", b"\xc2\xb9", b"\xe2\x91\xa0", b"1" * 4400]


def _mutation(tokens: list[bytes]) -> st.SearchStrategy:
    position = st.one_of(st.integers(0, 600), st.integers(0, 80_000))
    return st.one_of(
        st.tuples(st.just("flip"), position, st.integers(1, 255)),
        st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("insert"), position, st.sampled_from(tokens)),
        st.tuples(st.just("delete"), position, st.integers(1, 20)),
        st.tuples(st.just("truncate"), position, st.just(0)),
    )


def _mutate(data: bytes, mutations: list) -> bytes:
    buf = bytearray(data)
    for op, pos, arg in mutations:
        pos = pos % (len(buf) + 1)
        if op == "flip" and pos < len(buf):
            buf[pos] ^= arg
        elif op == "insert":
            buf[pos:pos] = arg
        elif op == "delete":
            del buf[pos : pos + arg]
        elif op == "truncate":
            del buf[pos:]
    return bytes(buf)


def _big_body(data: bytes, size: int) -> bytes:
    """The sample with its body padded to `size` bytes and Content-Length to match."""
    head, _, body = data.partition(b"\r\n\r\n")
    body = (body * (size // max(len(body), 1) + 1))[:size]
    head = head.replace(b"Content-Length: 24", b"Content-Length: %d" % len(body))
    head = head.replace(b"l: 0", b"l: %d" % len(body))
    return head + b"\r\n\r\n" + body


def _only_sip_parse_errors(data: bytes) -> None:
    for limits in (Limits(), BIG):
        try:
            parse_message(data, limits)
        except SipParseError:
            pass
        for chunk in (len(data) + 1, 1400, 7):
            if chunk == 7 and len(data) > 5000:
                continue  # byte-ish feeding of huge inputs is slow and adds nothing
            framer = StreamFramer(limits)
            try:
                for start in range(0, max(len(data), 1), chunk):
                    for frame in framer.feed(data[start : start + chunk]):
                        if frame is not KEEPALIVE:
                            try:
                                parse_message(frame, BIG)
                            except SipParseError:
                                pass
            except SipParseError:
                pass


@SLOW
@given(st.integers(0, 70_000), st.randoms(use_true_random=False))
def test_random_bytes(size: int, rnd: random.Random) -> None:
    _only_sip_parse_errors(rnd.randbytes(size))


@SLOW
@given(st.binary(max_size=2000))
def test_random_small_bytes(data: bytes) -> None:
    _only_sip_parse_errors(data)


@SLOW
@given(st.binary(max_size=300), st.sampled_from([SAMPLE, RESPONSE_SAMPLE]))
def test_random_bytes_after_a_valid_head(data: bytes, sample: bytes) -> None:
    head = sample.partition(b"\r\n\r\n")[0]
    _only_sip_parse_errors(head + data)
    _only_sip_parse_errors(head[: len(head) // 2] + data)


@settings(FAST, max_examples=250)
@given(st.sampled_from([SAMPLE, RESPONSE_SAMPLE]), st.lists(_mutation(TOKENS), min_size=1, max_size=6))
def test_mutated_messages(sample: bytes, mutations: list) -> None:
    _only_sip_parse_errors(_mutate(sample, mutations))


@SLOW
@given(
    st.sampled_from([SAMPLE, RESPONSE_SAMPLE]),
    st.integers(60_000, 70_000),
    st.lists(_mutation(TOKENS), min_size=1, max_size=4),
)
def test_mutated_big_messages(sample: bytes, size: int, mutations: list) -> None:
    _only_sip_parse_errors(_mutate(_big_body(sample, size), mutations))


@SLOW
@given(sip_message(with_dedicated=True), st.lists(_mutation(TOKENS), min_size=1, max_size=4))
def test_mutated_generated_messages(msg: SipMessage, mutations: list) -> None:
    _only_sip_parse_errors(_mutate(serialize(msg), mutations))


@settings(FAST, max_examples=60)
@example(sample=SAMPLE, mutations=[("insert", SAMPLE.index(b"Content-Length: 24") + 16, b"1" * 4400)])
@given(
    st.sampled_from([SAMPLE, RESPONSE_SAMPLE]),
    st.lists(_mutation(TOKENS + NUMERIC_TRAPS), min_size=1, max_size=6),
)
def test_mutated_messages_with_numeric_traps(sample: bytes, mutations: list) -> None:
    _only_sip_parse_errors(_mutate(sample, mutations))
