"""Small pictures of evidence: image thumbnails, video poster frames, audio waveforms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval import media_io

THUMB_SIDE = 320
WAVE_SIZE = (640, 120)


def image_thumbnail(src: Path, dest: Path) -> None:
    from PIL import Image

    rgb = media_io.read_image(src, max_side=THUMB_SIDE * 2)
    img = Image.fromarray(rgb)
    img.thumbnail((THUMB_SIDE, THUMB_SIDE))
    _save_png(img, dest)


def video_poster(src: Path, dest: Path, at_s: float) -> bool:
    """Poster frame at about ``at_s`` seconds (first decodable frame at or after it). False if none."""
    from PIL import Image

    best = None
    for frame in media_io.iter_video_frames(src, every_s=max(at_s, 0.001), max_side=THUMB_SIDE * 2):
        best = frame
        if frame.time_s + 1e-6 >= at_s:
            break
    if best is None:
        return False
    img = Image.fromarray(best.rgb)
    img.thumbnail((THUMB_SIDE, THUMB_SIDE))
    _save_png(img, dest)
    return True


def audio_waveform(src: Path, dest: Path, duration_s: float | None) -> float:
    """Min/max envelope of the whole recording, streamed (bounded memory). Returns decoded duration."""
    from PIL import Image, ImageDraw

    width, height = WAVE_SIZE
    rate = 8000
    total_expected = int((duration_s or 0) * rate)
    # Collect per-column min/max; columns are assigned by sample position.
    mins = np.zeros(width, np.float32)
    maxs = np.zeros(width, np.float32)
    seen = 0
    envelope: list[tuple[float, float]] = []
    block = max(1, total_expected // width) if total_expected else rate // 10
    carry = np.zeros(0, np.float32)
    for _, chunk in media_io.iter_audio(src, sample_rate=rate, chunk_s=30.0):
        seen += chunk.size
        data = np.concatenate([carry, chunk])
        n_blocks = data.size // block
        if n_blocks:
            shaped = data[: n_blocks * block].reshape(n_blocks, block)
            envelope.extend(zip(shaped.min(axis=1).tolist(), shaped.max(axis=1).tolist(), strict=True))
        carry = data[n_blocks * block :]
        if len(envelope) > 8 * width:  # unknown duration: fold the envelope to stay bounded
            env = np.asarray(envelope, np.float32)
            pairs = env[: len(env) // 2 * 2].reshape(-1, 2, 2)
            envelope = list(zip(pairs[:, :, 0].min(axis=1).tolist(), pairs[:, :, 1].max(axis=1).tolist(),
                                strict=True))
            block *= 2
    if carry.size:
        envelope.append((float(carry.min()), float(carry.max())))
    # A file that decodes short of the duration it declares (truncated, damaged) keeps its time axis: the
    # decoded part is drawn where it plays, the rest is shaded, instead of stretching the part over the width.
    missing_from = width
    if total_expected and seen < total_expected and len(envelope) < total_expected // block:
        missing_from = int(width * seen / total_expected)
        envelope.extend([(0.0, 0.0)] * (total_expected // block - len(envelope)))
    env = np.asarray(envelope or [(0.0, 0.0)], np.float32)
    cols = np.linspace(0, len(env), width + 1).astype(int)
    for i in range(width):
        seg = env[cols[i] : max(cols[i + 1], cols[i] + 1)]
        mins[i], maxs[i] = seg[:, 0].min(), seg[:, 1].max()
    peak = float(max(np.abs(mins).max(), np.abs(maxs).max(), 1e-6))
    img = Image.new("RGB", (width, height), (248, 250, 252))
    draw = ImageDraw.Draw(img)
    if missing_from < width:
        draw.rectangle([(missing_from, 0), (width, height)], fill=(226, 232, 240))
    mid = height / 2
    draw.line([(0, mid), (width, mid)], fill=(203, 213, 225))
    for x in range(min(width, missing_from + 1)):
        y1 = mid - (maxs[x] / peak) * (mid - 4)
        y2 = mid - (mins[x] / peak) * (mid - 4)
        draw.line([(x, y1), (x, max(y2, y1 + 1))], fill=(37, 99, 235))
    _save_png(img, dest)
    return seen / rate


def _save_png(img: object, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp.png")
    img.save(tmp, format="PNG")  # type: ignore[attr-defined]
    tmp.replace(dest)
