"""/api/v1/ routes."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from retrieval.api import fingerprints, views, watchlists

router = DefaultRouter()
router.register("cases", views.CaseViewSet, basename="case")
router.register("media", views.MediaViewSet, basename="media")
router.register("audit", views.AuditEventViewSet, basename="audit")
router.register("watchlists", watchlists.WatchlistViewSet, basename="watchlist")
router.register("alerts", watchlists.AlertViewSet, basename="alert")
router.register("subjects", fingerprints.SubjectViewSet, basename="subject")

urlpatterns = [
    path("", include(router.urls)),
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("search/similar/", views.SimilarSearchView.as_view(), name="search-similar"),
    path("fingerprints/identify/", fingerprints.IdentifyView.as_view(), name="fingerprint-api-identify"),
    path("fingerprints/verify/", fingerprints.VerifyView.as_view(), name="fingerprint-api-verify"),
    path("fingerprints/<int:pk>/", fingerprints.PrintView.as_view(), name="fingerprint-api-print"),
    path("fingerprints/<int:pk>/dpi/", fingerprints.DpiView.as_view(), name="fingerprint-api-dpi"),
    path("fingerprints/<int:pk>/template/", fingerprints.TemplateView.as_view(), name="fingerprint-api-template"),
]
