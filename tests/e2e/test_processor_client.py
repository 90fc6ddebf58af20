"""ProcessorClient under gevent against the reference processor, both as real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import PYTHON, Process, free_port, start_process

DRIVER = Path(__file__).with_name("processor_client_driver.py")


def start_reference_processor(port: int, *options: str) -> Process:
    return start_process(
        [PYTHON, "-m", "edgeport_lib.reference_processor", "--bind", f"127.0.0.1:{port}", *options],
        ready_line="reference processor listening on",
        timeout=15,
    )


def start_driver(target: str, timeout: float) -> Process:
    return start_process([PYTHON, str(DRIVER), target, str(timeout)], ready_line="driver ready", timeout=15)


def command(driver: Process, line: str, timeout: float = 20) -> list[str]:
    """Send a command to the driver; return the words of its ``result`` line."""
    driver.send(line)
    return driver.wait_for_line("result ", timeout).split()


@pytest.fixture
def processes():
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


def test_register_outage_and_recovery(processes):
    port = free_port("tcp")
    target = f"dns:///127.0.0.1:{port}"
    processes.append(processor := start_reference_processor(port))
    processes.append(driver := start_driver(target, timeout=1.0))

    result = command(driver, "call")
    assert result[1] == "ok" and result[3] == "OK", result

    processor.kill()
    for _ in range(5):
        result = command(driver, "call")
        assert result[1] == "unavailable", result
        assert float(result[2]) < 1.5, result  # the deadline (1 s) bounds every call
        assert "UNAVAILABLE" in result[3] or "DEADLINE_EXCEEDED" in result[3], result

    processes.append(start_reference_processor(port))
    result = command(driver, "until_ok 10")
    assert result[1] == "ok", result
    result = command(driver, "call")
    assert result[1] == "ok", result

    warnings = [line for line in driver.output if line.startswith("LOG WARNING")]
    recoveries = [line for line in driver.output if line.startswith("LOG INFO")]
    assert len(warnings) == 1, driver.log()  # one per outage, not one per failed call
    assert warnings[0].startswith(f"LOG WARNING processor {target} unreachable: "), warnings
    assert recoveries == [f"LOG INFO processor {target} reachable again"]


def test_slow_processor_hits_the_deadline_and_calls_run_concurrently(processes):
    port = free_port("tcp")
    processes.append(start_reference_processor(port, "--delay", "0.5"))

    fast = start_driver(f"127.0.0.1:{port}", timeout=0.2)
    processes.append(fast)
    result = command(fast, "call")
    assert result[1] == "unavailable", result
    assert "DEADLINE_EXCEEDED" in result[3], result
    assert float(result[2]) < 0.7, result

    patient = start_driver(f"127.0.0.1:{port}", timeout=5.0)
    processes.append(patient)
    result = command(patient, "burst 10")
    assert result[2] == "ok=10", result
    assert float(result[3]) < 3.0, result  # 10 x 0.5 s in parallel greenlets, not in series
