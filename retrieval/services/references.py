"""Reference collections: intake, fingerprinting, deletion and matching of evidence against them.

- ``create_collection`` / ``delete_collection`` / ``add_recording`` / ``delete_recording``: the writes
  (write role in the collection's case, audited). Reference audio goes into the content-addressed
  evidence store like evidence (never rewritten or deleted); a file already in the collection
  (same SHA-256) is not added twice.
- ``ingest_recordings``: fingerprint recordings with the ``audio_fingerprint`` plugin class in
  reference mode and write their hashes as one generation (``fingerprint_store``). Browser and API
  uploads queue it in Celery (``queue_ingest``); ``manage.py import_references`` calls it inline.
- ``match_batch``: registered as the plugin's post-process hook: right after the plugin's ``process``,
  the worker matches each item's fingerprint (``plugin.fingerprints``) against the cached snapshot,
  limited to the collections that media item may be matched against (``collection_ids_for_case``),
  and adds one finding per occurrence (label ``reference:<recording id>``).
- ``recording_matches``: the watchlist matcher of kind ``recording``; ``occurrences_for`` feeds
  the media page.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from plugins.audio_fingerprint.plugin import _occurrence_finding as occurrence_finding
from retrieval import inference, storage
from retrieval.models import (
    Case,
    Finding,
    MediaItem,
    PluginConfiguration,
    RecordingStatus,
    ReferenceCollection,
    ReferenceRecording,
    Watchlist,
    WatchlistKind,
)
from retrieval.models.cases import WRITE_ROLES
from retrieval.plugin_api import AudioReadReport, DecodeError, Item, ItemResult
from retrieval.plugin_registry import get_registry
from retrieval.services import audit, fingerprint_store
from retrieval.services.cases import require_role
from retrieval.services.ingest import safe_name

log = logging.getLogger(__name__)

PLUGIN = "audio_fingerprint"
LABEL_PREFIX = "reference:"
#: Files the bulk importer considers audio (anything else under the folder is listed as skipped).
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aif",
                            ".aiff", ".mka", ".webm", ".mp4", ".mkv", ".mov", ".amr", ".au", ".caf"})


# --------------------------------------------------------------------------- collections


def create_collection(*, actor: Any, case: Case, name: str, description: str = "",
                      request: Any = None) -> ReferenceCollection:
    require_role(case, actor, WRITE_ROLES)
    name = (name or "").strip()[:200]
    if not name:
        raise ValidationError({"name": "A collection needs a name."})
    if ReferenceCollection.objects.filter(case=case, name=name).exists():
        raise ValidationError({"name": "This case already has a collection with that name."})
    with transaction.atomic():
        collection = ReferenceCollection.objects.create(case=case, name=name, description=description.strip(),
                                                        created_by=actor)
        audit.record("reference_collection.create", actor=actor, target=collection, case_id=case.pk,
                     request=request, details={"name": name})
    return collection


def delete_collection(*, actor: Any, collection: ReferenceCollection, request: Any = None) -> None:
    """Delete a collection, its recordings and (through compaction) their hashes; audio stays in the store."""
    require_role(collection.case, actor, WRITE_ROLES)
    with transaction.atomic():
        recordings = list(collection.recordings.all())
        gens = fingerprint_store.tombstone(recordings)
        audit.record("reference_collection.delete", actor=actor, target=collection, case_id=collection.case_id,
                     request=request, details={"name": collection.name, "recordings": len(recordings)})
        collection.delete()
        _queue_compaction(gens)


def find_collection(ref: str) -> ReferenceCollection:
    """A collection by id or by (unique) name, for the command line."""
    qs = ReferenceCollection.objects.select_related("case")
    found = list(qs.filter(pk=int(ref))) if ref.isdigit() else list(qs.filter(name=ref))
    if not found:
        raise ReferenceCollection.DoesNotExist(f"no reference collection {ref!r}")
    if len(found) > 1:
        raise ValidationError(f"{len(found)} collections are named {ref!r}; give the id")
    return found[0]


# --------------------------------------------------------------------------- recordings


@dataclass(frozen=True)
class AddResult:
    recording: ReferenceRecording
    created: bool


def add_recording(*, actor: Any, collection: ReferenceCollection, temp_path: Path | None, sha256: str, size: int,
                  name: str, request: Any = None) -> AddResult:
    """Commit a hashed temp file (``None``: already stored) and add it to the collection (once per SHA-256)."""
    if actor is not None:
        require_role(collection.case, actor, WRITE_ROLES)
    if temp_path is not None:
        storage.commit_temp_file(temp_path, sha256)
    title = safe_name(name)
    existing = ReferenceRecording.objects.filter(collection=collection, sha256=sha256).first()
    if existing is not None:
        return AddResult(existing, created=False)
    try:
        with transaction.atomic():
            recording = ReferenceRecording.objects.create(collection=collection, title=title, sha256=sha256,
                                                          size=size, uploaded_by=actor)
            audit.record("reference_recording.add", actor=actor, target=recording, case_id=collection.case_id,
                         request=request, details={"name": title, "sha256": sha256, "size": size,
                                                   "collection": collection.pk})
    except IntegrityError:
        return AddResult(ReferenceRecording.objects.get(collection=collection, sha256=sha256), created=False)
    return AddResult(recording, created=True)


def add_file(*, actor: Any, collection: ReferenceCollection, path: Path, sha256: str | None = None) -> AddResult:
    """Copy a local file into the store and add it (bulk import)."""
    with open(path, "rb") as fh:
        chunks = iter(lambda: fh.read(storage.CHUNK), b"")
        sha, size, _ = storage.store_stream(chunks, max_bytes=2**40)
    if sha256 is not None and sha != sha256:
        raise ValidationError(f"{path} changed while it was imported")
    return add_recording(actor=actor, collection=collection, temp_path=None, sha256=sha,
                         size=size, name=path.name)


def delete_recording(*, actor: Any, recording: ReferenceRecording, request: Any = None) -> None:
    collection = recording.collection
    require_role(collection.case, actor, WRITE_ROLES)
    with transaction.atomic():
        gens = fingerprint_store.tombstone([recording])
        audit.record("reference_recording.delete", actor=actor, target=recording, case_id=collection.case_id,
                     request=request, details={"name": recording.title, "sha256": recording.sha256,
                                               "collection": collection.pk})
        recording.delete()
        _queue_compaction(gens)


def _queue(task: Any, args: list[Any]) -> None:
    config = PluginConfiguration.objects.filter(name=PLUGIN).first()
    queue = config.effective_queue if config is not None else f"cpu.{PLUGIN}"
    transaction.on_commit(lambda: task.apply_async(args=args, queue=queue))


def queue_ingest(recording_ids: Sequence[int]) -> None:
    """Fingerprint these recordings in a worker (one Celery task per batch), after the commit."""
    if recording_ids:
        from retrieval import tasks

        _queue(tasks.ingest_references, [list(recording_ids)])


def _queue_compaction(gens: Sequence[int]) -> None:
    if gens:
        from retrieval import tasks

        _queue(tasks.compact_fingerprints, [list(gens)])


_PLUGIN_INSTANCE: Any = None


def _plugin() -> Any:
    """The fingerprinter (one per process), from the plugin registry, on the configured device."""
    global _PLUGIN_INSTANCE
    if _PLUGIN_INSTANCE is None:
        cls = get_registry().get(PLUGIN)
        if cls is None:
            raise RuntimeError(f"the {PLUGIN} plugin is not installed in this process")
        config = PluginConfiguration.objects.filter(name=PLUGIN).first()
        plugin = cls({})
        plugin.load(inference.resolve_device(config.device if config is not None else "auto"))
        _PLUGIN_INSTANCE = plugin
    return _PLUGIN_INSTANCE


def _fingerprint(recording: ReferenceRecording) -> tuple[Any, str, str]:
    """(fingerprint, "", warning) or (None, reason, "") for a file that cannot be used; ``warning`` says what of
    a cut or damaged file could not be fingerprinted (empty when all of it was)."""
    path = storage.object_path(recording.sha256)
    report = AudioReadReport()
    try:
        fp = _plugin().fingerprint_full(path, reference=True, report=report)
    except DecodeError as exc:
        return None, f"not readable as audio: {exc}", ""
    except MemoryError:
        return None, "out of memory while fingerprinting", ""
    if len(fp) == 0:
        return None, "no landmarks: silent, too quiet or too short to be recognised", ""
    return fp, "", "; ".join(report.warnings())


def ingest_recordings(recording_ids: Iterable[int], progress: Any = None) -> dict[str, int]:
    """Fingerprint pending (or failed) recordings and store their hashes as one generation.

    Already fingerprinted recordings are skipped, so a repeated task is harmless.
    ``progress(recording, error)`` is called after each file.
    """
    plugin_cls = get_registry().get(PLUGIN)
    model_version = plugin_cls.model_version if plugin_cls is not None else ""
    todo = list(ReferenceRecording.objects.filter(pk__in=list(recording_ids)).exclude(
        status=RecordingStatus.READY, model_version=model_version).order_by("pk"))
    ReferenceRecording.objects.filter(pk__in=[r.pk for r in todo]).update(status=RecordingStatus.PROCESSING)
    good: list[tuple[ReferenceRecording, Any]] = []
    warnings: dict[int, str] = {}
    counts = {"ready": 0, "failed": 0}
    for recording in todo:
        fp, error, warnings[recording.pk] = _fingerprint(recording)
        if fp is None:
            ReferenceRecording.objects.filter(pk=recording.pk).update(
                status=RecordingStatus.FAILED, error=error, warning="", processed_at=timezone.now())
            counts["failed"] += 1
        else:
            good.append((recording, fp))
        if progress is not None:
            progress(recording, error)
    if good:
        with transaction.atomic():
            alive = set(ReferenceRecording.objects.select_for_update().filter(
                pk__in=[r.pk for r, _ in good]).values_list("pk", flat=True))  # deleted meanwhile: drop
            good = [(r, fp) for r, fp in good if r.pk in alive]
            gen = fingerprint_store.write_generation([(r.pk, fp.hashes, fp.frames) for r, fp in good],
                                                     model_version)
            now = timezone.now()
            for recording, fp in good:
                ReferenceRecording.objects.filter(pk=recording.pk).update(
                    status=RecordingStatus.READY, error="", warning=warnings.get(recording.pk, "")[:4000],
                    duration_s=round(fp.duration_s, 3),
                    n_hashes=len(fp), n_frames=int(np.ceil(fp.duration_s / fp.params.frame_s)) + 1,
                    model_version=model_version, generation=gen.pk, processed_at=now)
        counts["ready"] += len(good)
    return counts


@dataclass
class ImportReport:
    added: int = 0
    present: int = 0
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    ignored: list[str] = dataclasses.field(default_factory=list)


def audio_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(audio/video files, other files) under ``folder``, recursively, in name order."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith("."))
    return ([p for p in files if p.suffix.lower() in AUDIO_SUFFIXES],
            [p for p in files if p.suffix.lower() not in AUDIO_SUFFIXES])


def import_folder(collection: ReferenceCollection, files: Sequence[Path], *, batch_size: int = 32,
                  on_file: Any = None) -> ImportReport:
    """Add and fingerprint ``files`` inline, a batch (one hash generation) at a time.

    A file whose SHA-256 is already in the collection is skipped; one that cannot be
    decoded or has no landmarks is kept as a failed recording with the reason.
    ``on_file(path, outcome)`` is called once per file (for a progress bar).
    """
    report = ImportReport()
    for start in range(0, len(files), batch_size):
        new: dict[int, Path] = {}
        for path in files[start : start + batch_size]:
            try:
                sha = storage.hash_file(path)
                if ReferenceRecording.objects.filter(collection=collection, sha256=sha).exists():
                    report.present += 1
                    on_file and on_file(path, "already present")
                    continue
                added = add_file(actor=None, collection=collection, path=path, sha256=sha)
            except (OSError, ValidationError) as exc:
                report.failed.append((str(path), f"could not read the file: {exc}"))
                on_file and on_file(path, "failed")
                continue
            new[added.recording.pk] = path

        def done(recording: ReferenceRecording, error: str, new: dict[int, Path] = new) -> None:
            path = new[recording.pk]
            if error:
                report.failed.append((str(path), error))
            else:
                report.added += 1
            if on_file:
                on_file(path, "failed" if error else "added")

        ingest_recordings(list(new), progress=done)
    return report


def maintain(stale_after_s: float | None = None) -> dict[str, int]:
    """Periodic: merge small hash generations, purge deleted tracks, re-queue recordings whose task was lost."""
    from datetime import timedelta

    from django.conf import settings

    gen = fingerprint_store.compact_small()
    limit = stale_after_s if stale_after_s is not None else float(settings.MMSEC_JOB_STALE_SECONDS)
    stale = list(ReferenceRecording.objects.filter(
        status__in=[RecordingStatus.PENDING, RecordingStatus.PROCESSING],
        created_at__lt=timezone.now() - timedelta(seconds=limit)).values_list("pk", flat=True)[:1000])
    queue_ingest(stale)
    return {"compacted_into": gen.pk if gen is not None else 0, "requeued": len(stale)}


# --------------------------------------------------------------------------- matching evidence


def collection_ids_for_case(case_id: int) -> set[int]:
    """Collections evidence of ``case_id`` is matched against.

    The case's own collections, plus collections named by enabled ``recording``
    watchlists that watch this case, when the collection belongs to the
    watchlist's own case (a watchlist cannot point at another case's references).
    """
    ids = set(ReferenceCollection.objects.filter(case_id=case_id).values_list("pk", flat=True))
    for wl in Watchlist.objects.watching(case_id).filter(kind=WatchlistKind.RECORDING).prefetch_related("entries"):
        ids |= _entry_collections(wl)
    return ids


def _entry_collections(wl: Watchlist) -> set[int]:
    wanted_c, wanted_r = set(), set()
    for entry in wl.entries.all():
        data = entry.data or {}
        if str(data.get("collection_id", "")).isdigit():
            wanted_c.add(int(data["collection_id"]))
        if str(data.get("recording_id", "")).isdigit():
            wanted_r.add(int(data["recording_id"]))
    own = ReferenceCollection.objects.filter(case_id=wl.case_id)
    return set(own.filter(pk__in=wanted_c).values_list("pk", flat=True)) | set(
        ReferenceRecording.objects.filter(pk__in=wanted_r, collection__in=own).values_list("collection_id", flat=True))


def match_batch(plugin: Any, items: Sequence[Item], results: list[ItemResult]) -> list[ItemResult]:
    """Post-process hook: add occurrence findings to each item's result (worker side, DB allowed here)."""
    fingerprints = getattr(plugin, "fingerprints", {}) or {}
    if not any(r.media_id in fingerprints and not r.error for r in results):
        return results
    index = fingerprint_store.snapshot(plugin.model_version)
    if index.track_ids.size == 0:
        return results
    cases = dict(MediaItem.objects.filter(pk__in=[i.media_id for i in items]).values_list("pk", "case_id"))
    scopes: dict[int, Any] = {}
    out = []
    for item, result in zip(items, results, strict=True):
        fp = fingerprints.get(item.media_id)
        case_id = cases.get(item.media_id)
        if result.error or fp is None or len(fp) == 0 or case_id is None:
            out.append(result)
            continue
        if case_id not in scopes:
            tracks = ReferenceRecording.objects.filter(
                collection_id__in=collection_ids_for_case(case_id), status=RecordingStatus.READY,
            ).values_list("pk", flat=True)
            scopes[case_id] = fingerprint_store.scoped(index, tracks)
        scope = scopes[case_id]
        if scope is None:
            out.append(result)
            continue
        extra = [occurrence_finding(occ) for occ in plugin.match(fp, scope)]
        out.append(dataclasses.replace(result, findings=[*result.findings, *extra]) if extra else result)
    return out


