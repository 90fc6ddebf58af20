"""Real processes for end-to-end tests: the reference processor, EdgePort, sipp."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.helpers import PYTHON, REPO_ROOT, Process, die_with_parent, free_port, start_process

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
NATS_SERVER = shutil.which("nats-server") or "/usr/bin/nats-server"


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP (EdgePort listens on both)."""
    for _ in range(50):
        port = free_port("udp")
        try:
            import socket

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free for both UDP and TCP")


REFERENCE_PROCESSOR = (PYTHON, "-m", "edgeport_lib.reference_processor")


def start_processor(
    tmp_path: Path, routes: dict | None = None, port: int | None = None, extra: list[str] | None = None,
    program: tuple[str, ...] = REFERENCE_PROCESSOR,
) -> tuple[Process, int]:
    """`program` (the reference processor, or one built on it that takes its --bind and --routes)."""
    port = port or free_port("tcp")
    args = [*program, "--bind", f"127.0.0.1:{port}"]
    if routes:
        path = tmp_path / "routes.yaml"
        path.write_text(yaml.safe_dump({"routes": routes}))
        args += ["--routes", str(path)]
    args += extra or []
    return start_process(args, ready_line="listening on", timeout=20), port


def start_nats(port: int, *options: str) -> Process:
    """nats-server on 127.0.0.1:port, once it says it accepts clients."""
    args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(port), *options]
    return start_process(args, ready_line="Server is ready", timeout=15)


@dataclass
class EdgePort:
    process: Process
    port: int
    config_path: Path


def edge_config(port: int, processor_port: int, protocols=("udp", "tcp"), **spec_extra) -> dict:
    spec = {
        "transport": [{"protocol": p, "port": port, "bindAddr": "127.0.0.1"} for p in protocols],
        "methods": ["REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "MESSAGE", "INFO"],
        "processor": {"addr": f"127.0.0.1:{processor_port}", "timeout": 2},
        "localnets": ["127.0.0.1/8"],
    }
    spec.update(spec_extra)
    return {"kind": "EdgePort", "apiVersion": "v2beta1", "ref": "edgeport-test", "spec": spec}


def start_edgeport(tmp_path: Path, processor_port: int, env: dict | None = None, **spec_extra) -> EdgePort:
    port = free_udp_tcp_port()
    path = tmp_path / "edgeport.yaml"
    path.write_text(yaml.safe_dump(edge_config(port, processor_port, **spec_extra)))
    process = start_process(
        [PYTHON, str(REPO_ROOT / "edgeport.py"), str(path)], ready_line="ready:", timeout=20, env=env
    )
    return EdgePort(process, port, path)


@dataclass
class SippResult:
    returncode: int
    output: str
    successful: int
    failed: int


def _stat(output: str, name: str) -> int:
    match = re.search(rf"{name}\s*\|\s*(\d+)\s*\|\s*(\d+)", output)
    return int(match.group(2)) if match else -1


def run_sipp(args: list[str], timeout: float = 120, cwd: Path | None = None) -> SippResult:
    """Run sipp to completion (it exits on -m calls); return its exit code and call counts."""
    proc = subprocess.run(
        ["sipp", *args, "-nostdin", "-trace_err"], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    output = proc.stdout + proc.stderr
    return SippResult(proc.returncode, output, _stat(output, "Successful call"), _stat(output, "Failed call"))


def start_sipp(args: list[str], cwd: Path | None = None) -> subprocess.Popen:
    """Start a long-running sipp (a uas); the caller kills it."""
    return subprocess.Popen(
        ["sipp", *args, "-nostdin"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd,
        preexec_fn=die_with_parent,
    )
