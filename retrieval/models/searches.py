"""Saved searches: a user's named link to any search page with its filters.

Only the path and query string are stored; results are computed again when the
search is opened, under the user's permissions at that time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SavedSearch(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches")
    name = models.CharField(max_length=200)
    path = models.CharField(max_length=200)  # a local path, e.g. /search/events/
    query = models.CharField(max_length=2000, blank=True)  # the query string without "?"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["owner_id", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="uniq_saved_search_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path
