"""Wiring: build the transports, the processor client and the edge core from a Config, run them."""

from __future__ import annotations

import logging

import gevent
from gevent.event import Event
from gevent.pool import Pool

from .config import Config
from .convert import EdgeInfo, NetAddress
from .edge import Edge
from .processor_client import ProcessorClient
from .sip.limits import Limits
from .transports.connections import ConnectionTable
from .transports.network import Network
from .transports.stream import StreamTransport
from .transports.udp import UdpTransport

log = logging.getLogger("edgeport")
SUPPORTED = ("udp", "tcp")


class UnsupportedTransport(Exception):
    pass


class EdgePortApp:
    def __init__(self, config: Config) -> None:
        unsupported = [t.protocol for t in config.transports if t.protocol not in SUPPORTED]
        if unsupported:
            raise UnsupportedTransport(
                f"{config.source_path}: spec.transport: {', '.join(unsupported)} not supported yet "
                f"(this version serves {', '.join(SUPPORTED)})"
            )
        self.config = config
        self.pool = Pool(config.limits.max_in_flight)
        self.network = Network(ConnectionTable())
        self.processor = ProcessorClient(config.processor_addr, config.processor_timeout)
        listening_points = tuple(
            NetAddress(t.bind_addr, t.port, t.protocol.upper()) for t in config.transports
        )
        edge_info = EdgeInfo(config.edge_port_ref, listening_points, config.external_addrs, config.localnets)
        self.edge = Edge(config, self.processor, self.network, edge_info)
        self._stopped = Event()
        self._build_transports()

    def _build_transports(self) -> None:
        limits = Limits(self.config.limits.max_message_size, self.config.limits.max_headers,
                        self.config.limits.max_line_length)
        for entry in self.config.transports:
            if entry.protocol == "udp":
                self.network.add(UdpTransport(entry.bind_addr, entry.port, self.edge.handle, self.pool))
            else:
                self.network.add(StreamTransport(entry.bind_addr, entry.port, self.edge.handle, self.pool,
                                                 self.network.table, limits, self.config.limits.idle_timeout))

    def transports(self) -> list:
        return ([self.network.udp] if self.network.udp else []) + list(self.network.streams.values())

    def start(self) -> None:
        for transport in self.transports():
            transport.start()
        points = ", ".join(f"{t.transport.lower()} {t.bind_addr}:{t.port}" for t in self.transports())
        log.info("EdgePort %s ready: %s; processor %s", self.config.edge_port_ref, points,
                 self.config.processor_addr)

    def stop(self) -> None:
        for transport in self.transports():
            transport.stop()
        self.network.table.close_all()
        self.processor.close()
        self._stopped.set()

    def serve_forever(self) -> None:
        self.start()
        self._stopped.wait()
        gevent.sleep(0)
