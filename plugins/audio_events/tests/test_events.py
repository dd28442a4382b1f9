"""Event extraction: hysteresis, merging, minimum durations, overlap resolution, matching."""

from __future__ import annotations

import numpy as np

from plugins.audio_events.events import Event, LabelParams, detect, hysteresis_runs, match_events, resolve_overlaps


def test_hysteresis_needs_on_and_holds_to_off() -> None:
    s = np.array([0.1, 0.3, 0.6, 0.35, 0.3, 0.1, 0.45, 0.2], np.float32)
    assert hysteresis_runs(s, on=0.5, off=0.3) == [(1, 4)]


def test_merge_gap_and_min_duration() -> None:
    s = np.array([0.9, 0.0, 0.9, 0, 0, 0, 0, 0.9], np.float32)
    events = detect("x", s, LabelParams(0.5, 0.3, min_s=0.0, merge_s=0.5), hop_s=0.48, win_s=0.975)
    assert [(e.start_s, e.end_s) for e in events] == [(0.0, 1.44), (3.855, 4.335)]
    long_only = detect("x", s, LabelParams(0.5, 0.3, min_s=0.9, merge_s=0.5), hop_s=0.48, win_s=0.975)
    assert len(long_only) == 1 and long_only[0].score == np.float32(0.9)


def test_onset_refined_on_energy() -> None:
    s = np.zeros(20, np.float32)
    s[6:9] = 0.8  # windows 6..8 active: the sound starts in window 6
    energy = np.full(1000, -5.0, np.float32)
    energy[331:] = 0.0  # sharp rise at 3.31 s
    (ev,) = detect("x", s, LabelParams(0.5, 0.3), hop_s=0.48, win_s=0.975, energy=energy)
    assert abs(ev.start_s - 3.31) <= 0.03


def test_overlap_resolution() -> None:
    siren = Event("siren", 5.0, 7.0, 0.8, 10)
    alarm = Event("alarm", 3.0, 7.0, 0.9, 8)
    gun = Event("gunshot", 1.0, 1.5, 0.7, 2)
    boom = Event("explosion", 1.0, 1.4, 0.6, 2)
    out = resolve_overlaps([siren, alarm, gun, boom], [["gunshot", "explosion"]], {"alarm": ["siren"]})
    assert out == [Event("siren", 3.0, 7.0, 0.8, 10), gun]


def test_matching_is_one_to_one_within_tolerance() -> None:
    ref = [(1.0, 2.0), (5.0, 6.0)]
    est = [(1.3, 2.0), (1.1, 1.9), (5.6, 6.0)]
    assert match_events(ref, est, 0.5) == [(0, 1)]
