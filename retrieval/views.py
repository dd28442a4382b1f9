"""Server-rendered pages. Thin: look up visible objects, call a service, render.

Anything outside the user's cases is a 404 (never a 403 that would confirm it exists).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from retrieval import http_ranges, storage
from retrieval.forms import CaseForm, MemberForm
from retrieval.lookups import visible_case_or_404, visible_media_or_404
from retrieval.models import (
    Alert,
    AlertStatus,
    AuditEvent,
    Case,
    CaseMembership,
    CaseRole,
    Finding,
    MediaItem,
    MediaStatus,
)
from retrieval.models.cases import WRITE_ROLES
from retrieval.services import audit, case_stats, cases, paging, panels, search

MEDIA_PAGE_SIZE = 48


def _visible_case(request: HttpRequest, pk: int) -> Case:
    return visible_case_or_404(request.user, pk)


def _visible_media(request: HttpRequest, pk: int) -> MediaItem:
    return visible_media_or_404(request.user, pk)


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    qs = Case.objects.visible_to(request.user).annotate(
        media_count=Count("media", distinct=True),
        failed_count=Count("media", filter=Q(media__status=MediaStatus.FAILED), distinct=True),
    )
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()
    if status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(Q(title__icontains=query) | Q(description__icontains=query))
    page = Paginator(qs.order_by("-updated_at", "-id"), 25).get_page(request.GET.get("page"))
    return render(request, "retrieval/case_list.html",
                  {"page": page, "form": CaseForm(), "status": status, "q": query})


@login_required
@require_POST
def case_create(request: HttpRequest) -> HttpResponse:
    form = CaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A case needs a title.")
        return redirect("case-list")
    case = cases.create_case(actor=request.user, request=request, **form.cleaned_data)
    messages.success(request, f"Case “{case.title}” created. Add evidence by dropping files below.")
    return redirect("case-detail", pk=case.pk)


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _visible_case(request, pk)
    role = case.role_of(request.user)
    media = MediaItem.objects.filter(case=case)
    kind = request.GET.get("kind", "")
    if kind:
        media = media.filter(kind=kind)
    if request.GET.get("page"):  # old page-number links keep working
        page = Paginator(media.order_by("-uploaded_at", "-id"), MEDIA_PAGE_SIZE).get_page(request.GET.get("page"))
    else:
        page = paging.newest_first_page(media, request.GET.get("after"), MEDIA_PAGE_SIZE)
    counts = MediaItem.objects.filter(case=case).aggregate(
        total=Count("id"), ready=Count("id", filter=Q(status=MediaStatus.READY)),
        failed=Count("id", filter=Q(status=MediaStatus.FAILED)),
        busy=Count("id", filter=Q(status__in=[MediaStatus.PENDING, MediaStatus.PROCESSING])),
    )
    members = CaseMembership.objects.filter(case=case).select_related("user").order_by("role", "user__username")
    activity = AuditEvent.objects.filter(case_id=case.pk)[:15]
    badges = case_stats.badges_for(m.pk for m in page.object_list)
    partial = case_stats.partial_analysis(media_id__in=[m.pk for m in page.object_list])
    for m in page.object_list:
        m.badges = badges.get(m.pk, {})
        m.partial = partial.get(m.pk, [])
    days = case_stats.activity_by_day(case.pk)
    new_alerts = Alert.objects.visible_to(request.user).filter(case=case, status=AlertStatus.NEW).count()
    audit.record("case.view", actor=request.user, target=case, case_id=case.pk, request=request)
    return render(request, "retrieval/case_detail.html", {
        "case": case, "role": role, "can_write": role in WRITE_ROLES, "is_owner": role == CaseRole.OWNER,
        "page": page, "total": counts["total"] if not kind else None, "counts": counts, "members": members,
        "activity": activity, "kind": kind,
        "member_form": MemberForm(), "max_upload": settings.MMSEC_MAX_UPLOAD_BYTES,
        "activity_bars": case_stats.activity_svg_bars(days), "activity_days": days, "new_alerts": new_alerts,
    })


@login_required
@require_POST
def case_members(request: HttpRequest, pk: int) -> HttpResponse:
    case = _visible_case(request, pk)
    form = MemberForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a username and a role.")
        return redirect("case-detail", pk=pk)
    user = get_user_model().objects.filter(username=form.cleaned_data["username"], is_active=True).first()
    if user is None:
        messages.error(request, "No active user with that username.")
        return redirect("case-detail", pk=pk)
    try:
        if form.cleaned_data.get("remove"):
            cases.remove_member(actor=request.user, case=case, user=user, request=request)
            messages.success(request, f"{user.get_username()} removed from the case.")
        else:
            cases.set_member(actor=request.user, case=case, user=user, role=form.cleaned_data["role"],
                             request=request)
            messages.success(request, f"{user.get_username()} is now {form.cleaned_data['role']}.")
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("case-detail", pk=pk)


@login_required
def case_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Live status for the case page (polled): per-item status, progress and preview availability."""
    case = _visible_case(request, pk)
    ids = [int(i) for i in request.GET.get("ids", "").split(",") if i.isdigit()][:200]
    items = MediaItem.objects.filter(case=case, pk__in=ids).prefetch_related("jobs")
    payload = []
    for item in items:
        jobs = list(item.jobs.all())
        progress = sum(j.progress for j in jobs) / len(jobs) if jobs else 0.0
        payload.append({
            "id": item.pk, "status": item.status, "error": item.error, "kind": item.kind,
            "has_preview": item.has_preview, "progress": round(progress, 3),
            "steps": [{"step": j.step, "state": j.state, "error": j.error, "progress": round(j.progress, 3)}
                      for j in jobs],
            "duration_s": item.duration_s, "width": item.width, "height": item.height,
        })
    counts = MediaItem.objects.filter(case=case).aggregate(
        total=Count("id"), ready=Count("id", filter=Q(status=MediaStatus.READY)),
        failed=Count("id", filter=Q(status=MediaStatus.FAILED)),
        busy=Count("id", filter=Q(status__in=[MediaStatus.PENDING, MediaStatus.PROCESSING])),
    )
    return JsonResponse({"items": payload, "counts": counts})


