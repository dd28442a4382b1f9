"""Watchlists (what investigators watch for) and the alerts they raise.

A watchlist belongs to one case: its enrolment material (photos, prints,
reference recordings, words) is evidence of that case and only its members may
see or edit it. It watches new findings in its own case and, optionally, in
other cases the creator belongs to (``watched_cases``). An alert links a
finding in a watched case to a watchlist entry, so it is visible only to users
who may see *both* cases (``Alert.objects.visible_to``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from retrieval.models.cases import Case
from retrieval.models.embeddings import Finding
from retrieval.models.media import MediaItem

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class WatchlistKind(models.TextChoices):
    PERSON = "person", "People (faces)"
    FINGERPRINT = "fingerprint", "Fingerprints (subjects)"
    RECORDING = "recording", "Recordings (reference collections)"
    EVENT_TYPE = "event_type", "Audio event types"
    KEYWORD = "keyword", "Keywords and phrases"
    INTEGRITY = "integrity", "Evidence integrity (system)"


class WatchlistQuerySet(models.QuerySet["Watchlist"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> WatchlistQuerySet:
        return self.filter(case__in=Case.objects.visible_to(user))

    def writable_by(self, user: AbstractBaseUser | AnonymousUser) -> WatchlistQuerySet:
        return self.filter(case__in=Case.objects.writable_by(user))

    def watching(self, case_id: int) -> WatchlistQuerySet:
        """Enabled watchlists that look at new findings of ``case_id``."""
        return self.filter(enabled=True).filter(
            models.Q(case_id=case_id) | models.Q(watched_cases__id=case_id)
        ).distinct()


class Watchlist(models.Model):
    """A named set of entries of one kind, with a threshold and who to notify."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="watchlists")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=WatchlistKind.choices)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    #: Minimum score (the matcher's calibrated score, 0..1) for an alert; ``None`` = the matcher's default.
    threshold = models.FloatField(null=True, blank=True)
    watched_cases = models.ManyToManyField(Case, blank=True, related_name="watched_by")
    notify_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    webhook_url = models.URLField(blank=True, max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WatchlistQuerySet.as_manager()

    class Meta:
        ordering = ["case_id", "name", "id"]
        indexes = [models.Index(fields=["kind", "enabled"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def watched_case_ids(self) -> set[int]:
        return {self.case_id, *self.watched_cases.values_list("id", flat=True)}


class WatchlistEntry(models.Model):
    """One thing to watch for.

    ``value`` holds text entries (a keyword/phrase, an event label); ``media``
    the enrolment items (photos of a person, prints of a subject, reference
    recordings); ``data`` kind-specific extras (e.g. a person or subject id).
    """

    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="entries")
    label = models.CharField(max_length=200)
    value = models.CharField(max_length=500, blank=True)
    media = models.ManyToManyField(MediaItem, blank=True, related_name="watchlist_entries")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["watchlist_id", "label", "id"]

    def __str__(self) -> str:
        return self.label


class AlertStatus(models.TextChoices):
    NEW = "new", "New"
    CONFIRMED = "confirmed", "Confirmed"
    DISMISSED = "dismissed", "Dismissed"


class AlertQuerySet(models.QuerySet["Alert"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> AlertQuerySet:
        """Alerts whose evidence case AND watchlist case the user belongs to."""
        visible = Case.objects.visible_to(user)
        return self.filter(case__in=visible, watchlist__case__in=visible)


class Alert(models.Model):
    """A watchlist entry matched a finding in a watched case."""

    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="alerts")
    entry = models.ForeignKey(WatchlistEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    entry_label = models.CharField(max_length=200)  # kept when the entry is deleted
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="alerts")
    media = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="alerts")
    finding = models.ForeignKey(Finding, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    plugin = models.CharField(max_length=64)
    #: De-duplicates re-runs: one alert per watchlist, media and dedup key (e.g. entry + segment).
    dedup_key = models.CharField(max_length=200)
    score = models.FloatField()
    start_s = models.FloatField(null=True, blank=True)
    end_s = models.FloatField(null=True, blank=True)
    box = models.JSONField(null=True, blank=True)
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.NEW)
    note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["watchlist", "media", "dedup_key"], name="uniq_alert_dedup"),
        ]
        indexes = [
            models.Index(fields=["case", "status", "-created_at"]),
            models.Index(fields=["status", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.summary} ({self.status})"