# --------------------------------------------------------------------------- matching a probe clip


@dataclass(frozen=True)
class ClipMatch:
    """A known recording found in a probe clip (times in seconds; ``confidence`` calibrated 0..1)."""

    recording: ReferenceRecording
    clip_start_s: float
    clip_end_s: float
    reference_start_s: float
    reference_end_s: float
    confidence: float
    matched_hashes: int


def fingerprint_clip(path: Path) -> Any:
    """The landmark fingerprint (query density) of a short audio file. Raises ``DecodeError``."""
    return _plugin().fingerprint_full(path)


def identify_clip(user: Any, fp: Any) -> list[ClipMatch]:
    """Recordings of the collections ``user`` may see that occur in the fingerprint ``fp``, best first.

    The same matcher and calibrated threshold as evidence matching (``match_batch``): an empty list is
    the explicit "no known recording".
    """
    plugin = _plugin()
    if len(fp) == 0:
        return []
    tracks = ReferenceRecording.objects.visible_to(user).filter(status=RecordingStatus.READY,
                                                                 model_version=plugin.model_version)
    scope = fingerprint_store.scoped(fingerprint_store.snapshot(plugin.model_version),
                                     tracks.values_list("pk", flat=True))
    if scope is None:
        return []
    occurrences = plugin.match(fp, scope)
    recordings = tracks.select_related("collection", "collection__case").in_bulk({o.track_id for o in occurrences})
    out = [ClipMatch(recordings[o.track_id], round(o.evidence_start_s, 3), round(o.evidence_end_s, 3),
                     round(o.reference_start_s, 3), round(o.reference_end_s, 3), float(o.confidence), int(o.count))
           for o in occurrences if o.track_id in recordings]
    return sorted(out, key=lambda m: (-m.confidence, m.clip_start_s))


