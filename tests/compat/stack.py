"""The compatibility stack: a Node.js processor on the published @routr/processor, and EdgePort."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.e2e.sipclient import UdpPeer
from tests.e2e.stack import edge_config, free_udp_tcp_port, run_sipp
from tests.helpers import PYTHON, REPO_ROOT, Process, free_port, start_process

COMPAT = Path(__file__).resolve().parent
SCENARIOS = COMPAT / "scenarios"
PROCESSOR_JS = COMPAT / "processor.js"
DOMAIN = "sip.local"
# the fixed user table of processor.js
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
# what processor.js puts in X-Gateway-Auth for the trunk routes
TRUNK_USER, TRUNK_PASSWORD = "acme", "s3cret"


def require_node_processor() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the compatibility suite needs Node.js 20")
    if not (COMPAT / "node_modules" / "@routr" / "processor" / "package.json").exists():
        pytest.fail("@routr/processor is not installed: run scripts/setup.sh (npm ci in tests/compat)")
    return node


def start_node_processor(tmp_path: Path, routes: dict) -> tuple[Process, int]:
    node = require_node_processor()
    port = free_port("tcp")
    routes_file = tmp_path / "compat-routes.json"
    routes_file.write_text(json.dumps({"routes": routes}))
    process = start_process(
        [node, str(PROCESSOR_JS), "--bind", f"127.0.0.1:{port}", "--routes", str(routes_file)],
        ready_line="compat processor listening on",
        timeout=30,
        cwd=COMPAT,
    )
    return process, port


def start_edge(
    tmp_path: Path,
    processor_port: int,
    name: str = "edgeport",
    extra_transports=(),
    env: dict[str, str] | None = None,
):
    """EdgePort on UDP and TCP (one port), plus ``extra_transports`` ({protocol, port})."""
    port = free_udp_tcp_port()
    # externalAddrs as a Routr deployment sets it (EXTERNAL_ADDRS): @routr/processor's
    # getEdgeInterface throws for an endpoint host outside the localnets (a WebSocket phone's
    # "xyz.invalid" Via host) unless there is an external address to fall back on.
    config = edge_config(port, processor_port, externalAddrs=["127.0.0.1"])
    config["spec"]["transport"] += [{**entry, "bindAddr": "127.0.0.1"} for entry in extra_transports]
    config["spec"]["methods"].append("PRACK")
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    process = start_process(
        [PYTHON, str(REPO_ROOT / "edgeport.py"), str(path)], ready_line="ready:", timeout=20, env=env
    )
    return process, port


@dataclass
class Stack:
    tmp_path: Path
    processor: Process
    processor_port: int
    edge: Process
    edge_port: int
    trunk_ports: dict[str, int]  # transport ("udp", "tcp") -> port of the trunk's sipp
    plain: UdpPeer | None = None  # raw-socket next hop of the static route "plain"
    ws_port: int | None = None  # None: EdgePort would not start with a ws transport
    ws_error: str | None = None

    @property
    def remote(self) -> str:
        return f"127.0.0.1:{self.edge_port}"

    def logs(self, lines: int = 60) -> str:
        edge = "\n".join(self.edge.output[-lines:])
        node = "\n".join(self.processor.output[-lines:])
        return f"--- EdgePort log (tail)\n{edge}\n--- Node processor log (tail)\n{node}"


def transport_args(transport: str) -> list[str]:
    return ["-t", "t1"] if transport == "tcp" else []


def sipp_client(
    scenario: str,
    port: int,
    transport: str,
    remote: str,
    service: str,
    *extra: str,
    tmp_path: Path,
    timeout: float = 20,
):
    """Run one call of a client scenario from 127.0.0.1:``port`` to ``remote``."""
    args = [
        "-sf",
        str(SCENARIOS / scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        *transport_args(transport),
        "-s",
        service,
        "-m",
        "1",
        "-timeout",
        str(int(timeout)),
        *extra,
        remote,
    ]
    return run_sipp(args, timeout=timeout + 15, cwd=tmp_path)
