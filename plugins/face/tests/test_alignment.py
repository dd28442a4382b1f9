"""The aligned crop samples the pixels the similarity transform points at (cv2.warpAffine semantics)."""

import numpy as np
import torch

from plugins.face.alignment import TEMPLATE_112, similarity_transform, similarity_transforms, warp_faces


def reference_warp(image: np.ndarray, matrix: np.ndarray, size: int = 112) -> np.ndarray:
    """Direct float64 bilinear sampling: output pixel (u, v) <- source pixel inverse(matrix) @ (u, v, 1)."""
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))
    v, u = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64), indexing="ij")
    x = inverse[0, 0] * u + inverse[0, 1] * v + inverse[0, 2]
    y = inverse[1, 0] * u + inverse[1, 1] * v + inverse[1, 2]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    out = np.zeros((image.shape[0], size, size))
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - np.abs(x - xi)) * (1 - np.abs(y - yi))
            inside = (xi >= 0) & (xi < image.shape[2]) & (yi >= 0) & (yi < image.shape[1])
            pixels = image[:, yi.clip(0, image.shape[1] - 1), xi.clip(0, image.shape[2] - 1)]
            out += np.where(inside, pixels, 0) * weight
    return out


def test_crops_match_direct_sampling_including_faces_cut_by_the_border():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (3, 120, 160))
    landmarks = [
        [[70, 50], [90, 49], [80, 62], [72, 75], [89, 74]],  # inside
        [[2, 5], [22, 8], [12, 18], [4, 30], [20, 32]],  # cut by the top-left border
        [[130, 60], [150, 70], [138, 80], [128, 90], [146, 98]],  # rotated, cut on the right
    ]
    matrices = np.stack([similarity_transform(np.asarray(lm, float)) for lm in landmarks])
    crops = warp_faces(torch.from_numpy(image.astype(np.float32)), matrices).numpy()
    for crop, matrix in zip(crops, matrices, strict=True):
        assert np.abs(crop - reference_warp(image, matrix)).max() < 0.05


def test_stacked_transforms_equal_one_at_a_time_including_mirrored_point_sets():
    rng = np.random.default_rng(1)
    sets = rng.uniform(0, 500, (20, 5, 2))
    sets[3] = sets[3][:, ::-1]  # x/y swapped: the best rotation would be a reflection
    stacked = similarity_transforms(sets)
    for points, matrix in zip(sets, stacked, strict=True):
        assert np.allclose(matrix, similarity_transform(points), atol=1e-9)
        assert np.linalg.det(matrix[:, :2]) > 0  # a rotation, never a mirror
    exact = similarity_transforms(TEMPLATE_112[None] * 2.0 + 7.0)[0]
    assert np.allclose(exact, [[0.5, 0.0, -3.5], [0.0, 0.5, -3.5]])
