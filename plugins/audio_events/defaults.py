"""Default per-label detection settings (plain data, importable by the web process).

Calibrated on the dev corpus by ``bench/audio_events.py`` (scenes from the calibration half of the clips at
10/5/0 dB: F1-optimal ``on`` per label among 0.2..0.95 with at most one false alarm per hour on calibration
music and speech; ``off = 0.6 * on``). Values copied from docs/benchmarks/audio_events.json ("mmsec YAMNet").
Music is not calibrated (it is context). See README.md.
"""

from __future__ import annotations

from typing import Any

DEFAULT_LABEL_PARAMS: dict[str, dict[str, Any]] = {
    "gunshot": {"on": 0.25, "off": 0.15, "min_s": 0.0, "merge_s": 0.5},
    "explosion": {"on": 0.75, "off": 0.45, "min_s": 0.0, "merge_s": 0.5},
    "fireworks": {"on": 0.3, "off": 0.18, "min_s": 0.0, "merge_s": 0.5},
    "glass_breaking": {"on": 0.45, "off": 0.27, "min_s": 0.0, "merge_s": 0.5},
    "siren": {"on": 0.3, "off": 0.18, "min_s": 0.9, "merge_s": 1.0},
    "alarm": {"on": 0.95, "off": 0.57, "min_s": 0.0, "merge_s": 1.0},
    "scream": {"on": 0.25, "off": 0.15, "min_s": 0.0, "merge_s": 0.5},
    "crying": {"on": 0.5, "off": 0.3, "min_s": 0.0, "merge_s": 1.0},
    "dog": {"on": 0.55, "off": 0.33, "min_s": 0.0, "merge_s": 0.5},
    "crash": {"on": 0.3, "off": 0.18, "min_s": 0.0, "merge_s": 0.5},
    "vehicle": {"on": 0.8, "off": 0.48, "min_s": 0.9, "merge_s": 1.0},
    "speech": {"on": 0.45, "off": 0.27, "min_s": 0.0, "merge_s": 1.0},
    "music": {"on": 0.5, "off": 0.3, "min_s": 0.9, "merge_s": 2.0},
}

EXTRA_CLASS_PARAMS: dict[str, Any] = {"on": 0.5, "off": 0.3, "min_s": 0.0, "merge_s": 0.5}
