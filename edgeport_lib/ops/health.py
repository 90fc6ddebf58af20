"""Health checks: named callables aggregated into one verdict, plus listener heartbeats and probes.

A check is any callable taking no argument that returns ``None`` when its part is fine and a
short reason string when it is not. ``Health`` runs them all for ``GET /healthz``.

Listener heartbeats (why: Routr's health endpoint stayed green while its SIP thread was dead):

* A ``Heartbeat`` remembers when its listener last proved it was working (``beat()``); its
  ``check`` fails once no beat has come for ``max_age`` seconds (also right after creation, if
  the first beat never comes).
* UDP: the transport's handler is wrapped with ``heartbeat.wrap_handler(handler)``. The wrapper
  runs in the worker-pool greenlet that gevent spawns for each datagram, so it beats only when
  the receive loop read a datagram *and* the pool had room to run it. ``start_udp_probe`` sends
  a 4-byte ``b"\\r\\n\\r\\n"`` keep-alive to the listener every ``interval`` seconds so there is
  traffic even when the phones are quiet; the wrapper counts it and swallows it (a datagram of
  nothing but CR/LF is a keep-alive, never given to the SIP handler). When the pool is
  exhausted gevent stops reading the socket, so no beat comes and the check turns red within
  ``max_age`` seconds; it turns green again with the first datagram read after that.
* TCP: ``start_tcp_probe`` opens a connection every ``interval`` seconds, sends the RFC 5626
  double-CRLF ping and beats when the single-CRLF pong comes back within ``timeout``. That proves
  the accept loop, a reader greenlet and the send path work. A TCP listener does not use the pool
  for pings, so pair it with ``start_pool_probe`` (which beats from inside a pool greenlet) when
  no UDP listener shares the pool.
* A blocked gevent hub (a CPU loop, a blocking call in C) stops everything, the HTTP server
  included: ``/livez`` then stops answering and the orchestrator's liveness probe restarts us.

Probe failures (connection refused, pool full, no pong) are kept in ``heartbeat.last_error``
and appear in the check's reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import gevent
from gevent import socket

from ..transports.pool import MessagePool

log = logging.getLogger(__name__)

Check = Callable[[], "str | None"]
KEEPALIVE = b"\r\n\r\n"
DEFAULT_INTERVAL = 1.0
DEFAULT_MAX_AGE = 5.0


class Health:
    """Named checks; ``failing()`` runs them all and returns ``{name: reason}`` of the failing ones."""

    def __init__(self, check_timeout: float = 1.0) -> None:
        self.check_timeout = check_timeout
        self._checks: dict[str, Check] = {}

    def add_check(self, name: str, fn: Check) -> None:
        """Register ``fn`` under ``name`` (unique): None means OK, a string is the reason it fails."""
        if name in self._checks:
            raise ValueError(f"health check {name!r} already registered")
        self._checks[name] = fn

    def remove_check(self, name: str) -> None:
        self._checks.pop(name, None)

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    def failing(self) -> dict[str, str]:
        """Run every check; one that raises, or yields for longer than ``check_timeout``, fails."""
        failing: dict[str, str] = {}
        for name, fn in list(self._checks.items()):
            reason = self._run(name, fn)
            if reason is not None:
                failing[name] = reason
        return failing

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, body): ``{"status": "OK"}`` or ``{"status": "FAIL", "failing": {...}}``."""
        failing = self.failing()
        if not failing:
            return True, {"status": "OK"}
        return False, {"status": "FAIL", "failing": failing}

    def _run(self, name: str, fn: Check) -> str | None:
        timer = gevent.Timeout(self.check_timeout)
        timer.start()
        try:
            reason = fn()
        except gevent.Timeout as error:
            if error is not timer:
                raise
            return f"check timed out after {self.check_timeout:g} s"
        except Exception as error:
            log.warning("health check %s raised", name, exc_info=True)
            return f"check raised {type(error).__name__}: {error}"
        finally:
            timer.close()
        return None if reason is None else str(reason)


class _ProcessorLike(Protocol):
    @property
    def healthy(self) -> bool: ...

    @property
    def last_success(self) -> float | None: ...


def processor_check(client: _ProcessorLike, clock: Callable[[], float] = time.monotonic) -> Check:
    """A check that fails while ``client.healthy`` is false (a ``ProcessorClient``).

    The client learns about an outage from failed calls only: with no SIP traffic, a processor
    that went away is not noticed until the next call.
    """

    def check() -> str | None:
        if client.healthy:
            return None
        last = client.last_success
        if last is None:
            return "unreachable (no successful call yet)"
        return f"unreachable (last success {clock() - last:.0f} s ago)"

    return check


