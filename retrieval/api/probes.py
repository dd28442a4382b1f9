"""What the search-by-example endpoints share: a multipart ``file`` validated with the view's serializer,
handed to a service as a local path, and discarded afterwards whatever happens (a probe is never stored)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request


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
