"""Detection pyramid and tiling plans (pure Python, no torch).

YuNet sees faces from about ``native_min_face`` pixels up to roughly the size
of its input. A single pass over a large frame shrunk to 640 px misses small
faces, and a single pass at full resolution is slow and misses nothing big only
by luck. So each image is scanned at a few scales, factor 2 apart, from "whole
image fits one 640-px tile" up to the scale at which the smallest wanted face
(``min_face_px`` in the original) reaches the detector's native minimum. Levels
larger than one tile are cut into overlapping tiles of a fixed size, which also
gives equal tensor shapes to batch on a GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: YuNet's strides; its input sides must be multiples of the largest.
STRIDE = 32


@dataclass(frozen=True, slots=True)
class Tile:
    """One detector input: a window of a pyramid level, in that level's pixels."""

    level: int
    scale: float
    y0: int
    x0: int
    height: int  # content height (<= padded height)
    width: int
    pad_height: int  # multiple of STRIDE
    pad_width: int
    edges: tuple[bool, bool, bool, bool]  # (top, left, bottom, right) touch the image border


def round_up(value: int, multiple: int = STRIDE) -> int:
    return max(multiple, int(math.ceil(value / multiple)) * multiple)


def plan_scales(
    height: int,
    width: int,
    tile: int = 640,
    min_face_px: float = 20.0,
    native_min_face: float = 20.0,
    max_upscale: float = 2.0,
    max_level_pixels: int = 16_000_000,
) -> list[float]:
    """Scales (level size / image size), coarse to fine.

    The coarsest level fits the whole image in one tile (never upscaled beyond
    ``max_upscale``); the finest is where a ``min_face_px`` face becomes
    ``native_min_face`` pixels, capped by ``max_upscale`` and by the level's pixel
    count. Levels between are spaced by factor 2.
    """
    long_side = max(height, width)
    coarse = min(tile / long_side, max_upscale)
    fine = min(native_min_face / max(min_face_px, 1.0), max_upscale)
    fine = min(fine, math.sqrt(max_level_pixels / max(height * width, 1)))
    scales = [coarse]
    while scales[-1] * 2.0 <= fine * 1.0001:
        scales.append(scales[-1] * 2.0)
    if fine > scales[-1] * 1.25:
        scales.append(fine)
    return scales


def plan_tiles(
    height: int, width: int, scales: list[float], tile: int = 640, overlap: int = 128, balanced: bool = False
) -> list[Tile]:
    """Cut each level into tiles of at most ``tile`` px overlapping by at least ``overlap``.

    Fixed tiles (the default) are all ``tile`` px wherever the level is larger, the last one aligned to the
    far edge: equal shapes to batch on a GPU, at the price of overlaps of up to a tile. ``balanced`` tiles
    split each side into the fewest equal parts that respect ``tile`` and ``overlap``: ~10-25 % fewer pixels
    through the detector for the same coverage, for CPUs, which run tiles one by one anyway.
    """
    tiles: list[Tile] = []
    starts = _balanced_starts if balanced else _starts
    for level, scale in enumerate(scales):
        lh = max(1, int(round(height * scale)))
        lw = max(1, int(round(width * scale)))
        ys, tile_h = starts(lh, tile, overlap)
        xs, tile_w = starts(lw, tile, overlap)
        for y0 in ys:
            th = min(tile_h, lh - y0)
            for x0 in xs:
                tw = min(tile_w, lw - x0)
                tiles.append(
                    Tile(
                        level=level,
                        scale=scale,
                        y0=y0,
                        x0=x0,
                        height=th,
                        width=tw,
                        pad_height=round_up(th),
                        pad_width=round_up(tw),
                        edges=(y0 == 0, x0 == 0, y0 + th >= lh, x0 + tw >= lw),
                    )
                )
    return tiles


def _starts(length: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """Tiles of ``tile`` px every ``tile - overlap`` px, the last one ending at the far edge."""
    if length <= tile:
        return [0], length
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts, tile


def _balanced_starts(length: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """The fewest tiles of one size <= ``tile`` covering ``length`` with neighbours overlapping >= ``overlap``."""
    if length <= tile:
        return [0], length
    count = math.ceil((length - overlap) / (tile - overlap))
    # One spare pixel per seam absorbs the rounding of the starts; sides are whole multiples of the stride
    # where the tile allows (the network pads to one anyway).
    size = min(tile, round_up(math.ceil((length + (count - 1) * (overlap + 1)) / count)))
    step = (length - size) / (count - 1)
    return [int(round(k * step)) for k in range(count)], size


def keep_in_tile(box: tuple[float, float, float, float], tile: Tile, margin: float = 2.0) -> bool:
    """False for a box cut by an inner tile edge (its face continues in the next tile)."""
    x1, y1, x2, y2 = box
    top, left, bottom, right = tile.edges
    if not top and y1 <= margin:
        return False
    if not left and x1 <= margin:
        return False
    if not bottom and y2 >= tile.height - margin:
        return False
    return right or x2 < tile.width - margin
