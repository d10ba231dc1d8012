import shutil

import numpy as np
import pandas as pd
import pytest
from test_sources import needs_data

from conftest import noise, write
from crysense.config import AUDIO, LABELS, SPLITS, get_paths
from crysense.data.manifest import (
    ClipLoader,
    assign_splits,
    build_manifest,
    joined_file_path,
    load_manifest,
    member_paths,
    validate_manifest,
)
from crysense.data.sources import parse_donateacry
from crysense.data.study import reason_kind


def test_assign_splits_keeps_groups_whole_and_near_70_15_15():
    rng = np.random.default_rng(1)
    rows = []
    for label, n_groups in [("crying", 300), ("screaming", 60), ("normal", 200)]:
        for g in range(n_groups):
            rows += [{"source": "s", "label": label, "group": f"{label}{g}"}] * int(rng.integers(1, 6))
    df = pd.DataFrame(rows)
    df["split"] = assign_splits(df)
    assert df.groupby("group")["split"].nunique().max() == 1
    share = pd.crosstab(df["label"], df["split"], normalize="index")
    assert ((share[list(SPLITS)] - [0.70, 0.15, 0.15]).abs() < 0.03).all().all()
    again = assign_splits(df)
    assert (again == df["split"]).all()   # seeded: the same split every time


def test_joined_file_paths_round_trip():
    fp = joined_file_path(["fsdd/recordings/0_a_0.wav", "fsdd/recordings/0_a_1.wav"])
    assert fp == "fsdd/recordings/{0_a_0.wav,0_a_1.wav}"
    assert member_paths(fp) == ["fsdd/recordings/0_a_0.wav", "fsdd/recordings/0_a_1.wav"]
    assert member_paths("gtzan_music_speech/data/music_wav/x.flac") == ["gtzan_music_speech/data/music_wav/x.flac"]


def test_bad_input_is_quarantined_with_reasons_and_the_rest_kept(tmp_path, monkeypatch, isolated_paths, ffmpeg):
    root = tmp_path / "scream"
    monkeypatch.setenv("CRYSENSE_DATA_SCREAM_ROHANMATHUR17", str(root))
    pos, neg = root / "data" / "positive", root / "data" / "negative"
    for i in range(8):
        write(pos / f"{1000 + i}__author__scream-{i}.flac", noise(6.0, seed=i))
        write(neg / f"clnsp{i}.flac", noise(4.0, seed=100 + i))
    write(pos / "169810__a__take_0.flac", noise(5.0, seed=50))
    write(pos / "169810__a__take_1.flac", noise(5.0, seed=51))
    shutil.copy(pos / "1000__author__scream-0.flac", pos / "copy_of_scream.flac")
    write(pos / "long.flac", noise(22.0, seed=60))
    write(pos / "gap.flac", np.concatenate([noise(5.0, seed=61), np.zeros(5 * 16000, np.float32), noise(6.0, seed=62)]))
    write(neg / "stereo24.wav", np.stack([noise(3.0, 44100, seed=70), noise(3.0, 44100, seed=71)], 1), 44100, "PCM_24")
    (neg / "empty.flac").write_bytes(b"")
    (neg / "corrupt.flac").write_bytes(b"fLaC" + bytes(range(256)) * 4)
    (neg / "notes.flac").write_text("not audio at all\n" * 30)
    write(neg / "silent.flac", np.zeros(3 * 16000, np.float32))
    write(neg / "short.flac", noise(0.4, seed=80))

    result = build_manifest(sources=["scream_rohanmathur17"], progress=False, workers=1)
    df, q = result.manifest, result.quarantine
    why = {p.rsplit("/", 1)[1]: r for p, r in zip(q["file_path"], q["reason"])}
    assert reason_kind(why["empty.flac"]) == "empty file"
    assert why["corrupt.flac"].startswith("not decodable audio")
    assert why["notes.flac"].startswith("not decodable audio")
    assert why["silent.flac"].startswith("near-silent")
    assert why["short.flac"].startswith("too short (0.40 s")
    assert why["copy_of_scream.flac"].startswith("duplicate of scream_rohanmathur17/data/positive/1000__")
    gap = q[q["file_path"].str.endswith("gap.flac")]
    assert list(zip(gap["segment_start_s"], gap["segment_end_s"])) == [(5.0, 10.0)]   # only the silent piece

    assert validate_manifest(df) == []
    assert len(df[df["file_path"].str.endswith("long.flac")]) == 4
    assert df.loc[df["file_path"].str.endswith("gap.flac"), "segment_start_s"].tolist() == [0.0, 10.0]
    st = df[df["file_path"].str.endswith("stereo24.wav")].iloc[0]
    assert (st["channels"], st["sample_rate"]) == (2, 44100)
    assert df.loc[df["file_path"].str.contains("169810__"), "group"].nunique() == 1
    assert len(df) == 16 + 2 + 4 + 2 + 1
    x = ClipLoader(isolated_paths / "cache").load_row(df[df["file_path"].str.endswith("long.flac")].iloc[-1])
    assert len(x) == 7 * AUDIO.sample_rate


