"""Open-set answers: a label at or above the threshold, "unknown" below it, always with the score."""

from __future__ import annotations

import numpy as np

from plugins.face.matching import UNKNOWN, identify


def test_identify_returns_the_best_identity_or_unknown():
    gallery = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    ids = ["alice", "alice", "bob"]
    hit = identify(np.array([0.9, 0.1]), gallery, ids, threshold=0.5)
    assert hit.identity == "alice" and hit.label == "alice" and hit.score > 0.99 and hit.runner_up < 0.2
    miss = identify(np.array([-1.0, -0.2]), gallery, ids, threshold=0.5)
    assert miss.identity is None and miss.label == UNKNOWN and miss.score < 0.5
    assert identify(np.array([1.0, 0.0]), np.zeros((0, 2)), [], 0.5).label == UNKNOWN
