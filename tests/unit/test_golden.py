"""Golden MessageRequests: one per flow, the expected protobuf written by hand from the wire contract.

Each test parses a sample message, converts it with `to_protobuf` + `message_request`, and compares
the result with a `MessageRequest` spelled out field by field from the contract (sections 1 to 4),
every -1 "absent" sentinel included. The expected values are never produced by the converter.
"""

from __future__ import annotations

from google.protobuf import text_format

from edgeport_lib.convert import EdgeInfo, NetAddress, message_request, to_protobuf
from edgeport_lib.protocol import common_pb2, processor_pb2
from edgeport_lib.protocol import sipmessage_pb2 as pb
from edgeport_lib.sip.parser import parse_message

EDGE = EdgeInfo(
    edge_port_ref="edgeport-01",
    listening_points=(
        NetAddress("0.0.0.0", 5060, "UDP"),
        NetAddress("0.0.0.0", 5060, "TCP"),
        NetAddress("0.0.0.0", 5062, "WSS"),
    ),
    external_addrs=("203.0.113.100",),
    localnets=("10.100.0.10/16", "127.0.0.1/8"),
)
LISTENING_POINTS = [
    processor_pb2.NetInterface(host="0.0.0.0", port=5060, transport=common_pb2.UDP),
    processor_pb2.NetInterface(host="0.0.0.0", port=5060, transport=common_pb2.TCP),
    processor_pb2.NetInterface(host="0.0.0.0", port=5062, transport=common_pb2.WSS),
]
EXTERNAL_ADDRS = ["203.0.113.100"]
LOCALNETS = ["10.100.0.10/16", "127.0.0.1/8"]


def sip(text: str) -> bytes:
    """Sample message text with LF line ends -> wire bytes with CRLF."""
    return text.replace("\n", "\r\n").encode()


def convert(data: bytes, sender: NetAddress) -> processor_pb2.MessageRequest:
    return message_request(to_protobuf(parse_message(data)), sender, EDGE)


def assert_same(actual: processor_pb2.MessageRequest, expected: processor_pb2.MessageRequest) -> None:
    """Equal protobufs; on failure pytest shows a line diff of the text formats."""
    assert text_format.MessageToString(actual) == text_format.MessageToString(expected)
    assert actual == expected
    # and the bytes a processor receives decode to the same thing
    assert processor_pb2.MessageRequest.FromString(actual.SerializeToString()) == expected


# ==============================================================================================
# REGISTER with Contact expires/q and a digest Authorization (nc=0000000a)
# ==============================================================================================
REGISTER = sip(
    "REGISTER sip:sip.example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP 192.0.2.20:5060;rport;branch=z9hG4bKnashds7\n"
    "Max-Forwards: 70\n"
    'From: "Alice Liddell" <sip:alice@sip.example.com>;tag=a73kszlfl\n'
    'To: "Alice Liddell" <sip:alice@sip.example.com>\n'
    "Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.20\n"
    "CSeq: 2 REGISTER\n"
    "Contact: <sip:alice@192.0.2.20:5060;transport=udp>;expires=3600;q=0.7\n"
    'Authorization: Digest username="alice", realm="sip.example.com",'
    ' nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:sip.example.com",'
    ' response="dfe56131d1958046689d83306477ecc", algorithm=MD5, cnonce="0a4f113b",'
    ' opaque="", qop=auth, nc=0000000a\n'
    "Expires: 3600\n"
    "User-Agent: EdgePortTest/1.0\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\n"
    "Content-Length: 0\n"
    "\n"
)


