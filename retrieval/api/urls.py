"""/api/v1/ routes."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from retrieval.api import references, views, watchlists

router = DefaultRouter()
router.register("cases", views.CaseViewSet, basename="case")
router.register("media", views.MediaViewSet, basename="media")
router.register("audit", views.AuditEventViewSet, basename="audit")
router.register("watchlists", watchlists.WatchlistViewSet, basename="watchlist")
router.register("alerts", watchlists.AlertViewSet, basename="alert")
router.register("reference-collections", references.ReferenceCollectionViewSet, basename="reference-collection")
router.register("reference-recordings", references.ReferenceRecordingViewSet, basename="reference-recording")

urlpatterns = [
    path("", include(router.urls)),
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("search/similar/", views.SimilarSearchView.as_view(), name="search-similar"),
]
