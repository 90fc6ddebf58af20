"""The gRPC server around ``ReferenceProcessor`` (a plain thread pool, no gevent)."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

from ..protocol import processor_pb2_grpc
from .messages import MessageRequest, MessageResponse
from .processor import ReferenceProcessor


class ProcessorService(processor_pb2_grpc.ProcessorServicer):
    """``delay``: seconds slept before every answer. ``slow_every`` N > 0: every Nth call (the Nth,
    2Nth, ... since start) sleeps ``slow_delay`` seconds more, to test that one slow call does not
    hold up the others."""

    def __init__(
        self, processor: ReferenceProcessor, delay: float = 0.0, slow_every: int = 0, slow_delay: float = 0.0
    ) -> None:
        self.processor = processor
        self.delay = delay
        self.slow_every = slow_every
        self.slow_delay = slow_delay
        self._calls = itertools.count(1)
        self._lock = threading.Lock()

    def ProcessMessage(self, request: MessageRequest, context: grpc.ServicerContext) -> MessageResponse:
        with self._lock:
            number = next(self._calls)
        if self.delay > 0:
            time.sleep(self.delay)  # simulates a slow processor
        if self.slow_every > 0 and number % self.slow_every == 0 and self.slow_delay > 0:
            time.sleep(self.slow_delay)  # simulates one slow call among fast ones
        return self.processor.handle(request)


def start_server(
    bind: str, processor: ReferenceProcessor, delay: float = 0.0, workers: int = 16,
    slow_every: int = 0, slow_delay: float = 0.0,
) -> tuple[grpc.Server, int]:
    """Start serving on ``bind`` (``host:port``, port 0 picks one); return the server and port."""
    # No SO_REUSEPORT: a second server on a busy port must fail, not share it silently.
    server = grpc.server(ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)])
    service = ProcessorService(processor, delay, slow_every, slow_delay)
    processor_pb2_grpc.add_ProcessorServicer_to_server(service, server)
    port = server.add_insecure_port(bind)
    if port == 0:
        raise RuntimeError(f"cannot listen on {bind}")
    server.start()
    return server, port
