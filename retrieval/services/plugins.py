"""Plugin management and running plugins over media.

- ``sync_plugins`` mirrors the registry into ``PluginConfiguration`` rows (new plugins start
  disabled; ``enable_defaults`` turns on ``MMSEC_DEFAULT_PLUGINS`` once, on a fresh database).
- ``fan_out`` schedules one ``plugin:<name>@<version>`` job per enabled plugin that fits the media kind.
- ``run_plugin_job`` builds work items (images, sampled video frames, audio tracks), batches them,
  calls the loaded plugin in this worker process and stores its findings idempotently.
- ``register_model_version`` / ``start_reprocess`` / ``drop_model_version``: model switching. Search keeps
  using the active spaces until a reprocess run completes, then switches atomically.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from retrieval import inference, media_io, storage
from retrieval.models import (
    AuditEvent,
    EmbeddingSpace,
    JobState,
    MediaItem,
    MediaKind,
    ModelVersion,
    PluginConfiguration,
    ProcessingJob,
    ReprocessRun,
    SpaceState,
    WorkerStatus,
)
from retrieval.plugin_api import Item, ItemResult, PluginError
from retrieval.plugin_api import MediaKind as PluginKind
from retrieval.plugin_registry import get_registry
from retrieval.services import audit, embeddings, hooks, jobs, watchlists

log = logging.getLogger(__name__)

#: Accepted weight formats: data only, nothing that executes code on load.
SAFE_WEIGHT_SUFFIXES = (".onnx", ".safetensors", ".npz", ".npy", ".json", ".txt", ".bin", ".model", ".csv",
                        ".tflite", ".vocab", ".spm")
MAX_WEIGHTS_BYTES = 8 * 1024**3
#: Minimum seconds between two progress writes of one job (plugins may report much more often).
PROGRESS_INTERVAL_S = 2.0


@dataclass(frozen=True)
class WeightsAdapter:
    """How a plugin takes administrator-supplied weights that replace ONE component of its bundle.

    Example: speech_translation runs Whisper + Silero VAD + MiniLM; a registered larger Whisper
    (a CTranslate2 directory) replaces only Whisper. ``check`` validates the directory (raises
    ``ValueError``/``FileNotFoundError``), ``setting`` is the plugin setting that receives its path at
    load time, and bundled artifacts under ``replaces`` are not needed by that version.
    """

    setting: str
    check: Callable[[Path], None]
    replaces: str


_WEIGHTS_ADAPTERS: dict[str, WeightsAdapter] = {}


def register_weights_adapter(plugin: str, adapter: WeightsAdapter) -> None:
    """Called by a feature module (``retrieval/features/<topic>.py``) for its plugin."""
    _WEIGHTS_ADAPTERS[plugin] = adapter


# --------------------------------------------------------------------------- configuration


def sync_plugins() -> list[PluginConfiguration]:
    """Create/refresh a configuration row per discovered plugin; flag rows whose plugin is gone or broken."""
    registry = get_registry()
    now = timezone.now()
    rows = []
    for name, cls in registry.plugins.items():
        config, _ = PluginConfiguration.objects.get_or_create(
            name=name,
            defaults={"batch_size": min(8, cls.max_batch_size), "queue": f"cpu.{name}",
                      "active_model_version": cls.model_version},
        )
        config.installed = True
        config.installed_version = cls.version
        config.code_model_version = cls.model_version
        config.api_version = cls.api_version
        config.media_kinds = sorted(str(k) for k in cls.media_kinds)
        config.description = (cls.__doc__ or "").strip().split("\n\n")[0][:2000]
        config.load_error = ""
        config.last_seen_at = now
        if not config.active_model_version:
            config.active_model_version = cls.model_version
        config.batch_size = max(1, min(config.batch_size, cls.max_batch_size))
        config.save()
        ModelVersion.objects.get_or_create(
            plugin=name, version=cls.model_version,
            defaults={"artifacts": [_artifact_dict(a) for a in cls.artifacts], "note": "bundled with the plugin"},
        )
        rows.append(config)
    for name, reason in registry.broken.items():
        config, _ = PluginConfiguration.objects.get_or_create(name=name)
        config.installed = False
        config.load_error = reason
        config.save(update_fields=["installed", "load_error"])
    PluginConfiguration.objects.exclude(name__in=list(registry.plugins) + list(registry.broken)).update(
        installed=False, load_error="not installed (no entry point in the mmsec.plugins group)"
    )
    return rows


def enable_defaults() -> list[str]:
    """First start of a fresh database: enable ``MMSEC_DEFAULT_PLUGINS`` that are installed; returns their names.

    Does nothing once any plugin configuration has been changed (a ``plugin.configure`` audit event exists,
    including the ones this function writes), so a restart never re-enables what an administrator turned off.
    """
    if AuditEvent.objects.filter(action="plugin.configure").exists():
        return []
    enabled = []
    for name in django_settings.MMSEC_DEFAULT_PLUGINS:
        config = PluginConfiguration.objects.filter(name=name, installed=True).first()
        if config is not None and not config.enabled:
            update_configuration(actor=None, config=config, enabled=True)
            enabled.append(name)
    return enabled


def _artifact_dict(artifact: Any) -> dict[str, str]:
    return {"name": artifact.name, "path": artifact.path, "sha256": artifact.sha256}


def effective_settings(config: PluginConfiguration, cls: type) -> dict[str, Any]:
    """Class defaults < deploy-time ``MMSEC_PLUGINS_CONFIG`` < administrator settings (validated keys only)."""
    merged = dict(cls.default_settings)
    merged.update(django_settings.MMSEC_PLUGINS_CONFIG.get(config.name, {}))
    merged.update({k: v for k, v in (config.settings or {}).items() if k in cls.default_settings})
    return merged


def validate_settings(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Reject unknown keys and values whose JSON type differs from the default's."""
    if not isinstance(values, Mapping):
        raise ValidationError("settings must be a JSON object")
    errors = {}
    for key, value in values.items():
        if key not in cls.default_settings:
            errors[key] = f"unknown setting (known: {', '.join(sorted(cls.default_settings)) or 'none'})"
            continue
        default = cls.default_settings[key]
        if isinstance(default, bool) != isinstance(value, bool) or (
            isinstance(default, (int, float)) and not isinstance(value, (int, float))
        ) or (isinstance(default, str) and not isinstance(value, str)) or (
            isinstance(default, (list, dict)) and not isinstance(value, type(default))
        ):
            errors[key] = f"expected a value like {default!r}"
    check = getattr(cls, "check_settings", None)  # optional plugin hook for value-level rules
    if callable(check) and not errors:
        errors.update(check(values) or {})
    if errors:
        raise ValidationError(errors)
    return dict(values)


