"""Page routes."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from retrieval import views
from retrieval.forms import RateLimitedAuthenticationForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="case-list"), name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html",
                                                authentication_form=RateLimitedAuthenticationForm), name="login"),
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
]
