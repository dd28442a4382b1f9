"""Framewise label scores -> timestamped events (numpy only; also used by the benchmark for the peer).

Scores come on a regular grid of analysis windows: window ``i`` covers ``[i * hop, i * hop + win]``.
An event starts when a score reaches ``on`` and lasts while it stays at or above ``off`` (hysteresis);
events of one label closer than ``merge_s`` are merged; events spanning fewer windows than
``min_s / hop`` are dropped. Onsets/offsets are then refined on the 10 ms energy envelope, because a
0.48 s window grid alone cannot place an onset better than about +-0.25 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FRAME_S = 0.01  # energy envelope resolution


@dataclass(frozen=True, slots=True)
class LabelParams:
    """Per-label detection settings (editable by an administrator through the plugin's settings)."""

    on: float
    off: float
    min_s: float = 0.0
    merge_s: float = 0.5

    @classmethod
    def from_mapping(cls, value: Any, default: LabelParams) -> LabelParams:
        """Read ``{"on": .., "off": .., "min_s": .., "merge_s": ..}``, falling back field by field."""
        if not isinstance(value, dict):
            return default
        on = float(value.get("on", default.on))
        off = min(on, float(value.get("off", default.off)))
        return cls(on, off, float(value.get("min_s", default.min_s)), float(value.get("merge_s", default.merge_s)))


@dataclass(frozen=True, slots=True)
class Event:
    """One detected event: label key, time span (s), peak score and the window index of the peak."""

    label: str
    start_s: float
    end_s: float
    score: float
    peak_index: int


def hysteresis_runs(scores: NDArray[np.float32], on: float, off: float) -> list[tuple[int, int]]:
    """Inclusive index runs where ``scores`` rose to ``on`` and stayed >= ``off``."""
    runs: list[tuple[int, int]] = []
    active = False
    start = 0
    for i, value in enumerate(scores.tolist()):
        if not active and value >= on:
            active, start = True, i
            # extend backwards over the rising edge that was already above ``off``
            while start > 0 and scores[start - 1] >= off and (not runs or start - 1 > runs[-1][1]):
                start -= 1
        elif active and value < off:
            runs.append((start, i - 1))
            active = False
    if active:
        runs.append((start, len(scores) - 1))
    return runs


def _steepest(delta: NDArray[np.float32], min_rise: float) -> int | None:
    """Middle of the first run of near-maximal ``delta`` values (a step edge gives a plateau 5 frames wide)."""
    best = float(delta.max())
    if best < min_rise:
        return None
    near = np.flatnonzero(delta >= 0.9 * best)
    first = near[0]
    last = first
    while last + 1 < delta.size and delta[last + 1] >= 0.9 * best:
        last += 1
    return int((first + last) // 2)


def _refine_onset(energy: NDArray[np.float32], lo: int, hi: int, min_rise: float) -> int | None:
    """Frame in [lo, hi) where the energy envelope rises most steeply, if the rise is clear."""
    lo, hi = max(lo, 3), min(hi, energy.size - 3)
    if hi - lo < 2:
        return None
    found = _steepest(energy[lo + 2 : hi + 2] - energy[lo - 3 : hi - 3], min_rise)
    return None if found is None else lo + found


def _refine_offset(energy: NDArray[np.float32], lo: int, hi: int, min_rise: float) -> int | None:
    """Frame in [lo, hi) where the energy envelope falls most steeply, if the fall is clear."""
    lo, hi = max(lo, 3), min(hi, energy.size - 3)
    if hi - lo < 2:
        return None
    found = _steepest(energy[lo - 3 : hi - 3] - energy[lo + 2 : hi + 2], min_rise)
    return None if found is None else lo + found


def detect(
    label: str,
    scores: NDArray[np.float32],
    params: LabelParams,
    hop_s: float,
    win_s: float,
    energy: NDArray[np.float32] | None = None,
    min_rise: float = 1.0,
) -> list[Event]:
    """Events of one label from its framewise scores (window i = [i*hop_s, i*hop_s + win_s])."""
    runs = hysteresis_runs(scores, params.on, params.off)
    merged: list[list[int]] = []
    gap = int(np.floor(params.merge_s / hop_s + 1e-9))
    for a, b in runs:
        if merged and a - merged[-1][1] - 1 <= gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    min_windows = max(1, int(np.ceil(params.min_s / hop_s - 1e-9)))
    events: list[Event] = []
    for a, b in merged:
        if b - a + 1 < min_windows:
            continue
        # Window a is the first active one and a-1 was not: the sound most likely starts in the part of
        # window a that a-1 does not cover; likewise it most likely ends before window b+1 starts.
        start = a * hop_s + (win_s - hop_s) if a > 0 else 0.0
        end = (b + 1) * hop_s if b + 1 < scores.size else b * hop_s + win_s
        if energy is not None and energy.size:
            f_lo = int(round(a * hop_s / FRAME_S)) - 10
            f_hi = int(round((a * hop_s + win_s) / FRAME_S))
            onset = _refine_onset(energy, f_lo, f_hi, min_rise)
            if onset is not None:
                start = onset * FRAME_S
            f_lo = int(round(b * hop_s / FRAME_S))
            f_hi = int(round((b * hop_s + win_s) / FRAME_S)) + 10
            offset = _refine_offset(energy, max(f_lo, int(start / FRAME_S) + 10), f_hi, min_rise)
            if offset is not None:
                end = offset * FRAME_S
        end = max(end, start + 0.1)
        seg = scores[a : b + 1]
        peak = a + int(np.argmax(seg))
        events.append(Event(label, round(start, 3), round(end, 3), float(scores[peak]), peak))
    return events


def _overlap(a: Event, b: Event) -> float:
    """Overlap of ``a`` and ``b`` as a fraction of the shorter one."""
    inter = min(a.end_s, b.end_s) - max(a.start_s, b.start_s)
    shorter = min(a.end_s - a.start_s, b.end_s - b.start_s)
    return inter / shorter if shorter > 0 else 0.0


def resolve_overlaps(
    events: list[Event], exclusive: list[list[str]], yields: dict[str, list[str]], min_overlap: float = 0.5
) -> list[Event]:
    """Drop co-firing duplicates that AudioSet's hierarchy and confusions produce.

    ``yields``: an event of the key label that overlaps an event of a listed label is absorbed by it (span
    united, label and score of the specific one): a generic parent such as "Alarm" fires on every siren.
    ``exclusive``: of overlapping events within one group (gunshot / explosion / fireworks are confused
    with each other), only the highest-scoring one is kept.
    """
    events = list(events)
    dropped: set[int] = set()
    for i, ev in enumerate(events):
        for other in yields.get(ev.label, []):
            k = next((k for k, o in enumerate(events) if o.label == other and _overlap(ev, o) >= min_overlap), None)
            if k is not None:  # the specific label absorbs the generic event's span
                o = events[k]
                events[k] = Event(o.label, min(o.start_s, ev.start_s), max(o.end_s, ev.end_s), o.score, o.peak_index)
                dropped.add(i)
                break
    groups = {label: g for g, members in enumerate(exclusive) for label in members}
    for i, a in enumerate(events):
        for j, b in enumerate(events):
            if i == j or a.label == b.label or a.label not in groups or groups[a.label] != groups.get(b.label):
                continue
            if _overlap(a, b) >= min_overlap and (b.score, j) > (a.score, i):
                dropped.add(i)
    return [ev for k, ev in enumerate(events) if k not in dropped]


def match_events(
    ref: list[tuple[float, float]], est: list[tuple[float, float]], tolerance_s: float = 0.5
) -> list[tuple[int, int]]:
    """One-to-one onset matching (|onset difference| <= tolerance), closest pairs first (sed_eval style)."""
    pairs = sorted(
        (abs(r[0] - e[0]), i, j)
        for i, r in enumerate(ref)
        for j, e in enumerate(est)
        if abs(r[0] - e[0]) <= tolerance_s
    )
    used_r: set[int] = set()
    used_e: set[int] = set()
    out: list[tuple[int, int]] = []
    for _, i, j in pairs:
        if i not in used_r and j not in used_e:
            used_r.add(i)
            used_e.add(j)
            out.append((i, j))
    return out
