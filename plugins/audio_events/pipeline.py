"""Streaming YAMNet analysis of one recording: bounded memory whatever its length (worker-only, imports torch).

Samples arrive in chunks (``media_io.iter_audio``). Patches lie on one global grid (patch ``i`` covers
samples ``[7680 i, 7680 i + 15600)``); the buffer keeps the 7920 samples of context that the next patch
shares with the previous chunk, so a stream gives exactly the patches of the whole file at once.
Kept per patch: label scores (a few dozen floats), one embedding per 0.96 s segment (pooled further
past ``max_embeddings``) and a 10 ms energy envelope for onset refinement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from plugins.audio_events import model as M
from plugins.audio_events.head import LinearHead
from plugins.audio_events.labels import label_class_indices, load_class_names


class Yamnet:
    """Weights + front end on one device; ``run`` maps waveform -> (logits, embeddings, frame energy)."""

    def __init__(self, model_dir: Path, device: str = "cpu", quantized: bool = False) -> None:
        self.device = torch.device(device)
        net = M.load_from_onnx(model_dir / "model.onnx", quantized=quantized)
        self.net = net.to(self.device, memory_format=torch.channels_last)
        if self.device.type == "cpu" and not quantized:
            from retrieval.cpu_kernels import route_pointwise_to_onednn

            route_pointwise_to_onednn(self.net)  # batches under 16 patches: 2-3x faster, same outputs
        self.logmel = M.LogMel().to(self.device)
        self.class_names = load_class_names(model_dir / "yamnet_class_map.csv")
        self.max_batch = self.batch_for(self.device)

    @staticmethod
    def batch_for(device: torch.device) -> int:
        """Patches per forward pass on ``device`` (small on CPUs to stay in cache, large on GPUs)."""
        return M.CPU_PATCH_BATCH if device.type == "cpu" else M.GPU_PATCH_BATCH

    @torch.inference_mode()
    def run(
        self, wave: NDArray[np.float32], max_batch: int | None = None
    ) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """Whole patches of ``wave``: logits (N, 521), embeddings (N, 1024), per-frame log energy, patch level.

        ``patch level`` is each patch's mean log-mel, used to skip digital silence when storing vectors.
        """
        max_batch = max_batch or self.max_batch
        x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).to(self.device)
        logmel = self.logmel(x[None])[0]  # (F, 64)
        energy = torch.logsumexp(logmel, dim=-1)  # ~ log of summed mel magnitude
        patches = M.patches_from_logmel(logmel)
        logits, embs = [], []
        for i in range(0, patches.shape[0], max_batch):
            lo, em = self.net(patches[i : i + max_batch].contiguous(memory_format=torch.channels_last))
            logits.append(lo)
            embs.append(em)
        if not logits:
            empty = np.zeros((0, M.N_CLASSES), np.float32)
            return empty, np.zeros((0, M.EMBED_DIM), np.float32), energy.cpu().numpy(), np.zeros(0, np.float32)
        level = patches.mean(dim=(1, 2, 3))
        return (
            torch.cat(logits).float().cpu().numpy(),
            torch.cat(embs).float().cpu().numpy(),
            energy.float().cpu().numpy(),
            level.float().cpu().numpy(),
        )


@dataclass
class EmbeddingPool:
    """One vector per 0.96 s segment; past ``cap`` vectors, neighbours are averaged (resolution halves)."""

    cap: int
    seg_s: float = 2 * M.PATCH_HOP_SAMPLES / M.SAMPLE_RATE
    stride: int = 1  # base segments per stored vector
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    sums: list[NDArray[np.float32]] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    _pending: tuple[float, float, NDArray[np.float32], int, int] | None = None  # start, end, sum, n, segments

    def add(self, start_s: float, vec: NDArray[np.float32] | None) -> None:
        """Add one base segment (``vec`` None = silent: it still counts for the time grid)."""
        end_s = start_s + M.PATCH_SAMPLES / M.SAMPLE_RATE
        if self._pending is None:
            self._pending = (start_s, end_s, np.zeros(M.EMBED_DIM, np.float32), 0, 0)
        s0, _, acc, n, segs = self._pending
        if vec is not None:
            acc = acc + vec
            n += 1
        self._pending = (s0, end_s, acc, n, segs + 1)
        if segs + 1 >= self.stride:
            self._flush()

    def _flush(self) -> None:
        if self._pending is None:
            return
        s0, s1, acc, n, _ = self._pending
        self._pending = None
        if n:
            self.starts.append(s0)
            self.ends.append(s1)
            self.sums.append(acc)
            self.counts.append(n)
        if len(self.sums) > self.cap:
            self._halve()

    def _halve(self) -> None:
        self.stride *= 2
        starts, ends, sums, counts = [], [], [], []
        for i in range(0, len(self.sums), 2):
            j = min(i + 1, len(self.sums) - 1)
            starts.append(self.starts[i])
            ends.append(self.ends[j])
            sums.append(self.sums[i] + (self.sums[j] if j != i else 0))
            counts.append(self.counts[i] + (self.counts[j] if j != i else 0))
        self.starts, self.ends, self.sums, self.counts = starts, ends, sums, counts

    def vectors(self) -> list[tuple[float, float, NDArray[np.float32]]]:
        """(start_s, end_s, L2-normalised mean embedding) for every stored segment."""
        self._flush()
        out = []
        for s0, s1, acc in zip(self.starts, self.ends, self.sums, strict=True):
            norm = float(np.linalg.norm(acc))
            if norm > 0:
                out.append((round(s0, 3), round(s1, 3), (acc / norm).astype(np.float32)))
        return out


@dataclass
class Analysis:
    """What the stream produced: per-patch label scores, the peak AudioSet class per label, energy, vectors."""

    label_keys: list[str]
    scores: NDArray[np.float32]  # (N, L) max over each label's classes (sigmoid)
    top_class: NDArray[np.int16]  # (N, L) index into the class list of the label's best class
    energy: NDArray[np.float32]  # (F,) 10 ms log energy
    embeddings: list[tuple[float, float, NDArray[np.float32]]]
    duration_s: float


class StreamAnalyzer:
    """Feed chunks in order; ``finish`` pads the tail and returns the ``Analysis``."""

    def __init__(
        self, yamnet: Yamnet, extra_classes: Iterable[str] = (), max_embeddings: int = 10_000,
        chunk_patches: int = 256, head: LinearHead | None = None,
    ) -> None:
        self.yamnet = yamnet
        self.head = head
        groups = label_class_indices(yamnet.class_names)
        name_index = {n: i for i, n in enumerate(yamnet.class_names)}
        for name in extra_classes:
            if name in name_index and name not in groups:
                groups[name] = [name_index[name]]
        self.label_keys = list(groups)
        self.groups = [np.asarray(groups[k], np.int64) for k in self.label_keys]
        self.buf = np.zeros(0, np.float32)
        self.buf_start = 0  # global sample index of buf[0]; always a multiple of the patch hop
        self.total = 0
        self.scores: list[NDArray[np.float32]] = []
        self.tops: list[NDArray[np.int16]] = []
        self.energy: list[NDArray[np.float32]] = []
        self.pool = EmbeddingPool(cap=max_embeddings)
        self.chunk_patches = chunk_patches

    def feed(self, samples: NDArray[np.float32]) -> None:
        """Append samples; runs the model once enough whole patches are buffered."""
        samples = np.nan_to_num(np.asarray(samples, np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
        self.total += samples.size
        self.buf = np.concatenate([self.buf, np.clip(samples, -1.0, 1.0)])
        if M.patch_count(self.buf.size) >= self.chunk_patches:
            self._consume(M.patch_count(self.buf.size))

    def _consume(self, n_patches: int, final: bool = False) -> None:
        span = (n_patches - 1) * M.PATCH_HOP_SAMPLES + M.PATCH_SAMPLES
        logits, embs, energy, level = self.yamnet.run(self.buf[:span])
        probs = M.sigmoid(logits)
        label_scores = np.empty((probs.shape[0], len(self.groups)), np.float32)
        tops = np.empty((probs.shape[0], len(self.groups)), np.int16)
        for j, idx in enumerate(self.groups):
            sub = probs[:, idx]
            best = sub.argmax(axis=1)
            label_scores[:, j] = sub[np.arange(sub.shape[0]), best]
            tops[:, j] = idx[best]
        if self.head is not None:  # label score = max(YAMNet, trained head)
            head_scores = self.head(embs, logits)
            for k, lab in enumerate(self.head.labels):
                if lab in self.label_keys:
                    col = self.label_keys.index(lab)
                    label_scores[:, col] = np.maximum(label_scores[:, col], head_scores[:, k])
        self.scores.append(label_scores)
        self.tops.append(tops)
        keep_frames = energy.size if final else n_patches * M.PATCH_HOP_FRAMES
        self.energy.append(energy[:keep_frames].astype(np.float32))
        first = self.buf_start // M.PATCH_HOP_SAMPLES
        silent_level = float(np.log(M.LOG_OFFSET)) + 0.05
        for k in range(probs.shape[0]):
            index = first + k
            if index % 2 == 0:  # non-overlapping 0.96 s segments
                vec = embs[k] if level[k] > silent_level else None
                self.pool.add(index * M.PATCH_HOP_SAMPLES / M.SAMPLE_RATE, vec)
        drop = n_patches * M.PATCH_HOP_SAMPLES
        self.buf = self.buf[drop:]
        self.buf_start += drop

    def finish(self) -> Analysis:
        """Zero-pad the tail (as YAMNet does) so the last samples are covered, run the rest, return results."""
        wanted = M.patch_count(M.padded_length(self.total))  # the whole file's patch count, TF-style padding
        done = self.buf_start // M.PATCH_HOP_SAMPLES
        if wanted > done:
            span = (wanted - done - 1) * M.PATCH_HOP_SAMPLES + M.PATCH_SAMPLES
            if span > self.buf.size:
                self.buf = np.concatenate([self.buf, np.zeros(span - self.buf.size, np.float32)])
            self._consume(wanted - done, final=True)
        n_labels = len(self.label_keys)
        return Analysis(
            label_keys=self.label_keys,
            scores=np.concatenate(self.scores) if self.scores else np.zeros((0, n_labels), np.float32),
            top_class=np.concatenate(self.tops) if self.tops else np.zeros((0, n_labels), np.int16),
            energy=np.concatenate(self.energy) if self.energy else np.zeros(0, np.float32),
            embeddings=self.pool.vectors(),
            duration_s=self.total / M.SAMPLE_RATE,
        )