def test_register() -> None:
    alice_uri = pb.SipURI(
        user="alice",
        user_password="",
        host="sip.example.com",
        transport_param="",
        m_addr_param="",
        method_param="",
        user_param="",
        ttl_param=-1,
        port=-1,
        lr_param=False,
        bnc_param=False,
        secure=False,
    )
    alice = pb.Address(uri=alice_uri, display_name="Alice Liddell", wildcard=False)
    message = pb.SIPMessage(
        request_uri=pb.SipURI(
            user="",
            user_password="",
            host="sip.example.com",
            transport_param="",
            m_addr_param="",
            method_param="",
            user_param="",
            ttl_param=-1,
            port=-1,
            lr_param=False,
            bnc_param=False,
            secure=False,
        ),
        via=[
            pb.Via(
                host="192.0.2.20",
                port=5060,
                branch="z9hG4bKnashds7",
                transport="UDP",
                r_port_flag=True,
                r_port=-1,
                received="",
                m_addr="",
                ttl=-1,
            )
        ],
        max_forwards=pb.MaxForwards(max_forwards=70),
        **{
            "from": pb.From(address=alice, tag="a73kszlfl", parameters={"tag": "a73kszlfl"}),
            "to": pb.To(address=alice, tag="", parameters={}),
        },
        call_id=pb.CallID(call_id="1j9FpLxk3uxtm8tn@192.0.2.20"),
        contact=pb.Contact(
            address=pb.Address(
                uri=pb.SipURI(
                    user="alice",
                    user_password="",
                    host="192.0.2.20",
                    transport_param="udp",
                    m_addr_param="",
                    method_param="",
                    user_param="",
                    ttl_param=-1,
                    port=5060,
                    lr_param=False,
                    bnc_param=False,
                    secure=False,
                ),
                display_name="",
                wildcard=False,
            ),
            expires=3600,
            q_value=0.7,
        ),
        authorization=pb.Authorization(
            realm="sip.example.com",
            scheme="Digest",
            c_nonce="0a4f113b",
            nonce="ea9c8e88df84f1cec4341ae6cbe5a359",
            algorithm="MD5",
            qop="auth",
            opaque="",
            response="dfe56131d1958046689d83306477ecc",
            username="alice",
            uri="sip:sip.example.com",
            method="",
            nonce_count=10,
        ),
        expires=pb.Expires(expires=3600),
        content_length=pb.ContentLength(content_length=0),
        extensions=[
            pb.Extension(name="CSeq", value="2 REGISTER"),
            pb.Extension(name="User-Agent", value="EdgePortTest/1.0"),
            pb.Extension(name="Allow", value="INVITE"),
            pb.Extension(name="Allow", value="ACK"),
            pb.Extension(name="Allow", value="CANCEL"),
            pb.Extension(name="Allow", value="BYE"),
            pb.Extension(name="Allow", value="OPTIONS"),
        ],
        route=[],
        record_route=[],
        reason_phrase="",
        body="",
    )
    expected = processor_pb2.MessageRequest(
        ref="1j9FpLxk3uxtm8tn@192.0.2.20",
        edge_port_ref="edgeport-01",
        method=processor_pb2.REGISTER,
        sender=processor_pb2.NetInterface(host="192.0.2.20", port=5060, transport=common_pb2.UDP),
        listening_points=LISTENING_POINTS,
        external_addrs=EXTERNAL_ADDRS,
        localnets=LOCALNETS,
        message=message,
        metadata={},
    )
    actual = convert(REGISTER, NetAddress("192.0.2.20", 5060, "UDP"))
    assert_same(actual, expected)
    assert actual.message.authorization.nonce_count == 10  # nc=0000000a is hex


# ==============================================================================================
# INVITE with SDP: rport/received in Via, Route list, Record-Route with a header parameter
# ==============================================================================================
SDP = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=sendrecv\r\n"
)
INVITE = (
    sip(
        "INVITE sip:bob@biloxi.example.com SIP/2.0\n"
        "Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport=62001;"
        "received=203.0.113.5\n"
        "Max-Forwards: 70\n"
        "Route: <sip:edge.example.com;lr>, <sip:core.example.com:5080;transport=tcp;lr>\n"
        "Record-Route: <sip:rr.atlanta.example.com;lr>;x-rr=1\n"
        "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\n"
        "To: Bob <sip:bob@biloxi.example.com>\n"
        "Call-ID: 3848276298220188511@atlanta.example.com\n"
        "CSeq: 1 INVITE\n"
        "Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\n"
        'Authorization: Digest username="alice", realm="atlanta.example.com", nonce="84a4cc6f3082121f32b42a",'
        ' uri="sip:bob@biloxi.example.com", response="42ce3cef44b22f50c6a6071bc8"\n'
        'Proxy-Authorization: Digest username="alice", realm="edge", nonce="e1", response="r1", nc=00000001\n'
        "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\n"
        "Supported: replaces, timer\n"
        "Content-Type: application/sdp\n"
        f"Content-Length: {len(SDP)}\n"
        "\n"
    )
    + SDP.encode()
)


