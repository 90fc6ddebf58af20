"""`--workers N`: N EdgePort processes sharing the SIP ports, so one EdgePort can use N cores.

Processes. The parent (``Supervisor``) loads and checks the configuration, creates a local
link between every two workers (an AF_UNIX datagram socket pair: unlike unbound datagram
sockets, connected ones are not limited to ``net.unix.max_dgram_qlen`` queued messages, which
is 10 by default, only by the 4 MB send buffer) and forks the workers
before any gRPC channel, thread or listening socket exists (``GRPC_ENABLE_FORK_SUPPORT=0``;
gevent's fork re-initialises the hub in the child; ``grpc.experimental.gevent.init_gevent()``
has run in the parent, which only sets gRPC up to use gevent and creates nothing that the fork
could break). Each worker is a whole EdgePort (``cli.run``): its own processor channel,
transaction tables, connection table, event bus and ops server. The parent only supervises:
SIGTERM/SIGINT are forwarded to the workers, whose graceful shutdown runs as usual, and the
parent exits 0 once they all exited 0 (it SIGKILLs those still alive ``shutdownGracePeriod``
+ 15 s later). A worker that dies is restarted with a log line; a worker that exits 2 before
being ready (configuration, e.g. a bad key store) stops everything with exit 2, and after 3
start-up failures in a row the parent gives up with exit 1.

Sharing the ports. Each worker binds its own UDP, TCP, TLS, WS and WSS sockets with
``SO_REUSEPORT``. The kernel spreads UDP datagrams by 4-tuple (one phone's requests and
retransmissions stay on one worker) and TCP connections by connection.

Responses that land on the wrong worker. Every branch a worker creates names it
(``z9hG4bKw<id>.``, edgeport_lib/handoff.py; routing.BRANCH_PREFIX). A response is hashed by
the 4-tuple of the *next hop*, which has nothing to do with the worker that sent the request;
so each received response's top Via branch is peeked at (bytes, no parse): over UDP in the
read loop itself, before a greenlet is spawned; over TCP/TLS/WS before the message is handled.
One that names another worker is passed to it as raw bytes plus its flow (``M`` hand-off) and
handled there exactly as if it had been received there. A response whose branch names no worker
(a branch the processor chose itself) is handled where it lands, as without workers.

Connections held by another worker. A request whose next hop is a client that connected to us
(a TCP/TLS phone behind NAT, a WebSocket browser) must go over that client's connection, which
lives in the worker that accepted it. Workers announce the connections they accept and lose
(``C``/``D``) so each keeps a directory of the others'; when the local table has no connection
to a target, ``Network.send`` asks the directory and hands the bytes to the holder (``S``),
which sends them on its connection (or, if it no longer has one, opens one like a single
EdgePort would). No round trip, no broadcast per message. Connections we open to next hops are
not announced: each worker opens its own, so their responses come back to the worker that
waits for them. The response to a relayed request comes back on the holder's connection and
is handed back by its branch like any other.

Hand-offs are datagrams that are never waited for: when the link to a peer is full (a worker
restarting) the message is handled locally, as one EdgePort would (UDP retransmissions cover a
lost response). A worker's /metrics counts them (``edgeport_worker_handoffs_total``) and its
last log line sums them up.

Ops and events. Worker ``i`` serves /healthz, /livez and /metrics on ``spec.ops.port + i``
(each is a whole EdgePort; scrape them all). Its UDP probe sends a keep-alive that names it
(``\\r\\n\\r\\nw<i>``) and is handed to it by whichever worker the kernel picks, so its UDP
check proves its own receive path; the TCP probe checks the shared port. Each worker publishes
its own events (console, NATS); one call's events may come from two workers (by Call-ID).
Log lines carry ``worker=<i>``.

Limits: per-worker state that one call may need across workers is not shared: the CSeq shift
of a dialog whose challenge was answered on the caller's behalf (in-dialog requests from the
callee's side may land on the other worker) and the tracking of answered calls per connection
(call.ended when a connection closes) for connections held by another worker.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import gevent
from gevent.os import fork_gevent
from gevent.socket import wait_read
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from . import handoff, routing
from .config import Config
from .ops.health import KEEPALIVE
from .transports.base import Flow, SendError, Target

log = logging.getLogger(__name__)
ENV = "EDGEPORT_WORKERS"
EXIT_CONFIG = 2
STARTUP_FAILURES = 3  # start-up failures in a row before the parent gives up
LINK_BUFFER = 4 * 1024 * 1024
KILL_AFTER_GRACE = 15.0


def worker_count(arg: int | None, config: Config) -> int:
    """The number of workers from --workers, else $EDGEPORT_WORKERS, else 1; ValueError if unusable."""
    where = "--workers"
    if arg is None:
        raw = os.environ.get(ENV, "").strip()
        if not raw:
            return 1
        where = ENV
        try:
            arg = int(raw)
        except ValueError:
            raise ValueError(f"{ENV}={raw!r}: not a number of workers") from None
    if not 1 <= arg <= handoff.MAX_WORKERS:
        raise ValueError(f"{where} {arg}: the number of workers is 1 to {handoff.MAX_WORKERS}")
    if arg > 1:
        zero = [f"spec.transport[{i}]" for i, t in enumerate(config.transports) if t.port == 0]
        if zero:
            raise ValueError(f"{where} {arg}: workers share fixed ports; {', '.join(zero)} has port 0")
    return arg


def _wait_status(pid: int) -> int | None:
    """The exit code of a child that ended (negative: killed by that signal), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return -1
    return None if done == 0 else os.waitstatus_to_exitcode(status)


