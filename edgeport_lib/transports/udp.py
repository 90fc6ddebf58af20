"""SIP over UDP: a gevent DatagramServer that reads whole datagrams (up to 65535 bytes).

Datagrams from sources the access lists deny are dropped in the read loop itself, before a
greenlet is spawned or a byte parsed (see edgeport_lib/access.py).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from gevent.server import DatagramServer

from ..access import ALLOW_ALL, AccessList
from .base import Flow, SendError
from .pool import MessagePool

log = logging.getLogger(__name__)
MAX_DATAGRAM = 65535
MAX_DENIED_PER_READ = 256  # denied datagrams skipped in one read before yielding to the loop
Handler = Callable[[bytes, Flow], None]


class _Server(DatagramServer):
    access: AccessList = ALLOW_ALL
    # --workers N: takes a datagram for another worker (returns None) or gives back what to handle
    divert: Callable[[bytes, tuple], bytes | None] | None = None

    # every pool greenlet busy: called in the read loop instead of spawning (see UdpTransport)
    overflow: Callable[[bytes, tuple], None] | None = None

    def do_handle(self, data: bytes, address: tuple) -> None:
        if self.overflow is not None and self.pool is not None and self.pool.full():
            self.overflow(data, address)
            return
        super().do_handle(data, address)

    def do_read(self):  # gevent reads only 8192 bytes per datagram by default
        for _ in range(MAX_DENIED_PER_READ):
            try:
                data, address = self._socket.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                return None
            except OSError as error:  # e.g. ICMP errors reported on the socket
                log.debug("udp recvfrom failed: %s", error)
                return None
            if self.access.allows(address[0]):
                if self.divert is None:
                    return data, address
                data = self.divert(data, address)
                if data is not None:
                    return data, address
        return None  # the socket is still readable: the loop calls again


class UdpTransport:
    transport = "UDP"

    def __init__(
        self, bind_addr: str, port: int, handler: Handler, pool: MessagePool, access: AccessList = ALLOW_ALL,
        overflow: Handler | None = None,
    ) -> None:
        """`overflow` gets the datagrams that arrive while every greenlet of `pool` is busy.

        Without it reading pauses until a greenlet is free (datagrams wait in the kernel's
        buffer, and are lost unseen when it fills); with it reading goes on and `overflow`
        answers or drops each datagram at once, in the read loop, so it must be quick.
        """
        self.bind_addr = bind_addr
        self.port = port
        self._handler = handler
        self._server = _Server((bind_addr, port), self._on_datagram, spawn=pool)
        self._server.access = access
        if overflow is not None:
            self._server.overflow = lambda data, address: overflow(data, self._flow(address))
            self._server.full = _never  # gevent pauses reading on a full pool: keep reading

    def start(self) -> None:
        self._server.init_socket()
        sock = self._server.socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._server.start()
        self.port = sock.getsockname()[1]

    def stop(self) -> None:
        self._server.stop()

    def send(self, data: bytes, address: tuple[str, int]) -> None:
        try:
            self._server.socket.sendto(data, address)
        except OSError as error:
            raise SendError(f"UDP send to {address[0]}:{address[1]} failed: {error}") from error

    def _on_datagram(self, data: bytes, address: tuple) -> None:
        self._handler(data, self._flow(address))

    def _flow(self, address: tuple) -> Flow:
        return Flow(self.transport, (address[0], address[1]), self.port)


def _never() -> bool:
    return False
