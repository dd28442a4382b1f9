"""Page forms."""

from __future__ import annotations

from django import forms

from retrieval.models import CaseRole


class CaseForm(forms.Form):
    title = forms.CharField(max_length=200, label="Title")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Description")


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=CaseRole.choices, initial=CaseRole.INVESTIGATOR, label="Role")
    remove = forms.BooleanField(required=False, label="Remove")
