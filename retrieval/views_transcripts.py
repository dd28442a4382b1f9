"""Transcript pages: search over every transcript you may see, and transcript export (audited)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header

from retrieval.lookups import visible_media_or_404
from retrieval.models import Case
from retrieval.services import audit, transcripts

PAGE_SIZE = 20


class _Window(list):  # type: ignore[type-arg]
    """One page of already-ranked hits that the Paginator can page through by count."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total

    def __len__(self) -> int:
        return self.total


@login_required
def transcript_search(request: HttpRequest) -> HttpResponse:
    parsed = transcripts.parse_request(request.GET)
    results = None
    page: Page | None = None
    if parsed.query and not parsed.errors:
        try:
            number = max(1, int(request.GET.get("page", "1")))
        except ValueError:
            number = 1
        results = transcripts.search_transcripts(request.user, parsed.query, mode=parsed.mode,
                                                 filters=parsed.filters, offset=(number - 1) * PAGE_SIZE,
                                                 limit=PAGE_SIZE)
        transcripts.audit_search(request, parsed, results)
        page = Paginator(_Window(results.total), PAGE_SIZE).get_page(number)
    return render(request, "retrieval/transcript_search.html", {
        "parsed": parsed, "results": results, "page": page, "modes": transcripts.MODES,
        "languages": transcripts.languages(request.user),
        "cases": Case.objects.visible_to(request.user).order_by("title"),
        "case_id": request.GET.get("case", ""), "after": request.GET.get("after", ""),
        "before": request.GET.get("before", ""),
    })


@login_required
def transcript_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    media = visible_media_or_404(request.user, pk)
    lang = request.GET.get("lang", "original")
    try:
        body, content_type, filename = transcripts.export_response_parts(media, fmt, lang)
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    audit.record("transcript.export", actor=request.user, target=media, case_id=media.case_id, request=request,
                 details={"format": fmt, "lang": lang})
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
