"""Hostile input and faults against a real EdgePort (+ reference processor, + sipp):

* a garbage UDP flood (random bytes and truncated SIP) while sipp calls go through;
* 1,000 silent TCP connections plus 200 trickling ones while good clients register;
* a 10 MB body announced in Content-Length over TCP;
* a processor that sleeps on every fifth call, and one that hangs on half its calls;
* source allow/deny lists (accessControl);
* what happens when the transaction table or the worker pool is full.

Figures (RSS, packets, calls) are printed: run with `-s` to see them. Loads are bounded and no
assertion is on a duration: orderings and completions only.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import resource
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from edgeport_lib.admission import SLOW_ANSWERS
from tests.helpers import free_port

from .ops_client import samples, total, wait_for_health, wait_for_metric, wait_for_metric_at_most
from .sipclient import TcpPeer, UdpPeer, request
from .stack import start_edgeport, start_processor, start_sipp

RSS_BOUND_MB = 150  # EdgePort's resident memory under every load of this file
FLOOD_PACKETS = 50_000
FLOOD_CALLS = 200
IDLE_CONNECTIONS = 1000
TRICKLING_CONNECTIONS = 200
TEN_MB = 10 * 1024 * 1024
FD_SLACK = 2  # a health probe's connection may be open at either count
DROP_LOG = re.compile(r"unparseable|dropped", re.IGNORECASE)


# ------------------------------------------------------------------------------------------ helpers
def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (kB) and open file descriptors of a process."""
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def mb(kb: int) -> float:
    return kb / 1024


