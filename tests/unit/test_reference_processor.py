"""The reference processor's registrar and router, driven with hand-built protobufs."""

from __future__ import annotations

from edgeport_lib.protocol import common_pb2, processor_pb2, sipmessage_pb2
from edgeport_lib.reference_processor import ReferenceProcessor
from edgeport_lib.reference_processor.messages import edge_host
from edgeport_lib.reference_processor.router import StaticRoute, load_routes

RT = sipmessage_pb2.ResponseType
T = common_pb2.Transport
EDGE_IP = "10.0.0.5"


def uri(user: str = "", host: str = "", port: int = -1, transport: str = "", lr: bool = False):
    return sipmessage_pb2.SipURI(
        user=user, host=host, port=port, transport_param=transport, lr_param=lr, ttl_param=-1
    )


def address(u: sipmessage_pb2.SipURI) -> sipmessage_pb2.Address:
    return sipmessage_pb2.Address(uri=u)


def via(host: str, port: int, transport: str = "UDP", received: str = "", rport: int = -1):
    return sipmessage_pb2.Via(
        host=host,
        port=port,
        transport=transport,
        branch="z9hG4bK-test",
        r_port_flag=rport > 0,
        r_port=rport,
        received=received,
        ttl=-1,
    )


def request(
    method: str,
    request_uri: sipmessage_pb2.SipURI,
    *,
    to: sipmessage_pb2.SipURI,
    to_tag: str = "",
    top_via: sipmessage_pb2.Via | None = None,
    transport: int = T.UDP,
    contact: sipmessage_pb2.SipURI | None = None,
    contact_expires: int = -1,
    expires: int | None = None,
    routes: tuple[sipmessage_pb2.SipURI, ...] = (),
    max_forwards: int = 70,
    external_addrs: tuple[str, ...] = (),
) -> processor_pb2.MessageRequest:
    """A request as the EdgePort sends it: sender from the stamped top Via."""
    top_via = top_via or via("192.168.1.20", 5062)
    message = sipmessage_pb2.SIPMessage(request_uri=request_uri, reason_phrase="", body="")
    getattr(message, "from").CopyFrom(
        sipmessage_pb2.From(address=address(uri("bob", "example.org")), tag="from-tag")
    )
    message.to.CopyFrom(sipmessage_pb2.To(address=address(to), tag=to_tag))
    message.call_id.call_id = "call-1@test"
    message.via.append(top_via)
    message.max_forwards.max_forwards = max_forwards
    message.extensions.add(name="CSeq", value=f"7 {method}")
    message.extensions.add(name="User-Agent", value="unit-test")
    for route in routes:
        message.route.add(address=address(route))
    if contact is not None:
        message.contact.CopyFrom(sipmessage_pb2.Contact(address=address(contact), expires=contact_expires))
        message.contact.q_value = -1.0
    if expires is not None:
        message.expires.expires = expires
    return processor_pb2.MessageRequest(
        ref="call-1@test",
        edge_port_ref="edge-test",
        method=processor_pb2.Method.Value(method),
        sender=processor_pb2.NetInterface(
            host=top_via.received or top_via.host,
            port=top_via.r_port if top_via.r_port > 0 else top_via.port,
            transport=transport,
        ),
        listening_points=[
            processor_pb2.NetInterface(host="0.0.0.0", port=5060, transport=T.UDP),
            processor_pb2.NetInterface(host="0.0.0.0", port=5060, transport=T.TCP),
            processor_pb2.NetInterface(host="0.0.0.0", port=5062, transport=T.WS),
        ],
        external_addrs=list(external_addrs),
        localnets=[f"{EDGE_IP}/24"],
        message=message,
    )


def register(processor: ReferenceProcessor, user: str = "alice", **kwargs) -> processor_pb2.MessageResponse:
    kwargs.setdefault("contact", uri(user, "192.168.1.20", 5062))
    kwargs.setdefault("expires", 600)
    req = request("REGISTER", uri(host="example.org"), to=uri(user, "example.org"), **kwargs)
    return processor.handle(req)


def invite(user: str = "alice", host: str = "example.org", **kwargs) -> processor_pb2.MessageRequest:
    return request("INVITE", uri(user, host), to=uri(user, host), **kwargs)


