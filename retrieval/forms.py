"""Page forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from retrieval.models import AlertStatus, Case, CaseRole, WatchlistKind


class CaseForm(forms.Form):
    title = forms.CharField(max_length=200, label="Title")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Description")


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=CaseRole.choices, initial=CaseRole.INVESTIGATOR, label="Role")
    remove = forms.BooleanField(required=False, label="Remove")


class WatchlistForm(forms.Form):
    case = forms.ModelChoiceField(queryset=None, label="Case (owns the watchlist)")  # type: ignore[arg-type]
    name = forms.CharField(max_length=200, label="Name")
    kind = forms.ChoiceField(choices=[c for c in WatchlistKind.choices if c[0] != WatchlistKind.INTEGRITY],
                             label="What to watch for")
    threshold = forms.FloatField(required=False, min_value=0.0, max_value=1.0, label="Threshold (0–1, blank = default)")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Description")
    watched_cases = forms.ModelMultipleChoiceField(queryset=None, required=False,  # type: ignore[arg-type]
                                                   label="Also watch these cases")
    webhook_url = forms.URLField(required=False, max_length=500, assume_scheme="https", label="Webhook URL (optional)")
    notify_me = forms.BooleanField(required=False, initial=True, label="E-mail me about new alerts")

    def __init__(self, *args: object, user: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        writable = Case.objects.writable_by(user).order_by("title")  # type: ignore[arg-type]
        self.fields["case"].queryset = writable  # type: ignore[attr-defined]
        self.fields["watched_cases"].queryset = writable  # type: ignore[attr-defined]


class WatchlistEntryForm(forms.Form):
    label = forms.CharField(max_length=200, required=False, label="Label")
    value = forms.CharField(max_length=500, required=False, label="Keyword, phrase or event type")
    media_ids = forms.CharField(required=False, label="Enrolment evidence ids (comma separated)")

    def clean_media_ids(self) -> list[int]:
        raw = self.cleaned_data.get("media_ids") or ""
        try:
            return [int(x) for x in raw.replace(" ", "").split(",") if x]
        except ValueError as exc:
            raise forms.ValidationError("ids are numbers separated by commas") from exc


class AlertReviewForm(forms.Form):
    status = forms.ChoiceField(choices=AlertStatus.choices, label="Decision")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Note")


class RateLimitMixin:
    """Refuse the attempt before checking the password when this IP or username failed too often."""

    def clean(self) -> dict[str, Any]:
        from retrieval.services import login_limits

        wait = login_limits.retry_after(self.data.get("username", ""), self.request)  # type: ignore[attr-defined]
        if wait is not None:
            raise forms.ValidationError(login_limits.refusal_message(wait), code="rate_limited")
        return super().clean()  # type: ignore[misc]


class RateLimitedAuthenticationForm(RateLimitMixin, AuthenticationForm):
    pass


class RateLimitedAdminAuthenticationForm(RateLimitMixin, AdminAuthenticationForm):
    pass