def _describe(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


class Supervisor:
    """The parent: forks the workers, restarts those that die, forwards SIGTERM/SIGINT."""

    def __init__(self, config: Config, count: int, run: Callable[[Config, Worker], int]) -> None:
        self.config = config
        self.count = count
        self._run = run
        self.control_address = f"\0edgeport-{os.getpid()}-{secrets.token_hex(4)}-ctl".encode()
        self.control = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.control.bind(self.control_address)
        self.control.setblocking(False)
        # created before any fork: a restarted worker gets the same links
        self.links: list[dict[int, socket.socket]] = [{} for _ in range(count)]
        for i in range(count):
            for j in range(i + 1, count):
                self.links[i][j], self.links[j][i] = _link()
        self.pids: dict[int, int] = {}
        self.ready: set[int] = set()  # workers whose current process reported ready
        self.all_ready_logged = False
        self.failures = 0
        self.stopping = False
        self.exit_code = 0
        self._signals: list[Any] = []

    def run(self) -> int:
        signals = (signal.SIGTERM, signal.SIGINT)
        self._signals = [gevent.signal_handler(signum, self.stop) for signum in signals]
        log.info("EdgePort %s: starting %d workers", self.config.edge_port_ref, self.count)
        for index in range(self.count):
            self._spawn(index)
        return self._supervise()

    def stop(self, code: int | None = None) -> None:
        if not self.stopping:
            log.info("stopping %d workers", len(self.pids))
        self.stopping = True
        if code is not None:
            self.exit_code = code
        for pid in self.pids.values():
            _kill(pid, signal.SIGTERM)

    def worker_config(self, index: int) -> Config:
        ops = self.config.ops
        if ops.port == 0:
            return self.config
        return dataclasses.replace(self.config, ops=dataclasses.replace(ops, port=ops.port + index))

    def _spawn(self, index: int) -> None:
        config = self.worker_config(index)
        pid = fork_gevent()
        if pid == 0:  # the worker: never returns
            code = 1
            try:
                for handle in self._signals:
                    handle.cancel()
                for i, links in enumerate(self.links):
                    if i != index:
                        for link in links.values():
                            link.close()
                self.control.close()
                worker = Worker(index, self.count, self.links[index], self.control_address, config)
                code = self._run(config, worker)
                worker.report()
            except SystemExit as error:
                code = error.code if isinstance(error.code, int) else 1
            except BaseException:
                log.exception("worker %d failed", index)
            finally:
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.pids[index] = pid
        self.ready.discard(index)

    def _supervise(self) -> int:
        kill_at = None
        while True:
            self._read_control()
            for index, pid in list(self.pids.items()):
                code = _wait_status(pid)
                if code is not None:
                    del self.pids[index]
                    self._exited(index, pid, code)
            if self.stopping:
                if not self.pids:
                    log.info("all workers stopped")
                    return self.exit_code
                if kill_at is None:
                    kill_at = time.monotonic() + self.config.shutdown_grace_period + KILL_AFTER_GRACE
                elif time.monotonic() > kill_at:
                    log.warning("workers %s still running after the grace period: killing them",
                                sorted(self.pids.values()))
                    for pid in self.pids.values():
                        _kill(pid, signal.SIGKILL)
                    kill_at = time.monotonic() + KILL_AFTER_GRACE
            gevent.sleep(0.05)

    def _exited(self, index: int, pid: int, code: int) -> None:
        was_ready = index in self.ready
        self.ready.discard(index)
        if self.stopping:
            if code != 0:
                log.warning("worker %d (pid %d) ended with %s", index, pid, _describe(code))
                self.exit_code = self.exit_code or 1
            return
        if was_ready:
            log.warning("worker %d (pid %d) died (%s): restarting it", index, pid, _describe(code))
            self._spawn(index)
            return
        if code == EXIT_CONFIG:
            log.error("worker %d (pid %d) could not start (configuration): stopping", index, pid)
            self.stop(EXIT_CONFIG)
            return
        self.failures += 1
        if self.failures >= STARTUP_FAILURES:
            log.error("workers keep dying at start-up (%d in a row, last: worker %d, %s): stopping",
                      self.failures, index, _describe(code))
            self.stop(1)
            return
        log.warning("worker %d (pid %d) died at start-up (%s): restarting it", index, pid, _describe(code))
        gevent.sleep(0.5)
        self._spawn(index)

    def _read_control(self) -> None:
        while True:
            try:
                raw = self.control.recv(256)
            except (BlockingIOError, InterruptedError):
                return
            parts = raw.decode("ascii", "replace").split()
            if len(parts) != 3 or parts[0] != "ready" or not (parts[1] + parts[2]).isdigit():
                continue
            index, pid = int(parts[1]), int(parts[2])
            if self.pids.get(index) != pid:
                continue  # a process that has died since
            self.ready.add(index)
            self.failures = 0
            if self.all_ready_logged:
                log.info("worker %d (pid %d) ready again", index, pid)
            elif len(self.ready) == self.count:
                self.all_ready_logged = True
                pids = ", ".join(str(self.pids[i]) for i in range(self.count))
                log.info("EdgePort %s: all %d workers ready (pids %s)", self.config.edge_port_ref, self.count,
                         pids)


def _link() -> tuple[socket.socket, socket.socket]:
    """Two connected datagram sockets, non-blocking: a sender never waits for a busy peer."""
    pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for sock in pair:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, LINK_BUFFER)
        sock.setblocking(False)
    return pair


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def share_port(server: Any, stream: bool) -> None:
    """Give a gevent server (not started yet) a listening socket bound with SO_REUSEPORT."""
    sock = socket.socket(server.family, socket.SOCK_STREAM if stream else socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(server.address)
        if stream:
            sock.listen(getattr(server, "backlog", None) or 1024)
            sock.setblocking(False)
    except OSError as error:
        sock.close()
        raise OSError(error.errno, f"{error.strerror}: {server.address}") from error
    server.set_listener(sock)


class Worker:
    """One worker's side of the hand-offs (see the module docstring); `attach` it to its app."""

    def __init__(self, index: int, count: int, links: dict[int, socket.socket], control_address: bytes,
                 config: Config) -> None:
        self.index = index
        self.count = count
        self.links = links  # peer worker -> our end of the link to it (non-blocking)
        self.peers = sorted(links)
        self.control_address = control_address
        self.max_size = max(config.limits.max_message_size, 65535) + 1024
        self.directory: dict[tuple[str, str, int], int] = {}  # connections the other workers accepted
        self.counts: Counter[tuple[str, str]] = Counter()
        self.dropped = 0
        self.app: Any = None
        self.udp: Any = None
        self._readers: list[gevent.Greenlet] = []

    # -- set-up ----------------------------------------------------------------------------------
    def attach(self, app: Any) -> None:
        """Wire this worker into a built (not started) EdgePortApp; binds the shared ports."""
        _tag_log_lines(self.index)
        routing.BRANCH_PREFIX = handoff.branch_prefix(self.index)
        app.udp_probe_payload = handoff.probe_payload(self.index)
        self.app = app
        for transport in app.transports():
            share_port(transport._server, stream=transport.transport != "UDP")
            if transport.transport == "UDP":
                transport._server.divert = self._divert
                self.udp = transport
            else:
                transport._handler = self._stream_handler(transport._handler)
        app.network.relay = self._relay
        app.network.table.watch = self._watch
        app.metrics.registry.register(_HandoffCollector(self))
        self._broadcast(handoff.encode("F", self.index))  # a restarted worker's old connections are gone
        self._readers = [gevent.spawn(self._read_link, link) for link in self.links.values()]

    def ready(self) -> None:
        log.info("worker %d (pid %d) ready", self.index, os.getpid())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(f"ready {self.index} {os.getpid()}".encode(), self.control_address)
        except OSError as error:
            log.warning("could not tell the parent this worker is ready: %s", error)

    def report(self) -> None:
        sent = sum(n for (direction, _), n in self.counts.items() if direction == "sent")
        received = sum(n for (direction, _), n in self.counts.items() if direction == "received")
        detail = ", ".join(f"{d} {k} {n}" for (d, k), n in sorted(self.counts.items()))
        log.info("worker %d hand-offs: %d sent, %d received, %d not delivered (%s)", self.index, sent,
                 received, self.dropped, detail or "none")

    # -- out -------------------------------------------------------------------------------------
    def _hand(self, worker: int, payload: bytes, kind: str) -> bool:
        try:
            self.links[worker].send(payload)
        except OSError as error:  # the link is full (the peer is restarting?), or the message is too big
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("hand-off to worker %d failed (%s): handled here instead; %d so far", worker,
                            error, self.dropped)
            return False
        self.counts["sent", kind] += 1
        return True

    def _broadcast(self, payload: bytes) -> None:
        for peer in self.peers:
            self._hand(peer, payload, "directory")

    def _divert(self, data: bytes, address: tuple) -> bytes | None:
        """UDP read loop: None when the datagram went to another worker, else what to handle here."""
        if data[:8] == b"SIP/2.0 ":
            owner = handoff.peek_worker(data)
            if owner is None or owner == self.index or owner >= self.count:
                return data
            message = handoff.encode("M", "UDP", address[0], address[1], self.udp.port, data=data)
            return None if self._hand(owner, message, "response") else data
        if data[:5] == handoff.PROBE_MARK:
            owner = handoff.probe_worker(data)
            if owner is None or owner >= self.count:
                return data
            if owner == self.index:
                return KEEPALIVE
            message = handoff.encode("M", "UDP", address[0], address[1], self.udp.port, data=KEEPALIVE)
            return None if self._hand(owner, message, "probe") else KEEPALIVE
        return data

    def _stream_handler(self, handler: Callable[[bytes, Flow], None]) -> Callable[[bytes, Flow], None]:
        def handle(data: bytes, flow: Flow) -> None:
            if data[:8] == b"SIP/2.0 ":
                owner = handoff.peek_worker(data)
                if owner is not None and owner != self.index and owner < self.count:
                    message = handoff.encode("M", flow.transport, flow.remote[0], flow.remote[1],
                                             flow.local_port, data=data)
                    if self._hand(owner, message, "response"):
                        return
            handler(data, flow)

        return handle

    def _relay(self, target: Target, data: bytes) -> bool:
        owner = self.directory.get((target.transport, target.host, target.port))
        if owner is None:
            return False
        return self._hand(owner, handoff.encode("S", target.transport, target.host, target.port, data=data),
                          "send")

    def _watch(self, conn: Any, added: bool) -> None:
        if getattr(conn, "outbound", False) or not self.peers:
            return
        kind = "C" if added else "D"
        self._broadcast(handoff.encode(kind, self.index, conn.transport, conn.remote[0], conn.remote[1]))

    # -- in --------------------------------------------------------------------------------------
    def _read_link(self, link: socket.socket) -> None:
        bad = 0
        while True:
            try:
                wait_read(link.fileno())
                while True:  # drain what is queued
                    try:
                        raw = link.recv(self.max_size)
                    except BlockingIOError:
                        break
                    try:
                        self._on_handoff(handoff.decode(raw))
                    except (ValueError, IndexError) as error:
                        bad += 1
                        if bad % 1000 == 1:
                            log.warning("ignored a malformed hand-off (%s); %d so far", error, bad)
            except OSError as error:
                log.warning("hand-off link read failed: %s", error)
                gevent.sleep(0.1)

    def _on_handoff(self, msg: handoff.HandOff) -> None:
        kind, fields = msg.kind, msg.fields
        pool = self.app.pool
        if kind == "M":
            transport, host, port, local = fields[0], fields[1], int(fields[2]), int(fields[3])
            self.counts["received", "response" if msg.data[:1] == b"S" else "probe"] += 1
            if transport == "UDP" and self.udp is not None:
                pool.spawn(self.udp._on_datagram, msg.data, (host, port))
            else:
                pool.spawn(self.app.edge.handle, msg.data, Flow(transport, (host, port), local))
        elif kind == "S":
            self.counts["received", "send"] += 1
            pool.spawn(self._send_here, Target(fields[0], fields[1], int(fields[2])), msg.data)
        elif kind in ("C", "D"):
            self.counts["received", "directory"] += 1
            worker, key = int(fields[0]), (fields[1], fields[2], int(fields[3]))
            if kind == "C":
                self.directory[key] = worker
            elif self.directory.get(key) == worker:
                del self.directory[key]
        elif kind == "F":
            self.counts["received", "directory"] += 1
            worker = int(fields[0])
            for key in [key for key, owner in self.directory.items() if owner == worker]:
                del self.directory[key]

    def _send_here(self, target: Target, data: bytes) -> None:
        try:
            self.app.network.send(target, data, relay=False)
        except SendError as error:
            log.info("could not send for another worker to %s: %s", target, error)


class _HandoffCollector(Collector):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def collect(self):
        family = CounterMetricFamily("edgeport_worker_handoffs", "Messages passed between workers",
                                     labels=["direction", "kind"])
        for (direction, kind), count in sorted(self.worker.counts.items()):
            family.add_metric([direction, kind], count)
        yield family
        dropped = CounterMetricFamily("edgeport_worker_handoffs_failed",
                                      "Hand-offs that could not be delivered (handled locally)")
        dropped.add_metric([], self.worker.dropped)
        yield dropped


def _tag_log_lines(index: int) -> None:
    def tag(record: logging.LogRecord) -> bool:
        record.worker = index
        return True

    for handler in logging.getLogger().handlers:
        handler.addFilter(tag)
