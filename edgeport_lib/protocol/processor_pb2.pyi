from . import common_pb2 as _common_pb2
from . import sipmessage_pb2 as _sipmessage_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Method(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[Method]
    REGISTER: _ClassVar[Method]
    INVITE: _ClassVar[Method]
    MESSAGE: _ClassVar[Method]
    PUBLISH: _ClassVar[Method]
    NOTIFY: _ClassVar[Method]
    SUBSCRIBE: _ClassVar[Method]
    ACK: _ClassVar[Method]
    BYE: _ClassVar[Method]
    CANCEL: _ClassVar[Method]
    OPTIONS: _ClassVar[Method]
    PRACK: _ClassVar[Method]
    INFO: _ClassVar[Method]
    REFER: _ClassVar[Method]
    UPDATE: _ClassVar[Method]
UNKNOWN: Method
REGISTER: Method
INVITE: Method
MESSAGE: Method
PUBLISH: Method
NOTIFY: Method
SUBSCRIBE: Method
ACK: Method
BYE: Method
CANCEL: Method
OPTIONS: Method
PRACK: Method
INFO: Method
REFER: Method
UPDATE: Method

class NetInterface(_message.Message):
    __slots__ = ("host", "port", "transport")
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    host: str
    port: int
    transport: _common_pb2.Transport
    def __init__(self, host: _Optional[str] = ..., port: _Optional[int] = ..., transport: _Optional[_Union[_common_pb2.Transport, str]] = ...) -> None: ...

class MessageRequest(_message.Message):
    __slots__ = ("ref", "edge_port_ref", "method", "sender", "listening_points", "external_addrs", "localnets", "message", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REF_FIELD_NUMBER: _ClassVar[int]
    EDGE_PORT_REF_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    LISTENING_POINTS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ADDRS_FIELD_NUMBER: _ClassVar[int]
    LOCALNETS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ref: str
    edge_port_ref: str
    method: Method
    sender: NetInterface
    listening_points: _containers.RepeatedCompositeFieldContainer[NetInterface]
    external_addrs: _containers.RepeatedScalarFieldContainer[str]
    localnets: _containers.RepeatedScalarFieldContainer[str]
    message: _sipmessage_pb2.SIPMessage
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, ref: _Optional[str] = ..., edge_port_ref: _Optional[str] = ..., method: _Optional[_Union[Method, str]] = ..., sender: _Optional[_Union[NetInterface, _Mapping]] = ..., listening_points: _Optional[_Iterable[_Union[NetInterface, _Mapping]]] = ..., external_addrs: _Optional[_Iterable[str]] = ..., localnets: _Optional[_Iterable[str]] = ..., message: _Optional[_Union[_sipmessage_pb2.SIPMessage, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class MessageResponse(_message.Message):
    __slots__ = ("sender", "message", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SENDER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    sender: NetInterface
    message: _sipmessage_pb2.SIPMessage
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, sender: _Optional[_Union[NetInterface, _Mapping]] = ..., message: _Optional[_Union[_sipmessage_pb2.SIPMessage, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...
