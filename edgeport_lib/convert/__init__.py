"""SIP <-> Routr v2 protobuf conversion (wire contract sections 2 to 5)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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


@dataclass(frozen=True, slots=True, eq=False)
class EdgeInfo:
    """What every MessageRequest says about this EdgePort (contract section 4).

    Compared and hashed by identity (eq=False): _edge_fields looks it up for every message, and
    hashing its fields each time cost more than the lookup saves."""

    edge_port_ref: str
    listening_points: tuple[NetAddress, ...]
    external_addrs: tuple[str, ...] = ()
    localnets: tuple[str, ...] = ()


def transport_enum(transport: str) -> int:
    return _TRANSPORTS.get(transport.upper(), common_pb2.UDP)


def _fill_net_interface(target: processor_pb2.NetInterface, addr: NetAddress) -> None:
    target.host, target.port, target.transport = addr.host, addr.port, transport_enum(addr.transport)


_METHODS = {name: value for name, value in processor_pb2.Method.items() if value}


def message_request(converted: Converted, sender: NetAddress, edge: EdgeInfo) -> processor_pb2.MessageRequest:
    """The MessageRequest for a converted message; `sender` per contract section 4.

    It is `converted.request`, filled in (its message is already `converted.pb`).
    """
    msg = converted.message
    request = converted.request
    request.ref = msg.call_id
    request.method = _METHODS.get(msg.method if msg.is_request else msg.cseq[1], 0)
    _fill_net_interface(request.sender, sender)
    if request.listening_points:  # sent before (auth on behalf): set anew
        for name in _EDGE_FIELDS:
            request.ClearField(name)
    request.MergeFromString(_edge_fields(edge))
    return request


_EDGE_FIELDS = ("edge_port_ref", "listening_points", "external_addrs", "localnets")


@lru_cache(maxsize=16)
def _edge_fields(edge: EdgeInfo) -> bytes:
    """What every MessageRequest says about this EdgePort, encoded once."""
    request = processor_pb2.MessageRequest(
        edge_port_ref=edge.edge_port_ref, external_addrs=edge.external_addrs, localnets=edge.localnets)
    for point in edge.listening_points:
        _fill_net_interface(request.listening_points.add(), point)
    return request.SerializeToString()
