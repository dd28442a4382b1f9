from __future__ import annotations

import numpy as np

from plugins.audio_fingerprint import landmarks as L
from plugins.audio_fingerprint.calibration import Calibration, fit, load_default
from plugins.audio_fingerprint.index import InMemoryIndex
from plugins.audio_fingerprint.matcher import MatchParams, find_occurrences, match_window
from plugins.audio_fingerprint.tests.conftest import SR, add_noise, track

FRAME_S = L.QUERY.frame_s


def test_it_finds_the_track_and_offset_of_a_noisy_snippet(tracks, index: InMemoryIndex) -> None:
    start = 12.3
    q = add_noise(tracks[102][int(start * SR) : int((start + 5) * SR)], snr_db=5)
    fp = L.extract(q, L.QUERY)
    cands = match_window(fp.hashes, fp.frames, index, calibration=load_default())
    assert cands and cands[0].track_id == 102
    assert abs(cands[0].offset * FRAME_S - start) < 0.05
    assert load_default().accepts(cands[0].score)
    assert cands[0].confidence > 0.99


def test_unknown_audio_is_no_match(index: InMemoryIndex) -> None:
    cal = load_default()
    for seed in (201, 202, 203):
        fp = L.extract(track(seed, 10.0), L.QUERY)
        best = match_window(fp.hashes, fp.frames, index)
        assert not best or not cal.accepts(best[0].score)
    noise = np.random.default_rng(5).standard_normal(SR * 10).astype(np.float32) * 0.1
    fp = L.extract(noise, L.QUERY)
    best = match_window(fp.hashes, fp.frames, index)
    assert not best or not cal.accepts(best[0].score)


def test_it_reports_every_occurrence_in_long_evidence(tracks, index: InMemoryIndex) -> None:
    rng = np.random.default_rng(3)
    filler = lambda s: (rng.standard_normal(int(s * SR)) * 0.02).astype(np.float32)  # noqa: E731
    a = tracks[101][int(3.0 * SR) : int(9.0 * SR)]  # 6 s from 3.0 s
    b = tracks[104][int(20.0 * SR) : int(28.0 * SR)]  # 8 s from 20.0 s
    evidence = np.concatenate([filler(40), a, filler(25), b, filler(30), a[: 4 * SR]])
    fp = L.extract(evidence, L.QUERY)
    occ = find_occurrences(fp.hashes, fp.frames, FRAME_S, index, load_default())
    assert len(occ) == 3
    for o, (tid, ev, ref) in zip(occ, [(101, 40, 3), (104, 71, 20), (101, 109, 3)], strict=True):
        assert o.track_id == tid
        assert abs(o.evidence_start_s - ev) < 1.0 and abs(o.reference_start_s - ref) < 1.0
        assert abs((o.reference_start_s - o.evidence_start_s) - (ref - ev)) < 0.05  # the offset is exact
    o = next(o for o in occ if o.track_id == 104)
    assert abs(o.evidence_end_s - 79.0) < 0.6 and abs(o.reference_end_s - 28.0) < 0.6


def test_calibration_threshold_follows_the_null_distribution() -> None:
    rng = np.random.default_rng(0)
    null = rng.exponential(1.0, 2000)
    cal = fit(null, target_fpr=0.01)
    assert 4.0 < cal.threshold < 6.0  # exp(1): P(X > 4.6) = 1 %
    assert abs(cal.fpr(cal.threshold) - 0.01) < 0.01
    assert cal.confidence(100.0) > 0.999999
    assert Calibration.from_json(cal.to_json()) == cal


def test_shipped_calibration_is_loadable() -> None:
    cal = load_default()
    assert cal.n_null >= 500 and 0 < cal.target_fpr <= 0.01


class _GenericIndex:
    """The same postings behind the plain ``HashIndex`` interface (the path every other store takes)."""

    def __init__(self, inner: InMemoryIndex) -> None:
        self.inner = inner

    def lookup(self, hashes):
        return self.inner.lookup(hashes)

    @property
    def total_frames(self) -> int:
        return self.inner.total_frames


def _key(cands):
    return [(c.track_id, c.offset, c.count, c.n_votes, c.q_first, c.q_last, round(c.score, 9)) for c in cands]


def test_the_in_memory_fast_path_votes_exactly_like_the_generic_lookup(tracks, index: InMemoryIndex) -> None:
    # sort_votes_max=50 forces the folded-histogram pre-selection on these small queries too
    for params in (MatchParams(), MatchParams(sort_votes_max=50, max_candidates=2)):
        for tid, start, snr in ((102, 12.3, 5), (104, 30.0, 0), (101, 0.5, 20)):
            fp = L.extract(add_noise(tracks[tid][int(start * SR) : int((start + 5) * SR)], snr_db=snr), L.QUERY)
            fast = match_window(fp.hashes, fp.frames, index, params)
            assert fast and fast[0].track_id == tid
            generic = match_window(fp.hashes, fp.frames, _GenericIndex(index), params)
            assert [(c.track_id, c.offset, c.count, c.n_votes) for c in fast] == \
                [(c.track_id, c.offset, c.count, c.n_votes) for c in generic]
            assert _key(fast) == _key(match_window(fp.hashes, fp.frames, index, params))  # deterministic


def test_vote_cells_honour_the_cap_and_a_scoped_view(tracks, index: InMemoryIndex) -> None:
    from retrieval.services.fingerprint_store import scoped

    fp = L.extract(tracks[103][: 5 * SR], L.QUERY)
    tq = fp.frames.astype(np.int64) - int(fp.frames.min())
    for cap in (None, 1):
        cells, counts = index.vote_cells(fp.hashes, tq, cap)
        qi, g = index.lookup_global(fp.hashes, cap)
        assert counts.sum() == cells.size == g.size
        assert np.array_equal(cells.astype(np.int64), g - tq[qi])
    view = scoped(index, [101, 103])
    cells, counts = view.vote_cells(fp.hashes, tq)
    qi, g = view.lookup_global(fp.hashes)
    assert np.array_equal(cells.astype(np.int64), g - tq[qi])
    assert np.array_equal(counts, np.bincount(qi, minlength=fp.hashes.size))
    assert set(view.split_global(g)[0].tolist()) == {101, 103}


def test_a_near_miss_under_a_tight_posting_cap_is_voted_again_with_the_wide_cap(tracks, index) -> None:
    cal = load_default()
    fp = L.extract(add_noise(tracks[102][int(12.3 * SR) : int(17.3 * SR)], snr_db=0), L.QUERY)
    tight = MatchParams(min_postings_cap=1, max_postings_factor=1.0, recheck_factor=1.0)  # cap 1, no recheck
    [first, *_] = match_window(fp.hashes, fp.frames, index, tight, cal)
    assert first.track_id == 102 and 2.0 <= first.score and not cal.accepts(first.score)  # a near miss
    rechecked = MatchParams(min_postings_cap=1, max_postings_factor=1.0, recheck_factor=20.0)
    [best, *_] = match_window(fp.hashes, fp.frames, index, rechecked, cal)
    assert best.track_id == 102 and cal.accepts(best.score) and best.score > first.score
    # without a calibration there is no threshold to miss: one pass
    assert match_window(fp.hashes, fp.frames, index, rechecked)[0].score == first.score
