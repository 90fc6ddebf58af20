"""SIP <-> Routr v2 protobuf conversion (wire contract sections 2 to 5)."""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol import common_pb2, processor_pb2
from .from_proto import GATEWAY_AUTH, InvalidProcessorMessage, format_uri, from_protobuf, local_response
from .response_types import response_type_for, status_for
from .to_proto import ABSENT, Converted, to_protobuf

__all__ = [
    "ABSENT", "GATEWAY_AUTH", "Converted", "EdgeInfo", "InvalidProcessorMessage", "NetAddress",
    "format_uri", "from_protobuf", "local_response", "message_request", "response_type_for",
    "status_for", "to_protobuf", "transport_enum",
]

_TRANSPORTS = {"UDP": common_pb2.UDP, "TCP": common_pb2.TCP, "TLS": common_pb2.TLS,
               "SCTP": common_pb2.SCTP, "WS": common_pb2.WS, "WSS": common_pb2.WSS}


@dataclass(frozen=True, slots=True)
class NetAddress:
    host: str
    port: int  # ABSENT (-1) when unknown
    transport: str  # upper case: UDP, TCP, TLS, WS, WSS


@dataclass(frozen=True, slots=True)
class EdgeInfo:
    """What every MessageRequest says about this EdgePort (contract section 4)."""

    edge_port_ref: str
    listening_points: tuple[NetAddress, ...]
    external_addrs: tuple[str, ...] = ()
    localnets: tuple[str, ...] = ()


def transport_enum(transport: str) -> int:
    return _TRANSPORTS.get(transport.upper(), common_pb2.UDP)


def _net_interface(addr: NetAddress) -> processor_pb2.NetInterface:
    transport = transport_enum(addr.transport)
    return processor_pb2.NetInterface(host=addr.host, port=addr.port, transport=transport)


def message_request(converted: Converted, sender: NetAddress, edge: EdgeInfo) -> processor_pb2.MessageRequest:
    """The MessageRequest for a converted message; `sender` per contract section 4."""
    msg = converted.message
    method = msg.method if msg.is_request else msg.cseq[1]
    request = processor_pb2.MessageRequest(
        ref=msg.call_id,
        edge_port_ref=edge.edge_port_ref,
        method=processor_pb2.Method.Value(method) if method in processor_pb2.Method.keys() else 0,
        sender=_net_interface(sender),
        listening_points=[_net_interface(lp) for lp in edge.listening_points],
        external_addrs=edge.external_addrs,
        localnets=edge.localnets,
    )
    request.message.CopyFrom(converted.pb)
    return request