@pytest.fixture
def enough_file_descriptors():
    """1,200+ sockets here and in EdgePort (started after, it inherits the limit): raise the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if wanted < IDLE_CONNECTIONS + TRICKLING_CONNECTIONS + 300:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is too low for this file")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def procs():
    """Processes to end after the test: (Process from tests.helpers) or subprocess.Popen."""
    made: list = []
    yield made
    for proc in reversed(made):
        if isinstance(proc, subprocess.Popen):
            proc.kill()
            proc.wait(timeout=10)
        else:
            proc.kill()


def start(
    tmp_path: Path, procs: list, routes=None, processor_args=None, env=None, processor_timeout=None, **spec
):
    processor, processor_port = start_processor(tmp_path, routes=routes, extra=processor_args)
    procs.append(processor)
    if processor_timeout is not None:
        spec["processor"] = {"addr": f"127.0.0.1:{processor_port}", "timeout": processor_timeout}
    edge = start_edgeport(tmp_path, processor_port, env=env, **spec)
    procs.append(edge.process)
    return edge


def with_ops(env: dict | None = None) -> tuple[dict, dict, int]:
    port = free_port("tcp")
    return {"ENABLE_HEALTHCHECKS": "true", **(env or {})}, {"bindAddr": "127.0.0.1", "port": port}, port


def register(local: tuple[str, int], user: str, transport: str = "UDP") -> bytes:
    return request("REGISTER", "sip:127.0.0.1", local, transport, to=f"<sip:{user}@127.0.0.1>")


def register_over_udp(edge_port: int, user: str) -> int:
    peer = UdpPeer(timeout=15)
    try:
        peer.send(register(peer.address, user), ("127.0.0.1", edge_port))
        return peer.receive_until(lambda m: m.status is not None and m.status >= 200).status
    finally:
        peer.close()


def register_over_tcp(edge_port: int, user: str) -> int:
    peer = TcpPeer(("127.0.0.1", edge_port), timeout=15)
    try:
        peer.send(register(peer.address, user, "TCP"))
        return peer.receive_until(lambda m: m.status is not None and m.status >= 200).status
    finally:
        peer.close()


def sipp_stat(output: str, name: str) -> int:
    match = re.search(rf"{name}\s*\|\s*(\d+)\s*\|\s*(\d+)", output)
    return int(match.group(2)) if match else -1


# ------------------------------------------------------------------------------- the garbage flood
TRUNCATABLE = (
    "INVITE sip:nobody@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{token};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:flood@127.0.0.1>;tag={token}\r\n"
    "To: <sip:nobody@127.0.0.1>\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:flood@127.0.0.1:{port}>\r\n"
    "Content-Type: application/sdp\r\n"
    "Call-ID: {token}@flood\r\n"  # last header: a cut anywhere before it leaves Call-ID out
    "Content-Length: 120\r\n"
    "\r\n"
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
)


def garbage_packets(rnd: random.Random, port: int, count: int = 600) -> list[bytes]:
    """Random bytes, SIP cut before its Call-ID (dropped unanswered), SIP with a short body (400)."""
    packets = []
    for i in range(count):
        kind = i % 4
        if kind in (0, 1):
            packets.append(rnd.randbytes(rnd.choice((1, 8, 64, 300, 1200))))
            continue
        text = TRUNCATABLE.format(port=port, token=secrets.token_hex(6)).encode()
        if kind == 2:
            packets.append(text[: rnd.randrange(1, text.index(b"Call-ID"))])
        else:  # complete head, body shorter than its Content-Length: a 400 goes back
            packets.append(text[: rnd.randrange(len(text) - 110, len(text) - 1)])
    return packets


FLOOD_BACKLOG = 1000  # datagrams EdgePort may have unread before the flood waits (well under T1 of work)


def hold_back(ops_port: int, sent: int) -> float:
    """Wait (at most 10 s) while EdgePort has more than FLOOD_BACKLOG flood datagrams unread; seconds waited.

    Beyond what it can parse, a flood only fills the socket buffer, and the kernel then drops SIP
    and garbage alike: that measures this shared machine, not what garbage does to the calls. (At
    about 7,500 garbage datagrams a second, with sipp and the processor on the same two cores,
    EdgePort fell behind by more than T1: retransmissions, and sipp's uas aborts a call when an INVITE
    retransmission reaches it after its 200.)
    """
    started = time.monotonic()
    while time.monotonic() - started < 10:
        if sent - total(samples(ops_port), "edgeport_sip_parse_errors_total") <= FLOOD_BACKLOG:
            break
        time.sleep(0.1)  # polling pace
    return time.monotonic() - started


def test_garbage_flood_while_sipp_calls_complete(tmp_path, procs):
    uas_port = free_port("udp")
    env, ops, ops_port = with_ops()
    edge = start(
        tmp_path,
        procs,
        routes={"service": {"host": "127.0.0.1", "port": uas_port, "transport": "udp"}},
        env=env,
        ops=ops,
    )
    pid = edge.process.popen.pid
    procs.append(start_sipp(["-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port)]))
    before = proc_status(pid)
    sipp_log = open(tmp_path / "uac.out", "w")  # a file, not a pipe: sipp must never block on its output
    uac = subprocess.Popen(
        [
            "sipp",
            "-sn",
            "uac",
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port("udp")),
            "-s",
            "service",
            f"127.0.0.1:{edge.port}",
            "-m",
            str(FLOOD_CALLS),
            "-r",
            "20",
            "-l",
            "60",
            "-timeout",
            "150",
            "-nostdin",
            "-trace_err",
        ],
        stdout=sipp_log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    procs.append(uac)

    rnd = random.Random(20240601)
    flooders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    for sock in flooders:
        sock.bind(("127.0.0.1", 0))
    packets = garbage_packets(rnd, flooders[0].getsockname()[1])
    target = ("127.0.0.1", edge.port)
    sent, peak_rss, sipp_running_during_flood, held_back = 0, before["VmRSS"], 0, 0
    try:
        for batch in range(FLOOD_PACKETS // 250):  # bounded: 200 batches of 250 datagrams
            for i in range(250):
                flooders[i % 4].sendto(packets[(batch * 250 + i) % len(packets)], target)
                sent += 1
            if batch % 4 == 0:
                held_back += hold_back(ops_port, sent)
            if batch % 10 == 0:
                peak_rss = max(peak_rss, proc_status(pid)["VmRSS"])
                sipp_running_during_flood += uac.poll() is None
            time.sleep(0.05)  # pacing: at most about 4,500 datagrams a second
    finally:
        for sock in flooders:
            sock.close()
    try:
        uac.wait(timeout=200)
    except subprocess.TimeoutExpired:
        uac.kill()
        uac.wait(timeout=10)
    finally:
        sipp_log.close()
    output = (tmp_path / "uac.out").read_text(errors="replace")
    assert uac.returncode is not None and uac.returncode >= 0, "sipp did not end:\n" + output[-3000:]
    after = proc_status(pid)
    successful, failed = sipp_stat(output, "Successful call"), sipp_stat(output, "Failed call")
    metrics = samples(ops_port)
    parse_errors = total(metrics, "edgeport_sip_parse_errors_total")
    bad_requests = total(metrics, "edgeport_sip_messages_sent_total", kind="response", status_class="4xx")
    (tmp_path / "edgeport.log").write_text(edge.process.log())
    drop_lines = [line for line in edge.process.output if DROP_LOG.search(line)]
    print(
        f"\nflood: {sent} datagrams sent; EdgePort counted {parse_errors:.0f} parse errors (the rest: "
        f"CRLF-only keep-alives, or dropped by a full socket buffer) and answered "
        f"{bad_requests:.0f} with 400; "
        f"calls {successful} ok / {failed} failed of {FLOOD_CALLS}; sipp running at "
        f"{sipp_running_during_flood} of 20 flood samples; RSS {mb(before['VmRSS']):.1f} MB before, "
        f"peak sample {mb(peak_rss):.1f} MB, {mb(after['VmRSS']):.1f} MB after, VmHWM "
        f"{mb(after['VmHWM']):.1f} MB (bound {RSS_BOUND_MB} MB); "
        f"{len(drop_lines)} log lines about dropped input; flood held back {held_back:.1f} s in all"
    )
    assert sent >= FLOOD_PACKETS
    assert sipp_running_during_flood > 0, "the calls did not overlap the flood"
    assert successful >= FLOOD_CALLS * 0.99, output[-3000:] + "\n".join(edge.process.output[-60:])
    assert parse_errors > 1000  # the flood did reach the parser
    assert mb(after["VmHWM"]) < RSS_BOUND_MB
    assert len(drop_lines) <= 100, drop_lines[:5]  # logged per burst, never per packet
    assert register_over_udp(edge.port, "after-flood") == 200


# ------------------------------------------------------------ idle and trickling TCP connections
def test_idle_and_trickling_connections_do_not_hold_up_good_clients(tmp_path, enough_file_descriptors, procs):
    env, ops, ops_port = with_ops()
    limits = {"maxConnections": 5000, "maxConnectionsPerIp": 2000, "readTimeout": 120, "idleTimeout": 600}
    edge = start(tmp_path, procs, env=env, ops=ops, limits=limits)
    pid = edge.process.popen.pid
    assert register_over_udp(edge.port, "warm-up-udp") == 200  # the processor channel is open
    assert register_over_tcp(edge.port, "warm-up-tcp") == 200
    wait_for_metric_at_most(ops_port, "edgeport_connections_open", 0)
    idle_baseline = proc_status(pid)
    to = ("127.0.0.1", edge.port)
    idle, trickling = [], []
    stop = threading.Event()
    message = request("OPTIONS", "sip:127.0.0.1", ("127.0.0.1", 1), "TCP")

    def trickle() -> None:  # one byte on every trickling connection, twice a second
        sent = 0
        while not stop.wait(0.5):
            sent += 1
            for sock in list(trickling):
                try:
                    sock.send(message[sent : sent + 1])
                except OSError:
                    pass

    pump = threading.Thread(target=trickle, daemon=True)
    try:
        for _ in range(IDLE_CONNECTIONS):
            idle.append(socket.create_connection(to, timeout=10))
        for _ in range(TRICKLING_CONNECTIONS):
            sock = socket.create_connection(to, timeout=10)
            sock.send(message[:1])
            trickling.append(sock)
        pump.start()
        held = wait_for_metric(
            ops_port, "edgeport_connections_open", IDLE_CONNECTIONS + TRICKLING_CONNECTIONS
        )
        loaded = proc_status(pid)
        assert register_over_udp(edge.port, "good-udp") == 200
        assert register_over_tcp(edge.port, "good-tcp") == 200
        still = total(samples(ops_port), "edgeport_connections_open")
        print(
            f"\nconnections: {held:.0f} held open ({IDLE_CONNECTIONS} silent, "
            f"{TRICKLING_CONNECTIONS} trickling), "
            f"{still:.0f} still open after the good clients' REGISTERs got 200; EdgePort fds "
            f"{idle_baseline['fds']} -> {loaded['fds']}, RSS {mb(idle_baseline['VmRSS']):.1f} -> "
            f"{mb(loaded['VmRSS']):.1f} MB"
        )
        assert still >= IDLE_CONNECTIONS + TRICKLING_CONNECTIONS  # they were all there meanwhile
        assert mb(loaded["VmHWM"]) < RSS_BOUND_MB
    finally:
        stop.set()
        for sock in idle + trickling:
            sock.close()
        if pump.is_alive():
            pump.join(timeout=5)
    # every connection is let go: the connection table and the descriptors come back to idle
    deadline = time.monotonic() + 30
    while True:
        now = proc_status(pid)
        if now["fds"] <= idle_baseline["fds"] + FD_SLACK or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # polling pace
    assert now["fds"] <= idle_baseline["fds"] + FD_SLACK, (idle_baseline, now)
    wait_for_metric_at_most(ops_port, "edgeport_connections_open", 0)


# --------------------------------------------------------------------- a 10 MB announced body
def test_ten_megabyte_body_is_refused_after_the_head(tmp_path, procs):
    edge = start(tmp_path, procs)
    pid = edge.process.popen.pid
    assert register_over_tcp(edge.port, "warm-up") == 200
    before = proc_status(pid)
    sock = socket.create_connection(("127.0.0.1", edge.port), timeout=10)
    head = request("MESSAGE", "sip:127.0.0.1", sock.getsockname(), "TCP", body="").replace(
        b"Content-Length: 0", b"Content-Length: %d" % TEN_MB
    )
    chunk = b"x" * 65536
    sent, refused = 0, False
    try:
        sock.sendall(head)
        while sent < TEN_MB:
            sock.sendall(chunk)
            sent += len(chunk)
        refused = sock.recv(100) == b""  # all of it went into socket buffers: the close shows now
    except (BrokenPipeError, ConnectionResetError):
        refused = True
    except TimeoutError:
        refused = False  # EdgePort kept the connection open and stopped reading
    finally:
        sock.close()
    after = proc_status(pid)
    print(
        f"\n10 MB body: connection closed by EdgePort after {sent / 1024 / 1024:.1f} MB of body sent; "
        f"RSS {mb(before['VmRSS']):.1f} -> {mb(after['VmRSS']):.1f} MB"
    )
    assert refused
    assert sent < TEN_MB, "EdgePort let the whole body be sent before closing"
    assert after["VmRSS"] - before["VmRSS"] < 5 * 1024, "EdgePort buffered the body"
    assert register_over_tcp(edge.port, "after-big-body") == 200


# ----------------------------------------------------------- a processor slow on every fifth call
def test_a_slow_processor_call_does_not_hold_up_the_others(tmp_path, procs):
    edge = start(
        tmp_path, procs, processor_args=["--slow-every", "5", "--slow-delay", "30"], processor_timeout=8
    )
    peer = UdpPeer(timeout=40)
    try:
        sent = {}
        for i in range(10):
            call_id = f"slow-test-{i}"
            if i % 2:
                data = request("OPTIONS", "sip:127.0.0.1", peer.address, call_id=call_id)
            else:
                data = request(
                    "REGISTER", "sip:127.0.0.1", peer.address, call_id=call_id, to=f"<sip:user{i}@127.0.0.1>"
                )
            sent[call_id] = data
            peer.send(data, ("127.0.0.1", edge.port))
        answers = []
        while len(answers) < 8:
            msg, _ = peer.receive()
            answers.append((msg.call_id, msg.status))
        # the two slow calls (the 5th and 10th the processor got) are still pending: a new request
        # (the processor's 11th call: a fast one) overtakes them too
        peer.send(
            request("OPTIONS", "sip:127.0.0.1", peer.address, call_id="slow-test-late"),
            ("127.0.0.1", edge.port),
        )
        while len(answers) < 11:
            msg, _ = peer.receive()
            answers.append((msg.call_id, msg.status))
    finally:
        peer.close()
    print(f"\nslow processor: answers in order {answers}")
    assert [status for _, status in answers[:9]] == [200] * 9
    assert answers[8][0] == "slow-test-late"
    slow = answers[9:]
    assert {call_id for call_id, _ in slow} <= set(sent)
    assert [status for _, status in slow] == [503, 503]  # processor timeout (8 s) before its 30 s sleep


def test_quick_processor_answers_do_not_wait_behind_many_hung_calls(tmp_path, procs):
    """gRPC's gevent mode waits for each call in a native thread. With gevent's hub threadpool
    (10 threads) a quick answer waited behind 10 hung calls until one of them reached its
    deadline; EdgePort's own wait threads (grpc_waits.py) let every quick answer through."""
    env, ops, ops_port = with_ops()
    edge = start(
        tmp_path, procs, processor_args=["--slow-every", "2", "--slow-delay", "30"], processor_timeout=6,
        env=env, ops=ops,
    )
    peer = UdpPeer(timeout=20)
    requests = 24  # the processor's 2nd, 4th, ... call hangs: 12 hung calls, 12 quick ones
    try:
        for i in range(requests):
            peer.send(request("OPTIONS", "sip:127.0.0.1", peer.address, call_id=f"hung-{i}"),
                      ("127.0.0.1", edge.port))
        statuses = [peer.receive()[0].status for _ in range(12)]
        in_flight = total(samples(ops_port), "edgeport_processor_calls_in_flight")  # well before 6 s
        statuses += [peer.receive()[0].status for _ in range(12)]
    finally:
        peer.close()
    print(f"\nhalf the processor calls hung: statuses in order of arrival {statuses}")
    assert statuses == [200] * 12 + [503] * 12  # all quick answers before the first deadline
    assert in_flight == 12  # the hung calls, visible before they fail
    assert total(samples(ops_port), "edgeport_processor_calls_in_flight") == 0



