"""Page forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from retrieval.models import CaseRole


class CaseForm(forms.Form):
    title = forms.CharField(max_length=200, label="Title")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Description")


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=CaseRole.choices, initial=CaseRole.INVESTIGATOR, label="Role")
    remove = forms.BooleanField(required=False, label="Remove")


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
