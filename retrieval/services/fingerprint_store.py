"""PostgreSQL store of reference landmark hashes and the per-process snapshot that matching reads.

Layout (``retrieval_afp_posting``): one row per (hash value, generation) holding
the packed little-endian int32 ``(track_id, t)`` pairs of that hash in that
generation, sorted. 8 bytes per posting plus ~60 bytes per row, so about
7.3 MB per hour of reference audio at ~250 hashes/s, against ~47 MB/h for one
row per posting (Dejavu's layout). Rows are written once by ``COPY``: an ingest
batch is a new generation, nothing is updated in place.

Deletion writes a ``FingerprintTombstone`` (the recording row goes at once, so
the next snapshot no longer contains it) and ``compact`` rewrites the
generations concerned without the deleted tracks: after it, no byte of the
deleted recording's hashes is left. ``compact()`` with no argument merges all
generations into one.

Matching reads a ``InMemoryIndex`` CSR snapshot built from one ordered scan of
the table (``snapshot``), cached per worker process and rebuilt when the store
version (latest generation id, latest tombstone id) changes. ``scoped`` restricts
a snapshot to the recordings a media item may be matched against.

Public surface: ``write_generation``, ``store_version``, ``build_snapshot``,
``snapshot``, ``scoped``, ``tombstone``, ``compact``, ``compact_small``, ``storage_bytes``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence

import numpy as np
from django.db import connection, transaction
from numpy.typing import NDArray

from plugins.audio_fingerprint.index import TRACK_GAP_FRAMES, InMemoryIndex
from plugins.audio_fingerprint.landmarks import HASH_SPACE
from retrieval.models import (
    FingerprintGeneration,
    FingerprintPosting,
    FingerprintTombstone,
    RecordingStatus,
    ReferenceRecording,
)

log = logging.getLogger(__name__)

TABLE = FingerprintPosting._meta.db_table
#: Recording ids are stored as int32 in the packed postings.
MAX_TRACK_ID = 2**31 - 1

Track = tuple[int, NDArray[np.uint32], NDArray[np.int32]]  # (track_id, hashes, anchor frames)


# --------------------------------------------------------------------------- writing


def _pack(track_ids: NDArray[np.int64], hashes: NDArray[np.int64], frames: NDArray[np.int64]
          ) -> tuple[NDArray[np.int64], list[bytes], int]:
    """Group postings by hash value: (distinct hashes, packed bytes per hash, number of postings)."""
    order = np.lexsort((frames, track_ids, hashes))
    h = hashes[order]
    pairs = np.empty((h.size, 2), "<i4")
    pairs[:, 0] = track_ids[order]
    pairs[:, 1] = frames[order]
    values, starts = np.unique(h, return_index=True)
    ends = np.append(starts[1:], h.size)
    raw = pairs.tobytes()
    return values, [raw[8 * a : 8 * b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)], int(h.size)


def _copy_rows(gen: int, values: Iterable[int], blobs: Iterable[bytes]) -> None:
    with connection.cursor() as cur, cur.cursor.copy(f"COPY {TABLE} (hash, gen, postings) FROM STDIN") as copy:
        for value, blob in zip(values, blobs, strict=True):
            copy.write_row((int(value), gen, blob))


def write_generation(tracks: Sequence[Track], model_version: str) -> FingerprintGeneration:
    """Store the hashes of ``tracks`` as one new generation (one ``COPY``); call inside a transaction."""
    gen = FingerprintGeneration.objects.create(model_version=model_version, n_tracks=len(tracks))
    if tracks:
        ids = np.concatenate([np.full(h.size, tid, np.int64) for tid, h, _ in tracks])
        if ids.size and int(ids.max()) > MAX_TRACK_ID:
            raise OverflowError("recording id does not fit the int32 postings")
        hashes = np.concatenate([h.astype(np.int64) for _, h, _ in tracks])
        frames = np.concatenate([f.astype(np.int64) for _, _, f in tracks])
        values, blobs, n = _pack(ids, hashes, frames)
        _copy_rows(gen.pk, values, blobs)
        gen.n_postings = n
        gen.save(update_fields=["n_postings"])
    return gen


# --------------------------------------------------------------------------- deleting and compacting


def tombstone(recordings: Iterable[ReferenceRecording]) -> list[int]:
    """Record that these recordings' hashes must go; returns the generations to compact."""
    rows = [FingerprintTombstone(track_id=r.pk, gen=r.generation) for r in recordings if r.generation is not None]
    FingerprintTombstone.objects.bulk_create(rows)
    return sorted({r.gen for r in rows})


