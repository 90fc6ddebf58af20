"""What the edge core knows about where a message came from and how to send one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Connection(Protocol):
    """An open connection-oriented flow (TCP, TLS, WS, WSS)."""

    transport: str
    remote: tuple[str, int]

    @property
    def closed(self) -> bool: ...

    def send(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Flow:
    """Where a message arrived: transport, remote address, our listening port, connection."""

    transport: str  # upper case: UDP, TCP, TLS, WS, WSS
    remote: tuple[str, int]
    local_port: int
    connection: Connection | None = None

    @property
    def reliable(self) -> bool:
        return self.transport != "UDP"


@dataclass(frozen=True, slots=True)
class Target:
    """A next hop: transport, host (name or address) and port."""

    transport: str
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        return self.transport != "UDP"


class SendError(Exception):
    """The transport could not deliver (connection refused, ICMP unreachable, closed)."""
