"""Figures for the administrators' model page: versions, spaces, workers, reprocessing progress and
score distributions. Aggregates only: no evidence, file names or case titles leave this module, so
staff who are not members of a case learn nothing about its content."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count

from retrieval.models import EmbeddingSpace, Finding, ModelVersion, PluginConfiguration, ReprocessRun, WorkerStatus
from retrieval.services.plugins import reprocess_progress

HISTOGRAM_BINS = 20


@dataclass
class PluginOverview:
    config: PluginConfiguration
    versions: list[ModelVersion]
    spaces: list[dict[str, Any]]
    workers: list[WorkerStatus]
    runs: list[dict[str, Any]]
    histogram: list[int] = field(default_factory=list)
    score_range: tuple[float, float] = (0.0, 1.0)
    top_labels: list[tuple[str, int]] = field(default_factory=list)

    @property
    def histogram_bars(self) -> list[dict[str, float]]:
        peak = max(self.histogram, default=0) or 1
        width = 300 / max(len(self.histogram), 1)
        lo, hi = self.score_range
        step = (hi - lo) / max(len(self.histogram), 1)
        return [{"x": round(i * width + 1, 2), "w": round(width - 2, 2), "h": round(60 * n / peak, 2),
                 "y": round(60 - 60 * n / peak, 2), "n": n, "from": round(lo + i * step, 3),
                 "to": round(lo + (i + 1) * step, 3)} for i, n in enumerate(self.histogram)]


def score_histogram(plugin: str, model_version: str,
                    bins: int = HISTOGRAM_BINS) -> tuple[list[int], tuple[float, float]]:
    """Counts of finding scores in ``bins`` equal bins between their min and max (one SQL pass)."""
    table = Finding._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f'SELECT min(score), max(score) FROM "{table}" WHERE plugin = %s AND model_version = %s '
                    "AND score IS NOT NULL", [plugin, model_version])
        lo, hi = cur.fetchone()
        if lo is None:
            return [], (0.0, 1.0)
        lo, hi = float(lo), float(hi)
        if hi <= lo:
            hi = lo + 1e-9
        cur.execute(f'SELECT least(width_bucket(score, %s, %s, %s), %s) AS b, count(*) FROM "{table}" '
                    "WHERE plugin = %s AND model_version = %s AND score IS NOT NULL GROUP BY b ORDER BY b",
                    [lo, hi, bins, bins, plugin, model_version])
        counts = [0] * bins
        for bucket, n in cur.fetchall():
            counts[max(1, min(bins, int(bucket))) - 1] += int(n)
    return counts, (lo, hi)


def overview() -> list[PluginOverview]:
    out = []
    for config in PluginConfiguration.objects.order_by("name"):
        version = config.active_model_version or config.code_model_version
        spaces = [{"space": s, "rows": Finding.objects.filter(space=s).count()}
                  for s in EmbeddingSpace.objects.filter(plugin=config.name)]
        runs = [{"run": r, **reprocess_progress(r)}
                for r in ReprocessRun.objects.filter(plugin=config.name).order_by("-created_at")[:5]]
        histogram, score_range = score_histogram(config.name, version)
        labels = list(Finding.objects.filter(plugin=config.name, model_version=version).exclude(label="")
                      .values_list("label").annotate(n=Count("id")).order_by("-n")[:8])
        out.append(PluginOverview(
            config=config, versions=list(ModelVersion.objects.filter(plugin=config.name).order_by("-created_at")),
            spaces=spaces, workers=list(WorkerStatus.objects.filter(plugin=config.name).order_by("-last_seen_at")[:5]),
            runs=runs, histogram=histogram, score_range=score_range, top_labels=labels,
        ))
    return out


def reprocess_status() -> list[dict[str, Any]]:
    """Live progress of running reprocess runs (polled by the model page)."""
    return [{"id": r.pk, "plugin": r.plugin, "version": r.model_version, "state": r.state, **reprocess_progress(r)}
            for r in ReprocessRun.objects.order_by("-created_at")[:20]]
