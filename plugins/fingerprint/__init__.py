"""mmsec plugin: biometric fingerprints (quality, minutiae, ISO template, 1:N index code)."""

from __future__ import annotations

from plugins.fingerprint.plugin import FingerprintPlugin

__all__ = ["FingerprintPlugin"]
