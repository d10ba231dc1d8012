"""The S3 audio store against a real S3-compatible server (SeaweedFS on loopback, signed requests): the same
promises as the folder store (content keys, retention, sweep). A stream through Temporal on this store:
`tests/test_temporal.py`."""
import time
import uuid

import numpy as np
import pytest

from temporal_workflow.storage import AudioStore, S3AudioStore, open_audio_store


def test_s3_store_round_trip_retention_and_sweep(seaweedfs):
    url, args = seaweedfs
    store = S3AudioStore(f"{url}/round-trip-{uuid.uuid4().hex[:6]}", **args)
    a = store.put_bytes(b"RIFF same bytes", ".wav")
    assert store.put_bytes(b"RIFF same bytes", ".wav") == a                    # content key: stored once
    w1, w2 = (store.put_samples(np.ones(16000, np.float32), unique=True) for _ in range(2))
    assert w1 != w2 and w1.endswith(".f32")                                    # identical windows, two objects
    assert np.array_equal(np.frombuffer(store.get(w1), np.float32), np.ones(16000, np.float32))
    with store.local_file(a) as path:                                          # for decoders that read files
        assert path.read_bytes() == b"RIFF same bytes" and path.suffix == ".wav"
    assert not path.exists()
    store.delete(w1)
    store.delete(w1)                                                           # deleting twice is fine
    assert not store.exists(w1) and store.exists(w2)
    assert store.sweep(older_than_s=3600) == 0 and store.exists(a)
    time.sleep(1.1)
    assert store.sweep(older_than_s=1.0) == 2 and not store.exists(a) and not store.exists(w2)
    with pytest.raises(ValueError):
        store.get("../escape.wav")


def test_s3_store_refuses_wrong_credentials_and_open_picks_by_url(seaweedfs, tmp_path, monkeypatch):
    from botocore.exceptions import ClientError
    url, args = seaweedfs
    with pytest.raises(ClientError):
        S3AudioStore(url, **{**args, "aws_secret_access_key": "wrong"}).put_bytes(b"x", ".wav")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", args["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", args["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", args["aws_secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", args["region_name"])
    s3 = open_audio_store(f"{url}/from-env")                                  # endpoint and keys from boto3's env
    assert isinstance(s3, S3AudioStore) and s3.exists(s3.put_bytes(b"y", ".wav"))
    folder = open_audio_store(str(tmp_path / "audio"))
    assert type(folder) is AudioStore and folder.root == tmp_path / "audio"
