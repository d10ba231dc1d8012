"""Claim-check audio store and the results store.

- Audio stores: chunks are written once under a content key (sha256); payloads carry the key, never megabytes
  of samples. ``AudioStore`` is a local folder (the default); ``S3AudioStore`` an S3-compatible object store, so
  clients and workers on several machines share chunks. ``open_audio_store`` picks one by URL (a folder, or
  ``s3://bucket/prefix``). Retention: a chunk's audio is deleted once its result is stored (the worker's default),
  or ``sweep`` removes what is older than N hours.
- ``ResultStore``: a results table keyed by (stream_id, chunk_index), written idempotently: a retried
  activity never duplicates a row. SQLite by default; a ``postgresql://`` URL uses PostgreSQL (needs psycopg).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

RUNTIME = Path(os.environ.get("CRYSENSE_RUNTIME") or Path(__file__).resolve().parents[1] / "runtime")


def content_key(data: bytes, suffix: str, unique: bool = False) -> str:
    """A chunk's key: the content's sha256, and with ``unique`` a random part too (a stream's windows: retention
    deletes one without touching an identical other), then the format's suffix."""
    return f"{hashlib.sha256(data).hexdigest()}{'-' + uuid.uuid4().hex[:12] if unique else ''}{suffix}"


def check_key(key: str) -> str:
    if not key or "/" in key or key.startswith("."):
        raise ValueError(f"bad audio key {key!r}")
    return key


class AudioStore:
    """The local folder store (one machine, or a folder every machine mounts)."""

    def __init__(self, root=None):
        self.root = Path(root or os.environ.get("CRYSENSE_AUDIO_STORE") or RUNTIME / "audio")
        self.root.mkdir(parents=True, exist_ok=True)

    def put_bytes(self, data: bytes, suffix: str, unique: bool = False) -> str:
        """Store a file's bytes (any audio format); returns its key (``content_key``)."""
        key = content_key(data, suffix, unique)
        path = self.root / key
        if not path.exists():
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return key

    def put_samples(self, samples: np.ndarray, unique: bool = False) -> str:
        """Store 16 kHz mono float32 samples (a stream window)."""
        return self.put_bytes(np.ascontiguousarray(samples, np.float32).tobytes(), ".f32", unique)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    @contextlib.contextmanager
    def local_file(self, key: str):
        """A path to the chunk's bytes on this machine (for decoders that read files)."""
        yield self.path(key)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def sweep(self, older_than_s: float) -> int:
        """Delete every chunk stored more than ``older_than_s`` seconds ago; returns how many."""
        cutoff, n = time.time() - older_than_s, 0
        for f in self.root.iterdir():
            if f.is_file() and f.stat().st_mtime < cutoff:
                f.unlink(missing_ok=True)
                n += 1
        return n


class S3AudioStore(AudioStore):
    """Chunks as objects ``prefix/key`` in an S3 bucket (AWS, or any S3-compatible server: SeaweedFS, MinIO, Ceph).
    Endpoint and credentials come from boto3's usual places (``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``, ...,
    ``~/.aws``) unless given. boto3 clients are thread-safe: one serves every activity thread."""

    def __init__(self, url: str, endpoint_url: str | None = None, **client_args):
        import boto3  # optional: only the S3 store needs it
        from botocore.config import Config
        if not url.startswith("s3://"):
            raise ValueError(f"not an s3:// URL: {url!r}")
        self.bucket, _, prefix = url[5:].partition("/")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = url
        retries = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30)
        self.s3 = boto3.client("s3", endpoint_url=endpoint_url, config=retries, **client_args)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put_bytes(self, data: bytes, suffix: str, unique: bool = False) -> str:
        key = content_key(data, suffix, unique)
        if unique or not self.exists(key):   # a PUT is atomic: readers see all of the object or none
            self.s3.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)
        return key

    def path(self, key: str):
        raise TypeError("an S3 audio store has no local paths; use local_file(key)")

    @contextlib.contextmanager
    def local_file(self, key: str):
        with tempfile.TemporaryDirectory(prefix="crysense-chunk-") as d:
            path = Path(d) / key
            path.write_bytes(self.get(key))
            yield path

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self._name(key))
            return True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self._name(key))   # deleting a missing object succeeds

    def sweep(self, older_than_s: float) -> int:
        cutoff, n = time.time() - older_than_s, 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            old = [{"Key": o["Key"]} for o in page.get("Contents", []) if o["LastModified"].timestamp() < cutoff
                   and "/" not in o["Key"][len(self.prefix):]]
            for k in old:   # one request per object: S3-compatible servers differ on batch deletes
                self.s3.delete_object(Bucket=self.bucket, Key=k["Key"])
            n += len(old)
        return n


def open_audio_store(url: str | None = None) -> AudioStore:
    """The audio store at ``url`` (default ``CRYSENSE_AUDIO_STORE``, else ``runtime/audio``): ``s3://bucket/prefix``
    is an S3 bucket, anything else a local folder."""
    url = str(url or os.environ.get("CRYSENSE_AUDIO_STORE") or RUNTIME / "audio")
    return S3AudioStore(url) if url.startswith("s3://") else AudioStore(url)


