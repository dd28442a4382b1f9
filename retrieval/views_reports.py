"""Evidence report pages: HTML (print-friendly) and PDF. Members of the case only; every export is audited."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from retrieval.models import Case
from retrieval.services import reports


@login_required
def case_report(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(Case.objects.visible_to(request.user), pk=pk)
    report = reports.build_report(case, actor=request.user, request=request, fmt="html")
    return render(request, "retrieval/case_report.html", {"report": report, "case": case})


@login_required
def case_report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(Case.objects.visible_to(request.user), pk=pk)
    report = reports.build_report(case, actor=request.user, request=request, fmt="pdf")
    response = HttpResponse(reports.render_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="case-{case.pk}-report.pdf"'
    return response
