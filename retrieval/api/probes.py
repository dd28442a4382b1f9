"""What the search-by-example endpoints share: a multipart ``file`` validated with the view's serializer,
handed to a service as a local path, and discarded afterwards whatever happens (a probe is never stored)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from retrieval.services import probes


class ProbeFilterSerializer(serializers.Serializer):
    """Where a probe search looks; every field optional (default: all your cases, any date and kind)."""

    file = serializers.FileField()
    case = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                 help_text="only these cases (repeat the field); never widens your visibility")
    uploaded_from = serializers.DateField(required=False, help_text="evidence uploaded on or after this day")
    uploaded_to = serializers.DateField(required=False, help_text="evidence uploaded on or before this day")
    kind = serializers.CharField(required=False, help_text="media kind of the results (image, video, audio)")
    min_score = serializers.FloatField(required=False, min_value=0.0, max_value=1.0,
                                       help_text="lowest score returned (the score each result reports)")


def probe_filters(data: dict[str, Any], kinds: tuple[str, ...]) -> probes.ProbeFilters:
    """Validated serializer data → ``ProbeFilters`` (400 naming the field on a bad value)."""
    query = {"case": [str(c) for c in data.get("case") or []],
             "from": data["uploaded_from"].isoformat() if data.get("uploaded_from") else "",
             "to": data["uploaded_to"].isoformat() if data.get("uploaded_to") else "",
             "kind": [data["kind"]] if data.get("kind") else [], "min_score": data.get("min_score") or 0.0}
    try:
        return probes.parse_filters(query, kinds)
    except probes.ProbeError as exc:
        raise ValidationError({"filters": str(exc)}) from exc


def with_probe(request: Request, serializer_class: type[serializers.Serializer],
               call: Callable[[Path, str, dict[str, Any]], Any]) -> Any:
    """``call(path, file name, validated data)`` on the uploaded ``file``; a missing file or bad field is a 400."""
    upload = request.FILES.get("file")
    try:
        ser = serializer_class(data=request.data)
        ser.is_valid(raise_exception=True)
        return call(Path(upload.temporary_file_path()), upload.name, dict(ser.validated_data))
    finally:
        if upload is not None:
            upload.discard()
