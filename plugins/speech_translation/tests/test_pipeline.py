"""End to end with the real weights: transcripts, translations, timestamps, hallucination guards, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from plugins.speech_translation.evaluation import wer
from plugins.speech_translation.tests.conftest import LIBRIVOX_REF, SR, read_sample
from retrieval.plugin_api import Item, MediaKind

SPANISH_REF_EN = "The police arrested two suspects after the robbery."


def run(plugin, path: Path, media_id: int = 1):
    (result,) = plugin.process([Item(media_id=media_id, kind=MediaKind.AUDIO, path=path)])
    return result


@pytest.fixture(scope="module")
def librivox():
    return read_sample("librivox_0870.flac")


@pytest.fixture(scope="module")
def spanish():
    return read_sample("espeak_es_policia.flac")


def test_it_transcribes_english_with_word_times(plugin, librivox, wav):
    result = run(plugin, wav("en.wav", librivox))
    assert result.error is None
    (f,) = result.findings
    assert wer(LIBRIVOX_REF, f.text) <= 0.1, f.text
    assert f.space == "minilm" and f.vector.dtype == np.float32 and f.vector.shape == (384,)
    assert abs(float(np.linalg.norm(f.vector)) - 1) < 1e-4
    assert 0.0 <= f.region.start_s < 0.5 and 6.3 < f.region.end_s <= 7.1
    d = f.data
    assert d["language"] == "en" and d["language_probability"] > 0.9
    assert d["engine"] == "none" and d["text_en"] == f.text
    assert d["no_speech_prob"] < 0.2 and d["avg_logprob"] > -0.5 and 0.5 < f.score <= 1.0
    words = d["words"]
    assert len(words) >= 20 and all(isinstance(x, (str, float)) for w in words for x in w)
    assert all(w[1] <= w[2] for w in words) and all(a[1] <= b[1] for a, b in zip(words, words[1:], strict=False))
    assert words[0][1] >= f.region.start_s and words[-1][2] <= f.region.end_s
    # semantic search: a paraphrased query finds this segment, an unrelated one does not
    q_hit, q_miss = plugin.embed_text(["a man thinks about how much he can do for his family", "a recipe with flour"])
    assert float(f.vector @ q_hit) > float(f.vector @ q_miss) + 0.2


def test_it_translates_spanish_with_apertium(plugin, spanish, wav):
    (f,) = run(plugin, wav("es.wav", spanish)).findings
    assert f.data["language"] == "es"
    assert f.data["engine"] == "apertium:spa-eng"
    assert "policía" in f.text.lower()
    text_en = f.data["text_en"].lower()
    assert "police" in text_en and "suspects" in text_en, text_en
    own, ref, other = plugin.embed_text([f.data["text_en"], SPANISH_REF_EN, "a recipe with flour"])
    assert np.allclose(f.vector, own, atol=1e-5)  # the vector embeds the English text
    assert float(f.vector @ ref) > float(f.vector @ other) + 0.2


def test_it_keeps_each_language_in_a_mixed_file(plugin, librivox, spanish, wav):
    gap = np.zeros(int(1.5 * SR), np.float32)
    result = run(plugin, wav("mixed.wav", np.concatenate([librivox, gap, spanish])))
    langs = [(f.data["language"], f.region.start_s) for f in result.findings]
    assert [lang for lang, _ in langs] == ["en", "es"], langs
    assert langs[1][1] == pytest.approx(7.1 + 1.5, abs=0.6)  # Spanish time is in the file's time line


def test_it_handles_8khz_telephone_audio(plugin, librivox, wav):
    narrow = resample_poly(librivox, 1, 2).astype(np.float32)  # band-limited to 4 kHz, stored at 8 kHz
    result = run(plugin, wav("tel.wav", narrow, sr=8000))
    assert result.error is None
    text = " ".join(f.text for f in result.findings)
    assert wer(LIBRIVOX_REF, text) <= 0.2, text


@pytest.mark.parametrize("kind", ["silence", "noise", "hum", "music"])
def test_it_invents_no_words_on_non_speech(plugin, wav, kind):
    n = 12 * SR
    t = np.arange(n) / SR
    rng = np.random.default_rng(1)
    if kind == "silence":
        audio = np.zeros(n, np.float32)
    elif kind == "noise":
        audio = 0.1 * rng.standard_normal(n)
    elif kind == "hum":
        audio = 0.2 * np.sin(2 * np.pi * 60 * t) + 0.01 * rng.standard_normal(n)
    else:  # synthetic music: a plucked arpeggio (A minor) with harmonics and decay, 4 notes per second
        audio = np.zeros(n)
        notes = [220.0, 261.63, 329.63, 440.0, 329.63, 261.63]
        for k in range(int(12 * 4)):
            f0, start = notes[k % len(notes)], int(k * SR / 4)
            tt = np.arange(int(0.6 * SR)) / SR
            tone = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in (1, 2, 3, 4)) * np.exp(-4 * tt)
            seg = audio[start : start + tone.size]
            seg += 0.2 * tone[: seg.size]
    result = run(plugin, wav(f"{kind}.wav", audio.astype(np.float32)))
    assert result.error is None
    assert result.findings == [], [f.text for f in result.findings]


def test_it_streams_long_recordings_with_progress(plugin, librivox, wav, monkeypatch):
    monkeypatch.setitem(plugin.settings, "chunk_s", 5.0)  # many chunks: spans cross chunk borders
    silence = np.zeros(40 * SR, np.float32)
    audio = np.concatenate([silence, librivox, silence, librivox[: 3 * SR], np.zeros(5 * SR, np.float32)])
    seen: list[float] = []
    monkeypatch.setattr(plugin, "progress_callback", lambda media_id, s: seen.append(s))
    result = run(plugin, wav("long.wav", audio), media_id=7)
    starts = [f.region.start_s for f in result.findings]
    assert len(starts) == 2 and starts[0] == pytest.approx(40.1, abs=0.5) and starts[1] == pytest.approx(87.2, abs=0.5)
    assert seen == sorted(seen) and len(seen) >= 18 and seen[-1] == pytest.approx(audio.size / SR, abs=0.01)


def test_it_reports_bad_items_and_keeps_the_batch_going(plugin, librivox, wav, tmp_path):
    good = wav("ok.wav", librivox[: 3 * SR])
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(np.random.default_rng(3).bytes(50_000))
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:40])
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    items = [Item(1, MediaKind.AUDIO, garbage), Item(2, MediaKind.AUDIO, good), Item(3, MediaKind.AUDIO, truncated),
             Item(4, MediaKind.IMAGE, good), Item(5, MediaKind.AUDIO, empty)]
    results = plugin.process(items)
    assert [r.media_id for r in results] == [1, 2, 3, 4, 5]
    assert results[0].error and results[2].error and results[3].error and results[4].error
    assert results[1].error is None and results[1].findings


def test_it_accepts_a_registered_whisper_checkpoint(model_dir, librivox, wav):
    from plugins.speech_translation import SpeechTranslationPlugin

    custom = str(model_dir / "whisper-base")  # stands in for a larger CTranslate2 checkpoint
    p = SpeechTranslationPlugin({"whisper_model_dir": custom, "cpu_threads": 2}, model_dir=model_dir)
    p.load("cpu")
    assert p.asr_model_id.startswith("custom-") and len(p.asr_model_id) == len("custom-") + 12
    assert SpeechTranslationPlugin.model_version_for(p.settings, p.asr_model_id) != p.model_version
    (f,) = run(p, wav("en.wav", librivox[: int(3.5 * SR)])).findings
    assert f.data["asr_model"] == p.asr_model_id


def test_a_single_configured_language_skips_the_per_span_language_checks(model_dir, spanish, wav, monkeypatch):
    """With ``languages`` = one language (the case states it) a language change cannot happen: no quick checks."""
    from plugins.speech_translation import SpeechTranslationPlugin

    plugin = SpeechTranslationPlugin({"cpu_threads": 2, "languages": ["es"]}, model_dir=model_dir)
    plugin.load("cpu")
    calls = []
    asr = plugin._pipeline.asr
    original = asr.quick_language
    monkeypatch.setattr(asr, "quick_language", lambda *a, **k: calls.append(1) or original(*a, **k))
    gap = np.zeros(int(1.5 * SR), np.float32)
    result = run(plugin, wav("es_twice.wav", np.concatenate([spanish, gap, spanish, gap, spanish])))
    assert result.error is None and result.findings
    assert {f.data["language"] for f in result.findings} == {"es"}
    assert calls == []
