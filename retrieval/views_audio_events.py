"""Pages of the audio-event topic: event search, "sounds like this one", the spectrogram image. Thin."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from retrieval.lookups import visible_media_or_404
from retrieval.media_io import DecodeError
from retrieval.models import Case, Finding
from retrieval.services import audio_events


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
def event_search(request: HttpRequest) -> HttpResponse:
    error = ""
    page = None
    filters = audio_events.EventFilters()
    try:
        filters = audio_events.parse_filters(request.GET)
    except ValueError as exc:
        error = str(exc)
    if not error and request.GET:
        page = audio_events.search_events(request.user, filters, request.GET.get("page"), request=request)
    cases = Case.objects.visible_to(request.user).order_by("title")
    security = {key for key, _ in audio_events.security_choices()}
    return render(request, "retrieval/audio_event_search.html", {
        "page": page, "filters": filters, "error": error, "cases": cases, "searched": bool(request.GET),
        "security_choices": audio_events.security_choices(), "audioset_classes": audio_events.audioset_classes(),
        "other_types": "; ".join(t for t in filters.types if t not in security),
        "query": _query_without_page(request),
    })


@login_required
def similar_sounds(request: HttpRequest, pk: int) -> HttpResponse:
    case = request.GET.get("case", "")
    show_all = request.GET.get("all") == "1"
    try:
        result = audio_events.similar_sounds(
            request.user, pk, k=30, case_ids=[int(case)] if case.isdigit() else None, request=request,
            min_similarity=0.0 if show_all else audio_events.DEFAULT_MIN_SIMILARITY)
    except Finding.DoesNotExist as exc:
        raise Http404("no such audio event") from exc
    return render(request, "retrieval/audio_event_similar.html", {
        "result": result, "cases": Case.objects.visible_to(request.user).order_by("title"), "case": case,
        "show_all": show_all, "min_similarity": audio_events.DEFAULT_MIN_SIMILARITY,
    })


@login_required
def spectrogram(request: HttpRequest, pk: int) -> FileResponse:
    media = visible_media_or_404(request.user, pk)
    if media.kind not in ("audio", "video"):
        raise Http404("no audio")
    try:
        path = audio_events.spectrogram_file(media)
    except DecodeError as exc:
        raise Http404(str(exc)) from exc
    response = FileResponse(open(path, "rb"), content_type="image/png")  # noqa: SIM115
    response["Cache-Control"] = "private, max-age=300"
    return response
