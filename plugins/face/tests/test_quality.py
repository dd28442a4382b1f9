"""Quality measures: pose from landmarks, blur, ranking and the enrolment rule."""

from __future__ import annotations

import numpy as np

from plugins.face.alignment import TEMPLATE_112, similarity_transform
from plugins.face.quality import assess, laplacian_variance, pose_from_landmarks


def rotate(points, deg):
    t = np.radians(deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return (points - points.mean(0)) @ rot.T + points.mean(0)


def test_frontal_template_has_no_pose_and_roll_is_measured():
    pose = pose_from_landmarks(TEMPLATE_112)
    assert abs(pose["yaw"]) < 2 and abs(pose["pitch"]) < 2 and abs(pose["roll"]) < 1
    assert abs(pose_from_landmarks(rotate(TEMPLATE_112, 20))["roll"] - 20) < 0.5


def test_a_turned_head_has_yaw():
    turned = TEMPLATE_112.copy()
    turned[2, 0] += 12  # nose towards the left eye
    assert pose_from_landmarks(turned)["yaw"] > 30


def test_blur_lowers_the_laplacian_variance():
    rng = np.random.default_rng(0)
    sharp = rng.random((112, 112)) * 255
    from scipy.ndimage import gaussian_filter

    assert laplacian_variance(gaussian_filter(sharp, 2)) < laplacian_variance(sharp) / 10
    assert laplacian_variance(np.zeros((2, 2))) == 0.0


def test_small_blurry_or_turned_faces_rank_lower_and_do_not_enrol():
    big = np.array([0, 0, 200, 200.0])
    good, q_good, ok = assess(big, TEMPLATE_112 * 1.8, 0.95, 400.0)
    assert ok and q_good > 0.8 and good["size_px"] == 200
    _, q_small, ok_small = assess(np.array([0, 0, 26, 26.0]), TEMPLATE_112 / 4, 0.95, 400.0)
    _, q_blur, ok_blur = assess(big, TEMPLATE_112 * 1.8, 0.95, 5.0)
    turned = TEMPLATE_112.copy()
    turned[2, 0] += 14
    _, q_turn, ok_turn = assess(big, turned * 1.8, 0.95, 400.0)
    for q, enrol in ((q_small, ok_small), (q_blur, ok_blur), (q_turn, ok_turn)):
        assert 0 < q < q_good and not enrol


def test_similarity_transform_is_exact_on_a_similar_copy():
    src = rotate(TEMPLATE_112 * 2.5 + 40, 15)
    m = similarity_transform(src)
    mapped = src @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - TEMPLATE_112).max() < 1e-6
