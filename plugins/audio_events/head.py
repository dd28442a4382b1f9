"""Optional linear head on YAMNet's embedding + logits, trained on dev-corpus mixtures (numpy inference).

YAMNet's own classifier was trained on weakly labelled AudioSet clips and scores events poorly under loud
music or speech. The head re-reads the same per-patch features (1024-d embedding, 521 logits / 10) and was
trained by ``train_head.py`` on scenes mixed from the calibration half of the dev corpus at 10/5/0 dB.
A label's score becomes max(YAMNet label score, head score). Weights: ``head_v1.npz`` (plain arrays,
loaded with ``allow_pickle=False``), SHA-256 pinned below.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

HEAD_FILE = Path(__file__).with_name("head_v1.npz")
HEAD_SHA256 = "6a38a16e7ab941bc78709a83b32282b1f4bf03937875c1a5583eddad8bf73fcd"  # train_head.py output


def features(embeddings: NDArray[np.float32], logits: NDArray[np.float32]) -> NDArray[np.float32]:
    """Per-patch head input: the 1024-d embedding and the 521 logits scaled to a similar range."""
    return np.concatenate([embeddings, logits / 10.0], axis=1).astype(np.float32)


class LinearHead:
    """``(embeddings, logits) -> (N, L)`` probabilities for ``labels``."""

    def __init__(self, path: Path = HEAD_FILE, sha256: str | None = HEAD_SHA256) -> None:
        if sha256 and hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            raise ValueError(f"{path}: SHA-256 does not match the pinned head weights")
        with np.load(path, allow_pickle=False) as data:
            self.labels = [str(x) for x in data["labels"]]
            self.mean = data["mean"].astype(np.float32)
            self.scale = data["scale"].astype(np.float32)
            self.weight = data["weight"].astype(np.float32)
            self.bias = data["bias"].astype(np.float32)

    def __call__(self, embeddings: NDArray[np.float32], logits: NDArray[np.float32]) -> NDArray[np.float32]:
        z = ((features(embeddings, logits) - self.mean) / self.scale) @ self.weight + self.bias
        return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)


def fit(
    x: NDArray[np.float32], targets: NDArray[np.float32], labels: list[str], seed: int = 0, epochs: int = 300
) -> dict[str, NDArray]:
    """Full-batch AdamW logistic regression (dropout 0.2, weight decay 1e-2, positive-class weighting)."""
    import torch

    torch.manual_seed(seed)
    mean, scale = x.mean(0), x.std(0) + 1e-3
    a = torch.tensor((x - mean) / scale, dtype=torch.float32)
    t = torch.tensor(targets, dtype=torch.float32)
    layer = torch.nn.Linear(a.shape[1], t.shape[1])
    model = torch.nn.Sequential(torch.nn.Dropout(0.2), layer)
    opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=1e-2)
    pos = t.mean(0).clamp(min=1e-3)
    pos_weight = ((1 - pos) / pos).sqrt()
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(a), t, pos_weight=pos_weight)
        loss.backward()
        opt.step()
    return {
        "labels": np.asarray(labels, dtype="<U32"),
        "mean": mean.astype(np.float32),
        "scale": scale.astype(np.float32),
        "weight": layer.weight.detach().numpy().T.astype(np.float32),
        "bias": layer.bias.detach().numpy().astype(np.float32),
    }
