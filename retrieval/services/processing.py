"""Step ``metadata``: find out what an upload really is, describe it, draw its preview.

Every failure ends as a failed job with a readable reason on the media item;
nothing here may crash a worker.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from retrieval import media_io, storage
from retrieval.models import MediaItem, MediaKind, MediaStatus, ProcessingJob
from retrieval.services import previews

log = logging.getLogger(__name__)


class MediaRejected(Exception):
    """The file is not usable evidence media; the message says why."""


def describe_media(media: MediaItem) -> dict[str, Any]:
    """Sniff the content type and read the technical metadata; raises ``MediaRejected``."""
    path = storage.object_path(media.sha256)
    if media.size == 0:
        raise MediaRejected("the file is empty (0 bytes)")
    sniffed = media_io.sniff(path)
    if sniffed.kind == "unknown":
        raise MediaRejected(f"unsupported file type ({sniffed.mime}): upload an image, audio or video file")
    try:
        if sniffed.kind == "image":
            info = media_io.probe_image(path)
        else:
            info = media_io.probe_av(path)
    except media_io.DecodeError as exc:
        raise MediaRejected(f"{sniffed.kind} file could not be read: {exc}") from exc
    return {"kind": sniffed.kind, "mime": sniffed.mime, **info}


def run_metadata_step(job: ProcessingJob) -> None:
    """Fill in kind/mime/dimensions/duration and make the preview. Raises ``MediaRejected``."""
    media = job.media
    info = describe_media(media)
    path = storage.object_path(media.sha256)
    media.kind = info["kind"]
    media.mime = info["mime"]
    media.width = info.get("width")
    media.height = info.get("height")
    media.duration_s = info.get("duration_s")
    media.sample_rate = info.get("sample_rate")
    media.channels = info.get("channels")
    media.codec = str(info.get("codec") or "")[:64]
    media.metadata = {k: v for k, v in info.items() if k not in {"kind", "mime"}}
    dest = storage.preview_path(media.pk)
    try:
        if media.kind == MediaKind.IMAGE:
            previews.image_thumbnail(path, dest)
            media.has_preview = True
        elif media.kind == MediaKind.VIDEO:
            at = min(1.0, (media.duration_s or 0) / 2)
            media.has_preview = previews.video_poster(path, dest, at)
            if not media.has_preview:
                raise MediaRejected("video has no decodable frame")
        elif media.kind == MediaKind.AUDIO:
            decoded = previews.audio_waveform(path, dest, media.duration_s)
            media.has_preview = True
            if not media.duration_s:
                media.duration_s = decoded
    except media_io.DecodeError as exc:
        raise MediaRejected(f"{media.kind} file could not be decoded: {exc}") from exc
    media.error = ""
    media.updated_at = timezone.now()
    media.save()


def mark_rejected(media_id: int, reason: str) -> None:
    MediaItem.objects.filter(pk=media_id).update(status=MediaStatus.FAILED, error=reason[:2000],
                                                 updated_at=timezone.now())
