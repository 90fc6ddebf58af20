"""SipMessage -> SIPMessage (wire contract sections 2 and 3).

`to_protobuf` also records the original text of every header it turned into a protobuf field,
so that from_proto.py can write unchanged headers back exactly as they came (the lossless rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol import sipmessage_pb2 as pb
from ..sip.address import NameAddr, parse_name_addr
from ..sip.auth import parse_challenge
from ..sip.errors import SipParseError
from ..sip.headers import is_list_header, split_list
from ..sip.message import Header, SipMessage
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


@dataclass(slots=True)
class Converted:
    """A message, its protobuf, and the original text behind each dedicated field."""

    message: SipMessage
    pb: pb.SIPMessage
    # field name -> original element texts; aligned with pb's repeated fields, and for a single
    # field every instance (extra Contacts, second challenges) so they survive when unchanged.
    originals: dict[str, list[str]] = field(default_factory=dict)
    # (header key, its elements) -> the original line, for lines split into several extensions
    extension_lines: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)


def to_protobuf(msg: SipMessage) -> Converted:
    """Convert a parsed message. Raises SipParseError when a dedicated header is malformed."""
    try:
        return _to_protobuf(msg, msg)
    except UnicodeEncodeError:
        # bytes that are not UTF-8 in the head (kept by the parser as surrogates): protobuf
        # strings must be UTF-8, so convert a copy where they read as U+FFFD
        return _to_protobuf(msg, _as_valid_utf8(msg))


def _as_valid_utf8(msg: SipMessage) -> SipMessage:
    return SipMessage(
        method=msg.method, uri=_text(msg.uri) if msg.uri is not None else None, status=msg.status,
        reason=_text(msg.reason), version=msg.version, body=msg.body,
        headers=[Header(h.name, _text(h.value)) for h in msg.headers],
    )


def _to_protobuf(original: SipMessage, msg: SipMessage) -> Converted:
    out = pb.SIPMessage()
    converted = Converted(original, out)
    if msg.is_request:
        out.request_uri.CopyFrom(sip_uri(parse_uri(msg.uri or "")))
    else:
        out.response_type = response_type_for(msg.status or 0)
        out.reason_phrase = msg.reason
    for header in msg.headers:
        _convert_header(converted, header.key, header.name, header.value)
    out.content_length.content_length = len(msg.body)
    if msg.is_request and not out.HasField("max_forwards"):
        out.max_forwards.max_forwards = 70  # RFC 3261 default; processors decrement it
    out.body = msg.body.decode("utf-8", "replace")
    return converted


def _convert_header(converted: Converted, key: str, name: str, value: str) -> None:
    out = converted.pb
    if key == "content-length":
        return
    if key in REPEATED_FIELDS:
        fname = REPEATED_FIELDS[key]
        for element in split_list(value):
            getattr(out, fname).append(_CONVERTERS[fname](element))
            converted.originals.setdefault(fname, []).append(element)
        return
    if key in SINGLE_FIELDS:
        fname = SINGLE_FIELDS[key]
        elements = split_list(value) if key == "contact" else [value]
        if not out.HasField(fname):
            getattr(out, fname).CopyFrom(_CONVERTERS[fname](elements[0]))
        converted.originals.setdefault(fname, []).extend(elements)
        return
    elements = split_list(value) if is_list_header(name, value) else [value]
    for element in elements:
        out.extensions.add(name=name, value=_text(element))
    if len(elements) > 1:  # one line split into several extensions: remember the line
        group = (key, tuple(_text(e) for e in elements))
        converted.extension_lines.setdefault(group, value)


def _text(value: str) -> str:
    """Protobuf strings must be valid UTF-8; undecodable bytes become U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _int_or_absent(value: str | None) -> int:
    if value is None or not is_uint(value.strip()):
        return ABSENT
    number = int(value)
    return number if number < 2**31 else ABSENT


