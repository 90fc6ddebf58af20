"""TLS, WS and WSS end to end: EdgePort + the reference processor, real certificates made here.

The TLS peer for sipp calls is Kamailio with kamailio-tls-modules (Debian's sipp has no TLS);
the other TLS peers are Python's ssl module and the WebSocket peer is websocket-client.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest
import websocket
import yaml

from edgeport_lib.sip.framer import StreamFramer
from edgeport_lib.sip.parser import parse_message
from tests.helpers import PYTHON, REPO_ROOT, free_port, start_process

from .sipclient import TcpPeer, UdpPeer, request, response_to
from .stack import SCENARIOS, edge_config, free_udp_tcp_port, run_sipp, start_processor, start_sipp
from .tls_certs import PASSWORD, Certs, make_certs, security_context
from .tls_kamailio import available, start_kamailio

READ_TIMEOUT = 2
MAIN_LIMITS = {
    "readTimeout": READ_TIMEOUT,
    "idleTimeout": 60,
    "maxConnectionsPerIp": 8,
    "maxMessageSize": 8192,
}


def is_final(msg) -> bool:
    return msg.status is not None and msg.status >= 200


# --------------------------------------------------------------------------- peers


class TlsPeer(TcpPeer):
    """A SIP peer over TLS with Python's ssl module."""

    def __init__(self, to: tuple[str, int], context: ssl.SSLContext, timeout: float = 10.0) -> None:
        raw = socket.create_connection(to, timeout=timeout)
        self.sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        self.address = self.sock.getsockname()
        self.framer = StreamFramer()
        self.pending = []


class WsPeer:
    """A SIP over WebSocket client (RFC 7118) that, like a browser, has no address of its own."""

    def __init__(self, url: str, certs: Certs | None = None, client_cert: bool = True) -> None:
        sslopt = {"ca_certs": str(certs.ca)} if certs else {}
        if certs and client_cert:
            sslopt.update(certfile=str(certs.client_cert), keyfile=str(certs.client_key))
        self.ws = websocket.create_connection(url, subprotocols=["sip"], sslopt=sslopt, timeout=10)
        self.host = "df7jal23ls0d.invalid"

    def send(self, data: bytes) -> None:
        self.ws.send(data.decode())

    def receive(self):
        opcode, frame = self.ws.recv_data_frame(True)
        assert opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY), (opcode, frame)
        return parse_message(frame.data)

    def receive_until(self, predicate):
        while True:
            msg = self.receive()
            if predicate(msg):
                return msg

    def close(self) -> None:
        self.ws.close()


def ws_request(
    method: str, uri: str, transport: str, host: str, user: str = "alice", extra: str = ""
) -> bytes:
    """A request as JsSIP writes it: `.invalid` host, Via without port."""
    import secrets

    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {host};branch=z9hG4bK{secrets.token_hex(6)}",
        "Max-Forwards: 69",
        f"To: <sip:{user}@127.0.0.1>",
        f"From: <sip:{user}@127.0.0.1>;tag={secrets.token_hex(4)}",
        f"Call-ID: {secrets.token_hex(8)}",
        f"CSeq: 1 {method}",
        f"Contact: <sip:{user}@{host};transport={transport.lower()}>"
        ';+sip.instance="<urn:uuid:1>";expires=600',
        *[line for line in extra.split("\r\n") if line],
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def client_context(certs: Certs, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs.ca))
    if cert:
        context.load_cert_chain(str(cert), str(key))
    return context


# --------------------------------------------------------------------------- processes


def write_config(path: Path, processor_port: int, ports: dict[str, int], **spec) -> Path:
    config = edge_config(0, processor_port, **spec)
    config["spec"]["transport"] = [
        {"protocol": p, "port": port, "bindAddr": "127.0.0.1"} for p, port in ports.items()
    ]
    config["spec"]["timers"] = {"t1": 0.1}
    path.write_text(yaml.safe_dump(config))
    return path