def extension(message: sipmessage_pb2.SIPMessage, name: str) -> str | None:
    return next((e.value for e in message.extensions if e.name.lower() == name.lower()), None)


def is_answer(response: processor_pb2.MessageResponse, response_type: int) -> bool:
    message = response.message
    return message.WhichOneof("message_type") == "response_type" and message.response_type == response_type


def test_register_answers_ok_with_contact_expires_and_cseq():
    response = register(ReferenceProcessor())
    message = response.message
    assert is_answer(response, RT.OK)
    assert message.reason_phrase == "OK"
    assert extension(message, "CSeq") == "7 REGISTER"
    assert getattr(message, "from").tag == "from-tag"
    assert message.call_id.call_id == "call-1@test"
    assert [v.branch for v in message.via] == ["z9hG4bK-test"]
    assert message.contact.address.uri.user == "alice"
    assert message.contact.expires == 600
    assert message.expires.expires == 600


def test_invite_goes_to_registered_contact_with_self_via_record_route_and_max_forwards():
    processor = ReferenceProcessor()
    register(processor)

    response = processor.handle(invite(max_forwards=70))
    message = response.message

    assert message.WhichOneof("message_type") == "request_uri"
    assert (message.request_uri.user, message.request_uri.host, message.request_uri.port) == (
        "alice",
        "192.168.1.20",
        5062,
    )
    assert message.request_uri.transport_param == "udp"
    own, original = message.via
    assert (own.host, own.port, own.transport, own.branch) == (EDGE_IP, 5060, "UDP", "")
    assert (own.r_port_flag, own.r_port) == (False, -1)
    assert original.branch == "z9hG4bK-test"
    [record_route] = message.record_route
    rr_uri = record_route.address.uri
    assert (rr_uri.host, rr_uri.port, rr_uri.transport_param, rr_uri.lr_param) == (EDGE_IP, 5060, "udp", True)
    assert message.max_forwards.max_forwards == 69
    assert extension(message, "CSeq") == "7 INVITE"


def test_binding_uses_received_and_rport_of_the_top_via():
    processor = ReferenceProcessor()
    register(processor, top_via=via("192.168.1.20", 5062, received="203.0.113.9", rport=40000))

    target = processor.handle(invite()).message.request_uri

    assert (target.host, target.port) == ("203.0.113.9", 40000)


def test_lookup_falls_back_to_the_user_alone():
    processor = ReferenceProcessor()
    register(processor)

    target = processor.handle(invite(host=EDGE_IP)).message.request_uri

    assert (target.user, target.host) == ("alice", "192.168.1.20")


def test_unknown_user_is_not_found():
    response = ReferenceProcessor().handle(invite("nobody"))

    assert is_answer(response, RT.NOT_FOUND)
    assert response.message.reason_phrase == "Not Found"
    assert extension(response.message, "CSeq") == "7 INVITE"
    assert extension(response.message, "User-Agent") is None


def test_static_route():
    processor = ReferenceProcessor({"service": StaticRoute("127.0.0.1", 5090, "tcp")})

    message = processor.handle(invite("service")).message

    target = message.request_uri
    assert (target.user, target.host, target.port, target.transport_param) == (
        "service",
        "127.0.0.1",
        5090,
        "tcp",
    )
    assert (message.via[0].transport, message.via[0].port) == ("TCP", 5060)


