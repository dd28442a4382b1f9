"""Train the optional linear head (``head_v1.npz``) on the calibration half of the dev corpus.

Usage: ``python -m plugins.audio_events.train_head CORPUS_DIR [OUT.npz]``

Only the calibration half of the clips and backgrounds (``devdata.halves(...)[0]``) is used, so the
benchmark's test half stays unseen. Labels with fewer than two distinct training clips (alarm, scream in
this corpus) are left to YAMNet alone; sirens are synthetic. Patch targets: an event covers at least
0.2 s of the 0.975 s patch (or half of a shorter event).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np

from plugins.audio_events import model as M
from plugins.audio_events.devdata import EVAL_CLASSES, halves, load_corpus, make_scenes
from plugins.audio_events.head import HEAD_FILE, features, fit
from plugins.audio_events.pipeline import Yamnet
from plugins.audio_events.plugin import default_model_dir
from retrieval.media_io import read_audio

SCENES_PER_SNR = 24
SEED = 11


def main(argv: list[str]) -> int:
    import torch

    if len(argv) < 2:
        sys.stderr.write(__doc__.strip().splitlines()[2] + "\n")
        return 2
    torch.set_num_threads(2)
    corpus = Path(argv[1])
    out = Path(argv[2]) if len(argv) > 2 else HEAD_FILE
    data = load_corpus(corpus)
    pool = {
        "events": {c: halves(v)[0] for c, v in data["events"].items()},
        "music": halves(data["music"])[0], "speech": halves(data["speech"])[0], "ambient": data["ambient"],
    }
    labels = [c for c in EVAL_CLASSES if c == "siren" or len({clip.name for clip in pool["events"].get(c, [])}) >= 2]
    labels = [c for c in labels if c != "speech"]
    yamnet = Yamnet(default_model_dir())
    xs, ts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for scene in make_scenes("head", pool, corpus, Path(tmp), SCENES_PER_SNR, seed=SEED):
            wave = read_audio(scene.path, sample_rate=M.SAMPLE_RATE)
            wave = np.pad(wave, (0, M.padded_length(wave.size) - wave.size))
            logits, emb, _, _ = yamnet.run(wave)
            t0 = np.arange(logits.shape[0]) * M.PATCH_HOP_SAMPLES / M.SAMPLE_RATE
            t1 = t0 + M.PATCH_SAMPLES / M.SAMPLE_RATE
            target = np.zeros((logits.shape[0], len(labels)), np.float32)
            for cls, a, b in scene.refs:
                if cls in labels:
                    overlap = np.clip(np.minimum(t1, b) - np.maximum(t0, a), 0, None)
                    hit = overlap >= min(0.2, 0.5 * (b - a))
                    target[:, labels.index(cls)] = np.maximum(target[:, labels.index(cls)], hit)
            xs.append(features(emb, logits))
            ts.append(target)
    arrays = fit(np.concatenate(xs), np.concatenate(ts), labels, seed=0)
    np.savez(out, **arrays)
    sys.stdout.write(f"{hashlib.sha256(out.read_bytes()).hexdigest()}  {out}  labels={labels} "
                     f"patches={sum(x.shape[0] for x in xs)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