def test_a_slow_processor_gets_new_requests_refused_until_it_is_quick_again(tmp_path, procs):
    """maxProcessorDelay: after a run of answers slower than the limit, a new request gets 503 +
    Retry-After at once (counted, logged once) while a request of a dialog still goes through;
    once no answer came for a while, a new request is let through again to measure anew."""
    env, ops, ops_port = with_ops()
    edge = start(tmp_path, procs, processor_args=["--delay", "0.3"], processor_timeout=10,
                 limits={"maxProcessorDelay": 0.1}, env=env, ops=ops)
    peer = UdpPeer(timeout=30)
    to = ("127.0.0.1", edge.port)
    edge_uri = f"sip:127.0.0.1:{edge.port}"  # addressed to the EdgePort: the processor answers
    try:
        for i in range(SLOW_ANSWERS):
            peer.send(request("OPTIONS", "sip:127.0.0.1", peer.address, call_id=f"slow-{i}"), to)
        assert [peer.receive()[0].status for _ in range(SLOW_ANSWERS)] == [200] * SLOW_ANSWERS
        peer.send(request("OPTIONS", "sip:127.0.0.1", peer.address, call_id="refused"), to)
        peer.send(request("OPTIONS", edge_uri, peer.address, call_id="in-dialog", to_tag="b1"), to)
        answers = {m.call_id: m for m in (peer.receive()[0] for _ in range(2))}
        let_through = _first_new_request_let_through(peer, to, deadline=time.monotonic() + 10)
    finally:
        peer.close()
    assert (answers["refused"].status, bool(answers["refused"].get("Retry-After"))) == (503, True)
    assert answers["in-dialog"].status == 200
    assert let_through is not None, "new requests were still refused 10 s after the last answer"
    counted = samples(ops_port)
    assert total(counted, "edgeport_sip_overload_total", transport="udp", action="rejected_slow") >= 1
    assert sum("maxProcessorDelay" in line for line in edge.process.output) == 1