class Heartbeat:
    """When a listener last proved it works. ``beat()`` is cheap; ``check()`` is a health check."""

    def __init__(self, max_age: float = DEFAULT_MAX_AGE, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self.last_beat = clock()  # the first beat is due within max_age of creation
        self.last_error: str | None = None

    def beat(self) -> None:
        self.last_beat = self._clock()

    def age(self) -> float:
        return self._clock() - self.last_beat

    def check(self) -> str | None:
        age = self.age()
        if age <= self.max_age:
            return None
        reason = f"stalled: no heartbeat for {age:.0f} s"
        if self.last_error:
            reason += f" (probe: {self.last_error})"
        return reason

    def wrap_handler(self, handler: Callable[[bytes, Any], None]) -> Callable[[bytes, Any], None]:
        """``handler(data, flow)`` that beats first and swallows CR/LF-only keep-alives."""
        beat = self.beat

        def handle(data: bytes, flow: Any) -> None:
            beat()
            if not data.lstrip(b"\r\n"):
                return  # keep-alive (ours or a phone's): nothing for the SIP core
            handler(data, flow)

        return handle


def probe_host(bind_addr: str) -> str:
    """The address a local probe should send to for a listener bound to ``bind_addr``."""
    if bind_addr in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind_addr in ("::", "[::]"):
        return "::1"
    return bind_addr.strip("[]")


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def start_udp_probe(
    heartbeat: Heartbeat, host: str, port: int, interval: float = DEFAULT_INTERVAL, payload: bytes = KEEPALIVE
) -> gevent.Greenlet:
    """Send ``b"\\r\\n\\r\\n"`` to ``host:port`` every ``interval`` s; the wrapped handler beats.

    With workers, ``payload`` names the worker (edgeport_lib/handoff.py), whichever gets it.

    Kill the returned greenlet to stop probing.
    """

    def run() -> None:
        sock = socket.socket(_family(host), socket.SOCK_DGRAM)
        try:
            while True:
                try:
                    sock.sendto(payload, (host, port))
                except OSError as error:
                    heartbeat.last_error = f"send failed: {error}"
                gevent.sleep(interval)
        finally:
            sock.close()

    return gevent.spawn(run)


def tcp_ping(host: str, port: int, timeout: float) -> None:
    """Connect, send the double-CRLF ping, wait for the CRLF pong; raise OSError/Timeout on failure."""
    with gevent.Timeout(timeout, TimeoutError(f"no pong within {timeout:g} s")):
        conn = socket.create_connection((host, port))
        try:
            conn.sendall(KEEPALIVE)
            received = b""
            while b"\r\n" not in received:
                chunk = conn.recv(64)
                if not chunk:
                    raise ConnectionError("connection closed before the pong")
                received += chunk
        finally:
            conn.close()


def start_tcp_probe(
    heartbeat: Heartbeat, host: str, port: int, interval: float = DEFAULT_INTERVAL, timeout: float = 2.0
) -> gevent.Greenlet:
    """Every ``interval`` s, a fresh connection to ``host:port`` with a ping; beat on the pong."""

    def run() -> None:
        while True:
            try:
                tcp_ping(host, port, timeout)
            except (OSError, TimeoutError) as error:
                heartbeat.last_error = str(error) or type(error).__name__
            else:
                heartbeat.beat()
            gevent.sleep(interval)

    return gevent.spawn(run)


def start_pool_probe(
    heartbeat: Heartbeat, pool: MessagePool, interval: float = DEFAULT_INTERVAL
) -> gevent.Greenlet:
    """Every ``interval`` s, run ``heartbeat.beat`` in a ``pool`` greenlet (waits for a free slot)."""

    def run() -> None:
        while True:
            if not pool.try_spawn(heartbeat.beat, timeout=interval):
                heartbeat.last_error = "worker pool full"
            gevent.sleep(interval)

    return gevent.spawn(run)


def start_probe(
    heartbeat: Heartbeat, transport: str, host: str, port: int, interval: float = DEFAULT_INTERVAL,
    payload: bytes = KEEPALIVE,
) -> gevent.Greenlet:
    """``start_udp_probe`` or ``start_tcp_probe`` by transport name ("udp"/"tcp", any case)."""
    kind = transport.lower()
    if kind == "udp":
        return start_udp_probe(heartbeat, host, port, interval, payload)
    if kind == "tcp":
        return start_tcp_probe(heartbeat, host, port, interval)
    raise ValueError(f"no listener probe for {transport} (use start_pool_probe)")


def grpc_target_address(target: str) -> tuple[str, int] | None:
    """The first host and port of a gRPC target (`host:port`, `dns:///host:port`, `ipv4:a:p,...`)."""
    rest = target
    for prefix in ("dns:///", "dns:", "ipv4:", "ipv6:"):
        if rest.startswith(prefix):
            rest = rest[len(prefix) :]
            break
    if "/" in rest:  # dns://authority/host:port
        rest = rest.rsplit("/", 1)[1]
    rest = rest.split(",")[0]
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def start_connect_probe(
    heartbeat: Heartbeat, host: str, port: int, interval: float = DEFAULT_INTERVAL, timeout: float = 1.0
) -> gevent.Greenlet:
    """Every ``interval`` s, open (and close) a TCP connection to ``host:port``; beat when it opens.

    For the processor: its client only learns of an outage from failed calls, so without this a
    processor that died while no SIP traffic flowed would leave /healthz green.
    """

    def run() -> None:
        while True:
            try:
                socket.create_connection((host, port), timeout=timeout).close()
            except OSError as error:
                heartbeat.last_error = str(error) or type(error).__name__
            else:
                heartbeat.beat()
            gevent.sleep(interval)

    return gevent.spawn(run)