def test_routes_file(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text("routes:\n  service: {host: 127.0.0.1, port: 5090, transport: UDP}\n  echo: {host: h}\n")

    assert load_routes(path) == {
        "service": StaticRoute("127.0.0.1", 5090, "udp"),
        "echo": StaticRoute("h", -1, ""),
    }


def test_response_loses_its_top_via_only():
    message = sipmessage_pb2.SIPMessage(response_type=RT.RINGING, reason_phrase="Ringing")
    message.via.extend([via(EDGE_IP, 5060), via("192.168.1.20", 5062)])
    message.to.tag = "callee-tag"
    req = processor_pb2.MessageRequest(method=processor_pb2.Method.INVITE, message=message)

    response = ReferenceProcessor().handle(req)

    assert response.message.response_type == RT.RINGING
    assert response.message.reason_phrase == "Ringing"
    assert [v.host for v in response.message.via] == ["192.168.1.20"]
    assert response.message.to.tag == "callee-tag"


def test_route_pointing_at_the_edge_is_removed():
    edge_route = uri(host=EDGE_IP, port=5060, transport="udp", lr=True)
    next_proxy = uri(host="198.51.100.7", port=5070, lr=True)
    bye = request(
        "BYE",
        uri("bob", "192.168.1.30", 5064),
        to=uri("alice", "example.org"),
        to_tag="t",
        routes=(edge_route,),
    )

    message = ReferenceProcessor().handle(bye).message

    assert len(message.route) == 0
    assert message.request_uri.host == "192.168.1.30"  # in-dialog: request URI as is
    assert len(message.record_route) == 0
    assert message.via[0].branch == ""

    two_routes = request(
        "INVITE",
        uri("carol", "example.org"),
        to=uri("carol", "example.org"),
        routes=(uri(host="127.0.0.1", lr=True), next_proxy),  # no port: 5060, which we listen on
    )
    message = ReferenceProcessor().handle(two_routes).message
    assert [r.address.uri.host for r in message.route] == ["198.51.100.7"]
    assert message.request_uri.host == "example.org"  # forwarded by Route, URI kept


def test_in_dialog_request_to_a_registered_contact_goes_where_the_endpoint_is():
    processor = ReferenceProcessor()
    ws_contact = uri("alice", "abc.invalid", transport="ws")
    register(
        processor,
        contact=ws_contact,
        top_via=via("abc.invalid", -1, "WS", "192.168.1.40", 50123),
        transport=T.WS,
    )

    bye = request("BYE", ws_contact, to=uri("alice", "example.org"), to_tag="t")
    target = processor.handle(bye).message.request_uri

    assert (target.host, target.port, target.transport_param) == ("192.168.1.40", 50123, "ws")


def test_call_between_transports_is_record_routed_on_both_sides():
    processor = ReferenceProcessor()
    register(
        processor,
        contact=uri("alice", "abc.invalid", transport="ws"),
        top_via=via("abc.invalid", -1, "WS", "192.168.1.40", 50123),
        transport=T.WS,
    )

    message = processor.handle(invite()).message

    assert [(v.transport, v.port) for v in message.via[:1]] == [("WS", 5062)]
    assert [(r.address.uri.transport_param, r.address.uri.port) for r in message.record_route] == [
        ("ws", 5062),
        ("udp", 5060),
    ]


def test_expires_zero_unregisters():
    processor = ReferenceProcessor()
    register(processor)

    response = register(processor, expires=0)

    assert is_answer(response, RT.OK)
    assert response.message.expires.expires == 0
    assert not response.message.HasField("contact")
    assert is_answer(processor.handle(invite()), RT.NOT_FOUND)


def test_contact_expires_zero_unregisters():
    processor = ReferenceProcessor()
    register(processor)
    register(processor, contact_expires=0, expires=3600)

    assert is_answer(processor.handle(invite()), RT.NOT_FOUND)


def test_bindings_expire():
    now = [1000.0]
    processor = ReferenceProcessor(clock=lambda: now[0])
    register(processor, expires=60)

    now[0] += 59
    assert not is_answer(processor.handle(invite()), RT.NOT_FOUND)
    now[0] += 1
    assert is_answer(processor.handle(invite()), RT.NOT_FOUND)


def test_max_forwards_zero_is_too_many_hops():
    processor = ReferenceProcessor()
    register(processor)

    response = processor.handle(invite(max_forwards=0))

    assert is_answer(response, RT.TOO_MANY_HOPS)


def test_edge_host_order():
    req = invite()
    assert edge_host(req, "UDP") == EDGE_IP  # listening point is 0.0.0.0: first localnet
    assert edge_host(invite(external_addrs=("203.0.113.1",)), "UDP") == "203.0.113.1"
    req.listening_points[0].host = "10.9.9.9"
    assert edge_host(req, "UDP") == "10.9.9.9"  # a specific bind address beats localnets
    del req.localnets[:]
    assert edge_host(req, "TCP") == "127.0.0.1"
