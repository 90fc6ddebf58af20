"""REGISTER handling and the binding store (one binding per address of record)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..protocol import common_pb2, sipmessage_pb2
from .messages import MessageRequest, MessageResponse, ResponseType, SipURI, answer

DEFAULT_EXPIRES = 3600


@dataclass(frozen=True)
class Binding:
    aor: str  # user@host of the REGISTER's To
    contact: sipmessage_pb2.Address  # the Contact as registered
    host: str  # where the endpoint really is: received, else sent-by host
    port: int  # rport, else sent-by port; -1 when unknown
    transport: str  # "UDP", "TCP", "WS"...
    expires_at: float

    def relocate(self, uri: SipURI) -> None:
        """Point ``uri`` at where the endpoint really is (it may be behind NAT or on WebSocket)."""
        uri.host, uri.port, uri.transport_param = self.host, self.port, self.transport.lower()
        uri.m_addr_param = ""


def aor_of(uri: SipURI) -> str:
    return f"{uri.user}@{uri.host}"


def where_is(request: MessageRequest) -> tuple[str, int, str]:
    """Host, port and transport the request really came from.

    The EdgePort fills ``sender`` from the top Via after received/rport stamping; the
    Via's ``received`` and ``r_port`` win when present.
    """
    via = request.message.via[0] if request.message.via else sipmessage_pb2.Via(port=-1, r_port=-1)
    sender = request.sender
    host = via.received or sender.host or via.host
    port = via.r_port if via.r_port > 0 else sender.port if sender.port > 0 else via.port
    if request.HasField("sender"):
        transport = common_pb2.Transport.Name(sender.transport)
    else:
        transport = via.transport.upper() or "UDP"
    return host, port if port > 0 else -1, transport


def requested_expires(message: sipmessage_pb2.SIPMessage) -> int:
    """Contact ``expires`` parameter, else the Expires header, else the default."""
    if message.HasField("contact") and message.contact.expires >= 0:
        return message.contact.expires
    if message.HasField("expires"):
        return max(message.expires.expires, 0)
    return DEFAULT_EXPIRES


class Registrar:
    """Thread-safe binding store; ``clock`` is injectable for tests of expiry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._bindings: dict[str, Binding] = {}

    def register(self, request: MessageRequest) -> MessageResponse:
        """Add, refresh, remove (expires 0, ``Contact: *``) or query a binding; answer 200."""
        message = request.message
        aor = aor_of(message.to.address.uri)
        expires = requested_expires(message)
        contact = message.contact if message.HasField("contact") else None
        with self._lock:
            if contact is not None and (expires == 0 or contact.address.wildcard):
                self._bindings.pop(aor, None)
            elif contact is not None:
                host, port, transport = where_is(request)
                address = sipmessage_pb2.Address()
                address.CopyFrom(contact.address)
                self._bindings[aor] = Binding(aor, address, host, port, transport, self._clock() + expires)
            binding = self._live(aor)

        response = answer(request, ResponseType.OK, "OK")
        if binding is None:
            response.message.expires.expires = 0
            return response
        remaining = max(round(binding.expires_at - self._clock()), 0)
        response.message.contact.address.CopyFrom(binding.contact)
        response.message.contact.expires = remaining
        response.message.contact.q_value = -1.0
        response.message.expires.expires = remaining
        return response

    def lookup(self, uri: SipURI) -> Binding | None:
        """The binding of ``user@host``, else the longest-lived binding of ``user``."""
        with self._lock:
            binding = self._live(aor_of(uri))
            if binding is not None or not uri.user:
                return binding
            candidates = [self._live(aor) for aor in list(self._bindings) if aor.split("@")[0] == uri.user]
            return max((b for b in candidates if b), key=lambda b: b.expires_at, default=None)

    def find_by_contact(self, uri: SipURI) -> Binding | None:
        """The binding whose registered contact is ``uri`` (same user, host and port)."""
        with self._lock:
            for aor in list(self._bindings):
                binding = self._live(aor)
                if binding is not None and _same_contact(binding.contact.uri, uri):
                    return binding
        return None

    def _live(self, aor: str) -> Binding | None:
        """The binding of ``aor`` unless it expired (then it is dropped). Call with the lock held."""
        binding = self._bindings.get(aor)
        if binding is not None and binding.expires_at <= self._clock():
            del self._bindings[aor]
            return None
        return binding


def _same_contact(a: SipURI, b: SipURI) -> bool:
    return (a.user, a.host, a.port) == (b.user, b.host, b.port)
