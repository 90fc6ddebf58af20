"""Prometheus metrics for the EdgePort, in a dedicated ``CollectorRegistry``.

The hot-path methods only bump plain ``int``/``float`` values in dicts and lists (safe between
greenlets: they never yield); a custom collector turns them into Prometheus counters, gauges and
a histogram when ``/metrics`` is scraped. prometheus-client's own ``Counter.inc`` costs about
1 microsecond under gevent (its lock becomes a gevent lock), this about a tenth of that.

Label values are bounded: transports outside UDP/TCP/TLS/WS/WSS/SCTP, methods outside the
standard SIP methods, status codes outside 1xx-6xx and unknown error reasons become "other".

Metric names (all prefixed ``edgeport_``)::

    edgeport_sip_messages_received_total{transport,kind,method,status_class}
    edgeport_sip_messages_sent_total{transport,kind,method,status_class}
        kind: request|response; method: request method, or the CSeq method of a response;
        status_class: 1xx..6xx for responses, "" (no label) for requests
    edgeport_sip_parse_errors_total{transport}
    edgeport_sip_overload_total{transport,action}    maxInFlight reached: rejected (503) | dropped | waited;
                                                      maxProcessorDelay passed: rejected_slow (503)
    edgeport_sip_retransmissions_total{direction}     sent (our timers) | received (duplicates)
    edgeport_sip_timeouts_total{timer}                B, F: a next hop silent (408) | C: an INVITE
                                                      ringing too long (CANCEL; again when that is
                                                      not answered either: 408) | H: no ACK came
    edgeport_processor_call_seconds (histogram)       every call, failed ones included
    edgeport_processor_errors_total{reason}           gRPC status name in lower case, or other
    edgeport_transactions_open                        gauge, from bind_gauges(transactions=...)
    edgeport_connections_open                         gauge, from bind_gauges(connections=...)
    edgeport_greenlets                                gauge, from bind_gauges(greenlets=...)
    edgeport_processor_calls_in_flight                gauge, from bind_gauges(processor_calls=...):
                                                      calls sent and not answered yet (a processor
                                                      that hangs shows here before any deadline)
    edgeport_events_published_total                   from bind_events(stats)
    edgeport_events_dropped_total                     from bind_events(stats)
"""

from __future__ import annotations

import gc
import logging
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from greenlet import greenlet
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ..sip.message import SentResponse

log = logging.getLogger(__name__)

SIP_METHODS = frozenset({
    "ACK", "BYE", "CANCEL", "INFO", "INVITE", "MESSAGE", "NOTIFY", "OPTIONS", "PRACK", "PUBLISH",
    "REFER", "REGISTER", "SUBSCRIBE", "UPDATE",
})
TRANSPORTS = {name: name.lower() for name in ("UDP", "TCP", "TLS", "WS", "WSS", "SCTP")}
TRANSPORTS.update({label: label for label in list(TRANSPORTS.values())})
STATUS_CLASSES = {n: f"{n}xx" for n in range(1, 7)}
DIRECTIONS = frozenset({"sent", "received"})
TIMEOUT_TIMERS = frozenset({"B", "C", "F", "H"})
# gRPC status codes (grpc.StatusCode names, lower case) and the EdgePort's own reasons.
ERROR_REASONS = frozenset({
    "cancelled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
    "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
    "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated",
    "invalid_response", "client_closed", "other",
})
PROCESSOR_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# fine enough to read a p50 of ~100 us and a p99 of a few ms off the buckets
HANDLING_BUCKETS = (0.000025, 0.00005, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015,
                    0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1)

_MESSAGE_LABELS = ["transport", "kind", "method", "status_class"]
_Key = tuple[str, str, str, str]


def error_reason(error: object) -> str:
    """A bounded label for a processor failure: an exception with a gRPC ``code``, or a string."""
    if isinstance(error, str) and error in ERROR_REASONS:
        return error
    code = getattr(error, "code", None)
    name = getattr(code, "name", None)
    if isinstance(name, str):
        reason = name.lower()
    elif isinstance(error, str):
        reason = error.strip().lower().replace(" ", "_").replace("-", "_")
    else:
        reason = "other"
    return reason if reason in ERROR_REASONS else "other"