def _alice_atlanta(tag: str) -> pb.From:
    return pb.From(
        address=pb.Address(
            uri=pb.SipURI(
                user="alice",
                user_password="",
                host="atlanta.example.com",
                transport_param="",
                m_addr_param="",
                method_param="",
                user_param="",
                ttl_param=-1,
                port=-1,
                lr_param=False,
                bnc_param=False,
                secure=False,
            ),
            display_name="Alice",
            wildcard=False,
        ),
        tag=tag,
        parameters={"tag": tag},
    )


def _bob_biloxi_uri() -> pb.SipURI:
    return pb.SipURI(
        user="bob",
        user_password="",
        host="biloxi.example.com",
        transport_param="",
        m_addr_param="",
        method_param="",
        user_param="",
        ttl_param=-1,
        port=-1,
        lr_param=False,
        bnc_param=False,
        secure=False,
    )


def _client_via() -> pb.Via:
    return pb.Via(
        host="client.atlanta.example.com",
        port=5060,
        branch="z9hG4bK74bf9",
        transport="TCP",
        r_port_flag=True,
        r_port=62001,
        received="203.0.113.5",
        m_addr="",
        ttl=-1,
    )


def test_invite_with_sdp() -> None:
    message = pb.SIPMessage(
        request_uri=_bob_biloxi_uri(),
        via=[_client_via()],
        max_forwards=pb.MaxForwards(max_forwards=70),
        route=[
            pb.Route(
                address=pb.Address(
                    uri=pb.SipURI(
                        user="",
                        user_password="",
                        host="edge.example.com",
                        transport_param="",
                        m_addr_param="",
                        method_param="",
                        user_param="",
                        ttl_param=-1,
                        port=-1,
                        lr_param=True,
                        bnc_param=False,
                        secure=False,
                    ),
                    display_name="",
                    wildcard=False,
                ),
                parameters={},
            ),
            pb.Route(
                address=pb.Address(
                    uri=pb.SipURI(
                        user="",
                        user_password="",
                        host="core.example.com",
                        transport_param="tcp",
                        m_addr_param="",
                        method_param="",
                        user_param="",
                        ttl_param=-1,
                        port=5080,
                        lr_param=True,
                        bnc_param=False,
                        secure=False,
                    ),
                    display_name="",
                    wildcard=False,
                ),
                parameters={},
            ),
        ],
        record_route=[
            pb.RecordRoute(
                address=pb.Address(
                    uri=pb.SipURI(
                        user="",
                        user_password="",
                        host="rr.atlanta.example.com",
                        transport_param="",
                        m_addr_param="",
                        method_param="",
                        user_param="",
                        ttl_param=-1,
                        port=-1,
                        lr_param=True,
                        bnc_param=False,
                        secure=False,
                    ),
                    display_name="",
                    wildcard=False,
                ),
                parameters={"x-rr": "1"},
            )
        ],
        **{
            "from": _alice_atlanta("9fxced76sl"),
            "to": pb.To(
                address=pb.Address(uri=_bob_biloxi_uri(), display_name="Bob", wildcard=False),
                tag="",
                parameters={},
            ),
        },
        call_id=pb.CallID(call_id="3848276298220188511@atlanta.example.com"),
        contact=pb.Contact(
            address=pb.Address(
                uri=pb.SipURI(
                    user="alice",
                    user_password="",
                    host="client.atlanta.example.com",
                    transport_param="tcp",
                    m_addr_param="",
                    method_param="",
                    user_param="",
                    ttl_param=-1,
                    port=-1,
                    lr_param=False,
                    bnc_param=False,
                    secure=False,
                ),
                display_name="",
                wildcard=False,
            ),
            expires=-1,
            q_value=-1.0,
        ),
        # no qop, no nc (RFC 2069 style): nonce_count is the -1 sentinel
        authorization=pb.Authorization(
            realm="atlanta.example.com",
            scheme="Digest",
            c_nonce="",
            nonce="84a4cc6f3082121f32b42a",
            algorithm="",
            qop="",
            opaque="",
            response="42ce3cef44b22f50c6a6071bc8",
            username="alice",
            uri="sip:bob@biloxi.example.com",
            method="",
            nonce_count=-1,
        ),
        content_length=pb.ContentLength(content_length=len(SDP)),
        extensions=[
            pb.Extension(name="CSeq", value="1 INVITE"),
            pb.Extension(
                name="Proxy-Authorization",
                value='Digest username="alice", realm="edge", nonce="e1", response="r1", nc=00000001',
            ),
            pb.Extension(name="Allow", value="INVITE"),
            pb.Extension(name="Allow", value="ACK"),
            pb.Extension(name="Allow", value="CANCEL"),
            pb.Extension(name="Allow", value="OPTIONS"),
            pb.Extension(name="Allow", value="BYE"),
            pb.Extension(name="Supported", value="replaces"),
            pb.Extension(name="Supported", value="timer"),
            pb.Extension(name="Content-Type", value="application/sdp"),
        ],
        reason_phrase="",
        body=SDP,
    )
    expected = processor_pb2.MessageRequest(
        ref="3848276298220188511@atlanta.example.com",
        edge_port_ref="edgeport-01",
        method=processor_pb2.INVITE,
        sender=processor_pb2.NetInterface(
            host="client.atlanta.example.com", port=5060, transport=common_pb2.TCP
        ),
        listening_points=LISTENING_POINTS,
        external_addrs=EXTERNAL_ADDRS,
        localnets=LOCALNETS,
        message=message,
    )
    actual = convert(INVITE, NetAddress("client.atlanta.example.com", 5060, "TCP"))
    assert_same(actual, expected)
    assert not actual.message.HasField("www_authenticate")
    assert not actual.message.HasField("expires")


