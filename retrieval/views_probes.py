"""Search by example pages for an audio clip and a fingerprint image (the face photo is in ``views_faces``).

The file is analysed in the web request and discarded in every case (``upload.discard``): it never becomes
evidence. Thin: parse the form, one service call (which audits), render.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from retrieval.models import Case
from retrieval.services import audio_probe, fingerprints, probes

#: Candidates drawn side by side with the probe (each drawing carries the probe picture inline).
SIDE_BY_SIDE = 3
#: Result rows per page (client-side pager, static/retrieval/js/pager.js).
PAGE_SIZE = 20


AUDIO_KINDS = (("audio", "Audio"), ("video", "Video"))
IMAGE_KINDS = (("image", "Image"),)
FACE_KINDS = (("image", "Image"), ("video", "Video"))


def _limits() -> dict[str, object]:
    return {"max_mb": probes.max_probe_bytes() // 2**20, "max_clip_s": audio_probe.MAX_CLIP_S}


def filter_context(request: HttpRequest, kinds: tuple[tuple[str, str], ...]) -> dict[str, object]:
    """What ``_probe_filters.html`` needs; the submitted values when the form was posted."""
    raw: dict[str, object] = {}
    if request.method == "POST":
        raw = {"cases": [int(c) for c in request.POST.getlist("case") if c.isdigit()],
               "from": request.POST.get("from", ""), "to": request.POST.get("to", ""),
               "kind": request.POST.get("kind", ""), "min_score": request.POST.get("min_score", "")}
    return {"cases": Case.objects.visible_to(request.user).order_by("title"), "filters": raw, "kinds": kinds,
            "page_size": PAGE_SIZE}


def parse_filters_or_message(request: HttpRequest, kinds: tuple[tuple[str, str], ...]) -> probes.ProbeFilters | None:
    try:
        return probes.parse_filters(request.POST, tuple(k for k, _ in kinds))
    except probes.ProbeError as exc:
        messages.error(request, str(exc))
        return None


@login_required
def audio_probe_search(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {"result": None, **_limits(), **filter_context(request, AUDIO_KINDS)}
    if request.method == "POST":
        upload = request.FILES.get("clip")
        if upload is None:
            messages.error(request, "Choose an audio clip (or a video: its sound is used).")
            return redirect("audio-probe")
        try:
            filters = parse_filters_or_message(request, AUDIO_KINDS)
            if filters is not None:
                context["result"] = audio_probe.probe_clip(request.user, Path(upload.temporary_file_path()),
                                                           name=upload.name, request=request, filters=filters)
        finally:
            upload.discard()
    return render(request, "retrieval/probe_audio.html", context)


@login_required
def fingerprint_probe_search(request: HttpRequest) -> HttpResponse:
    scope = request.POST.get("scope", "enrolled")
    scope = scope if scope in ("enrolled", "all") else "enrolled"
    raw_dpi = request.POST.get("dpi", "").strip()
    context: dict[str, object] = {"probe": None, "scope": scope, "dpi": raw_dpi, **_limits(),
                                  "dpi_range": fingerprints.DPI_RANGE, **filter_context(request, IMAGE_KINDS)}
    if request.method == "POST":
        upload = request.FILES.get("print")
        if upload is None:
            messages.error(request, "Choose an image of a fingerprint.")
            return redirect("fingerprint-probe")
        try:
            dpi = float(raw_dpi) if raw_dpi else None
        except ValueError:
            upload.discard()
            messages.error(request, "DPI must be a number, e.g. 500 or 1000 (or leave it empty).")
            return redirect("fingerprint-probe")
        filters = parse_filters_or_message(request, IMAGE_KINDS)
        if filters is None:
            upload.discard()
            return render(request, "retrieval/probe_fingerprint.html", context)
        try:
            probe = fingerprints.identify_probe(request.user, Path(upload.temporary_file_path()), name=upload.name,
                                                dpi=dpi, scope=scope, request=request, filters=filters)
        finally:
            upload.discard()
        if probe.result is not None:
            for c in probe.result.comparisons[:SIDE_BY_SIDE]:
                c.sb = fingerprints.side_by_side(probe.result.probe, c.view, c.pairs)  # type: ignore[attr-defined]
        context["probe"] = probe
    return render(request, "retrieval/probe_fingerprint.html", context)
