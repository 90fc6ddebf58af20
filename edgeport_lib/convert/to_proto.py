"""SipMessage -> SIPMessage (wire contract sections 2 and 3).

`to_protobuf` also records the original text of every header it turned into a protobuf field,
so that from_proto.py can write unchanged headers back exactly as they came (the lossless rule).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

from google.protobuf.message_factory import GetMessageClass

from ..protocol import processor_pb2
from ..protocol import sipmessage_pb2 as pb
from ..sip.address import WILDCARD, NameAddr, parse_name_addr, split_name_addr
from ..sip.auth import parse_challenge
from ..sip.errors import SipParseError
from ..sip.headers import is_list_header, split_list
from ..sip.message import Header, SipMessage, valid_utf8
from ..sip.params import parse_params
from ..sip.parser import is_uint
from ..sip.uri import AbsoluteUri, Uri, parse_uri
from ..sip.via import parse_via
from .response_types import response_type_for

ABSENT = -1  # contract section 2: "absent" is -1, never 0

# Headers with a dedicated field; everything else becomes an extension.
REPEATED_FIELDS = {"via": "via", "route": "route", "record-route": "record_route"}
SINGLE_FIELDS = {
    "from": "from", "to": "to", "contact": "contact", "call-id": "call_id",
    "expires": "expires", "max-forwards": "max_forwards", "authorization": "authorization",
    "www-authenticate": "www_authenticate",
}
DEDICATED = frozenset(REPEATED_FIELDS) | frozenset(SINGLE_FIELDS) | {"content-length"}
GATEWAY_AUTH = "x-gateway-auth"  # never on the wire: see from_proto.py


@dataclass(slots=True)
class Converted:
    """A message, its protobuf, and the original text behind each dedicated field."""

    message: SipMessage
    pb: pb.SIPMessage
    request: processor_pb2.MessageRequest  # holds `pb` as its message; see message_request()
    # field name -> original element texts; aligned with pb's repeated fields, and for a single
    # field every instance (extra Contacts, second challenges) so they survive when unchanged.
    originals: dict[str, list[str]] = field(default_factory=dict)
    # lines split into several extensions, by (header key, first element): [(elements, line)]
    extension_lines: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    # (name, line) of every extension header in order, X-Gateway-Auth left out: what is
    # written when the processor returns the extensions unchanged
    extension_headers: list[tuple[str, str]] = field(default_factory=list)


def to_protobuf(msg: SipMessage) -> Converted:
    """Convert a parsed message. Raises SipParseError when a dedicated header is malformed.

    Bytes of the head that are not UTF-8 read as U+FFFD in the protobuf (its strings must be
    UTF-8), while `originals` keeps them: a header the processor returns unchanged goes out
    with the bytes it came with."""
    # built inside the MessageRequest it will travel in: copying a SIPMessage in costs more
    request = processor_pb2.MessageRequest()
    out = request.message
    converted = Converted(msg, out, request)
    parts = [_request_uri_field(msg.uri or "")] if msg.is_request else []
    originals = converted.originals
    for header in msg.headers:
        key = header.key
        single = SINGLE_FIELDS.get(key)
        if single is not None and single in originals:
            # a later instance of a single field: kept as text, never parsed
            originals[single].extend(_single_elements(key, header.value))
            continue
        if key == "content-length":
            continue
        line = _line(key, header.name, header.value)
        fname = line.fname
        if fname is None:
            _add_extension(converted, header, line, parts)
            continue
        originals.setdefault(fname, []).extend(line.elements)
        parts.append(line.data)
    out.MergeFromString(b"".join(parts))
    if not msg.is_request:
        out.response_type = response_type_for(msg.status or 0)
        out.reason_phrase = valid_utf8(msg.reason)
    out.content_length.content_length = len(msg.body)
    if msg.is_request and "max_forwards" not in originals:
        out.max_forwards.max_forwards = 70  # RFC 3261 default; processors decrement it
    out.body = msg.body.decode("utf-8", "replace")
    return converted


def _add_extension(converted: Converted, header: Header, line: _Line, parts: list[bytes]) -> None:
    parts.append(line.data)
    if header.key != GATEWAY_AUTH:
        converted.extension_headers.append((header.name, header.value))
    if len(line.elements) > 1:  # one line split into several extensions: remember it
        converted.extension_lines.setdefault((header.key, line.elements[0]), []).append(
            (line.elements, header.value))


# -- header lines as protobuf wire bytes -------------------------------------------------------
# A SIPMessage is built by concatenating the wire bytes of its fields and parsing them once
# (MergeFromString): one call into the protobuf runtime instead of one per field. The same lines
# come back again and again (a dialog's From, To, Contact, Route and CSeq in every request and
# response, a trunk's Request-URI in every call), and a name-addr costs far more to parse than
# its bytes cost to copy, so what a line becomes is remembered, in a bounded table, by its text.
# A Via's branch is new in every transaction, but a Via line comes back in every response of
# its transaction: Via lines have a table of their own, so they never push the others out.
class _Line(NamedTuple):  # a NamedTuple: built for every new line, and a frozen dataclass costs 3x
    fname: str | None  # the dedicated field, or None for extensions
    elements: tuple[str, ...]  # the line's texts, one per protobuf item
    data: bytes  # every element for a repeated field or extensions; the first for a single field


# OrderedDicts: dropping a plain dict's oldest key (del d[next(iter(d))]) first walks past the
# slots of the keys dropped before it, ~6x slower at this size (2.7 against 0.44 us).
_LINES: OrderedDict[tuple[str, str], _Line] = OrderedDict()
_VIA_LINES: OrderedDict[tuple[str, str], _Line] = OrderedDict()
LINE_CACHE_SIZE = 4096
VIA_CACHE_SIZE = 1024
# Longer lines are rare, and a sender could fill the tables with lines of the full 16 KB
# allowed; with this bound the tables stay below ~10 MB whatever comes in.
CACHED_LINE_LENGTH = 512
_FIELDS = pb.SIPMessage.DESCRIPTOR.fields_by_name
_CLASSES = {name: GetMessageClass(f.message_type) for name, f in _FIELDS.items() if f.message_type}


def _line(key: str, name: str, value: str) -> _Line:
    table, size = (_VIA_LINES, VIA_CACHE_SIZE) if key == "via" else (_LINES, LINE_CACHE_SIZE)
    line = table.get((name, value))
    if line is None:
        line = _with_new_id(key, value) or _encode_line(key, name, value)
        _remember(table, size, (name, value), line)
    return line


def _remember(table: OrderedDict, size: int, key: tuple[str, str | bytes], value: object) -> None:
    """Put `value` in `table` under `key`, dropping the oldest entry beyond `size`; never when
    key[1], a line's text or an item's encoding, is longer than CACHED_LINE_LENGTH."""
    if len(key[1]) > CACHED_LINE_LENGTH:
        return
    if len(table) >= size:
        table.popitem(last=False)  # the oldest
    table[key] = value


def _encode_line(key: str, name: str, value: str) -> _Line:
    fname = REPEATED_FIELDS.get(key)
    if fname is not None:
        elements = tuple(split_list(value))
        return _Line(fname, elements, b"".join(_encode_item(fname, e) for e in elements))
    fname = SINGLE_FIELDS.get(key)
    if fname is not None:
        elements = _single_elements(key, value)
        return _Line(fname, elements, _encode_item(fname, elements[0]))
    elements = tuple(split_list(value)) if is_list_header(name, value) else (value,)
    data = b"".join(_field("extensions", _extension(name, e)) for e in elements)
    return _Line(None, elements, data)


def _single_elements(key: str, value: str) -> tuple[str, ...]:
    """A single field's line as element texts: only Contact may list several."""
    return tuple(split_list(value)) if key == "contact" else (value,)