@transaction.atomic
def update_configuration(*, actor: Any, config: PluginConfiguration, request: Any = None,
                         **fields: Any) -> PluginConfiguration:
    """Change enabled/settings/queue/batch size/device; validated and audited."""
    cls = get_registry().get(config.name)
    changes: dict[str, Any] = {}
    if "settings" in fields and fields["settings"] is not None:
        if cls is None:
            raise ValidationError("plugin is not installed")
        config.settings = validate_settings(cls, fields["settings"])
        changes["settings"] = config.settings
    if "batch_size" in fields and fields["batch_size"] is not None:
        size = int(fields["batch_size"])
        limit = cls.max_batch_size if cls else 1
        if not 1 <= size <= limit:
            raise ValidationError({"batch_size": f"must be between 1 and {limit}"})
        config.batch_size = size
        changes["batch_size"] = size
    for name in ("queue", "device"):
        if name in fields and fields[name] is not None:
            setattr(config, name, fields[name])
            changes[name] = fields[name]
    if "enabled" in fields and fields["enabled"] is not None:
        if fields["enabled"] and (cls is None or not config.installed):
            raise ValidationError("a plugin that is not installed or failed to load cannot be enabled")
        config.enabled = bool(fields["enabled"])
        changes["enabled"] = config.enabled
        if config.enabled and cls is not None:
            _ensure_spaces(cls, config.active_model_version or cls.model_version)
    config.full_clean()
    config.save()
    audit.record("plugin.configure", actor=actor, target=config, details=changes, request=request)
    return config


