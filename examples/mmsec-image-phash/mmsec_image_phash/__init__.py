"""mmsec example plugin: perceptual image hashes (pHash + dHash) as a 128-d search vector."""

from __future__ import annotations

from mmsec_image_phash.plugin import ImagePhashPlugin

__all__ = ["ImagePhashPlugin"]
