"""Helpers over the Routr protobufs shared by the registrar and the router.

Reminder of the wire contract: absent ints are -1 (ports, rport, ttl, Contact expires/q),
transports are upper-case names in Vias and lower-case ``transport`` URI parameters.
"""

from __future__ import annotations

from ..protocol import common_pb2, processor_pb2, sipmessage_pb2

MessageRequest = processor_pb2.MessageRequest
MessageResponse = processor_pb2.MessageResponse
SIPMessage = sipmessage_pb2.SIPMessage
SipURI = sipmessage_pb2.SipURI
ResponseType = sipmessage_pb2.ResponseType

# RFC 3261 8.2.6.2: a response copies these from the request (besides Via, From, To, Call-ID).
_COPIED_TO_RESPONSES = {"cseq", "timestamp"}
_UNSPECIFIED_HOSTS = {"", "0.0.0.0", "::", "[::]"}


def method_of(request: MessageRequest) -> str:
    """The request method (the CSeq method for a response), e.g. ``"INVITE"``."""
    return processor_pb2.Method.Name(request.method)


def is_response(request: MessageRequest) -> bool:
    return request.message.WhichOneof("message_type") == "response_type"


def answer(request: MessageRequest, response_type: int, reason_phrase: str) -> MessageResponse:
    """A response to ``request``: its Vias, From, To, Call-ID and CSeq, with the given status."""
    src = request.message
    message = SIPMessage(response_type=response_type, reason_phrase=reason_phrase)
    message.via.extend(src.via)
    getattr(message, "from").CopyFrom(getattr(src, "from"))
    message.to.CopyFrom(src.to)
    message.call_id.CopyFrom(src.call_id)
    message.extensions.extend(e for e in src.extensions if e.name.lower() in _COPIED_TO_RESPONSES)
    return MessageResponse(message=message)


def uri_text(uri: SipURI) -> str:
    """``sip:user@host:port;transport=x`` for log lines."""
    text = f"{'sips' if uri.secure else 'sip'}:{uri.user + '@' if uri.user else ''}{uri.host}"
    if uri.port > 0:
        text += f":{uri.port}"
    return text + (f";transport={uri.transport_param}" if uri.transport_param else "")


# --- the EdgePort's own addresses -------------------------------------------------------


def edge_host(request: MessageRequest, transport: str) -> str:
    """The address the EdgePort is reached at, for our Via and Record-Route.

    The first external address, else the listening point's bind address when it is a
    specific one, else the IP part of the first localnet, else loopback.
    """
    if request.external_addrs:
        return request.external_addrs[0]
    point = listening_point(request, transport)
    if point is not None and point.host not in _UNSPECIFIED_HOSTS:
        return point.host
    for net in request.localnets:
        ip = net.split("/")[0]
        if ip not in _UNSPECIFIED_HOSTS:
            return ip
    return "127.0.0.1"


def listening_point(request: MessageRequest, transport: str) -> processor_pb2.NetInterface | None:
    """The EdgePort's listening point for ``transport`` (``"UDP"``, ``"WS"``...), if any."""
    for point in request.listening_points:
        if common_pb2.Transport.Name(point.transport) == transport:
            return point
    return None


def points_to_edge(request: MessageRequest, uri: SipURI) -> bool:
    """True when ``uri`` designates the EdgePort that sent ``request``."""
    hosts = {"127.0.0.1", *request.external_addrs}
    hosts.update(point.host for point in request.listening_points)
    hosts.update(net.split("/")[0] for net in request.localnets)
    secure = uri.secure or uri.transport_param.lower() in ("tls", "wss")
    port = uri.port if uri.port > 0 else (5061 if secure else 5060)
    return uri.host in hosts and port in {point.port for point in request.listening_points}


def next_hop_transport(message: SIPMessage) -> str:
    """The transport the EdgePort will use to forward ``message`` (contract section 5)."""
    uri = message.route[0].address.uri if message.route else message.request_uri
    if uri.secure:
        return "TLS"
    if uri.transport_param:
        return uri.transport_param.upper()
    if message.via and message.via[0].transport:
        return message.via[0].transport.upper()
    return "UDP"


def self_via(request: MessageRequest, transport: str) -> sipmessage_pb2.Via:
    """Our Via for a forwarded request: no branch, the EdgePort adds one."""
    point = listening_point(request, transport)
    return sipmessage_pb2.Via(
        host=edge_host(request, transport),
        port=point.port if point else -1,
        transport=transport,
        r_port_flag=False,
        r_port=-1,
        ttl=-1,
    )


def self_record_route(request: MessageRequest, transport: str) -> sipmessage_pb2.RecordRoute:
    """``<sip:HOST:PORT;transport=x;lr>`` for the EdgePort's ``transport`` side."""
    point = listening_point(request, transport)
    uri = SipURI(
        host=edge_host(request, transport),
        port=point.port if point else -1,
        transport_param=transport.lower(),
        lr_param=True,
        ttl_param=-1,
    )
    return sipmessage_pb2.RecordRoute(address=sipmessage_pb2.Address(uri=uri))
