"""A real `rag-index serve` process for tests: started on a free loopback port, ready once /health answers."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(args: Sequence[str], port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """(url, process) of `rag-index serve ARGS`; stopped with SIGTERM after (unless the test killed it)."""
    port = port or free_port()
    command = [sys.executable, "-m", "rag_index.cli", "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)


def wait_for_health(url: str, process: subprocess.Popen[str]) -> None:
    """Until /health answers (a state; bounded at two minutes for a loaded machine loading a model)."""
    for _ in range(1200):
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not answer within two minutes")
