"""Tiling plans: balanced CPU tiles cover every pixel with the promised overlap, with fewer detector pixels."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.face.pyramid import STRIDE, plan_scales, plan_tiles


def coverage(tiles, height: int, width: int) -> np.ndarray:
    seen = np.zeros((height, width), np.int32)
    for t in tiles:
        seen[t.y0 : t.y0 + t.height, t.x0 : t.x0 + t.width] += 1
    return seen


@pytest.mark.parametrize("side", [641, 700, 1281, 1434, 2333, 4099])
@pytest.mark.parametrize(("tile", "overlap"), [(640, 128), (1280, 128), (640, 64)])
def test_balanced_tiles_cover_the_level_overlap_enough_and_fit(side, tile, overlap):
    tiles = plan_tiles(side, 999, [1.0], tile, overlap, balanced=True)
    assert coverage(tiles, side, 999).min() >= 1
    ys = sorted({t.y0 for t in tiles})
    heights = {t.height for t in tiles}
    assert len(heights) == 1 and heights.pop() <= tile  # one tile size per level and axis
    height = tiles[0].height
    assert all(b - a <= height - overlap for a, b in zip(ys, ys[1:], strict=False))  # seams overlap >= overlap
    assert len(ys) <= len({t.y0 for t in plan_tiles(side, 999, [1.0], tile, overlap)})
    for t in tiles:
        assert t.pad_height % STRIDE == 0 and t.pad_height >= t.height
        assert t.edges[0] == (t.y0 == 0) and t.edges[2] == (t.y0 + t.height == side)


def test_balanced_tiles_send_fewer_pixels_through_the_detector():
    """A 1434 x 2333 photo (dev corpus obama3.jpg) at the default pyramid: fixed 640-px tiles send 1.93x the
    level pixels through YuNet; balanced tiles of up to 1280 px send 1.15x."""
    height, width = 2333, 1434
    scales = plan_scales(height, width)
    level = sum(round(height * s) * round(width * s) for s in scales)

    def pixels(tiles) -> int:
        return sum(t.pad_height * t.pad_width for t in tiles)

    fixed = pixels(plan_tiles(height, width, scales, 640, 128))
    balanced = pixels(plan_tiles(height, width, scales, 1280, 128, balanced=True))
    assert fixed > 1.9 * level
    assert balanced < 1.2 * level
