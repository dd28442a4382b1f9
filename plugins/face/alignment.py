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
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, sing, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1.0
    rot = u @ np.diag(d) @ vt
    var = (src_c**2).sum() / len(src)
    scale = float((sing * d).sum() / var) if var > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rot
    matrix[:, 2] = dst_mean - scale * rot @ src_mean
    return matrix


def warp_faces(image: Any, matrices: NDArray[np.float64], size: int = 112) -> Any:
    """Crop ``len(matrices)`` aligned faces from one image tensor (3, H, W) -> (n, 3, size, size).

    Same sampling as ``cv2.warpAffine`` (bilinear, pixel centres at integers, zero border).
    """
    import torch
    import torch.nn.functional as F

    n = len(matrices)
    _, height, width = image.shape
    inv = np.zeros((n, 3, 3))
    for i, m in enumerate(matrices):
        full = np.vstack([m, [0.0, 0.0, 1.0]])
        inv[i] = np.linalg.inv(full)
    # output pixel (u, v) -> source pixel (x, y) -> normalised grid with align_corners=False
    coords = np.arange(size, dtype=np.float64)
    vv, uu = np.meshgrid(coords, coords, indexing="ij")
    ones = np.ones_like(uu)
    pts = np.stack([uu, vv, ones], axis=-1).reshape(-1, 3)  # (size*size, 3)
    src = np.einsum("nij,pj->npi", inv[:, :2, :], pts)  # (n, size*size, 2)
    gx = (2.0 * src[..., 0] + 1.0) / width - 1.0
    gy = (2.0 * src[..., 1] + 1.0) / height - 1.0
    grid = torch.from_numpy(np.stack([gx, gy], axis=-1).reshape(n, size, size, 2)).to(
        device=image.device, dtype=image.dtype
    )
    return F.grid_sample(
        image[None].expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