def _first_new_request_let_through(peer, to, deadline: float):
    """Send new requests, one at a time and 0.1 s apart, until one is answered 200 (None if none
    is before the deadline). The gate has no event to wait for: it opens on the clock."""
    for i in itertools.count():
        peer.send(request("OPTIONS", "sip:127.0.0.1", peer.address, call_id=f"probe-{i}"), to)
        answer, _ = peer.receive()
        if answer.status == 200:
            return answer
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


# ------------------------------------------------------------------------------- access control
def test_denied_source_gets_no_answer_while_an_allowed_one_does(tmp_path, procs):
    edge = start(tmp_path, procs, accessControl={"allow": ["127.0.0.0/8"], "deny": ["127.0.0.2/32"]})
    to = ("127.0.0.1", edge.port)
    denied = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    denied.bind(("127.0.0.2", 0))
    allowed = UdpPeer(timeout=10)
    try:
        for i in range(3):
            denied.sendto(
                request("OPTIONS", "sip:127.0.0.1", denied.getsockname(), call_id=f"denied-{i}"), to
            )
        allowed.send(request("OPTIONS", "sip:127.0.0.1", allowed.address, call_id="allowed"), to)
        assert allowed.receive()[0].status == 200
        # the denied datagrams were read (and dropped) before the allowed one on the same socket
        denied.settimeout(1.0)
        with pytest.raises(TimeoutError):
            denied.recvfrom(65535)
    finally:
        denied.close()
        allowed.close()

    tcp_denied = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_denied.settimeout(10)
    tcp_denied.bind(("127.0.0.2", 0))
    try:
        tcp_denied.connect(to)
        tcp_denied.sendall(request("OPTIONS", "sip:127.0.0.1", tcp_denied.getsockname(), "TCP"))
        assert tcp_denied.recv(1000) == b""
    except ConnectionResetError:
        pass  # reset at accept: while connecting (a loaded machine), before or after our bytes
    finally:
        tcp_denied.close()
    assert register_over_tcp(edge.port, "allowed-tcp") == 200
    denial_lines = [line for line in edge.process.output if "denied by access control" in line]
    assert len(denial_lines) == 1, denial_lines  # the first denial only: 4 are far from the next line


