"""Sans-I/O routing decisions: Via stamping, branches, next hops and response targets.

Wire contract sections 5 and 6, RFC 3261 sections 16 and 18.2.2, RFC 3581.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .sip.address import parse_name_addr
from .sip.headers import split_list
from .sip.message import SipMessage
from .sip.parser import is_uint
from .sip.uri import SipUri, bare_host, parse_uri
from .sip.via import MAGIC_COOKIE, Via, parse_via
from .transports.base import Flow, Target

_DEFAULT_PORTS = {"TLS": 5061, "WSS": 5061}
BRANCH_PREFIX = MAGIC_COOKIE  # with --workers N, each worker puts its id here (edgeport_lib/handoff.py)


def new_branch() -> str:
    return BRANCH_PREFIX + secrets.token_hex(10)


def replace_top_via(msg: SipMessage, via_text: str) -> None:
    """Replace the first Via element (which may share a line with others) by `via_text`."""
    for header in msg.headers:
        if header.key == "via":
            if "," not in header.value:  # the usual: one element, alone on its line
                header.value = via_text
                return
            elements = split_list(header.value)
            if not elements:
                continue  # `Via: ,` holds none: the top element is on a later line
            elements[0] = via_text
            header.value = ", ".join(elements)
            return
    raise ValueError("message has no Via")


def top_via(msg: SipMessage) -> Via:
    """The message's first Via element, parsed. Raises ValueError when it has none."""
    return parse_via(_top_via_text(msg))


def _top_via_text(msg: SipMessage) -> str:
    text = msg.top_via
    if text is None:
        raise ValueError("message has no Via")
    return text


def stamp_received(msg: SipMessage, flow: Flow) -> Via:
    """RFC 3581 on an incoming request: add received= and fill rport= on the top Via.

    A Via that needs neither (over UDP, no rport, sent-by already the source address) keeps its
    text as received."""
    via = top_via(msg)
    source_ip = flow.remote[0]
    has_rport = "rport" in via.params
    if not (has_rport or flow.reliable or bare_host(via.host) != source_ip):
        return via
    if has_rport or flow.reliable:
        via.params["rport"] = str(flow.remote[1])
    via.params["received"] = source_ip
    replace_top_via(msg, str(via))
    return via


def transaction_branch(msg: SipMessage, via: Via) -> str:
    """The top Via branch; for RFC 2543 clients without one, a stable stand-in."""
    if via.branch:
        return via.branch
    number, method = msg.cseq
    seed = f"{msg.call_id}|{number}|{msg.uri}|{msg.get('From')}|{via.sent_by}"
    return "legacy-" + hashlib.sha1(seed.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def sender_of(via: Via, flow: Flow) -> tuple[str, int]:
    """Where a request really came from, per its stamped top Via (contract section 4)."""
    host = via.params.get("received") or bare_host(via.host)
    rport = via.params.get("rport")
    if rport and is_uint(rport):
        return host, int(rport)
    return host, via.port if via.port is not None else -1


def prepare_forwarded_via(msg: SipMessage, port_for: dict[str, int]) -> Via:
    """Give the processor's top Via a fresh branch and a port when it lacks them; that Via."""
    via = _remembered(_PROCESSOR_VIAS, (_top_via_text(msg),), _parse_via)  # never changed: copied
    fresh_branch = not via.branch or not via.branch.startswith(MAGIC_COOKIE)
    missing_port = via.port is None and via.transport in port_for
    params = dict(via.params)
    if fresh_branch:
        params.pop("branch", None)
        params = {"branch": new_branch(), **params}
    port = port_for[via.transport] if missing_port else via.port
    via = Via(via.transport, via.host, port, params, via.protocol)
    if fresh_branch or missing_port:
        replace_top_via(msg, str(via))
    return via


def next_hop(msg: SipMessage, top_via: Via | None = None) -> Target:
    """First Route (loose routing), else the Request-URI (maddr first); contract section 5.

    `top_via` is the message's top Via when the caller has it parsed already.
    """
    if top_via is None:
        text = msg.top_via
        top_via = parse_via(text) if text is not None else None
    route = msg.first_element("route")
    key = (route, "" if route is not None else msg.uri or "", top_via.transport if top_via else None)
    return _remembered(_HOPS, key, _hop)


def _hop(key: tuple[str | None, str, str | None]) -> Target:
    route, request_uri, via_transport = key
    uri = parse_name_addr(route).uri if route is not None else parse_uri(request_uri)
    if not isinstance(uri, SipUri):
        raise ValueError(f"cannot route to a non-SIP URI: {uri}")
    transport = _transport_for(uri, via_transport)
    host = uri.params.get("maddr") or uri.host
    port = uri.port or _DEFAULT_PORTS.get(transport, 5060)
    return Target(transport, bare_host(host), port)


# The same Routes, Request-URIs and processor Vias come back call after call (a trunk, a
# registered phone, the processor's own Via): what they parse to is remembered by their text, in
# bounded tables, oldest out first. Only what parsed is remembered; texts over 512 characters
# never are. Targets are immutable; a remembered Via is copied before it is changed.
_HOPS: OrderedDict[tuple[str | None, str, str | None], Target] = OrderedDict()
_PROCESSOR_VIAS: OrderedDict[tuple[str], Via] = OrderedDict()
REMEMBERED = 1024


def _remembered(table: OrderedDict, key: tuple, parse: Callable[[tuple], Any]) -> Any:
    found = table.get(key)
    if found is None:
        found = parse(key)  # raises for what does not parse: never remembered
        if sum(len(part or "") for part in key) <= 512:
            if len(table) >= REMEMBERED:
                table.popitem(last=False)
            table[key] = found
    return found


def _parse_via(key: tuple[str]) -> Via:
    return parse_via(key[0])


def _transport_for(uri: SipUri, via_transport: str | None) -> str:
    if uri.secure:
        return "TLS"
    param = uri.params.get("transport")
    if param:
        return param.upper()
    return (via_transport or "UDP").upper()


def response_target(msg: SipMessage) -> Target:
    """Where to send a response with no transaction: by its top Via (RFC 3261 18.2.2, RFC 3581)."""
    return reply_target(top_via(msg))


def reply_target(via: Via) -> Target:
    """Where responses go by this top Via: maddr, else received, else sent-by; rport's port."""
    host = via.params.get("maddr") or via.params.get("received") or via.host
    rport = via.params.get("rport")
    if rport and is_uint(rport):
        port = int(rport)
    else:
        port = via.port or _DEFAULT_PORTS.get(via.transport, 5060)
    return Target(via.transport, bare_host(host), port)
