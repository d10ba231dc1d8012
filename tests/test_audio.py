import numpy as np
import pytest

from conftest import SR, ffmpeg_encode, noise, tone, write
from crysense.data.audio import AudioCache, AudioError, band_limit, check_clip, decode, pad_to, rms_dbfs, segment_bounds
from crysense.data.study import high_band_fraction


def peak_hz(x, sr=SR):
    spec = np.abs(np.fft.rfft(x))
    return np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spec)]


def test_16k_mono_wav_round_trips(tmp_path):
    x = tone(seconds=1.5)
    d = decode(write(tmp_path / "a.wav", x, subtype="PCM_16"))
    assert d.samples.dtype == np.float32 and d.sample_rate == SR and d.channels == 1
    assert len(d.samples) == len(x)
    assert np.max(np.abs(d.samples - x)) < 1e-3


def test_stereo_24bit_44k_becomes_mono_16k(tmp_path):
    left, right = tone(440, 2.0, 44_100), tone(440, 2.0, 44_100)
    path = write(tmp_path / "st.wav", np.stack([left, right], axis=1), 44_100, subtype="PCM_24")
    d = decode(path)
    assert (d.orig_sample_rate, d.channels, d.sample_rate) == (44_100, 2, SR)
    assert abs(d.duration_s - 2.0) < 0.01
    assert abs(peak_hz(d.samples) - 440) < 2


def test_8k_flac_is_resampled(tmp_path):
    d = decode(write(tmp_path / "p.flac", tone(1000, 1.2, 8000), 8000))
    assert d.orig_sample_rate == 8000 and abs(d.duration_s - 1.2) < 0.01
    assert abs(peak_hz(d.samples) - 1000) < 2


@pytest.mark.parametrize("suffix,args", [(".mp3", []), (".3gp", ["-ar", "8000", "-c:a", "aac"]),
                                         (".caf", ["-c:a", "adpcm_ima_qt"])])
def test_ffmpeg_formats(tmp_path, ffmpeg, suffix, args):
    src = write(tmp_path / "src.wav", tone(500, 2.0))
    d = decode(ffmpeg_encode(src, tmp_path / f"x{suffix}", *args))
    assert d.sample_rate == SR and abs(d.duration_s - 2.0) < 0.1
    assert abs(peak_hz(d.samples) - 500) < 5


@pytest.mark.parametrize("name,content,reason", [
    ("empty.wav", b"", "empty file"),
    ("garbage.wav", b"RIFF\x00\x01garbage" * 50, "not decodable"),
    ("notes.mp3", b"this is a text file, not audio\n" * 20, "not decodable"),
])
def test_bad_files_raise_clear_errors(tmp_path, ffmpeg, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioError) as e:
        decode(path)
    assert str(path) in str(e.value) and reason in e.value.reason


def test_truncated_flac(tmp_path, ffmpeg):
    good = write(tmp_path / "g.flac", noise(3.0))
    bad = tmp_path / "t.flac"
    bad.write_bytes(good.read_bytes()[:60])
    with pytest.raises(AudioError):
        d = decode(bad)
        check_clip(d.samples, bad)   # a header-only remnant decodes to (almost) nothing


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="file not found"):
        decode(tmp_path / "nope.wav")


def test_check_clip_reasons():
    check_clip(noise(2.0), "ok.wav")
    with pytest.raises(AudioError, match=r"short.wav: too short \(0.50 s"):
        check_clip(noise(0.5), "short.wav")
    with pytest.raises(AudioError, match="near-silent"):
        check_clip(noise(2.0, amp=1e-4), "quiet.wav")
    with pytest.raises(AudioError, match="near-silent"):
        check_clip(np.zeros(SR * 2, np.float32), "zeros.wav")
    with pytest.raises(AudioError, match="too long"):
        check_clip(noise(20.0), "long.wav", max_s=15)
    assert rms_dbfs(np.zeros(10)) < -150


def test_segment_bounds():
    assert segment_bounds(7.0) == [(0.0, 7.0)]
    assert segment_bounds(15.0) == [(0.0, 15.0)]
    assert segment_bounds(16.0) == [(0.0, 5.0), (5.0, 10.0), (10.0, 16.0)]
    b = segment_bounds(40.7)
    assert b[0] == (0.0, 5.0) and b[-1] == (35.0, 40.7) and len(b) == 8
    assert all(5.0 <= e - s < 10.0 for s, e in b)
    assert all(b[i][1] == b[i + 1][0] for i in range(len(b) - 1))


def test_pad_to_centres_short_clips():
    x = np.ones(SR, np.float32)
    y = pad_to(x, 5.0)
    assert len(y) == 5 * SR and y.sum() == SR and y[0] == 0 and y[len(y) // 2] == 1
    assert pad_to(noise(6.0), 5.0).shape[0] == 6 * SR


def test_band_limit_removes_energy_above_4khz():
    high, low = tone(6000, 1.0), tone(1000, 1.0)
    assert high_band_fraction(high) > 0.99
    assert rms_dbfs(band_limit(high)) < -60
    assert abs(rms_dbfs(band_limit(low)) - rms_dbfs(low)) < 0.5
    assert high_band_fraction(band_limit(noise(1.0))) < 0.01


def test_cache_returns_identical_audio_without_decoding(tmp_path, monkeypatch):
    path = write(tmp_path / "c.flac", tone(300, 1.0, 22_050), 22_050)
    cache = AudioCache(tmp_path / "cache")
    first = cache.decode(path)
    import crysense.data.audio as audio
    monkeypatch.setattr(audio, "decode", lambda *a, **k: pytest.fail("cache miss"))
    second = cache.decode(path)
    assert np.array_equal(first.samples, second.samples) and second.orig_sample_rate == 22_050


DONATEACRY_MULTI_FRAME = ("donateacry/donateacry-android-upload-bucket/"
                          "b9d0daab-43c8-41f1-86af-3bcdea9af63c-1429980002125-1.7-f-22-dk.3gp")


def test_amr_packets_of_several_frames_decode_whole():
    """This phone recording packs 6 AMR-NB frames (120 ms) into a packet; Debian's FFmpeg 5.1 decoded one frame a
    packet and returned 1.06 s of stitched 20 ms pieces. The container says 6.76 s."""
    from crysense.config import get_paths
    path = get_paths().data / DONATEACRY_MULTI_FRAME
    if not path.exists():
        pytest.skip("shared data not found")
    d = decode(path)
    assert d.orig_sample_rate == 8000 and abs(d.duration_s - 6.76) < 0.05
