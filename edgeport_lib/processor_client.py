"""The EdgePort's gRPC client for a Routr processor (or the dispatcher in front of several).

The EdgePort runs under gevent. Its entry point sets ``GRPC_ENABLE_FORK_SUPPORT=0`` before
importing grpc, then calls ``gevent.monkey.patch_all()`` and
``grpc.experimental.gevent.init_gevent()`` before any gRPC object exists, and gives gRPC the
native threads its blocking calls wait in (grpc_waits.py: no cap of 10). This module does
not do that itself; it only makes sure no channel exists before the first call, so the
channel is created after the entry point's setup (and after any fork).

Failure policy: calls never wait for the processor to come up (no ``wait_for_ready``). When
the channel cannot connect, gRPC fails the call at once with UNAVAILABLE; a call that does
reach a processor is bounded by its deadline. Every failure becomes ``ProcessorUnavailable``,
and the log gets one WARNING when an outage starts and one INFO when it ends.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import grpc

from .protocol import processor_pb2, processor_pb2_grpc

log = logging.getLogger(__name__)

# Round robin over every address the resolver returns (dns:///dispatcher:51901 may resolve
# to several pods); the service config form wins over a DNS-provided one.
_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})

CHANNEL_OPTIONS: list[tuple[str, str | int]] = [
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.service_config", _SERVICE_CONFIG),
    # Keepalive pings only while calls are in flight: servers (C-core, grpc-js) treat pings
    # on an idle connection as abuse and answer with GOAWAY "too_many_pings".
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 0),
    # Quick recovery: retry the connection at most every 2 s, give up a connect attempt
    # after 1 s, and re-resolve DNS soon after a backend goes away.
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 1_000),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.dns_min_time_between_resolutions_ms", 1_000),
    # The processor is an internal service: never go through an HTTP proxy from the env.
    ("grpc.enable_http_proxy", 0),
    ("grpc.primary_user_agent", "edgeport"),
]


class ProcessorUnavailable(Exception):
    """The processor could not answer: unreachable, too slow, or it failed the call."""

    def __init__(self, reason: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class ProcessorClient:
    """Calls ``Processor/ProcessMessage`` on ``target`` with a deadline of ``timeout`` seconds.

    ``target`` is anything gRPC accepts: ``host:port``, ``dns:///name:port``, ``ipv4:...``.
    """

    def __init__(self, target: str, timeout: float = 5.0) -> None:
        self.target = target
        self.timeout = timeout
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stub: processor_pb2_grpc.ProcessorStub | None = None
        self._closed = False
        self._healthy = True  # no failure seen yet
        self._last_success: float | None = None
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Calls sent and not answered (or failed) yet."""
        return self._in_flight

    @property
    def healthy(self) -> bool:
        """True when the last call succeeded (and before the first call)."""
        return self._healthy

    @property
    def last_success(self) -> float | None:
        """``time.monotonic()`` of the last successful call, None before the first one."""
        return self._last_success

    def process(
        self, request: processor_pb2.MessageRequest, timeout: float | None = None
    ) -> processor_pb2.MessageResponse:
        """Send one message to the processor; raise ``ProcessorUnavailable`` on any failure."""
        stub = self._get_stub()
        self._in_flight += 1
        try:
            response = stub.ProcessMessage(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            details = error.details() if hasattr(error, "details") else str(error)
            reason = f"{code.name if code else 'ERROR'}: {details}"
            self._record_failure(reason)
            raise ProcessorUnavailable(reason, code) from error
        except Exception as error:  # serialization bugs, channel closed under us, ...
            reason = f"{type(error).__name__}: {error}"
            self._record_failure(reason)
            raise ProcessorUnavailable(reason) from error
        finally:
            self._in_flight -= 1
        self._record_success()
        return response

    def close(self) -> None:
        """Close the channel; later calls raise ``ProcessorUnavailable``."""
        with self._lock:
            self._closed = True
            channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            channel.close()

    def _get_stub(self) -> processor_pb2_grpc.ProcessorStub:
        stub = self._stub
        if stub is not None:  # the common case, without the lock (gevent's is pure Python)
            return stub
        with self._lock:
            if self._closed:
                raise ProcessorUnavailable("client closed")
            if self._stub is None:
                self._channel = grpc.insecure_channel(self.target, options=CHANNEL_OPTIONS)
                self._stub = processor_pb2_grpc.ProcessorStub(self._channel)
            return self._stub

    def _record_failure(self, reason: str) -> None:
        with self._lock:
            outage_starts = self._healthy
            self._healthy = False
        if outage_starts:
            log.warning("processor %s unreachable: %s", self.target, reason)
        else:
            log.debug("processor %s still unreachable: %s", self.target, reason)

    def _record_success(self) -> None:
        if self._healthy:  # nothing changes state: no lock
            self._last_success = time.monotonic()
            return
        with self._lock:
            outage_ends = not self._healthy
            self._healthy = True
            self._last_success = time.monotonic()
        if outage_ends:
            log.info("processor %s reachable again", self.target)
