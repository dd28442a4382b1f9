"""Pages for reference collections (known recordings). Thin: visibility lookups, one service call, render.

Uploads go from the browser to the API (``/api/v1/reference-collections/<id>/recordings/``) with
per-file progress; the page polls the recordings' status while they are fingerprinted.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from retrieval import storage
from retrieval.models import Case, RecordingStatus, ReferenceCollection, ReferenceRecording, Watchlist, WatchlistKind
from retrieval.services import audit, references

PAGE_SIZE = 50


def _messages_of(exc: Exception) -> str:
    return "; ".join(getattr(exc, "messages", None) or [str(exc)])


@login_required
def collection_list(request: HttpRequest) -> HttpResponse:
    writable = Case.objects.writable_by(request.user).order_by("title")
    if request.method == "POST":
        case = writable.filter(pk=request.POST.get("case") or 0).first()
        if case is None:
            messages.error(request, "Choose a case you may add evidence to.")
            return redirect("reference-collection-list")
        try:
            collection = references.create_collection(actor=request.user, case=case, request=request,
                                                      name=request.POST.get("name", ""),
                                                      description=request.POST.get("description", ""))
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _messages_of(exc))
            return redirect("reference-collection-list")
        messages.success(request, f"Collection “{collection.name}” created. Add reference recordings below.")
        return redirect("reference-collection-detail", pk=collection.pk)
    qs = ReferenceCollection.objects.visible_to(request.user).select_related("case").annotate(
        n_recordings=Count("recordings", distinct=True),
        n_ready=Count("recordings", filter=Q(recordings__status=RecordingStatus.READY), distinct=True),
        hours=Sum("recordings__duration_s"),
    )
    case_id = request.GET.get("case", "")
    if case_id.isdigit():
        qs = qs.filter(case_id=int(case_id))
    page = Paginator(qs.order_by("case__title", "name", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "retrieval/references/collection_list.html", {
        "page": page, "cases": writable, "case_id": case_id,
    })


@login_required
def collection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    collection = get_object_or_404(ReferenceCollection.objects.visible_to(request.user).select_related("case"), pk=pk)
    writable = Case.objects.writable_by(request.user).filter(pk=collection.case_id).exists()
    if request.method == "POST":
        return _collection_action(request, collection)
    recordings = collection.recordings.order_by("-created_at", "-id")
    status = request.GET.get("status", "")
    if status in RecordingStatus.values:
        recordings = recordings.filter(status=status)
    page = Paginator(recordings, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = collection.recordings.aggregate(
        total=Count("id"), ready=Count("id", filter=Q(status=RecordingStatus.READY)),
        failed=Count("id", filter=Q(status=RecordingStatus.FAILED)),
        busy=Count("id", filter=Q(status__in=[RecordingStatus.PENDING, RecordingStatus.PROCESSING])),
        seconds=Sum("duration_s", filter=Q(status=RecordingStatus.READY)),
    )
    watchlists = Watchlist.objects.writable_by(request.user).filter(case=collection.case, kind=WatchlistKind.RECORDING)
    watching = [e.watchlist for wl in Watchlist.objects.filter(case=collection.case, kind=WatchlistKind.RECORDING)
                for e in wl.entries.all() if str((e.data or {}).get("collection_id")) == str(collection.pk)]
    audit.record("reference_collection.view", actor=request.user, target=collection, case_id=collection.case_id,
                 request=request)
    return render(request, "retrieval/references/collection_detail.html", {
        "collection": collection, "page": page, "counts": counts, "writable": writable, "status": status,
        "statuses": RecordingStatus.choices, "watchlists": watchlists, "watching": watching,
        "max_upload": settings.MMSEC_MAX_UPLOAD_BYTES,
    })


def _collection_action(request: HttpRequest, collection: ReferenceCollection) -> HttpResponse:
    action = request.POST.get("action", "")
    try:
        if action == "delete-recording":
            recording = get_object_or_404(collection.recordings, pk=request.POST.get("recording") or 0)
            references.delete_recording(actor=request.user, recording=recording, request=request)
            messages.success(request, f"“{recording.title}” deleted with its fingerprints.")
        elif action == "delete-collection":
            references.delete_collection(actor=request.user, collection=collection, request=request)
            messages.success(request, f"Collection “{collection.name}” deleted with its fingerprints.")
            return redirect("reference-collection-list")
        elif action == "watch":
            wl = get_object_or_404(Watchlist.objects.writable_by(request.user), pk=request.POST.get("watchlist") or 0)
            references.watch_collection(actor=request.user, collection=collection, watchlist=wl, request=request)
            messages.success(request, f"Watchlist “{wl.name}” now raises an alert when these recordings are heard.")
        elif action == "retry":
            ids = list(collection.recordings.filter(status=RecordingStatus.FAILED).values_list("pk", flat=True))
            if not Case.objects.writable_by(request.user).filter(pk=collection.case_id).exists():
                raise PermissionDenied("your role in this case does not allow this")
            references.queue_ingest(ids)
            messages.success(request, f"{len(ids)} failed recording(s) queued again.")
    except (PermissionDenied, ValidationError, ValueError) as exc:
        messages.error(request, _messages_of(exc))
    return redirect("reference-collection-detail", pk=collection.pk)


@login_required
def recording_file(request: HttpRequest, pk: int) -> FileResponse:
    """A reference recording's audio (members of its case only; audited)."""
    recording = get_object_or_404(ReferenceRecording.objects.visible_to(request.user).select_related("collection"),
                                  pk=pk)
    path = storage.object_path(recording.sha256)
    if not path.exists():
        raise Http404("stored file is missing")
    audit.record("reference_recording.download", actor=request.user, target=recording,
                 case_id=recording.collection.case_id, request=request)
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=recording.title,  # noqa: SIM115
                            content_type="application/octet-stream")
    response["X-Content-SHA256"] = recording.sha256
    return response
