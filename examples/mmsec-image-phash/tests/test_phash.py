"""The example plugin against mmsec's contract kit, and its matching behaviour on real image edits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from mmsec_image_phash import ImagePhashPlugin
from mmsec_image_phash.hashing import hash_vector
from PIL import Image, ImageDraw

from retrieval.plugin_api import Item, MediaKind
from retrieval.testing import assert_conforms


def _scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (320, 240), tuple(int(c) for c in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.integers(0, 300, 2)
        w, h = rng.integers(20, 120, 2)
        draw.ellipse((int(x), int(y), int(x + w), int(y + h)), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return img


def _sim(a: Image.Image, b: Image.Image) -> float:
    return float(hash_vector(np.asarray(a)) @ hash_vector(np.asarray(b)))


def test_it_conforms_to_the_plugin_contract() -> None:
    assert_conforms(ImagePhashPlugin)


def test_copies_survive_recompression_and_resizing() -> None:
    original = _scene(1)
    buf = io.BytesIO()
    original.resize((160, 120)).save(buf, format="JPEG", quality=40)
    copy = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    assert _sim(original, copy) > 0.8


def test_different_pictures_are_far_apart() -> None:
    sims = [_sim(_scene(1), _scene(s)) for s in range(2, 12)]
    assert max(sims) < 0.6


def test_corrupt_files_give_an_item_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnope")
    plugin = ImagePhashPlugin(ImagePhashPlugin.default_settings)
    plugin.load("cpu")
    [result] = plugin.process([Item(media_id=7, kind=MediaKind.IMAGE, path=bad)])
    assert result.error and not result.findings