def start_edge(path: Path):
    return start_process([PYTHON, str(REPO_ROOT / "edgeport.py"), str(path)])


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def world(tmp_path_factory, certs):
    """The processor, three EdgePorts (client certificates required / wanted / not asked) and sipp uases."""
    if reason := available():
        pytest.fail(reason)
    tmp = tmp_path_factory.mktemp("world")
    udp = free_udp_tcp_port()
    ports = {"udp": udp, "tcp": udp, "tls": free_port(), "ws": free_port(), "wss": free_port()}
    uas_udp, uas_tcp, kam_udp, kam_tls = free_port("udp"), free_port(), free_port("udp"), free_port()
    processor, processor_port = start_processor(
        tmp,
        routes={
            "tlsuas": {"host": "127.0.0.1", "port": kam_tls, "transport": "tls"},
            "tcpuas": {"host": "127.0.0.1", "port": uas_tcp, "transport": "tcp"},
        },
    )
    started = []
    try:
        protocols = ["TLSv1.1", "TLSv1.2", "TLSv1.3"]
        main_context = security_context(
            certs, "Enabled", client={"protocols": protocols, "authType": "Enabled"}
        )
        configs = {
            "main": (ports, {"securityContext": main_context, "limits": MAIN_LIMITS}),
            "want": ({"tls": free_port()}, {"securityContext": security_context(certs, "Want")}),
            "disabled": (
                {"tls": free_port()},
                {"securityContext": security_context(certs, "Disabled"), "limits": {"idleTimeout": 3}},
            ),
        }
        edges = {}
        for name, (edge_ports, spec) in configs.items():  # start all, then wait: they boot in parallel
            path = write_config(tmp / f"{name}.yaml", processor_port, edge_ports, **spec)
            edges[name] = (start_edge(path), edge_ports)
            started.append(edges[name][0])
        for process, _ in edges.values():
            process.wait_for_line("ready:", timeout=30)
        kamailio = start_kamailio(tmp / "kamailio", certs, kam_udp, kam_tls, ports["tls"], uas_udp)
        answer = ["-sf", str(SCENARIOS / "answer.xml"), "-i", "127.0.0.1"]
        uases = [
            start_sipp([*answer, "-p", str(uas_udp)], cwd=tmp),
            start_sipp([*answer, "-p", str(uas_tcp), "-t", "t1"], cwd=tmp),
        ]
        yield {
            "edges": edges,
            "ports": ports,
            "kamailio": kamailio,
            "tmp": tmp,
            "processor_port": processor_port,
        }
        for uas in uases:
            uas.kill()
            uas.wait(timeout=10)
        kamailio.stop()
    finally:
        for process in started:
            process.kill()
        processor.kill()


def main_port(world, protocol: str) -> tuple[str, int]:
    return "127.0.0.1", world["ports"][protocol]


def options_over(peer, transport: str = "TLS") -> int:
    peer.send(request("OPTIONS", "sip:127.0.0.1", peer.address, transport))
    return peer.receive_until(is_final).status


