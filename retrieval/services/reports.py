"""The evidence report of a case: what was collected (with SHA-256), what models found, which
alerts were raised and how they were reviewed, and the custody chain (the audit trail).

``build_report`` gathers everything once; ``render_pdf`` lays the same data out
with ReportLab (pure Python, no browser or system library needed on servers).
Generating a report is itself an audit event, so the report's own creation
appears in the next report's custody chain.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from retrieval.models import Alert, AuditEvent, Case, CaseMembership, MediaItem
from retrieval.services import audit, case_stats

#: A report lists at most this many audit events (newest first); the count says if more exist.
MAX_AUDIT_ROWS = 5000


@dataclass
class MediaRow:
    media: MediaItem
    detections: dict[str, int] = field(default_factory=dict)  # plugin -> findings with a label or text
    partial: list[str] = field(default_factory=list)  # "<plugin>: what of the item was not analysed"


@dataclass
class Report:
    case: Case
    generated_at: datetime
    generated_by: str
    members: list[CaseMembership]
    media: list[MediaRow]
    alerts: list[Alert]
    audit_events: list[AuditEvent]
    audit_total: int

    @property
    def detection_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in self.media:
            for plugin, n in row.detections.items():
                totals[plugin] = totals.get(plugin, 0) + n
        return dict(sorted(totals.items()))


def build_report(case: Case, *, actor: Any, request: Any = None, fmt: str = "html") -> Report:
    """Collect the report of ``case`` (the caller has checked ``actor`` may see it) and audit the export."""
    media = list(MediaItem.objects.filter(case=case).select_related("uploaded_by").order_by("uploaded_at", "id"))
    counts = case_stats.detections_by_media(case_id=case.pk)
    partial = case_stats.partial_analysis(media__case_id=case.pk)
    alerts = list(Alert.objects.visible_to(actor).filter(case=case).select_related("watchlist", "media", "reviewed_by")
                  .order_by("created_at", "id"))
    audit.record("case.export", actor=actor, target=case, case_id=case.pk, request=request,
                 details={"format": fmt, "media": len(media), "alerts": len(alerts)})
    events = AuditEvent.objects.filter(case_id=case.pk).order_by("time", "id")
    total = events.count()
    return Report(
        case=case, generated_at=timezone.now(),
        generated_by=actor.get_username() if getattr(actor, "is_authenticated", False) else "",
        members=list(CaseMembership.objects.filter(case=case).select_related("user")
                     .order_by("role", "user__username")),
        media=[MediaRow(m, counts.get(m.pk, {}), partial.get(m.pk, [])) for m in media],
        alerts=alerts,
        audit_events=list(events[:MAX_AUDIT_ROWS]),
        audit_total=total,
    )


def render_pdf(report: Report) -> bytes:
    """The report as a PDF (A4, tables repeat their header on each page)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm,
                            title=f"Evidence report: {report.case.title}", author="mmsec")

    def p(text: object) -> Paragraph:
        return Paragraph(_escape(str(text)), small)

    def table(header: list[str], body: list[list[object]], widths: list[float]) -> Table:
        data = [[p(h) for h in header]] + [[p(c) for c in row] for row in body] if body else [[p(h) for h in header]]
        t = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9ca3af")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        return t

    case = report.case
    story: list[Any] = [
        Paragraph(_escape(f"Evidence report: {case.title}"), styles["Title"]),
        p(f"Case #{case.pk} · status {case.status} · created {case.created_at:%Y-%m-%d %H:%M} UTC · "
          f"report generated {report.generated_at:%Y-%m-%d %H:%M:%S} UTC by {report.generated_by}"),
    ]
    if case.description:
        story.append(p(case.description))
    story += [Spacer(1, 4 * mm), Paragraph("Members", styles["Heading2"]),
              table(["User", "Role", "Since"], [[m.user.get_username(), m.role, f"{m.added_at:%Y-%m-%d}"]
                                                for m in report.members], [80, 40, 40])]
    story += [Spacer(1, 4 * mm), Paragraph(f"Evidence ({len(report.media)} items)", styles["Heading2"]),
              table(["#", "File", "Kind", "Bytes", "SHA-256", "Uploaded", "Status", "Detections"],
                    [[r.media.pk, r.media.original_name, r.media.kind, r.media.size, r.media.sha256,
                      f"{r.media.uploaded_at:%Y-%m-%d %H:%M} by {r.media.uploaded_by or '-'}",
                      r.media.status + (f": {r.media.error}" if r.media.error else "")
                      + "".join(f"; partly analysed, {w}" for w in r.partial),
                      ", ".join(f"{k} {v}" for k, v in sorted(r.detections.items())) or "-"]
                     for r in report.media], [10, 50, 14, 18, 60, 38, 30, 50])]
    story += [Spacer(1, 4 * mm), Paragraph(f"Alerts ({len(report.alerts)})", styles["Heading2"]),
              table(["#", "Raised", "Watchlist", "Entry", "Evidence", "Time", "Score", "Review"],
                    [[a.pk, f"{a.created_at:%Y-%m-%d %H:%M}", a.watchlist.name, a.entry_label, a.media.original_name,
                      _span(a.start_s, a.end_s), f"{a.score:.2f}",
                      f"{a.status}" + (f" by {a.reviewed_by} {a.reviewed_at:%Y-%m-%d %H:%M}: {a.note}"
                                       if a.reviewed_by and a.reviewed_at else "")]
                     for a in report.alerts], [10, 26, 36, 30, 46, 22, 14, 86])]
    more = f" (first {len(report.audit_events)} of {report.audit_total})" if report.audit_total > len(
        report.audit_events) else ""
    story += [Spacer(1, 4 * mm), Paragraph(f"Custody chain: audit trail{more}", styles["Heading2"]),
              table(["Time (UTC)", "Who", "Action", "Object", "From", "Details"],
                    [[f"{e.time:%Y-%m-%d %H:%M:%S}", e.actor_name or "system", e.action,
                      f"{e.target_type} {e.target_id}", e.ip or "", _details(e.details)]
                     for e in report.audit_events], [34, 26, 34, 34, 24, 118])]
    doc.build(story)
    return buffer.getvalue()


def _span(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    return f"{start:.1f} s" if end is None or end == start else f"{start:.1f}-{end:.1f} s"


def _details(details: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in (details or {}).items())[:300]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
