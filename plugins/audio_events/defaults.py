"""Default per-label detection settings (plain data, importable by the web process).

Calibrated on the dev corpus by ``bench/audio_events.py`` (scenes from the calibration half of the clips at
10/5/0 dB: F1-optimal ``on`` per label among 0.2..0.95 with at most one false alarm per hour on calibration
music and speech; ``off = 0.6 * on``). Values copied from docs/benchmarks/audio_events.json ("mmsec YAMNet").
Music is not calibrated (it is context). See README.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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

PARAM_FIELDS = ("on", "off", "min_s", "merge_s")


def _param_errors(where: str, value: Any) -> list[str]:
    """Problems with one ``{"on", "off", "min_s", "merge_s"}`` mapping (every field optional)."""
    if not isinstance(value, dict):
        return [f"{where}: expected an object like {EXTRA_CLASS_PARAMS}"]
    known = ", ".join(PARAM_FIELDS)
    errors = [f"{where}: unknown field {k!r} (known: {known})" for k in value if k not in PARAM_FIELDS]
    for k in PARAM_FIELDS:
        v = value.get(k)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            errors.append(f"{where}.{k}: expected a number")
        elif k in ("on", "off") and not 0.0 < v <= 1.0:
            errors.append(f"{where}.{k}: must be > 0 and <= 1 (a probability)")
        elif k in ("min_s", "merge_s") and not 0.0 <= v <= 60.0:
            errors.append(f"{where}.{k}: must be between 0 and 60 seconds")
    on, off = value.get("on"), value.get("off")
    if isinstance(on, (int, float)) and isinstance(off, (int, float)) and off > on:
        errors.append(f"{where}: off ({off}) must not exceed on ({on}) (hysteresis)")
    return errors


def settings_errors(values: Mapping[str, Any], label_keys: Iterable[str]) -> dict[str, str]:
    """Validate the detection settings an administrator edits; ``{setting: message}``, empty when valid."""
    known = set(label_keys)
    errors: dict[str, str] = {}
    labels = values.get("labels")
    if labels is not None:
        problems: list[str] = []
        if not isinstance(labels, dict):
            problems.append("expected an object keyed by label")
        else:
            for key, params in labels.items():
                if key not in known:
                    problems.append(f"unknown label {key!r} (known: {', '.join(sorted(known))})")
                else:
                    problems += _param_errors(key, params)
        if problems:
            errors["labels"] = "; ".join(problems)
    if "extra_class_params" in values:
        problems = _param_errors("extra_class_params", values["extra_class_params"])
        if problems:
            errors["extra_class_params"] = "; ".join(problems)
    disabled = values.get("disabled_labels")
    if disabled is not None:
        unknown = [d for d in disabled if d not in known] if isinstance(disabled, list) else ["(not a list)"]
        if unknown:
            errors["disabled_labels"] = f"unknown labels {unknown}"
    extra = values.get("extra_classes")
    if extra is not None and (not isinstance(extra, list) or not all(isinstance(c, str) and c.strip() for c in extra)):
        errors["extra_classes"] = "expected a list of AudioSet class names"
    return errors
