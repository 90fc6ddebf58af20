"""One entry point for every message the EdgePort sends: ``ReferenceProcessor.handle``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .messages import MessageRequest, MessageResponse, SIPMessage, is_response, method_of, uri_text
from .registrar import Registrar
from .router import Router, StaticRoute

log = logging.getLogger(__name__)


class ReferenceProcessor:
    """Registrar for REGISTER, proxy for other requests, Via remover for responses."""

    def __init__(
        self, routes: dict[str, StaticRoute] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registrar = Registrar(clock)
        self.router = Router(self.registrar, routes)

    def handle(self, request: MessageRequest) -> MessageResponse:
        method = method_of(request)
        if is_response(request):
            result = self.strip_own_via(request)
        elif method == "REGISTER":
            result = self.registrar.register(request)
        else:
            result = self.router.route(request)
        log.info("%s -> %s", _describe(request.message, method), _describe(result.message, method))
        return result

    @staticmethod
    def strip_own_via(request: MessageRequest) -> MessageResponse:
        """A response: drop the top Via (ours, sent by the EdgePort) and pass it on.

        A response with a single Via answers a request the EdgePort made itself: kept as is.
        """
        response = MessageResponse()
        response.message.CopyFrom(request.message)
        if len(response.message.via) > 1:
            del response.message.via[0]
        return response


def _describe(message: SIPMessage, method: str) -> str:
    if message.WhichOneof("message_type") == "response_type":
        return f"{message.reason_phrase or message.response_type} ({method})"
    return f"{method} {uri_text(message.request_uri)}"
