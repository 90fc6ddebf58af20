import shutil

import pytest


@pytest.fixture(scope="session", autouse=True)
def _require_sipp():
    if shutil.which("sipp") is None:
        pytest.fail("sipp is not installed: run scripts/setup.sh (Debian package sip-tester)")


@pytest.fixture
def sipp_procs():
    """sipp processes a test started (uas mostly); killed at its end."""
    procs = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
