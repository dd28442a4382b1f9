"""Group a case's faces into persons (pure numpy; the platform stores the labels).

Two steps, as in Immich/PhotoPrism but with an explicit rule for each:

* ``density_clusters``: the initial pass over all faces of a case, DBSCAN on
  cosine similarity. A face is a *core* face when at least ``min_samples`` faces
  (itself included) are within ``threshold`` of it and it is good enough to
  enrol; clusters grow through core faces only, so a blurry or tiny face can
  join a person but never bridges two persons. Faces in no cluster get -1
  ("unknown").
* ``assign_incremental``: new uploads. Each new face joins the existing person
  whose centroid is most similar if that similarity reaches ``threshold``; the
  rest, together with earlier still-unknown faces, go through the density pass
  to form new persons. Existing persons are never split or merged here (that is
  a reviewer's decision).

Neighbour search is blocked (``block`` rows at a time) so memory stays
O(n * block) instead of O(n^2).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


def normalise(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2:
        v = v.reshape(len(v), -1)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def neighbours(vectors: NDArray[np.floating], threshold: float, block: int = 2048) -> list[NDArray[np.int64]]:
    """For each vector, the indices (itself included) with cosine similarity >= threshold."""
    v = normalise(vectors)
    out: list[NDArray[np.int64]] = []
    for start in range(0, len(v), block):
        sims = v[start : start + block] @ v.T
        out.extend(np.flatnonzero(row >= threshold) for row in sims)
    return out


def density_clusters(
    vectors: NDArray[np.floating],
    threshold: float,
    min_samples: int = 2,
    can_seed: Sequence[bool] | NDArray[np.bool_] | None = None,
    block: int = 2048,
) -> NDArray[np.int64]:
    """DBSCAN labels 0..k-1 (by decreasing cluster size), -1 for faces left unknown."""
    n = len(vectors)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    seed_ok = np.ones(n, dtype=bool) if can_seed is None else np.asarray(can_seed, dtype=bool)
    nbrs = neighbours(vectors, threshold, block)
    core = np.array([len(nb) >= min_samples for nb in nbrs]) & seed_ok
    cluster = 0
    for i in np.flatnonzero(core):
        if labels[i] != -1:
            continue
        labels[i] = cluster
        queue = deque([int(i)])
        while queue:
            j = queue.popleft()
            for k in nbrs[j]:
                if labels[k] == -1:
                    labels[k] = cluster
                    if core[k]:
                        queue.append(int(k))
        cluster += 1
    return _relabel_by_size(labels)


def _relabel_by_size(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    mapping = {int(old): new for new, old in enumerate(order)}
    return np.array([mapping.get(int(x), -1) for x in labels], dtype=np.int64)


def centroids(
    vectors: NDArray[np.floating], labels: NDArray[np.integer], weights: NDArray[np.floating] | None = None
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Unit-length (quality-weighted) mean vector of each label >= 0: (label ids, (k, d) matrix)."""
    v = normalise(vectors)
    labels = np.asarray(labels)
    w = np.ones(len(v), np.float32) if weights is None else np.maximum(np.asarray(weights, np.float32), 1e-3)
    ids = np.unique(labels[labels >= 0]).astype(np.int64)
    mats = np.stack([(v[labels == c] * w[labels == c, None]).sum(0) for c in ids]) if len(ids) else v[:0]
    return ids, normalise(mats) if len(ids) else mats


@dataclass(frozen=True, slots=True)
class IncrementalResult:
    """``labels[i]``: index into the existing persons (< n_existing), a new person (>= n_existing), or -1."""

    labels: NDArray[np.int64]
    similarity: NDArray[np.float32]  # similarity to the chosen person's centroid (new persons: to their own)
    n_existing: int
    n_new: int


def assign_incremental(
    person_centroids: NDArray[np.floating],
    new_vectors: NDArray[np.floating],
    threshold: float,
    min_samples: int = 2,
    can_seed: Sequence[bool] | NDArray[np.bool_] | None = None,
    unknown_vectors: NDArray[np.floating] | None = None,
    unknown_can_seed: Sequence[bool] | NDArray[np.bool_] | None = None,
) -> tuple[IncrementalResult, NDArray[np.int64]]:
    """Place new faces into existing persons or new ones.

    ``unknown_vectors`` are earlier faces still without a person; they take part in
    forming new persons and their new labels are returned second (same coding).
    """
    new = normalise(new_vectors) if len(new_vectors) else np.zeros((0, 1), np.float32)
    cents = normalise(person_centroids) if len(person_centroids) else np.zeros((0, new.shape[1]), np.float32)
    n_existing = len(cents)
    labels = np.full(len(new), -1, dtype=np.int64)
    sim = np.zeros(len(new), dtype=np.float32)
    if n_existing and len(new):
        sims = new @ cents.T
        best = sims.argmax(1)
        best_sim = sims[np.arange(len(new)), best]
        hit = best_sim >= threshold
        labels[hit] = best[hit]
        sim[hit] = best_sim[hit]

    unk = normalise(unknown_vectors) if unknown_vectors is not None and len(unknown_vectors) else None
    n_unk = 0 if unk is None else len(unk)
    unk_labels = np.full(n_unk, -1, dtype=np.int64)
    rest = np.flatnonzero(labels == -1)
    pool = new[rest] if unk is None else np.concatenate([new[rest], unk])
    seeds_new = np.ones(len(new), bool) if can_seed is None else np.asarray(can_seed, bool)
    seeds_unk = np.ones(n_unk, bool) if unknown_can_seed is None else np.asarray(unknown_can_seed, bool)
    pool_seed = np.concatenate([seeds_new[rest], seeds_unk])
    n_new = 0
    if len(pool):
        pool_labels = density_clusters(pool, threshold, min_samples, pool_seed)
        n_new = int(pool_labels.max()) + 1 if (pool_labels >= 0).any() else 0
        if n_new:
            _, pool_cents = centroids(pool, pool_labels)
            for j, lab in enumerate(pool_labels):
                if lab >= 0:
                    s = float(pool[j] @ pool_cents[lab])
                    if j < len(rest):
                        labels[rest[j]] = n_existing + lab
                        sim[rest[j]] = s
                    else:
                        unk_labels[j - len(rest)] = n_existing + lab
    return IncrementalResult(labels, sim, n_existing, n_new), unk_labels
