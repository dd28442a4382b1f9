"""The dlib model version: contract, known pairs, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from plugins.face_dlib import FaceDlibPlugin
from plugins.face_dlib.model import dlib_box
from plugins.face_dlib.tests.conftest import SAMPLES
from retrieval.plugin_api import Distance, Item, MediaKind, Plugin


def test_contract_and_a_separate_model_version():
    from plugins.face import FacePlugin

    plugin = FaceDlibPlugin({})
    assert isinstance(plugin, Plugin) and plugin._engine is None
    assert FaceDlibPlugin.name == "face_dlib"
    assert FaceDlibPlugin.model_version != FacePlugin.model_version
    (spec,) = FaceDlibPlugin.embeddings
    assert (spec.dim, spec.distance) == (128, Distance.COSINE)
    assert {a.path for a in FaceDlibPlugin.artifacts} == {
        "face_detection_yunet_2023mar.onnx",
        "shape_predictor_5_face_landmarks.dat",
        "dlib_face_recognition_resnet_model_v1.dat",
    }
    settings = json.loads(json.dumps(dict(FaceDlibPlugin.default_settings)))
    assert settings["match_threshold"] != FacePlugin.default_settings["match_threshold"]


def test_known_pairs_and_unit_vectors(dlib_plugin):
    names = ["obama_a", "obama_b", "biden", "astronaut"]
    results = dlib_plugin.process([Item(i, MediaKind.IMAGE, SAMPLES / f"{n}.jpg") for i, n in enumerate(names)])
    vecs = {}
    for name, res in zip(names, results, strict=True):
        assert res.error is None and len(res.findings) == 1
        finding = res.findings[0]
        assert finding.vector.dtype == np.float32 and finding.vector.shape == (128,)
        assert abs(float(np.linalg.norm(finding.vector)) - 1.0) < 1e-4
        assert "quality_score" in finding.data and len(finding.data["landmarks"]) == 5
        vecs[name] = finding.vector
    threshold = dlib_plugin.settings["match_threshold"]
    assert float(vecs["obama_a"] @ vecs["obama_b"]) >= threshold
    for other in ("biden", "astronaut"):
        assert float(vecs["obama_a"] @ vecs[other]) < threshold
        assert float(vecs["obama_b"] @ vecs[other]) < threshold


def test_bad_items_are_errors_and_faceless_images_are_empty(dlib_plugin, tmp_path):
    from PIL import Image

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    flat = tmp_path / "flat.png"
    Image.new("RGB", (300, 200), (90, 90, 90)).save(flat)
    results = dlib_plugin.process([Item(1, MediaKind.IMAGE, bad), Item(2, MediaKind.IMAGE, flat)])
    assert results[0].error and results[1].error is None and list(results[1].findings) == []


def test_dlib_box_is_a_square_around_eyes_and_mouth():
    marks = np.array([[40, 50], [80, 50], [60, 70], [45, 90], [75, 90]], float)
    left, top, right, bottom = dlib_box(marks)
    assert right - left == bottom - top
    assert left < 40 and right > 80 and top < 50 and bottom > 90
    assert Path(__file__).exists()