def _extension(name: str, value: str) -> bytes:
    return pb.Extension(name=name, value=valid_utf8(value)).SerializeToString()


def _encode_item(fname: str, text: str) -> bytes:
    item = _CLASSES[fname]()
    _FILLERS[fname](item, valid_utf8(text))
    return _field(fname, item.SerializeToString())


def _request_uri_field(uri: str) -> bytes:
    key = ("", uri)  # no header has an empty name
    line = _LINES.get(key)
    if line is None:
        data = _field("request_uri", sip_uri(parse_uri(valid_utf8(uri))).SerializeToString())
        line = _Line("request_uri", (uri,), data)
        _remember(_LINES, LINE_CACHE_SIZE, key, line)
    return line.data


def _varint(number: int) -> bytes:
    if number < 0x80:  # most lengths: one byte, made once
        return _ONE_BYTE[number]
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


_ONE_BYTE = [bytes((n,)) for n in range(0x80)]
_TAGS = {name: _varint(f.number << 3 | 2) for name, f in _FIELDS.items()}  # length-delimited


def _field(fname: str, payload: bytes) -> bytes:
    """A length-delimited field of SIPMessage: tag, varint length, payload."""
    return _TAGS[fname] + _varint(len(payload)) + payload


# A Via line is new in every transaction, and a From or To line in every call, but only by one
# identifier: the branch, the tag. The rest (sent-by, rport, the address) comes back in every
# request of the same peer. So a line of the plain shape `...;branch=<token>...` or
# `...<uri>;tag=<token>...` is encoded as the remembered encoding of the line without that
# parameter, followed by the fields it sets (a From's or To's tag is also in its `parameters`
# map). Protobuf reads fields in any order and map entries as they come: the same message.
# Quotes, comments, lists and a second parameter of the same name take the general path.
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")  # RFC 3261 25.1
_ID_PARAMS = {"via": ";branch=", "from": ";tag=", "to": ";tag="}
_WITHOUT_ID: OrderedDict[tuple[str, str], bytes] = OrderedDict()  # (field, line without it) -> item
_FROM_FIELDS = pb.From.DESCRIPTOR.fields_by_name  # To numbers its fields the same way
_PARAMETER_FIELDS = _FROM_FIELDS["parameters"].message_type.fields_by_name  # a map entry: key, value
_ID_TAGS = {  # field -> tag byte of a length-delimited field
    "branch": pb.Via.DESCRIPTOR.fields_by_name["branch"].number,
    "tag": _FROM_FIELDS["tag"].number,
    "parameters": _FROM_FIELDS["parameters"].number,
    "key": _PARAMETER_FIELDS["key"].number,
    "value": _PARAMETER_FIELDS["value"].number,
}
_ID_TAGS = {name: _varint(number << 3 | 2) for name, number in _ID_TAGS.items()}


