"""Wiring: build the transports, the processor client and the edge core from a Config, run them."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

import gevent
from gevent.event import Event

from .access import AccessList
from .config import Config
from .convert import EdgeInfo, NetAddress
from .edge import Edge
from .events import EventBus
from .ops import (
    Health,
    Heartbeat,
    Metrics,
    OpsServer,
    probe_host,
    processor_check,
    start_pool_probe,
    start_probe,
)
from .ops.health import KEEPALIVE, grpc_target_address, start_connect_probe
from .ops.metrics import live_greenlets
from .processor_client import ProcessorClient
from .security import tls_contexts_for
from .sip.limits import Limits
from .transports.connections import ConnectionTable
from .transports.network import Network
from .transports.pool import MessagePool
from .transports.stream import ConnectionPolicy, StreamTransport, guard_accepts
from .transports.tls import TlsTransport
from .transports.udp import UdpTransport
from .transports.websocket import WebSocketTransport

log = logging.getLogger("edgeport")
FULL_COLLECTION_EVERY = 100  # second-generation collections between full ones (default 10)
SUPPORTED = ("udp", "tcp", "tls", "ws", "wss")


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
        self.pool = MessagePool(config.limits.max_in_flight)
        self.network = Network(ConnectionTable())
        self.processor = ProcessorClient(config.processor_addr, config.processor_timeout)
        listening_points = tuple(
            NetAddress(t.bind_addr, t.port, t.protocol.upper()) for t in config.transports
        )
        edge_info = EdgeInfo(config.edge_port_ref, listening_points, config.external_addrs, config.localnets)
        self.metrics = Metrics()
        self.events = EventBus.from_config(config)
        self.edge = Edge(config, self.processor, self.network, edge_info, self.metrics, self.events)
        self.metrics.bind_gauges(
            transactions=lambda: {"server": len(self.edge.servers), "client": len(self.edge.clients)},
            connections=lambda: len(self.network.table),
            greenlets=lambda: live_greenlets() - self.pool.idle_count,
            processor_calls=lambda: self.processor.in_flight,
        )
        self.metrics.bind_events(self.events.stats)
        self.health = Health()
        self.udp_heartbeat = Heartbeat()
        self.udp_probe_payload = KEEPALIVE  # a worker's own (edgeport_lib/workers.py)
        self._probes: list[gevent.Greenlet] = []
        self._ops: OpsServer | None = None
        self._stopped = Event()
        self._stopping = False
        self._build_transports()

    def _build_transports(self) -> None:
        conf = self.config.limits
        limits = Limits(conf.max_message_size, conf.max_headers, conf.max_line_length)
        policy = ConnectionPolicy(conf.max_connections, conf.max_connections_per_ip, conf.read_timeout,
                                  conf.idle_timeout)
        secure = any(entry.protocol in ("tls", "wss") for entry in self.config.transports)
        tls = tls_contexts_for(self.config.security_context, self.config.source_path) if secure else None
        rules = self.config.access_control
        # the health probes send from the address they probe: never deny them
        probes = {probe_host(t.bind_addr) for t in self.config.transports} if self.config.healthchecks else ()
        access = AccessList(rules.allow, rules.deny, exempt=probes)
        if access.enabled:
            log.info("access control: %s", access)
        for entry in self.config.transports:
            if entry.protocol == "udp":
                handler = self.udp_heartbeat.wrap_handler(self.edge.handle)
                self.network.add(UdpTransport(entry.bind_addr, entry.port, handler, self.pool, access,
                                              overflow=self.edge.on_overload))
                continue
            table = self.network.table
            args = (entry.bind_addr, entry.port, self.edge.handle, self.pool, table, limits, policy)
            overflow = self.edge.on_overload
            if entry.protocol == "tcp":
                self.network.add(StreamTransport(*args, access, overflow=overflow))
                continue
            if entry.protocol == "tls":
                transport = TlsTransport(*args, tls, overflow=overflow)
            else:
                wss_tls = tls if entry.protocol == "wss" else None
                transport = WebSocketTransport(*args, wss_tls, overflow=overflow)
            guard_accepts(transport._server, access)  # before the TLS handshake or HTTP upgrade
            self.network.add(transport)

    def transports(self) -> list:
        return ([self.network.udp] if self.network.udp else []) + list(self.network.streams.values())

    def start(self) -> None:
        for transport in self.transports():
            transport.start()
        self.events.start()
        if self.config.healthchecks:
            self._start_health()
        points = ", ".join(f"{t.transport.lower()} {t.bind_addr}:{t.port}" for t in self.transports())
        log.info("EdgePort %s ready: %s; processor %s", self.config.edge_port_ref, points,
                 self.config.processor_addr)
        # Long-lived objects (modules, config, tables) out of the collector's way: full collections
        # paused a loaded EdgePort ~350 ms (bench/RESULTS.md), and scanning them cost every message.
        gc.collect()
        gc.freeze()
        # A finished call leaves no cycle (tests/e2e/test_reclaimed.py), so full collections find
        # nothing, yet while traffic grows (a start, a ramp) they come every ~1,000 calls and
        # scan every open transaction: ~200 ms pauses. One per 100 young-generation collections
        # instead of 10; the young ones, which catch the rare cycle, keep their default pace.
        gc.set_threshold(*gc.get_threshold()[:2], FULL_COLLECTION_EVERY)

    def _start_health(self) -> None:
        """/healthz is green only while every listener answers its probe and the processor answers."""
        self.health.add_check("processor", processor_check(self.processor))
        address = grpc_target_address(self.config.processor_addr)
        if address is not None:
            reachable = Heartbeat()
            self.health.add_check("processor connection", reachable.check)
            self._probes.append(start_connect_probe(reachable, *address))
        for transport in self.transports():
            name = f"{transport.transport.lower()} {transport.bind_addr}:{transport.port}"
            if transport.transport == "UDP":
                beat = self.udp_heartbeat
            elif transport.transport == "TCP":
                beat = Heartbeat()
            else:
                continue  # TLS/WS listeners share the pool, watched by the pool probe below
            self.health.add_check(name, beat.check)
            host = probe_host(transport.bind_addr)
            self._probes.append(start_probe(beat, transport.transport.lower(), host, transport.port,
                                            payload=self.udp_probe_payload))
        pool_beat = Heartbeat()
        self.health.add_check("worker pool", pool_beat.check)
        self._probes.append(start_pool_probe(pool_beat, self.pool))
        ops = self.config.ops
        self._ops = OpsServer(self.health, self.metrics, host=ops.bind_addr, port=ops.port)
        self._ops.start()

    def stop(self) -> None:
        """Graceful shutdown: refuse new calls, let open ones end (bounded), flush events, close."""
        if self._stopping:
            return
        self._stopping = True
        gevent.spawn(self._shutdown)

    def _shutdown(self) -> None:
        grace = self.config.shutdown_grace_period
        log.info("shutting down: no new calls; waiting up to %.0f s for %d calls and %d pending transactions",
                 grace, len(self.edge.active_calls), self.edge.pending_transactions())
        self.edge.draining = True
        deadline = time.monotonic() + grace
        while not self.edge.idle and time.monotonic() < deadline:
            gevent.sleep(0.1)
        if not self.edge.idle:
            log.warning("grace period over with %d calls still open", len(self.edge.active_calls))
        for probe in self._probes:
            probe.kill(block=False)
        for transport in self.transports():
            transport.stop()
        self.network.table.close_all()
        self.events.close(timeout=5.0)
        if self._ops is not None:
            self._ops.stop()
        self.processor.close()
        log.info("EdgePort stopped")
        self._stopped.set()

    def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        self.start()
        if on_ready is not None:
            on_ready()
        self._stopped.wait()
        gevent.sleep(0)