def test_health_probes_are_never_denied(tmp_path, procs):
    """The UDP and TCP probes send from 127.0.0.1: an allow list without loopback must not fail /healthz."""
    env, ops, ops_port = with_ops()
    edge = start(tmp_path, procs, env=env, ops=ops, accessControl={"allow": ["10.0.0.0/8"]})
    wait_for_health(ops_port, lambda status, body: status == 200 and body == {"status": "OK"})
    denied = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    denied.bind(("127.0.0.2", 0))
    denied.settimeout(1.0)
    try:
        denied.sendto(request("OPTIONS", "sip:127.0.0.1", denied.getsockname()), ("127.0.0.1", edge.port))
        with pytest.raises(TimeoutError):
            denied.recvfrom(65535)  # the lists still apply to everyone else
    finally:
        denied.close()


# ---------------------------------------------------------------------- full tables and pools
def _fill_the_transaction_table(tmp_path, procs):
    """maxTransactions 2, a processor taking 2 s: 4 OPTIONS at once; (answers in order, EdgePort)."""
    edge = start(
        tmp_path, procs, processor_args=["--delay", "2"], processor_timeout=10, limits={"maxTransactions": 2}
    )
    peer = UdpPeer(timeout=20)
    try:
        for i in range(4):
            peer.send(
                request("OPTIONS", "sip:127.0.0.1", peer.address, call_id=f"full-{i}"),
                ("127.0.0.1", edge.port),
            )
        return [peer.receive()[0] for _ in range(4)], edge
    finally:
        peer.close()


