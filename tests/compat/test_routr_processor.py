"""Compatibility: EdgePort with a processor built on Routr's published ``@routr/processor`` (Node.js).

``processor.js`` acts as a registrar and proxy the way Routr's Connect processor does, using only
the package's alterations and response helpers; sipp plays the phones and a trunk. Every flow
runs over UDP and over TCP; a WebSocket phone registers and takes a call on its socket.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from edgeport_lib.sip.parser import parse_message
from tests.e2e.sipclient import UdpPeer, request, response_to
from tests.helpers import free_port

from .stack import (
    DOMAIN,
    PASSWORDS,
    SCENARIOS,
    TRUNK_PASSWORD,
    TRUNK_USER,
    Stack,
    sipp_client,
    start_edge,
    start_node_processor,
    transport_args,
)

TRANSPORTS = ["udp", "tcp"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One Node processor and one EdgePort (UDP+TCP, and WS when EdgePort can serve it)."""
    tmp = tmp_path_factory.mktemp("compat")
    trunk_ports = {"udp": free_port("udp"), "tcp": free_port("tcp")}
    plain = UdpPeer()  # a raw-socket next hop for exact wire checks: static route "plain"
    routes = {
        f"trunk-{transport}": {
            "host": "127.0.0.1",
            "port": port,
            "transport": transport,
            "username": TRUNK_USER,
            "password": TRUNK_PASSWORD,
        }
        for transport, port in trunk_ports.items()
    }
    routes["plain"] = {"host": "127.0.0.1", "port": plain.address[1], "transport": "udp"}
    processor, processor_port = start_node_processor(tmp, routes)
    ws_port = free_port("tcp")
    try:
        edge, edge_port = start_edge(
            tmp, processor_port, extra_transports=[{"protocol": "ws", "port": ws_port}]
        )
        ws_error = None
    except (TimeoutError, RuntimeError) as error:  # no WS in EdgePort yet: everything else still runs
        ws_port, ws_error = None, str(error).splitlines()[-1] if str(error) else repr(error)
        edge, edge_port = start_edge(tmp, processor_port, name="edgeport-no-ws")
    stack = Stack(tmp, processor, processor_port, edge, edge_port, trunk_ports, plain, ws_port, ws_error)
    yield stack
    edge.kill()
    processor.kill()
    plain.close()


# --------------------------------------------------------------------------- helpers


def wait_listening(port: int, transport: str, timeout: float = 5.0) -> None:
    """Wait until something listens on 127.0.0.1:``port`` (/proc/net: LISTEN for TCP, bound for UDP)."""
    tables = (
        ["/proc/net/tcp", "/proc/net/tcp6"] if transport == "tcp" else ["/proc/net/udp", "/proc/net/udp6"]
    )
    state = "0A" if transport == "tcp" else "07"
    needle = f":{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for table in tables:
            try:
                rows = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            if any(row.split()[1].endswith(needle) and row.split()[3] == state for row in rows):
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {transport} port {port}")


def sipp_errors(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {path.name}\n{path.read_text()[-2000:]}" for path in sorted(tmp_path.glob("*_errors.log"))
    )


