"""mmsec face plugin: YuNet detection + SFace embeddings (see README.md)."""

from __future__ import annotations

from plugins.face.plugin import FacePlugin

__all__ = ["FacePlugin"]