def _ensure_spaces(cls: type, model_version: str, *, activate_if_first: bool = True) -> dict[str, EmbeddingSpace]:
    return {
        spec.name: embeddings.get_or_create_space(cls.name, spec.name, model_version, spec.dim, str(spec.distance),
                                                  activate_if_first=activate_if_first, hnsw_m=spec.hnsw_m,
                                                  hnsw_ef_construction=spec.hnsw_ef_construction,
                                                  ef_search_min=spec.ef_search_min)
        for spec in cls.embeddings
    }


# --------------------------------------------------------------------------- scheduling


def step_name(plugin: str, model_version: str) -> str:
    return f"plugin:{plugin}@{model_version}"


def parse_step(step: str) -> tuple[str, str]:
    body = step.removeprefix("plugin:")
    name, _, version = body.partition("@")
    return name, version


def accepts(config: PluginConfiguration, media_kind: str) -> bool:
    kinds = set(config.media_kinds or [])
    if media_kind == MediaKind.VIDEO:
        return bool(kinds & {"image", "audio"})
    return media_kind in kinds


def fan_out(media: MediaItem) -> list[ProcessingJob]:
    """Schedule every enabled plugin that can use this media item."""
    if media.kind not in (MediaKind.IMAGE, MediaKind.AUDIO, MediaKind.VIDEO):
        return []
    scheduled = []
    registry = get_registry()
    for config in PluginConfiguration.objects.filter(enabled=True, installed=True):
        cls = registry.get(config.name)
        if cls is None or not accepts(config, media.kind):
            continue
        version = config.active_model_version or cls.model_version
        scheduled.append(jobs.schedule(media, step_name(config.name, version), queue=config.effective_queue))
    return scheduled


# --------------------------------------------------------------------------- running


def run_plugin_job(job: ProcessingJob) -> None:
    """Run one plugin step; image jobs waiting for the same step are pulled into the same batch."""
    name, version = parse_step(job.step)
    config = PluginConfiguration.objects.filter(name=name).first()
    cls = get_registry().get(name)
    if config is None or not config.enabled:
        jobs.complete(job, JobState.SKIPPED)
        return
    if cls is None:
        jobs.fail(job, f"plugin {name!r} is not installed in this worker")
        return
    model = ModelVersion.objects.filter(plugin=name, version=version).first()
    if model is None:
        jobs.fail(job, f"unknown model version {version!r} of plugin {name!r}")
        return
    model_dir = Path(model.weights_path) if model.weights_path else Path(django_settings.MMSEC_MODEL_DIR) / name
    plugin_settings = effective_settings(config, cls)
    adapter = _WEIGHTS_ADAPTERS.get(name)
    if adapter is not None and model.weights_path:
        # The registered directory replaces one component; the rest of the bundle stays where it is installed.
        model_dir = Path(django_settings.MMSEC_MODEL_DIR) / name
        plugin_settings[adapter.setting] = model.weights_path
    try:
        loaded = inference.get_loaded(cls, version, plugin_settings, model_dir, config.device, model.artifacts)
    except inference.ArtifactMismatch as exc:
        jobs.fail(job, str(exc))
        PluginConfiguration.objects.filter(pk=config.pk).update(load_error=str(exc)[:2000])
        return
    batch_jobs = [job]
    if job.media.kind == MediaKind.IMAGE:
        batch_jobs += _claim_siblings(job, config.batch_size - 1)
    spaces = {space.name: space for space in EmbeddingSpace.objects.filter(plugin=name, model_version=version)}
    missing = {spec.name for spec in cls.embeddings} - set(spaces)
    if missing:
        spaces.update(_ensure_spaces(cls, version))
    runner = _BatchRunner(loaded, config.batch_size, name, version, spaces)
    for member in batch_jobs:
        runner.add_job(member)
    runner.finish()


