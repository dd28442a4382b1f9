"""Audio fingerprinting plugin: finds known recordings inside evidence audio, with offsets."""

from __future__ import annotations

from plugins.audio_fingerprint.plugin import AudioFingerprintPlugin

__all__ = ["AudioFingerprintPlugin"]
