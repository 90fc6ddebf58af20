"""Shared helpers for tests that run real processes: free ports and child processes."""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PR_SET_PDEATHSIG = 1  # prctl(2)


def free_port(kind: str = "tcp", host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on ``host`` for ``kind`` ("tcp" or "udp")."""
    sock_type = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}[kind.lower()]
    with socket.socket(socket.AF_INET, sock_type) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """In a child about to exec: be killed when the test process ends, even if a test forgot it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Process:
    """A child process whose stdout and stderr (merged) are read line by line in the background."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None):
        self.args = list(args)
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO_ROOT)}
        child_env.update(env or {})
        self.popen = subprocess.Popen(
            self.args,
            cwd=cwd or REPO_ROOT,
            env=child_env,
            preexec_fn=die_with_parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.output: list[str] = []  # every line read so far
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)  # end of output

    def wait_for_line(self, text: str, timeout: float = 10.0) -> str:
        """The next line containing ``text``; fails when the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0))
            except queue.Empty:
                raise TimeoutError(
                    f"no line with {text!r} in {timeout}s from {self.args}:\n{self.log()}"
                ) from None
            if line is None:
                self._lines.put(None)
                raise RuntimeError(f"{self.args} ended without printing {text!r}:\n{self.log()}")
            if text in line:
                return line

    def send(self, line: str) -> None:
        """Write one line to the process's stdin."""
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def log(self) -> str:
        return "\n".join(self.output)

    def kill(self) -> None:
        """Kill the process (SIGKILL: no goodbye to its peers) and wait for it."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)
        if self.popen.stdin:
            self.popen.stdin.close()

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def start_process(
    args: Sequence[str],
    ready_line: str | None = None,
    timeout: float = 10.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Process:
    """Start ``args`` and, if ``ready_line`` is given, wait until a line containing it appears.

    Use the result as a context manager (or call ``kill()``) so the process never outlives
    the test. ``PYTHONPATH`` points at the repository and Python output is unbuffered.
    """
    process = Process(args, env, cwd)
    if ready_line is not None:
        try:
            process.wait_for_line(ready_line, timeout)
        except BaseException:
            process.kill()
            raise
    return process