def _claim_siblings(job: ProcessingJob, limit: int) -> list[ProcessingJob]:
    """Take up to ``limit`` other queued image jobs of the same step (their own messages become no-ops)."""
    if limit <= 0:
        return []
    with transaction.atomic():
        siblings = list(
            ProcessingJob.objects.select_for_update(skip_locked=True).select_related("media")
            .filter(step=job.step, state=JobState.QUEUED, media__kind=MediaKind.IMAGE).exclude(pk=job.pk)[:limit]
        )
        now = timezone.now()
        for sibling in siblings:
            sibling.state = JobState.RUNNING
            sibling.attempts += 1
            sibling.started_at = now
            sibling.save(update_fields=["state", "attempts", "started_at", "updated_at"])
    return siblings


#: plugin name -> functions run in the worker right after ``process``: ``(plugin, items, results) -> results``.
#: They may add findings from what the plugin left on its instance (e.g. audio fingerprints matched against
#: the reference store, which the plugin itself must not query).
PostProcessFn = Callable[[Any, list[Item], list[ItemResult]], list[ItemResult]]
_POST_PROCESS: dict[str, list[PostProcessFn]] = {}


def register_post_process(plugin: str) -> Callable[[PostProcessFn], PostProcessFn]:
    def decorator(fn: PostProcessFn) -> PostProcessFn:
        hooks = _POST_PROCESS.setdefault(plugin, [])
        if fn not in hooks:
            hooks.append(fn)
        return fn

    return decorator


