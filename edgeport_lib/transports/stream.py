"""SIP over TCP (and, through the `_secure_*` hooks that tls.py overrides, TLS): a gevent StreamServer.

Each connection has its own reader greenlet that cuts the byte stream into messages with the
sans-I/O StreamFramer and hands each message to the shared, bounded message pool, so a slow
processor call never stalls the reads of other connections (or of this one).

Connection limits (`ConnectionPolicy`): at most `max_connections` accepted connections per
transport and `max_per_ip` per remote IP (more are closed at once); a message must arrive
complete within `read_timeout` of its first byte (slowloris), and an accepted connection must
deliver its first message within `read_timeout`; a connection silent for `idle_timeout` is closed.

A connection from a source the access lists deny (edgeport_lib/access.py) is reset in the accept
loop itself (`guard_accepts`): no greenlet, no TLS handshake, no byte read.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.baseserver import BaseServer
from gevent.lock import Semaphore
from gevent.server import StreamServer

from ..access import ALLOW_ALL, AccessList
from ..sip.framer import KEEPALIVE, FramingError, StreamFramer
from ..sip.limits import Limits
from .base import Flow, SendError
from .connections import ConnectionTable
from .pool import MessagePool

log = logging.getLogger(__name__)
Handler = Callable[[Any, Flow], None]  # gets a message's bytes, or what Overflow returned
Overflow = Callable[[bytes, Flow], Any]  # a message met by a full pool: None when it answered it
READ_SIZE = 65536
SEND_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
MAX_DENIED_PER_ACCEPT = 256  # denied connections reset in one accept round before yielding
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, leaves no TIME_WAIT


def guard_accepts(server: BaseServer, access: AccessList) -> None:
    """Make `server` (a StreamServer or pywsgi server) reset connections from denied sources at accept."""
    if not access.enabled:
        return
    accept = server.do_read

    def do_read():
        for _ in range(MAX_DENIED_PER_ACCEPT):
            accepted = accept()
            if not accepted:
                return accepted
            sock, address = accepted
            if access.allows(address[0]):
                return accepted
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            except OSError:
                pass
            sock.close()
        return None  # more may be waiting: the accept loop calls again

    server.do_read = do_read


class ReadTimeout(TimeoutError):
    """A message did not arrive complete within the read timeout."""


@dataclass(frozen=True, slots=True)
class ConnectionPolicy:
    max_connections: int = 10000  # accepted connections per transport
    max_per_ip: int = 200  # accepted connections per remote IP, per transport
    read_timeout: float = 30.0  # seconds for a whole message once its first byte arrived
    idle_timeout: float = 600.0  # seconds of silence before a connection is closed


class ConnectionGate:
    """Counts accepted connections per transport and per remote IP; refuses those over the limits."""

    def __init__(self, policy: ConnectionPolicy, transport: str) -> None:
        self._policy = policy
        self._transport = transport
        self._per_ip: Counter[str] = Counter()
        self.total = 0
        self.refused = 0

    def enter(self, ip: str) -> bool:
        if self.total >= self._policy.max_connections or self._per_ip[ip] >= self._policy.max_per_ip:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning("%s connection from %s refused: limit reached (%d open, %d from that IP); "
                            "%d refused so far", self._transport, ip, self.total, self._per_ip[ip],
                            self.refused)
            return False
        self.total += 1
        self._per_ip[ip] += 1
        return True

    def leave(self, ip: str) -> None:
        self.total -= 1
        self._per_ip[ip] -= 1
        if self._per_ip[ip] <= 0:
            del self._per_ip[ip]


class StreamConnection:
    """One TCP connection: serialised sends, closed once, removed from the table on close."""

    outbound = False  # True for a connection we opened to a next hop (not accepted)

    def __init__(self, sock: socket.socket, transport: str, remote: tuple[str, int], local_port: int) -> None:
        self.sock = sock
        self.transport = transport
        self.remote = remote
        self.local_port = local_port
        self._send_lock = Semaphore()
        self._closed = False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, data: bytes) -> None:
        if self._closed:
            raise SendError(f"connection to {self.remote[0]}:{self.remote[1]} is closed")
        try:
            with self._send_lock, gevent.Timeout(SEND_TIMEOUT):
                self.sock.sendall(data)
        except (OSError, gevent.Timeout) as error:
            self.close()
            where = f"{self.remote[0]}:{self.remote[1]}"
            raise SendError(f"{self.transport} send to {where} failed: {error}") from error

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self.sock.close()
            except OSError:
                pass


class StreamTransport:
    transport = "TCP"

    def __init__(
        self, bind_addr: str, port: int, handler: Handler, pool: MessagePool, table: ConnectionTable,
        limits: Limits, policy: ConnectionPolicy | None = None, access: AccessList = ALLOW_ALL,
        overflow: Overflow | None = None,
    ) -> None:
        """`overflow` may answer a message at once when every greenlet of `pool` is busy (it
        returns True); the others wait for a free one, holding up this connection's reads."""
        self.bind_addr = bind_addr
        self.port = port
        self._handler = handler
        self._pool = pool
        self._overflow = overflow
        self._table = table
        self._limits = limits
        self._policy = policy = policy or ConnectionPolicy()
        self.gate = ConnectionGate(policy, self.transport)
        self._server = StreamServer((bind_addr, port), self._on_accept)
        guard_accepts(self._server, access)

    def start(self) -> None:
        self._server.start()
        self.port = self._server.socket.getsockname()[1]

    def stop(self) -> None:
        self._server.stop()

    def connect(self, host: str, port: int) -> StreamConnection:
        """Open a connection to a next hop and start reading from it."""
        try:
            sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
            sock = self._secure_connected(sock, host)
            sock.settimeout(None)  # reads are bounded by the policy's timeouts
        except OSError as error:
            raise SendError(f"{self.transport} connect to {host}:{port} failed: {error}") from error
        conn = self._wrap(sock, (host, port), outbound=True)
        gevent.spawn(self._serve, conn, False)
        return conn

    def _secure_accepted(self, sock: socket.socket) -> socket.socket:
        """Hook for TLS: secure an accepted socket (raise OSError to drop it). TCP: as is."""
        return sock

    def _secure_connected(self, sock: socket.socket, host: str) -> socket.socket:
        """Hook for TLS: secure a socket we connected to `host` (raise OSError on failure). TCP: as is."""
        return sock

    def _wrap(self, sock: socket.socket, remote: tuple[str, int], outbound: bool = False) -> StreamConnection:
        conn = StreamConnection(sock, self.transport, remote, self.port)
        conn.outbound = outbound
        self._table.add(conn)
        return conn

    def _on_accept(self, sock: socket.socket, address: tuple) -> None:
        ip = address[0]
        if not self.gate.enter(ip):
            sock.close()
            return
        try:
            try:
                sock = self._secure_accepted(sock)
            except OSError as error:
                log.info("%s connection from %s:%s dropped: %s", self.transport, ip, address[1], error)
                sock.close()
                return
            self._serve(self._wrap(sock, (ip, address[1])), True)
        finally:
            self.gate.leave(ip)

    def _dispatch(self, items: list, conn: StreamConnection, flow: Flow) -> None:
        for item in items:
            if item is KEEPALIVE:
                conn.send(b"\r\n")
            else:
                self._pool.spawn_message(self._handler, item, flow, self._overflow)

    def _serve(self, conn: StreamConnection, accepted: bool = True) -> None:
        framer = StreamFramer(self._limits)
        flow = Flow(self.transport, conn.remote, self.port, conn)
        policy = self._policy
        # a deadline runs while a message is incomplete, and for the first message of an accepted connection
        deadline = time.monotonic() + policy.read_timeout if accepted else None
        try:
            while not conn.closed:
                if deadline is None:
                    wait, error = policy.idle_timeout, TimeoutError(f"idle for {policy.idle_timeout:g} s")
                else:
                    wait = deadline - time.monotonic()
                    error = ReadTimeout(f"no complete message within {policy.read_timeout:g} s")
                    if wait <= 0:
                        raise error
                with gevent.Timeout(wait, error):
                    data = conn.sock.recv(READ_SIZE)
                if not data:
                    break
                if deadline is None:
                    deadline = time.monotonic() + policy.read_timeout
                self._dispatch(framer.feed(data), conn, flow)
                if framer.buffered == 0:
                    deadline = None
        except (FramingError, ReadTimeout) as error:
            if isinstance(error, FramingError):
                self._dispatch(error.frames, conn, flow)  # what came whole before the bad bytes
            reason = error.reason if isinstance(error, FramingError) else error
            log.info("closing %s connection from %s:%s: %s", self.transport, *conn.remote, reason)
        except (OSError, SendError, TimeoutError) as error:
            log.debug("%s connection %s:%s ended: %s", self.transport, *conn.remote, error)
        finally:
            conn.close()
            self._table.remove(conn)
