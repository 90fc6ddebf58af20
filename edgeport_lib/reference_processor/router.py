"""Where a request goes: loose routing, in-dialog requests, bindings and static routes."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .messages import (
    MessageRequest,
    MessageResponse,
    ResponseType,
    SIPMessage,
    SipURI,
    answer,
    method_of,
    next_hop_transport,
    points_to_edge,
    self_record_route,
    self_via,
)
from .registrar import Registrar

DIALOG_CREATING = {"INVITE", "SUBSCRIBE", "REFER"}
DEFAULT_MAX_FORWARDS = 70


@dataclass(frozen=True)
class StaticRoute:
    host: str
    port: int = -1  # -1: the EdgePort uses the transport's default port
    transport: str = ""  # "" keeps the request URI's transport
    # credentials for a trunk that challenges: sent as X-Gateway-Auth for EdgePort to answer with
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def gateway_auth(self) -> str:
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode() if self.username else ""


def load_routes(path: str | Path) -> dict[str, StaticRoute]:
    """Read ``routes: {user: {host, port, transport}}`` from a YAML file."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    routes = {}
    for user, route in (data.get("routes") or {}).items():
        if not isinstance(route, dict) or "host" not in route:
            raise ValueError(f"{path}: routes.{user} needs a host")
        routes[str(user)] = StaticRoute(
            str(route["host"]), int(route.get("port", -1)), str(route.get("transport", "")).lower(),
            str(route.get("username", "")), str(route.get("password", "")),
        )
    return routes


class Router:
    """Decides where a (non-REGISTER) request goes, the way Routr's Connect processor does."""

    def __init__(self, registrar: Registrar, routes: dict[str, StaticRoute] | None = None) -> None:
        self.registrar = registrar
        self.routes = routes or {}

    def route(self, request: MessageRequest) -> MessageResponse:
        """Return the request to forward (with our Via) or a response to answer it with."""
        method = method_of(request)
        forwarded = MessageRequest()
        forwarded.CopyFrom(request)
        message = forwarded.message

        if message.HasField("max_forwards") and message.max_forwards.max_forwards <= 0:
            return answer(request, ResponseType.TOO_MANY_HOPS, "Too Many Hops")

        while message.route and points_to_edge(request, message.route[0].address.uri):
            del message.route[0]  # loose routing: the Route that brought the request to us

        addressed_to_us = points_to_edge(request, message.request_uri)
        if message.route:
            pass  # forward by the remaining Routes, request URI unchanged
        elif (message.to.tag or method == "ACK") and not addressed_to_us:
            self._follow_contact(message.request_uri)
        elif method == "OPTIONS" and not message.request_uri.user:
            return answer(request, ResponseType.OK, "OK")  # a ping for the EdgePort itself
        elif not self._resolve(message):
            if method == "ACK":
                return MessageResponse(message=message)  # nowhere to go; never answer an ACK
            return answer(request, ResponseType.NOT_FOUND, "Not Found")

        incoming = message.via[0].transport.upper() if message.via else "UDP"
        outgoing = next_hop_transport(message)
        if method in DIALOG_CREATING and not message.to.tag:
            # Stay in the dialog's path; with two transports, one entry for each side.
            if incoming != outgoing:
                message.record_route.insert(0, self_record_route(request, incoming))
            message.record_route.insert(0, self_record_route(request, outgoing))
        message.via.insert(0, self_via(request, outgoing))
        if message.HasField("max_forwards"):
            message.max_forwards.max_forwards -= 1
        else:
            message.max_forwards.max_forwards = DEFAULT_MAX_FORWARDS
        return MessageResponse(message=message)

    def _resolve(self, message: SIPMessage) -> bool:
        """Point the request URI at a registered user or a static route; False when neither exists."""
        uri = message.request_uri
        binding = self.registrar.lookup(uri)
        if binding is not None:
            uri.CopyFrom(binding.contact.uri)
            binding.relocate(uri)
            return True
        route = self.routes.get(uri.user)
        if route is not None:
            uri.host, uri.port = route.host, route.port
            if route.transport:
                uri.transport_param = route.transport
            if route.gateway_auth:
                message.extensions.add(name="X-Gateway-Auth", value=route.gateway_auth)
            return True
        return False

    def _follow_contact(self, uri: SipURI) -> None:
        """In-dialog request to a registered contact: send it where that endpoint really is."""
        binding = self.registrar.find_by_contact(uri)
        if binding is not None:
            binding.relocate(uri)
