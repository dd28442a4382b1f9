"""Landmark (spectral-peak pair) fingerprints, Wang (2003) style, computed with torch.

Why torch: the same code runs batched on a GPU worker and on CPU, and the two
expensive steps (STFT, 2-D max filter for peak picking) are single kernels.

Pipeline for mono audio at ``sample_rate``:

1. log power spectrogram (``n_fft``/``hop``), whitened per frequency bin by
   subtracting a running mean over ``norm_frames`` frames (the same thing
   audfprint's time high-pass does): stationary hum, spectral tilt, MP3 and
   telephone colouring and most of a stationary noise floor cancel out;
2. peaks = points equal to the max of a ``(2*peak_df+1) x (2*peak_dt+1)``
   neighbourhood (``max_pool2d``) that stand ``min_prominence`` dB above the
   running mean and above an absolute floor (so digital silence gives nothing).
   The max filter is translation invariant, so a query cut anywhere in a
   recording picks the same peaks as the reference did;
3. each anchor peak is paired with the first ``fanout`` peaks of its target
   zone (``1 <= dt <= dt_max`` frames, ``|df| <= df_max`` bins);
4. a pair becomes a 32-bit hash ``f1 | df | dt`` (see ``pack``) and is stored
   with the anchor's frame index.

Queries use a denser setting (a larger fan-out and two sub-hop shifts): the
reference pairs are then a subset of the query pairs when the audio is the
same, and a peak that noise moved by a frame is still paired, which buys noise
robustness without storing more per hour of reference audio.

Long files are processed in chunks with frame-aligned margins (``stream``):
every anchor is emitted by exactly one chunk and sees the same neighbourhood
as in a whole-file pass, so results do not depend on the chunk size.

Public surface: ``LandmarkParams``, ``REFERENCE``, ``QUERY``, ``Fingerprint``,
``extract``, ``stream``, ``pack``, ``unpack``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, slots=True)
class LandmarkParams:
    """Everything that changes the hashes; changing a field requires re-ingesting references."""

    sample_rate: int = 8000
    n_fft: int = 512
    hop: int = 128
    f_min_bin: int = 4  # ignore < 62 Hz (rumble, hum)
    f_max_bin: int = 255  # < 3.98 kHz; 8 bits for f1
    norm_frames: int = 125  # running-mean window for whitening (2 s at 62.5 frames/s)
    norm_bins: int = 31  # ... and its height in bins (1: per-bin whitening; large: broadband level only)
    peak_df: int = 8  # max-filter half height (bins)
    peak_dt: int = 8  # max-filter half width (frames)
    min_prominence: float = 4.0  # dB above the running mean
    floor_db: float = -75.0  # absolute floor (dB re. full-scale sine power per bin)
    fanout: int = 6  # pairs per anchor; 0 means every pair of the target zone
    dt_max: int = 63  # frames (6 bits)
    df_max: int = 31  # bins (6 bits signed)
    shifts: int = 1  # sub-hop shifted analyses merged (queries only)

    @property
    def frame_s(self) -> float:
        """Seconds per frame (the unit of hash times)."""
        return self.hop / self.sample_rate

    @property
    def context_frames(self) -> int:
        """Frames of audio needed on each side of an anchor for chunked processing to be exact."""
        return self.norm_frames // 2 + self.peak_dt + self.dt_max + 4


#: Settings for reference (stored) audio: 6 pairs per peak (~250 hashes/s on the dev-corpus music).
REFERENCE = LandmarkParams()
#: Settings for query/evidence audio: same peaks, 10 pairs each, 2 sub-hop shifts (~770 hashes/s).
QUERY = replace(REFERENCE, fanout=10, shifts=2)

_DF_BITS = 6
_DT_BITS = 6
_F_BITS = 8


def pack(f1: NDArray[np.int64], df: NDArray[np.int64], dt: NDArray[np.int64]) -> NDArray[np.uint32]:
    """32-bit hash: bits 12..19 f1 (bin), 6..11 df+32, 0..5 dt; bits 20..31 zero (reserved).

    20 significant bits keep every hash value in a 1 Mi-entry table (dense CSR
    index in memory, small btree in PostgreSQL); the reserved high bits let a
    later model version add information without changing the column type.
    """
    return (
        (f1.astype(np.uint32) << (_DF_BITS + _DT_BITS))
        | ((df + (1 << (_DF_BITS - 1))).astype(np.uint32) << _DT_BITS)
        | dt.astype(np.uint32)
    )


def unpack(h: NDArray[np.uint32]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Inverse of ``pack``: (f1, df, dt)."""
    h64 = h.astype(np.int64)
    dt = h64 & ((1 << _DT_BITS) - 1)
    df = ((h64 >> _DT_BITS) & ((1 << _DF_BITS) - 1)) - (1 << (_DF_BITS - 1))
    f1 = (h64 >> (_DF_BITS + _DT_BITS)) & ((1 << _F_BITS) - 1)
    return f1, df, dt


