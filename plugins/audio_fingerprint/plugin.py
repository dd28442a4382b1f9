"""``AudioFingerprintPlugin``: the mmsec contract around the landmark fingerprinter.

``process`` computes the evidence's landmark hashes (query density) and returns
one ``Finding`` labelled ``"fingerprint"`` per item: ``score`` = number of hashes,
``data`` = counts and duration. The hash arrays are too big for JSON, so they
are left in ``self.fingerprints[media_id]`` (a ``landmarks.Fingerprint``) for the
worker to hand to ``match`` with the PostgreSQL ``HashIndex`` right after the
call; the dict is replaced at every ``process`` call, so memory stays bounded
by one batch. If an in-memory index was attached (``attach_index``), ``process``
also returns one ``Finding`` per occurrence (label ``"reference:<track_id>"``,
region = evidence span, ``score`` = confidence), without any database access.

``fingerprint(path, reference=True)`` is what reference ingestion calls.
``scan(path, index)`` matches a file window by window while it is decoded, for
evidence too long to keep its hashes (memory O(window), not O(duration)).

Torch is imported only inside methods, so the web process can import this
module and read the class attributes without it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from plugins.audio_fingerprint import landmarks
from plugins.audio_fingerprint.calibration import Calibration, load_default
from plugins.audio_fingerprint.index import HashIndex
from plugins.audio_fingerprint.landmarks import QUERY, REFERENCE, Fingerprint
from plugins.audio_fingerprint.matcher import MatchParams, Occurrence, OccurrenceMerger, find_occurrences, match_window
from retrieval.plugin_api import (
    API_VERSION,
    AudioReadReport,
    DecodeError,
    EmbeddingSpec,
    Finding,
    Item,
    ItemResult,
    MediaKind,
    ModelArtifact,
    Region,
    iter_audio,
)


class AudioFingerprintPlugin:
    """Finds known recordings inside evidence audio (landmark fingerprints + offset voting)."""

    name: ClassVar[str] = "audio_fingerprint"
    version: ClassVar[str] = "0.1.0"
    #: Identifies the hash definition (landmarks.LandmarkParams); a change needs references re-ingested.
    model_version: ClassVar[str] = "landmark-8k-v1"
    api_version: ClassVar[int] = API_VERSION
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.AUDIO})
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]] = ()
    artifacts: ClassVar[tuple[ModelArtifact, ...]] = ()
    max_batch_size: ClassVar[int] = 8
    default_settings: ClassVar[Mapping[str, Any]] = {
        "block_s": 60.0,  # decode/fingerprint block (memory bound)
        "window_s": 10.0,  # matching window over long evidence
        "hop_s": 5.0,
    }

    def __init__(self, settings: Mapping[str, Any], model_dir: Path | None = None) -> None:
        self.settings = {**self.default_settings, **dict(settings or {})}
        self.model_dir = model_dir
        self.device = "cpu"
        self.loaded = False
        self.calibration: Calibration | None = None
        self.index: HashIndex | None = None
        #: media_id -> evidence fingerprint of the last ``process`` call.
        self.fingerprints: dict[int, Fingerprint] = {}

    @property
    def match_params(self) -> MatchParams:
        return MatchParams(window_s=float(self.settings["window_s"]), hop_s=float(self.settings["hop_s"]))

    def load(self, device: str) -> None:
        """No weights: read the calibration and remember the device. Idempotent."""
        if self.loaded and device == self.device:
            return
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError("CUDA requested but not available")
        self.device = device
        self.calibration = load_default()
        self.loaded = True

    def attach_index(self, index: HashIndex | None) -> None:
        """Give ``process`` an index to match against (in-memory; the platform matches Postgres itself)."""
        self.index = index

    # ------------------------------------------------------------------ fingerprints

    def iter_blocks(
        self, path: Path, reference: bool = False, report: AudioReadReport | None = None
    ) -> Iterator[Fingerprint]:
        """Stream a file's fingerprint in blocks (bounded memory). Raises ``DecodeError``."""
        params = REFERENCE if reference else QUERY
        chunks = iter_audio(Path(path), sample_rate=params.sample_rate, chunk_s=30.0, report=report)
        yield from landmarks.stream(chunks, params, self.device, block_s=float(self.settings["block_s"]))

    def fingerprint(self, path: Path, reference: bool = False) -> tuple[NDArray[np.uint32], NDArray[np.int32]]:
        """(hashes, anchor frames) of a whole file; frame = ``REFERENCE.frame_s`` seconds."""
        fp = self.fingerprint_full(path, reference)
        return fp.hashes, fp.frames

    def fingerprint_full(
        self, path: Path, reference: bool = False, report: AudioReadReport | None = None
    ) -> Fingerprint:
        params = REFERENCE if reference else QUERY
        return landmarks.concat(self.iter_blocks(path, reference, report), params)

    def match(self, fp: Fingerprint, index: HashIndex) -> list[Occurrence]:
        """Every occurrence of an indexed reference in an evidence fingerprint."""
        self.load(self.device)
        assert self.calibration is not None
        return find_occurrences(fp.hashes, fp.frames, fp.params.frame_s, index, self.calibration,
                                self.match_params)

    def scan(self, path: Path, index: HashIndex) -> list[Occurrence]:
        """Match while decoding: memory holds one block plus one window of hashes, whatever the duration."""
        self.load(self.device)
        assert self.calibration is not None
        mp = self.match_params
        frame_s = QUERY.frame_s
        win = int(round(mp.window_s / frame_s))
        hop = max(1, int(round(mp.hop_s / frame_s)))
        merger = OccurrenceMerger(frame_s, mp, self.calibration)
        buf_h = np.zeros(0, np.uint32)
        buf_f = np.zeros(0, np.int32)
        next_w = 0
        end_frame = 0
        for block in self.iter_blocks(path):
            buf_h = np.concatenate((buf_h, block.hashes))
            buf_f = np.concatenate((buf_f, block.frames))
            end_frame = int(block.duration_s / frame_s)  # frames before this are final
            while next_w + win <= end_frame:
                self._scan_window(buf_h, buf_f, next_w, win, index, merger)
                next_w += hop
                keep = buf_f >= next_w
                buf_h, buf_f = buf_h[keep], buf_f[keep]
        while buf_f.size and int(buf_f.max()) >= next_w:  # the last, partial windows
            self._scan_window(buf_h, buf_f, next_w, win, index, merger)
            next_w += hop
        return merger.finish()

    def _scan_window(self, h: NDArray[np.uint32], f: NDArray[np.int32], w0: int, win: int, index: HashIndex,
                     merger: OccurrenceMerger) -> None:
        sel = (f >= w0) & (f < w0 + win)
        if sel.any():
            frame0 = w0 if w0 > 0 else int(f[sel].min())
            merger.add(w0, match_window(h[sel], f[sel], index, self.match_params, self.calibration, frame0=frame0))

    # ------------------------------------------------------------------ contract

    def process(self, batch: Sequence[Item]) -> list[ItemResult]:
        """One ``ItemResult`` per item; a bad file gets ``error`` and the batch goes on."""
        self.load(self.device)
        self.fingerprints = {}
        results = []
        for item in batch:
            report = AudioReadReport()
            try:
                fp = self.fingerprint_full(item.path, report=report)
            except DecodeError as exc:
                results.append(ItemResult(item.media_id, error=str(exc), time_s=item.time_s))
                continue
            except MemoryError:
                results.append(ItemResult(item.media_id, error="out of memory while fingerprinting",
                                          time_s=item.time_s))
                continue
            self.fingerprints[item.media_id] = fp
            status = "ok" if len(fp) else "no landmarks (silence, too short or too quiet)"
            findings = [Finding(label="fingerprint", score=float(len(fp)),
                                data={"n_hashes": len(fp), "duration_s": round(fp.duration_s, 3),
                                      "frame_s": fp.params.frame_s, "status": status,
                                      "model_version": self.model_version})]
            if self.index is not None and len(fp):
                for occ in self.match(fp, self.index):
                    findings.append(_occurrence_finding(occ))
            results.append(ItemResult(item.media_id, findings=findings, time_s=item.time_s,
                                      warnings=report.warnings()))
        return results


def _occurrence_finding(occ: Occurrence) -> Finding:
    return Finding(
        region=Region(start_s=round(occ.evidence_start_s, 3), end_s=round(occ.evidence_end_s, 3)),
        label=f"reference:{occ.track_id}",
        score=occ.confidence,
        data={"track_id": occ.track_id, "reference_start_s": round(occ.reference_start_s, 3),
              "reference_end_s": round(occ.reference_end_s, 3), "match_score": round(occ.score, 2),
              "matched_hashes": occ.count, "windows": occ.windows},
    )
