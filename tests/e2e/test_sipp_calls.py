"""sipp drives real calls through EdgePort and the reference processor, over UDP and TCP."""

from __future__ import annotations

import pytest

from tests.helpers import free_port

from .stack import SCENARIOS, run_sipp, start_edgeport, start_processor, start_sipp


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_200_calls_to_a_static_route(tmp_path, sipp_procs, transport):
    uas_port = free_port(transport)
    processor, processor_port = start_processor(
        tmp_path, routes={"service": {"host": "127.0.0.1", "port": uas_port, "transport": transport}}
    )
    edge = start_edgeport(tmp_path, processor_port)
    try:
        mode = ["-t", "t1"] if transport == "tcp" else []
        sipp_procs.append(start_sipp(["-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port), *mode]))
        result = run_sipp(
            [
                "-sn",
                "uac",
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port(transport)),
                *mode,
                "-s",
                "service",
                f"127.0.0.1:{edge.port}",
                "-m",
                "200",
                "-r",
                "50",
                "-l",
                "40",
                "-timeout",
                "90",
            ],
            cwd=tmp_path,
        )
        assert (result.successful, result.failed) == (200, 0), result.output[-3000:]
        assert result.returncode == 0
    finally:
        edge.process.kill()
        processor.kill()


def test_registered_users_call_each_other(tmp_path, sipp_procs):
    """alice and bob register (from the ports they will use), then alice calls bob: INVITE, ACK, BYE."""
    processor, processor_port = start_processor(tmp_path)
    edge = start_edgeport(tmp_path, processor_port)
    remote = f"127.0.0.1:{edge.port}"
    bob_port, alice_port = free_port("udp"), free_port("udp")
    try:
        for user, port in (("bob", bob_port), ("alice", alice_port)):
            registered = run_sipp(
                [
                    "-sf",
                    str(SCENARIOS / "register.xml"),
                    "-i",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-s",
                    user,
                    "-key",
                    "contact_port",
                    str(port),
                    "-m",
                    "1",
                    "-timeout",
                    "20",
                    remote,
                ],
                cwd=tmp_path,
            )
            assert registered.successful == 1, registered.output[-2000:]
        sipp_procs.append(
            start_sipp(
                ["-sf", str(SCENARIOS / "answer.xml"), "-i", "127.0.0.1", "-p", str(bob_port), "-m", "1"],
                cwd=tmp_path,
            )
        )
        call = run_sipp(
            [
                "-sf",
                str(SCENARIOS / "call.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(alice_port),
                "-s",
                "bob",
                "-m",
                "1",
                "-timeout",
                "30",
                remote,
            ],
            cwd=tmp_path,
        )
        assert (call.successful, call.failed) == (1, 0), call.output[-3000:]
        assert sipp_procs[-1].wait(timeout=30) == 0, "bob's side of the call did not complete"
    finally:
        edge.process.kill()
        processor.kill()