HASH_SPACE = 1 << (_F_BITS + _DF_BITS + _DT_BITS)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Hashes and their anchor frame indices (frames of ``params.hop`` samples from the file start)."""

    hashes: NDArray[np.uint32]
    frames: NDArray[np.int32]
    duration_s: float
    params: LandmarkParams

    def __len__(self) -> int:
        return int(self.hashes.size)


def _spectrogram(x: torch.Tensor, p: LandmarkParams) -> torch.Tensor:
    """Whitened log power (B, F, T) in dB; frame k is centred on sample k*hop."""
    import torch
    import torch.nn.functional as F

    window = torch.hann_window(p.n_fft, device=x.device, dtype=x.dtype)
    spec = torch.stft(x, p.n_fft, hop_length=p.hop, window=window, center=True, pad_mode="constant",
                      return_complex=True)
    power = spec.real.square() + spec.imag.square()
    power = power[:, p.f_min_bin : p.f_max_bin + 1, :]
    # 0 dB = full-scale sine; the Hann window sum squared / 4 normalises it.
    ref = (window.sum() / 2) ** 2
    logp = 10.0 * torch.log10(power / ref + 1e-12)
    k = p.norm_frames | 1
    mean = F.avg_pool1d(logp, k, stride=1, padding=k // 2, count_include_pad=False)
    if p.norm_bins > 1:
        kb = p.norm_bins | 1
        b, nf, nt = mean.shape
        mean = F.avg_pool1d(mean.transpose(1, 2).reshape(b * nt, nf), kb, stride=1, padding=kb // 2,
                            count_include_pad=False).reshape(b, nt, nf).transpose(1, 2)
    return torch.stack((logp, logp - mean), dim=0)


def _peaks(x: torch.Tensor, p: LandmarkParams) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Per batch row: (frame, bin) of peaks sorted by frame then bin; bins are absolute STFT bins."""
    import torch
    import torch.nn.functional as F

    logp, white = _spectrogram(x, p)
    # The 2-D max filter is separable: two 1-D passes cost 2k instead of k*k per point, and
    # max_pool1d over the contiguous last axis is ~10x faster on CPU than max_pool2d.
    b, nf, nt = white.shape
    along_f = F.max_pool1d(white.transpose(1, 2).reshape(b * nt, nf), 2 * p.peak_df + 1, stride=1,
                           padding=p.peak_df)
    along_f = along_f.reshape(b, nt, nf).transpose(1, 2).reshape(b * nf, nt)
    pooled = F.max_pool1d(along_f, 2 * p.peak_dt + 1, stride=1, padding=p.peak_dt).reshape(b, nf, nt)
    mask = (white == pooled) & (white >= p.min_prominence) & (logp >= p.floor_db)
    out = []
    for b in range(mask.shape[0]):
        fi, ti = torch.nonzero(mask[b], as_tuple=True)
        t = ti.cpu().numpy().astype(np.int64)
        f = fi.cpu().numpy().astype(np.int64) + p.f_min_bin
        order = np.lexsort((f, t))
        out.append((t[order], f[order]))
    return out


def _pairs(t: NDArray[np.int64], f: NDArray[np.int64], p: LandmarkParams
           ) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """Pair each peak with peaks of its target zone; returns (hashes, anchor frames)."""
    n = t.size
    if n < 2:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    reach = np.searchsorted(t, t + p.dt_max, side="right") - np.arange(n)
    width = int(max(1, reach.max() - 1))
    idx = np.arange(n)[:, None] + np.arange(1, width + 1)[None, :]
    valid = idx < n
    idx = np.minimum(idx, n - 1)
    dt = t[idx] - t[:, None]
    df = f[idx] - f[:, None]
    zone = valid & (dt >= 1) & (dt <= p.dt_max) & (np.abs(df) <= p.df_max)
    if p.fanout > 0:
        zone &= np.cumsum(zone, axis=1) <= p.fanout
    rows, cols = np.nonzero(zone)
    return pack(f[rows], df[rows, cols], dt[rows, cols]), t[rows]


def _landmarks(x: torch.Tensor, p: LandmarkParams) -> list[tuple[NDArray[np.uint32], NDArray[np.int64]]]:
    return [_pairs(t, f, p) for t, f in _peaks(x, p)]