@login_required
def media_detail(request: HttpRequest, pk: int) -> HttpResponse:
    media = _visible_media(request, pk)
    findings = list(
        Finding.objects.filter(media=media).select_related("space").defer("vector")  # vectors: see _similar_media
        .order_by("plugin", "start_s", "id")[:500]
    )
    audit.record("media.view", actor=request.user, target=media, case_id=media.case_id, request=request)
    return render(request, "retrieval/media_detail.html", {
        "media": media, "case": media.case, "jobs": media.jobs.all(), "findings": findings,
        "role": media.case.role_of(request.user), "similar": _similar_media(request, media, findings),
        "panels": panels.panels_for(media, request.user), "timeline": panels.timeline_for(media, request.user),
        "start_at": _start_at(request),
    })


def _start_at(request: HttpRequest) -> float | None:
    """``?t=12.5`` opens the player at that moment (alerts and search hits link to the exact time)."""
    try:
        value = float(request.GET.get("t", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _similar_media(request: HttpRequest, media: MediaItem, findings: list[Finding]) -> list[dict[str, object]]:
    """Nearest other media for the first vector finding of each active space (visible cases only)."""
    groups = []
    seen_spaces = set()
    for finding in findings:
        space = finding.space
        if space is None or space.pk in seen_spaces or space.state != "active":
            continue
        # the page loads findings without their vectors; fetch the one this search needs
        vector = Finding.objects.filter(pk=finding.pk).values_list("vector", flat=True).first()
        if vector is None:
            continue
        seen_spaces.add(space.pk)
        result = search.search_similar(request.user, space, vector, k=8,
                                       filters=search.SearchFilters(exclude_media_ids=[media.pk]))
        by_media = {m.pk: m for m in MediaItem.objects.filter(pk__in=[h.media_id for h in result.hits])}
        hits = [{"hit": h, "media": by_media[h.media_id], "pct": max(0, min(100, round(h.similarity * 100)))}
                for h in result.hits if h.media_id in by_media]
        groups.append({"space": space, "hits": hits})
        if len(groups) >= 3:
            break
    return groups


@login_required
def media_file(request: HttpRequest, pk: int) -> HttpResponse | FileResponse | StreamingHttpResponse:
    """The original file, only for members of its case; every download is audited."""
    media = _visible_media(request, pk)
    path = storage.object_path(media.sha256)
    if not path.exists():
        raise Http404("stored file is missing")
    inline = request.GET.get("inline") == "1" and media.kind in ("image", "audio", "video")
    size = path.stat().st_size
    try:
        byte_range = http_ranges.parse_range(request.headers.get("Range", ""), size) if inline else None
    except http_ranges.UnsatisfiableRange:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if byte_range is None or byte_range[0] == 0:  # one audit event per play, not one per seek
        audit.record("media.download" if not inline else "media.play", actor=request.user, target=media,
                     case_id=media.case_id, request=request)
    if byte_range is not None:
        start, end = byte_range
        response = StreamingHttpResponse(http_ranges.iter_range(open(path, "rb"), start, end),  # noqa: SIM115
                                         status=206, content_type=media.mime)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(open(path, "rb"), as_attachment=not inline,  # noqa: SIM115
                                filename=media.original_name,
                                content_type=media.mime if inline else "application/octet-stream")
    if inline:
        response["Accept-Ranges"] = "bytes"
    response["X-Content-SHA256"] = media.sha256
    return response


@login_required
def media_preview(request: HttpRequest, pk: int) -> FileResponse:
    media = _visible_media(request, pk)
    path = storage.preview_path(media.pk)
    if not media.has_preview or not path.exists():
        raise Http404("no preview")
    response = FileResponse(open(path, "rb"), content_type="image/png")  # noqa: SIM115
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_http_methods(["GET"])
def health(request: HttpRequest) -> JsonResponse:
    """Liveness/readiness for load balancers and docker-compose health checks."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"ok": True})

