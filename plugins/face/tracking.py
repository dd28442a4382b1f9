"""Link the faces of a video's sampled frames into face tracks (pure numpy/scipy).

Frames are sampled about once a second, so a face can move a lot between two
samples: box overlap alone is not enough, and embedding similarity alone would
merge two look-alikes standing side by side. A face joins a track when

* its box overlaps the track's last box (IoU >= ``iou_min``) and its embedding
  is not clearly someone else (cosine >= ``sim_with_overlap``), or
* without overlap, its embedding is close to the track's (cosine >= ``sim_alone``),
  e.g. after the person moved or the shot changed,

with a one-to-one assignment per frame (Hungarian). A track closes after
``max_gap_s`` seconds without a face. Each track keeps its time span, the
members, a quality-weighted mean embedding and its best-quality face.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class FrameFace:
    """One face in one sampled frame (what the face plugin returned for it)."""

    box: tuple[float, float, float, float]
    vector: NDArray[np.float32]
    quality_score: float = 1.0
    det_score: float = 1.0
    ref: Any = None  # caller's handle (e.g. the finding id); returned in tracks untouched


@dataclass(frozen=True, slots=True)
class Frame:
    time_s: float
    faces: Sequence[FrameFace]
    ref: Any = None  # caller's handle for the frame


@dataclass(slots=True)
class Track:
    """A face followed across frames."""

    start_s: float
    end_s: float
    members: list[tuple[int, int]] = field(default_factory=list)  # (frame index, face index)
    vector: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    best: tuple[int, int] = (0, 0)  # (frame index, face index) of the best-quality face
    best_quality: float = -1.0
    last_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    _sum: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def add(self, frame_idx: int, face_idx: int, time_s: float, face: FrameFace) -> None:
        weight = max(float(face.quality_score), 0.05)
        vec = np.asarray(face.vector, dtype=np.float64)
        self._sum = vec * weight if self._sum.size == 0 else self._sum + vec * weight
        norm = float(np.linalg.norm(self._sum))
        self.vector = (self._sum / norm if norm > 0 else self._sum).astype(np.float32)
        self.members.append((frame_idx, face_idx))
        self.end_s = time_s
        self.last_box = tuple(float(v) for v in face.box)  # type: ignore[assignment]
        if face.quality_score > self.best_quality:
            self.best_quality = float(face.quality_score)
            self.best = (frame_idx, face_idx)


TRACK_DEFAULTS: Mapping[str, float] = {
    "iou_min": 0.2,
    "sim_with_overlap": 0.15,
    "sim_alone": 0.5,
    "max_gap_s": 3.0,
}


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def build_tracks(frame_faces: Sequence[Frame], **settings: float) -> list[Track]:
    """Group the faces of time-ordered frames into tracks; every face ends up in exactly one track.

    ``frame_faces`` may be in any order; it is sorted by ``time_s`` (indices in the
    result refer to the caller's order). Settings override ``TRACK_DEFAULTS``.
    """
    from scipy.optimize import linear_sum_assignment

    cfg = {**TRACK_DEFAULTS, **settings}
    order = sorted(range(len(frame_faces)), key=lambda i: frame_faces[i].time_s)
    active: list[Track] = []
    done: list[Track] = []
    for fi in order:
        frame = frame_faces[fi]
        t = float(frame.time_s)
        still = [tr for tr in active if t - tr.end_s <= cfg["max_gap_s"]]
        done.extend(tr for tr in active if t - tr.end_s > cfg["max_gap_s"])
        active = still
        faces = list(frame.faces)
        matched: set[int] = set()
        if active and faces:
            cost = np.full((len(active), len(faces)), 1e6)
            for a, tr in enumerate(active):
                for b, face in enumerate(faces):
                    sim = float(np.dot(tr.vector, np.asarray(face.vector, dtype=np.float32)))
                    iou = box_iou(tr.last_box, face.box)
                    if (iou >= cfg["iou_min"] and sim >= cfg["sim_with_overlap"]) or sim >= cfg["sim_alone"]:
                        cost[a, b] = (1.0 - sim) + (1.0 - iou)
            rows, cols = linear_sum_assignment(cost)
            for a, b in zip(rows, cols, strict=True):
                if cost[a, b] < 1e6:
                    active[a].add(fi, int(b), t, faces[b])
                    matched.add(int(b))
        for b, face in enumerate(faces):
            if b not in matched:
                track = Track(start_s=t, end_s=t)
                track.add(fi, b, t, face)
                active.append(track)
    done.extend(active)
    done.sort(key=lambda tr: (tr.start_s, tr.members[0]))
    return done