class _BatchRunner:
    """Collects work items from several jobs into plugin batches and records results per job."""

    def __init__(self, loaded: inference.Loaded, batch_size: int, plugin: str, version: str,
                 spaces: dict[str, EmbeddingSpace]) -> None:
        self.loaded = loaded
        self.batch_size = max(1, batch_size)
        self.plugin = plugin
        self.version = version
        self.spaces = spaces
        self.pending: list[tuple[ProcessingJob, Item]] = []
        self.results: dict[int, list[tuple[Item, ItemResult]]] = {}
        self.jobs: dict[int, ProcessingJob] = {}
        self.errors: dict[int, str] = {}
        self.notes: dict[int, list[str]] = {}  # job -> what the platform itself could not prepare (warnings)
        self.expected: dict[int, int | None] = {}
        self.by_media: dict[int, ProcessingJob] = {}
        self.progress_sent: dict[int, float] = {}

    def add_job(self, job: ProcessingJob) -> None:
        self.jobs[job.pk] = job
        self.by_media[job.media_id] = job
        self.results[job.pk] = []
        work = _work_items(job.media, self.loaded.plugin.media_kinds)
        self.notes[job.pk] = work.notes
        try:
            with work as items:
                count = 0
                for item in items:
                    self.pending.append((job, item))
                    count += 1
                    if len(self.pending) >= self.batch_size:
                        self._flush()
                        jobs.set_progress(job.pk, min(0.95, count / max(1, _expected_items(job.media))))
                self._flush()  # temp frames of this job are deleted when the context exits
        except media_io.DecodeError as exc:
            self.errors[job.pk] = f"could not decode media: {exc}"
        except PluginError as exc:
            self.errors[job.pk] = str(exc)

    def _flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        started = time.monotonic()
        plugin = self.loaded.plugin
        reports = hasattr(plugin, "progress_callback")
        if reports:
            plugin.progress_callback = self._report_progress
        try:
            results = plugin.process([item for _, item in batch])
        finally:
            if reports:
                plugin.progress_callback = None
        elapsed = time.monotonic() - started
        if len(results) != len(batch):
            raise PluginError(f"plugin returned {len(results)} results for {len(batch)} items")
        for hook in _POST_PROCESS.get(self.plugin, ()):
            results = hook(self.loaded.plugin, [item for _, item in batch], list(results))
        for (job, item), result in zip(batch, results, strict=True):
            self.results[job.pk].append((item, result))
        self.loaded.items += len(batch)
        self.loaded.busy_s += elapsed
        _heartbeat(self.plugin, self.version, self.loaded, len(batch) / elapsed if elapsed > 0 else None)

    def _report_progress(self, media_id: int, seconds_done: float) -> None:
        """Plugins that stream long recordings report seconds processed; store it as job progress.

        Throttled to one write per ``PROGRESS_INTERVAL_S`` per job. Each write also refreshes
        ``updated_at``, so the reconciler does not take an hour-long transcription for a lost job.
        """
        job = self.by_media.get(media_id)
        if job is None:
            return
        now = time.monotonic()
        if now - self.progress_sent.get(job.pk, float("-inf")) < PROGRESS_INTERVAL_S:
            return
        self.progress_sent[job.pk] = now
        duration = job.media.duration_s
        fraction = seconds_done / duration if duration else 0.0
        jobs.set_progress(job.pk, min(0.95, max(0.01, fraction)))

    def finish(self) -> None:
        for job_id, job in self.jobs.items():
            if job_id in self.errors:
                jobs.fail(job, self.errors[job_id])
                continue
            pairs = self.results[job_id]
            item_errors = [r.error for _, r in pairs if r.error]
            if pairs and len(item_errors) == len(pairs):
                jobs.fail(job, item_errors[0] or "every item failed")
                continue
            rows = list(_to_new_findings(pairs, self.spaces))
            embeddings.store_findings(job.media, self.plugin, self.version, rows)
            _after_store(job)
            jobs.complete(job, warning=job_warning(pairs, self.notes.get(job_id, ())))


def job_warning(pairs: Sequence[tuple[Item, ItemResult]], notes: Sequence[str] = ()) -> str:
    """One line for the user about what of a media item was not analysed: the platform's own notes, the
    plugin's warnings (each once, in order) and items that failed while others worked (a video's frames)."""
    lines = list(dict.fromkeys([*notes, *(w for _, result in pairs for w in result.warnings)]))
    failed = [result.error for _, result in pairs if result.error]
    if failed:
        lines.append(f"{len(failed)} of {len(pairs)} items (video frames or audio track) could not be analysed, "
                     f"e.g. {failed[0]}")
    return "; ".join(lines)


def _expected_items(media: MediaItem) -> int:
    if media.kind == MediaKind.VIDEO and media.duration_s:
        return max(1, int(media.duration_s / django_settings.MMSEC_VIDEO_FRAME_INTERVAL_S))
    return 1