# ==============================================================================================
# 401 challenge (WWW-Authenticate) relayed from downstream
# ==============================================================================================
CHALLENGE = sip(
    "SIP/2.0 401 Unauthorized\n"
    "Via: SIP/2.0/UDP 192.0.2.20:5060;rport=5060;branch=z9hG4bKnashds7;received=192.0.2.20\n"
    'From: "Alice Liddell" <sip:alice@sip.example.com>;tag=a73kszlfl\n'
    'To: "Alice Liddell" <sip:alice@sip.example.com>;tag=1410948204\n'
    "Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.20\n"
    "CSeq: 1 REGISTER\n"
    'WWW-Authenticate: Digest realm="sip.example.com", domain="sip:sip.example.com",'
    ' nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="1bb3a7f8", stale=TRUE, algorithm=MD5, qop="auth"\n'
    "Server: Downstream/2\n"
    "Content-Length: 0\n"
    "\n"
)


def test_401_challenge() -> None:
    alice_uri = pb.SipURI(
        user="alice",
        user_password="",
        host="sip.example.com",
        transport_param="",
        m_addr_param="",
        method_param="",
        user_param="",
        ttl_param=-1,
        port=-1,
        lr_param=False,
        bnc_param=False,
        secure=False,
    )
    alice = pb.Address(uri=alice_uri, display_name="Alice Liddell", wildcard=False)
    message = pb.SIPMessage(
        response_type=pb.UNAUTHORIZED,
        reason_phrase="Unauthorized",
        via=[
            pb.Via(
                host="192.0.2.20",
                port=5060,
                branch="z9hG4bKnashds7",
                transport="UDP",
                r_port_flag=True,
                r_port=5060,
                received="192.0.2.20",
                m_addr="",
                ttl=-1,
            )
        ],
        **{
            "from": pb.From(address=alice, tag="a73kszlfl", parameters={"tag": "a73kszlfl"}),
            "to": pb.To(address=alice, tag="1410948204", parameters={"tag": "1410948204"}),
        },
        call_id=pb.CallID(call_id="1j9FpLxk3uxtm8tn@192.0.2.20"),
        www_authenticate=pb.WWWAuthenticate(
            realm="sip.example.com",
            domain="sip:sip.example.com",
            scheme="Digest",
            nonce="ea9c8e88df84f1cec4341ae6cbe5a359",
            algorithm="MD5",
            qop="auth",
            opaque="1bb3a7f8",
            stale=True,
        ),
        content_length=pb.ContentLength(content_length=0),
        extensions=[
            pb.Extension(name="CSeq", value="1 REGISTER"),
            pb.Extension(name="Server", value="Downstream/2"),
        ],
        body="",
    )
    expected = processor_pb2.MessageRequest(
        ref="1j9FpLxk3uxtm8tn@192.0.2.20",
        edge_port_ref="edgeport-01",
        method=processor_pb2.REGISTER,  # a response carries its CSeq method
        sender=processor_pb2.NetInterface(host="198.51.100.20", port=5060, transport=common_pb2.UDP),
        listening_points=LISTENING_POINTS,
        external_addrs=EXTERNAL_ADDRS,
        localnets=LOCALNETS,
        message=message,
    )
    actual = convert(CHALLENGE, NetAddress("198.51.100.20", 5060, "UDP"))
    assert_same(actual, expected)
    assert actual.message.WhichOneof("message_type") == "response_type"
    assert not actual.message.HasField("max_forwards")  # only requests get the default of 70