def extract_batch(signals: list[NDArray[np.float32]], p: LandmarkParams, device: str = "cpu") -> list[Fingerprint]:
    """Fingerprint several whole signals (already at ``p.sample_rate``) in one batched pass.

    Signals are zero-padded to the longest; the padding is silence, which gives
    no peaks above the floor, so it does not create hashes. With ``p.shifts > 1``
    the analysis is repeated with the signal delayed by fractions of a hop and
    the hashes merged (times rounded to the unshifted grid).
    """
    import torch

    if not signals:
        return []
    longest = max(s.size for s in signals)
    results: list[list[tuple[NDArray[np.uint32], NDArray[np.int64]]]] = [[] for _ in signals]
    with torch.inference_mode():
        for s in range(max(1, p.shifts)):
            delay = (s * p.hop) // max(1, p.shifts)
            batch = np.zeros((len(signals), longest + delay), np.float32)
            for i, sig in enumerate(signals):
                batch[i, delay : delay + sig.size] = sig
            x = torch.from_numpy(batch).to(device)
            for i, (h, fr) in enumerate(_landmarks(x, p)):
                results[i].append((h, fr))
    out = []
    for i, sig in enumerate(signals):
        hs = np.concatenate([h for h, _ in results[i]])
        fs = np.concatenate([fr for _, fr in results[i]])
        if p.shifts > 1:  # the same pair seen by two shifts: keep one
            key = np.unique((fs.astype(np.int64) << 32) | hs.astype(np.int64))
            hs, fs = (key & 0xFFFFFFFF).astype(np.uint32), key >> 32
        out.append(Fingerprint(hs.astype(np.uint32), fs.astype(np.int32), sig.size / p.sample_rate, p))
    return out


def extract(signal: NDArray[np.float32], p: LandmarkParams = REFERENCE, device: str = "cpu") -> Fingerprint:
    """Fingerprint one whole signal at ``p.sample_rate`` (see ``stream`` for long files)."""
    return extract_batch([signal], p, device)[0]


def stream(chunks: Iterable[tuple[float, NDArray[np.float32]]], p: LandmarkParams = REFERENCE,
           device: str = "cpu", block_s: float = 60.0) -> Iterator[Fingerprint]:
    """Fingerprint a long recording block by block with bounded memory.

    ``chunks`` are ``(start_s, samples)`` pairs as yielded by ``media_io.iter_audio``
    (contiguous, at ``p.sample_rate``). Each yielded ``Fingerprint`` holds the
    anchors of one ``block_s`` block with absolute frame indices; it was computed
    on the block plus ``context_frames`` of audio on each side, so the union over
    blocks equals a whole-file pass. Memory is O(block_s + context).
    """
    hop = p.hop
    block = max(1, int(block_s * p.sample_rate) // hop) * hop
    ctx = p.context_frames * hop
    buf = np.zeros(0, np.float32)
    buf_start = 0  # absolute sample index of buf[0]
    next_anchor = 0  # absolute sample index of the next block to emit
    total = 0
    for _, samples in chunks:
        buf = np.concatenate((buf, samples.astype(np.float32, copy=False)))
        total += samples.size
        while total - next_anchor >= block + ctx:
            yield _block(buf, buf_start, next_anchor, next_anchor + block, p, device)
            next_anchor += block
            drop = max(0, next_anchor - ctx - buf_start)
            buf = buf[drop:]
            buf_start += drop
    while next_anchor < total or next_anchor == 0:
        end = min(total, next_anchor + block)
        yield _block(buf, buf_start, next_anchor, end, p, device, total_s=total / p.sample_rate)
        next_anchor += block
        if end >= total:
            break


def _block(buf: NDArray[np.float32], buf_start: int, a0: int, a1: int, p: LandmarkParams, device: str,
           total_s: float | None = None) -> Fingerprint:
    """Anchors with sample position in [a0, a1), computed on buf (which starts at buf_start)."""
    ctx = p.context_frames * p.hop
    lo = max(buf_start, a0 - ctx)
    seg = buf[lo - buf_start : a1 + ctx - buf_start]
    fp = extract(seg, p, device)
    f0 = lo // p.hop  # lo is a multiple of hop, so frames stay on the global grid
    frames = fp.frames.astype(np.int64) + f0
    keep = (frames >= a0 // p.hop) & (frames < -(-a1 // p.hop))
    dur = total_s if total_s is not None else a1 / p.sample_rate
    return Fingerprint(fp.hashes[keep], frames[keep].astype(np.int32), dur, p)


def concat(parts: Iterable[Fingerprint], p: LandmarkParams) -> Fingerprint:
    """Join the blocks of ``stream`` into one fingerprint."""
    parts = list(parts)
    if not parts:
        return Fingerprint(np.zeros(0, np.uint32), np.zeros(0, np.int32), 0.0, p)
    return Fingerprint(np.concatenate([x.hashes for x in parts]), np.concatenate([x.frames for x in parts]),
                       max(x.duration_s for x in parts), p)
