"""Upload handler that streams each file to the evidence store while hashing it.

Django's default handlers either buffer in memory or copy a temp file later;
this one writes every chunk once, to a temp file on the store's filesystem,
updates SHA-256 as it goes and enforces the size limit while streaming, so a
1 GiB upload costs a few MB of memory and no second pass.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from retrieval import storage


def storage_error(request: Any) -> str | None:
    """Why the store could not take this request's files (disk full, I/O error), or None."""
    return getattr(request, "_mmsec_storage_error", None)


class TooLarge(Exception):
    """Raised (via the request flag) when an upload exceeds MMSEC_MAX_UPLOAD_BYTES."""


class HashedUpload(UploadedFile):
    """An uploaded file already on disk in the store's temp dir, with its digest."""

    def __init__(self, temp_path: Path, name: str, content_type: str, size: int, sha256: str) -> None:
        super().__init__(file=open(temp_path, "rb"), name=name, content_type=content_type, size=size)  # noqa: SIM115
        self.temp_path = temp_path
        self.sha256 = sha256

    def temporary_file_path(self) -> str:
        return str(self.temp_path)

    def discard(self) -> None:
        """Remove the temp file (if it was not committed to the store)."""
        self.close()
        self.temp_path.unlink(missing_ok=True)


class HashingUploadHandler(FileUploadHandler):
    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self._fh: Any = None
        self._temp: Path | None = None
        self._digest: Any = None
        self._size = 0
        self.max_bytes = int(settings.MMSEC_MAX_UPLOAD_BYTES)

    def handle_raw_input(self, input_data: Any, META: dict[str, Any], content_length: int, boundary: Any,
                         encoding: str | None = None) -> None:
        # Refuse early when the declared length alone is over the limit (plus multipart overhead).
        if content_length and content_length > self.max_bytes + 1024 * 1024:
            self._flag_too_large()
            raise StopUpload(connection_reset=False)

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        try:
            fd, self._temp = storage.new_temp_file()
        except OSError as exc:
            self._storage_failed(exc)
        self._fh = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._size += len(raw_data)
        if self._size > self.max_bytes:
            self._abort()
            self._flag_too_large()
            raise StopUpload(connection_reset=False)
        self._digest.update(raw_data)
        try:
            storage.write_chunk(self._fh, raw_data)
        except OSError as exc:
            self._storage_failed(exc)
        return None

    def file_complete(self, file_size: int) -> HashedUpload | None:
        if self._fh is None or self._temp is None:
            return None
        try:
            self._fh.flush()  # buffered bytes: a full disk may only show here
            os.fsync(self._fh.fileno())
        except OSError as exc:
            self._storage_failed(exc)
        self._fh.close()
        self._fh = None
        upload = HashedUpload(self._temp, self.file_name or "upload", self.content_type or "", self._size,
                              self._digest.hexdigest())
        pending = getattr(self.request, "_mmsec_uploads", None)
        if pending is None:
            pending = []
            if self.request is not None:
                self.request._mmsec_uploads = pending
        pending.append(upload)
        self._temp = None
        return upload

    def upload_interrupted(self) -> None:
        self._abort()

    def _abort(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass  # flushing the rest failed too (disk full): the file is removed below
            self._fh = None
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None

    def _storage_failed(self, exc: OSError) -> None:
        """Disk full or I/O error: drop the partial file and stop reading this request."""
        self._abort()
        if self.request is not None:
            self.request._mmsec_storage_error = f"the evidence store could not write the file: {exc.strerror or exc}"
        raise StopUpload(connection_reset=False) from exc

    def _flag_too_large(self) -> None:
        if self.request is not None:
            self.request._mmsec_too_large = True


def cleanup_request_uploads(request: Any) -> None:
    """Delete temp files of this request's uploads that were not committed (call in ``finally``)."""
    for upload in getattr(request, "_mmsec_uploads", []):
        upload.discard()
