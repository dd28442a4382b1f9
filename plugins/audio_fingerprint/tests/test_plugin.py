from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from plugins.audio_fingerprint import AudioFingerprintPlugin
from plugins.audio_fingerprint.index import InMemoryIndex
from plugins.audio_fingerprint.tests.conftest import SR, add_noise
from retrieval.plugin_api import Item, MediaKind, Plugin


@pytest.fixture
def plugin(index: InMemoryIndex) -> AudioFingerprintPlugin:
    p = AudioFingerprintPlugin({}, None)
    p.load("cpu")
    p.attach_index(index)
    return p


def _item(i: int, path: Path) -> Item:
    return Item(media_id=i, kind=MediaKind.AUDIO, path=path)


def _resample(x: np.ndarray, sr: int) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(x, sr, SR).astype(np.float32)


def test_it_satisfies_the_contract_without_importing_torch_at_class_level() -> None:
    assert isinstance(AudioFingerprintPlugin({}, None), Plugin)
    assert AudioFingerprintPlugin.name == "audio_fingerprint"
    assert AudioFingerprintPlugin.media_kinds == frozenset({MediaKind.AUDIO})
    assert AudioFingerprintPlugin.embeddings == ()


def test_process_finds_a_snippet_in_a_stereo_44k_file(tmp_path: Path, plugin, tracks) -> None:
    rng = np.random.default_rng(1)
    snippet = add_noise(tracks[103][10 * SR : 15 * SR], snr_db=10)
    mono = np.concatenate([rng.standard_normal(20 * SR) * 0.01, snippet, np.zeros(5 * SR)]).astype(np.float32)
    x = _resample(mono, 44_100)
    path = tmp_path / "evidence.wav"
    sf.write(path, np.stack([x, x * 0.5], axis=1), 44_100)
    [res] = plugin.process([_item(1, path)])
    assert res.error is None
    fp_finding = res.findings[0]
    assert fp_finding.label == "fingerprint" and fp_finding.score == fp_finding.data["n_hashes"] > 0
    assert abs(fp_finding.data["duration_s"] - 30.0) < 0.1
    hashes = plugin.fingerprints[1].hashes
    assert hashes.dtype == np.uint32 and hashes.size == fp_finding.data["n_hashes"]
    occ = [f for f in res.findings if f.label == "reference:103"]
    assert len(occ) == 1
    assert abs(occ[0].region.start_s - 20.0) < 0.5
    assert 22.5 < occ[0].region.end_s < 25.5  # the last matched landmark of the snippet
    assert abs(occ[0].data["reference_start_s"] - 10.0) < 0.3
    assert occ[0].score > 0.99
    # The streaming scan gives the same occurrence.
    [o] = plugin.scan(path, plugin.index)
    assert o.track_id == 103 and abs(o.evidence_start_s - 20.0) < 0.3


@pytest.mark.parametrize(("sr", "channels"), [(8_000, 1), (22_050, 2), (96_000, 6)])
def test_sample_rates_and_channel_layouts_are_accepted(tmp_path: Path, plugin, tracks, sr: int, channels: int) -> None:
    x = _resample(tracks[101][: 6 * SR], sr)
    path = tmp_path / f"x_{sr}_{channels}.wav"
    sf.write(path, np.repeat(x[:, None], channels, axis=1) / channels, sr)
    [res] = plugin.process([_item(2, path)])
    assert res.error is None
    assert any(f.label == "reference:101" for f in res.findings)


def test_bad_inputs_give_clear_statuses_and_the_batch_goes_on(tmp_path: Path, plugin) -> None:
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(SR * 3, np.float32), SR)
    tiny = tmp_path / "tiny.wav"
    sf.write(tiny, np.zeros(int(SR * 0.2), np.float32) + 0.01, SR)
    clipped = tmp_path / "clipped.wav"
    sf.write(clipped, np.sign(np.sin(np.arange(SR * 3) * 0.05)).astype(np.float32), SR)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    results = plugin.process([_item(i, p) for i, p in enumerate([silence, corrupt, tiny, empty, clipped])])
    assert len(results) == 5
    assert results[0].error is None and results[0].findings[0].data["n_hashes"] == 0
    assert "no landmarks" in results[0].findings[0].data["status"]
    assert results[1].error and results[3].error
    assert results[2].error is None and results[4].error is None
    assert not any(f.label.startswith("reference:") for r in results if r.error is None for f in r.findings)