class _work_items:  # noqa: N801 - used as a context manager factory
    """Items for one media item; temp frame files are removed on exit."""

    def __init__(self, media: MediaItem, kinds: frozenset[PluginKind]) -> None:
        self.media = media
        self.kinds = kinds
        self.tmp: Path | None = None
        self.notes: list[str] = []  # warnings about what could not be prepared (e.g. a damaged audio track)

    def __enter__(self) -> Iterator[Item]:
        return self._items()

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _items(self) -> Iterator[Item]:
        media = self.media
        path = storage.object_path(media.sha256)
        if media.kind == MediaKind.IMAGE and PluginKind.IMAGE in self.kinds:
            yield Item(media_id=media.pk, kind=PluginKind.IMAGE, path=path, mime=media.mime,
                       dpi=user_dpi(media))
        elif media.kind == MediaKind.AUDIO and PluginKind.AUDIO in self.kinds:
            yield Item(media_id=media.pk, kind=PluginKind.AUDIO, path=path, mime=media.mime)
        elif media.kind == MediaKind.VIDEO:
            if PluginKind.AUDIO in self.kinds and media.metadata.get("audio_codec"):
                track, notes = _video_audio_track(media)
                self.notes.extend(notes)
                yield Item(media_id=media.pk, kind=PluginKind.AUDIO, path=track, mime="audio/wav")
            if PluginKind.IMAGE in self.kinds:
                self.tmp = Path(tempfile.mkdtemp(prefix=f"frames-{media.pk}-", dir=storage.tmp_dir()))
                every_s = django_settings.MMSEC_VIDEO_FRAME_INTERVAL_S
                report = media_io.VideoReadReport()
                frames = media_io.iter_video_frames(path, every_s=every_s, report=report)
                for index, frame in enumerate(frames):
                    frame_path = self.tmp / f"{index:06d}.png"
                    frame_path.write_bytes(media_io.encode_png(frame.rgb))
                    yield Item(media_id=media.pk, kind=PluginKind.IMAGE, path=frame_path, time_s=frame.time_s,
                               frame_index=index, mime="image/png")
                self.notes.extend(report.warnings(every_s))


def user_dpi(media: MediaItem) -> float | None:
    """The resolution an investigator gave for an image (``metadata["user_dpi"]``), passed on as ``Item.dpi``."""
    try:
        value = float((media.metadata or {}).get("user_dpi") or 0)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _video_audio_track(media: MediaItem) -> tuple[Path, list[str]]:
    """The video's audio as 16 kHz mono WAV, extracted once and kept with the derived files, and what the
    extraction could not decode (kept beside it, so every plugin's job that reads the track reports it)."""
    dest = storage.derived_dir(media.pk) / "audio16k.wav"
    notes_file = dest.with_suffix(".warnings.json")
    if not dest.exists():
        tmp = dest.with_suffix(".part")
        report = media_io.AudioReadReport()
        media_io.extract_audio_track(storage.object_path(media.sha256), tmp, report=report)
        notes_file.write_text(json.dumps([f"video audio track: {w}" for w in report.warnings()]))
        tmp.replace(dest)
    try:
        notes = json.loads(notes_file.read_text())
    except (OSError, ValueError):
        notes = []
    return dest, [str(n) for n in notes] if isinstance(notes, list) else []


def _to_new_findings(pairs: Sequence[tuple[Item, ItemResult]],
                     spaces: dict[str, EmbeddingSpace]) -> Iterator[embeddings.NewFinding]:
    for item, result in pairs:
        if result.error:
            continue
        offset = item.time_s or 0.0
        for index, finding in enumerate(result.findings):
            region = finding.region
            start = end = None
            box = None
            if region is not None:
                start = None if region.start_s is None else offset + region.start_s
                end = None if region.end_s is None else offset + region.end_s
                box = list(region.box) if region.box is not None else None
            if item.time_s is not None and start is None:
                start = end = item.time_s
            space = spaces.get(finding.space) if finding.space else None
            if finding.space and space is None:
                raise PluginError(f"finding refers to undeclared embedding space {finding.space!r}")
            yield embeddings.NewFinding(
                # kind is part of the key: a video's audio track and its first frame are both "item 0"
                key=f"{item.kind}:{item.frame_index if item.frame_index is not None else 0}:{index}",
                space=space,
                vector=finding.vector if space is not None else None,
                label=finding.label or "",
                score=None if finding.score is None else float(finding.score),
                text=finding.text or "",
                start_s=start,
                end_s=end,
                box=box,
                data=dict(finding.data or {}),
            )


def _after_store(job: ProcessingJob) -> None:
    """Hook for what follows new findings (watchlist matching); also completes reprocess runs."""
    name, version = parse_step(job.step)
    hooks.run_after_store(job.media, name, version)
    watchlists.evaluate_media(job.media, name, version)
    for run in ReprocessRun.objects.filter(plugin=name, model_version=version, state="running"):
        _maybe_finish_reprocess(run, exclude_job=job.pk)


