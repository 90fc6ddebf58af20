"""The table of open connections, shared by every connection-oriented transport.

Connections are indexed by (transport, remote host, remote port), whichever side opened
them, so a request whose next hop is a client that connected to us (a NATed TCP phone, a
WebSocket browser) goes back over the connection it opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .base import Connection

log = logging.getLogger(__name__)
Key = tuple[str, str, int]


class ConnectionTable:
    def __init__(self) -> None:
        self._by_key: dict[Key, Connection] = {}
        # told of every connection that leaves the table (closed by either side)
        self.on_remove: Callable[[Connection], None] | None = None
        # --workers N: told of every connection added (True) or removed (False)
        self.watch: Callable[[Connection, bool], None] | None = None

    def __len__(self) -> int:
        return len(self._by_key)

    def add(self, conn: Connection) -> None:
        self._by_key[(conn.transport, conn.remote[0], conn.remote[1])] = conn
        if self.watch is not None:
            self.watch(conn, True)

    def remove(self, conn: Connection) -> None:
        key = (conn.transport, conn.remote[0], conn.remote[1])
        if self._by_key.get(key) is conn:
            del self._by_key[key]
            if self.watch is not None:
                self.watch(conn, False)
            if self.on_remove is not None:
                self.on_remove(conn)

    def get(self, transport: str, host: str, port: int) -> Connection | None:
        conn = self._by_key.get((transport, host, port))
        if conn is not None and conn.closed:
            self.remove(conn)
            return None
        return conn

    def close_all(self) -> None:
        for conn in list(self._by_key.values()):
            conn.close()
        self._by_key.clear()
