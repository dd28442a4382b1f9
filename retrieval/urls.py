"""Page routes."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from retrieval import (
    views,
    views_alerts,
    views_audio_events,
    views_faces,
    views_fingerprints,
    views_models,
    views_probes,
    views_references,
    views_reports,
    views_search,
    views_transcripts,
)
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
    path("cases/<int:pk>/report/", views_reports.case_report, name="case-report"),
    path("cases/<int:pk>/report.pdf", views_reports.case_report_pdf, name="case-report-pdf"),
    path("media/<int:pk>/", views.media_detail, name="media-detail"),
    path("media/<int:pk>/file/", views.media_file, name="media-file"),
    path("media/<int:pk>/preview.png", views.media_preview, name="media-preview"),
    path("search/", views_search.portal, name="search-portal"),
    path("search/saved/", views_search.save, name="search-save"),
    path("search/saved/<int:pk>/delete/", views_search.delete_saved, name="search-saved-delete"),
    path("models/", views_models.model_overview, name="model-overview"),
    path("models/status.json", views_models.model_status, name="model-status"),
    path("alerts/", views_alerts.alert_list, name="alert-list"),
    path("alerts/<int:pk>/", views_alerts.alert_detail, name="alert-detail"),
    path("watchlists/", views_alerts.watchlist_list, name="watchlist-list"),
    path("watchlists/new/", views_alerts.watchlist_create, name="watchlist-create"),
    path("watchlists/<int:pk>/", views_alerts.watchlist_detail, name="watchlist-detail"),
    # audio events (issue 7)
    path("audio-events/", views_audio_events.event_search, name="audio-event-search"),
    path("audio-events/<int:pk>/similar/", views_audio_events.similar_sounds, name="audio-event-similar"),
    path("media/<int:pk>/spectrogram.png", views_audio_events.spectrogram, name="media-spectrogram"),
    # transcripts (speech_translation)
    path("search/transcripts/", views_transcripts.transcript_search, name="transcript-search"),
    path("media/<int:pk>/transcript.<str:fmt>", views_transcripts.transcript_export, name="transcript-export"),
    # faces
    path("cases/<int:pk>/persons/", views_faces.case_persons, name="case-persons"),
    path("cases/<int:pk>/persons/cluster/", views_faces.case_cluster, name="case-cluster"),
    path("persons/<int:pk>/", views_faces.person_detail, name="person-detail"),
    path("faces/crop/<int:finding_id>.jpg", views_faces.face_crop, name="face-crop"),
    path("faces/search/", views_faces.probe_search, name="face-probe"),
    # fingerprints: subjects, enrolment, 1:N / 1:1, DPI, ISO/IEC 19794-2 export
    path("cases/<int:pk>/subjects/", views_fingerprints.subject_list, name="subject-list"),
    path("subjects/<int:pk>/", views_fingerprints.subject_detail, name="subject-detail"),
    path("fingerprints/verify/", views_fingerprints.verify, name="fingerprint-verify"),
    path("media/<int:pk>/fingerprint/identify/", views_fingerprints.identify, name="fingerprint-identify"),
    path("media/<int:pk>/fingerprint/enrol/", views_fingerprints.enrol_media, name="fingerprint-enrol-media"),
    path("media/<int:pk>/fingerprint/dpi/", views_fingerprints.set_dpi, name="fingerprint-dpi"),
    path("media/<int:pk>/fingerprint/template/", views_fingerprints.template_download, name="fingerprint-template"),
    path("media/<int:pk>/fingerprint/image.png", views_fingerprints.print_image, name="fingerprint-image"),
    # search by example: audio clip, fingerprint image (never stored)
    path("search/audio/", views_probes.audio_probe_search, name="audio-probe"),
    path("search/fingerprint/", views_probes.fingerprint_probe_search, name="fingerprint-probe"),
    path("references/", views_references.collection_list, name="reference-collection-list"),
    path("references/<int:pk>/", views_references.collection_detail, name="reference-collection-detail"),
    path("references/recordings/<int:pk>/file/", views_references.recording_file, name="reference-recording-file"),
]
