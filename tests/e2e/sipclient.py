"""A minimal SIP peer on raw sockets for end-to-end tests (UDP or TCP)."""

from __future__ import annotations

import secrets
import socket

from edgeport_lib.sip.framer import KEEPALIVE, StreamFramer
from edgeport_lib.sip.message import SipMessage
from edgeport_lib.sip.parser import parse_message


def request(
    method: str,
    uri: str,
    local: tuple[str, int],
    transport: str = "UDP",
    *,
    call_id: str | None = None,
    cseq: int = 1,
    to: str | None = None,
    from_user: str = "alice",
    branch: str | None = None,
    extra: str = "",
    body: str = "",
    max_forwards: int | None = 70,
    to_tag: str | None = None,
    from_tag: str | None = None,
) -> bytes:
    host, port = local
    branch = branch or "z9hG4bK" + secrets.token_hex(8)
    call_id = call_id or secrets.token_hex(8)
    to_header = (to or f"<{uri}>") + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {host}:{port};branch={branch};rport",
        f"From: <sip:{from_user}@{host}:{port}>;tag={from_tag or secrets.token_hex(4)}",
        f"To: {to_header}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:{from_user}@{host}:{port};transport={transport.lower()}>",
    ]
    if max_forwards is not None:
        lines.append(f"Max-Forwards: {max_forwards}")
    lines += [line for line in extra.split("\r\n") if line]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def cancel_of(invite: bytes) -> bytes:
    """The CANCEL for `invite` (same Request-URI, Via, From, To, Call-ID and CSeq number)."""
    return invite.replace(b"INVITE sip:", b"CANCEL sip:").replace(b"1 INVITE", b"1 CANCEL")


def response_to(req: SipMessage, status: int, reason: str, to_tag: str = "uas1") -> bytes:
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {v}" for v in req.get_all("Via")]
    lines += [f"Record-Route: {v}" for v in req.get_all("Record-Route")]
    to = req.get("To") or ""
    if ";tag=" not in to:
        to += f";tag={to_tag}"
    lines += [
        f"From: {req.get('From')}",
        f"To: {to}",
        f"Call-ID: {req.call_id}",
        f"CSeq: {req.get('CSeq')}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class UdpPeer:
    def __init__(self, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)
        self.address = self.sock.getsockname()

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        self.sock.sendto(data, to)

    def receive(self) -> tuple[SipMessage, tuple[str, int]]:
        data, source = self.sock.recvfrom(65535)
        return parse_message(data), source

    def receive_until(self, predicate) -> SipMessage:
        """Read messages until one satisfies predicate (each read bounded by the socket timeout)."""
        while True:
            msg, _ = self.receive()
            if predicate(msg):
                return msg

    def close(self) -> None:
        self.sock.close()


class TcpPeer:
    def __init__(self, to: tuple[str, int], timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(to, timeout=timeout)
        self.address = self.sock.getsockname()
        self.framer = StreamFramer()
        self.pending: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> SipMessage:
        while not self.pending:
            data = self.sock.recv(65535)
            if not data:
                raise ConnectionError("connection closed by EdgePort")
            self.pending += [item for item in self.framer.feed(data) if item is not KEEPALIVE]
        return parse_message(self.pending.pop(0))

    def receive_until(self, predicate) -> SipMessage:
        while True:
            msg = self.receive()
            if predicate(msg):
                return msg

    def close(self) -> None:
        self.sock.close()
