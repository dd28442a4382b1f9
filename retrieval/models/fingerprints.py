"""Fingerprint subjects and their enrolled prints.

A ``Subject`` is a person of interest in one case (name and/or a reference such as a booking number).
An ``Enrolment`` says "this processed fingerprint image of the same case is finger N of the subject";
up to ten per subject, one per finger position (ISO/IEC 19794-2 / ANSI-NIST finger codes 1-10).
The minutiae and the 1:N index vector stay on the image's ``Finding`` (plugin ``fingerprint``), so a
reprocessed image (new DPI, new model version) updates every enrolment that points at it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from retrieval.models.cases import Case
from retrieval.models.media import MediaItem

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class FingerPosition(models.IntegerChoices):
    """ISO/IEC 19794-2 finger position codes (0 = unknown is not enrollable)."""

    RIGHT_THUMB = 1, "Right thumb"
    RIGHT_INDEX = 2, "Right index"
    RIGHT_MIDDLE = 3, "Right middle"
    RIGHT_RING = 4, "Right ring"
    RIGHT_LITTLE = 5, "Right little"
    LEFT_THUMB = 6, "Left thumb"
    LEFT_INDEX = 7, "Left index"
    LEFT_MIDDLE = 8, "Left middle"
    LEFT_RING = 9, "Left ring"
    LEFT_LITTLE = 10, "Left little"


class SubjectQuerySet(models.QuerySet["Subject"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> SubjectQuerySet:
        return self.filter(case__in=Case.objects.visible_to(user))

    def writable_by(self, user: AbstractBaseUser | AnonymousUser) -> SubjectQuerySet:
        return self.filter(case__in=Case.objects.writable_by(user))


class Subject(models.Model):
    """A person whose fingerprints are enrolled in one case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="fingerprint_subjects")
    name = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubjectQuerySet.as_manager()

    class Meta:
        ordering = ["case_id", "name", "reference", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "reference"], condition=~models.Q(reference=""),
                                    name="uniq_subject_reference_per_case"),
            models.CheckConstraint(condition=~models.Q(name="", reference=""), name="subject_has_name_or_ref"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name and self.reference:
            return f"{self.name} ({self.reference})"
        return self.name or self.reference


class Enrolment(models.Model):
    """One finger of a subject: a processed fingerprint image of the subject's case."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="enrolments")
    finger = models.PositiveSmallIntegerField(choices=FingerPosition.choices)
    media = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="fingerprint_enrolments")
    #: Quality (NFIQ2-style 0-100) and minutiae count at enrolment time (the finding may be reprocessed later).
    quality = models.PositiveSmallIntegerField(default=0)
    minutiae = models.PositiveSmallIntegerField(default=0)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enrolled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["subject_id", "finger"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "finger"], name="uniq_enrolment_finger"),
            models.UniqueConstraint(fields=["subject", "media"], name="uniq_enrolment_media"),
            models.CheckConstraint(condition=models.Q(finger__gte=1, finger__lte=10), name="enrolment_finger_1_10"),
        ]
        indexes = [models.Index(fields=["media"])]

    def __str__(self) -> str:
        return f"{self.subject} {self.get_finger_display()}"
