"""Query by example: what every probe search (face photo, audio clip, fingerprint image) shares.

A probe is analysed in the web request by the active model of a plugin, in this process on CPU
(``run_plugin``), and never stored: not in the evidence store, not as a finding, not in a queue.
The only trace is the audit row each search writes (with the probe's SHA-256). ``check_file``
refuses, with a message for the user, what is empty, too big or of the wrong kind before any
model runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings as django_settings

from retrieval import media_io
from retrieval.models import PluginConfiguration
from retrieval.weights import sha256_file

#: Largest probe file accepted (bytes); the audio probe analyses at most ``MAX_CLIP_S`` of it anyway.
MAX_PROBE_BYTES = 64 * 1024 * 1024
#: What a user may call each kind of file, for messages.
_KIND_WORDS = {"image": "an image", "audio": "an audio file", "video": "a video", "unknown": "not a known media file"}


class ProbeError(ValueError):
    """The probe cannot be searched; the message is shown to the user as is."""


def max_probe_bytes() -> int:
    return int(getattr(django_settings, "MMSEC_MAX_PROBE_BYTES", MAX_PROBE_BYTES))


def check_file(path: Path, accept: set[str], what: str) -> media_io.Sniffed:
    """The sniffed kind of ``path`` when it is one of ``accept`` ("image", "audio", "video"); else ``ProbeError``."""
    size = path.stat().st_size
    if size == 0:
        raise ProbeError(f"the file is empty: send {what}")
    limit = max_probe_bytes()
    if size > limit:
        raise ProbeError(f"the file is {size / 2**20:.1f} MiB, above the probe limit of {limit / 2**20:.0f} MiB: "
                         f"send a shorter or smaller {what}")
    sniffed = media_io.sniff(path)
    if sniffed.kind not in accept:
        found = _KIND_WORDS.get(sniffed.kind, sniffed.kind)
        raise ProbeError(f"this file is {found} ({sniffed.mime}), not {what}")
    return sniffed


#: Streamed SHA-256 of the probe file (the audit rows' ``probe_sha256``).
sha256_of = sha256_file


def load_plugin(name: str) -> Any:
    """The active model of plugin ``name``, loaded once in this process (CPU); ``ProbeError`` when it cannot be."""
    from retrieval import inference
    from retrieval.models import ModelVersion
    from retrieval.plugin_api import PluginError
    from retrieval.plugin_registry import get_registry
    from retrieval.services.plugins import effective_settings

    cls = get_registry().get(name)
    config = PluginConfiguration.objects.filter(name=name).first()
    if cls is None or config is None:
        raise ProbeError(f"the {name} plugin is not installed")
    version = config.active_model_version or cls.model_version
    model = ModelVersion.objects.filter(plugin=name, version=version).first()
    model_dir = Path(django_settings.MMSEC_MODEL_DIR) / name
    if model and model.weights_path:
        model_dir = Path(model.weights_path)
    try:
        return inference.get_loaded(cls, version, effective_settings(config, cls), model_dir, "cpu",
                                    model.artifacts if model else []).plugin
    except (inference.ArtifactMismatch, PluginError, OSError, RuntimeError) as exc:
        raise ProbeError(f"the {name} model could not be loaded ({exc})") from exc


def run_plugin(name: str, item: Any) -> list[Any]:
    """Run the active model of plugin ``name`` on one ``plugin_api.Item`` in this process (CPU), loaded once.

    Returns the item's findings; raises ``ProbeError`` when the plugin is not installed or refuses the item.
    """
    [result] = load_plugin(name).process([item])
    if result.error:
        raise ProbeError(result.error)
    return list(result.findings)
