from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResponseType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[ResponseType]
    TRYING: _ClassVar[ResponseType]
    RINGING: _ClassVar[ResponseType]
    CALL_IS_BEING_FORWARDED: _ClassVar[ResponseType]
    QUEUED: _ClassVar[ResponseType]
    SESSION_PROGRESS: _ClassVar[ResponseType]
    SUCCESS: _ClassVar[ResponseType]
    OK: _ClassVar[ResponseType]
    ACCEPTED: _ClassVar[ResponseType]
    REDIRECTION: _ClassVar[ResponseType]
    MULTIPLE_CHOICES: _ClassVar[ResponseType]
    MOVED_PERMANENTLY: _ClassVar[ResponseType]
    MOVED_TEMPORARILY: _ClassVar[ResponseType]
    USE_PROXY: _ClassVar[ResponseType]
    ALTERNATIVE_SERVICE: _ClassVar[ResponseType]
    CLIENT_ERROR: _ClassVar[ResponseType]
    BAD_REQUEST: _ClassVar[ResponseType]
    UNAUTHORIZED: _ClassVar[ResponseType]
    PAYMENT_REQUIRED: _ClassVar[ResponseType]
    FORBIDDEN: _ClassVar[ResponseType]
    NOT_FOUND: _ClassVar[ResponseType]
    METHOD_NOT_ALLOWED: _ClassVar[ResponseType]
    NOT_ACCEPTABLE: _ClassVar[ResponseType]
    PROXY_AUTHENTICATION_REQUIRED: _ClassVar[ResponseType]
    REQUEST_TIMEOUT: _ClassVar[ResponseType]
    GONE: _ClassVar[ResponseType]
    REQUEST_ENTITY_TOO_LARGE: _ClassVar[ResponseType]
    REQUEST_URI_TOO_LONG: _ClassVar[ResponseType]
    UNSUPPORTED_MEDIA_TYPE: _ClassVar[ResponseType]
    UNSUPPORTED_URI_SCHEME: _ClassVar[ResponseType]
    BAD_EXTENSION: _ClassVar[ResponseType]
    EXTENSION_REQUIRED: _ClassVar[ResponseType]
    INTERVAL_TOO_BRIEF: _ClassVar[ResponseType]
    TEMPORARILY_UNAVAILABLE: _ClassVar[ResponseType]
    CALL_OR_TRANSACTION_DOES_NOT_EXIST: _ClassVar[ResponseType]
    LOOP_DETECTED: _ClassVar[ResponseType]
    TOO_MANY_HOPS: _ClassVar[ResponseType]
    ADDRESS_INCOMPLETE: _ClassVar[ResponseType]
    AMBIGUOUS: _ClassVar[ResponseType]
    BUSY_HERE: _ClassVar[ResponseType]
    REQUEST_TERMINATED: _ClassVar[ResponseType]
    NOT_ACCEPTABLE_HERE: _ClassVar[ResponseType]
    BAD_EVENT: _ClassVar[ResponseType]
    REQUEST_PENDING: _ClassVar[ResponseType]
    UNDECIPHERABLE: _ClassVar[ResponseType]
    SERVER_ERROR: _ClassVar[ResponseType]
    SERVER_INTERNAL_ERROR: _ClassVar[ResponseType]
    NOT_IMPLEMENTED: _ClassVar[ResponseType]
    BAD_GATEWAY: _ClassVar[ResponseType]
    SERVICE_UNAVAILABLE: _ClassVar[ResponseType]
    SERVER_TIMEOUT: _ClassVar[ResponseType]
    VERSION_NOT_SUPPORTED: _ClassVar[ResponseType]
    MESSAGE_TOO_LARGE: _ClassVar[ResponseType]
    GLOBAL_ERROR: _ClassVar[ResponseType]
    BUSY_EVERYWHERE: _ClassVar[ResponseType]
    DECLINE: _ClassVar[ResponseType]
    DOES_NOT_EXIST_ANYWHERE: _ClassVar[ResponseType]
    SESSION_NOT_ACCEPTABLE: _ClassVar[ResponseType]