def _with_new_id(key: str, value: str) -> _Line | None:
    param = _ID_PARAMS.get(key)
    if param is None:
        return None
    start = value.find(param)
    if start == -1 or '"' in value or "(" in value or "," in value:
        return None
    if key != "via" and not -1 < value.find(">") < start:  # a tag after <uri>, not in it
        return None
    end = value.find(";", start + len(param))
    if end == -1:
        end = len(value)
    ident = value[start + len(param) : end]
    rest = value[:start] + value[end:]
    params = rest if key == "via" else rest[rest.find(">") :]  # a From's URI may say "tag"
    if _TOKEN.fullmatch(ident) is None or param[1:-1] in params.lower():
        return None
    fname = SINGLE_FIELDS.get(key, "via")
    payload = _WITHOUT_ID.get((fname, rest))
    if payload is None:
        item = _CLASSES[fname]()
        _FILLERS[fname](item, valid_utf8(rest))
        payload = item.SerializeToString()
        _remember(_WITHOUT_ID, VIA_CACHE_SIZE, (fname, rest), payload)
    ident_bytes = ident.encode()
    if fname == "via":
        payload += _delimited("branch", ident_bytes)
    else:
        entry = _TAG_KEY + _delimited("value", ident_bytes)
        payload += _delimited("tag", ident_bytes) + _delimited("parameters", entry)
    return _Line(fname, (value,), _field(fname, payload))


def _delimited(name: str, data: bytes) -> bytes:
    return _ID_TAGS[name] + _varint(len(data)) + data


_TAG_KEY = _delimited("key", b"tag")  # a From's or To's parameters map entry begins so


def _int_or_absent(value: str | None) -> int:
    if value is None or not is_uint(value.strip()):
        return ABSENT
    number = int(value)
    return number if number < 2**31 else ABSENT


def sip_uri(uri: Uri) -> pb.SipURI:
    target = pb.SipURI()
    _fill_uri(target, uri)
    return target


def _fill_uri(target: pb.SipURI, uri: Uri) -> None:
    if isinstance(uri, AbsoluteUri):
        # tel: and other schemes: the number is the user part; there is no host
        target.user = uri.rest.split(";")[0]
        target.port = target.ttl_param = ABSENT
        return
    params = uri.params
    target.host = uri.host
    target.port = uri.port if uri.port is not None else ABSENT
    target.ttl_param = _int_or_absent(params.get("ttl")) if "ttl" in params else ABSENT
    if uri.user:
        target.user = uri.user
    if uri.password:
        target.user_password = uri.password
    if params:
        target.transport_param = params.get("transport") or ""
        target.m_addr_param = params.get("maddr") or ""
        target.method_param = params.get("method") or ""
        target.user_param = params.get("user") or ""
        target.lr_param = "lr" in params
        target.bnc_param = "bnc" in params
    target.secure = uri.secure


def _fill_address(target: pb.Address, name_addr: NameAddr) -> None:
    if name_addr.wildcard:
        target.wildcard = True
        return
    _fill_uri(target.uri, name_addr.uri)
    if name_addr.display_name:
        target.display_name = name_addr.display_text


