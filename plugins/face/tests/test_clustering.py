"""Person clustering: density-based initial pass and incremental assignment."""

from __future__ import annotations

import numpy as np

from plugins.face.clustering import assign_incremental, centroids, density_clusters, neighbours, normalise

RNG = np.random.default_rng(11)
THRESHOLD = 0.5


def person(n, centre, spread=0.25):
    return normalise(centre + RNG.normal(scale=spread / np.sqrt(128), size=(n, 128)) * 3)


CENTRES = normalise(RNG.normal(size=(4, 128)))


def test_density_pass_recovers_persons_and_leaves_strangers_unknown():
    faces = np.concatenate([person(8, CENTRES[0]), person(5, CENTRES[1]), person(3, CENTRES[2]),
                            normalise(RNG.normal(size=(4, 128)))])
    labels = density_clusters(faces, THRESHOLD, min_samples=2)
    assert list(labels[:8]) == [0] * 8
    assert list(labels[8:13]) == [1] * 5
    assert list(labels[13:16]) == [2] * 3
    assert list(labels[16:]) == [-1] * 4


def test_low_quality_faces_join_but_never_bridge_two_persons():
    a, b = person(4, CENTRES[0], 0.05), person(4, CENTRES[1], 0.05)
    bridge = normalise((CENTRES[0] + CENTRES[1])[None])
    faces = np.concatenate([a, b, bridge])
    sims = faces @ faces.T
    assert sims[8, :4].min() > 0.6 and sims[8, 4:8].min() > 0.6 and sims[0, 4] < 0.3
    merged = density_clusters(faces, 0.6, min_samples=2)
    assert len(set(merged[:8])) == 1, "a good-quality bridge merges them (what DBSCAN does)"
    kept = density_clusters(faces, 0.6, min_samples=2, can_seed=[True] * 8 + [False])
    assert kept[0] != kept[4] and kept[8] in (kept[0], kept[4])


def test_blocked_neighbour_search_equals_the_full_one():
    faces = normalise(RNG.normal(size=(50, 16)))
    full = neighbours(faces, 0.2, block=1000)
    blocked = neighbours(faces, 0.2, block=7)
    assert all(np.array_equal(a, b) for a, b in zip(full, blocked, strict=True))


def test_incremental_uploads_join_existing_persons_or_form_new_ones():
    old = np.concatenate([person(6, CENTRES[0]), person(6, CENTRES[1])])
    old_labels = density_clusters(old, THRESHOLD)
    ids, cents = centroids(old, old_labels)
    assert list(ids) == [0, 1]
    new = np.concatenate([person(2, CENTRES[1]), person(3, CENTRES[3]), normalise(RNG.normal(size=(1, 128)))])
    earlier_unknown = person(1, CENTRES[3])
    result, unknown_labels = assign_incremental(cents, new, THRESHOLD, unknown_vectors=earlier_unknown)
    assert list(result.labels[:2]) == [1, 1]
    assert result.n_existing == 2 and result.n_new == 1
    assert list(result.labels[2:5]) == [2, 2, 2] and result.labels[5] == -1
    assert list(unknown_labels) == [2], "an earlier unknown face joins the new person"
    assert (result.similarity[:5] >= THRESHOLD).all()


def test_empty_inputs():
    assert density_clusters(np.zeros((0, 128)), THRESHOLD).shape == (0,)
    result, unk = assign_incremental(np.zeros((0, 128)), np.zeros((0, 128)), THRESHOLD)
    assert result.labels.shape == (0,) and result.n_new == 0 and unk.shape == (0,)
    result, _ = assign_incremental(np.zeros((0, 128)), person(3, CENTRES[0]), THRESHOLD)
    assert list(result.labels) == [0, 0, 0] and result.n_new == 1