def test_full_transaction_table_answers_503_with_retry_after(tmp_path, procs):
    answers, _ = _fill_the_transaction_table(tmp_path, procs)
    print(f"\nfull table: answers {[(m.call_id, m.status, m.get('Retry-After')) for m in answers]}")
    assert [m.status for m in answers] == [503, 503, 200, 200]  # the two beyond the limit at once
    assert all(m.get("Retry-After") for m in answers[:2])


def test_full_transaction_table_is_logged(tmp_path, procs):
    answers, edge = _fill_the_transaction_table(tmp_path, procs)
    assert [m.status for m in answers][:2] == [503, 503]
    assert any(re.search(r"transaction|maxTransactions|table", line, re.I) for line in edge.process.output)


def test_full_client_transaction_table_answers_503_with_retry_after(tmp_path, procs):
    downstream = UdpPeer(timeout=10)  # a next hop that never answers
    procs.append(_Closer(downstream))
    env, ops, ops_port = with_ops()
    routes = {"service": {"host": "127.0.0.1", "port": downstream.address[1], "transport": "udp"}}
    edge = start(
        tmp_path, procs, routes=routes, env=env, ops=ops, limits={"maxTransactions": 2}, timers={"t1": 0.05}
    )
    to = ("127.0.0.1", edge.port)
    caller = UdpPeer(timeout=10)
    try:
        invite = request(
            "INVITE", "sip:service@127.0.0.1", caller.address, call_id="full-a", branch="z9hG4bKa1"
        )
        caller.send(invite, to)
        caller.receive_until(lambda m: m.status == 100)
        downstream.receive()  # the INVITE reached the next hop: 1 server and 1 client transaction
        cancel = request(
            "CANCEL", "sip:service@127.0.0.1", caller.address, call_id="full-a", branch="z9hG4bKa1"
        )
        caller.send(cancel, to)  # a CANCEL client transaction: 2 client transactions, 1 server
        caller.receive_until(lambda m: m.status == 200 and m.cseq[1] == "CANCEL")
        caller.send(request("INVITE", "sip:service@127.0.0.1", caller.address, call_id="full-b"), to)
        answer = caller.receive_until(lambda m: m.call_id == "full-b" and m.status >= 200)
    finally:
        caller.close()
    internal_errors = [line for line in edge.process.output if "internal error" in line]
    print(
        f"\nfull client table: {answer.status} {answer.reason} Retry-After={answer.get('Retry-After')}; "
        f"{len(internal_errors)} 'internal error' log lines"
    )
    assert (answer.status, bool(answer.get("Retry-After"))) == (503, True)
    assert not internal_errors


