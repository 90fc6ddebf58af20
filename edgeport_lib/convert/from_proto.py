"""SIPMessage -> SipMessage, under the lossless rule (wire contract section 5).

A header the processor returned unchanged is written with its original text; a changed or new
one is written from the protobuf. Content-Length is left to the serializer, and
X-Gateway-Auth never reaches the wire. A response returned as sent but for its top Via (what
Routr's processors do to every response they relay) takes a shortcut that writes the same.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from ..protocol import sipmessage_pb2 as pb
from ..sip.auth import format_challenge
from ..sip.errors import SipParseError
from ..sip.headers import LIST_HEADERS, canonical_name
from ..sip.message import Header, SipMessage
from ..sip.parser import check_mandatory
from ..sip.responses import add_to_tag, new_tag
from ..sip.status import reason_phrase
from .response_types import response_type_for, status_for
from .to_proto import GATEWAY_AUTH, REPEATED_FIELDS, SINGLE_FIELDS, Converted, _remember

_FIELD_HEADER = {field: canonical_name(key) for key, field in {**REPEATED_FIELDS, **SINGLE_FIELDS}.items()}
_DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})
# Header order of a rebuilt message; extensions (CSeq among them) follow.
_REQUEST_ORDER = ("via", "route", "record_route", "max_forwards", "from", "to", "call_id", "contact",
                  "expires", "authorization", "www_authenticate")
_RESPONSE_ORDER = ("via", "record_route", "from", "to", "call_id", "contact", "expires",
                   "www_authenticate")


_REPEATED = frozenset(REPEATED_FIELDS.values())
# (field, header name, repeated) of the response headers after the Vias, in _RESPONSE_ORDER
_FIELDS_AFTER_VIA = tuple((fname, _FIELD_HEADER[fname], fname in _REPEATED) for fname in _RESPONSE_ORDER[1:])


class InvalidProcessorMessage(ValueError):
    """The processor returned something that cannot become a SIP message."""


# RFC 3261 25.1: no control characters but HTAB in a line. A CR or LF in a value the processor
# set would end the line early, and what follows would be read as headers of its making.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NOT_IN_URI = re.compile(r"[\x00-\x20\x7f]")  # a space would also end the Request-URI
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")  # a header name


def _checked(text: str, what: str) -> str:
    """`text`, set by the processor, as it may go on the wire (values are never logged)."""
    if not text.isprintable() and _CONTROL.search(text) is not None:  # HTAB is not printable
        raise InvalidProcessorMessage(f"processor returned a {what} with a control character")
    return text


def _format(fname: str, value) -> str:
    """The header text of a field the processor set or changed.

    Processors add the same items to every request (their own Via, without a branch, and
    Record-Route): their texts are remembered, by the item's encoding, in a bounded table."""
    key = (fname, value.SerializeToString())
    text = _FORMATTED.get(key)
    if text is None:
        text = _checked(_FORMATTERS[fname](value), f"{_FIELD_HEADER[fname]} header")
        _remember(_FORMATTED, FORMATTED_CACHE_SIZE, key, text)  # bounded, no long values
    return text


_FORMATTED: OrderedDict[tuple[str, bytes], str] = OrderedDict()
FORMATTED_CACHE_SIZE = 1024


def _reason_text(reason: str) -> str:
    return _checked(reason, "reason phrase")


def from_protobuf(returned: pb.SIPMessage, original: Converted) -> SipMessage:
    """Rebuild the message to forward or relay from the processor's SIPMessage."""
    if not original.message.is_request and _is_original_minus_top_via(returned, original):
        return _relayed_response(returned, original)
    return _field_by_field(returned, original)


def _field_by_field(returned: pb.SIPMessage, original: Converted) -> SipMessage:
    """from_protobuf's general path: each field compared with the original's."""
    kind = returned.WhichOneof("message_type")
    source = original.message
    if kind == "request_uri":
        if not source.is_request:
            raise InvalidProcessorMessage("processor returned a request for a response")
        msg = SipMessage(method=source.method, uri=_request_uri(returned, original))
        order = _REQUEST_ORDER
    elif kind == "response_type":
        msg = SipMessage(status=_status(returned, original), reason="")
        msg.reason = _reason(returned, original, msg.status)
        order = _RESPONSE_ORDER
    else:
        raise InvalidProcessorMessage("processor message has neither request_uri nor response_type")
    msg.headers = _headers(returned, original, order)
    msg.body = _body(returned, original)
    return _valid_sip(msg)