class Peer:
    """A long-running sipp (a callee or the trunk) on 127.0.0.1:port, one call."""

    def __init__(self, scenario: str, port: int, transport: str, tmp_path: Path, *extra: str) -> None:
        self.tmp_path = tmp_path
        args = [
            "sipp",
            "-sf",
            str(SCENARIOS / scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            *transport_args(transport),
            "-m",
            "1",
            "-nostdin",
            "-trace_err",
            *extra,
        ]
        self.popen = subprocess.Popen(
            args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            wait_listening(port, transport)
        except TimeoutError:
            self.kill()
            raise

    def wait(self, timeout: float = 20) -> tuple[int, str]:
        try:
            output, _ = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            output, _ = self.popen.communicate()
            return -1, output[-3000:]
        return self.popen.returncode, output[-3000:]

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.communicate()


@pytest.fixture
def peers():
    started: list[Peer] = []
    yield started
    for peer in started:
        peer.kill()


def register(stack: Stack, user: str, port: int, transport: str, tmp_path: Path, remote: str = "") -> None:
    """REGISTER ``user`` from 127.0.0.1:``port`` with digest auth (to ``remote``, else the stack)."""
    result = sipp_client(
        "register_auth.xml",
        port,
        transport,
        remote or stack.remote,
        user,
        "-au",
        user,
        "-ap",
        PASSWORDS[user],
        tmp_path=tmp_path,
    )
    assert (result.successful, result.failed) == (1, 0), (
        f"{user} could not register over {transport}:\n{result.output[-2000:]}\n{sipp_errors(tmp_path)}\n"
        + stack.logs()
    )


def assert_call(stack: Stack, caller, callee: Peer, tmp_path: Path) -> None:
    code, output = callee.wait()
    details = (
        f"\ncaller:\n{caller.output[-2500:]}\ncallee:\n{output}\n{sipp_errors(tmp_path)}\n{stack.logs()}"
    )
    assert (caller.successful, caller.failed) == (1, 0), details
    assert code == 0, details


# --------------------------------------------------------------------------- registrar


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_register_with_digest_authentication(stack, transport, tmp_path):
    """401 with a Digest challenge, REGISTER with Authorization, then 200 (Response.sendOk)."""
    register(stack, "carol", free_port(transport), transport, tmp_path)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_register_with_a_wrong_password_is_challenged_again(stack, transport, tmp_path):
    result = sipp_client(
        "register_auth.xml",
        free_port(transport),
        transport,
        stack.remote,
        "carol",
        "-au",
        "carol",
        "-ap",
        "not-the-password",
        tmp_path=tmp_path,
    )
    assert (result.successful, result.failed) == (0, 1), result.output[-2000:]
    assert "401" in sipp_errors(tmp_path), sipp_errors(tmp_path)


# --------------------------------------------------------------------------- calls between agents


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_agent_to_agent_call_with_bye(stack, transport, tmp_path, peers):
    bob = free_port(transport)
    register(stack, "bob", bob, transport, tmp_path)
    peers.append(Peer("answer.xml", bob, transport, tmp_path, "-s", "bob"))
    caller = sipp_client("call.xml", free_port(transport), transport, stack.remote, "bob", tmp_path=tmp_path)
    assert_call(stack, caller, peers[-1], tmp_path)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_caller_cancels(stack, transport, tmp_path, peers):
    """CANCEL: the caller gets 200 for it, then 487 for the INVITE; the callee saw the CANCEL."""
    bob = free_port(transport)
    register(stack, "bob", bob, transport, tmp_path)
    peers.append(Peer("answer_cancelled.xml", bob, transport, tmp_path, "-s", "bob"))
    caller = sipp_client(
        "cancel.xml", free_port(transport), transport, stack.remote, "bob", tmp_path=tmp_path
    )
    assert_call(stack, caller, peers[-1], tmp_path)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_callee_declines(stack, transport, tmp_path, peers):
    bob = free_port(transport)
    register(stack, "bob", bob, transport, tmp_path)
    peers.append(Peer("answer_declined.xml", bob, transport, tmp_path, "-s", "bob"))
    caller = sipp_client(
        "call_declined.xml", free_port(transport), transport, stack.remote, "bob", tmp_path=tmp_path
    )
    assert_call(stack, caller, peers[-1], tmp_path)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_call_to_nobody_gets_404(stack, transport, tmp_path):
    """Response.sendNotFound(): no reason phrase from the processor, EdgePort completes the 404."""
    caller = sipp_client(
        "call_not_found.xml", free_port(transport), transport, stack.remote, "nobody", tmp_path=tmp_path
    )
    assert (caller.successful, caller.failed) == (1, 0), (
        f"{caller.output[-2500:]}\n{sipp_errors(tmp_path)}\n{stack.logs()}"
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_callee_hangs_up_with_a_bye_routed_by_record_route(stack, transport, tmp_path, peers):
    bob = free_port(transport)
    register(stack, "bob", bob, transport, tmp_path)
    peers.append(Peer("answer_hang_up.xml", bob, transport, tmp_path, "-s", "bob"))
    caller = sipp_client(
        "call_hung_up.xml", free_port(transport), transport, stack.remote, "bob", tmp_path=tmp_path
    )
    assert_call(stack, caller, peers[-1], tmp_path)


# --------------------------------------------------------------------------- early media


@pytest.fixture(scope="module")
def strip_edge(stack):
    """A second EdgePort on the same processor, with STRIP_SESSION_PROGRESS_SDP=true."""
    edge, port = start_edge(
        stack.tmp_path,
        stack.processor_port,
        name="edgeport-strip",
        env={"STRIP_SESSION_PROGRESS_SDP": "true"},
    )
    yield edge, port
    edge.kill()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_strip_session_progress_sdp_keeps_reliable_183s(stack, strip_edge, transport, tmp_path, peers):
    """Unreliable 183: SDP dropped. Reliable 183 (RSeq): SDP kept, PRACK routed through EdgePort."""
    edge, edge_port = strip_edge
    bob = free_port(transport)
    register(stack, "bob", bob, transport, tmp_path, remote=f"127.0.0.1:{edge_port}")
    peers.append(Peer("answer_early_media.xml", bob, transport, tmp_path, "-s", "bob"))
    caller = sipp_client(
        "call_early_media.xml",
        free_port(transport),
        transport,
        f"127.0.0.1:{edge_port}",
        "bob",
        tmp_path=tmp_path,
    )
    code, output = peers[-1].wait()
    details = (
        f"\ncaller:\n{caller.output[-2500:]}\ncallee:\n{output}\n{sipp_errors(tmp_path)}\n"
        f"--- strip EdgePort log\n" + "\n".join(edge.output[-40:])
    )
    assert (caller.successful, caller.failed) == (1, 0), details
    assert code == 0, details


# --------------------------------------------------------------------------- exact wire checks


def raw_text(message) -> str:
    return "\r\n".join(f"{h.name}: {h.value}" for h in message.headers)


def invite_plain(stack: Stack, caller: UdpPeer, extra: str):
    """INVITE sip:plain@sip.local through EdgePort from a raw UDP caller; the INVITE as forwarded."""
    call_id = secrets.token_hex(8)
    caller.send(
        request(
            "INVITE", f"sip:plain@{DOMAIN}", caller.address, call_id=call_id, extra=extra, from_user="alice"
        ),
        ("127.0.0.1", stack.edge_port),
    )
    invite = stack.plain.receive_until(lambda m: m.method == "INVITE" and m.call_id == call_id)
    return invite


def ack(stack: Stack, caller: UdpPeer, final) -> None:
    """The caller's ACK for a non-2xx final answer (same branch as the INVITE: its top Via)."""
    lines = [
        f"ACK sip:plain@{DOMAIN} SIP/2.0",
        f"Via: {final.values('Via')[0]}",
        "Max-Forwards: 70",
        f"From: {final.get('From')}",
        f"To: {final.get('To')}",
        f"Call-ID: {final.call_id}",
        "CSeq: 1 ACK",
        "Content-Length: 0",
    ]
    caller.send(("\r\n".join(lines) + "\r\n\r\n").encode(), ("127.0.0.1", stack.edge_port))


def test_unknown_header_with_commas_keeps_its_original_text(stack):
    """Lossless rule: X-Info is split into extensions (one per comma element) for the processor;
    processor.js returns them unchanged, so the next hop must get the caller's single line."""
    caller = UdpPeer()
    try:
        invite = invite_plain(stack, caller, 'X-Info: Smith, John\r\nX-Tags: a, "b, c", <sip:d@e;f>')
        stack.plain.send(response_to(invite, 486, "Busy Here"), ("127.0.0.1", stack.edge_port))
        ack(stack, caller, caller.receive_until(lambda m: m.status == 486))
        text = raw_text(invite)
        assert "X-Info: Smith, John" in text and 'X-Tags: a, "b, c", <sip:d@e;f>' in text, text
        assert [h.value for h in invite.headers if h.name.lower() == "x-info"] == ["Smith, John"], text
    finally:
        caller.close()


@pytest.mark.parametrize("status,reason", [(580, "Precondition Failure"), (199, "Early Dialog Terminated")])
def test_status_without_a_response_type_name_keeps_its_code(stack, status, reason):
    """The processor sees SERVER_ERROR / a 1xx class name (removeTopVia keeps it); the caller must still
    get the real code and reason phrase."""
    caller = UdpPeer()
    try:
        invite = invite_plain(stack, caller, "")
        stack.plain.send(response_to(invite, status, reason), ("127.0.0.1", stack.edge_port))
        if status < 200:
            stack.plain.send(response_to(invite, 486, "Busy Here"), ("127.0.0.1", stack.edge_port))
        answer = caller.receive_until(lambda m: m.status is not None and m.status != 100)
        assert (answer.status, answer.reason) == (status, reason), f"{answer.status}\n{stack.logs()}"
        assert answer.cseq == (1, "INVITE")
        if status < 200:
            answer = caller.receive_until(lambda m: m.status == 486)
        ack(stack, caller, answer)
    finally:
        caller.close()


# --------------------------------------------------------------------------- trunk


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_trunk_407_is_answered_on_the_callers_behalf(stack, transport, tmp_path, peers):
    """X-Gateway-Auth from applyXHeaders: EdgePort answers the trunk's 407, the caller never sees it."""
    peers.append(Peer("trunk_407.xml", stack.trunk_ports[transport], transport, tmp_path))
    caller = sipp_client(
        "call.xml", free_port(transport), transport, stack.remote, f"trunk-{transport}", tmp_path=tmp_path
    )
    assert_call(stack, caller, peers[-1], tmp_path)


# --------------------------------------------------------------------------- WebSocket


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_authorization(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.split(" ", 1)[1]))
    cnonce, nc = secrets.token_hex(8), "00000001"
    ha1, ha2 = md5(f"{user}:{params['realm']}:{password}"), md5(f"{method}:{uri}")
    response = md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", uri="{uri}", '
        f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"'
    )


class WsPhone:
    """A browser-like SIP over WebSocket phone (RFC 7118): a `.invalid` host, no port of its own."""

    HOST = "df7jal23ls0d.invalid"

    def __init__(self, url: str, user: str) -> None:
        import websocket

        self.ws = websocket.create_connection(url, subprotocols=["sip"], timeout=10)
        self.user, self.call_id, self.tag = user, secrets.token_hex(8), secrets.token_hex(4)

    def register(self, cseq: int, authorization: str | None = None) -> bytes:
        lines = [
            f"REGISTER sip:{DOMAIN} SIP/2.0",
            f"Via: SIP/2.0/WS {self.HOST};branch=z9hG4bK{secrets.token_hex(6)}",
            "Max-Forwards: 70",
            f"To: <sip:{self.user}@{DOMAIN}>",
            f"From: <sip:{self.user}@{DOMAIN}>;tag={self.tag}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} REGISTER",
            f'Contact: <sip:{self.user}@{self.HOST};transport=ws>;+sip.instance="<urn:uuid:1>";expires=600',
            *([f"Authorization: {authorization}"] if authorization else []),
            "Content-Length: 0",
        ]
        self.ws.send("\r\n".join(lines) + "\r\n\r\n")

    def receive(self):
        data = self.ws.recv()
        return parse_message(data.encode() if isinstance(data, str) else data)

    def answer(self, request, status: int, reason: str) -> None:
        to = request.get("To") + ("" if ";tag=" in request.get("To") else ";tag=ws" + secrets.token_hex(3))
        lines = [
            f"SIP/2.0 {status} {reason}",
            *[f"Via: {via}" for via in request.values("Via")],
            f"From: {request.get('From')}",
            f"To: {to}",
            f"Call-ID: {request.call_id}",
            f"CSeq: {request.get('CSeq')}",
            "Content-Length: 0",
        ]
        self.ws.send("\r\n".join(lines) + "\r\n\r\n")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def ws_phone(stack):
    if stack.ws_port is None:
        pytest.xfail(f"EdgePort does not start with a ws transport yet: {stack.ws_error}")
    phone = WsPhone(f"ws://127.0.0.1:{stack.ws_port}/", "alice")
    yield phone
    phone.close()


def register_over_ws(stack: Stack, phone: WsPhone) -> None:
    phone.register(1)
    challenge = phone.receive()
    assert challenge.status == 401, f"{challenge.status}\n{stack.logs()}"
    www = challenge.get("WWW-Authenticate") or ""
    assert www.startswith("Digest ") and f'realm="{DOMAIN}"' in www, www
    phone.register(2, digest_authorization(www, "REGISTER", f"sip:{DOMAIN}", "alice", PASSWORDS["alice"]))
    ok = phone.receive()
    assert (ok.status, ok.cseq) == (200, (2, "REGISTER")), f"{ok.status}\n{stack.logs()}"
    assert ";tag=" in (ok.get("To") or "")


def test_register_over_websocket(stack, ws_phone):
    register_over_ws(stack, ws_phone)


def test_websocket_phone_gets_a_call_on_its_socket(stack, ws_phone, tmp_path):
    """The processor routes to received/rport of the REGISTER (WS): EdgePort reuses the phone's socket."""
    register_over_ws(stack, ws_phone)
    caller = subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(SCENARIOS / "call_declined.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port("udp")),
            "-s",
            "alice",
            "-m",
            "1",
            "-timeout",
            "15",
            "-nostdin",
            "-trace_err",
            stack.remote,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        invite = ws_phone.receive()
        assert invite.method == "INVITE", invite.method
        assert invite.get("X-Gateway-Auth") is None
        assert invite.values("Via")[0].startswith("SIP/2.0/WS "), invite.values("Via")
        ws_phone.answer(invite, 603, "Decline")
        ack = ws_phone.receive()
        assert (ack.method, ack.cseq) == ("ACK", (1, "ACK"))
        output, _ = caller.communicate(timeout=20)
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.communicate()
    assert caller.returncode == 0, f"{output[-2500:]}\n{sipp_errors(tmp_path)}\n{stack.logs()}"
