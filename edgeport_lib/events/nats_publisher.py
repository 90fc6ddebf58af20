"""NATS_PUBLISHER_ENABLED: events on ``<subject>.<event>``, published off the gevent loop.

EdgePort runs under ``gevent.monkey.patch_all()``; nats-py is asyncio only. The client runs
on its own asyncio loop in a real OS thread taken from ``gevent.threadpool.ThreadPool(1)``
(a patched ``threading.Thread`` is a greenlet and would freeze). The two sides meet at:

* a ``collections.deque`` of encoded events: the gevent side appends, the NATS thread pops;
  both operations are atomic, so neither side ever waits for the other;
* ``loop.call_soon_threadsafe``, used by the gevent side only to wake an idle NATS thread;
* ``hub.loop.run_callback_threadsafe``, used by the NATS thread to log on the gevent side
  (logging handlers hold gevent locks, which must not be taken from a foreign thread).

Inside the thread the loop uses the original epoll selector, resolves names with the
original ``getaddrinfo`` (blocking that thread only) and runs executor jobs inline: the
default executor would start patched threads that never get to run.

Delivery is at least once: a batch leaves the buffer only after a PING/PONG round trip
(``flush``) confirmed the server got it; a batch in flight when the connection dies is put
back and sent again after reconnecting, so a consumer may rarely see an event twice. The
connection is owned here, not by nats-py's reconnect logic, which would replay its own
buffer as well and has a fixed delay instead of a backoff.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import random
import re
import ssl
import time
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

import gevent
from gevent import monkey
from gevent.threadpool import ThreadPool
from nats.aio.client import Client

log = logging.getLogger("edgeport.events")

_OriginalSelector = monkey.get_original("selectors", "DefaultSelector")
_original_getaddrinfo = monkey.get_original("socket", "getaddrinfo")

DEFAULT_SUBJECT = "routr"
DEFAULT_BUFFER_SIZE = 10_000
THREAD_NAME = "edgeport-nats"
PR_SET_NAME = 15  # prctl(2)
_SCHEMES = ("nats", "tls")
_SUBJECT_RE = re.compile(r"^[^\s.*>]+(?:\.[^\s.*>]+)*$")


# ------------------------------------------------------------------------------ URLs
def parse_servers(url: str) -> list[str]:
    """The server URLs in a NATS_PUBLISHER_URL, each with a scheme (``nats://`` by default).

    Accepts a comma-separated list of ``[nats://|tls://][user:password@|token@]host[:port]``.
    Raises ValueError naming the bad entry, with its credentials masked.
    """
    servers = [_normalize(part) for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError("NATS URL names no server")
    return servers


def _normalize(part: str) -> str:
    part = part.strip()
    server = part if "://" in part else f"nats://{part}"
    split = urlsplit(server)
    try:
        port_ok = split.port is None or split.port > 0
    except ValueError:
        port_ok = False
    if split.scheme not in _SCHEMES or not split.hostname or not port_ok or split.path not in ("", "/"):
        raise ValueError(f"invalid NATS server URL {redact(part)!r} (expected nats://host:port or tls://...)")
    return server


def redact(url: str) -> str:
    """The URL (or comma list of URLs) with every user/password/token replaced by ``***``."""
    return ",".join(_redact_one(part.strip()) for part in url.split(","))


def _redact_one(part: str) -> str:
    userinfo, at, hostport = part.rpartition("@")
    if not at:
        return part
    scheme, sep, _ = userinfo.partition("://")
    return f"{scheme}{sep}***@{hostport}" if sep else f"***@{hostport}"


def url_secrets(url: str) -> list[str]:
    """Every credential string in the URL(s), longest first, to scrub from error texts."""
    found: set[str] = set()
    for part in url.split(","):
        userinfo, at, _ = part.strip().rpartition("@")
        if not at:
            continue
        userinfo = userinfo.partition("://")[2] or userinfo
        for piece in (userinfo, *userinfo.split(":", 1)):
            found.update(s for s in (piece, unquote(piece)) if s)
    return sorted(found, key=len, reverse=True)


def _name_native_thread(name: str) -> None:
    """Show the NATS thread as `name` in top -H and /proc (and let benches find its CPU time)."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the name is only a convenience
        pass


def valid_subject(subject: str) -> bool:
    return bool(_SUBJECT_RE.match(subject))


# ------------------------------------------------------------------------- the thread loop
class _NativeThreadLoop(asyncio.SelectorEventLoop):
    """An asyncio loop that works in a native thread of a gevent-patched process."""

    def __init__(self) -> None:
        super().__init__(_OriginalSelector())

    async def getaddrinfo(  # type: ignore[override]
        self, host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        return _original_getaddrinfo(host, port, family, type, proto, flags)

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        future = self.create_future()
        try:
            future.set_result(func(*args))
        except Exception as error:
            future.set_exception(error)
        return future


async def _cancel_other_tasks() -> None:
    """Cancel what nats-py left running, so the loop closes cleanly."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _tls_context() -> ssl.SSLContext:
    """Default client TLS: system CAs, or ``SSL_CERT_FILE``. Built from the ``ssl`` module as
    asyncio sees it (gevent's class once patched: asyncio checks ``isinstance``)."""
    return ssl.create_default_context()


# ------------------------------------------------------------------------------ publisher
class NatsPublisher:
    """Buffers encoded events and publishes them from a native thread.

    The gevent side only calls ``start``, ``publish``, ``close`` and reads the counters.
    """

    def __init__(
        self,
        url: str,
        subject: str = DEFAULT_SUBJECT,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        *,
        reconnect_delay: tuple[float, float] = (0.1, 2.0),
        flush_timeout: float = 2.0,
        connect_timeout: float = 2.0,
        batch_size: int = 512,
        linger: float = 0.05,
    ) -> None:
        if not valid_subject(subject):
            raise ValueError(f"{subject!r} is not a valid NATS subject")
        self._servers = parse_servers(url)
        self.url = redact(",".join(self._servers))  # safe to log
        self._secrets = url_secrets(url)
        self.subject = subject
        self.buffer_size = max(1, buffer_size)
        self._delay_min, self._delay_max = reconnect_delay
        self._flush_timeout = flush_timeout
        self._connect_timeout = connect_timeout
        self._batch_size = max(1, batch_size)
        # Once woken, wait this long for more events, so that one batch and one flush (a PING/
        # PONG round trip) carry them all: a wake-up and a flush cost the NATS thread ~0.5 ms
        # of CPU, which at one per event made NATS cost SIP ~10% (bench/bench_nats_effect.py).
        # Events then reach NATS up to 50 ms later; at most 20 flushes a second, whatever the rate.
        self._linger = linger
        self._subjects: dict[str, str | None] = {}  # event name -> subject (None: invalid)

        # Shared state. Every counter and flag is written by one side only; the deque is
        # appended to by the gevent side and popped by the NATS thread.
        self._queue: deque[tuple[str, bytes]] = deque()
        self._inflight = 0  # NATS thread: events taken from the queue, not yet confirmed
        self.published = 0  # NATS thread: events the server confirmed
        self.lost = 0  # NATS thread: events given up (still held at close, or oversized)
        self.rejected = 0  # gevent side: events refused (buffer full, or after close)
        self.connected = False  # NATS thread
        self.connect_attempts = 0  # NATS thread: rounds over the server list
        self._closing = False  # gevent side
        self._deadline = 0.0  # gevent side, set before _closing
        self._idle = False  # NATS thread sets it before sleeping; the gevent side clears it
        self._burst = 0  # gevent side: events refused since the buffer filled up

        self._loop: _NativeThreadLoop | None = None
        self._pool: ThreadPool | None = None
        self._result: Any = None
        self._hub_loop: Any = None
        self._wakeup = asyncio.Event()  # something to do (events, close, connection lost)
        self._stop = asyncio.Event()  # close() was called
        self._retry_now = asyncio.Event()  # skip the current reconnect delay once
        self._nc: Client | None = None
        self._outage = False
        self._ever_connected = False
        self._last_error: BaseException | None = None
        self._tls_context: ssl.SSLContext | None = None

    # -- gevent side ----------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        return len(self._queue) + self._inflight

    @property
    def dropped(self) -> int:
        return self.rejected + self.lost

    def start(self) -> None:
        """Start the NATS thread (from the gevent hub's thread). Events published before
        are kept and sent once connected."""
        if self._pool is not None:
            return
        self._hub_loop = gevent.get_hub().loop
        self._loop = _NativeThreadLoop()
        self._pool = ThreadPool(1)
        self._result = self._pool.spawn(self._thread_main)

    def publish(self, event: str, data: bytes) -> None:
        """Queue one encoded event; never blocks. Refused (and counted) when the buffer is full."""
        subject = self._subject_for(event)
        if subject is None or self._closing:
            self.rejected += 1
            return
        if len(self._queue) + self._inflight >= self.buffer_size:
            self._refuse()
            return
        self._queue.append((subject, data))
        if self._burst:
            log.warning("NATS event buffer has room again: %d events were dropped while full", self._burst)
            self._burst = 0
        if self._idle:
            self._idle = False
            self._call_in_loop(self._wakeup.set)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is buffered (connecting if needed) within ``timeout`` seconds, then stop.

        Waits cooperatively: other greenlets keep running meanwhile.
        """
        if self._closing:
            return
        self._deadline = time.monotonic() + timeout
        self._closing = True
        if self._result is None:  # never started
            self.lost += len(self._queue)
            self._queue.clear()
            return
        self._call_in_loop(self._on_close)
        try:
            self._result.get(timeout=timeout + 1.0)
        except gevent.Timeout:
            log.warning("NATS publisher still busy %.1fs after close; leaving it behind", timeout + 1.0)
        if self._pool is not None:
            self._pool.kill()

    def _subject_for(self, event: str) -> str | None:
        subject = self._subjects.get(event, "")
        if subject == "":
            subject = f"{self.subject}.{event}"
            if not valid_subject(subject):
                log.error("event name %r cannot be published on NATS: not a valid subject token", event)
                subject = None
            self._subjects[event] = subject
        return subject

    def _refuse(self) -> None:
        self.rejected += 1
        self._burst += 1
        if self._burst == 1:
            log.warning(
                "NATS event buffer full (%d events held for %s): dropping new events until it drains",
                self.buffer_size,
                self.url,
            )

    def _call_in_loop(self, callback: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop is already closed
            pass

    # -- NATS thread ----------------------------------------------------------------------
    def _log(self, level: int, message: str, *args: Any) -> None:
        """Log on the gevent side (see the module docstring)."""
        try:
            self._hub_loop.run_callback_threadsafe(log.log, level, message, *args)
        except Exception:  # the hub is gone: the process is ending
            pass

    def _describe(self, error: BaseException | str | None) -> str:
        if isinstance(error, BaseException):
            text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        else:
            text = error or "unknown error"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _thread_main(self) -> None:
        assert self._loop is not None
        _name_native_thread(THREAD_NAME)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as error:  # noqa: B036 - nothing may escape into the pool's thread
            self._log(logging.ERROR, "NATS publisher stopped: %s", self._describe(error))
        finally:
            self.connected = False
            self._loop.close()

    def _on_close(self) -> None:
        self._stop.set()
        self._retry_now.set()
        self._wakeup.set()

    async def _main(self) -> None:
        serve = asyncio.ensure_future(self._serve())
        await self._stop.wait()
        if not self.buffered:  # nothing to flush: do not wait for a connection attempt
            serve.cancel()
        try:
            await asyncio.wait_for(serve, max(self._deadline - time.monotonic(), 0.001))
        except (TimeoutError, asyncio.CancelledError):
            pass
        except Exception as error:
            self._log(logging.ERROR, "NATS publisher failed: %s", self._describe(error))
        await self._disconnect()
        await _cancel_other_tasks()
        held = self.buffered
        if held:
            self.lost += held
            self._queue.clear()
            self._inflight = 0
            self._log(
                logging.WARNING,
                "NATS %s: %d buffered events lost at shutdown, not delivered in time (last error: %s)",
                self.url,
                held,
                self._describe(self._last_error),
            )

    async def _serve(self) -> None:
        """Connect, deliver, and reconnect with backoff, until closing with nothing left."""
        failures = 0
        while not (self._closing and not self.buffered):
            try:
                nc = await self._connect()
                if nc is None:
                    failures += 1
                    await self._backoff(failures)
                    continue
                failures = 0
                await self._pump(nc)
            except Exception as error:  # a bug: keep the publisher alive, after a pause
                self._log(logging.ERROR, "NATS publisher error: %s", self._describe(error))
                failures += 1
                await self._backoff(failures)
            finally:
                await self._disconnect()

    async def _connect(self) -> Client | None:
        async def on_error(error: Exception) -> None:
            self._last_error = error

        async def on_closed() -> None:
            self.connected = False
            self._wakeup.set()

        nc = Client()
        self.connect_attempts += 1
        self._last_error = None
        try:
            # nats-py tries each server twice per call; the retry loop is ours (_serve).
            await nc.connect(
                servers=self._servers,
                name="edgeport",
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.05,  # type: ignore[arg-type]
                connect_timeout=self._connect_timeout,  # type: ignore[arg-type]
                ping_interval=20,  # notice a silently dead connection while idle
                tls=self._tls(),
                error_cb=on_error,
                closed_cb=on_closed,
            )
        except Exception as error:
            self._last_error = self._last_error or error
            self._report_unreachable(self._last_error)
            # a client whose TLS handshake failed never finishes closing: do not wait long
            await self._close_quietly(nc, timeout=0.2)
            return None
        self._nc = nc
        self.connected = True
        self._report_connected()
        return nc

    def _tls(self) -> ssl.SSLContext:
        if self._tls_context is None:
            self._tls_context = _tls_context()
        return self._tls_context

    async def _pump(self, nc: Client) -> None:
        """Send batches while connected; a batch counts as delivered once flushed."""
        while nc.is_connected:
            batch = self._take(nc.max_payload)
            if not batch:
                if self._closing and not self._queue:
                    return
                await self._wait_for_work(nc)
                continue
            try:
                for subject, data in batch:
                    await nc.publish(subject, data)
                await nc.flush(timeout=self._flush_timeout)  # type: ignore[arg-type]
            except Exception as error:
                self._requeue(batch)
                self._report_lost(error)
                return
            self.published += len(batch)
            self._inflight = 0
        self._report_lost(self._last_error)

    def _take(self, max_payload: int) -> list[tuple[str, bytes]]:
        batch: list[tuple[str, bytes]] = []
        queue = self._queue
        while queue and len(batch) < self._batch_size:
            self._inflight += 1  # before the pop: the gevent side may over-count, never under
            subject, data = queue.popleft()
            if len(data) <= max_payload:
                batch.append((subject, data))
                continue
            self._inflight -= 1
            self.lost += 1
            self._log(
                logging.ERROR, "event on %s dropped: %d bytes exceed the NATS max payload", subject, len(data)
            )
        return batch

    def _requeue(self, batch: list[tuple[str, bytes]]) -> None:
        self._queue.extendleft(reversed(batch))
        self._inflight = 0

    async def _wait_for_work(self, nc: Client) -> None:
        self._wakeup.clear()
        self._idle = True
        if not (self._queue or self._closing or not nc.is_connected):
            await self._wakeup.wait()
            self._idle = False
            if self._linger and not self._closing:
                await asyncio.sleep(self._linger)
        self._idle = False

    async def _backoff(self, failures: int) -> None:
        delay = min(self._delay_max, self._delay_min * 2 ** min(failures - 1, 16))
        try:
            await asyncio.wait_for(self._retry_now.wait(), delay * random.uniform(0.8, 1.2))
        except TimeoutError:
            pass
        self._retry_now.clear()

    async def _disconnect(self) -> None:
        nc, self._nc = self._nc, None
        self.connected = False
        if nc is not None:
            await self._close_quietly(nc)

    @staticmethod
    async def _close_quietly(nc: Client, timeout: float = 1.0) -> None:
        if nc.is_closed:
            return
        try:
            await asyncio.wait_for(nc.close(), timeout)
        except Exception:
            pass

    # -- outage reporting: one warning when an outage starts, one info when it ends --------
    def _report_unreachable(self, error: BaseException | None) -> None:
        if self._outage:
            return
        self._outage = True
        self._log(
            logging.WARNING,
            "NATS %s unreachable (%s): buffering up to %d events and retrying",
            self.url,
            self._describe(error),
            self.buffer_size,
        )

    def _report_lost(self, error: BaseException | None) -> None:
        if self._outage or (self._closing and not self.buffered):
            return
        self._outage = True
        self._log(
            logging.WARNING,
            "NATS connection to %s lost (%s): buffering up to %d events and reconnecting",
            self.url,
            self._describe(error),
            self.buffer_size,
        )

    def _report_connected(self) -> None:
        if self._outage:
            self._outage = False
            self._log(
                logging.INFO, "NATS %s reachable again: sending %d buffered events", self.url, self.buffered
            )
        elif not self._ever_connected:
            self._log(logging.INFO, "publishing events to NATS %s on %s.*", self.url, self.subject)
        self._ever_connected = True
