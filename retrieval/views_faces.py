"""Pages of the faces topic: person gallery per case, person page (merge/split/rename), face crops,
probe search. Thin: visibility lookups, forms, ``services.faces``.

The probe photo is analysed in the web request (face plugin on CPU, one image: about a second
once the model is loaded) instead of a Celery task: the probe never has to be written to the
evidence store or a queue, the answer comes back in the same response, and no polling page
is needed. It is kept as evidence only when the user asks for it (a case they may write to).
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from retrieval import views_probes
from retrieval.lookups import visible_case_or_404
from retrieval.models import Case, Finding, Watchlist, WatchlistKind
from retrieval.models.cases import WRITE_ROLES
from retrieval.models.faces import FaceClusterRun, Person
from retrieval.services import audit, faces, ingest, watchlists

PERSONS_PER_PAGE = 48
FACES_PER_PAGE = 60


def _visible_case(request: HttpRequest, pk: int) -> Case:
    return visible_case_or_404(request.user, pk)


@login_required
def case_persons(request: HttpRequest, pk: int) -> HttpResponse:
    case = _visible_case(request, pk)
    can_write = case.role_of(request.user) in WRITE_ROLES
    query = request.GET.get("q", "").strip()
    persons = Person.objects.filter(case=case).select_related("representative")
    if query:
        persons = persons.filter(number=int(query)) if query.isdigit() else persons.filter(name__icontains=query)
    page = Paginator(persons.order_by("-face_count", "number"), PERSONS_PER_PAGE).get_page(request.GET.get("page"))
    space = faces.face_space()
    unassigned = Finding.objects.none()
    if space is not None:
        unassigned = (Finding.objects.filter(case_id=case.pk, space=space, face_assignment__isnull=True)
                      .order_by("-created_at"))
    run = FaceClusterRun.objects.filter(case=case).first()
    audit.record("person.gallery_view", actor=request.user, target=case, case_id=case.pk, request=request)
    return render(request, "retrieval/faces_gallery.html", {
        "case": case, "page": page, "q": query, "can_write": can_write, "run": run,
        "running": run is not None and run.state in ("queued", "running"),
        "unassigned_count": unassigned.count(), "unassigned": list(unassigned[:24]),
        "total_faces": Finding.objects.filter(case_id=case.pk, space=space).count() if space else 0,
    })


@login_required
@require_POST
def case_cluster(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(Case.objects.writable_by(request.user), pk=pk)
    faces.start_clustering(actor=request.user, case=case, request=request)
    messages.success(request, "Clustering started: unassigned faces join persons or form new ones.")
    return redirect("case-persons", pk=case.pk)


@login_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.visible_to(request.user).select_related("case", "representative"),
                               pk=pk)
    can_write = person.case.role_of(request.user) in WRITE_ROLES
    if request.method == "POST":
        if not can_write:
            raise Http404("no such person")
        return _person_action(request, person)
    faces_qs = (Finding.objects.filter(face_assignment__person=person).select_related("media", "face_assignment")
                .order_by("media_id", "start_s", "id"))
    page = Paginator(faces_qs, FACES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"finding": f, "quality": faces.quality_of(f), "enrol_ok": faces.enrol_ok(f),
             "similarity": f.face_assignment.similarity, "assigned_by": f.face_assignment.get_assigned_by_display(),
             "href": f"/media/{f.media_id}/" + (f"?t={f.start_s:g}" if f.media_kind == "video" else "")}
            for f in page]
    others = Person.objects.filter(case=person.case).exclude(pk=person.pk).order_by("-face_count", "number")[:200]
    person_lists = Watchlist.objects.filter(case=person.case, kind=WatchlistKind.PERSON).order_by("name")
    audit.record("person.view", actor=request.user, target=person, case_id=person.case_id, request=request)
    return render(request, "retrieval/person_detail.html", {
        "person": person, "case": person.case, "page": page, "rows": rows, "others": others,
        "can_write": can_write, "watchlists": person_lists,
        "media_count": faces_qs.values("media_id").distinct().count(),
    })


def _person_action(request: HttpRequest, person: Person) -> HttpResponse:
    action = request.POST.get("action", "")
    ids = [int(i) for i in request.POST.getlist("faces") if i.isdigit()]
    try:
        if action == "rename":
            faces.rename(actor=request.user, person=person, name=request.POST.get("name", ""), request=request)
            messages.success(request, f"Renamed to {person.display_name}.")
        elif action == "split":
            new = faces.split(actor=request.user, person=person, finding_ids=ids, name=request.POST.get("name", ""),
                              request=request)
            messages.success(request, f"{len(ids)} face(s) moved to {new.display_name}.")
            if not Person.objects.filter(pk=person.pk).exists():
                return redirect("person-detail", pk=new.pk)
        elif action == "watch":
            watchlist = get_object_or_404(Watchlist, case=person.case, kind=WatchlistKind.PERSON,
                                          pk=int(request.POST.get("watchlist", "0") or 0))
            watchlists.add_entry(actor=request.user, watchlist=watchlist, label=person.display_name,
                                 data={"person_id": person.pk}, request=request)
            messages.success(request, f"{person.display_name} is now watched by “{watchlist.name}”.")
        elif action == "merge":
            sources = list(Person.objects.filter(case=person.case, pk__in=[
                int(i) for i in request.POST.getlist("sources") if i.isdigit()]))
            faces.merge(actor=request.user, target=person, sources=sources, request=request)
            messages.success(request, f"Merged {len(sources)} person(s) into {person.display_name}.")
        else:
            messages.error(request, "Unknown action.")
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("person-detail", pk=person.pk)


@login_required
def face_crop(request: HttpRequest, finding_id: int) -> FileResponse:
    """The face cut out of the original (or the video frame); members of the face's case only."""
    visible = Case.objects.visible_to(request.user).values("id")
    finding = get_object_or_404(Finding.objects.filter(case_id__in=visible, box__isnull=False)
                                .select_related("media"), pk=finding_id)
    try:
        path = faces.crop_path(finding)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise Http404("no crop for this face") from exc
    response = FileResponse(open(path, "rb"), content_type="image/jpeg")  # noqa: SIM115
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def probe_search(request: HttpRequest) -> HttpResponse:
    writable = Case.objects.writable_by(request.user).order_by("title")
    context: dict[str, object] = {"writable": writable, "result": None,
                                  **views_probes.filter_context(request, views_probes.FACE_KINDS)}
    if request.method == "POST":
        upload = request.FILES.get("probe")
        if upload is None:
            messages.error(request, "Choose a photo with a face.")
            return redirect("face-probe")
        filters = views_probes.parse_filters_or_message(request, views_probes.FACE_KINDS)
        if filters is None:
            upload.discard()
            return render(request, "retrieval/face_probe.html", context)
        keep_case = None
        if request.POST.get("keep_in"):
            keep_case = writable.filter(pk=int(request.POST["keep_in"]) if request.POST["keep_in"].isdigit()
                                        else -1).first()
        try:
            context["result"] = faces.probe_search(request.user, Path(upload.temporary_file_path()), request=request,
                                                   filters=filters)
            if keep_case is not None:
                stored = ingest.ingest_upload(actor=request.user, case=keep_case, upload=upload, request=request)
                context["stored"] = stored.media
        finally:
            if keep_case is None:
                upload.discard()
        context["probe_name"] = upload.name
    return render(request, "retrieval/face_probe.html", context)