# --------------------------------------------------------------------------- startup


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("wrong_password", "wrong keyStorePassword"),
        ("mismatched", "the private key does not match the certificate"),
        ("missing", "file not found"),
    ],
)
def test_unusable_key_store_stops_startup_with_exit_2(tmp_path, certs, case, problem):
    context = {
        "wrong_password": security_context(certs, keyStorePassword="not-changeme"),
        "mismatched": security_context(certs, keyStore=str(certs.mismatched_pem), keyStoreType="pem"),
        "missing": security_context(certs, keyStore=str(tmp_path / "absent.p12")),
    }[case]
    store = Path(context["keyStore"])
    path = write_config(tmp_path / "edgeport.yaml", 1, {"tls": free_port()}, securityContext=context)
    done = subprocess.run(
        [PYTHON, str(REPO_ROOT / "edgeport.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2, done.stderr
    line = next(line for line in done.stderr.splitlines() if problem in line)
    assert str(store) in line and str(path) in line and "spec.securityContext.keyStore" in line
    assert PASSWORD not in done.stderr and "not-changeme" not in done.stderr


def test_protocols_below_tls12_are_refused_with_a_warning(world):
    edge, _ = world["edges"]["main"]
    assert any("client.protocols: TLSv1.1 refused" in line for line in edge.output)


# --------------------------------------------------------------------------- calls over TLS (Kamailio + sipp)


@pytest.mark.parametrize("callee", ["tlsuas", "tcpuas"])
def test_sipp_calls_through_edgeport_over_tls(world, callee):
    """sipp -UDP-> Kamailio -TLS (client cert.)-> EdgePort -TLS-> Kamailio -UDP-> sipp, or -TCP-> sipp."""
    result = run_sipp(
        [
            "-sf",
            str(SCENARIOS / "call.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port("udp")),
            "-s",
            callee,
            f"127.0.0.1:{world['kamailio'].udp_port}",
            "-m",
            "10",
            "-r",
            "20",
            "-timeout",
            "30",
        ],
        timeout=60,
        cwd=world["tmp"],
    )
    assert (result.successful, result.failed) == (10, 0), (
        result.output[-2000:] + world["kamailio"].log()[-3000:]
    )
    relayed = world["kamailio"].log()
    assert "relay INVITE sip:tlsuas" in relayed or callee == "tcpuas"
    assert f"relay INVITE sip:{callee}" in relayed and "from udp" in relayed


# --------------------------------------------------------------------------- client certificates


def test_client_certificate_required(world, certs):
    to = main_port(world, "tls")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        peer = TlsPeer(to, client_context(certs))  # TLS 1.3 reports the refusal at the first read
        options_over(peer)
    peer = TlsPeer(to, client_context(certs, certs.client_cert, certs.client_key))
    assert options_over(peer) == 200
    peer.close()


@pytest.mark.parametrize(
    ("edge", "which", "accepted"),
    [
        ("want", "none", True),
        ("want", "client", True),
        ("want", "rogue", False),
        ("disabled", "none", True),
        ("disabled", "rogue", True),
    ],  # never asked, so never checked
)
def test_client_certificate_wanted_or_not_asked(world, certs, edge, which, accepted):
    pair = {
        "none": (),
        "client": (certs.client_cert, certs.client_key),
        "rogue": (certs.rogue_cert, certs.rogue_key),
    }
    to = ("127.0.0.1", world["edges"][edge][1]["tls"])
    if accepted:
        peer = TlsPeer(to, client_context(certs, *pair[which]))
        assert options_over(peer) == 200
        peer.close()
    else:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            options_over(TlsPeer(to, client_context(certs, *pair[which])))


def test_idle_tls_connection_is_closed(world, certs):
    peer = TlsPeer(("127.0.0.1", world["edges"]["disabled"][1]["tls"]), client_context(certs))
    assert options_over(peer) == 200
    started = time.monotonic()
    peer.sock.settimeout(10)
    assert peer.sock.recv(100) == b""  # idleTimeout is 3 s there
    assert 2 <= time.monotonic() - started < 8


# --------------------------------------------------------------------------- WebSocket


@pytest.mark.parametrize("transport", ["WS", "WSS"])
def test_websocket_client_registers_and_receives_an_invite_on_its_socket(world, certs, transport):
    scheme, port = transport.lower(), world["ports"][transport.lower()]
    phone = WsPeer(f"{scheme}://127.0.0.1:{port}/", certs if transport == "WSS" else None)
    assert phone.ws.subprotocol == "sip"
    user = f"ws{transport.lower()}"
    phone.send(ws_request("REGISTER", "sip:127.0.0.1", transport, phone.host, user, "Expires: 600"))
    ok = phone.receive_until(is_final)
    assert ok.status == 200 and "+sip.instance" in ok.get("Contact")
    caller = UdpPeer()
    try:
        caller.send(
            request(
                "INVITE", f"sip:{user}@127.0.0.1", caller.address, call_id=f"to-{user}", from_user="carol"
            ),
            main_port(world, "udp"),
        )
        invite = phone.receive_until(lambda m: m.method == "INVITE")
        assert invite.call_id == f"to-{user}" and f"SIP/2.0/{transport}" in invite.get("Via")
        phone.send(response_to(invite, 486, "Busy Here"))
        assert caller.receive_until(is_final).status == 486
        assert phone.receive_until(lambda m: m.method == "ACK").call_id == f"to-{user}"

        phone.ws.ping(b"hi")
        opcode, frame = phone.ws.recv_data_frame(True)
        assert (opcode, frame.data) == (websocket.ABNF.OPCODE_PONG, b"hi")

        phone.ws.send_close()  # clean close: EdgePort answers with a close frame
        opcode, frame = phone.ws.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and struct.unpack("!H", frame.data[:2])[0] == 1000
        phone.ws.shutdown()
        # the connection left the table at once: the processor still routes to it, EdgePort cannot
        caller.send(
            request("INVITE", f"sip:{user}@127.0.0.1", caller.address, from_user="carol"),
            main_port(world, "udp"),
        )
        assert caller.receive_until(is_final).status == 503
    finally:
        caller.close()


def test_websocket_needs_the_sip_subprotocol(world):
    url = f"ws://127.0.0.1:{world['ports']['ws']}/"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, subprotocols=["sipfoo"], timeout=5)
    assert refused.value.status_code == 400
    plain = http.client.HTTPConnection("127.0.0.1", world["ports"]["ws"], timeout=5)
    plain.request("GET", "/")
    assert plain.getresponse().status == 426
    plain.close()


def test_oversized_websocket_frame_is_closed_with_1009(world):
    url = f"ws://127.0.0.1:{world['ports']['ws']}/"
    good, big, liar = WsPeer(url), WsPeer(url), WsPeer(url)
    try:
        big.ws.send("x" * 20000)  # maxMessageSize is 8192
        opcode, frame = big.ws.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and struct.unpack("!H", frame.data[:2])[0] == 1009
        # refused on the announced length: a 1 GB frame header alone is enough
        liar.ws.sock.sendall(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 1 << 30) + b"mask")
        opcode, frame = liar.ws.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and struct.unpack("!H", frame.data[:2])[0] == 1009
        good.send(ws_request("OPTIONS", "sip:127.0.0.1", "WS", good.host))
        assert good.receive_until(is_final).status == 200
    finally:
        for peer in (good, big, liar):
            peer.ws.shutdown()


# --------------------------------------------------------------------------- slow and greedy clients


def test_tls_client_that_never_finishes_its_handshake(world, certs):
    to = main_port(world, "tls")
    stalled = socket.create_connection(to, timeout=10)
    stalled.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, then nothing
    good = TlsPeer(to, client_context(certs, certs.client_cert, certs.client_key))
    assert options_over(good) == 200  # answered while the bad one holds its handshake open
    good.close()
    started = time.monotonic()
    assert stalled.recv(100) == b""  # closed by EdgePort after the read timeout
    assert time.monotonic() - started < READ_TIMEOUT + 3
    stalled.close()


def test_tcp_client_trickling_one_byte_per_second(world):
    to = main_port(world, "tcp")
    slow = socket.create_connection(to, timeout=10)
    message = request("OPTIONS", "sip:127.0.0.1", slow.getsockname(), "TCP")
    good = TcpPeer(to)
    started, sent = time.monotonic(), 0
    try:
        while sent < len(message):
            slow.sendall(message[sent : sent + 1])
            sent += 1
            if sent == 2:
                assert options_over(good, "TCP") == 200  # the good client is not held up
            time.sleep(1)
    except (BrokenPipeError, ConnectionResetError):
        pass
    else:
        assert slow.recv(100) == b""
    assert sent < 10 and time.monotonic() - started < READ_TIMEOUT + 4
    good.close()
    slow.close()


def test_connections_per_ip_are_limited(world):
    to = main_port(world, "tcp")
    greedy = []
    try:
        for _ in range(MAIN_LIMITS["maxConnectionsPerIp"]):
            sock = socket.create_connection(to, timeout=5, source_address=("127.0.0.7", 0))
            sock.sendall(b"\r\n\r\n")  # a keep-alive: counts as a first message
            assert sock.recv(10) == b"\r\n"
            greedy.append(sock)
        extra = socket.create_connection(to, timeout=5, source_address=("127.0.0.7", 0))
        assert extra.recv(10) == b""  # one too many from that address: closed at once
        extra.close()
        other = TcpPeer(to)  # another address is not affected
        assert options_over(other, "TCP") == 200
        other.close()
        greedy.pop().close()  # a place is free again once EdgePort has seen that close
        for _ in range(50):
            try:
                with socket.create_connection(to, timeout=5, source_address=("127.0.0.7", 0)) as again:
                    again.sendall(b"\r\n\r\n")
                    if again.recv(10) == b"\r\n":
                        break
            except ConnectionError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("no connection from 127.0.0.7 accepted after one was closed")
    finally:
        for sock in greedy:
            sock.close()
