"""The command line as an operator meets it: exit statuses and messages."""

from __future__ import annotations

import subprocess

import yaml

from tests.helpers import PYTHON, REPO_ROOT

from .stack import edge_config


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(REPO_ROOT / "edgeport.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )


def test_check_config_accepts_the_example():
    result = run_cli("--check-config", "config.example.yaml")
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout


def test_bad_config_exits_2_naming_file_and_paths(tmp_path):
    config = edge_config(5060, 51904)
    config["spec"]["transport"].append({"protocol": "UDP", "port": 5070})
    config["spec"]["processor"] = {}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_cli(str(path))
    assert result.returncode == 2
    assert f"{path}: spec.processor.addr" in result.stderr
    assert f"{path}: spec.transport[2].protocol" in result.stderr


def test_missing_config_file_exits_2(tmp_path):
    result = run_cli(str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("edgeport ")