def _valid_sip(msg: SipMessage) -> SipMessage:
    """`msg` when it has the headers every SIP message needs (a processor may have emptied the
    Call-ID, dropped the From, changed the CSeq): a receiver would refuse it, with nobody told.
    Vias are the edge's to check: a forwarded request needs the processor's, and a relayed
    response may have none left (one to a request of the edge's own making)."""
    try:
        check_mandatory(msg, via=False)
    except SipParseError as error:
        problem = f"processor returned a message that is not valid SIP: {error.reason}"
        raise InvalidProcessorMessage(problem) from None
    return msg


# -- relayed responses ------------------------------------------------------------------------
# Half of all messages are responses relayed back, and Routr's processors return them as sent
# but for their top Via, the EdgePort's own: that case needs no comparison field by field.
def _is_original_minus_top_via(returned: pb.SIPMessage, original: Converted) -> bool:
    vias = original.pb.via
    if len(returned.via) != len(vias) - 1:
        return False
    expected = pb.SIPMessage()
    expected.CopyFrom(original.pb)  # a copy: original.pb is compared with again later
    del expected.via[0]
    return expected == returned


def _relayed_response(returned: pb.SIPMessage, original: Converted) -> SipMessage:
    """What _field_by_field gives for the original response minus its top Via."""
    status = _status(returned, original)
    # equal protobuf bodies: _body would give the original one
    return SipMessage(status=status, reason=_reason(returned, original, status),
                      headers=_relayed_headers(original), body=original.message.body)


def _relayed_headers(original: Converted) -> list[Header]:
    """What _headers gives when every returned field equals the original one but the Vias.
    Plain loops: a comprehension per field would cost a call each (Python 3.11)."""
    originals, message = original.originals, original.pb
    headers = [Header("Via", text) for text in originals.get("via", [])[1:]]
    for fname, name, repeated in _FIELDS_AFTER_VIA:
        texts = originals.get(fname, [])
        if not repeated:
            if not message.HasField(fname):  # equal messages: returned.HasField says the same
                continue
            texts = texts or [_format(fname, getattr(message, fname))]
        for text in texts:
            headers.append(Header(name, text))
    for name, line in original.extension_headers:
        headers.append(Header(name, line))
    return headers


def local_response(request: Converted, returned: pb.SIPMessage) -> SipMessage:
    """A response to `request` built from the processor's answer (contract section 5).

    Starts from the request's Vias, From, To, Call-ID and CSeq (and Record-Route for a 2xx to
    a dialog-creating request); whatever the processor set replaces or adds to those.
    """
    if returned.WhichOneof("message_type") != "response_type":
        raise InvalidProcessorMessage("expected a response")
    status = status_for(returned.response_type)
    if status is None:
        raise InvalidProcessorMessage("processor answered with ResponseType UNKNOWN")
    req = request.message
    response = SipMessage(status=status, reason=_reason_text(returned.reason_phrase) or reason_phrase(status))
    response.headers = _headers(returned, request, _RESPONSE_ORDER)
    keys = {h.key for h in response.headers}
    copy = ["via", "from", "to", "call-id", "cseq"]
    if 200 <= status < 300 and req.method in _DIALOG_CREATING:
        copy.append("record-route")
    inherited = [Header(h.name, h.value) for h in req.headers if h.key in copy and h.key not in keys]
    response.headers = inherited + response.headers
    if status != 100:
        _ensure_to_tag(response)
    response.body = returned.body.encode("utf-8") if returned.body else b""
    return _valid_sip(response)


def _ensure_to_tag(msg: SipMessage) -> None:
    for header in msg.headers:
        if header.key == "to":
            header.value = add_to_tag(header.value, new_tag())
            return


def _request_uri(returned: pb.SIPMessage, original: Converted) -> str:
    if returned.request_uri == original.pb.request_uri:
        return original.message.uri or ""
    if not returned.request_uri.host:
        raise InvalidProcessorMessage("processor returned a Request-URI without a host")
    uri = format_uri(returned.request_uri)
    if _NOT_IN_URI.search(uri) is not None:
        raise InvalidProcessorMessage("processor returned a Request-URI with a space or control character")
    return uri