def sip_uri(uri: Uri) -> pb.SipURI:
    if isinstance(uri, AbsoluteUri):
        # tel: and other schemes: the number is the user part; there is no host
        return pb.SipURI(user=_text(uri.rest.split(";")[0]), port=ABSENT, ttl_param=ABSENT)
    params = uri.params
    return pb.SipURI(
        user=_text(uri.user or ""),
        user_password=_text(uri.password or ""),
        host=uri.host,
        port=uri.port if uri.port is not None else ABSENT,
        transport_param=params.get("transport") or "",
        m_addr_param=params.get("maddr") or "",
        method_param=params.get("method") or "",
        user_param=params.get("user") or "",
        ttl_param=_int_or_absent(params.get("ttl")),
        lr_param="lr" in params,
        bnc_param="bnc" in params,
        secure=uri.secure,
    )


def address(name_addr: NameAddr) -> pb.Address:
    if name_addr.wildcard:
        return pb.Address(wildcard=True)
    return pb.Address(uri=sip_uri(name_addr.uri), display_name=_text(name_addr.display_text))


def _header_params(name_addr: NameAddr) -> dict[str, str]:
    return {k: _text(v or "") for k, v in name_addr.params.items()}


def _from(value: str) -> pb.From:
    na = parse_name_addr(value)
    return pb.From(address=address(na), tag=na.tag or "", parameters=_header_params(na))


def _to(value: str) -> pb.To:
    na = parse_name_addr(value)
    return pb.To(address=address(na), tag=na.tag or "", parameters=_header_params(na))


def _route(value: str) -> pb.Route:
    na = parse_name_addr(value)
    return pb.Route(address=address(na), parameters=_header_params(na))


def _record_route(value: str) -> pb.RecordRoute:
    na = parse_name_addr(value)
    return pb.RecordRoute(address=address(na), parameters=_header_params(na))


def _contact(value: str) -> pb.Contact:
    na = parse_name_addr(value)
    q = na.params.get("q")
    try:
        q_value = float(q) if q is not None else -1.0
    except ValueError:
        q_value = -1.0
    return pb.Contact(address=address(na), expires=_int_or_absent(na.params.get("expires")), q_value=q_value)


def _via(value: str) -> pb.Via:
    via = parse_via(value)
    params = via.params
    return pb.Via(
        host=via.host,
        port=via.port if via.port is not None else ABSENT,
        branch=params.get("branch") or "",
        transport=via.transport,
        r_port_flag="rport" in params,
        r_port=_int_or_absent(params.get("rport")),
        received=params.get("received") or "",
        m_addr=params.get("maddr") or "",
        ttl=_int_or_absent(params.get("ttl")),
    )


def _single_int(value: str, name: str) -> int:
    value = value.strip()
    if not is_uint(value):
        raise SipParseError(f"malformed {name} header")
    return min(int(value), 2**31 - 1)


def _authorization(value: str) -> pb.Authorization:
    scheme, p = parse_challenge(value)
    nc = p.get("nc")
    try:
        nonce_count = int(nc, 16) if nc and len(nc) <= 8 else ABSENT
    except ValueError:
        nonce_count = ABSENT
    if nonce_count >= 2**31:
        nonce_count = ABSENT
    return pb.Authorization(
        scheme=scheme, realm=p.get("realm", ""), c_nonce=p.get("cnonce", ""), nonce=p.get("nonce", ""),
        algorithm=p.get("algorithm", ""), qop=p.get("qop", ""), opaque=p.get("opaque", ""),
        response=p.get("response", ""), username=_text(p.get("username", "")), uri=p.get("uri", ""),
        method=p.get("method", ""), nonce_count=nonce_count,
    )


def _www_authenticate(value: str) -> pb.WWWAuthenticate:
    scheme, p = parse_challenge(value)
    return pb.WWWAuthenticate(
        scheme=scheme, realm=p.get("realm", ""), domain=p.get("domain", ""), nonce=p.get("nonce", ""),
        algorithm=p.get("algorithm", ""), qop=p.get("qop", ""), opaque=p.get("opaque", ""),
        stale=p.get("stale", "").lower() == "true",
    )


_CONVERTERS = {
    "via": _via,
    "route": _route,
    "record_route": _record_route,
    "from": _from,
    "to": _to,
    "contact": _contact,
    "call_id": lambda v: pb.CallID(call_id=_text(v)),
    "expires": lambda v: pb.Expires(expires=_single_int(v, "Expires")),
    "max_forwards": lambda v: pb.MaxForwards(max_forwards=_single_int(v, "Max-Forwards")),
    "authorization": _authorization,
    "www_authenticate": _www_authenticate,
}
