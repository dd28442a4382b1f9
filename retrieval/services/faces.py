"""Faces on the platform side: persons (clustering, merge, split, rename), video face tracks, crops,
probe search and the person watchlist matcher.

The face plugin (``plugins/face``) stores one ``Finding`` per face (space "face", 128-d unit
vector, box, landmarks, ``data.quality_score``, ``data.enrol_ok``). Everything here works on
those rows; the pure algorithms come from ``plugins/face/clustering.py``, ``tracking.py`` and
``matching.py``.

Scores. Similarities are cosines; the plugin's calibrated operating threshold (``match_threshold``,
0.49 on the dev set) decides "same person" vs "unknown". ``calibrate`` maps a cosine to 0..1 so
that the threshold becomes exactly 0.5 (piecewise linear: 0 → 0, threshold → 0.5, 1 → 1): a
watchlist threshold of 0.5 means "the calibrated operating point", higher is stricter.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from plugins.face import clustering, tracking
from retrieval import media_io, storage
from retrieval.models import Case, EmbeddingSpace, Finding, MediaItem, MediaKind, PluginConfiguration, SpaceState
from retrieval.models.faces import (
    AssignedBy,
    ClusterRunState,
    FaceAssignment,
    FaceClusterRun,
    FaceTrack,
    Person,
    PersonOrigin,
)
from retrieval.services import audit, search
from retrieval.services.probes import NO_FILTERS, ProbeFilters
from retrieval.services.watchlists import Match, _clock

log = logging.getLogger(__name__)

FACE_PLUGIN = "face"
FACE_SPACE = "face"
#: Plugins whose video findings are grouped into face tracks.
TRACKED_PLUGINS = frozenset({"face", "face_dlib"})
FALLBACK_THRESHOLD = 0.49
CROP_SIDE = 160
PROBE_RESULTS = 100  # the page shows them 20 at a time


# --------------------------------------------------------------------------- scores


def match_threshold(plugin: str = FACE_PLUGIN) -> float:
    """The plugin's calibrated cosine threshold (administrator setting, else the plugin default)."""
    from retrieval.plugin_registry import get_registry

    cls = get_registry().get(plugin)
    value = (cls.default_settings.get("match_threshold") if cls else None) or FALLBACK_THRESHOLD
    config = PluginConfiguration.objects.filter(name=plugin).only("settings").first()
    if config and isinstance(config.settings, dict) and "match_threshold" in config.settings:
        value = config.settings["match_threshold"]
    return float(value)


def calibrate(similarity: float, threshold: float) -> float:
    """Cosine → 0..1 with the operating threshold at exactly 0.5 (piecewise linear, clipped)."""
    s, t = float(similarity), min(max(float(threshold), 1e-6), 1 - 1e-6)
    value = 0.5 * s / t if s < t else 0.5 + 0.5 * (s - t) / (1.0 - t)
    return round(min(1.0, max(0.0, value)), 4)


def quality_of(finding: Finding) -> float:
    return float((finding.data or {}).get("quality_score", 1.0))


def enrol_ok(finding: Finding) -> bool:
    return bool((finding.data or {}).get("enrol_ok", False))


def face_space(model_version: str | None = None) -> EmbeddingSpace | None:
    qs = EmbeddingSpace.objects.filter(plugin=FACE_PLUGIN, name=FACE_SPACE)
    if model_version:
        return qs.filter(model_version=model_version).first()
    return qs.filter(state=SpaceState.ACTIVE).first()


