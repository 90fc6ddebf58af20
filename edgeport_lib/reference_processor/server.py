"""The gRPC server around ``ReferenceProcessor`` (a plain thread pool, no gevent)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc

from ..protocol import processor_pb2_grpc
from .messages import MessageRequest, MessageResponse
from .processor import ReferenceProcessor


class ProcessorService(processor_pb2_grpc.ProcessorServicer):
    def __init__(self, processor: ReferenceProcessor, delay: float = 0.0) -> None:
        self.processor = processor
        self.delay = delay

    def ProcessMessage(self, request: MessageRequest, context: grpc.ServicerContext) -> MessageResponse:
        if self.delay > 0:
            time.sleep(self.delay)  # simulates a slow processor
        return self.processor.handle(request)


def start_server(
    bind: str, processor: ReferenceProcessor, delay: float = 0.0, workers: int = 16
) -> tuple[grpc.Server, int]:
    """Start serving on ``bind`` (``host:port``, port 0 picks one); return the server and port."""
    # No SO_REUSEPORT: a second server on a busy port must fail, not share it silently.
    server = grpc.server(ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)])
    processor_pb2_grpc.add_ProcessorServicer_to_server(ProcessorService(processor, delay), server)
    port = server.add_insecure_port(bind)
    if port == 0:
        raise RuntimeError(f"cannot listen on {bind}")
    server.start()
    return server, port
