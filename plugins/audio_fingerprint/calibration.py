"""Scores that mean something: chance-match significance, calibrated on audio that is in no reference.

Raw vote counts are not comparable across queries: a 10-s window against 1,000
hours casts far more chance votes than a 2-s one against 10 tracks. So a cell
with ``count`` offset-consistent matches out of ``n_votes`` votes is scored
against a Poisson chance model (votes spread over ``total_frames`` offsets):

    score = -log10( cells * P(Poisson(lam) >= count) ),  lam = n_votes * (2 tol + 1) / total_frames

i.e. minus log10 of the expected number of cells that chance alone would push
that high. Real audio is burstier than Poisson (loops, sustained notes, speech
harmonics), so the decision threshold is not taken from the model but measured:
``fit`` runs non-reference audio (speech, sound events, noise, music that is not
in the reference set) through the matcher and chooses the threshold whose
false-positive rate is the target (default 0.5 %). ``confidence(score)`` is
``1 - FPR(score)`` on that null set (log-linear interpolation, exponential tail
beyond it): 0.99 means "1 % of non-reference queries score this high".

The result is a small JSON file next to this module, produced by::

    .venv/bin/python -m plugins.audio_fingerprint.calibration /work/corpus

Public surface: ``chance_score``, ``Calibration``, ``fit``, ``load_default``, ``main``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DEFAULT_PATH = Path(__file__).with_name("calibration.json")


def chance_score(count: int, n_votes: int, total_frames: int, tol: int = 1) -> float:
    """-log10(expected number of chance cells with >= ``count`` votes); > 0 is already unlikely."""
    from plugins.audio_fingerprint.matcher import log10_poisson_tail

    width = 2 * tol + 1
    cells = max(1.0, total_frames / width)
    lam = n_votes * width / max(1, total_frames)
    return -(log10_poisson_tail(count, lam) + math.log10(cells))


@dataclass(frozen=True, slots=True)
class Calibration:
    """Decision threshold and score -> confidence map measured on non-reference audio."""

    threshold: float
    target_fpr: float
    knots_score: tuple[float, ...]  # increasing scores ...
    knots_fpr: tuple[float, ...]  # ... and the fraction of null queries scoring at least that
    tail_slope: float  # d log10(FPR) / d score beyond the last knot
    n_null: int
    note: str = ""

    def accepts(self, score: float) -> bool:
        """True when the score is above the 'no match' threshold."""
        return score >= self.threshold

    def fpr(self, score: float) -> float:
        """Estimated probability that non-reference audio scores at least ``score``."""
        xs, ys = self.knots_score, self.knots_fpr
        if not xs or score <= xs[0]:
            return 1.0
        if score >= xs[-1]:
            return float(max(1e-12, ys[-1] * 10 ** (self.tail_slope * (score - xs[-1]))))
        return float(10 ** np.interp(score, xs, np.log10(ys)))

    def confidence(self, score: float) -> float:
        """1 - FPR(score), in [0, 1]."""
        return 1.0 - self.fpr(score)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        d = json.loads(text)
        d["knots_score"] = tuple(d["knots_score"])
        d["knots_fpr"] = tuple(d["knots_fpr"])
        return cls(**d)


def fit(null_scores: Sequence[float], target_fpr: float = 0.005, note: str = "") -> Calibration:
    """Threshold and confidence map from the best score of each non-reference query.

    Queries with no candidate at all should be passed as ``-inf``/very low scores:
    they count in the denominator. The threshold is the larger of the empirical
    ``1 - target_fpr`` quantile and the value where an exponential fit to the
    upper 10 % of the null scores reaches ``target_fpr`` (the fit matters when
    the null set is small).
    """
    s = np.sort(np.asarray(null_scores, np.float64))
    n = s.size
    if n < 20:
        raise ValueError("need at least 20 null queries to calibrate")
    finite_floor = float(np.min(s[np.isfinite(s)])) if np.isfinite(s).any() else 0.0
    s = np.where(np.isfinite(s), s, finite_floor)
    # FPR(x) = fraction of null scores >= x, sampled at distinct scores.
    xs = np.unique(np.quantile(s, np.linspace(0.0, 1.0, 41)))
    ys = np.array([max((s >= x).mean(), 0.5 / n) for x in xs])
    top = s[int(0.9 * n):]
    scale = float(np.mean(top - top[0])) or 1.0  # exponential tail: mean excess
    slope = -1.0 / (scale * math.log(10)) * 1.0  # log10 FPR per unit score
    # Tail anchored at the 90 % quantile (FPR 0.1).
    thr_fit = float(top[0] + (math.log10(target_fpr) - math.log10(0.1)) / slope)
    thr_emp = float(np.quantile(s, 1.0 - target_fpr))
    threshold = max(thr_fit, thr_emp)
    return Calibration(threshold=threshold, target_fpr=target_fpr, knots_score=tuple(float(x) for x in xs),
                       knots_fpr=tuple(float(y) for y in ys), tail_slope=slope, n_null=n, note=note)


def load_default(path: Path = DEFAULT_PATH) -> Calibration:
    """The shipped calibration (``calibration.json`` beside this module)."""
    return Calibration.from_json(path.read_text())


def main(argv: Sequence[str] | None = None) -> None:
    """Build a reference index from the corpus music, score non-reference excerpts, write calibration.json."""
    from plugins.audio_fingerprint.nullset import calibration_scores

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, help="dev-corpus folder (with manifest.csv)")
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH)
    ap.add_argument("--target-fpr", type=float, default=0.005)
    ap.add_argument("--per-length", type=int, default=300, help="null excerpts per query length")
    args = ap.parse_args(argv)
    scores, note = calibration_scores(args.corpus, per_length=args.per_length)
    cal = fit(scores, args.target_fpr, note=note)
    args.out.write_text(cal.to_json() + "\n")
    print(f"wrote {args.out}: threshold {cal.threshold:.2f} from {cal.n_null} null queries")  # noqa: T201


if __name__ == "__main__":
    main()
