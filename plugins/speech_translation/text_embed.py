"""all-MiniLM-L6-v2 sentence embeddings: a BERT encoder written in torch, weights from safetensors.

Why our own forward: sentence-transformers/transformers would pull a large stack into the worker for six
encoder layers. This module reproduces sentence-transformers' pipeline for this model: WordPiece tokenizer
(``tokenizers``), max 256 tokens, BERT encoder (post-LN, exact GELU), mean pooling over real tokens, L2 norm.

Public surface: ``MiniLMEmbedder``, ``DIM``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

DIM = 384
MAX_TOKENS = 256


def _build_bert(cfg: dict[str, Any]) -> Any:
    import torch
    from torch import nn

    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    eps = cfg.get("layer_norm_eps", 1e-12)

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = nn.Linear(hidden, hidden)
            self.k = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, hidden)
            self.o = nn.Linear(hidden, hidden)
            self.ln1 = nn.LayerNorm(hidden, eps=eps)
            self.ff1 = nn.Linear(hidden, cfg["intermediate_size"])
            self.ff2 = nn.Linear(cfg["intermediate_size"], hidden)
            self.ln2 = nn.LayerNorm(hidden, eps=eps)

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            b, t, _ = x.shape

            def split(y: torch.Tensor) -> torch.Tensor:
                return y.view(b, t, heads, hidden // heads).transpose(1, 2)

            att = nn.functional.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)),
                                                             attn_mask=bias)
            x = self.ln1(x + self.o(att.transpose(1, 2).reshape(b, t, hidden)))
            return self.ln2(x + self.ff2(nn.functional.gelu(self.ff1(x))))

    class Bert(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.word = nn.Embedding(cfg["vocab_size"], hidden)
            self.pos = nn.Embedding(cfg["max_position_embeddings"], hidden)
            self.token_type = nn.Embedding(cfg["type_vocab_size"], hidden)
            self.ln = nn.LayerNorm(hidden, eps=eps)
            self.layers = nn.ModuleList(Layer() for _ in range(cfg["num_hidden_layers"]))

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            pos = torch.arange(ids.shape[1], device=ids.device)[None, :]
            x = self.ln(self.word(ids) + self.pos(pos) + self.token_type(torch.zeros_like(ids)))
            bias = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
            bias = bias.masked_fill(mask == 0, torch.finfo(x.dtype).min)[:, None, None, :]
            for layer in self.layers:
                x = layer(x, bias)
            m = mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return nn.functional.normalize(pooled, p=2, dim=1)

    return Bert()


def _map_weights(src: dict[str, Any], n_layers: int) -> dict[str, Any]:
    """HF BertModel names -> our module names (``embeddings.position_ids`` buffers are ignored)."""
    out = {
        "word.weight": src["embeddings.word_embeddings.weight"],
        "pos.weight": src["embeddings.position_embeddings.weight"],
        "token_type.weight": src["embeddings.token_type_embeddings.weight"],
        "ln.weight": src["embeddings.LayerNorm.weight"],
        "ln.bias": src["embeddings.LayerNorm.bias"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "o": "attention.output.dense", "ln1": "attention.output.LayerNorm", "ff1": "intermediate.dense",
             "ff2": "output.dense", "ln2": "output.LayerNorm"}
    for i in range(n_layers):
        for ours, theirs in names.items():
            for p in ("weight", "bias"):
                out[f"layers.{i}.{ours}.{p}"] = src[f"encoder.layer.{i}.{theirs}.{p}"]
    return out


class MiniLMEmbedder:
    """Embed short texts (transcript segments, search queries) into 384-d unit vectors."""

    def __init__(self, model_dir: Path, device: str = "cpu", batch_size: int = 64) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        cfg = json.loads((model_dir / "config.json").read_text())
        self.net = _build_bert(cfg)
        weights = load_file(str(model_dir / "model.safetensors"))
        self.net.load_state_dict(_map_weights(weights, cfg["num_hidden_layers"]), strict=True)
        self.net.eval().to(device)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.device = device
        self.batch_size = batch_size
        self._torch = torch

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """(len(texts), 384) float32, L2-normalised; batches sorted by length to limit padding."""
        torch = self._torch
        out = np.zeros((len(texts), DIM), np.float32)
        if not texts:
            return out
        enc = self.tokenizer.encode_batch([t if t.strip() else " " for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(enc[i].ids))
        for k in range(0, len(order), self.batch_size):
            idx = order[k : k + self.batch_size]
            width = max(len(enc[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), np.int64)
            mask = np.zeros((len(idx), width), np.int64)
            for row, i in enumerate(idx):
                n = len(enc[i].ids)
                ids[row, :n] = enc[i].ids
                mask[row, :n] = 1
            with torch.inference_mode():
                vec = self.net(torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device))
            out[idx] = vec.float().cpu().numpy()
        return out
