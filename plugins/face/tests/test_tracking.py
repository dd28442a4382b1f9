"""Face tracks across sampled frames: overlap + embedding, gaps, look-alikes, re-entries."""

from __future__ import annotations

import numpy as np

from plugins.face.tracking import Frame, FrameFace, box_iou, build_tracks

RNG = np.random.default_rng(3)


def unit(v):
    return (v / np.linalg.norm(v)).astype(np.float32)


ALICE, BOB = unit(RNG.normal(size=128)), unit(RNG.normal(size=128))


def noisy(v, scale=0.15):
    return unit(v + RNG.normal(scale=scale / np.sqrt(128), size=128) * np.sqrt(128) / 8)


def face(x, y, who, q=0.8, side=80):
    return FrameFace(box=(x, y, x + side, y + side), vector=noisy(who), quality_score=q)


def test_two_people_walking_give_two_tracks_with_spans_and_best_faces():
    frames = []
    for k in range(6):
        q = 0.95 if k == 3 else 0.6
        frames.append(Frame(time_s=float(k), faces=[face(100 + 20 * k, 100, ALICE, q), face(600 - 20 * k, 120, BOB)]))
    tracks = build_tracks(frames)
    assert len(tracks) == 2
    alice = next(t for t in tracks if t.members[0] == (0, 0))
    assert (alice.start_s, alice.end_s) == (0.0, 5.0)
    assert [m[1] for m in alice.members] == [0] * 6
    assert alice.best == (3, 0) and alice.best_quality == 0.95
    assert float(alice.vector @ ALICE) > 0.9
    assert abs(float(np.linalg.norm(alice.vector)) - 1.0) < 1e-5


def test_a_cut_with_the_same_person_elsewhere_continues_the_track():
    frames = [Frame(0.0, [face(100, 100, ALICE)]), Frame(1.0, [face(900, 500, ALICE)])]
    assert len(build_tracks(frames)) == 1


def test_a_different_person_in_the_same_place_starts_a_new_track():
    frames = [Frame(0.0, [face(100, 100, ALICE)]), Frame(1.0, [face(100, 100, BOB)])]
    tracks = build_tracks(frames)
    assert len(tracks) == 2
    assert [t.members for t in tracks] == [[(0, 0)], [(1, 0)]]


def test_a_long_gap_closes_the_track():
    frames = [Frame(0.0, [face(100, 100, ALICE)]), Frame(10.0, [face(100, 100, ALICE)])]
    assert len(build_tracks(frames, max_gap_s=3.0)) == 2
    assert len(build_tracks(frames, max_gap_s=20.0)) == 1


def test_frames_in_any_order_and_empty_frames():
    frames = [Frame(2.0, [face(140, 100, ALICE)]), Frame(0.0, [face(100, 100, ALICE)]), Frame(1.0, [])]
    (track,) = build_tracks(frames)
    assert track.members == [(1, 0), (0, 0)] and (track.start_s, track.end_s) == (0.0, 2.0)
    assert build_tracks([]) == []


def test_every_face_lands_in_exactly_one_track():
    frames = [Frame(float(k), [face(50 * j, 50 * k % 300, ALICE if j % 2 else BOB) for j in range(4)])
              for k in range(5)]
    members = [m for t in build_tracks(frames) for m in t.members]
    assert sorted(members) == sorted((k, j) for k in range(5) for j in range(4))


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (10, 10, 20, 20)) == 0.0
    assert abs(box_iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9