# ==============================================================================================
# 200 OK to the INVITE: two Vias, Record-Route list, SDP answer
# ==============================================================================================
SDP_ANSWER = (
    "v=0\r\n"
    "o=bob 2808844564 2808844564 IN IP4 192.0.2.4\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.4\r\n"
    "t=0 0\r\n"
    "m=audio 3456 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)
OK_INVITE = (
    sip(
        "SIP/2.0 200 OK\n"
        "Via: SIP/2.0/UDP 10.100.0.10:5060;branch=z9hG4bK-edge-1\n"
        "Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport=62001;"
        "received=203.0.113.5\n"
        "Record-Route: <sip:rr.biloxi.example.com;lr>, <sip:rr.atlanta.example.com;lr>;x-rr=1\n"
        "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\n"
        "To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\n"
        "Call-ID: 3848276298220188511@atlanta.example.com\n"
        "CSeq: 1 INVITE\n"
        "Contact: <sip:bob@192.0.2.4>\n"
        "Content-Type: application/sdp\n"
        f"Content-Length: {len(SDP_ANSWER)}\n"
        "\n"
    )
    + SDP_ANSWER.encode()
)


def test_200_ok_to_invite() -> None:
    def rr(host: str, parameters: dict[str, str]) -> pb.RecordRoute:
        return pb.RecordRoute(
            address=pb.Address(
                uri=pb.SipURI(
                    user="",
                    user_password="",
                    host=host,
                    transport_param="",
                    m_addr_param="",
                    method_param="",
                    user_param="",
                    ttl_param=-1,
                    port=-1,
                    lr_param=True,
                    bnc_param=False,
                    secure=False,
                ),
                display_name="",
                wildcard=False,
            ),
            parameters=parameters,
        )

    message = pb.SIPMessage(
        response_type=pb.OK,
        reason_phrase="OK",
        via=[
            pb.Via(
                host="10.100.0.10",
                port=5060,
                branch="z9hG4bK-edge-1",
                transport="UDP",
                r_port_flag=False,
                r_port=-1,
                received="",
                m_addr="",
                ttl=-1,
            ),
            _client_via(),
        ],
        record_route=[rr("rr.biloxi.example.com", {}), rr("rr.atlanta.example.com", {"x-rr": "1"})],
        **{
            "from": _alice_atlanta("9fxced76sl"),
            "to": pb.To(
                address=pb.Address(uri=_bob_biloxi_uri(), display_name="Bob", wildcard=False),
                tag="8321234356",
                parameters={"tag": "8321234356"},
            ),
        },
        call_id=pb.CallID(call_id="3848276298220188511@atlanta.example.com"),
        contact=pb.Contact(
            address=pb.Address(
                uri=pb.SipURI(
                    user="bob",
                    user_password="",
                    host="192.0.2.4",
                    transport_param="",
                    m_addr_param="",
                    method_param="",
                    user_param="",
                    ttl_param=-1,
                    port=-1,
                    lr_param=False,
                    bnc_param=False,
                    secure=False,
                ),
                display_name="",
                wildcard=False,
            ),
            expires=-1,
            q_value=-1.0,
        ),
        content_length=pb.ContentLength(content_length=len(SDP_ANSWER)),
        extensions=[
            pb.Extension(name="CSeq", value="1 INVITE"),
            pb.Extension(name="Content-Type", value="application/sdp"),
        ],
        body=SDP_ANSWER,
    )
    expected = processor_pb2.MessageRequest(
        ref="3848276298220188511@atlanta.example.com",
        edge_port_ref="edgeport-01",
        method=processor_pb2.INVITE,
        sender=processor_pb2.NetInterface(host="192.0.2.4", port=5060, transport=common_pb2.UDP),
        listening_points=LISTENING_POINTS,
        external_addrs=EXTERNAL_ADDRS,
        localnets=LOCALNETS,
        message=message,
    )
    assert_same(convert(OK_INVITE, NetAddress("192.0.2.4", 5060, "UDP")), expected)


# ==============================================================================================
# BYE: Via maddr/ttl, Reason and an unknown header holding a comma list
# ==============================================================================================
BYE = sip(
    "BYE sip:alice@client.atlanta.example.com;transport=tcp SIP/2.0\n"
    "Via: SIP/2.0/UDP 192.0.2.4:5070;branch=z9hG4bKnashds10;ttl=16;maddr=239.255.255.1\n"
    "Max-Forwards: 69\n"
    "Route: <sip:rr.biloxi.example.com;lr>\n"
    "From: Bob <sip:bob@biloxi.example.com>;tag=8321234356\n"
    "To: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\n"
    "CSeq: 2 BYE\n"
    'Reason: Q.850;cause=16;text="Normal call clearing"\n'
    "X-Call-Ref: abc, def\n"
    "Content-Length: 0\n"
    "\n"
)


def test_bye() -> None:
    message = pb.SIPMessage(
        request_uri=pb.SipURI(
            user="alice",
            user_password="",
            host="client.atlanta.example.com",
            transport_param="tcp",
            m_addr_param="",
            method_param="",
            user_param="",
            ttl_param=-1,
            port=-1,
            lr_param=False,
            bnc_param=False,
            secure=False,
        ),
        via=[
            pb.Via(
                host="192.0.2.4",
                port=5070,
                branch="z9hG4bKnashds10",
                transport="UDP",
                r_port_flag=False,
                r_port=-1,
                received="",
                m_addr="239.255.255.1",
                ttl=16,
            )
        ],
        max_forwards=pb.MaxForwards(max_forwards=69),
        route=[
            pb.Route(
                address=pb.Address(
                    uri=pb.SipURI(
                        user="",
                        user_password="",
                        host="rr.biloxi.example.com",
                        transport_param="",
                        m_addr_param="",
                        method_param="",
                        user_param="",
                        ttl_param=-1,
                        port=-1,
                        lr_param=True,
                        bnc_param=False,
                        secure=False,
                    ),
                    display_name="",
                    wildcard=False,
                ),
                parameters={},
            )
        ],
        **{
            "from": pb.From(
                address=pb.Address(uri=_bob_biloxi_uri(), display_name="Bob", wildcard=False),
                tag="8321234356",
                parameters={"tag": "8321234356"},
            ),
            "to": pb.To(
                address=_alice_atlanta("9fxced76sl").address,
                tag="9fxced76sl",
                parameters={"tag": "9fxced76sl"},
            ),
        },
        call_id=pb.CallID(call_id="3848276298220188511@atlanta.example.com"),
        content_length=pb.ContentLength(content_length=0),
        extensions=[
            pb.Extension(name="CSeq", value="2 BYE"),
            pb.Extension(name="Reason", value='Q.850;cause=16;text="Normal call clearing"'),
            pb.Extension(name="X-Call-Ref", value="abc"),
            pb.Extension(name="X-Call-Ref", value="def"),
        ],
        body="",
    )
    expected = processor_pb2.MessageRequest(
        ref="3848276298220188511@atlanta.example.com",
        edge_port_ref="edgeport-01",
        method=processor_pb2.BYE,
        sender=processor_pb2.NetInterface(host="192.0.2.4", port=5070, transport=common_pb2.UDP),
        listening_points=LISTENING_POINTS,
        external_addrs=EXTERNAL_ADDRS,
        localnets=LOCALNETS,
        message=message,
    )
    actual = convert(BYE, NetAddress("192.0.2.4", 5070, "UDP"))
    assert_same(actual, expected)
    assert not actual.message.HasField("contact")


# ==============================================================================================
# CANCEL, written with compact header names
# ==============================================================================================
CANCEL = sip(
    "CANCEL sip:bob@biloxi.example.com SIP/2.0\n"
    "v: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport=62001;received=203.0.113.5\n"
    "Max-Forwards: 70\n"
    "f: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\n"
    "t: Bob <sip:bob@biloxi.example.com>\n"
    "i: 3848276298220188511@atlanta.example.com\n"
    "CSeq: 1 CANCEL\n"
    "l: 0\n"
    "\n"
)


def test_cancel() -> None:
    message = pb.SIPMessage(
        request_uri=_bob_biloxi_uri(),
        via=[_client_via()],
        max_forwards=pb.MaxForwards(max_forwards=70),
        **{
            "from": _alice_atlanta("9fxced76sl"),
            "to": pb.To(
                address=pb.Address(uri=_bob_biloxi_uri(), display_name="Bob", wildcard=False),
                tag="",
                parameters={},
            ),
        },
        call_id=pb.CallID(call_id="3848276298220188511@atlanta.example.com"),
        content_length=pb.ContentLength(content_length=0),
        extensions=[pb.Extension(name="CSeq", value="1 CANCEL")],
        body="",
    )
    expected = processor_pb2.MessageRequest(
        ref="3848276298220188511@atlanta.example.com",
        edge_port_ref="edgeport-01",
        method=processor_pb2.CANCEL,
        sender=processor_pb2.NetInterface(
            host="client.atlanta.example.com", port=5060, transport=common_pb2.TCP
        ),
        listening_points=LISTENING_POINTS,
        external_addrs=EXTERNAL_ADDRS,
        localnets=LOCALNETS,
        message=message,
    )
    assert_same(convert(CANCEL, NetAddress("client.atlanta.example.com", 5060, "TCP")), expected)


# ==============================================================================================
# ACK over WSS: sips URIs, user password, user/method/maddr/ttl/bnc URI parameters, no Via port
# ==============================================================================================
ACK = sip(
    "ACK sips:bob@192.0.2.4:5061;transport=ws;user=phone SIP/2.0\n"
    "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKack1;rport=49152;received=198.51.100.30\n"
    "Max-Forwards: 70\n"
    "Route: <sip:rr.biloxi.example.com;lr;bnc;ttl=5;method=INVITE;maddr=10.0.0.1>\n"
    'From: "Alice \\"A\\" L" <sips:alice:pw@atlanta.example.com>;tag=9fxced76sl\n'
    "To: <sips:bob@biloxi.example.com>;tag=8321234356\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\n"
    "CSeq: 1 ACK\n"
    "Content-Length: 0\n"
    "\n"
)


def test_ack() -> None:
    message = pb.SIPMessage(
        request_uri=pb.SipURI(
            user="bob",
            user_password="",
            host="192.0.2.4",
            transport_param="ws",
            m_addr_param="",
            method_param="",
            user_param="phone",
            ttl_param=-1,
            port=5061,
            lr_param=False,
            bnc_param=False,
            secure=True,
        ),
        via=[
            pb.Via(
                host="df7jal23ls0d.invalid",
                port=-1,
                branch="z9hG4bKack1",
                transport="WSS",
                r_port_flag=True,
                r_port=49152,
                received="198.51.100.30",
                m_addr="",
                ttl=-1,
            )
        ],
        max_forwards=pb.MaxForwards(max_forwards=70),
        route=[
            pb.Route(
                address=pb.Address(
                    uri=pb.SipURI(
                        user="",
                        user_password="",
                        host="rr.biloxi.example.com",
                        transport_param="",
                        m_addr_param="10.0.0.1",
                        method_param="INVITE",
                        user_param="",
                        ttl_param=5,
                        port=-1,
                        lr_param=True,
                        bnc_param=True,
                        secure=False,
                    ),
                    display_name="",
                    wildcard=False,
                ),
                parameters={},
            )
        ],
        **{
            "from": pb.From(
                address=pb.Address(
                    uri=pb.SipURI(
                        user="alice",
                        user_password="pw",
                        host="atlanta.example.com",
                        transport_param="",
                        m_addr_param="",
                        method_param="",
                        user_param="",
                        ttl_param=-1,
                        port=-1,
                        lr_param=False,
                        bnc_param=False,
                        secure=True,
                    ),
                    display_name='Alice "A" L',
                    wildcard=False,
                ),
                tag="9fxced76sl",
                parameters={"tag": "9fxced76sl"},
            ),
            "to": pb.To(
                address=pb.Address(
                    uri=pb.SipURI(
                        user="bob",
                        user_password="",
                        host="biloxi.example.com",
                        transport_param="",
                        m_addr_param="",
                        method_param="",
                        user_param="",
                        ttl_param=-1,
                        port=-1,
                        lr_param=False,
                        bnc_param=False,
                        secure=True,
                    ),
                    display_name="",
                    wildcard=False,
                ),
                tag="8321234356",
                parameters={"tag": "8321234356"},
            ),
        },
        call_id=pb.CallID(call_id="3848276298220188511@atlanta.example.com"),
        content_length=pb.ContentLength(content_length=0),
        extensions=[pb.Extension(name="CSeq", value="1 ACK")],
        body="",
    )
    expected = processor_pb2.MessageRequest(
        ref="3848276298220188511@atlanta.example.com",
        edge_port_ref="edgeport-01",
        method=processor_pb2.ACK,
        sender=processor_pb2.NetInterface(host="df7jal23ls0d.invalid", port=-1, transport=common_pb2.WSS),
        listening_points=LISTENING_POINTS,
        external_addrs=EXTERNAL_ADDRS,
        localnets=LOCALNETS,
        message=message,
    )
    assert_same(convert(ACK, NetAddress("df7jal23ls0d.invalid", -1, "WSS")), expected)


# ==============================================================================================
# REGISTER with a wildcard Contact (de-registration of every binding)
# ==============================================================================================
def test_register_wildcard_contact() -> None:
    data = sip(
        "REGISTER sip:sip.example.com SIP/2.0\n"
        "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKunreg\n"
        "Max-Forwards: 70\n"
        "From: <sip:alice@sip.example.com>;tag=u1\n"
        "To: <sip:alice@sip.example.com>\n"
        "Call-ID: unreg-1\n"
        "CSeq: 3 REGISTER\n"
        "Contact: *\n"
        "Expires: 0\n"
        "Content-Length: 0\n"
        "\n"
    )
    contact = convert(data, NetAddress("192.0.2.20", 5060, "UDP")).message.contact
    assert contact == pb.Contact(address=pb.Address(wildcard=True), expires=-1, q_value=-1.0)
    message = convert(data, NetAddress("192.0.2.20", 5060, "UDP")).message
    assert message.HasField("expires") and message.expires == pb.Expires(expires=0)
