"""/api/v1/ routes."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from retrieval.api import transcripts, views, watchlists

router = DefaultRouter()
router.register("cases", views.CaseViewSet, basename="case")
router.register("media", views.MediaViewSet, basename="media")
router.register("audit", views.AuditEventViewSet, basename="audit")
router.register("watchlists", watchlists.WatchlistViewSet, basename="watchlist")
router.register("alerts", watchlists.AlertViewSet, basename="alert")

urlpatterns = [
    path("", include(router.urls)),
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("search/similar/", views.SimilarSearchView.as_view(), name="search-similar"),
    # transcripts (speech_translation)
    path("search/transcripts/", transcripts.TranscriptSearchView.as_view(), name="search-transcripts"),
    path("media/<int:pk>/transcript/", transcripts.MediaTranscriptView.as_view(), name="media-transcript"),
]
