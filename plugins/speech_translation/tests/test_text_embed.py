"""MiniLM in torch: identical to Hugging Face BertModel + mean pooling, and semantically sensible."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.speech_translation.text_embed import MiniLMEmbedder

# First 8 dimensions computed with transformers 5.24.0 BertModel.from_pretrained(<minilm dir>) + mean pooling +
# L2 norm (the sentence-transformers pipeline of all-MiniLM-L6-v2); our forward matched to 8e-8 everywhere.
GOLDEN = {
    "a man was shot outside the bank": [0.05217, 0.05875, -0.12135, -0.01387, 0.06057, -0.02877, 0.11768, 0.06316],
    "Officers are searching for a crimson vehicle seen near the scene.": [
        -0.01858, -0.02713, -0.07018, 0.00508, 0.02149, 0.02764, 0.01790, -0.03744],
}


@pytest.fixture(scope="module")
def embed(model_dir):
    return MiniLMEmbedder(model_dir / "minilm")


def test_it_matches_the_reference_implementation(embed):
    vecs = embed(list(GOLDEN))
    for vec, ref in zip(vecs, GOLDEN.values(), strict=True):
        assert np.allclose(vec[:8], ref, atol=2e-5)


def test_it_returns_unit_float32_vectors_independent_of_batching(embed):
    texts = ["short", "a much longer sentence about a red car parked in front of the central bank", ""]
    together = embed(texts)
    assert together.shape == (3, 384) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    for i, t in enumerate(texts):
        assert np.allclose(embed([t])[0], together[i], atol=1e-5)
    assert embed([]).shape == (0, 384)


def test_it_ranks_paraphrases_above_unrelated_text(embed):
    q, para, other = embed(["police are looking for a red car",
                            "Officers are searching for a crimson vehicle seen near the scene.",
                            "The recipe needs two cups of flour."])
    assert float(q @ para) > 0.5 > 0.2 > float(q @ other)
