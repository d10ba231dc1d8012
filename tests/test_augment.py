"""Augmented views: reproducible per (clip, view), backgrounds only from other groups' normal training clips,
codec and room round trips that keep the clip's length and level sane."""
import numpy as np
import pandas as pd
import pytest

from conftest import SR, noise, tone, write
from crysense.data import augment
from crysense.data.clipcache import ClipCache, ClipVersions
from crysense.data.manifest import ClipLoader


@pytest.fixture
def corpus(tmp_path, monkeypatch, isolated_paths):
    """A tiny manifest over real files of a fake source (the loader resolves '<source>/<path>')."""
    root = tmp_path / "src"
    monkeypatch.setenv("CRYSENSE_DATA_SCREAM_ROHANMATHUR17", str(root))
    rows = []
    for i, (label, split) in enumerate([("crying", "train"), ("normal", "train"), ("normal", "train"),
                                        ("normal", "val"), ("screaming", "train")]):
        x = tone(300 + 100 * i, 2.0) if label != "normal" else noise(2.0, seed=i)
        write(root / f"c{i}.wav", x)
        rows.append({"file_path": f"scream_rohanmathur17/c{i}.wav", "segment_start_s": 0.0, "segment_end_s": 2.0,
                     "sha256": f"sha{i}", "label": label, "split": split, "group": f"g{i % 2}",
                     "source": "scream_rohanmathur17" if i != 2 else "other"})
    df = pd.DataFrame(rows)
    return df, ClipLoader(tmp_path / "cache")


def test_views_are_reproducible_and_mix_only_other_groups_normal_training_clips(corpus, tmp_path):
    df, loader = corpus
    params = augment.AugmentParams(views=4, mix_prob=1.0, n_rooms=4)
    clips = ClipVersions(df, loader, params, tmp_path / "cache")
    row = df.iloc[0]   # crying, group g0: may only hear sha1's group g1 ... never g0 (sha2 is g0)
    recipes = [clips.recipe(row, f"view{k}") for k in range(4)]
    assert all(r.background == "sha1" for r in recipes)
    a = clips.audio(row, "view0")
    again = ClipVersions(df, loader, params, tmp_path / "cache2").audio(row, "view0")   # rendered afresh
    assert np.allclose(a, again, atol=1e-4)
    assert np.max(np.abs(a)) <= 0.99 + 1e-6
    table = clips.view_table(df[df.split == "train"], 4)
    assert len(table) == 16 and set(table["background_group"]) <= {"g0", "g1"}
    assert not (table.groupby("sha256")["background"].apply(set).map(lambda s: "sha3" in s)).any()   # never val audio


@pytest.mark.parametrize("codec", sorted(augment.CODECS))
def test_codec_round_trip_keeps_length_and_some_of_the_sound(ffmpeg, codec):
    x = tone(440, 2.0) + noise(2.0, amp=0.02)
    y = augment.codec_round_trip(x, codec)
    assert len(y) == len(x) and np.isfinite(y).all()
    assert 0.2 < np.sqrt(np.mean(y ** 2)) / np.sqrt(np.mean(x ** 2)) < 2.0


def test_rooms_reverberate_without_changing_loudness(tmp_path):
    rirs = augment.room_impulse_responses(augment.AugmentParams(n_rooms=3), tmp_path)
    assert len(rirs) == 3 and all(np.isclose(np.sum(h.astype(float) ** 2), 1.0, atol=1e-3) for h in rirs)
    assert len(augment.room_impulse_responses(augment.AugmentParams(n_rooms=3), tmp_path)) == 3   # from the cache
    x = noise(1.5, seed=4)
    y = augment.reverberate(x, rirs[0])
    assert len(y) == len(x) and np.isclose(np.sqrt(np.mean(y ** 2)), np.sqrt(np.mean(x ** 2)), rtol=1e-3)


def test_recipe_parts_do_what_they_say():
    rng = np.random.default_rng(0)
    x = tone(500, 2.0)
    shifted = augment.apply_recipe(x, augment.ViewRecipe(shift_s=0.25), [], None, rng)
    assert len(shifted) == len(x) + SR // 4 and np.allclose(shifted[: SR // 4], 0)
    quiet = augment.apply_recipe(x, augment.ViewRecipe(gain_db=-20), [], None, rng)
    assert np.isclose(np.max(np.abs(quiet)), 0.1 * np.max(np.abs(x)), rtol=1e-3)
    mixed = augment.apply_recipe(x, augment.ViewRecipe(background="b", snr_db=0.0), [], noise(1.0, amp=0.5), rng)
    residual = mixed - x
    assert np.isclose(np.sqrt(np.mean(residual ** 2)), np.sqrt(np.mean(x ** 2)), rtol=0.05)   # 0 dB SNR


def test_clip_cache_computes_once_per_version(corpus, tmp_path):
    df, loader = corpus
    clips = ClipVersions(df, loader, augment.AugmentParams(views=1, n_rooms=2), tmp_path / "cache")
    calls = []
    cache = ClipCache(tmp_path / "cache", "test/rms", lambda x: calls.append(1) or np.array([np.sqrt(np.mean(x ** 2))]))
    first = cache.inputs(df, clips, ["orig", "view0"], progress=False)
    assert set(first) == {"orig", "bl4k", "view0"} and len(first["view0"]) == 4 and len(first["orig"]) == 5
    assert list(first["bl4k"]) == ["sha3"]            # band-limited: the clips the ablation scores (val/test)
    n = len(calls)
    again = cache.inputs(df, clips, ["orig", "view0"], progress=False)
    assert len(calls) == n and all(np.array_equal(first[v][s], again[v][s]) for v in first for s in first[v])


def test_a_view_drawn_from_another_background_pool_is_another_cache_entry(corpus, tmp_path):
    df, loader = corpus
    params = augment.AugmentParams(views=1, mix_prob=1.0, n_rooms=2)
    row = df.iloc[0]
    before = ClipVersions(df, loader, params, tmp_path / "cache")
    moved = df.assign(split=df["split"].where(df["sha256"] != "sha1", "val"))   # its only background leaves train
    after = ClipVersions(moved, loader, params, tmp_path / "cache")
    assert before.recipe(row, "view0").background == "sha1" and after.recipe(row, "view0").background == ""
    assert before.entry(row, "view0") != after.entry(row, "view0")
    assert before.entry(row, "orig") == after.entry(row, "orig") == "sha0"
    assert not np.allclose(before.audio(row, "view0"), after.audio(row, "view0"))