# --- the real manifest, committed in the repository ---------------------------------------------------


@pytest.fixture(scope="module")
def real_manifest():
    path = get_paths().manifest
    if not path.exists():
        pytest.skip("data_manifest.csv not built yet (./run_all.sh)")
    return load_manifest(path)


def test_real_manifest_is_valid_and_leak_free(real_manifest):
    df = real_manifest
    assert validate_manifest(df) == []
    assert df.groupby("group")["split"].nunique().max() == 1
    assert not df["sha256"].duplicated().any()
    assert set(df["label"]) == set(LABELS)
    for split in SPLITS:
        assert set(df.loc[df["split"] == split, "label"]) == set(LABELS)


def test_real_manifest_units_checked_from_file_names(real_manifest):
    """Re-derive baby / speaker / ESC-50 source file from the paths, independently of ``group``."""
    df = real_manifest
    cry = df[df["source"] == "donateacry"]
    baby = cry["file_path"].map(lambda p: parse_donateacry(p.rsplit("/", 1)[1])["uuid"].lower())
    assert cry.groupby(baby)["split"].nunique().max() == 1
    fsdd = df[df["source"] == "fsdd"]
    speakers = fsdd["file_path"].str.extractall(r"\d_([a-z]+)_\d+\.wav")[0].groupby(level=0).unique()
    assert speakers.map(len).max() == 1   # a joined clip never mixes speakers
    assert fsdd.groupby(speakers.map(lambda s: s[0]))["split"].nunique().max() == 1
    esc = df[df["file_path"].str.contains(r"/\d-\d+-[A-Z]")]
    src_file = esc["file_path"].str.extract(r"/\d-(\d+)-[A-Z]")[0]
    assert esc.groupby(src_file)["split"].nunique().max() == 1


@needs_data
def test_real_manifest_is_reproduced_from_the_data(real_manifest):
    rebuilt = build_manifest(progress=False).manifest
    cols = ["file_path", "segment_start_s", "segment_end_s", "label", "group", "split", "sha256"]
    pd.testing.assert_frame_equal(rebuilt[cols].reset_index(drop=True),
                                  real_manifest[cols].reset_index(drop=True), check_dtype=False)


def test_adding_a_source_moves_no_other_source_between_splits():
    rng = np.random.default_rng(2)
    rows = [{"source": s, "label": lab, "group": f"{s}{g}"} for s, lab in [("a", "crying"), ("b", "normal")]
            for g in range(80) for _ in range(int(rng.integers(1, 4)))]
    df = pd.DataFrame(rows)
    before = assign_splits(df)
    more = pd.concat([pd.DataFrame([{"source": "aa", "label": "normal", "group": f"aa{g}"} for g in range(50)]), df],
                     ignore_index=True)
    after = assign_splits(more).iloc[50:].reset_index(drop=True)
    assert (after == before).all()


def test_real_manifest_holds_the_new_sources_with_their_groups(real_manifest):
    df = real_manifest
    assert {"speechocean762", "emogator", "scream_modern_noise"} <= set(df["source"])
    bursts = df[df["source"] == "emogator"]
    contributors = bursts["file_path"].str.extractall(r"(\d{6})-\d{2}-\d\.mp3")[0].groupby(level=0).unique()
    assert contributors.map(len).max() == 1                        # a joined clip never mixes contributors
    assert (bursts["group"] == "emogator:" + contributors.map(lambda c: c[0])).all()
    screams = df[df["label"] == "screaming"]
    uploader = screams["group"].where(screams["group"].str.startswith("freesound_user:"))
    assert uploader.notna().sum() >= 20 and screams.groupby(uploader)["split"].nunique().max() == 1
