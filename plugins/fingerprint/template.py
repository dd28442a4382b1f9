"""Minutiae templates: the in-memory form, the JSON form stored in findings, and ISO/IEC 19794-2:2005.

Conventions (the ISO ones, so exported records need no conversion): pixel coordinates at 500 dpi with the
origin top-left and y down; angle counter-clockwise from the x axis as seen on screen; kind 0 = ridge ending,
1 = bifurcation; quality 0..1 (MINDTCT reliability).

Public surface: ``Template``, ``to_iso19794_2``, ``from_iso19794_2``, ``as_template``.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

_PPCM_500DPI = 197  # ISO 19794-2:2005 stores resolution in pixels per centimetre
_ISO_TYPE = {0: 1, 1: 2}  # our kind -> ISO type (01 ending, 10 bifurcation)
_KIND = {1: 0, 2: 1, 0: 0}


@dataclass(frozen=True, slots=True)
class Template:
    """One print's minutiae (N, 5) ``x, y, theta, kind, quality`` plus image size and quality (0-100)."""

    minutiae: NDArray[np.float32]
    width: int
    height: int
    quality: int = 0

    @property
    def n(self) -> int:
        return int(self.minutiae.shape[0])

    def to_data(self) -> list[list[float]]:
        """Compact JSON rows ``[x, y, theta_deg, kind, quality]`` (one decimal for angles, two for quality)."""
        return [
            [int(round(x)), int(round(y)), round(float(np.degrees(t)) % 360.0, 1), int(k), round(float(q), 2)]
            for x, y, t, k, q in self.minutiae
        ]

    @staticmethod
    def from_data(rows: list[list[float]], width: int = 0, height: int = 0, quality: int = 0) -> Template:
        arr = np.asarray(rows, dtype=np.float32).reshape(-1, 5).copy()
        arr[:, 2] = np.radians(arr[:, 2])
        return Template(arr, int(width), int(height), int(quality))


def to_iso19794_2(t: Template, finger_position: int = 0) -> bytes:
    """ISO/IEC 19794-2:2005 finger minutiae record, one finger view, no extended data."""
    n = min(t.n, 255)
    body = bytearray(struct.pack(">BBBB", finger_position & 0xFF, 0, max(0, min(100, t.quality)), n))
    for x, y, theta, kind, q in t.minutiae[:n]:
        word_x = (_ISO_TYPE.get(int(kind), 0) << 14) | (int(round(x)) & 0x3FFF)
        word_y = int(round(y)) & 0x3FFF
        angle = int(round((np.degrees(theta) % 360.0) / (360.0 / 256.0))) % 256
        body += struct.pack(">HHBB", word_x, word_y, angle, int(round(np.clip(q, 0, 1) * 100)))
    body += struct.pack(">H", 0)
    head = b"FMR\x00" + b" 20\x00"
    head += struct.pack(">IH", 24 + len(body), 0)  # record length, capture equipment (unspecified)
    head += struct.pack(">HHHH", t.width & 0xFFFF, t.height & 0xFFFF, _PPCM_500DPI, _PPCM_500DPI)
    head += struct.pack(">BB", 1, 0)
    return bytes(head) + bytes(body)


def from_iso19794_2(data: bytes) -> Template:
    """Parse a record written by ``to_iso19794_2`` (or any 2005 record's first finger view)."""
    if len(data) < 30 or data[:4] != b"FMR\x00":
        raise ValueError("not an ISO/IEC 19794-2 finger minutiae record")
    width, height = struct.unpack(">HH", data[14:18])
    quality, n = data[26], data[27]
    rows = []
    off = 28
    for _ in range(n):
        word_x, word_y, angle, q = struct.unpack(">HHBB", data[off : off + 6])
        off += 6
        kind = _KIND.get(word_x >> 14, 0)
        rows.append([word_x & 0x3FFF, word_y & 0x3FFF, np.radians(angle * 360.0 / 256.0), kind, q / 100.0])
    arr = np.asarray(rows, dtype=np.float32).reshape(-1, 5)
    return Template(arr, int(width), int(height), int(quality))


def as_template(obj: Template | Mapping[str, Any] | bytes | str | NDArray[np.float32]) -> Template:
    """Accept a ``Template``, a finding's ``data`` mapping, ISO bytes, base64 ISO text, or an (N, 5) array."""
    if isinstance(obj, Template):
        return obj
    if isinstance(obj, np.ndarray):
        return Template(np.asarray(obj, dtype=np.float32).reshape(-1, 5), 0, 0)
    if isinstance(obj, Mapping):
        if "minutiae" in obj:
            size = obj.get("size") or (0, 0)
            return Template.from_data(obj["minutiae"], int(size[0]), int(size[1]), int(obj.get("quality") or 0))
        if "iso_template_b64" in obj:
            return from_iso19794_2(base64.b64decode(obj["iso_template_b64"]))
        raise ValueError("mapping has neither 'minutiae' nor 'iso_template_b64'")
    if isinstance(obj, str):
        return from_iso19794_2(base64.b64decode(obj))
    return from_iso19794_2(bytes(obj))
