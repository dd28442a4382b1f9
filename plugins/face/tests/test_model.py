"""Real weights on small inputs: known pairs, geometry, pyramid, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugins.face.tests.conftest import load_rgb, save
from retrieval.plugin_api import Item, MediaKind


def run(plugin, *paths: Path):
    return plugin.process([Item(i, MediaKind.IMAGE, p) for i, p in enumerate(paths)])


def only_face(result):
    assert result.error is None, result.error
    assert len(result.findings) == 1, [f.region for f in result.findings]
    return result.findings[0]


@pytest.fixture(scope="module")
def sample_paths(tmp_path_factory) -> dict[str, Path]:
    here = Path(__file__).parent / "samples"
    return {p.stem: p for p in here.glob("*.jpg")}


@pytest.fixture(scope="module")
def vectors(face_plugin, sample_paths) -> dict[str, np.ndarray]:
    names = sorted(sample_paths)
    results = run(face_plugin, *(sample_paths[n] for n in names))
    return {n: only_face(r).vector for n, r in zip(names, results, strict=True)}


def test_findings_have_unit_vectors_boxes_landmarks_and_quality(face_plugin, sample_paths):
    finding = only_face(run(face_plugin, sample_paths["astronaut"])[0])
    assert finding.space == "face"
    assert finding.vector.dtype == np.float32 and finding.vector.shape == (128,)
    assert abs(float(np.linalg.norm(finding.vector)) - 1.0) < 1e-4
    x1, y1, x2, y2 = finding.region.box
    assert 0 <= x1 < x2 <= 188 and 0 <= y1 < y2 <= 188
    assert 0.5 < finding.score <= 1.0
    marks = np.array(finding.data["landmarks"])
    assert marks.shape == (5, 2)
    assert ((marks[:, 0] > x1) & (marks[:, 0] < x2) & (marks[:, 1] > y1) & (marks[:, 1] < y2)).all()
    assert marks[0, 0] < marks[1, 0], "right eye (image left) comes first"
    quality = finding.data["quality"]
    assert {"size_px", "blur_var", "yaw", "pitch", "roll", "det_score"} <= set(quality)
    assert 0.0 < finding.data["quality_score"] <= 1.0
    assert finding.data["enrol_ok"] is True


def test_known_pairs_fall_on_the_right_side_of_the_threshold(face_plugin, vectors):
    threshold = face_plugin.settings["match_threshold"]
    genuine = float(vectors["obama_a"] @ vectors["obama_b"])
    assert genuine >= threshold + 0.1, genuine
    names = sorted(vectors)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if {a, b} != {"obama_a", "obama_b"}:
                assert float(vectors[a] @ vectors[b]) < threshold - 0.1, (a, b)


def test_a_mirrored_and_recompressed_face_still_matches(face_plugin, vectors, tmp_path):
    rgb = load_rgb("astronaut.jpg")[:, ::-1]
    path = save(np.ascontiguousarray(rgb), tmp_path / "mirror.jpg", quality=40)
    vec = only_face(run(face_plugin, path)[0]).vector
    assert float(vec @ vectors["astronaut"]) > 0.8


def test_pyramid_finds_small_faces_in_a_large_frame(face_plugin, tmp_path):
    """Faces of 24-160 px pasted on a 1920x1080 frame: all found, boxes where they were pasted."""
    from PIL import Image

    canvas = Image.new("RGB", (1920, 1080), (120, 130, 125))
    placed = []
    x = 20
    for i, side in enumerate((28, 36, 48, 64, 96, 160, 40, 56)):
        face = Image.open(Path(__file__).parent / "samples" / ("obama_a.jpg", "biden.jpg", "astronaut.jpg")[i % 3])
        # the face occupies ~60% of the crop: scale so the face itself is about `side` px
        crop = face.convert("RGB").resize((int(side / 0.6), int(side / 0.6)), Image.Resampling.LANCZOS)
        y = 100 + (i % 2) * 500
        canvas.paste(crop, (x, y))
        placed.append((x, y, x + crop.width, y + crop.height))
        x += crop.width + 60
    path = tmp_path / "frame.png"
    canvas.save(path)
    result = run(face_plugin, path)[0]
    assert result.error is None
    boxes = [f.region.box for f in result.findings]
    centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes]
    for x1, y1, x2, y2 in placed:
        assert sum(x1 <= cx <= x2 and y1 <= cy <= y2 for cx, cy in centres) == 1, (x1, y1, x2, y2)
    assert len(result.findings) == len(placed)


def test_hundreds_of_faces_are_all_reported(face_plugin, tmp_path):
    from PIL import Image

    tile = Image.open(Path(__file__).parent / "samples" / "astronaut.jpg").convert("RGB").resize((64, 64))
    canvas = Image.new("RGB", (64 * 16, 64 * 10), (255, 255, 255))
    for r in range(10):
        for c in range(16):
            canvas.paste(tile, (c * 64, r * 64))
    path = tmp_path / "crowd.png"
    canvas.save(path)
    result = run(face_plugin, path)[0]
    assert result.error is None
    assert len(result.findings) >= 150
    assert all(f.vector.shape == (128,) for f in result.findings)


def test_batches_give_the_same_vectors_as_single_items(face_plugin, sample_paths, vectors):
    single = only_face(run(face_plugin, sample_paths["biden"])[0]).vector
    assert float(single @ vectors["biden"]) > 0.9999


def test_cpu_embedding_runs_sface_on_the_faces_only(face_plugin, sample_paths, vectors):
    """Padding SFace batches to a multiple of 8 suits GPUs; on a CPU each padded row costs a full face (8x for one).

    Padding must also not change any vector.
    """
    engine = face_plugin._engine
    seen: list[int] = []
    sface = engine.sface

    def counting(batch):
        seen.append(int(batch.shape[0]))
        return sface(batch)

    engine.sface = counting
    try:
        single = only_face(run(face_plugin, sample_paths["biden"])[0]).vector
        several = run(face_plugin, sample_paths["obama_a"], sample_paths["obama_b"], sample_paths["astronaut"])
    finally:
        engine.sface = sface
    assert seen == [1, 3]
    assert float(single @ vectors["biden"]) > 0.9999
    for name, result in zip(("obama_a", "obama_b", "astronaut"), several, strict=True):
        assert float(only_face(result).vector @ vectors[name]) > 0.9999


def test_cpu_detector_runs_balanced_tiles_one_at_a_time_and_finds_the_same_faces(face_plugin, tmp_path, monkeypatch):
    """CPU workers cut pyramid levels into balanced tiles of up to 1280 px, run one tile per forward and resize
    levels from the image's bytes (Pillow). The GPU plan (fixed 640-px tiles, batched, levels resized in torch)
    finds the same faces on the same image with more detector pixels. (16 tiles of 640 px per batch made YuNet
    memory-bound on a CPU; now the only batching left there is within a 1280-px tile.)"""
    from PIL import Image

    import plugins.face.model as face_model

    canvas = Image.new("RGB", (2600, 1800), (120, 130, 125))
    face = Image.open(Path(__file__).parent / "samples" / "obama_a.jpg").convert("RGB")
    for k, side in enumerate((40, 80, 160, 60)):
        canvas.paste(face.resize((int(side / 0.6), int(side / 0.6))), (200 + 600 * k, 300 + 350 * (k % 3)))
    path = tmp_path / "big.png"
    canvas.save(path)
    detector = face_plugin._engine.detector
    assert (detector.cut, detector.balanced, detector.tile_batch) == (1280, True, 1)
    module, seen = detector.module, []

    def counting(batch):
        seen.append(tuple(batch.shape))
        return module(batch)

    detector.module = counting
    try:
        cpu = run(face_plugin, path)[0]
        cpu_shapes = list(seen)
        seen.clear()
        detector.cut, detector.balanced, detector.tile_batch = 640, False, 4
        monkeypatch.setattr(face_model, "cpu_sources", lambda images, device: None)
        gpu_plan = run(face_plugin, path)[0]
    finally:
        detector.module, detector.cut, detector.balanced, detector.tile_batch = module, 1280, True, 1
    assert all(shape[0] == 1 and max(shape[2:]) <= 1280 for shape in cpu_shapes)
    assert max(shape[0] for shape in seen) == 4
    pixels = [sum(n * h * w for n, _, h, w in shapes) for shapes in (cpu_shapes, seen)]
    assert pixels[0] < 0.8 * pixels[1], pixels
    assert len(cpu.findings) == len(gpu_plan.findings) == 4
    for a, b in zip(cpu.findings, gpu_plan.findings, strict=True):
        # Other tile borders and resampling move landmarks by a pixel or two (measured: boxes <= 2.2 px apart,
        # cosine 0.96-0.98): the same faces, far above the match threshold (0.49).
        assert np.allclose(a.region.box, b.region.box, atol=3.0) and float(a.vector @ b.vector) > 0.94


def test_detector_batches_are_built_in_the_networks_memory_format():
    """The tile batch is allocated in the layout the network runs in: no second full-size copy after filling."""
    import torch

    from plugins.face.detection import YuNetDetector

    last = YuNetDetector(None, "cpu", memory_format=torch.channels_last)._new_batch(2, 64, 96)
    first = YuNetDetector(None, "cpu", memory_format=torch.contiguous_format)._new_batch(2, 64, 96)
    assert last.shape == first.shape == (2, 3, 64, 96)
    assert last.is_contiguous(memory_format=torch.channels_last) and not last.is_contiguous()
    assert first.is_contiguous()
    assert not last.any() and not first.any()


def test_levels_resized_from_bytes_match_the_torch_resize():
    """CPU levels come from Pillow on the uint8 image (4-8x cheaper than torch's area kernel on a 3-channel
    float tensor): same shape, float32 in channels-last strides, and the same pixels up to byte rounding where
    both filters are exact (halving: box = area; doubling: bilinear with half-pixel centres)."""
    import torch

    from plugins.face.detection import resize_tensor, resize_uint8

    rgb = load_rgb("astronaut.jpg")
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    h, w = rgb.shape[:2]
    for size in ((h // 2, w // 2), (2 * h, 2 * w)):
        ours, ref = resize_uint8(rgb, *size), resize_tensor(tensor, *size)
        assert ours.shape == ref.shape == (1, 3, *size) and ours.dtype == torch.float32
        assert ours.is_contiguous(memory_format=torch.channels_last)
        diff = (ours - ref).abs()
        assert float(diff.mean()) < 0.6 and float(diff.max()) <= 2.0, (size, float(diff.mean()), float(diff.max()))