def reference_collections_visible(user: Any) -> int:
    """How many ready reference recordings ``user`` may match against (for the "nothing to match" message)."""
    return ReferenceRecording.objects.visible_to(user).filter(status=RecordingStatus.READY).count()


# --------------------------------------------------------------------------- reading matches


@dataclass(frozen=True)
class Occurrence:
    """One stored match, with the recording when the viewer may see its collection."""

    finding: Finding
    recording_id: int
    recording: ReferenceRecording | None
    start_s: float
    end_s: float
    reference_start_s: float
    reference_end_s: float
    confidence: float


def _recording_id(finding: Finding) -> int | None:
    rid = finding.label.removeprefix(LABEL_PREFIX)
    return int(rid) if finding.label.startswith(LABEL_PREFIX) and rid.isdigit() else None


def occurrences_for(media: MediaItem, user: Any) -> list[Occurrence]:
    """Matches stored on ``media``; recordings of collections ``user`` cannot see stay anonymous."""
    findings = list(Finding.objects.filter(media=media, plugin=PLUGIN, label__startswith=LABEL_PREFIX)
                    .order_by("start_s", "id")[:500])
    ids = {rid for f in findings if (rid := _recording_id(f)) is not None}
    visible = {r.pk: r for r in ReferenceRecording.objects.visible_to(user).filter(pk__in=ids)
               .select_related("collection")}
    out = []
    for f in findings:
        rid = _recording_id(f)
        if rid is None:
            continue
        data = f.data or {}
        out.append(Occurrence(f, rid, visible.get(rid), float(f.start_s or 0.0), float(f.end_s or f.start_s or 0.0),
                              float(data.get("reference_start_s", 0.0)), float(data.get("reference_end_s", 0.0)),
                              float(f.score or 0.0)))
    return out


