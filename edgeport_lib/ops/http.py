"""The operations HTTP server: ``/healthz``, ``/livez`` and ``/metrics`` on gevent's WSGI server.

* ``GET /healthz`` (readiness): 200 ``{"status":"OK"}`` while every check passes, else 503
  ``{"status":"FAIL","failing":{name: reason, ...}}``.
* ``GET /livez`` (liveness): 200 ``{"status":"OK"}`` whenever the process can answer at all.
* ``GET /metrics``: the ``Metrics`` registry in the Prometheus text format (OpenMetrics when the
  scraper asks for it in ``Accept``).

HEAD works like GET without a body; other methods get 405 and other paths 404. Request logging
is off (probes come every few seconds); server errors go to the ``edgeport_lib.ops.http`` logger.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from gevent.pool import Pool
from gevent.pywsgi import LoggingLogAdapter, WSGIServer
from prometheus_client.exposition import choose_encoder

from .health import Health
from .metrics import Metrics

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080
JSON = "application/json"
_Response = tuple[str, list[tuple[str, str]], bytes]
_STATUS = {200: "200 OK", 404: "404 Not Found", 405: "405 Method Not Allowed",
           500: "500 Internal Server Error", 503: "503 Service Unavailable"}


def _json(code: int, body: dict[str, Any]) -> _Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    return _STATUS[code], [("Content-Type", JSON)], data


class OpsServer:
    """Serves ``health`` and ``metrics`` (optional) on ``host:port``; ``app`` is the WSGI app."""

    def __init__(
        self, health: Health, metrics: Metrics | None = None, host: str = "0.0.0.0", port: int = DEFAULT_PORT,
        max_connections: int = 64,
    ) -> None:
        self.health = health
        self.metrics = metrics
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self._server: WSGIServer | None = None
        self._routes: dict[str, Callable[[dict[str, Any]], _Response]] = {
            "/healthz": self._healthz,
            "/livez": self._livez,
        }
        if metrics is not None:
            self._routes["/metrics"] = self._metrics

    def start(self) -> None:
        """Listen and serve in the background (greenlets); ``self.port`` is the bound port."""
        self._server = WSGIServer(
            (self.host, self.port), self.app, spawn=Pool(self.max_connections), log=None,
            error_log=LoggingLogAdapter(log, logging.WARNING),
        )
        self._server.start()
        self.port = self._server.server_port
        log.info("health and metrics on http://%s:%s (/healthz, /livez%s)", self.host, self.port,
                 ", /metrics" if self.metrics is not None else "")

    def stop(self, timeout: float = 1.0) -> None:
        if self._server is not None:
            self._server.stop(timeout)
            self._server = None

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = self._routes.get(environ.get("PATH_INFO") or "/")
        method = environ.get("REQUEST_METHOD", "GET")
        extra: list[tuple[str, str]] = []
        if route is None:
            status, headers, body = _STATUS[404], [("Content-Type", "text/plain")], b"not found\n"
        elif method not in ("GET", "HEAD"):
            status, headers, body = _STATUS[405], [("Content-Type", "text/plain")], b"method not allowed\n"
            extra.append(("Allow", "GET, HEAD"))
        else:
            try:
                status, headers, body = route(environ)
            except Exception:
                log.exception("%s %s failed", method, environ.get("PATH_INFO"))
                status, headers, body = _STATUS[500], [("Content-Type", "text/plain")], b"internal error\n"
        headers = [*headers, *extra, ("Cache-Control", "no-store"), ("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [b"" if method == "HEAD" else body]

    def _healthz(self, environ: dict[str, Any]) -> _Response:
        ok, body = self.health.report()
        return _json(200 if ok else 503, body)

    def _livez(self, environ: dict[str, Any]) -> _Response:
        return _json(200, {"status": "OK"})

    def _metrics(self, environ: dict[str, Any]) -> _Response:
        assert self.metrics is not None
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        return _STATUS[200], [("Content-Type", content_type)], encoder(self.metrics.registry)