def _heartbeat(plugin: str, version: str, loaded: inference.Loaded, rate: float | None) -> None:
    host, pid = inference.process_identity()
    WorkerStatus.objects.update_or_create(
        hostname=host, pid=pid, plugin=plugin,
        defaults={
            "model_version": version, "device": loaded.device, "rss_mb": inference.rss_mb(),
            "gpu_mem_mb": inference.gpu_mem_mb(loaded.device), "items_processed": loaded.items,
            "items_per_s": rate,
            "loaded_at": datetime.fromtimestamp(loaded.loaded_at, tz=UTC),
        },
    )


# --------------------------------------------------------------------------- model versions


def register_model_version(*, actor: Any, plugin: str, version: str, weights: Path, note: str = "",
                           request: Any = None) -> ModelVersion:
    """Record administrator-supplied weights (file or directory) as a new model version.

    Weights are data: only formats that cannot execute code on load are accepted,
    every file is hashed, and the plugin verifies those hashes when it loads.
    """
    cls = get_registry().get(plugin)
    if cls is None:
        raise ValidationError(f"plugin {plugin!r} is not installed")
    if not version or ModelVersion.objects.filter(plugin=plugin, version=version).exists():
        raise ValidationError({"version": "give a new, unique version label"})
    weights = Path(weights).resolve()
    if not weights.exists():
        raise ValidationError(f"{weights} does not exist")
    adapter = _WEIGHTS_ADAPTERS.get(plugin)
    if adapter is not None:
        if not weights.is_dir():
            raise ValidationError(f"{plugin} takes a model directory, not a single file")
        try:
            adapter.check(weights)
        except (ValueError, FileNotFoundError, OSError) as exc:
            raise ValidationError(str(exc)) from exc
    files = [weights] if weights.is_file() else sorted(p for p in weights.rglob("*") if p.is_file())
    if not files:
        raise ValidationError("no weight files found")
    total = 0
    artifacts = []
    for path in files:
        if path.suffix.lower() not in SAFE_WEIGHT_SUFFIXES:
            raise ValidationError(f"{path.name}: format {path.suffix or '(none)'} is not accepted; use ONNX, "
                                  "safetensors, npz or a CTranslate2 directory (no pickle-based files)")
        _refuse_pickle(path)
        total += path.stat().st_size
        if total > MAX_WEIGHTS_BYTES:
            raise ValidationError(f"weights are larger than {MAX_WEIGHTS_BYTES} bytes")
        if adapter is not None:  # absolute: verified where it is, next to the bundle's other components
            rel = str(path)
        else:
            rel = str(path.relative_to(weights) if weights.is_dir() else path)
        artifacts.append({"name": path.name, "path": rel, "sha256": inference.sha256_of(path),
                          "size": path.stat().st_size})
    if adapter is not None:
        artifacts += [_artifact_dict(a) for a in cls.artifacts if not a.path.startswith(adapter.replaces)]
    model = ModelVersion.objects.create(plugin=plugin, version=version, created_by=actor, note=note,
                                        weights_path=str(weights if weights.is_dir() else weights.parent),
                                        artifacts=artifacts)
    audit.record("plugin.model_version.register", actor=actor, target=model, request=request,
                 details={"plugin": plugin, "version": version, "files": len(artifacts), "bytes": total})
    return model


