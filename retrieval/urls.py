"""Page routes."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from retrieval import views, views_alerts, views_references

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="case-list"), name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(template_name="registration/password_change.html",
                                                            success_url="/password/done/"), name="password-change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(
        template_name="registration/password_change_done.html"), name="password_change_done"),
    path("health/", views.health, name="health"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_create, name="case-create"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/members/", views.case_members, name="case-members"),
    path("cases/<int:pk>/status/", views.case_status, name="case-status"),
    path("media/<int:pk>/", views.media_detail, name="media-detail"),
    path("media/<int:pk>/file/", views.media_file, name="media-file"),
    path("media/<int:pk>/preview.png", views.media_preview, name="media-preview"),
    path("alerts/", views_alerts.alert_list, name="alert-list"),
    path("alerts/<int:pk>/", views_alerts.alert_detail, name="alert-detail"),
    path("watchlists/", views_alerts.watchlist_list, name="watchlist-list"),
    path("watchlists/new/", views_alerts.watchlist_create, name="watchlist-create"),
    path("watchlists/<int:pk>/", views_alerts.watchlist_detail, name="watchlist-detail"),
    path("references/", views_references.collection_list, name="reference-collection-list"),
    path("references/<int:pk>/", views_references.collection_detail, name="reference-collection-detail"),
    path("references/recordings/<int:pk>/file/", views_references.recording_file, name="reference-recording-file"),
]
