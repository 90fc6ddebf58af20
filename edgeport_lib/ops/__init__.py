"""Operations: health checks, Prometheus metrics, the HTTP server for both, and logging set-up.

Wiring in the app (gevent is already patched; names from this package)::

    setup_logging()                          # first: $LOGS_LEVEL / $LOGS_FORMAT, secrets redacted

    metrics = Metrics()                      # always: the hot-path calls cost ~0.1-0.5 us
    metrics.bind_gauges(transactions=lambda: {"server": len(edge.servers), "client": len(edge.clients)},
                        connections=lambda: len(network.table))
    metrics.bind_events(bus.stats)           # stats() -> {"published": n, "dropped": m}

    health = Health()
    health.add_check("processor", processor_check(processor_client))

    # UDP: wrap the handler *before* building the transport, probe once it is bound
    udp_beat = Heartbeat(max_age=5.0)
    udp = UdpTransport(bind, port, udp_beat.wrap_handler(edge.handle), pool)
    ... udp.start()
    health.add_check(f"udp {bind}:{udp.port}", udp_beat.check)
    probes = [start_probe(udp_beat, "udp", probe_host(bind), udp.port)]

    # TCP: the probe connects and pings; the pool probe covers the worker pool
    tcp_beat = Heartbeat()
    health.add_check(f"tcp {bind}:{tcp.port}", tcp_beat.check)
    probes.append(start_probe(tcp_beat, "tcp", probe_host(bind), tcp.port))
    pool_beat = Heartbeat()                  # needed when no UDP listener shares the pool
    health.add_check("worker pool", pool_beat.check)
    probes.append(start_pool_probe(pool_beat, pool))

    if ENABLE_HEALTHCHECKS:
        ops = OpsServer(health, metrics, host="0.0.0.0", port=8080)
        ops.start()
    # on stop: for g in probes: g.kill(); ops.stop()

Calls the edge core makes (each cheap, none yields)::

    metrics.received(flow.transport, msg)    # after a successful parse ("UDP", "TCP", ...)
    metrics.parse_error(flow.transport)      # unparseable input
    metrics.sent(target.transport, msg)      # each message written to a transport
    metrics.retransmission("sent")           # a timer retransmitted; "received": duplicate absorbed
    metrics.processor_call(seconds, error)   # error: None, a ProcessorUnavailable (its gRPC code
                                             # names the reason) or a reason string
                                             # such as "invalid_response"

Endpoints: ``GET /healthz`` 200 ``{"status":"OK"}`` or 503 ``{"status":"FAIL","failing":
{name: reason}}``; ``GET /livez`` 200 while the process answers HTTP; ``GET /metrics``.
How listener heartbeats detect a dead receive loop or an exhausted pool: see ``health``.
Metric names: see ``metrics``. Log levels, formats and redaction: see ``logs``.
"""

from .health import (
    Health,
    Heartbeat,
    probe_host,
    processor_check,
    start_pool_probe,
    start_probe,
    start_tcp_probe,
    start_udp_probe,
)
from .http import OpsServer
from .logs import RedactingFilter, redact, setup_logging
from .metrics import Metrics

__all__ = [
    "Health",
    "Heartbeat",
    "Metrics",
    "OpsServer",
    "RedactingFilter",
    "probe_host",
    "processor_check",
    "redact",
    "setup_logging",
    "start_pool_probe",
    "start_probe",
    "start_tcp_probe",
    "start_udp_probe",
]
