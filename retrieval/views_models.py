"""The administrators' model page: what each plugin runs, on which workers, how far reprocessing is, and
what its scores look like. Staff only; aggregates only (see services.model_stats)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from retrieval.services import model_stats


@staff_member_required
def model_overview(request: HttpRequest) -> HttpResponse:
    return render(request, "retrieval/models.html", {"plugins": model_stats.overview()})


@staff_member_required
def model_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"runs": model_stats.reprocess_status()})