def _unit(vec: Any) -> np.ndarray:
    v = np.asarray(vec, dtype=np.float32).reshape(-1)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _lock_case(case_id: int) -> None:
    """Serialise person writes of one case (clustering pass vs. incremental assignment)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7305, int(case_id)])


# --------------------------------------------------------------------------- persons


def refresh_person(person: Person) -> Person | None:
    """Recompute centroid, face count and representative; an emptied person is deleted (returns None)."""
    rows = list(Finding.objects.filter(face_assignment__person=person, vector__isnull=False)
                .values_list("id", "vector", "data"))
    if not rows:
        person.delete()
        return None
    vectors = np.stack([_unit(v) for _, v, _ in rows])
    quality = np.array([float((d or {}).get("quality_score", 1.0)) for _, _, d in rows], np.float32)
    good = np.array([bool((d or {}).get("enrol_ok", False)) for _, _, d in rows])
    weights = np.where(good, quality, quality * 0.1)  # poor faces barely move the centroid
    _, cents = clustering.centroids(vectors, np.zeros(len(rows), np.int64), weights)
    order = np.lexsort((-quality, ~good))  # enrol-ok first, then by quality
    person.centroid = cents[0].tolist()
    person.face_count = len(rows)
    person.representative_id = rows[int(order[0])][0]
    person.save(update_fields=["centroid", "face_count", "representative", "updated_at"])
    return person


def _next_number(case_id: int) -> int:
    return (Person.objects.filter(case_id=case_id).aggregate(n=Max("number"))["n"] or 0) + 1


def _new_person(case_id: int, space: EmbeddingSpace, *, origin: str, name: str = "",
                actor: Any = None) -> Person:
    return Person.objects.create(case_id=case_id, space=space, number=_next_number(case_id), name=name.strip()[:200],
                                 origin=origin, created_by=actor if getattr(actor, "is_authenticated", False) else None)


def cluster_case(case: Case, *, actor: Any = None, progress: Callable[[float], None] | None = None) -> dict[str, int]:
    """One clustering pass over the unassigned faces of ``case``.

    Faces already in a person stay there (reviewers' merges/splits are never undone). Unassigned
    faces join the nearest existing person at or above the threshold; the rest go through the
    density pass (DBSCAN, only enrol-ok faces can be core points) and form new "Unknown #n"
    persons. With no persons yet this is the initial density-based pass.
    """
    step = progress or (lambda _: None)
    space = face_space()
    if space is None:
        return {"faces": 0, "joined": 0, "new_persons": 0, "unassigned": 0}
    tau = match_threshold()
    with transaction.atomic():
        _lock_case(case.pk)
        rows = list(Finding.objects.filter(case_id=case.pk, space=space, vector__isnull=False,
                                           face_assignment__isnull=True).values_list("id", "vector", "data"))
        persons = list(Person.objects.filter(case=case, space=space, centroid__isnull=False).order_by("id"))
        step(0.2)
        if not rows:
            return {"faces": 0, "joined": 0, "new_persons": 0, "unassigned": 0}
        vectors = np.stack([_unit(v) for _, v, _ in rows])
        seed = np.array([bool((d or {}).get("enrol_ok", False)) for _, _, d in rows])
        cents = np.stack([_unit(p.centroid) for p in persons]) if persons else np.zeros((0, vectors.shape[1]))
        result, _ = clustering.assign_incremental(cents, vectors, tau, min_samples=2, can_seed=seed)
        step(0.6)
        created: dict[int, Person] = {}
        assignments = []
        for (finding_id, _, _), label, sim in zip(rows, result.labels.tolist(), result.similarity.tolist(),
                                                  strict=True):
            if label < 0:
                continue
            if label < result.n_existing:
                person, how = persons[label], AssignedBy.INCREMENTAL
            else:
                if label not in created:
                    created[label] = _new_person(case.pk, space, origin=PersonOrigin.CLUSTERING, actor=actor)
                person, how = created[label], AssignedBy.CLUSTERING
            assignments.append(FaceAssignment(finding_id=finding_id, person=person, case_id=case.pk,
                                              similarity=round(float(sim), 4), assigned_by=how))
        FaceAssignment.objects.bulk_create(assignments, ignore_conflicts=True)
        touched = {a.person_id: a.person for a in assignments}
        for person in touched.values():
            refresh_person(person)
        step(0.95)
        summary = {"faces": len(rows), "joined": sum(a.assigned_by == AssignedBy.INCREMENTAL for a in assignments),
                   "new_persons": len(created), "unassigned": len(rows) - len(assignments)}
        audit.record("person.cluster", actor=actor, case_id=case.pk, details=summary)
    return summary


def start_clustering(*, actor: Any, case: Case, request: Any = None) -> FaceClusterRun:
    """Queue a clustering pass on the Celery ``default`` queue (progress in ``FaceClusterRun``)."""
    from retrieval import tasks

    run = FaceClusterRun.objects.create(case=case, started_by=actor)
    audit.record("person.cluster_start", actor=actor, target=run, case_id=case.pk, request=request)
    transaction.on_commit(lambda: tasks.cluster_faces.delay(run.pk))
    return run


def run_clustering(run_id: int) -> None:
    """Worker side of ``start_clustering``."""
    run = FaceClusterRun.objects.select_related("case", "started_by").filter(pk=run_id).first()
    if run is None or run.state in (ClusterRunState.DONE, ClusterRunState.FAILED):
        return
    FaceClusterRun.objects.filter(pk=run.pk).update(state=ClusterRunState.RUNNING, progress=0.05)

    def step(value: float) -> None:
        FaceClusterRun.objects.filter(pk=run.pk).update(progress=round(value, 3))

    try:
        result = cluster_case(run.case, actor=run.started_by, progress=step)
    except Exception as exc:  # noqa: BLE001 - recorded on the run and shown in the gallery
        log.exception("face clustering run %s failed", run.pk)
        FaceClusterRun.objects.filter(pk=run.pk).update(state=ClusterRunState.FAILED, error=str(exc)[:2000],
                                                         finished_at=timezone.now())
        return
    FaceClusterRun.objects.filter(pk=run.pk).update(state=ClusterRunState.DONE, progress=1.0, result=result,
                                                     finished_at=timezone.now())


def assign_new_faces(media: MediaItem, model_version: str) -> int:
    """Incremental step after a face job: new faces join the nearest person at or above the threshold.

    Video faces are decided per face track (the track's quality-weighted mean vector), so one
    person gets the whole track. Faces below the threshold stay unassigned until the next pass.
    """
    space = face_space(model_version)
    if space is None:
        return 0
    tau = match_threshold()
    with transaction.atomic():
        _lock_case(media.case_id)
        persons = list(Person.objects.filter(case_id=media.case_id, space=space, centroid__isnull=False))
        if not persons:
            return 0
        faces = {f.pk: f for f in Finding.objects.filter(media=media, space=space, vector__isnull=False,
                                                          face_assignment__isnull=True)}
        if not faces:
            return 0
        cents = np.stack([_unit(p.centroid) for p in persons])
        groups: list[list[int]] = []
        if media.kind == MediaKind.VIDEO:
            for track in FaceTrack.objects.filter(media=media, plugin=FACE_PLUGIN, model_version=model_version):
                groups.append([i for i in track.finding_ids if i in faces])
            tracked = {i for g in groups for i in g}
            groups += [[i] for i in faces if i not in tracked]
        else:
            groups = [[i] for i in faces]
        assignments = []
        for group in filter(None, groups):
            vecs = np.stack([_unit(faces[i].vector) for i in group])
            weights = np.array([max(quality_of(faces[i]), 0.05) for i in group], np.float32)
            _, mean = clustering.centroids(vecs, np.zeros(len(group), np.int64), weights)
            sims = cents @ mean[0]
            best = int(sims.argmax())
            if float(sims[best]) < tau:
                continue
            for i in group:
                assignments.append(FaceAssignment(finding_id=i, person=persons[best], case_id=media.case_id,
                                                  similarity=round(float(cents[best] @ _unit(faces[i].vector)), 4),
                                                  assigned_by=AssignedBy.INCREMENTAL))
        FaceAssignment.objects.bulk_create(assignments, ignore_conflicts=True)
        for person in {a.person_id: a.person for a in assignments}.values():
            refresh_person(person)
    return len(assignments)


def _face_findings(case_id: int, finding_ids: Iterable[int]) -> list[Finding]:
    ids = {int(i) for i in finding_ids}
    found = list(Finding.objects.filter(pk__in=ids, case_id=case_id, plugin=FACE_PLUGIN, vector__isnull=False))
    if len(found) != len(ids):
        raise ValueError("every face must be a face finding of this case")
    return found


def move_faces(*, actor: Any, target: Person, finding_ids: Iterable[int], request: Any = None) -> Person:
    """A reviewer puts faces (assigned elsewhere or not at all) into ``target``; emptied persons go away."""
    findings = _face_findings(target.case_id, finding_ids)
    if not findings:
        raise ValueError("choose at least one face")
    with transaction.atomic():
        _lock_case(target.case_id)
        before = set(FaceAssignment.objects.filter(finding__in=findings).values_list("person_id", flat=True))
        for finding in findings:
            FaceAssignment.objects.update_or_create(
                finding=finding, defaults={"person": target, "case_id": target.case_id, "similarity": None,
                                           "assigned_by": AssignedBy.USER})
        for person in Person.objects.filter(pk__in=before - {target.pk}):
            refresh_person(person)
        refresh_person(target)
        audit.record("person.move_faces", actor=actor, target=target, case_id=target.case_id, request=request,
                     details={"faces": sorted(f.pk for f in findings), "from_persons": sorted(before - {target.pk})})
    return target


def split(*, actor: Any, person: Person, finding_ids: Iterable[int], name: str = "", request: Any = None) -> Person:
    """Move the selected faces of ``person`` to a new person (named, or the next "Unknown #n")."""
    ids = {int(i) for i in finding_ids}
    members = set(FaceAssignment.objects.filter(person=person, finding_id__in=ids).values_list("finding_id",
                                                                                                  flat=True))
    if not ids or members != ids:
        raise ValueError("choose faces of this person to split off")
    with transaction.atomic():
        new = _new_person(person.case_id, person.space, origin=PersonOrigin.USER, name=name, actor=actor)
        audit.record("person.split", actor=actor, target=new, case_id=person.case_id, request=request,
                     details={"from": person.pk, "faces": sorted(ids), "name": new.name})
        move_faces(actor=actor, target=new, finding_ids=ids, request=request)
    return new


def merge(*, actor: Any, target: Person, sources: Sequence[Person], request: Any = None) -> Person:
    """All faces of ``sources`` join ``target`` (same case); the sources are deleted."""
    sources = [s for s in sources if s.pk != target.pk]
    if not sources or any(s.case_id != target.case_id for s in sources):
        raise ValueError("merge persons of the same case into another one")
    with transaction.atomic():
        _lock_case(target.case_id)
        moved = FaceAssignment.objects.filter(person__in=sources).update(person=target, assigned_by=AssignedBy.USER)
        names = [s.display_name for s in sources]
        if not target.name:
            target.name = next((s.name for s in sources if s.name), "")
            target.save(update_fields=["name", "updated_at"])
        Person.objects.filter(pk__in=[s.pk for s in sources]).delete()
        refresh_person(target)
        audit.record("person.merge", actor=actor, target=target, case_id=target.case_id, request=request,
                     details={"merged": names, "faces": moved})
    return target


def rename(*, actor: Any, person: Person, name: str, request: Any = None) -> Person:
    old = person.display_name
    person.name = name.strip()[:200]
    person.save(update_fields=["name", "updated_at"])
    audit.record("person.rename", actor=actor, target=person, case_id=person.case_id, request=request,
                 details={"from": old, "to": person.display_name})
    return person


# --------------------------------------------------------------------------- video face tracks


def build_video_tracks(media: MediaItem, plugin: str, model_version: str) -> list[FaceTrack]:
    """Replace the face tracks of one video for one plugin version (tracking.build_tracks)."""
    if media.kind != MediaKind.VIDEO:
        return []
    by_time: dict[float, list[Finding]] = defaultdict(list)
    for f in Finding.objects.filter(media=media, plugin=plugin, model_version=model_version, vector__isnull=False,
                                    start_s__isnull=False).only("id", "vector", "box", "start_s", "data", "score"):
        by_time[float(f.start_s)].append(f)
    frames = [
        tracking.Frame(time_s=t, faces=[
            tracking.FrameFace(box=tuple(f.box or (0, 0, 0, 0)), vector=_unit(f.vector), quality_score=quality_of(f),
                               det_score=float(f.score or 0.0), ref=f.pk) for f in faces])
        for t, faces in sorted(by_time.items())
    ]
    tracks = tracking.build_tracks(frames) if frames else []
    rows = []
    for index, tr in enumerate(tracks):
        ids = [frames[fi].faces[b].ref for fi, b in tr.members]
        best = frames[tr.best[0]].faces[tr.best[1]]
        rows.append(FaceTrack(media=media, case_id=media.case_id, plugin=plugin, model_version=model_version,
                              index=index, start_s=tr.start_s, end_s=tr.end_s, best_id=best.ref,
                              best_quality=round(float(tr.best_quality), 4), face_count=len(ids), finding_ids=ids))
    with transaction.atomic():
        FaceTrack.objects.filter(media=media, plugin=plugin, model_version=model_version).delete()
        FaceTrack.objects.bulk_create(rows)
    return rows


def on_faces_stored(media: MediaItem, plugin: str, model_version: str) -> None:
    """After-store hook: tracks for videos, then incremental person assignment."""
    build_video_tracks(media, plugin, model_version)
    if plugin == FACE_PLUGIN:
        assign_new_faces(media, model_version)


def tracks_for(media: MediaItem) -> list[FaceTrack]:
    """Tracks of the active face space's version (else the newest version that has tracks)."""
    qs = FaceTrack.objects.filter(media=media).select_related("best")
    space = face_space()
    if space is not None and qs.filter(plugin=FACE_PLUGIN, model_version=space.model_version).exists():
        return list(qs.filter(plugin=FACE_PLUGIN, model_version=space.model_version))
    latest = qs.order_by("-created_at").first()
    return list(qs.filter(plugin=latest.plugin, model_version=latest.model_version)) if latest else []


def person_of(finding_ids: Iterable[int]) -> dict[int, Person]:
    return {a.finding_id: a.person for a in FaceAssignment.objects.filter(finding_id__in=list(finding_ids))
            .select_related("person")}


def panel_items(media: MediaItem, limit: int = 200) -> list[dict[str, Any]]:
    """Rows of the media page's face panel: image faces, or the best face of each video face track."""
    if media.kind == MediaKind.VIDEO:
        tracks = tracks_for(media)[:limit]
        persons = person_of(t.best_id for t in tracks if t.best_id)
        return [{"finding": t.best, "person": persons.get(t.best_id), "quality": quality_of(t.best),
                 "enrol_ok": enrol_ok(t.best), "start_s": t.start_s, "end_s": t.end_s, "frames": t.face_count}
                for t in tracks if t.best is not None]
    rows = list(Finding.objects.filter(media=media, plugin=FACE_PLUGIN, vector__isnull=False)
                .order_by("-score", "id")[:limit])
    persons = person_of(f.pk for f in rows)
    items = [{"finding": f, "person": persons.get(f.pk), "quality": quality_of(f), "enrol_ok": enrol_ok(f),
              "w": f.box[2] - f.box[0] if f.box else 0, "h": f.box[3] - f.box[1] if f.box else 0} for f in rows]
    return sorted(items, key=lambda i: -i["quality"])


# --------------------------------------------------------------------------- crops


def crop_path(finding: Finding) -> Path:
    """A JPEG of the face (box plus a margin), cut from the stored original or the video frame; cached."""
    dest = storage.derived_dir(finding.media_id) / "faces" / f"{finding.pk}.jpg"
    if dest.exists():
        return dest
    media = finding.media
    source = storage.object_path(media.sha256)
    if media.kind == MediaKind.VIDEO:
        rgb = _video_frame(source, float(finding.start_s or 0.0))
    else:
        rgb = media_io.read_image(source)
    if rgb is None or not finding.box:
        raise FileNotFoundError("no frame for this face")
    from PIL import Image

    x1, y1, x2, y2 = (float(v) for v in finding.box[:4])
    mx, my = 0.25 * (x2 - x1), 0.25 * (y2 - y1)
    h, w = rgb.shape[:2]
    box = (max(0, int(x1 - mx)), max(0, int(y1 - my)), min(w, round(x2 + mx)), min(h, round(y2 + my)))
    if box[2] <= box[0] or box[3] <= box[1]:
        raise FileNotFoundError("face box outside the image")
    img = Image.fromarray(rgb).crop(box)
    img.thumbnail((CROP_SIDE, CROP_SIDE))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".{timezone.now().timestamp():.0f}.part")
    img.save(tmp, format="JPEG", quality=88)
    tmp.replace(dest)
    return dest


def _video_frame(path: Path, at_s: float) -> np.ndarray | None:
    """The sampled frame at ``at_s`` with the pipeline's scaling, so stored boxes fit it."""
    best = None
    for frame in media_io.iter_video_frames(path, every_s=max(at_s, 0.001)):
        best = frame
        if frame.time_s + 1e-3 >= at_s:
            break
    return None if best is None else best.rgb


# --------------------------------------------------------------------------- probe search


@dataclass
class ProbeHit:
    finding: Finding
    media: MediaItem
    similarity: float
    score: float  # calibrated 0..1 (0.5 = threshold)
    quality: float
    above: bool
    person: Person | None
    time_s: float | None

    @property
    def href(self) -> str:
        base = f"/media/{self.media.pk}/"
        return f"{base}?t={self.time_s:g}" if self.time_s is not None else base


@dataclass
class ProbeResult:
    faces: int  # faces found in the probe
    used_face: dict[str, Any] | None
    threshold: float
    hits: list[ProbeHit] = field(default_factory=list)
    answer: str = "unknown"  # a person's name, "match" (a face without a person) or "unknown"
    error: str = ""

    @property
    def best(self) -> ProbeHit | None:
        return self.hits[0] if self.hits else None


def probe_faces(path: Path) -> list[Any]:
    """Run the face plugin (active model version) on one probe image in this process, on CPU."""
    from retrieval.plugin_api import Item
    from retrieval.plugin_api import MediaKind as ItemKind
    from retrieval.services import probes

    findings = probes.run_plugin(FACE_PLUGIN, Item(media_id=0, kind=ItemKind.IMAGE, path=path))
    return sorted(findings, key=lambda f: -float(f.data.get("quality_score", 0.0)))


def probe_search(user: Any, path: Path, *, request: Any = None, k: int = PROBE_RESULTS,
                 filters: ProbeFilters = NO_FILTERS) -> ProbeResult:
    """Best face of the probe photo → ranked faces in all visible cases, calibrated; "unknown" below threshold.

    ``filters`` (``probes.ProbeFilters``): cases, upload dates, media kind and a minimum calibrated score.

    Ranking: similarity lowered a little for poor-quality faces (``0.9 + 0.1 * quality``), one
    result per evidence item (its best face, with the frame time for videos).
    """
    tau = match_threshold()
    space = face_space()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if space is None:
        return ProbeResult(0, None, tau, error="no face has been indexed yet")
    try:
        faces = probe_faces(path)
    except ValueError as exc:
        return ProbeResult(0, None, tau, error=str(exc))
    if not faces:
        audit.record("face.probe_search", actor=user, request=request, details={"probe_sha256": digest, "faces": 0})
        return ProbeResult(0, None, tau, error="no face found in the probe photo")
    face = faces[0]
    used = {"box": list(face.region.box) if face.region else None, "quality": face.data.get("quality_score"),
            "enrol_ok": face.data.get("enrol_ok")}
    found = search.search_similar(user, space, face.vector, k=max(k * 4, 50), filters=filters.search_filters())
    findings = Finding.objects.defer("vector").in_bulk([h.finding_id for h in found.hits])
    media = MediaItem.objects.in_bulk({h.media_id for h in found.hits})
    persons = person_of(findings)
    best_per_media: dict[int, ProbeHit] = {}
    for h in found.hits:
        f = findings.get(h.finding_id)
        if f is None:
            continue
        score = calibrate(h.similarity, tau)
        if score < filters.min_score:
            continue
        q = quality_of(f)
        hit = ProbeHit(f, media[h.media_id], round(h.similarity, 4), score, q,
                       h.similarity >= tau, persons.get(f.pk), f.start_s if f.media_kind == MediaKind.VIDEO else None)
        rank = h.similarity * (0.9 + 0.1 * q)
        prev = best_per_media.get(h.media_id)
        if prev is None or rank > prev.similarity * (0.9 + 0.1 * prev.quality):
            best_per_media[h.media_id] = hit
    hits = sorted(best_per_media.values(), key=lambda x: -x.similarity * (0.9 + 0.1 * x.quality))[:k]
    answer = "unknown"
    if hits and hits[0].above:
        answer = hits[0].person.display_name if hits[0].person else "match"
    audit.record("face.probe_search", actor=user, request=request,
                 details={"probe_sha256": digest, "faces": len(faces), "hits": len(hits),
                          "filters": filters.raw,
                          "best_similarity": hits[0].similarity if hits else None, "answer": answer})
    return ProbeResult(len(faces), used, tau, hits, answer)


# --------------------------------------------------------------------------- watchlist matcher


def _enrolment(watchlist: Any, model_version: str) -> tuple[np.ndarray, list[Any]]:
    """Gallery vectors and their entries: the best enrol-ok face of each enrolment photo, and the
    enrol-ok faces of a person named in ``entry.data["person_id"]`` (same case as the watchlist)."""
    vectors, owners = [], []
    for entry in watchlist.entries.all():
        best: dict[int, Finding] = {}
        for f in Finding.objects.filter(media__in=entry.media.all(), plugin=FACE_PLUGIN, model_version=model_version,
                                        vector__isnull=False):
            if enrol_ok(f) and (f.media_id not in best or quality_of(f) > quality_of(best[f.media_id])):
                best[f.media_id] = f
        chosen = list(best.values())
        person_id = (entry.data or {}).get("person_id")
        if person_id:
            chosen += [f for f in Finding.objects.filter(
                face_assignment__person_id=int(person_id), face_assignment__person__case_id=watchlist.case_id,
                model_version=model_version, vector__isnull=False) if enrol_ok(f)]
        for f in chosen:
            vectors.append(_unit(f.vector))
            owners.append(entry)
    return (np.stack(vectors) if vectors else np.zeros((0, 1), np.float32)), owners


def watchlist_matches(watchlist: Any, media: MediaItem, findings: Sequence[Finding]) -> Iterable[Match]:
    """Person watchlist: each new face (each face track in a video) against the enrolment faces."""
    faces = [f for f in findings if f.vector is not None and f.plugin == FACE_PLUGIN]
    if not faces:
        return
    version = faces[0].model_version
    gallery, owners = _enrolment(watchlist, version)
    if not owners:
        return
    tau = match_threshold()
    by_id = {f.pk: f for f in faces}
    groups: list[tuple[str, list[Finding], FaceTrack | None]] = []
    if media.kind == MediaKind.VIDEO:
        for track in FaceTrack.objects.filter(media=media, plugin=FACE_PLUGIN, model_version=version):
            members = [by_id[i] for i in track.finding_ids if i in by_id]
            if members:
                groups.append((f"t{round(track.start_s, 1)}", members, track))
    else:
        for f in faces:
            x1, y1, x2, y2 = (float(v) for v in (f.box or (0, 0, 0, 0))[:4])
            groups.append((f"i{round((x1 + x2) / 40)}:{round((y1 + y2) / 40)}", [f], None))
    for key, members, track in groups:
        scored = [(gallery @ _unit(f.vector), f) for f in members]
        sims, face = max(scored, key=lambda sf: float(sf[0].max()))
        row = int(sims.argmax())
        similarity, entry = float(sims[row]), owners[row]
        when = f" at {_clock(face.start_s)}" if face.start_s is not None else ""
        yield Match(
            entry=entry, score=calibrate(similarity, tau), finding=face,
            summary=f"{entry.label} seen{when} (similarity {similarity:.2f})",
            dedup_key=f"face:{entry.pk}:{key}",
            start_s=face.start_s, end_s=track.end_s if track else face.end_s, box=list(face.box or []) or None,
            details={"similarity": round(similarity, 4), "threshold": tau, "quality": quality_of(face),
                     "crop": f"/faces/crop/{face.pk}.jpg", "track": track.index if track else None,
                     "track_start_s": track.start_s if track else None},
        )

