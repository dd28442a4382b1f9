"""End to end through ``process`` with the real NBIS library: real prints, synthetic prints, bad input, DPI."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugins.fingerprint import matching
from plugins.fingerprint.template import from_iso19794_2
from plugins.fingerprint.tests.conftest import save_png
from retrieval.plugin_api import Item, MediaKind


def _run(plugin, *paths: Path):
    return plugin.process([Item(i, MediaKind.IMAGE, p) for i, p in enumerate(paths)])


def _finding(plugin, path: Path):
    """The print finding (space ``fp_index``); its window vectors follow it in ``findings``."""
    (res,) = _run(plugin, path)
    assert res.error is None, res.error
    f, *windows = res.findings
    assert f.space == "fp_index" and all(w.space == "fp_window" for w in windows)
    return f


def test_real_genuine_pair_matches_and_impostor_does_not(plugin, real_prints) -> None:
    f11, f12, f21 = (_finding(plugin, real_prints[k]) for k in ("p1_1", "p1_2", "p2_1"))
    genuine = matching.match(f11.data, f12.data)
    impostor = max(matching.match(f11.data, f21.data), matching.match(f12.data, f21.data))
    assert genuine >= matching.MATCH_THRESHOLD > impostor
    assert matching.calibrated_score(genuine) > 0.5 > matching.calibrated_score(impostor)
    # the index code ranks the mate first as well
    assert float(f11.vector @ f12.vector) > float(f11.vector @ f21.vector)


def test_finding_carries_quality_minutiae_and_iso_template(plugin, real_prints) -> None:
    f = _finding(plugin, real_prints["p1_1"])
    d = f.data
    assert f.space == "fp_index" and f.label == "fingerprint"
    assert 0 <= f.score <= 100 and d["quality"] == f.score
    assert d["dpi"] == 500 and len(d["minutiae"]) >= 12 and len(d["minutiae"][0]) == 5
    iso = from_iso19794_2(base64.b64decode(d["iso_template_b64"]))
    assert iso.n == len(d["minutiae"])
    assert matching.match(d, iso) > 0.9  # the ISO record is the same template
    x1, y1, x2, y2 = f.region.box
    assert 0 <= x1 < x2 <= 400 and 0 <= y1 < y2 <= 500
    assert len(str(d)) < 6000  # modest JSON


def test_synthetic_impressions_verify(plugin, synth_finger, tmp_path: Path) -> None:
    a0, a1 = synth_finger(21, 2)
    (b0,) = synth_finger(22, 1)
    fa0, fa1, fb0 = (_finding(plugin, save_png(tmp_path / f"{n}.png", im))
                     for n, im in (("a0", a0), ("a1", a1), ("b0", b0)))
    assert matching.match(fa0.data, fa1.data) > matching.MATCH_THRESHOLD > matching.match(fa0.data, fb0.data)


def _rescale(path: Path, factor: float) -> np.ndarray:
    img = Image.open(path).convert("L")
    return np.asarray(img.resize((round(img.width * factor), round(img.height * factor)), Image.Resampling.LANCZOS))


@pytest.mark.parametrize(("dpi_meta", "setting"), [(1000, None), (None, None), (500, 1000)],
                         ids=["metadata", "ridge-estimate", "user-setting"])
def test_1000_dpi_scan_is_normalised_to_500(plugin, real_prints, tmp_path: Path, dpi_meta, setting) -> None:
    """A 1000 dpi copy of p1_2 still matches p1_1: right metadata, missing metadata, or wrong metadata + user DPI."""
    path = save_png(tmp_path / "p1_2_1000.png", _rescale(real_prints["p1_2"], 2.0), dpi=dpi_meta)
    ref = _finding(plugin, real_prints["p1_1"])
    if setting:
        from plugins.fingerprint import FingerprintPlugin

        p = FingerprintPlugin({"dpi": setting}, plugin.model_dir)
        p.load("cpu")
        f = _finding(p, path)
        assert f.data["dpi_source"] == "user"
    else:
        f = _finding(plugin, path)
    assert abs(f.data["dpi"] - 1000) < 60
    assert matching.match(ref.data, f.data) >= matching.MATCH_THRESHOLD


def test_16_bit_and_cmyk_prints_are_read(plugin, real_prints, tmp_path: Path) -> None:
    gray = np.asarray(Image.open(real_prints["p1_1"]).convert("L"))
    p16 = tmp_path / "p16.png"
    Image.fromarray(gray.astype(np.uint16) * 257).save(p16)
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(gray).convert("CMYK").save(cmyk, quality=95)
    ref = _finding(plugin, real_prints["p1_1"])
    for path in (p16, cmyk):
        assert matching.match(ref.data, _finding(plugin, path).data) > 0.5


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    from skimage import data as skdata

    rng = np.random.default_rng(0)
    out = {
        "face": save_png(tmp / "face.png", skdata.astronaut()),
        "photo": save_png(tmp / "camera.png", skdata.camera()),
        "text": save_png(tmp / "text.png", skdata.text()),
        "noise": save_png(tmp / "noise.png", rng.integers(0, 256, (400, 400), dtype=np.uint8)),
        "blank": save_png(tmp / "blank.png", np.full((400, 400), 255, np.uint8)),
        "tiny": save_png(tmp / "tiny.png", rng.integers(0, 256, (12, 9), dtype=np.uint8)),
        "huge": save_png(tmp / "huge.png", np.tile(np.uint8([[40, 200]]), (3000, 2000)), dpi=500),
        "corrupt": tmp / "corrupt.png",
        "not_an_image": tmp / "notes.txt",
    }
    out["corrupt"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    out["not_an_image"].write_text("hello")
    return out


def test_bad_inputs_are_rejected_with_a_clear_message(plugin, tmp_path: Path) -> None:
    bad = _bad_inputs(tmp_path)
    results = _run(plugin, *bad.values())
    assert len(results) == len(bad)
    for (name, _), res in zip(bad.items(), results, strict=True):
        assert res.error, f"{name} was accepted"
        assert not res.findings
        assert res.error.startswith(("not a fingerprint", "fingerprint quality too low", "not a readable image",
                                      "corrupt image data", "image is")), f"{name}: {res.error}"
    assert results[0].error.startswith("not a fingerprint")


def test_item_dpi_overrides_wrong_metadata(plugin, real_prints, tmp_path: Path) -> None:
    """``Item.dpi`` (an investigator's per-item resolution) wins over a wrong file DPI, without a plugin setting."""
    from retrieval.plugin_api import Item, MediaKind

    path = save_png(tmp_path / "p1_2_1000_says_500.png", _rescale(real_prints["p1_2"], 2.0), dpi=500)
    [result] = plugin.process([Item(media_id=1, kind=MediaKind.IMAGE, path=path, dpi=1000.0)])
    assert result.error is None, result.error
    f = result.findings[0]
    assert f.data["dpi_source"] == "user" and f.data["dpi"] == 1000.0
    assert matching.match(_finding(plugin, real_prints["p1_1"]).data, f.data) >= matching.MATCH_THRESHOLD


def test_print_carries_window_vectors_of_its_contact_sized_parts(plugin, real_prints) -> None:
    """Up to five bare window vectors (no label: not a detection), each the index code of part of the print."""
    from plugins.fingerprint import index

    (res,) = _run(plugin, real_prints["p1_1"])
    main, *windows = res.findings
    assert 1 <= len(windows) <= len(index.WINDOW_OFFSETS)
    for i, w in enumerate(windows):
        assert w.label is None and w.data == {"window": i} and w.vector.shape == (index.DIM,)
        assert abs(float(np.linalg.norm(w.vector)) - 1.0) < 1e-4
        assert float(w.vector @ main.vector) < 0.999  # a part, not the whole print again
