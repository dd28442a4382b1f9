"""/api/v1/ routes."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from retrieval.api import audio_events, audio_probe, faces, fingerprints, references, transcripts, views, watchlists

router = DefaultRouter()
router.register("cases", views.CaseViewSet, basename="case")
router.register("media", views.MediaViewSet, basename="media")
router.register("audit", views.AuditEventViewSet, basename="audit")
router.register("watchlists", watchlists.WatchlistViewSet, basename="watchlist")
router.register("alerts", watchlists.AlertViewSet, basename="alert")
router.register("persons", faces.PersonViewSet, basename="person")
router.register("subjects", fingerprints.SubjectViewSet, basename="subject")
router.register("reference-collections", references.ReferenceCollectionViewSet, basename="reference-collection")
router.register("reference-recordings", references.ReferenceRecordingViewSet, basename="reference-recording")

urlpatterns = [
    path("", include(router.urls)),
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("search/similar/", views.SimilarSearchView.as_view(), name="search-similar"),
    # audio events (issue 7)
    path("audio-events/", audio_events.AudioEventSearchView.as_view(), name="audio-event-search-api"),
    path("audio-events/labels/", audio_events.AudioEventLabelsView.as_view(), name="audio-event-labels"),
    path("audio-events/<int:pk>/similar/", audio_events.SimilarSoundsView.as_view(), name="audio-event-similar-api"),
    # transcripts (speech_translation)
    path("search/transcripts/", transcripts.TranscriptSearchView.as_view(), name="search-transcripts"),
    path("media/<int:pk>/transcript/", transcripts.MediaTranscriptView.as_view(), name="media-transcript"),
    path("faces/probe/", faces.ProbeSearchView.as_view(), name="face-probe-api"),
    path("fingerprints/identify/", fingerprints.IdentifyView.as_view(), name="fingerprint-api-identify"),
    path("fingerprints/verify/", fingerprints.VerifyView.as_view(), name="fingerprint-api-verify"),
    path("fingerprints/probe/", fingerprints.ProbeView.as_view(), name="fingerprint-api-probe"),
    path("audio/probe/", audio_probe.AudioProbeView.as_view(), name="audio-probe-api"),
    path("fingerprints/<int:pk>/", fingerprints.PrintView.as_view(), name="fingerprint-api-print"),
    path("fingerprints/<int:pk>/dpi/", fingerprints.DpiView.as_view(), name="fingerprint-api-dpi"),
    path("fingerprints/<int:pk>/template/", fingerprints.TemplateView.as_view(), name="fingerprint-api-template"),
]
