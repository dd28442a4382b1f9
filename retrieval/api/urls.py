"""/api/v1/ routes."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from retrieval.api import views

router = DefaultRouter()
router.register("cases", views.CaseViewSet, basename="case")
router.register("media", views.MediaViewSet, basename="media")
router.register("audit", views.AuditEventViewSet, basename="audit")

urlpatterns = [
    path("", include(router.urls)),
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("search/similar/", views.SimilarSearchView.as_view(), name="search-similar"),
]
