"""The network as the edge core sees it: send to a next hop, reply on the flow a message came on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .base import Connection, Flow, SendError, Target
from .connections import ConnectionTable
from .udp import UdpTransport


class Listener(Protocol):
    """A connection-oriented listening point (TCP, TLS, WS, WSS): stream.py, tls.py, websocket.py."""

    transport: str
    bind_addr: str
    port: int

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def connect(self, host: str, port: int) -> Connection: ...


class Network:
    def __init__(self, table: ConnectionTable) -> None:
        self.table = table
        self.udp: UdpTransport | None = None
        self.streams: dict[str, Listener] = {}
        # --workers N: hands a message to the worker holding a connection to the target; True if it did
        self.relay: Callable[[Target, bytes], bool] | None = None

    def add(self, transport: UdpTransport | Listener) -> None:
        if isinstance(transport, UdpTransport):
            self.udp = transport
        else:
            self.streams[transport.transport] = transport

    def listening_port(self, transport: str) -> int | None:
        if transport == "UDP":
            return self.udp.port if self.udp else None
        stream = self.streams.get(transport)
        return stream.port if stream else None

    def send(self, target: Target, data: bytes, relay: bool = True) -> None:
        """Send to a next hop, reusing an open connection to it when there is one.

        With workers, a connection another worker accepted from the target is used through it.
        """
        if target.transport == "UDP":
            if self.udp is None:
                raise SendError("no UDP transport configured")
            self.udp.send(data, (target.host, target.port))
            return
        conn = self.table.get(target.transport, target.host, target.port)
        if conn is None:
            if relay and self.relay is not None and self.relay(target, data):
                return
            stream = self.streams.get(target.transport)
            if stream is None:
                raise SendError(f"no {target.transport} transport configured")
            conn = stream.connect(target.host, target.port)
        conn.send(data)

    def reply(self, flow: Flow, data: bytes, fallback: Target | None = None) -> None:
        """Send on the flow a request came in on; for a closed connection, to `fallback`."""
        if flow.connection is not None:
            if not flow.connection.closed:
                flow.connection.send(data)
                return
            if fallback is None:
                raise SendError("connection closed and no fallback address")
            self.send(fallback, data)
            return
        self.send(fallback or Target("UDP", *flow.remote), data)
