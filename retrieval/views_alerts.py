"""Pages for watchlists and the alerts inbox. Thin: visibility lookups, one service call, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from retrieval.forms import AlertReviewForm, WatchlistEntryForm, WatchlistForm
from retrieval.models import Alert, AlertStatus, Case, Watchlist
from retrieval.services import audit, watchlists

ALERT_PAGE_SIZE = 50
#: Plain names for matcher detail keys shown on the alert page.
DETAIL_LABELS = {"text": "Original words", "text_en": "English", "matched_in": "Matched in", "language": "Language",
                 "audioset_class": "AudioSet class", "label": "Event"}


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    qs = Alert.objects.visible_to(request.user).select_related("watchlist", "case", "media")
    status = request.GET.get("status", AlertStatus.NEW)
    if status in AlertStatus.values:
        qs = qs.filter(status=status)
    case_id = request.GET.get("case", "")
    if case_id.isdigit():
        qs = qs.filter(case_id=int(case_id))
    counts = Alert.objects.visible_to(request.user).aggregate(
        new=Count("id", filter=Q(status=AlertStatus.NEW)),
        confirmed=Count("id", filter=Q(status=AlertStatus.CONFIRMED)),
        dismissed=Count("id", filter=Q(status=AlertStatus.DISMISSED)),
    )
    page = Paginator(qs.order_by("-created_at", "-id"), ALERT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "retrieval/alert_list.html", {
        "page": page, "status": status, "counts": counts, "statuses": AlertStatus.choices,
        "cases": Case.objects.visible_to(request.user).order_by("title"), "case_id": case_id,
    })


@login_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(
        Alert.objects.visible_to(request.user).select_related("watchlist", "case", "media", "reviewed_by"), pk=pk
    )
    if request.method == "POST":
        form = AlertReviewForm(request.POST)
        if not alert.case.memberships.filter(user=request.user, role__in=["owner", "investigator"]).exists():
            messages.error(request, "Viewers cannot review alerts.")
        elif form.is_valid():
            try:
                watchlists.review(alert, actor=request.user, request=request, **form.cleaned_data)
                messages.success(request, f"Alert marked {alert.get_status_display().lower()}.")
                return redirect("alert-detail", pk=alert.pk)
            except ValueError as exc:
                messages.error(request, str(exc))
    else:
        form = AlertReviewForm(initial={"status": alert.status, "note": alert.note})
        audit.record("alert.view", actor=request.user, target=alert, case_id=alert.case_id, request=request)
    crop = alert.details.get("crop") if isinstance(alert.details.get("crop"), str) else None
    details = [(DETAIL_LABELS.get(k, k.replace("_", " ").capitalize()), v) for k, v in alert.details.items()
               if v not in (None, "", [], {}) and k != "crop"]
    return render(request, "retrieval/alert_detail.html", {
        "alert": alert, "form": form, "details": details,
        "crop": crop if crop and crop.startswith("/faces/crop/") else None,
    })


@login_required
def watchlist_list(request: HttpRequest) -> HttpResponse:
    qs = Watchlist.objects.visible_to(request.user).select_related("case").prefetch_related(
        Prefetch("notify_users", queryset=get_user_model().objects.order_by("username"))).annotate(
        entry_count=Count("entries", distinct=True),
        new_alerts=Count("alerts", filter=Q(alerts__status=AlertStatus.NEW), distinct=True),
    )
    form = WatchlistForm(user=request.user)
    return render(request, "retrieval/watchlist_list.html", {"watchlists": qs, "form": form})


@login_required
@require_POST
def watchlist_create(request: HttpRequest) -> HttpResponse:
    form = WatchlistForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, "Check the watchlist form: " + "; ".join(
            f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("watchlist-list")
    data = form.cleaned_data
    try:
        wl = watchlists.create_watchlist(
            actor=request.user, case=data["case"], name=data["name"], kind=data["kind"],
            threshold=data["threshold"], description=data["description"], webhook_url=data["webhook_url"],
            watched_case_ids=[c.pk for c in data["watched_cases"]], request=request,
            notify_usernames=[request.user.get_username()] if data["notify_me"] else [],
        )
    except (ValueError, PermissionError) as exc:
        messages.error(request, str(exc))
        return redirect("watchlist-list")
    messages.success(request, f"Watchlist “{wl.name}” created. Add entries to start matching.")
    return redirect("watchlist-detail", pk=wl.pk)


@login_required
def watchlist_detail(request: HttpRequest, pk: int) -> HttpResponse:
    wl = get_object_or_404(Watchlist.objects.visible_to(request.user).select_related("case"), pk=pk)
    writable = Watchlist.objects.writable_by(request.user).filter(pk=wl.pk).exists()
    if request.method == "POST":
        if not writable:
            messages.error(request, "Only owners and investigators of the case can change this watchlist.")
            return redirect("watchlist-detail", pk=wl.pk)
        action = request.POST.get("action", "add")
        if action == "notify":
            try:
                users = watchlists.set_notified_users(actor=request.user, watchlist=wl, request=request,
                                                      usernames=request.POST.getlist("notify_users"))
                messages.success(request, "Notified: " + (", ".join(u.get_username() for u in users) or "nobody")
                                 + ".")
            except (ValueError, PermissionError) as exc:
                messages.error(request, str(exc))
            return redirect("watchlist-detail", pk=wl.pk)
        if action == "toggle":
            wl.enabled = not wl.enabled
            wl.save(update_fields=["enabled", "updated_at"])
            audit.record("watchlist.toggle", actor=request.user, target=wl, case_id=wl.case_id, request=request,
                         details={"enabled": wl.enabled})
            return redirect("watchlist-detail", pk=wl.pk)
        entry_form = WatchlistEntryForm(request.POST)
        if entry_form.is_valid():
            try:
                watchlists.add_entry(actor=request.user, watchlist=wl, request=request, **entry_form.cleaned_data)
                messages.success(request, "Entry added. New evidence is matched against it from now on.")
            except ValueError as exc:
                messages.error(request, str(exc))
        return redirect("watchlist-detail", pk=wl.pk)
    alerts = Alert.objects.visible_to(request.user).filter(watchlist=wl).select_related("media")[:20]
    members = watchlists.notified_members(wl)
    return render(request, "retrieval/watchlist_detail.html", {
        "watchlist": wl, "entries": wl.entries.all(), "alerts": alerts, "writable": writable,
        "entry_form": WatchlistEntryForm(), "threshold": watchlists.threshold_of(wl),
        "members": members, "notified_any": any(m["notified"] for m in members),
    })