class _Closer:
    def __init__(self, peer) -> None:
        self.peer = peer

    def kill(self) -> None:
        self.peer.close()


def test_a_full_worker_pool_answers_new_requests_503_at_once(tmp_path, procs):
    """maxInFlight full: new requests get 503 + Retry-After at once, counted and logged once;
    the ones in flight still get their answer, and a retransmission of one is not refused."""
    env, ops, ops_port = with_ops()
    edge = start(
        tmp_path, procs, processor_args=["--delay", "1"], processor_timeout=10, limits={"maxInFlight": 2},
        env=env, ops=ops,
    )
    peer = UdpPeer(timeout=30)
    to = ("127.0.0.1", edge.port)
    try:
        first = request("OPTIONS", "sip:127.0.0.1", peer.address, call_id="pool-0")
        peer.send(first, to)
        peer.send(request("OPTIONS", "sip:127.0.0.1", peer.address, call_id="pool-1"), to)
        wait_for_metric(ops_port, "edgeport_transactions_open", 2)  # both wait for the processor
        for i in range(2, 6):
            peer.send(request("OPTIONS", "sip:127.0.0.1", peer.address, call_id=f"pool-{i}"), to)
        peer.send(first, to)  # a retransmission while its transaction waits for the processor
        answers = [peer.receive()[0] for _ in range(6)]
    finally:
        peer.close()
    status = {m.call_id: m.status for m in answers}
    assert sorted(status) == [f"pool-{i}" for i in range(6)], status
    assert status["pool-0"] == status["pool-1"] == 200
    assert [status[f"pool-{i}"] for i in range(2, 6)] == [503] * 4
    assert all(m.get("Retry-After") for m in answers if m.status == 503)
    wait_for_metric(ops_port, "edgeport_sip_overload_total", 5)
    counted = samples(ops_port)
    assert total(counted, "edgeport_sip_overload_total", action="rejected") == 4
    # the retransmission, and the health probe's keep-alives of that second
    assert total(counted, "edgeport_sip_overload_total", action="dropped") >= 1
    assert sum("message greenlets busy" in line for line in edge.process.output) == 1