def _read_generations(gens: Sequence[int]) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """(hash per posting, (track, t) pairs) of the given generations, ordered by hash."""
    keys: list[NDArray[np.int64]] = []
    pairs: list[NDArray[np.int32]] = []
    with connection.chunked_cursor() as cur:
        cur.execute(f"SELECT hash, postings FROM {TABLE} WHERE gen = ANY(%s) ORDER BY hash, gen", [list(gens)])
        while rows := cur.fetchmany(20_000):
            for value, blob in rows:
                arr = np.frombuffer(bytes(blob), "<i4").reshape(-1, 2)
                pairs.append(arr)
                keys.append(np.full(arr.shape[0], value, np.int64))
    if not pairs:
        return np.zeros(0, np.int64), np.zeros((0, 2), np.int32)
    return np.concatenate(keys), np.concatenate(pairs)


@transaction.atomic
def compact(gens: Sequence[int] | None = None) -> FingerprintGeneration | None:
    """Rewrite ``gens`` (default: all) as one generation without tombstoned or orphaned tracks.

    Returns the new generation (``None`` when there was nothing to do). Recordings
    in the rewritten generations point to the new one; their tombstones are removed.
    """
    qs = FingerprintGeneration.objects.select_for_update()
    if gens is not None:
        qs = qs.filter(pk__in=list(gens))
    old = list(qs.order_by("pk"))
    if not old:
        return None
    by_version: dict[str, list[int]] = {}
    for g in old:
        by_version.setdefault(g.model_version, []).append(g.pk)
    new_gen = None
    for version, ids in by_version.items():
        keys, pairs = _read_generations(ids)
        live = np.asarray(sorted(ReferenceRecording.objects.filter(generation__in=ids).values_list("pk", flat=True)),
                          np.int64)
        keep = np.isin(pairs[:, 0], live) if pairs.size else np.zeros(0, bool)
        new_gen = FingerprintGeneration.objects.create(model_version=version, n_tracks=int(live.size))
        if keep.any():
            values, blobs, n = _pack(pairs[keep, 0].astype(np.int64), keys[keep], pairs[keep, 1].astype(np.int64))
            _copy_rows(new_gen.pk, values, blobs)
            new_gen.n_postings = n
            new_gen.save(update_fields=["n_postings"])
        ReferenceRecording.objects.filter(generation__in=ids).update(generation=new_gen.pk)
        FingerprintPosting.objects.filter(gen__in=ids).delete()
        FingerprintTombstone.objects.filter(gen__in=ids).delete()
        FingerprintGeneration.objects.filter(pk__in=ids).delete()
    return new_gen


def compact_small(max_postings: int = 4_000_000) -> FingerprintGeneration | None:
    """Merge the small generations (one per upload batch) and those with tombstones into one.

    Each generation costs a row per distinct hash, so many tiny generations waste
    ~60 bytes per posting; big generations are left alone (tiered, like an LSM tree),
    so a periodic run never rewrites the whole store.
    """
    small = set(FingerprintGeneration.objects.filter(n_postings__lt=max_postings).values_list("pk", flat=True))
    small |= set(FingerprintTombstone.objects.values_list("gen", flat=True))
    return compact(sorted(small)) if len(small) >= 2 or FingerprintTombstone.objects.exists() else None


