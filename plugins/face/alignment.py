"""Five-point face alignment to SFace's 112x112 template.

The similarity transform is estimated in numpy (Umeyama, as OpenCV's
``FaceRecognizerSF.alignCrop`` does); the warp itself runs in torch with
``grid_sample`` so all faces of a batch are cropped on the device at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Landmark template of ArcFace/SFace for a 112x112 crop (right eye, left eye, nose, mouth right, mouth left).
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(src: NDArray[np.floating], dst: NDArray[np.floating] = TEMPLATE_112) -> NDArray[np.float64]:
    """Least-squares rotation+uniform scale+translation mapping ``src`` points onto ``dst`` (2x3 matrix)."""
    return similarity_transforms(np.asarray(src, dtype=np.float64)[None], dst)[0]


def similarity_transforms(src: NDArray[np.floating], dst: NDArray[np.floating] = TEMPLATE_112) -> NDArray[np.float64]:
    """``similarity_transform`` for a stack of point sets (n, k, 2) -> (n, 2, 3), in one pass (Umeyama)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(1, keepdims=True), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = np.einsum("kj,nki->nji", dst_c, src_c) / src.shape[1]  # (n, 2, 2): dst_c.T @ src_c per set
    u, sing, vt = np.linalg.svd(cov)
    d = np.ones((len(src), 2))
    d[np.linalg.det(u) * np.linalg.det(vt) < 0, 1] = -1.0
    rot = u @ (d[:, :, None] * vt)
    var = (src_c**2).sum(axis=(1, 2)) / src.shape[1]
    scale = np.where(var > 0, (sing * d).sum(1) / np.where(var > 0, var, 1.0), 1.0)
    matrix = np.zeros((len(src), 2, 3))
    matrix[:, :, :2] = scale[:, None, None] * rot
    matrix[:, :, 2] = dst_mean - np.einsum("nij,nj->ni", matrix[:, :, :2], src_mean[:, 0])
    return matrix


def warp_faces(image: Any, matrices: NDArray[np.float64], size: int = 112) -> Any:
    """Crop ``len(matrices)`` aligned faces from one image tensor (3, H, W) -> (n, 3, size, size).

    Same sampling as ``cv2.warpAffine`` (bilinear, pixel centres at integers, zero border). The
    sampling grid is made on the image's device from one 2x3 matrix per face: building it on the
    host (12,544 points per face) cost more than the whole GPU analysis of the image.
    """
    import torch
    import torch.nn.functional as F

    n = len(matrices)
    _, height, width = image.shape
    # normalised output coords (align_corners=False) -> output pixel -> source pixel -> normalised source coords
    out_pixel = np.array([[size / 2, 0.0, (size - 1) / 2], [0.0, size / 2, (size - 1) / 2], [0.0, 0.0, 1.0]])
    in_norm = np.array([[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, 2.0 / height, 1.0 / height - 1.0], [0, 0, 1.0]])
    full = np.zeros((n, 3, 3))
    full[:, :2] = matrices
    full[:, 2, 2] = 1.0
    theta = (in_norm @ np.linalg.inv(full) @ out_pixel)[:, :2]
    theta_t = torch.from_numpy(theta).to(device=image.device, dtype=torch.float32)
    grid = F.affine_grid(theta_t, [n, 3, size, size], align_corners=False).to(image.dtype)
    return F.grid_sample(
        image[None].expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
