"""Connection benchmark: full TLS handshakes per second, and memory per idle TCP, TLS and WSS connection.

    .venv/bin/python bench/bench_connections.py [--connections 5000] [--duration 5] [--json out.json]

Each measurement starts a real EdgePort (edgeport.py, gevent) on loopback with certificates made
here, drives it from here (client processes for handshakes, blocking sockets opened by a few threads
for idle connections) and reads the EdgePort's resident memory (VmRSS) and CPU time from /proc. Memory per
connection is (RSS with N idle connections - RSS before) / N; kernel socket buffers are not in RSS.
Every handshake is a full one (a fresh connection, no session resumption). It prints a table
and the same figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import socket
import ssl
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import websocket  # noqa: E402
import yaml  # noqa: E402

from tests.e2e.tls_certs import Certs, make_certs, security_context  # noqa: E402
from tests.helpers import PYTHON, Process, free_port, start_process  # noqa: E402

KEEPALIVE = b"\r\n\r\n"


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else min(hard, max(soft, wanted))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))  # EdgePort, started from here, inherits it
    return target


def start_edge(
    workdir: Path, certs: Certs, protocol: str, auth_type: str = "Disabled"
) -> tuple[Process, int]:
    port = free_port()
    config = {
        "kind": "EdgePort",
        "apiVersion": "v2beta1",
        "ref": "bench",
        "spec": {
            "transport": [{"protocol": protocol, "port": port, "bindAddr": "127.0.0.1"}],
            "methods": ["REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"],
            "processor": {"addr": "127.0.0.1:1"},  # never asked: no SIP message is sent
            "localnets": ["127.0.0.1/8"],
            "securityContext": security_context(certs, auth_type),
            "limits": {
                "maxConnections": 100000,
                "maxConnectionsPerIp": 100000,
                "readTimeout": 600,
                "idleTimeout": 3600,
            },
        },
    }
    path = workdir / f"edge-{protocol}.yaml"
    path.write_text(yaml.safe_dump(config))
    process = start_process([PYTHON, str(REPO / "edgeport.py"), str(path)], ready_line="ready:", timeout=30)
    return process, port


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, seconds: float = 1.0) -> int:
    time.sleep(seconds)
    return rss_kb(pid)


# --------------------------------------------------------------------------- handshakes


def _handshake_worker(job: tuple[int, str, float]) -> tuple[int, int]:
    """Full handshakes against `port` until `stop` (a time.monotonic value); (done, failed)."""
    port, ca, stop = job
    context = ssl.create_default_context(cafile=ca)
    done = failed = 0
    while time.monotonic() < stop:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1"):
                    done += 1
        except OSError:
            failed += 1
    return done, failed


def handshakes(certs: Certs, workdir: Path, duration: float, clients: int, label: str) -> dict:
    edge, port = start_edge(workdir, certs, "tls")
    try:
        with multiprocessing.get_context("fork").Pool(clients) as pool:
            cpu_before, started = cpu_seconds(edge.popen.pid), time.monotonic()
            stop = started + duration
            outcome = pool.map(_handshake_worker, [(port, str(certs.ca), stop)] * clients)
            elapsed, cpu = time.monotonic() - started, cpu_seconds(edge.popen.pid) - cpu_before
    finally:
        edge.kill()
    done = sum(d for d, _ in outcome)
    return {
        "key": label,
        "client_processes": clients,
        "handshakes": done,
        "failures": sum(f for _, f in outcome),
        "seconds": round(elapsed, 2),
        "per_second": round(done / elapsed, 1),
        "edgeport_cpu_ms_per_handshake": round(1000 * cpu / done, 3) if done else None,
        "per_edgeport_cpu_second": round(done / cpu, 1) if cpu else None,
    }


# --------------------------------------------------------------------------- idle connections


def open_tcp(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(KEEPALIVE)  # a first message: from here on the connection is idle
    assert sock.recv(2) == b"\r\n"
    return sock


def open_tls(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="127.0.0.1"
    )
    sock.sendall(KEEPALIVE)
    assert sock.recv(2) == b"\r\n"
    return sock


def open_wss(port: int, certs: Certs) -> websocket.WebSocket:
    return websocket.create_connection(
        f"wss://127.0.0.1:{port}/", subprotocols=["sip"], timeout=30, sslopt={"ca_certs": str(certs.ca)}
    )


def idle_memory(certs: Certs, workdir: Path, protocol: str, connections: int) -> dict:
    edge, port = start_edge(workdir, certs, protocol)
    context = ssl.create_default_context(cafile=str(certs.ca))
    opener = {
        "tcp": lambda: open_tcp(port),
        "tls": lambda: open_tls(port, context),
        "wss": lambda: open_wss(port, certs),
    }[protocol]
    opened = []
    try:
        before = settle(edge.popen.pid)
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            opened = list(pool.map(lambda _: opener(), range(connections)))
        open_seconds = time.monotonic() - started
        after = settle(edge.popen.pid, 2.0)
    finally:
        for conn in opened:
            try:
                conn.close()
            except OSError:
                pass
        edge.kill()
    return {
        "transport": protocol.upper(),
        "connections": len(opened),
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_connection": round((after - before) / len(opened), 2),
        "open_seconds": round(open_seconds, 1),
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of handshakes per key type")
    parser.add_argument("--clients", type=int, default=2, help="client processes for handshakes")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    fd_limit = raise_fd_limit(args.connections * 2 + 1000)
    if fd_limit < args.connections + 100:
        sys.exit(f"the open-file limit is {fd_limit}: too low for {args.connections} connections")

    results: dict = {"connections": args.connections, "fd_limit": fd_limit, "handshakes": [], "idle": []}
    with tempfile.TemporaryDirectory(prefix="edgeport-bench-") as tmp:
        workdir = Path(tmp)
        for kind, label in (("ec", "ECDSA P-256"), ("rsa", "RSA 2048")):
            certs = make_certs(workdir / kind, kind)
            results["handshakes"].append(handshakes(certs, workdir, args.duration, args.clients, label))
        certs = make_certs(workdir / "idle", "ec")
        for protocol in ("tcp", "tls", "wss"):
            results["idle"].append(idle_memory(certs, workdir, protocol, args.connections))

    print(
        f"\nFull TLS handshakes (TLS 1.3, a fresh connection each, {args.clients} client processes on the "
        f"same {os.cpu_count()} cores)"
    )
    print(
        f"{'server key':<14}{'handshakes/s':>14}{'EdgePort CPU ms/hs':>20}{'hs per CPU s':>14}{'failed':>8}"
    )
    for row in results["handshakes"]:
        print(
            f"{row['key']:<14}{row['per_second']:>14}{row['edgeport_cpu_ms_per_handshake']:>20}"
            f"{row['per_edgeport_cpu_second']:>14}{row['failures']:>8}"
        )
    print(f"\nIdle connections held open by EdgePort ({args.connections} each)")
    print(
        f"{'transport':<10}{'open':>8}{'RSS before KB':>15}{'RSS after KB':>14}{'KB/conn':>10}{'open s':>8}"
    )
    for row in results["idle"]:
        print(
            f"{row['transport']:<10}{row['connections']:>8}{row['rss_before_kb']:>15}{row['rss_after_kb']:>14}"
            f"{row['kb_per_connection']:>10}{row['open_seconds']:>8}"
        )
    text = json.dumps(results, indent=2)
    print("\n" + text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
