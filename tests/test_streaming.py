import numpy as np
import pytest

from crysense.streaming import StreamChunker, WindowParams, window_bounds

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
