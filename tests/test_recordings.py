"""The same recording under another name and encoding is found by its decoded audio; different sounds are not;
the groups of matching files are joined."""
import numpy as np

from conftest import SR, ffmpeg_encode, noise, tone, write
from crysense.data.audio import decode
from crysense.data.recordings import SameRecording, find_same_recordings, match_signal, merge_groups, same_recording_score


def scream_like(seconds=4.0, seed=0):
    """A harmonic sweep with a noisy envelope: unlike any other seed's."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = rng.uniform(300, 900) + 200 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    env = np.abs(np.convolve(rng.standard_normal(len(t)), np.ones(800) / 800, mode="same")) * 4
    x = sum(np.sin(k * phase) / k for k in range(1, 6)) * env
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def test_a_reencoded_trimmed_copy_matches_and_other_sounds_do_not(tmp_path, ffmpeg):
    original = scream_like(4.0, seed=1)
    src = write(tmp_path / "orig.flac", original)
    # another collection's copy: AAC at 22.05 kHz, 0.3 s cut from the start, 6 dB quieter
    copy = ffmpeg_encode(src, tmp_path / "copy.aac", "-ss", "0.3", "-ar", "22050", "-b:a", "64k", "-af", "volume=0.5")
    a, b = match_signal(original), match_signal(decode(copy).samples)
    score, offset = same_recording_score(a, b)
    assert score > 0.8 and abs(abs(offset) - 0.3) < 0.1
    for other in (scream_like(4.0, seed=2), noise(3.0, seed=3), tone(700, 3.0)):
        assert same_recording_score(a, match_signal(other))[0] < 0.5
    assert same_recording_score(a, match_signal(np.zeros(SR, np.float32)))[0] == 0.0   # silence matches nothing


def test_matches_join_groups_transitively():
    signals = {"x/a": match_signal(scream_like(3.0, 5)), "y/b": match_signal(scream_like(3.0, 5)),
               "y/c": match_signal(scream_like(3.0, 6))}
    found = find_same_recordings(signals, [("x/a", "y/b"), ("x/a", "y/c")])
    assert [(m.first, m.second) for m in found] == [("x/a", "y/b")]
    groups = merge_groups({"x/a": "g2", "y/b": "g1", "y/c": "g3", "z/d": "g3"},
                          found + [SameRecording("y/c", "y/b", 0.9, 0.0)])
    assert groups == {"x/a": "g1", "y/b": "g1", "y/c": "g1", "z/d": "g1"}