def _status(returned: pb.SIPMessage, original: Converted) -> int:
    source = original.message
    if not source.is_request and returned.response_type == response_type_for(source.status or 0):
        return source.status or 0  # keeps codes without a name of their own (199, 429, 608, ...)
    status = status_for(returned.response_type)
    if status is None:
        raise InvalidProcessorMessage("processor answered with ResponseType UNKNOWN")
    return status


def _reason(returned: pb.SIPMessage, original: Converted, status: int) -> str:
    source = original.message
    unchanged = returned.reason_phrase == original.pb.reason_phrase
    if not source.is_request and status == source.status and unchanged:
        return source.reason  # as received, bytes that are not UTF-8 included
    return _reason_text(returned.reason_phrase) or reason_phrase(status)


def _body(returned: pb.SIPMessage, original: Converted) -> bytes:
    if returned.body == original.pb.body:
        return original.message.body  # keeps non-UTF-8 bodies byte for byte
    return returned.body.encode("utf-8")


def _headers(returned: pb.SIPMessage, original: Converted, order: tuple[str, ...]) -> list[Header]:
    """Plain loops: a comprehension per field would cost a call each (Python 3.11)."""
    headers: list[Header] = []
    for fname in order:
        if fname in _REPEATED:
            texts = _repeated_texts(getattr(returned, fname), getattr(original.pb, fname),
                                    original.originals.get(fname, []), fname)
        elif returned.HasField(fname):
            texts = _single_texts(returned, original, fname)
        else:
            continue
        name = _FIELD_HEADER[fname]
        for text in texts:
            headers.append(Header(name, text))
    if returned.extensions == original.pb.extensions:
        for name, line in original.extension_headers:
            headers.append(Header(name, line))
    else:
        headers += _extensions(returned, original)
    return headers


def _repeated_texts(items, original_items, original_texts: list[str], fname: str) -> list[str]:
    """Each returned item gets the text of an equal original item, else is formatted.

    Matched from the bottom up: processors add and remove Vias, Routes and Record-Routes at
    the top, so when two items are equal as protobufs but not as text (a loop's Via with a
    parameter the protobuf has no field for), the one left is the lower one."""
    if items == original_items:
        return original_texts
    unused = list(zip(original_items, original_texts, strict=False))
    texts = []
    for item in reversed(items):
        for i in range(len(unused) - 1, -1, -1):
            if item == unused[i][0]:
                texts.append(unused.pop(i)[1])
                break
        else:
            texts.append(_format(fname, item))
    texts.reverse()
    return texts


def _single_texts(returned: pb.SIPMessage, original: Converted, fname: str) -> list[str]:
    value = getattr(returned, fname)
    texts = original.originals.get(fname)
    if texts and value == getattr(original.pb, fname):
        return texts  # every instance: extra Contacts, second challenges
    return [_format(fname, value)]


def _extensions(returned: pb.SIPMessage, original: Converted) -> list[Header]:
    """Extensions in order. The elements of one original line, returned unchanged and together,
    get that line's text back; other consecutive elements of a list header share one line."""
    headers: list[Header] = []
    extensions = [(canonical_name(ext.name), ext.value) for ext in returned.extensions]
    lines = original.extension_lines
    i = 0
    while i < len(extensions):
        name, value = extensions[i]
        key = name.lower()
        if lines and (key, value) in lines:
            line, count = _original_line(extensions, i, original)
            if line is not None:
                headers.append(Header(name, line))
                i += count
                continue
        i += 1
        if key in (GATEWAY_AUTH, "content-length"):
            continue
        if _TOKEN.fullmatch(name) is None:
            raise InvalidProcessorMessage("processor returned an extension whose name is not a token")
        _checked(value, f"{name} header")
        if headers and key in LIST_HEADERS and headers[-1].key == key:
            headers[-1].value = f"{headers[-1].value}, {value}"
        else:
            headers.append(Header(name, value))
    return headers


def _original_line(
    extensions: list[tuple[str, str]], start: int, original: Converted
) -> tuple[str | None, int]:
    """The original line whose elements are extensions[start:start + n] exactly; (None, 0) if none."""
    if not original.extension_lines:
        return None, 0
    name, value = extensions[start]
    key = name.lower()
    for elements, line in original.extension_lines.get((key, value), ()):
        n = len(elements)
        window = extensions[start : start + n]
        if tuple(v for _, v in window) == elements and all(k.lower() == key for k, _ in window):
            return line, n
    return None, 0


