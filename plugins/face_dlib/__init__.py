"""mmsec face_dlib plugin: YuNet detection + dlib ResNet embeddings (see README.md)."""

from __future__ import annotations

from plugins.face_dlib.plugin import FaceDlibPlugin

__all__ = ["FaceDlibPlugin"]