UNKNOWN: ResponseType
TRYING: ResponseType
RINGING: ResponseType
CALL_IS_BEING_FORWARDED: ResponseType
QUEUED: ResponseType
SESSION_PROGRESS: ResponseType
SUCCESS: ResponseType
OK: ResponseType
ACCEPTED: ResponseType
REDIRECTION: ResponseType
MULTIPLE_CHOICES: ResponseType
MOVED_PERMANENTLY: ResponseType
MOVED_TEMPORARILY: ResponseType
USE_PROXY: ResponseType
ALTERNATIVE_SERVICE: ResponseType
CLIENT_ERROR: ResponseType
BAD_REQUEST: ResponseType
UNAUTHORIZED: ResponseType
PAYMENT_REQUIRED: ResponseType
FORBIDDEN: ResponseType
NOT_FOUND: ResponseType
METHOD_NOT_ALLOWED: ResponseType
NOT_ACCEPTABLE: ResponseType
PROXY_AUTHENTICATION_REQUIRED: ResponseType
REQUEST_TIMEOUT: ResponseType
GONE: ResponseType
REQUEST_ENTITY_TOO_LARGE: ResponseType
REQUEST_URI_TOO_LONG: ResponseType
UNSUPPORTED_MEDIA_TYPE: ResponseType
UNSUPPORTED_URI_SCHEME: ResponseType
BAD_EXTENSION: ResponseType
EXTENSION_REQUIRED: ResponseType
INTERVAL_TOO_BRIEF: ResponseType
TEMPORARILY_UNAVAILABLE: ResponseType
CALL_OR_TRANSACTION_DOES_NOT_EXIST: ResponseType
LOOP_DETECTED: ResponseType
TOO_MANY_HOPS: ResponseType
ADDRESS_INCOMPLETE: ResponseType
AMBIGUOUS: ResponseType
BUSY_HERE: ResponseType
REQUEST_TERMINATED: ResponseType
NOT_ACCEPTABLE_HERE: ResponseType
BAD_EVENT: ResponseType
REQUEST_PENDING: ResponseType
UNDECIPHERABLE: ResponseType
SERVER_ERROR: ResponseType
SERVER_INTERNAL_ERROR: ResponseType
NOT_IMPLEMENTED: ResponseType
BAD_GATEWAY: ResponseType
SERVICE_UNAVAILABLE: ResponseType
SERVER_TIMEOUT: ResponseType
VERSION_NOT_SUPPORTED: ResponseType
MESSAGE_TOO_LARGE: ResponseType
GLOBAL_ERROR: ResponseType
BUSY_EVERYWHERE: ResponseType
DECLINE: ResponseType
DOES_NOT_EXIST_ANYWHERE: ResponseType
SESSION_NOT_ACCEPTABLE: ResponseType

class WWWAuthenticate(_message.Message):
    __slots__ = ("realm", "domain", "scheme", "nonce", "algorithm", "qop", "opaque", "stale")
    REALM_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    QOP_FIELD_NUMBER: _ClassVar[int]
    OPAQUE_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    realm: str
    domain: str
    scheme: str
    nonce: str
    algorithm: str
    qop: str
    opaque: str
    stale: bool
    def __init__(self, realm: _Optional[str] = ..., domain: _Optional[str] = ..., scheme: _Optional[str] = ..., nonce: _Optional[str] = ..., algorithm: _Optional[str] = ..., qop: _Optional[str] = ..., opaque: _Optional[str] = ..., stale: _Optional[bool] = ...) -> None: ...

class Authorization(_message.Message):
    __slots__ = ("realm", "scheme", "c_nonce", "nonce", "algorithm", "qop", "opaque", "response", "username", "uri", "method", "nonce_count")
    REALM_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    C_NONCE_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    QOP_FIELD_NUMBER: _ClassVar[int]
    OPAQUE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    NONCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    realm: str
    scheme: str
    c_nonce: str
    nonce: str
    algorithm: str
    qop: str
    opaque: str
    response: str
    username: str
    uri: str
    method: str
    nonce_count: int
    def __init__(self, realm: _Optional[str] = ..., scheme: _Optional[str] = ..., c_nonce: _Optional[str] = ..., nonce: _Optional[str] = ..., algorithm: _Optional[str] = ..., qop: _Optional[str] = ..., opaque: _Optional[str] = ..., response: _Optional[str] = ..., username: _Optional[str] = ..., uri: _Optional[str] = ..., method: _Optional[str] = ..., nonce_count: _Optional[int] = ...) -> None: ...

class CallID(_message.Message):
    __slots__ = ("call_id",)
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    def __init__(self, call_id: _Optional[str] = ...) -> None: ...

class ContentLength(_message.Message):
    __slots__ = ("content_length",)
    CONTENT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    content_length: int
    def __init__(self, content_length: _Optional[int] = ...) -> None: ...

