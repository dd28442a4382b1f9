"""Append-only audit trail.

Rows cannot be updated or deleted: a database trigger (migration 0001) raises on
UPDATE and DELETE, so not even a bug or a Django shell can rewrite history.
Actor and case are stored as plain ids and text, without foreign keys, so that
deleting a user or a case never has to touch an audit row.
"""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, when."""

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    case_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["case_id", "-time"]), models.Index(fields=["action", "-time"])]

    def __str__(self) -> str:
        who = self.actor_name or "system"
        return f"{self.time:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.target_type}:{self.target_id}"
