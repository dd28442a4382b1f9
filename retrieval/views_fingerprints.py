"""Fingerprint pages: subjects and enrolment, 1:N identification, 1:1 verification, DPI, ISO export.

Thin: visible objects (404 outside the user's cases), one service call, render. Writes need an owner or
investigator role (the services check it and raise ``PermissionDenied``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from retrieval.lookups import visible_media_or_404
from retrieval.models import Case, FingerPosition, MediaItem, Subject, Watchlist, WatchlistKind
from retrieval.models.cases import WRITE_ROLES
from retrieval.services import audit, fingerprints

SUBJECT_PAGE_SIZE = 50


def _error(request: HttpRequest, exc: Exception) -> None:
    text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
    messages.error(request, text or "not allowed")


def _visible_media(request: HttpRequest, pk: int) -> MediaItem:
    return visible_media_or_404(request.user, pk)


def _visible_subject(request: HttpRequest, pk: int | str | None) -> Subject:
    if not str(pk or "").isdigit():
        raise Http404("no such subject")
    return get_object_or_404(Subject.objects.visible_to(request.user).select_related("case"), pk=int(pk))


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


@login_required
def subject_list(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(Case.objects.visible_to(request.user), pk=pk)
    writable = case.role_of(request.user) in WRITE_ROLES
    if request.method == "POST":
        try:
            subject = fingerprints.create_subject(actor=request.user, case=case, name=request.POST.get("name", ""),
                                                  reference=request.POST.get("reference", ""),
                                                  notes=request.POST.get("notes", ""), request=request)
        except (ValidationError, PermissionDenied) as exc:
            _error(request, exc)
            return redirect("subject-list", pk=case.pk)
        messages.success(request, f"Subject “{subject.display_name}” created. Enrol up to ten fingers below.")
        return redirect("subject-detail", pk=subject.pk)
    qs = Subject.objects.filter(case=case).annotate(fingers=Count("enrolments"))
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(reference__icontains=query))
    page = Paginator(qs.order_by("name", "reference", "id"), SUBJECT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "retrieval/fingerprints/subject_list.html",
                  {"case": case, "page": page, "writable": writable, "q": query})


@login_required
def subject_detail(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _visible_subject(request, pk)
    writable = subject.case.role_of(request.user) in WRITE_ROLES
    if request.method == "POST":
        return _subject_action(request, subject)
    enrolments = {e.finger: e for e in subject.enrolments.select_related("media")}
    prints = fingerprints.print_findings([e.media_id for e in enrolments.values()])
    fingers = []
    for value, name in FingerPosition.choices:
        e = enrolments.get(value)
        f = prints.get(e.media_id) if e else None
        fingers.append({"value": value, "name": name, "enrolment": e,
                        "view": fingerprints.print_view(e.media, f) if e and f else None})
    enrolled_media = {e.media_id for e in enrolments.values()}
    candidates = [m for m in fingerprints.print_media([subject.case_id])[:300] if m.pk not in enrolled_media]
    candidate_prints = fingerprints.print_findings([m.pk for m in candidates])
    watchlists = Watchlist.objects.filter(case=subject.case, kind=WatchlistKind.FINGERPRINT)
    on_lists = [w for w in watchlists if w.entries.filter(data__subject_id=subject.pk).exists()]
    visible = Case.objects.visible_to(request.user)
    audit.record("subject.view", actor=request.user, target=subject, case_id=subject.case_id, request=request)
    return render(request, "retrieval/fingerprints/subject_detail.html", {
        "subject": subject, "case": subject.case, "writable": writable, "fingers": fingers,
        "right": fingers[:5], "left": fingers[5:], "enrolled": len(enrolments),
        "candidates": [(m, candidate_prints.get(m.pk)) for m in candidates],
        "free_fingers": [(v, n) for v, n in FingerPosition.choices if v not in enrolments],
        "watchlists": [w for w in watchlists if w not in on_lists], "on_lists": on_lists,
        "probes": fingerprints.print_media(list(visible.values_list("id", flat=True)))[:300],
        "min_quality": fingerprints.enrol_min_quality(), "min_minutiae": fingerprints.enrol_min_minutiae(),
    })


def _subject_action(request: HttpRequest, subject: Subject) -> HttpResponse:
    action = request.POST.get("action", "")
    try:
        if action == "enrol":
            media = get_object_or_404(MediaItem.objects.filter(case=subject.case), pk=_int(request.POST.get("media")))
            e = fingerprints.enrol(actor=request.user, subject=subject, finger=_int(request.POST.get("finger")) or 0,
                                   media=media, request=request)
            messages.success(request,
                             f"{e.get_finger_display()} enrolled (quality {e.quality}, {e.minutiae} minutiae).")
        elif action == "unenrol":
            fingerprints.unenrol(actor=request.user, subject=subject, finger=_int(request.POST.get("finger")) or 0,
                                 request=request)
            messages.success(request, "Finger removed.")
        elif action == "update":
            fingerprints.update_subject(actor=request.user, subject=subject, name=request.POST.get("name", ""),
                                        reference=request.POST.get("reference", ""),
                                        notes=request.POST.get("notes", ""), request=request)
            messages.success(request, "Subject saved.")
        elif action == "watch":
            wl = get_object_or_404(Watchlist.objects.visible_to(request.user), pk=_int(request.POST.get("watchlist")))
            fingerprints.watch_subject(actor=request.user, watchlist=wl, subject=subject, request=request)
            messages.success(request, f"{subject.display_name} is now on “{wl.name}”: new prints are matched.")
        elif action == "delete":
            case_id = subject.case_id
            fingerprints.delete_subject(actor=request.user, subject=subject, request=request)
            messages.success(request, "Subject deleted (the evidence stays in the case).")
            return redirect("subject-list", pk=case_id)
        else:
            messages.error(request, "Unknown action.")
    except (ValidationError, PermissionDenied) as exc:
        _error(request, exc)
    return redirect("subject-detail", pk=subject.pk)


@login_required
@require_POST
def enrol_media(request: HttpRequest, pk: int) -> HttpResponse:
    """From the media page: enrol this print for a subject of its case."""
    media = _visible_media(request, pk)
    subject = get_object_or_404(Subject.objects.filter(case=media.case), pk=_int(request.POST.get("subject")))
    try:
        e = fingerprints.enrol(actor=request.user, subject=subject, finger=_int(request.POST.get("finger")) or 0,
                               media=media, request=request)
    except (ValidationError, PermissionDenied) as exc:
        _error(request, exc)
        return redirect("media-detail", pk=media.pk)
    messages.success(request, f"Enrolled as the {e.get_finger_display().lower()} of {subject.display_name}.")
    return redirect("subject-detail", pk=subject.pk)


@login_required
@require_POST
def set_dpi(request: HttpRequest, pk: int) -> HttpResponse:
    media = _visible_media(request, pk)
    raw = request.POST.get("dpi", "").strip()
    try:
        dpi = float(raw) if raw else None
        _, queued = fingerprints.set_dpi(actor=request.user, media=media, dpi=dpi, request=request)
    except ValueError:
        messages.error(request, "DPI must be a number, e.g. 500 or 1000.")
    except (ValidationError, PermissionDenied) as exc:
        _error(request, exc)
    else:
        messages.success(request, f"Resolution {'set to ' + raw + ' dpi' if raw else 'reset to the file'}; " + (
            "the print is being processed again." if queued else
            "it applies when the fingerprint plugin is enabled and processes this item."))
    return redirect("media-detail", pk=media.pk)


@login_required
def identify(request: HttpRequest, pk: int) -> HttpResponse:
    media = _visible_media(request, pk)
    scope = request.GET.get("scope", "enrolled")
    try:
        result = fingerprints.identify(request.user, media, scope=scope if scope in ("enrolled", "all") else "enrolled",
                                       request=request)
    except ValidationError as exc:
        _error(request, exc)
        return redirect("media-detail", pk=media.pk)
    for c in result.comparisons:
        c.sb = fingerprints.side_by_side(result.probe, c.view, c.pairs) if c.view else None  # type: ignore[attr-defined]
    return render(request, "retrieval/fingerprints/identify.html", {
        "media": media, "case": media.case, "result": result, "scope": result.scope,
    })


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    media_id, subject_id = _int(request.GET.get("media")), _int(request.GET.get("subject"))
    visible = Case.objects.visible_to(request.user)
    context: dict[str, object] = {
        "probes": fingerprints.print_media(list(visible.values_list("id", flat=True)))[:300],
        "subjects": Subject.objects.visible_to(request.user).filter(enrolments__isnull=False).distinct()
        .select_related("case").order_by("name", "reference")[:500],
        "fingers": FingerPosition.choices, "media_id": media_id, "subject_id": subject_id,
        "finger": _int(request.GET.get("finger")),
    }
    if media_id and subject_id:
        media = _visible_media(request, media_id)
        subject = _visible_subject(request, subject_id)
        try:
            result = fingerprints.verify(request.user, media, subject, finger=context["finger"], request=request)
        except ValidationError as exc:
            _error(request, exc)
        else:
            for c in result.comparisons:
                c.sb = fingerprints.side_by_side(result.probe, c.view, c.pairs)  # type: ignore[attr-defined]
            context.update({"result": result, "media": media, "subject": subject})
    return render(request, "retrieval/fingerprints/verify.html", context)


@login_required
def template_download(request: HttpRequest, pk: int) -> HttpResponse:
    media = _visible_media(request, pk)
    try:
        record, filename = fingerprints.iso_template(request.user, media, request=request)
    except ValidationError as exc:
        raise Http404("; ".join(exc.messages)) from exc
    response = HttpResponse(record, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def print_image(request: HttpRequest, pk: int) -> HttpResponse:
    """The print as PNG for the viewer overlays (decoded from the original: TIFF, 16-bit and CMYK too)."""
    media = _visible_media(request, pk)
    if media.kind != "image":
        raise Http404("not an image")
    try:
        data = fingerprints.display_png(media)
    except Exception as exc:  # noqa: BLE001 - an undecodable file is a missing picture, not a 500
        raise Http404("cannot decode this image") from exc
    audit.record("media.play", actor=request.user, target=media, case_id=media.case_id, request=request,
                 details={"as": "fingerprint image"})
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response