def storage_bytes() -> int:
    """Bytes the hash table uses on disk (heap + TOAST + primary key)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_total_relation_size(%s::regclass)", [TABLE])
        return int(cur.fetchone()[0])


# --------------------------------------------------------------------------- reading


def store_version() -> tuple[int, int]:
    """Changes whenever the searchable hashes change (ingest, delete, compaction)."""
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT coalesce(max(id), 0) FROM retrieval_fingerprintgeneration), "
                    "(SELECT coalesce(max(id), 0) FROM retrieval_fingerprinttombstone)")
        gen, tomb = cur.fetchone()
    return int(gen), int(tomb)


def build_snapshot(model_version: str) -> InMemoryIndex:
    """A CSR index of every ready recording of ``model_version`` (one ordered scan of the table).

    Rows arrive ordered by hash value, so the postings are already grouped as the CSR needs them: each batch
    of rows is joined into one buffer, mapped to global frames through a dense recording-id -> slot table,
    and appended as ``uint32``; offsets come from per-row counts. No per-posting hash array, no sort and no
    ``searchsorted``: 4 bytes per posting held while building (the first version held ~20 and ran at
    0.6 M postings/s, ~25 min for 1,000 h).
    """
    tracks = list(ReferenceRecording.objects.filter(status=RecordingStatus.READY, model_version=model_version,
                                                    generation__isnull=False)
                  .order_by("pk").values_list("pk", "n_frames", "generation"))
    if not tracks:
        return InMemoryIndex()
    ids = np.asarray([t[0] for t in tracks], np.int64)
    lengths = np.asarray([t[1] for t in tracks], np.int64)
    bases = TRACK_GAP_FRAMES + np.concatenate(([0], np.cumsum(lengths + TRACK_GAP_FRAMES)[:-1]))
    if int(bases[-1] + lengths[-1]) >= 2**32:
        raise OverflowError("reference snapshot exceeds 2^32 frames; shard it")
    slot = np.full(int(ids.max()) + 2, -1, np.int64)  # the last entry: any id beyond the ready ones
    slot[ids] = np.arange(ids.size)
    counts = np.zeros(HASH_SPACE, np.int64)
    chunks: list[NDArray[np.uint32]] = []
    gens = sorted({t[2] for t in tracks})
    with connection.chunked_cursor() as cur:
        cur.execute(f"SELECT hash, postings FROM {TABLE} WHERE gen = ANY(%s) ORDER BY hash, gen", [gens])
        while rows := cur.fetchmany(20_000):
            values = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            sizes = np.fromiter((len(r[1]) // 8 for r in rows), np.int64, len(rows))
            pairs = np.frombuffer(b"".join(r[1] for r in rows), "<i4").reshape(-1, 2)
            rec = pairs[:, 0].astype(np.int64)
            s = slot[np.where((rec >= 0) & (rec < slot.size), rec, slot.size - 1)]
            keep = s >= 0  # tombstoned or not-yet-ready recordings drop out here
            chunks.append((bases[s[keep]] + pairs[keep, 1]).astype(np.uint32))
            kept = np.concatenate(([0], np.cumsum(keep)))
            ends = np.cumsum(sizes)
            np.add.at(counts, values, kept[ends] - kept[ends - sizes])
    postings = np.concatenate(chunks) if chunks else np.zeros(0, np.uint32)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return InMemoryIndex.from_csr(offsets, postings, bases, ids, lengths)


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple[object, ...] | None = None
        self.index: InMemoryIndex | None = None
        self.builds = 0


_CACHE = _Cache()


def snapshot(model_version: str) -> InMemoryIndex:
    """This process's snapshot, rebuilt only when the store version changed since it was built."""
    key = (model_version, *store_version())
    with _CACHE.lock:
        if _CACHE.key != key or _CACHE.index is None:
            _CACHE.index = build_snapshot(model_version)
            _CACHE.key = key
            _CACHE.builds += 1
            log.info("reference snapshot %s rebuilt: %d tracks, %d postings", key, _CACHE.index.track_ids.size,
                     _CACHE.index.n_postings)
        return _CACHE.index


def snapshot_builds() -> int:
    """How many times this process built a snapshot (tests check the cache with it)."""
    return _CACHE.builds


class ScopedIndex(InMemoryIndex):
    """A view of a snapshot restricted to some tracks (shares the arrays; filters postings at lookup)."""

    def __init__(self, base: InMemoryIndex, allowed: NDArray[np.int64]) -> None:
        super().__init__(base.offsets, base.postings, base.bases, base.track_ids, base.lengths)
        self.keep = np.isin(base.track_ids, allowed)
        self._allowed_frames = int(base.lengths[self.keep].sum())

    @property
    def total_frames(self) -> int:
        return self._allowed_frames

    def lookup_global(self, hashes: NDArray[np.uint32], max_postings: int | None = None
                      ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        qi, g = super().lookup_global(hashes, max_postings)
        if g.size == 0:
            return qi, g
        sel = self._allowed(g)
        return qi[sel], g[sel]

    def _allowed(self, g: NDArray[np.integer]) -> NDArray[np.bool_]:
        """Which global frames belong to an allowed track (the track owning a frame as ``split_global`` finds it)."""
        k = np.maximum(np.searchsorted(self.bases - TRACK_GAP_FRAMES // 2, g, side="right") - 1, 0)
        return self.keep[k]


    def vote_cells(self, hashes: NDArray[np.uint32], tq: NDArray[np.int64], max_postings: int | None = None
                   ) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
        cells, counts = super().vote_cells(hashes, tq, max_postings)
        if cells.size == 0:
            return cells, counts
        sel = self._allowed(cells + np.repeat(tq.astype(np.uint32), counts))
        kept = np.concatenate(([0], np.cumsum(sel)))
        ends = np.cumsum(counts)
        return cells[sel], kept[ends] - kept[ends - counts]


def scoped(index: InMemoryIndex, track_ids: Iterable[int]) -> InMemoryIndex | None:
    """``index`` limited to ``track_ids`` (the index itself when they cover it; ``None`` when empty)."""
    allowed = np.asarray(sorted(set(track_ids)), np.int64)
    present = np.isin(index.track_ids, allowed)
    if not present.any():
        return None
    if present.all():
        return index
    return ScopedIndex(index, allowed)
