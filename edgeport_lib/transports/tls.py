"""SIP over TLS: the TCP transport with its sockets wrapped by the security context's SSL contexts.

The server handshake runs in the accepted connection's own greenlet (never in the accept loop)
and must finish within the read timeout, so a client that stalls its handshake holds only its
own greenlet and socket. Outbound connections send SNI (for host names) and verify the peer
against the trust store when one is configured.
"""

from __future__ import annotations

import socket
import ssl

import gevent

from ..security import TlsContexts
from ..sip.limits import Limits
from .connections import ConnectionTable
from .pool import MessagePool
from .stream import CONNECT_TIMEOUT, ConnectionPolicy, Handler, Overflow, StreamTransport


class HandshakeTimeout(TimeoutError):
    pass


def server_handshake(context: ssl.SSLContext, sock: socket.socket, timeout: float) -> ssl.SSLSocket:
    """Wrap an accepted socket and finish the TLS handshake within `timeout` seconds (OSError if not)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay between handshake records
    tls = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
    return _handshake(tls, timeout, "")


def client_handshake(
    context: ssl.SSLContext, sock: socket.socket, host: str, timeout: float
) -> ssl.SSLSocket:
    """Wrap a connected socket (SNI and name check for `host`) and finish the handshake (OSError if not)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    return _handshake(tls, timeout, f" with {host}")


def _handshake(tls: ssl.SSLSocket, timeout: float, peer: str) -> ssl.SSLSocket:
    late = HandshakeTimeout(f"TLS handshake{peer} not finished within {timeout:g} s")
    try:
        with gevent.Timeout(timeout, late):
            tls.do_handshake()
    except BaseException:
        tls.close()  # wrap_socket took over the file descriptor
        raise
    return tls


class TlsTransport(StreamTransport):
    transport = "TLS"

    def __init__(
        self, bind_addr: str, port: int, handler: Handler, pool: MessagePool, table: ConnectionTable,
        limits: Limits, policy: ConnectionPolicy | None, tls: TlsContexts, overflow: Overflow | None = None,
    ) -> None:
        super().__init__(bind_addr, port, handler, pool, table, limits, policy, overflow=overflow)
        self._tls = tls

    def _secure_accepted(self, sock: socket.socket) -> socket.socket:
        return server_handshake(self._tls.server, sock, self._policy.read_timeout)

    def _secure_connected(self, sock: socket.socket, host: str) -> socket.socket:
        return client_handshake(self._tls.client, sock, host, CONNECT_TIMEOUT)