SCHEMA = """CREATE TABLE IF NOT EXISTS results (
    stream_id TEXT NOT NULL, chunk_index INTEGER NOT NULL, audio_key TEXT, start_s REAL,
    status TEXT NOT NULL, label TEXT, p_crying REAL, p_screaming REAL, p_normal REAL, error TEXT,
    alert INTEGER, created_at REAL, PRIMARY KEY (stream_id, chunk_index))"""
COLUMNS = ("stream_id", "chunk_index", "audio_key", "start_s", "status", "label", "p_crying", "p_screaming",
           "p_normal", "error", "alert", "created_at")
NOTIFIED = """CREATE TABLE IF NOT EXISTS notifications (
    event_id TEXT NOT NULL, channel TEXT NOT NULL, delivered_at REAL, PRIMARY KEY (event_id, channel))"""


class ResultStore:
    """Result rows and the notification ledger in SQLite (a file) or PostgreSQL (a ``postgresql://`` URL).

    PostgreSQL connections come from one pool per store (``psycopg_pool``, at most ``max_connections``: a worker's
    activity threads share it), not a new connection per call; each ``with self._connect()`` block is one
    transaction, committed at its end, as before."""

    def __init__(self, url: str | None = None, max_connections: int = 4):
        self.url = url or os.environ.get("CRYSENSE_RESULTS_DB") or str(RUNTIME / "results.sqlite")
        self.postgres = self.url.startswith(("postgresql://", "postgres://"))
        self.pool = None
        if self.postgres:
            from psycopg_pool import ConnectionPool  # optional: pip install psycopg[binary] psycopg-pool
            self.pool = ConnectionPool(self.url, min_size=1, max_size=max_connections, open=True,
                                       name="crysense-results")
        with self._connect() as db:
            for ddl in (SCHEMA, NOTIFIED):
                db.cursor().execute(ddl.replace("REAL", "DOUBLE PRECISION") if self.postgres else ddl)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def _connect(self):
        if self.postgres:
            return self.pool.connection()   # a pooled connection; its block commits, or rolls back on an error
        Path(self.url).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.url, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def put(self, row: dict) -> bool:
        """Insert once; a second write of the same (stream_id, chunk_index) changes nothing. True if new."""
        row = {**{c: None for c in COLUMNS}, **row, "created_at": time.time()}
        mark = "%s" if self.postgres else "?"
        sql = (f"INSERT INTO results ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))}) "
               f"ON CONFLICT (stream_id, chunk_index) DO NOTHING")
        with self._connect() as db:
            cur = db.cursor()
            cur.execute(sql, [row[c] for c in COLUMNS])
            return cur.rowcount == 1

    def get(self, stream_id: str, index: int) -> dict | None:
        """The stored row of (stream, chunk), or None."""
        mark = "%s" if self.postgres else "?"
        with self._connect() as db:
            cur = db.cursor()
            cur.execute(f"SELECT {', '.join(COLUMNS)} FROM results WHERE stream_id = {mark} AND chunk_index = {mark}",
                        [stream_id, index])
            row = cur.fetchone()
        return dict(zip(COLUMNS, row)) if row else None

    def delivered(self, event_id: str, channel: str) -> bool:
        """Was this alert event already delivered on ``channel`` (a retried notification skips it)?"""
        mark = "%s" if self.postgres else "?"
        with self._connect() as db:
            cur = db.cursor()
            cur.execute(f"SELECT 1 FROM notifications WHERE event_id = {mark} AND channel = {mark}", [event_id, channel])
            return cur.fetchone() is not None

    def mark_delivered(self, event_id: str, channel: str) -> None:
        mark = "%s" if self.postgres else "?"
        with self._connect() as db:
            db.cursor().execute(f"INSERT INTO notifications (event_id, channel, delivered_at) VALUES ({mark}, {mark}, {mark}) "
                                "ON CONFLICT (event_id, channel) DO NOTHING", [event_id, channel, time.time()])

    def rows(self, stream_id: str | None = None) -> list[dict]:
        mark = "%s" if self.postgres else "?"
        sql = f"SELECT {', '.join(COLUMNS)} FROM results" + (f" WHERE stream_id = {mark}" if stream_id else "") + \
            " ORDER BY stream_id, chunk_index"
        with self._connect() as db:
            cur = db.cursor()
            cur.execute(sql, [stream_id] if stream_id else [])
            return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]


def result_row(stream_id: str, index: int, audio_key: str, start_s: float, label: str = "",
               probabilities: dict | None = None, error: str = "", alert: bool = False) -> dict:
    p = probabilities or {}
    return {"stream_id": stream_id, "chunk_index": index, "audio_key": audio_key, "start_s": start_s,
            "status": "error" if error else "ok", "label": label or None, "p_crying": p.get("crying"),
            "p_screaming": p.get("screaming"), "p_normal": p.get("normal"), "error": error or None,
            "alert": int(alert)}