def recording_matches(watchlist: Watchlist, media: MediaItem, findings: Sequence[Finding]) -> Iterator[Any]:
    """Watchlist matcher: an occurrence of a recording (or of any recording of a collection) on the list."""
    from retrieval.services.watchlists import Match, _clock

    own = ReferenceRecording.objects.filter(collection__case_id=watchlist.case_id)
    entries = []
    for entry in watchlist.entries.all():
        data = entry.data or {}
        qs = own.none()
        if str(data.get("collection_id", "")).isdigit():
            qs = own.filter(collection_id=int(data["collection_id"]))
        elif str(data.get("recording_id", "")).isdigit():
            qs = own.filter(pk=int(data["recording_id"]))
        entries.append((entry, dict(qs.values_list("pk", "title"))))
    for finding in findings:
        rid = _recording_id(finding)
        if rid is None or finding.score is None:
            continue
        data = finding.data or {}
        for entry, recordings in entries:
            if rid not in recordings:
                continue
            ref0, ref1 = data.get("reference_start_s"), data.get("reference_end_s")
            yield Match(
                entry=entry, score=float(finding.score),
                summary=(f'Recording "{recordings[rid]}" at {_clock(finding.start_s)}–{_clock(finding.end_s)} '
                         f"(reference {_clock(ref0)}–{_clock(ref1)})"),
                dedup_key=f"rec:{entry.pk}:{rid}:{round(finding.start_s or 0.0)}",
                finding=finding, start_s=finding.start_s, end_s=finding.end_s,
                details={"recording_id": rid, "recording": recordings[rid], "evidence_start_s": finding.start_s,
                         "evidence_end_s": finding.end_s, "reference_start_s": ref0, "reference_end_s": ref1,
                         "confidence": finding.score},
            )


def watch_collection(*, actor: Any, collection: ReferenceCollection, watchlist: Watchlist,
                     request: Any = None) -> Any:
    """Add the collection as an entry of a ``recording`` watchlist of the same case."""
    from retrieval.services import watchlists

    if watchlist.kind != WatchlistKind.RECORDING:
        raise ValidationError("only a watchlist of recordings can watch a reference collection")
    if watchlist.case_id != collection.case_id:
        raise ValidationError("the watchlist and the collection must belong to the same case")
    if not Case.objects.writable_by(actor).filter(pk=watchlist.case_id).exists():
        raise PermissionDenied("your role in this case does not allow this")
    return watchlists.add_entry(actor=actor, watchlist=watchlist, label=collection.name,
                                data={"collection_id": collection.pk}, request=request)
