"""Cases and who may see them.

``Case.objects.visible_to(user)`` is the single place that decides visibility:
pages, API, file downloads and search all go through it. Membership is the only
way in, for superusers too: administering the platform does not grant access to
evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    ARCHIVED = "archived", "Archived"


class CaseRole(models.TextChoices):
    OWNER = "owner", "Owner"
    INVESTIGATOR = "investigator", "Investigator"
    VIEWER = "viewer", "Viewer"


#: Roles allowed to add evidence and start processing.
WRITE_ROLES = frozenset({CaseRole.OWNER, CaseRole.INVESTIGATOR})


class CaseQuerySet(models.QuerySet["Case"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> CaseQuerySet:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self.filter(memberships__user=user).distinct()

    def writable_by(self, user: AbstractBaseUser | AnonymousUser) -> CaseQuerySet:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self.filter(memberships__user=user, memberships__role__in=list(WRITE_ROLES)).distinct()


class Case(models.Model):
    """An investigation: evidence, members and everything derived from them."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["status", "-updated_at"])]

    def __str__(self) -> str:
        return self.title

    def role_of(self, user: AbstractBaseUser | AnonymousUser) -> str | None:
        if not getattr(user, "is_authenticated", False):
            return None
        membership = self.memberships.filter(user=user).only("role").first()
        return membership.role if membership else None


class CaseMembership(models.Model):
    """A user's role in one case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_memberships")
    role = models.CharField(max_length=16, choices=CaseRole.choices, default=CaseRole.INVESTIGATOR)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="uniq_case_member")]
        ordering = ["case_id", "user_id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.case} as {self.role}"
