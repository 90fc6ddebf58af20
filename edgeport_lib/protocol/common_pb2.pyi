from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class Transport(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UDP: _ClassVar[Transport]
    TCP: _ClassVar[Transport]
    TLS: _ClassVar[Transport]
    SCTP: _ClassVar[Transport]
    WS: _ClassVar[Transport]
    WSS: _ClassVar[Transport]
UDP: Transport
TCP: Transport
TLS: Transport
SCTP: Transport
WS: Transport
WSS: Transport
