"""The Dockerfile's install steps, replayed here (no Docker engine): the image would answer SIP."""

import subprocess

from tests.helpers import REPO_ROOT


def test_dockerfile_steps_give_a_working_edgeport():
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts/check-docker-image.sh")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "OPTIONS: SIP/2.0 200" in result.stdout and "/healthz: 200" in result.stdout