def test_a_full_worker_pool_over_tcp_answers_new_requests_and_holds_the_rest(tmp_path, procs):
    """maxInFlight full over a stream: a new request gets 503 + Retry-After at once; a request of
    a dialog (To-tag) is not refused and not lost (a stream never retransmits): it waits."""
    env, ops, ops_port = with_ops()
    edge = start(
        tmp_path, procs, processor_args=["--delay", "1"], processor_timeout=10, limits={"maxInFlight": 2},
        env=env, ops=ops,
    )
    peer = TcpPeer(("127.0.0.1", edge.port), timeout=30)
    try:
        for i in range(2):
            peer.send(request("OPTIONS", "sip:127.0.0.1", peer.address, "TCP", call_id=f"tcp-pool-{i}"))
        wait_for_metric(ops_port, "edgeport_transactions_open", 2)  # both wait for the processor
        for i in range(2, 4):
            peer.send(request("OPTIONS", "sip:127.0.0.1", peer.address, "TCP", call_id=f"tcp-pool-{i}"))
        edge_uri = f"sip:127.0.0.1:{edge.port}"  # addressed to the EdgePort: the processor answers
        in_dialog = request("OPTIONS", edge_uri, peer.address, "TCP", call_id="tcp-dialog", to_tag="b1")
        peer.send(in_dialog)
        answers = [peer.receive() for _ in range(5)]
    finally:
        peer.close()
    status = {m.call_id: m.status for m in answers}
    assert status == {"tcp-pool-0": 200, "tcp-pool-1": 200, "tcp-pool-2": 503, "tcp-pool-3": 503,
                      "tcp-dialog": 200}, status
    assert all(m.get("Retry-After") for m in answers if m.status == 503)
    counted = samples(ops_port)
    assert total(counted, "edgeport_sip_overload_total", transport="tcp", action="rejected") == 2
    assert total(counted, "edgeport_sip_overload_total", transport="tcp", action="waited") == 1
