"""Status code <-> ResponseType (wire contract section 1)."""

from __future__ import annotations

from ..protocol import sipmessage_pb2 as pb

_NAMED = {
    100: pb.TRYING, 180: pb.RINGING, 181: pb.CALL_IS_BEING_FORWARDED, 182: pb.QUEUED,
    183: pb.SESSION_PROGRESS, 200: pb.OK, 202: pb.ACCEPTED, 300: pb.MULTIPLE_CHOICES,
    301: pb.MOVED_PERMANENTLY, 302: pb.MOVED_TEMPORARILY, 305: pb.USE_PROXY,
    380: pb.ALTERNATIVE_SERVICE, 400: pb.BAD_REQUEST, 401: pb.UNAUTHORIZED,
    402: pb.PAYMENT_REQUIRED, 403: pb.FORBIDDEN, 404: pb.NOT_FOUND, 405: pb.METHOD_NOT_ALLOWED,
    406: pb.NOT_ACCEPTABLE, 407: pb.PROXY_AUTHENTICATION_REQUIRED, 408: pb.REQUEST_TIMEOUT,
    410: pb.GONE, 413: pb.REQUEST_ENTITY_TOO_LARGE, 414: pb.REQUEST_URI_TOO_LONG,
    415: pb.UNSUPPORTED_MEDIA_TYPE, 416: pb.UNSUPPORTED_URI_SCHEME, 420: pb.BAD_EXTENSION,
    421: pb.EXTENSION_REQUIRED, 423: pb.INTERVAL_TOO_BRIEF, 480: pb.TEMPORARILY_UNAVAILABLE,
    481: pb.CALL_OR_TRANSACTION_DOES_NOT_EXIST, 482: pb.LOOP_DETECTED, 483: pb.TOO_MANY_HOPS,
    484: pb.ADDRESS_INCOMPLETE, 485: pb.AMBIGUOUS, 486: pb.BUSY_HERE, 487: pb.REQUEST_TERMINATED,
    488: pb.NOT_ACCEPTABLE_HERE, 489: pb.BAD_EVENT, 491: pb.REQUEST_PENDING,
    493: pb.UNDECIPHERABLE, 500: pb.SERVER_INTERNAL_ERROR, 501: pb.NOT_IMPLEMENTED,
    502: pb.BAD_GATEWAY, 503: pb.SERVICE_UNAVAILABLE, 504: pb.SERVER_TIMEOUT,
    505: pb.VERSION_NOT_SUPPORTED, 513: pb.MESSAGE_TOO_LARGE, 600: pb.BUSY_EVERYWHERE,
    603: pb.DECLINE, 604: pb.DOES_NOT_EXIST_ANYWHERE, 606: pb.SESSION_NOT_ACCEPTABLE,
}
# "Some code of that class" names, for codes without a name of their own.
_CLASS_NAMES = {2: pb.SUCCESS, 3: pb.REDIRECTION, 4: pb.CLIENT_ERROR, 5: pb.SERVER_ERROR, 6: pb.GLOBAL_ERROR}
_CODES = {value: code for code, value in _NAMED.items()}
_CODES.update({value: cls * 100 for cls, value in _CLASS_NAMES.items()})


def response_type_for(status: int) -> int:
    """The ResponseType of a status code: its own name, else its class name (1xx: UNKNOWN)."""
    return _NAMED.get(status) or _CLASS_NAMES.get(status // 100, pb.UNKNOWN)


def status_for(response_type: int) -> int | None:
    """The status code a ResponseType stands for (class names give x00); None for UNKNOWN."""
    return _CODES.get(response_type)
