from __future__ import annotations

import numpy as np

from plugins.audio_fingerprint import landmarks as L
from plugins.audio_fingerprint.tests.conftest import SR, track


def test_it_packs_and_unpacks_hashes() -> None:
    f1 = np.array([4, 100, 255])
    df = np.array([-31, 0, 31])
    dt = np.array([1, 17, 63])
    h = L.pack(f1, df, dt)
    assert h.dtype == np.uint32 and (h < L.HASH_SPACE).all()
    got = L.unpack(h)
    assert [g.tolist() for g in got] == [f1.tolist(), df.tolist(), dt.tolist()]


def test_it_is_deterministic_and_dense_enough() -> None:
    x = track(7, 20.0)
    a, b = L.extract(x), L.extract(x)
    assert np.array_equal(a.hashes, b.hashes) and np.array_equal(a.frames, b.frames)
    assert 50 < len(a) / a.duration_s < 1000


def test_streaming_in_blocks_equals_a_whole_file_pass() -> None:
    x = track(8, 50.0)
    whole = L.extract(x, L.REFERENCE)
    chunks = ((i / SR, x[i : i + 12_345]) for i in range(0, x.size, 12_345))
    parts = L.concat(L.stream(chunks, L.REFERENCE, block_s=7.0), L.REFERENCE)
    assert sorted(zip(whole.hashes.tolist(), whole.frames.tolist(), strict=True)) == sorted(
        zip(parts.hashes.tolist(), parts.frames.tolist(), strict=True))


def test_silence_and_tiny_inputs_give_no_hashes() -> None:
    assert len(L.extract(np.zeros(SR * 3, np.float32))) == 0
    assert len(L.extract(np.zeros(10, np.float32))) == 0
    assert len(L.concat(L.stream(iter([]), L.REFERENCE), L.REFERENCE)) == 0


def test_streaming_memory_is_bounded_by_the_block_not_the_duration() -> None:
    import tracemalloc

    rng = np.random.default_rng(0)
    minutes = 20
    chunk = (rng.standard_normal(SR * 30) * 0.05).astype(np.float32)  # reused: 30 s of noise
    tracemalloc.start()
    n = 0
    for fp in L.stream(((i * 30.0, chunk) for i in range(minutes * 2)), L.REFERENCE, block_s=30.0):
        n += len(fp)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    whole_file_bytes = minutes * 60 * SR * 4
    assert n > 0
    assert peak < whole_file_bytes / 3, peak
