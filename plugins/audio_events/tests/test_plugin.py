"""Plugin behaviour on real weights: timestamps, search-by-example vectors, bad input, streaming of long files."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from plugins.audio_events import AudioEventPlugin
from plugins.audio_events.tests.conftest import noise, place, siren
from retrieval.plugin_api import Item, ItemResult, MediaKind, Plugin

SR = 16_000


def run(plugin: AudioEventPlugin, path: Path) -> ItemResult:
    (res,) = plugin.process([Item(1, MediaKind.AUDIO, path)])
    return res


def events(res: ItemResult) -> list:
    return [f for f in res.findings if f.space is None and f.label != "framewise"]


def vectors(res: ItemResult) -> list:
    return [f for f in res.findings if f.space == "yamnet"]


def test_contract_and_web_import_without_torch() -> None:
    assert isinstance(AudioEventPlugin({}), Plugin)
    assert AudioEventPlugin.embeddings[0].dim == 1024 and AudioEventPlugin.media_kinds == {MediaKind.AUDIO}
    code = "import sys, plugins.audio_events as p; p.AudioEventPlugin({}); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.stdout.strip() == "False"


def test_siren_event_has_timestamps(plugin: AudioEventPlugin, wav: Callable[..., Path]) -> None:
    res = run(plugin, wav(place(10.0, SR, 3.0, siren(4.0, SR)), SR))
    assert res.error is None
    sirens = [f for f in events(res) if f.label == "siren"]
    assert len(sirens) == 1
    ev = sirens[0]
    assert abs(ev.region.start_s - 3.0) <= 0.5 and 5.5 <= ev.region.end_s <= 7.6
    assert ev.score > 0.5 and ev.data["security_label"] == "siren" and "siren" in ev.data["audioset_class"].lower()
    assert not [f for f in events(res) if f.label in ("gunshot", "explosion", "glass_breaking", "dog", "scream")]
    (summary,) = [f for f in res.findings if f.label == "framewise"]
    track = summary.data["tracks"]["siren"]
    assert summary.data["hop_s"] == 0.48 and max(track) > 50 and len(track) <= 600


def test_any_rate_and_channels_give_the_same_events(plugin: AudioEventPlugin, wav: Callable[..., Path]) -> None:
    sr = 44_100
    mono = place(8.0, sr, 2.0, siren(4.0, sr, "wail"), seed=2)
    stereo = np.stack([mono, 0.5 * mono])
    a = [f for f in events(run(plugin, wav(stereo, sr, "st.wav"))) if f.label == "siren"]
    b = [f for f in events(run(plugin, wav(place(8.0, 8000, 2.0, siren(4.0, 8000), seed=2), 8000, "n.wav")))
         if f.label == "siren"]
    assert len(a) == 1 and len(b) == 1
    assert abs(a[0].region.start_s - b[0].region.start_s) <= 0.3


def test_search_by_example_vectors(plugin: AudioEventPlugin, wav: Callable[..., Path]) -> None:
    res_a = run(plugin, wav(place(6.0, SR, 1.0, siren(4.0, SR), seed=1), SR, "a.wav"))
    res_b = run(plugin, wav(place(7.0, SR, 2.0, siren(4.0, SR), seed=9), SR, "b.wav"))
    res_n = run(plugin, wav(noise(6.0, SR, 0.1, 4), SR, "n.wav"))
    va, vb, vn = (np.stack([f.vector for f in vectors(r)]) for r in (res_a, res_b, res_n))
    assert va.dtype == np.float32 and va.shape[1] == 1024
    np.testing.assert_allclose(np.linalg.norm(va, axis=1), 1.0, atol=1e-5)
    fa = vectors(res_a)
    assert all(f.region.end_s - f.region.start_s == pytest.approx(0.975) for f in fa)
    assert [f.region.start_s for f in fa] == pytest.approx([0.96 * k for k in range(len(fa))])
    query = va[2]  # 1.92-2.9 s of file a: inside the siren
    same = float((vb @ query).max())
    other = float((vn @ query).max())
    assert same > 0.9 and same - other > 0.2


def test_silence_dc_and_clipping(plugin: AudioEventPlugin, wav: Callable[..., Path]) -> None:
    silent = run(plugin, wav(np.zeros(5 * SR, np.float32), SR, "s.wav"))
    assert silent.error is None and not events(silent) and not vectors(silent)
    dc = run(plugin, wav(np.full(5 * SR, 0.4, np.float32), SR, "dc.wav"))
    assert dc.error is None and not [f for f in events(dc) if f.data.get("security_label") not in (None, "")]
    clipped = np.clip(8 * siren(4.0, SR), -1, 1)
    res = run(plugin, wav(place(7.0, SR, 1.0, clipped), SR, "c.wav"))
    assert res.error is None and vectors(res)


@pytest.mark.parametrize(
    "payload",
    [b"", b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), b"not audio at all" * 100, b"OggS" + bytes(range(256)) * 8],
)
def test_bad_input_is_an_item_error(plugin: AudioEventPlugin, tmp_path: Path, payload: bytes) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(payload)
    good = tmp_path / "good.wav"
    import soundfile as sf

    sf.write(good, siren(2.0, SR), SR)
    res = plugin.process([Item(1, MediaKind.AUDIO, bad), Item(2, MediaKind.AUDIO, good)])
    assert [r.media_id for r in res] == [1, 2]
    assert res[0].error and not res[0].findings
    assert res[1].error is None and res[1].findings


def test_image_item_is_refused(plugin: AudioEventPlugin, tmp_path: Path) -> None:
    (res,) = plugin.process([Item(3, MediaKind.IMAGE, tmp_path / "x.png")])
    assert res.error


def test_long_file_streams_with_bounded_vectors(model_dir: Path, wav: Callable[..., Path]) -> None:
    p = AudioEventPlugin({"max_embeddings": 16, "chunk_s": 7.0}, model_dir=model_dir)
    p.load("cpu")
    x = np.tile(place(10.0, SR, 2.0, siren(4.0, SR)), 6)  # 60 s, six sirens, streamed in 7 s chunks
    res = run(p, wav(x, SR, "long.wav"))
    assert res.error is None
    vecs = vectors(res)
    assert 8 <= len(vecs) <= 16
    assert vecs[-1].region.end_s >= 55.0
    sirens = [f for f in events(res) if f.label == "siren"]
    assert len(sirens) == 6
    assert [round(f.region.start_s) for f in sirens] == [2, 12, 22, 32, 42, 52]


def test_extra_audioset_class_on_request(model_dir: Path, wav: Callable[..., Path]) -> None:
    p = AudioEventPlugin({"extra_classes": ["Civil defense siren", "Not a class"],
                          "extra_class_params": {"on": 0.05, "off": 0.03}}, model_dir=model_dir)
    p.load("cpu")
    res = run(p, wav(place(8.0, SR, 2.0, siren(4.0, SR)), SR))
    extra = [f for f in events(res) if f.label == "Civil defense siren"]
    assert extra and extra[0].data["security_label"] is None and extra[0].data["audioset_class"] == extra[0].label


def test_trained_head_loads_and_only_raises_scores(model_dir: Path, wav: Callable[..., Path]) -> None:
    from plugins.audio_events.head import LinearHead

    head = LinearHead()
    assert "siren" in head.labels and head.weight.shape == (1024 + 521, len(head.labels))
    path = wav(place(8.0, SR, 2.0, siren(4.0, SR)), SR)
    plain = AudioEventPlugin({}, model_dir=model_dir)
    with_head = AudioEventPlugin({"use_head": True}, model_dir=model_dir)
    for p in (plain, with_head):
        p.load("cpu")
    a = [f for f in run(plain, path).findings if f.label == "framewise"][0].data["tracks"]
    b = [f for f in run(with_head, path).findings if f.label == "framewise"][0].data["tracks"]
    assert all(max(b[k]) >= max(v) for k, v in a.items())