def message_labels(transport: str, msg: Any) -> _Key:
    """(transport, kind, method, status_class) of a ``SipMessage``, with bounded values."""
    t = TRANSPORTS.get(transport, "other")
    method = msg.method
    if method is not None:
        return t, "request", method if method in SIP_METHODS else "other", ""
    status = msg.status or 0
    cls = STATUS_CLASSES.get(status // 100, "other")
    if isinstance(msg, SentResponse):
        method = msg.cseq_method
    else:
        method = "other"
        for header in msg.headers:  # the CSeq method, without parsing the number
            if header.name == "CSeq":
                method = header.value.rpartition(" ")[2]
                if method not in SIP_METHODS:
                    method = method.strip().upper()
                break
    return t, "response", method if method in SIP_METHODS else "other", cls


# (transport as given, method) -> labels, for the common case of a request: no work but lookups
_REQUEST_KEYS: dict[str, dict[str, _Key]] = {
    given: {method: (label, "request", method, "") for method in SIP_METHODS}
    for given, label in TRANSPORTS.items()
}


def _labels(transport: str, msg: Any) -> _Key:
    method = msg.method
    if method is not None:
        try:
            return _REQUEST_KEYS[transport][method]
        except KeyError:
            pass
    return message_labels(transport, msg)


class Metrics:
    """Counters the edge core bumps on the hot path; exposed through ``self.registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._received: dict[_Key, int] = {}
        self._sent: dict[_Key, int] = {}
        self._parse_errors: dict[str, int] = {}
        self._overload: dict[tuple[str, str], int] = {}
        self._retransmissions: dict[str, int] = {}
        self._timeouts: dict[str, int] = {}
        self._processor_buckets = [0] * (len(PROCESSOR_BUCKETS) + 1)  # last one: above every bound
        self._processor_sum = 0.0
        self._processor_errors: dict[str, int] = {}
        self._handling_buckets = [0] * (len(HANDLING_BUCKETS) + 1)
        self._handling_sum = 0.0
        self._transactions: Callable[[], Any] | None = None
        self._connections: Callable[[], Any] | None = None
        self._greenlets: Callable[[], Any] | None = None
        self._processor_calls: Callable[[], Any] | None = None
        self._events: Callable[[], Mapping[str, Any]] | None = None
        self.registry.register(_Collector(self))

    # -- hot path -----------------------------------------------------------------------------
    def received(self, transport: str, msg: Any) -> None:
        """A SIP message was received (and parsed) on ``transport`` ("UDP", "TCP", ...)."""
        key = _labels(transport, msg)
        counts = self._received
        counts[key] = counts.get(key, 0) + 1

    def sent(self, transport: str, msg: Any) -> None:
        """A SIP message was sent on ``transport``."""
        key = _labels(transport, msg)
        counts = self._sent
        counts[key] = counts.get(key, 0) + 1

    def parse_error(self, transport: str) -> None:
        """Received bytes were not a SIP message."""
        t = TRANSPORTS.get(transport, "other")
        self._parse_errors[t] = self._parse_errors.get(t, 0) + 1

    def overload(self, transport: str, action: str) -> None:
        """Every worker greenlet was busy: a request "rejected" with 503, a datagram "dropped", or
        a stream's message that "waited" for a free greenlet. Or the processor answered slowly: a
        new request "rejected_slow" with 503."""
        key = (TRANSPORTS.get(transport, "other"), action)
        self._overload[key] = self._overload.get(key, 0) + 1

    def retransmission(self, direction: str = "sent") -> None:
        """A retransmission: "sent" by our timers, or "received" (a duplicate absorbed)."""
        d = direction if direction in DIRECTIONS else "other"
        self._retransmissions[d] = self._retransmissions.get(d, 0) + 1

    def timeout(self, timer: str) -> None:
        """A transaction timer fired with no answer (see the module docstring)."""
        t = timer if timer in TIMEOUT_TIMERS else "other"
        self._timeouts[t] = self._timeouts.get(t, 0) + 1

    def processor_call(self, seconds: float, error: object = None) -> None:
        """One processor call took ``seconds``; ``error`` is None, an exception or a reason."""
        self._processor_buckets[bisect_left(PROCESSOR_BUCKETS, seconds)] += 1
        self._processor_sum += seconds
        if error is not None:
            reason = error_reason(error)
            self._processor_errors[reason] = self._processor_errors.get(reason, 0) + 1

    def handling(self, seconds: float) -> None:
        """EdgePort's own time for one received message: its handling minus processor calls."""
        self._handling_buckets[bisect_left(HANDLING_BUCKETS, seconds)] += 1
        self._handling_sum += seconds

    # -- read at scrape time ------------------------------------------------------------------
    def bind_gauges(
        self,
        transactions: Callable[[], Any] | None = None,
        connections: Callable[[], Any] | None = None,
        greenlets: Callable[[], Any] | None = None,
        processor_calls: Callable[[], Any] | None = None,
    ) -> None:
        """Callables read at each scrape: a number, or a mapping ``{kind: number}`` (label ``kind``)."""
        if transactions is not None:
            self._transactions = transactions
        if connections is not None:
            self._connections = connections
        if greenlets is not None:
            self._greenlets = greenlets
        if processor_calls is not None:
            self._processor_calls = processor_calls

    def bind_events(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        """``stats()`` returns running totals ``{"published": n, "dropped": m}`` of the event bus."""
        self._events = stats


def live_greenlets() -> int:
    """Greenlets alive now: a walk over the collector's objects (a few ms), so at scrape time only."""
    return sum(1 for obj in gc.get_objects() if isinstance(obj, greenlet) and not obj.dead)


class _Collector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def describe(self) -> Iterator[Metric]:
        yield from self._families(samples=False)

    def collect(self) -> Iterator[Metric]:
        yield from self._families(samples=True)

    def _families(self, samples: bool) -> Iterator[Metric]:
        m = self.m
        for name, counts, what in (
            ("edgeport_sip_messages_received", m._received, "SIP messages received"),
            ("edgeport_sip_messages_sent", m._sent, "SIP messages sent"),
        ):
            family = CounterMetricFamily(name, f"{what}, by transport, kind, method and status class.",
                                         labels=_MESSAGE_LABELS)
            if samples:
                for key, value in sorted(counts.copy().items()):
                    family.add_metric(list(key), value)
            yield family

        family = CounterMetricFamily("edgeport_sip_parse_errors",
                                     "Received bytes that were not a SIP message.", labels=["transport"])
        if samples:
            for transport, value in sorted(m._parse_errors.copy().items()):
                family.add_metric([transport], value)
        yield family

        family = CounterMetricFamily("edgeport_sip_overload",
                                     "Messages met by a full worker pool (spec.limits.maxInFlight).",
                                     labels=["transport", "action"])
        if samples:
            for key, value in sorted(m._overload.copy().items()):
                family.add_metric(list(key), value)
        yield family

        yield _counter_by("edgeport_sip_retransmissions",
                          "Retransmissions: sent by our transaction timers, or received duplicates absorbed.",
                          "direction", m._retransmissions, DIRECTIONS, samples)
        yield _counter_by("edgeport_sip_timeouts",
                          "Transaction timers that fired with no answer: B, F (next hop silent), "
                          "C (INVITE rang too long: CANCEL sent), H (no ACK).",
                          "timer", m._timeouts, TIMEOUT_TIMERS, samples)

        yield _histogram("edgeport_processor_call_seconds",
                         "Duration of processor calls, failed ones included.",
                         PROCESSOR_BUCKETS, m._processor_buckets, m._processor_sum, samples)
        yield _histogram("edgeport_message_handling_seconds",
                         "EdgePort's own time per received message, processor calls excluded.",
                         HANDLING_BUCKETS, m._handling_buckets, m._handling_sum, samples)

        family = CounterMetricFamily("edgeport_processor_errors", "Failed processor calls, by reason.",
                                     labels=["reason"])
        if samples:
            for reason, value in sorted(m._processor_errors.copy().items()):
                family.add_metric([reason], value)
        yield family

        for name, fn, what in (
            ("edgeport_transactions_open", m._transactions, "Open SIP transactions."),
            ("edgeport_connections_open", m._connections, "Open connections (TCP, TLS, WS, WSS)."),
            ("edgeport_greenlets", m._greenlets, "Greenlets at work (messages, timers, connections)."),
            ("edgeport_processor_calls_in_flight", m._processor_calls,
             "Processor calls sent and not answered yet."),
        ):
            if fn is None:
                continue
            if not samples:
                yield GaugeMetricFamily(name, what)
                continue
            family = _gauge(name, what, fn)
            if family is not None:
                yield family

        if m._events is not None:
            stats = _read("edgeport_events", m._events) if samples else None
            for key, what in (("published", "Events published on the event bus."),
                              ("dropped", "Events the event bus dropped.")):
                family = CounterMetricFamily(f"edgeport_events_{key}", what)
                value = stats.get(key) if isinstance(stats, Mapping) else None
                if value is not None:
                    try:
                        family.add_metric([], float(value))
                    except (TypeError, ValueError):
                        log.warning("event stats %s is %r, not a number", key, value)
                yield family


def _counter_by(name: str, what: str, label: str, counts: dict[str, int], always: frozenset[str],
                samples: bool) -> CounterMetricFamily:
    """A counter with one label; the values in `always` are shown at 0 before their first count."""
    family = CounterMetricFamily(name, what, labels=[label])
    if samples:
        counts = counts.copy()
        for value in sorted(always | counts.keys()):
            family.add_metric([value], counts.get(value, 0))
    return family


def _histogram(name: str, what: str, bounds, counts: list[int], total: float, samples: bool):
    family = HistogramMetricFamily(name, what)
    if samples:
        counts = list(counts)
        cumulative, buckets = 0, []
        for bound, count in zip(bounds, counts, strict=False):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))
        buckets.append(("+Inf", cumulative + counts[-1]))
        family.add_metric([], buckets, total)
    return family


def _gauge(name: str, what: str, fn: Callable[[], Any]) -> GaugeMetricFamily | None:
    """The gauge from a callback's number or ``{kind: number}``; None when the callback fails."""
    value = _read(name, fn)
    try:
        if isinstance(value, Mapping):
            family = GaugeMetricFamily(name, what, labels=["kind"])
            for kind, v in sorted(value.items()):
                family.add_metric([str(kind)], float(v))
            return family
        if value is not None:
            return GaugeMetricFamily(name, what, value=float(value))
    except (TypeError, ValueError):
        log.warning("metrics callback for %s returned %r, not a number", name, value)
    return None


def _read(name: str, fn: Callable[[], Any]) -> Any:
    """Call a scrape-time callback; a failing one leaves its metric out of this scrape."""
    try:
        return fn()
    except Exception:
        log.warning("metrics callback for %s failed", name, exc_info=True)
        return None