# -- writing headers from protobuf ------------------------------------------------------------
def format_uri(uri: pb.SipURI) -> str:
    scheme = "sips" if uri.secure else "sip"
    userinfo = ""
    if uri.user:
        userinfo = uri.user + (f":{uri.user_password}" if uri.user_password else "") + "@"
    host = f"[{uri.host}]" if ":" in uri.host and not uri.host.startswith("[") else uri.host
    port = f":{uri.port}" if uri.port > 0 else ""
    params = ""
    if uri.transport_param:
        params += f";transport={uri.transport_param.lower()}"
    for name, value in (("maddr", uri.m_addr_param), ("method", uri.method_param), ("user", uri.user_param)):
        if value:
            params += f";{name}={value}"
    if uri.ttl_param > 0:
        params += f";ttl={uri.ttl_param}"
    if uri.lr_param:
        params += ";lr"
    if uri.bnc_param:
        params += ";bnc"
    return f"{scheme}:{userinfo}{host}{port}{params}"


def _format_address(addr: pb.Address) -> str:
    if addr.wildcard:
        return "*"
    display = addr.display_name.replace("\\", "\\\\").replace('"', '\\"')
    prefix = f'"{display}" ' if display else ""
    return f"{prefix}<{format_uri(addr.uri)}>"


def _format_params(params, skip: str = "") -> str:
    return "".join(f";{k}={v}" if v else f";{k}" for k, v in sorted(params.items()) if k != skip)


def _format_from_to(value) -> str:
    tag = f";tag={value.tag}" if value.tag else ""
    return _format_address(value.address) + tag + _format_params(value.parameters, skip="tag")


def _format_route(value) -> str:
    return _format_address(value.address) + _format_params(value.parameters)


def _format_contact(value: pb.Contact) -> str:
    text = _format_address(value.address)
    if value.expires >= 0:
        text += f";expires={value.expires}"
    if value.q_value >= 0:  # -1.0 means absent (contract section 2)
        text += f";q={round(value.q_value, 3):g}"
    return text


def _format_via(via: pb.Via) -> str:
    host = f"[{via.host}]" if ":" in via.host and not via.host.startswith("[") else via.host
    text = f"SIP/2.0/{(via.transport or 'UDP').upper()} {host}"
    if via.port > 0:
        text += f":{via.port}"
    if via.branch:
        text += f";branch={via.branch}"
    if via.r_port_flag or via.r_port > 0:
        text += f";rport={via.r_port}" if via.r_port > 0 else ";rport"
    if via.received:
        text += f";received={via.received}"
    if via.m_addr:
        text += f";maddr={via.m_addr}"
    if via.ttl > 0:
        text += f";ttl={via.ttl}"
    return text


def _format_authorization(a: pb.Authorization) -> str:
    params = [(n, v, True) for n, v in (("username", a.username), ("realm", a.realm), ("nonce", a.nonce),
                                         ("uri", a.uri), ("response", a.response)) if v]
    if a.algorithm:
        params.append(("algorithm", a.algorithm, False))
    if a.c_nonce:
        params.append(("cnonce", a.c_nonce, True))
    if a.opaque:
        params.append(("opaque", a.opaque, True))
    if a.qop:
        params.append(("qop", a.qop, False))
    if a.nonce_count >= 0 and a.qop:
        params.append(("nc", f"{a.nonce_count:08x}", False))
    return format_challenge(a.scheme, params)


def _format_www_authenticate(w: pb.WWWAuthenticate) -> str:
    params = [(n, v, True) for n, v in (("realm", w.realm), ("domain", w.domain), ("nonce", w.nonce),
                                         ("opaque", w.opaque)) if v]
    if w.stale:
        params.append(("stale", "TRUE", False))
    if w.algorithm:
        params.append(("algorithm", w.algorithm, False))
    if w.qop:
        params.append(("qop", w.qop, True))
    return format_challenge(w.scheme, params)


_FORMATTERS = {
    "via": _format_via,
    "route": _format_route,
    "record_route": _format_route,
    "from": _format_from_to,
    "to": _format_from_to,
    "contact": _format_contact,
    "call_id": lambda v: v.call_id,
    "expires": lambda v: str(v.expires),
    "max_forwards": lambda v: str(v.max_forwards),
    "authorization": _format_authorization,
    "www_authenticate": _format_www_authenticate,
}