def _refuse_pickle(path: Path) -> None:
    """Python pickles start with protocol opcode 0x80; zip-based torch checkpoints hold data.pkl."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise ValidationError(f"{path.name} is a Python pickle, which can run code on load: refused")
    if head == b"PK\x03\x04":
        import zipfile

        try:
            with zipfile.ZipFile(path) as archive:
                if any(n.endswith(".pkl") for n in archive.namelist()):
                    raise ValidationError(f"{path.name} is a pickle-based checkpoint: refused")
        except zipfile.BadZipFile:
            pass


@transaction.atomic
def start_reprocess(*, actor: Any, plugin: str, version: str, case: Any = None, request: Any = None) -> ReprocessRun:
    """Run ``version`` over a case (or everything); its spaces stay inactive until every job finished."""
    cls = get_registry().get(plugin)
    config = PluginConfiguration.objects.filter(name=plugin).first()
    if cls is None or config is None:
        raise ValidationError(f"plugin {plugin!r} is not installed")
    if not ModelVersion.objects.filter(plugin=plugin, version=version).exists():
        raise ValidationError(f"unknown model version {version!r}")
    _ensure_spaces(cls, version, activate_if_first=False)
    media = MediaItem.objects.exclude(status="failed").filter(kind__in=[MediaKind.IMAGE, MediaKind.AUDIO,
                                                                        MediaKind.VIDEO])
    if case is not None:
        media = media.filter(case=case)
    media_list = [m for m in media if accepts(config, m.kind)]
    run = ReprocessRun.objects.create(plugin=plugin, model_version=version, case=case, total=len(media_list),
                                      created_by=actor)
    for item in media_list:
        jobs.schedule(item, step_name(plugin, version), queue=config.effective_queue, reset=True)
    audit.record("plugin.reprocess.start", actor=actor, target=run, case_id=getattr(case, "pk", None),
                 details={"plugin": plugin, "version": version, "media": len(media_list)}, request=request)
    if not media_list:
        transaction.on_commit(lambda: _maybe_finish_reprocess(run))
    return run


def reprocess_progress(run: ReprocessRun) -> dict[str, int]:
    qs = ProcessingJob.objects.filter(step=step_name(run.plugin, run.model_version))
    if run.case_id:
        qs = qs.filter(media__case_id=run.case_id)
    done = qs.filter(state__in=[JobState.DONE, JobState.FAILED, JobState.SKIPPED]).count()
    return {"total": run.total, "done": done}


def _maybe_finish_reprocess(run: ReprocessRun, exclude_job: int | None = None) -> None:
    qs = ProcessingJob.objects.filter(step=step_name(run.plugin, run.model_version),
                                      state__in=[JobState.QUEUED, JobState.RUNNING])
    if run.case_id:
        qs = qs.filter(media__case_id=run.case_id)
    if exclude_job is not None:
        qs = qs.exclude(pk=exclude_job)
    if qs.exists():
        return
    with transaction.atomic():
        locked = ReprocessRun.objects.select_for_update().get(pk=run.pk)
        if locked.state != "running":
            return
        if run.case_id is None:  # a whole-corpus run makes the new version the one search uses
            for space in EmbeddingSpace.objects.filter(plugin=run.plugin, model_version=run.model_version):
                embeddings.activate_space(space)
            PluginConfiguration.objects.filter(name=run.plugin).update(active_model_version=run.model_version)
        locked.state = "done"
        locked.finished_at = timezone.now()
        locked.save(update_fields=["state", "finished_at"])


@transaction.atomic
def drop_model_version(*, actor: Any, plugin: str, version: str, request: Any = None) -> None:
    """Delete a non-active version's spaces, vectors and findings."""
    config = PluginConfiguration.objects.filter(name=plugin).first()
    if config is not None and config.active_model_version == version:
        raise ValidationError("the active model version cannot be dropped")
    for space in EmbeddingSpace.objects.filter(plugin=plugin, model_version=version):
        if space.state == SpaceState.ACTIVE:
            raise ValidationError("this version's space is still active")
        embeddings.drop_space(space)
    from retrieval.models import Finding

    Finding.objects.filter(plugin=plugin, model_version=version).delete()
    ProcessingJob.objects.filter(step=step_name(plugin, version)).delete()
    audit.record("plugin.model_version.drop", actor=actor, details={"plugin": plugin, "version": version},
                 request=request)

