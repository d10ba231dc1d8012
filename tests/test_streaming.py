import numpy as np
import pytest

from crysense.serving.streaming import StreamChunker, WindowParams, window_bounds

SR = 16_000


def test_window_params_are_5_to_15_s():
    with pytest.raises(ValueError):
        WindowParams(window_s=4)
    with pytest.raises(ValueError):
        WindowParams(window_s=16)
    with pytest.raises(ValueError):
        WindowParams(window_s=10, hop_s=11)


def test_window_bounds_cover_the_recording():
    p = WindowParams(10, 5)
    assert window_bounds(3 * SR, p) == [(0, 3 * SR)]
    assert window_bounds(10 * SR, p) == [(0, 10 * SR)]
    b = window_bounds(23 * SR, p)
    assert b[:3] == [(0, 10 * SR), (5 * SR, 15 * SR), (10 * SR, 20 * SR)] and b[-1] == (13 * SR, 23 * SR)
    assert all(e - s == 10 * SR for s, e in b)


def test_stream_chunker_matches_whole_file_windows_whatever_the_piece_size():
    x = np.arange(27 * SR, dtype=np.float32)
    rng = np.random.default_rng(0)
    chunker = StreamChunker(WindowParams(10, 5))
    got, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 3 * SR))
        got += chunker.push(x[i:i + n])
        i += n
    got += chunker.flush()
    starts = [s for s, _ in got]
    assert starts == [0.0, 5.0, 10.0, 15.0, 20.0]   # the last, partial window holds the final 7 s
    for s, w in got:
        a = int(s * SR)
        assert np.array_equal(w, x[a:a + len(w)])
    assert [len(w) / SR for _, w in got] == [10, 10, 10, 10, 7]
    assert StreamChunker().flush() == []


def test_pcm_blocks_keep_odd_bytes_for_their_pair_and_use_what_was_read_first():
    import io

    from crysense.serving.streaming import pcm_blocks
    samples = (np.arange(-50, 50) * 300).astype("<i2")
    raw = samples.tobytes()

    class Trickle(io.RawIOBase):   # a pipe that hands out 7 bytes at a time (odd: samples split across reads)
        def __init__(self, data):
            self.data = data

        def read(self, n=-1):
            out, self.data = self.data[:7], self.data[7:]
            return out

    got = np.concatenate(list(pcm_blocks(Trickle(raw[10:] + b"\x01"), block_s=0.001, first=raw[:10])))
    assert np.array_equal(np.round(got * 32768).astype(int), samples.astype(int))   # the lone last byte is dropped
