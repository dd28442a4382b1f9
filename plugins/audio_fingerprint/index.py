"""Where reference hashes live: the ``HashIndex`` interface and an in-memory implementation.

The matcher only needs ``lookup`` (every posting of some hash values) and the
amount of reference audio indexed (for the chance-match model). The platform
implements the same interface on PostgreSQL (layout proposed in README.md);
``InMemoryIndex`` serves tests, the benchmark and small deployments.

``InMemoryIndex`` is a CSR table over the whole 20-bit hash space: ``offsets``
(2^20+1 int64) points into one ``uint32`` array of postings, each posting the
*global frame* ``base[track] + t``. Tracks are laid out one after another with a
gap, so ``global frame - query frame`` identifies (track, offset) in a single
integer. 4 bytes per stored hash plus 8 MiB of offsets; a lookup is two array
reads per hash value, whatever the database size.

Public surface: ``HashIndex``, ``InMemoryIndex``, ``TRACK_GAP_FRAMES``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from plugins.audio_fingerprint.landmarks import HASH_SPACE

#: Frames left empty between two tracks of the global layout (> 2x the longest matching window).
TRACK_GAP_FRAMES = 4096


@runtime_checkable
class HashIndex(Protocol):
    """Read side of a reference-hash store."""

    def lookup(self, hashes: NDArray[np.uint32]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """All postings of ``hashes`` as ``(hash_idx, track_id, t_ref)``.

        ``hash_idx`` indexes into ``hashes`` and is non-decreasing; ``t_ref`` is
        the anchor frame in the reference track. Hashes with more than the
        store's cap of postings MAY be left out (they carry almost no evidence).
        """
        ...

    @property
    def total_frames(self) -> int:
        """Sum of the lengths (frames) of all indexed tracks: the size of the chance-match space."""
        ...


@dataclass
class InMemoryIndex:
    """CSR hash table in numpy; build with ``add`` + ``freeze`` or ``from_csr``."""

    offsets: NDArray[np.int64] = field(default_factory=lambda: np.zeros(HASH_SPACE + 1, np.int64))
    postings: NDArray[np.uint32] = field(default_factory=lambda: np.zeros(0, np.uint32))
    bases: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    track_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    lengths: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    _pending: list[tuple[int, NDArray[np.uint32], NDArray[np.int32], int]] = field(default_factory=list)

    @classmethod
    def from_csr(cls, offsets: NDArray[np.int64], postings: NDArray[np.uint32], bases: NDArray[np.int64],
                 track_ids: NDArray[np.int64], lengths: NDArray[np.int64]) -> InMemoryIndex:
        """Wrap prebuilt arrays (used by the benchmark to load 1,000 h of hashes without sorting)."""
        return cls(offsets, postings, bases, track_ids, lengths)

    def add(self, track_id: int, hashes: NDArray[np.uint32], frames: NDArray[np.int32], n_frames: int) -> None:
        """Queue a track; it becomes searchable after ``freeze``."""
        self._pending.append((int(track_id), hashes, frames, int(n_frames)))

    def add_many(self, items: Iterable[tuple[int, NDArray[np.uint32], NDArray[np.int32], int]]) -> None:
        for item in items:
            self.add(*item)

    def freeze(self) -> None:
        """Merge queued tracks into the CSR arrays (one counting sort)."""
        if not self._pending:
            return
        start = int(self.bases[-1] + self.lengths[-1] + TRACK_GAP_FRAMES) if self.bases.size else TRACK_GAP_FRAMES
        new_bases, new_ids, new_lens, keys, vals = [], [], [], [], []
        for track_id, hashes, frames, n_frames in self._pending:
            new_bases.append(start)
            new_ids.append(track_id)
            new_lens.append(n_frames)
            keys.append(hashes.astype(np.int64))
            vals.append(frames.astype(np.int64) + start)
            start += n_frames + TRACK_GAP_FRAMES
        if start >= 2**32:
            raise OverflowError("in-memory index full (2^32 frames); shard it")
        old_keys = np.repeat(np.arange(HASH_SPACE, dtype=np.int64), np.diff(self.offsets))
        all_keys = np.concatenate([old_keys, *keys])
        all_vals = np.concatenate([self.postings.astype(np.int64), *vals])
        order = np.argsort(all_keys, kind="stable")
        self.postings = all_vals[order].astype(np.uint32)
        counts = np.bincount(all_keys, minlength=HASH_SPACE)
        self.offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.bases = np.concatenate([self.bases, np.asarray(new_bases, np.int64)])
        self.track_ids = np.concatenate([self.track_ids, np.asarray(new_ids, np.int64)])
        self.lengths = np.concatenate([self.lengths, np.asarray(new_lens, np.int64)])
        self._pending.clear()

    @property
    def total_frames(self) -> int:
        return int(self.lengths.sum())

    @property
    def n_postings(self) -> int:
        return int(self.postings.size)

    def nbytes(self) -> int:
        """Memory held by the searchable arrays."""
        return int(self.offsets.nbytes + self.postings.nbytes + self.bases.nbytes + self.track_ids.nbytes
                   + self.lengths.nbytes)

    def lookup_global(self, hashes: NDArray[np.uint32], max_postings: int | None = None
                      ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(hash_idx, global_frame)`` of all postings; the fast path used by ``matcher``."""
        h = hashes.astype(np.int64)
        starts = self.offsets[h]
        lens = self.offsets[h + 1] - starts
        if max_postings is not None:
            lens = np.where(lens > max_postings, 0, lens)
        total = int(lens.sum())
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        hash_idx = np.repeat(np.arange(h.size, dtype=np.int64), lens)
        pos = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lens) - lens - starts, lens)
        return hash_idx, self.postings[pos].astype(np.int64)

    def vote_cells(self, hashes: NDArray[np.uint32], tq: NDArray[np.int64], max_postings: int | None = None
                   ) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
        """Cells ``global frame - query frame`` of every posting of every query hash, and votes per hash.

        The matcher's hot path at scale (a 10-s query against 1,000 h casts 10-25 M votes): each hash's
        postings are one contiguous slice, copied once and shifted in ``uint32``, instead of building
        int64 index arrays per vote as ``lookup_global`` does. Votes are grouped by hash in ``hashes``
        order, so hash ``i`` owns ``counts[:i].sum()`` to ``counts[:i+1].sum()``. Needs ``0 <= tq <
        TRACK_GAP_FRAMES`` (the first track starts after a gap, so a cell never wraps below zero).
        """
        h = hashes.astype(np.int64)
        starts = self.offsets[h]
        counts = self.offsets[h + 1] - starts
        if max_postings is not None:
            counts[counts > max_postings] = 0
        used = np.flatnonzero(counts)
        if used.size == 0:
            return np.zeros(0, np.uint32), counts
        post = self.postings
        cells = np.concatenate([post[a : a + k] for a, k in zip(starts[used].tolist(), counts[used].tolist(),
                                                                strict=True)])
        cells -= np.repeat(tq[used].astype(np.uint32), counts[used])
        return cells, counts

    def split_global(self, g: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Global frames (or cell keys) -> (track_id, frame within track).

        Each track owns half of the gap before it, so a cell key with a negative
        offset (the reference starts after the query window does) still decodes
        to its own track.
        """
        k = np.maximum(np.searchsorted(self.bases - TRACK_GAP_FRAMES // 2, g, side="right") - 1, 0)
        return self.track_ids[k], g - self.bases[k]

    def lookup(self, hashes: NDArray[np.uint32]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        hash_idx, g = self.lookup_global(hashes)
        track, t = self.split_global(g)
        return hash_idx, track, t