def _fill_from_to(target, value: str) -> None:
    params = _fill_name_addr(target, value)
    target.tag = params.get("tag") or ""


def _fill_name_addr(target, value: str) -> dict:
    """Address and parameters of a From, To, Route or Record-Route (every header parameter,
    tag included, goes into `parameters`); returns the parameters."""
    if value.strip() == WILDCARD:
        target.address.wildcard = True
        return {}
    display_name, uri, params_text = split_name_addr(value)
    target.address.MergeFromString(_address_bytes(display_name, uri))
    params = parse_params(params_text)
    if params:
        target.parameters.update({k: v or "" for k, v in params.items()})
    return params


# A From, To or Route line is new in every call (a tag), but its address comes back in every
# call of the same peer: its encoded protobuf is remembered by its text.
_ADDRESSES: OrderedDict[tuple[str, str], bytes] = OrderedDict()
ADDRESS_CACHE_SIZE = 4096


def _address_bytes(display_name: str, uri: str) -> bytes:
    key = (display_name, uri)
    data = _ADDRESSES.get(key)
    if data is None:
        address = pb.Address()
        _fill_address(address, NameAddr(parse_uri(uri), display_name))
        data = address.SerializeToString()
        if len(display_name) <= CACHED_LINE_LENGTH:  # _remember bounds the URI's length
            _remember(_ADDRESSES, ADDRESS_CACHE_SIZE, key, data)
    return data


def _fill_contact(target: pb.Contact, value: str) -> None:
    na = parse_name_addr(value)
    _fill_address(target.address, na)
    target.expires = _int_or_absent(na.params.get("expires"))
    q = na.params.get("q")
    try:
        target.q_value = float(q) if q is not None else -1.0
    except ValueError:
        target.q_value = -1.0


def _fill_via(target: pb.Via, value: str) -> None:
    via = parse_via(value)
    params = via.params
    target.host = via.host
    target.port = via.port if via.port is not None else ABSENT
    target.transport = via.transport
    target.r_port = _int_or_absent(params.get("rport"))
    target.ttl = _int_or_absent(params.get("ttl"))
    if params:
        target.branch = params.get("branch") or ""
        target.r_port_flag = "rport" in params
        target.received = params.get("received") or ""
        target.m_addr = params.get("maddr") or ""


def _single_int(value: str, name: str) -> int:
    value = value.strip()
    if not is_uint(value):
        raise SipParseError(f"malformed {name} header")
    return min(int(value), 2**31 - 1)


_AUTHORIZATION_PARAMS = (
    ("realm", "realm"), ("c_nonce", "cnonce"), ("nonce", "nonce"), ("algorithm", "algorithm"),
    ("qop", "qop"), ("opaque", "opaque"), ("response", "response"), ("username", "username"),
    ("uri", "uri"), ("method", "method"),
)


def _fill_authorization(target: pb.Authorization, value: str) -> None:
    scheme, p = parse_challenge(value)
    nc = p.get("nc")
    try:
        nonce_count = int(nc, 16) if nc and len(nc) <= 8 else ABSENT
    except ValueError:
        nonce_count = ABSENT
    if nonce_count >= 2**31:
        nonce_count = ABSENT
    target.scheme = scheme
    for field_name, param in _AUTHORIZATION_PARAMS:
        setattr(target, field_name, p.get(param, ""))
    target.nonce_count = nonce_count


def _fill_www_authenticate(target: pb.WWWAuthenticate, value: str) -> None:
    scheme, p = parse_challenge(value)
    target.scheme = scheme
    for field_name in ("realm", "domain", "nonce", "algorithm", "qop", "opaque"):
        setattr(target, field_name, p.get(field_name, ""))
    target.stale = p.get("stale", "").lower() == "true"


def _fill_call_id(target: pb.CallID, value: str) -> None:
    target.call_id = value


def _fill_expires(target: pb.Expires, value: str) -> None:
    target.expires = _single_int(value, "Expires")


def _fill_max_forwards(target: pb.MaxForwards, value: str) -> None:
    target.max_forwards = _single_int(value, "Max-Forwards")


_FILLERS = {
    "via": _fill_via,
    "route": _fill_name_addr,
    "record_route": _fill_name_addr,
    "from": _fill_from_to,
    "to": _fill_from_to,
    "contact": _fill_contact,
    "call_id": _fill_call_id,
    "expires": _fill_expires,
    "max_forwards": _fill_max_forwards,
    "authorization": _fill_authorization,
    "www_authenticate": _fill_www_authenticate,
}
