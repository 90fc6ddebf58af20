"""SIP over WebSocket (RFC 7118), WS and WSS, on gevent-websocket.

One SIP message per text or binary frame (fragmented messages are joined); responses and later
requests reach a client over the connection it opened (the connection table is keyed by its
address, which the processor sees as received/rport). Small subclasses fix gevent-websocket's
traps: it has no message size limit (here the announced frame length is checked before the
payload is read; too large closes with 1009), it answers a subprotocol only through the
application's ``app_protocol()`` and matches it by substring (here the exact token ``sip`` is
required), its error replies are ``str``, which pywsgi cannot write (encoded here), and its
close frames carry no status code (added here).

Timeouts follow the stream transports: the HTTP upgrade and every message must arrive complete
within the read timeout once started; a connection silent for the idle timeout is closed. WSS
runs its TLS handshake, bounded by the read timeout, in the connection's own greenlet.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from typing import Any

import gevent
from gevent.lock import Semaphore
from gevent.pywsgi import WSGIServer
from geventwebsocket.exceptions import ProtocolError, WebSocketError
from geventwebsocket.handler import WebSocketHandler
from geventwebsocket.websocket import Header, Stream, WebSocket

from ..security import TlsContexts
from ..sip.limits import Limits
from .base import Flow, SendError
from .connections import ConnectionTable
from .pool import MessagePool
from .stream import SEND_TIMEOUT, ConnectionGate, ConnectionPolicy, Handler, Overflow, ReadTimeout
from .tls import server_handshake

log = logging.getLogger(__name__)
SUBPROTOCOL = "sip"
CLOSE_TOO_BIG = 1009
_DRAIN_LIMIT = 1 << 20


class MessageTooLarge(ProtocolError):
    pass


class WsTimeout(WebSocketError):
    pass


class SipWebSocket(WebSocket):
    """A WebSocket with a size limit checked before reading, read deadlines and serialised writes."""

    __slots__ = ("max_size", "policy", "deadline", "pending", "fragmented", "send_lock")

    def __init__(self, environ: dict, stream: Stream, handler: WebSocketHandler, max_size: int,
                 policy: ConnectionPolicy) -> None:
        super().__init__(environ, stream, handler)
        self.max_size, self.policy = max_size, policy
        self.deadline: float | None = None  # set while a message (or frame) is being received
        self.pending = 0  # payload bytes of the message being received
        self.fragmented = False
        self.send_lock = Semaphore()

    def read_frame(self) -> tuple[Header, bytes]:
        if self.deadline is None:  # between messages: wait for a first byte, at most the idle timeout
            with gevent.Timeout(self.policy.idle_timeout, WsTimeout("idle")):
                if not self.handler.rfile.peek(1):
                    raise WebSocketError("connection closed by the client")
            self.deadline = time.monotonic() + self.policy.read_timeout
        remaining = self.deadline - time.monotonic()
        late = ReadTimeout(f"no complete message within {self.policy.read_timeout:g} s")
        if remaining <= 0:
            raise late
        with gevent.Timeout(remaining, late):
            header = Header.decode_header(self.stream)
            if header.flags:
                raise ProtocolError("reserved bits set")
            control = header.opcode & 0x8
            if not control:
                joined = self.pending if header.opcode == self.OPCODE_CONTINUATION else 0
                self.pending = joined + header.length
                if self.pending > self.max_size:
                    raise MessageTooLarge(f"message of {self.pending} bytes or more exceeds {self.max_size}")
            payload = self.raw_read(header.length) if header.length else b""
        if len(payload) != header.length:
            raise WebSocketError("unexpected end of stream in a frame")
        if header.mask:
            payload = header.unmask_payload(payload)
        if not control:
            self.fragmented = not header.fin
        if not self.fragmented:
            self.deadline = None
        return header, payload

    def send_frame(self, message: Any, opcode: int) -> None:
        with self.send_lock:
            super().send_frame(message, opcode)

    def close(self, code: int = 1000, message: bytes | str = b"") -> None:
        """Send a close frame with its status code (the library's close() leaves the code out)."""
        if self.closed:
            return
        reason = message.encode() if isinstance(message, str) else bytes(message or b"")
        try:
            self.send_frame(struct.pack("!H", code) + reason[:123], self.OPCODE_CLOSE)
        except (OSError, AttributeError):
            pass
        finally:
            self.closed = True
            self.stream = self.raw_write = self.raw_read = self.environ = None

    def receive_sip(self) -> bytes | None:
        """The next message as bytes; None once the connection is closed (a close frame answered)."""
        try:
            message = self.read_message()
        except MessageTooLarge as error:
            log.info("closing WebSocket from %s:%s: %s", *self.handler.client_address[:2], error)
            self.close(CLOSE_TOO_BIG, "message too big")
            return None
        except UnicodeError:
            self.close(1007)
            return None
        except ProtocolError as error:
            log.info("closing WebSocket from %s:%s: %s", *self.handler.client_address[:2],
                     error or "protocol error")
            self.close(1002)
            return None
        if message is None:
            return None
        return message.encode() if isinstance(message, str) else bytes(message)


class SipWebSocketHandler(WebSocketHandler):
    """pywsgi handler: exact `sip` subprotocol, bytes error replies, a deadline on the upgrade request."""

    def handle(self) -> None:
        self._upgrade_deadline = gevent.Timeout.start_new(self.server.policy.read_timeout)
        try:
            super().handle()
        except gevent.Timeout as timeout:
            if timeout is not self._upgrade_deadline:
                raise
            log.info("WebSocket upgrade from %s:%s not received within %g s", *self.client_address[:2],
                     self.server.policy.read_timeout)
        finally:
            self._upgrade_deadline.close()

    def run_application(self) -> None:
        self._upgrade_deadline.close()  # the request is in: the WebSocket's own timeouts apply
        super().run_application()

    def upgrade_websocket(self) -> list[bytes] | None:
        result = super().upgrade_websocket()
        return [r.encode() if isinstance(r, str) else r for r in result] if result else result

    def upgrade_connection(self) -> list | None:
        requested = [p.strip() for p in self.environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL", "").split(",")]
        if SUBPROTOCOL not in requested:
            self.start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"the 'sip' WebSocket subprotocol (RFC 7118) is required\n"]
        result = super().upgrade_connection()
        if result is None:  # upgraded: swap the library's WebSocket for ours before any use
            self.websocket.closed = True  # so its __del__ writes no close frame
            self.websocket = SipWebSocket(self.environ, Stream(self), self, self.server.max_message_size,
                                          self.server.policy)
            self.environ["wsgi.websocket"] = self.websocket
        return result


class _SipApplication:
    def __init__(self, transport: WebSocketTransport) -> None:
        self._transport = transport

    def app_protocol(self, path: str) -> str:
        return SUBPROTOCOL  # only reached after the handler checked the exact token

    def __call__(self, environ: dict, start_response) -> list[bytes]:
        ws = environ.get("wsgi.websocket")
        if ws is None:
            start_response("426 Upgrade Required", [("Upgrade", "websocket"), ("Content-Type", "text/plain")])
            return [b"SIP over WebSocket (RFC 7118) only\n"]
        self._transport.serve(ws)
        return []


class _Server(WSGIServer):
    def __init__(self, transport: WebSocketTransport, address: tuple[str, int], limits: Limits,
                 policy: ConnectionPolicy) -> None:
        super().__init__(address, _SipApplication(transport), handler_class=SipWebSocketHandler, log=None,
                         error_log=log, environ={"SERVER_NAME": "edgeport", "SERVER_PORT": str(address[1])})
        self.transport = transport
        self.policy = policy
        self.max_message_size = limits.max_message_size

    def handle(self, sock: socket.socket, address: tuple) -> None:
        self.transport.accept(sock, address, super().handle)


class WsConnection:
    """One WebSocket client as the connection table and the edge see it."""

    def __init__(self, ws: SipWebSocket, transport: str, remote: tuple[str, int], local_port: int) -> None:
        self.ws = ws
        self.sock: socket.socket = ws.handler.socket
        self.transport = transport
        self.remote = remote
        self.local_port = local_port
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed or self.ws.closed

    @property
    def closed_by_us(self) -> bool:
        return self._closed

    def send(self, data: bytes) -> None:
        if self.closed:
            raise SendError(f"{self.transport} connection to {self.remote[0]}:{self.remote[1]} is closed")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        try:
            with gevent.Timeout(SEND_TIMEOUT, WsTimeout("send timed out")):
                self.ws.send(text if text is not None else data, binary=text is None)
        except (OSError, AttributeError) as error:  # AttributeError: closed under our feet
            self.close()
            where = f"{self.remote[0]}:{self.remote[1]}"
            raise SendError(f"{self.transport} send to {where} failed: {error}") from error

    def close(self, code: int = 1000) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with gevent.Timeout(1.0, WsTimeout("close timed out")):
                self.ws.close(code)
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader; pywsgi closes the socket
        except (OSError, AttributeError):
            pass


class WebSocketTransport:
    """A WS (or, given TLS contexts, WSS) listening point."""

    def __init__(
        self, bind_addr: str, port: int, handler: Handler, pool: MessagePool, table: ConnectionTable,
        limits: Limits, policy: ConnectionPolicy | None = None, tls: TlsContexts | None = None,
        overflow: Overflow | None = None,
    ) -> None:
        self.transport = "WSS" if tls else "WS"
        self.bind_addr = bind_addr
        self.port = port
        self._handler = handler
        self._pool = pool
        self._overflow = overflow
        self._table = table
        self._policy = policy = policy or ConnectionPolicy()
        self._tls = tls
        self.gate = ConnectionGate(policy, self.transport)
        self._server = _Server(self, (bind_addr, port), limits, policy)

    def start(self) -> None:
        self._server.start()
        self.port = self._server.socket.getsockname()[1]

    def stop(self) -> None:
        self._server.stop()

    def connect(self, host: str, port: int) -> WsConnection:
        raise SendError(f"no open {self.transport} connection from {host}:{port} "
                        "(EdgePort does not open WebSocket connections)")

    def accept(self, sock: socket.socket, address: tuple, handle) -> None:
        """Admission, the WSS handshake, then pywsgi's HTTP upgrade (`handle`), all in this greenlet."""
        ip = address[0]
        if not self.gate.enter(ip):
            sock.close()
            return
        try:
            if self._tls is not None:
                try:
                    sock = server_handshake(self._tls.server, sock, self._policy.read_timeout)
                except OSError as error:
                    log.info("%s connection from %s:%s dropped: %s", self.transport, ip, address[1], error)
                    sock.close()
                    return
            handle(sock, address)
        finally:
            self.gate.leave(ip)

    def serve(self, ws: SipWebSocket) -> None:
        """Read SIP messages from an upgraded connection until it closes."""
        address = ws.handler.client_address
        conn = WsConnection(ws, self.transport, (address[0], address[1]), self.port)
        flow = Flow(self.transport, conn.remote, self.port, conn)
        self._table.add(conn)
        try:
            while not conn.closed:
                message = ws.receive_sip()
                if message is None:
                    break
                if not message.strip(b"\r\n"):  # CRLF keep-alive that some clients send as a message
                    if message == b"\r\n\r\n":
                        conn.send(b"\r\n")
                    continue
                self._pool.spawn_message(self._handler, message, flow, self._overflow)
        except ReadTimeout as error:
            log.info("closing %s connection from %s:%s: %s", self.transport, *conn.remote, error)
        except (OSError, SendError) as error:
            log.debug("%s connection %s:%s ended: %s", self.transport, *conn.remote, error)
        except Exception as error:  # the library's state after a close under our feet is not reliable
            log.debug("%s connection %s:%s ended: %r", self.transport, *conn.remote, error)
        finally:
            self._table.remove(conn)
            if ws.closed and not conn.closed_by_us:  # a close frame went out: let the client read it
                _drain(conn.sock)
            conn.close()


def _drain(sock: socket.socket) -> None:
    """Read and drop what the client still sends (e.g. an oversized frame) so our close frame is not lost
    to a TCP reset; bounded in time and bytes."""
    try:
        sock.shutdown(socket.SHUT_WR)
        received = 0
        with gevent.Timeout(1.0, False):
            while received < _DRAIN_LIMIT:
                data = sock.recv(65536)
                if not data:
                    break
                received += len(data)
    except OSError:
        pass
