"""The search portal page and saved searches."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from retrieval.models import SavedSearch
from retrieval.services import search_portal


@login_required
def portal(request: HttpRequest) -> HttpResponse:
    return render(request, "retrieval/search_portal.html", {
        "modes": search_portal.search_modes(),
        "saved": SavedSearch.objects.filter(owner=request.user),
    })


@login_required
@require_POST
def save(request: HttpRequest) -> HttpResponse:
    url = request.POST.get("url", "")
    try:
        saved = search_portal.save_search(owner=request.user, name=request.POST.get("name", ""), url=url)
        messages.success(request, f"Search saved as “{saved.name}”. Find it on the search page.")
    except ValueError as exc:
        messages.error(request, str(exc))
    safe = url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}) and url.startswith("/")
    return redirect(url if safe else "search-portal")


@login_required
@require_POST
def delete_saved(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(SavedSearch, pk=pk, owner=request.user).delete()
    messages.success(request, "Saved search deleted.")
    return redirect("search-portal")
