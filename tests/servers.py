"""Servers a test starts for itself: a free port, and a throwaway redis-server it may stop
and start again (the fault tests, the live updates' tests)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Redis ---------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A throwaway redis-server without persistence: stopping it loses whatever it held."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def queued(self, queue: str = "celery") -> list[dict[str, Any]]:
        """The Celery messages waiting in a queue (their headers name the task and its args)."""
        import redis

        client = redis.Redis(port=self.port)
        try:
            return [json.loads(raw)["headers"] for raw in client.lrange(queue, 0, -1)]
        finally:
            client.close()
