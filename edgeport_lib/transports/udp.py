"""SIP over UDP: a gevent DatagramServer that reads whole datagrams (up to 65535 bytes)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from gevent.pool import Pool
from gevent.server import DatagramServer

from .base import Flow, SendError

log = logging.getLogger(__name__)
MAX_DATAGRAM = 65535
Handler = Callable[[bytes, Flow], None]


class _Server(DatagramServer):
    def do_read(self):  # gevent reads only 8192 bytes per datagram by default
        try:
            data, address = self._socket.recvfrom(MAX_DATAGRAM)
        except BlockingIOError:
            return None
        except OSError as error:  # e.g. ICMP errors reported on the socket
            log.debug("udp recvfrom failed: %s", error)
            return None
        return data, address


class UdpTransport:
    transport = "UDP"

    def __init__(self, bind_addr: str, port: int, handler: Handler, pool: Pool) -> None:
        self.bind_addr = bind_addr
        self.port = port
        self._handler = handler
        self._server = _Server((bind_addr, port), self._on_datagram, spawn=pool)

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
        self._handler(data, Flow(self.transport, (address[0], address[1]), self.port))