class Extension(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Via(_message.Message):
    __slots__ = ("host", "port", "branch", "transport", "r_port_flag", "r_port", "received", "m_addr", "ttl")
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    R_PORT_FLAG_FIELD_NUMBER: _ClassVar[int]
    R_PORT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    M_ADDR_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    host: str
    port: int
    branch: str
    transport: str
    r_port_flag: bool
    r_port: int
    received: str
    m_addr: str
    ttl: int
    def __init__(self, host: _Optional[str] = ..., port: _Optional[int] = ..., branch: _Optional[str] = ..., transport: _Optional[str] = ..., r_port_flag: _Optional[bool] = ..., r_port: _Optional[int] = ..., received: _Optional[str] = ..., m_addr: _Optional[str] = ..., ttl: _Optional[int] = ...) -> None: ...

class SipURI(_message.Message):
    __slots__ = ("user", "user_password", "host", "transport_param", "m_addr_param", "method_param", "user_param", "ttl_param", "port", "lr_param", "bnc_param", "secure")
    USER_FIELD_NUMBER: _ClassVar[int]
    USER_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_PARAM_FIELD_NUMBER: _ClassVar[int]
    M_ADDR_PARAM_FIELD_NUMBER: _ClassVar[int]
    METHOD_PARAM_FIELD_NUMBER: _ClassVar[int]
    USER_PARAM_FIELD_NUMBER: _ClassVar[int]
    TTL_PARAM_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    LR_PARAM_FIELD_NUMBER: _ClassVar[int]
    BNC_PARAM_FIELD_NUMBER: _ClassVar[int]
    SECURE_FIELD_NUMBER: _ClassVar[int]
    user: str
    user_password: str
    host: str
    transport_param: str
    m_addr_param: str
    method_param: str
    user_param: str
    ttl_param: int
    port: int
    lr_param: bool
    bnc_param: bool
    secure: bool
    def __init__(self, user: _Optional[str] = ..., user_password: _Optional[str] = ..., host: _Optional[str] = ..., transport_param: _Optional[str] = ..., m_addr_param: _Optional[str] = ..., method_param: _Optional[str] = ..., user_param: _Optional[str] = ..., ttl_param: _Optional[int] = ..., port: _Optional[int] = ..., lr_param: _Optional[bool] = ..., bnc_param: _Optional[bool] = ..., secure: _Optional[bool] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("uri", "display_name", "wildcard")
    URI_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    WILDCARD_FIELD_NUMBER: _ClassVar[int]
    uri: SipURI
    display_name: str
    wildcard: bool
    def __init__(self, uri: _Optional[_Union[SipURI, _Mapping]] = ..., display_name: _Optional[str] = ..., wildcard: _Optional[bool] = ...) -> None: ...

class MaxForwards(_message.Message):
    __slots__ = ("max_forwards",)
    MAX_FORWARDS_FIELD_NUMBER: _ClassVar[int]
    max_forwards: int
    def __init__(self, max_forwards: _Optional[int] = ...) -> None: ...

class Route(_message.Message):
    __slots__ = ("address", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    address: Address
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, address: _Optional[_Union[Address, _Mapping]] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RecordRoute(_message.Message):
    __slots__ = ("address", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    address: Address
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, address: _Optional[_Union[Address, _Mapping]] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class From(_message.Message):
    __slots__ = ("address", "tag", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    address: Address
    tag: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, address: _Optional[_Union[Address, _Mapping]] = ..., tag: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class To(_message.Message):
    __slots__ = ("address", "tag", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    address: Address
    tag: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, address: _Optional[_Union[Address, _Mapping]] = ..., tag: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Contact(_message.Message):
    __slots__ = ("address", "expires", "q_value")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    Q_VALUE_FIELD_NUMBER: _ClassVar[int]
    address: Address
    expires: int
    q_value: float
    def __init__(self, address: _Optional[_Union[Address, _Mapping]] = ..., expires: _Optional[int] = ..., q_value: _Optional[float] = ...) -> None: ...

class Expires(_message.Message):
    __slots__ = ("expires",)
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    expires: int
    def __init__(self, expires: _Optional[int] = ...) -> None: ...

class SIPMessage(_message.Message):
    __slots__ = ("response_type", "request_uri", "to", "contact", "call_id", "content_length", "expires", "www_authenticate", "max_forwards", "authorization", "extensions", "via", "route", "record_route", "reason_phrase", "body")
    RESPONSE_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_URI_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    WWW_AUTHENTICATE_FIELD_NUMBER: _ClassVar[int]
    MAX_FORWARDS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    RECORD_ROUTE_FIELD_NUMBER: _ClassVar[int]
    REASON_PHRASE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    response_type: ResponseType
    request_uri: SipURI
    to: To
    contact: Contact
    call_id: CallID
    content_length: ContentLength
    expires: Expires
    www_authenticate: WWWAuthenticate
    max_forwards: MaxForwards
    authorization: Authorization
    extensions: _containers.RepeatedCompositeFieldContainer[Extension]
    via: _containers.RepeatedCompositeFieldContainer[Via]
    route: _containers.RepeatedCompositeFieldContainer[Route]
    record_route: _containers.RepeatedCompositeFieldContainer[RecordRoute]
    reason_phrase: str
    body: str
    def __init__(self, response_type: _Optional[_Union[ResponseType, str]] = ..., request_uri: _Optional[_Union[SipURI, _Mapping]] = ..., to: _Optional[_Union[To, _Mapping]] = ..., contact: _Optional[_Union[Contact, _Mapping]] = ..., call_id: _Optional[_Union[CallID, _Mapping]] = ..., content_length: _Optional[_Union[ContentLength, _Mapping]] = ..., expires: _Optional[_Union[Expires, _Mapping]] = ..., www_authenticate: _Optional[_Union[WWWAuthenticate, _Mapping]] = ..., max_forwards: _Optional[_Union[MaxForwards, _Mapping]] = ..., authorization: _Optional[_Union[Authorization, _Mapping]] = ..., extensions: _Optional[_Iterable[_Union[Extension, _Mapping]]] = ..., via: _Optional[_Iterable[_Union[Via, _Mapping]]] = ..., route: _Optional[_Iterable[_Union[Route, _Mapping]]] = ..., record_route: _Optional[_Iterable[_Union[RecordRoute, _Mapping]]] = ..., reason_phrase: _Optional[str] = ..., body: _Optional[str] = ..., **kwargs) -> None: ...
