import shutil

import pytest


@pytest.fixture(scope="session", autouse=True)
def _require_sipp():
    if shutil.which("sipp") is None:
        pytest.fail("sipp is not installed: run scripts/setup.sh (Debian package sip-tester)")
