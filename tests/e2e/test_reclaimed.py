"""Finished calls are freed at once by reference counting, not left for the garbage collector.

Reference cycles in per-call objects (a server transaction and the client transaction it
forwarded to pointing at each other) kept each call's messages alive until a full collection:
a 10-call/s soak's RSS climbed for minutes. Here the collector is off inside the EdgePort, calls
run through it, and a full collection at the end must find (almost) nothing to free.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import PYTHON, free_port, start_process

from .stack import edge_config, free_udp_tcp_port, run_sipp, start_processor, start_sipp

DRIVER = Path(__file__).with_name("edge_gc_driver.py")
CALLS = 20
# measured: 0 with the fix, ~100 per call before it; a little room for the runtime's own objects
MAX_LEFT = 20


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_finished_calls_leave_no_reference_cycles(tmp_path, transport):
    uas_port = free_port(transport)
    processor, processor_port = start_processor(
        tmp_path, routes={"service": {"host": "127.0.0.1", "port": uas_port, "transport": transport}}
    )
    port = free_udp_tcp_port()
    config = tmp_path / "edgeport.yaml"
    config.write_text(yaml.safe_dump(edge_config(port, processor_port, timers={"t1": 0.05})))
    mode = ["-t", "t1"] if transport == "tcp" else []
    uas = start_sipp(["-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port), *mode], cwd=tmp_path)
    try:
        with processor, start_process([PYTHON, str(DRIVER), str(config)], "driver ready", 20) as edge:
            sipp_args = ["-sn", "uac", "-i", "127.0.0.1", "-p", str(free_port(transport)), *mode,
                         "-s", "service", f"127.0.0.1:{port}", "-m", str(CALLS), "-r", "20", "-d", "50"]
            result = run_sipp(sipp_args, cwd=tmp_path)
            assert result.successful == CALLS, result.output[-2000:]
            edge.send("collect 20")
            line = edge.wait_for_line("result collected", timeout=30)
            _, _, left, state = line.split()
            assert state == "idle", edge.log()
            assert int(left) <= MAX_LEFT, f"{left} objects left in reference cycles by {CALLS} calls"
            # which is why EdgePort can afford full collections ten times rarer than the default
            edge.send("thresholds")
            line = edge.wait_for_line("result thresholds", timeout=10)
            assert int(line.split()[-1]) == 100  # app.FULL_COLLECTION_EVERY
    finally:
        uas.kill()
        uas.wait(timeout=10)
