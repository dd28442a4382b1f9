"""The security label set: plain names mapped to AudioSet classes (YAMNet display names).

Django-free and torch-free: the web process reads these to show plain names and build filters.
A label's framewise score is the max over its AudioSet classes' scores.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SecurityLabel:
    """A label an investigator searches for, and the AudioSet classes (display names) that make it up."""

    key: str
    plain_name: str
    classes: tuple[str, ...]
    security: bool  # counted in "security" false-alarm figures (speech/music/vehicle are context, not alarms)


SECURITY_LABELS: tuple[SecurityLabel, ...] = (
    SecurityLabel("gunshot", "Gunshot / gunfire",
                  ("Gunshot, gunfire", "Machine gun", "Fusillade", "Artillery fire", "Cap gun"), True),
    SecurityLabel("explosion", "Explosion", ("Explosion", "Boom", "Eruption"), True),
    SecurityLabel("fireworks", "Fireworks / firecracker", ("Fireworks", "Firecracker"), True),
    SecurityLabel("glass_breaking", "Glass breaking", ("Shatter", "Glass", "Breaking"), True),
    SecurityLabel("siren", "Siren (police, ambulance, fire, civil defence)",
                  ("Siren", "Civil defense siren", "Police car (siren)", "Ambulance (siren)",
                   "Fire engine, fire truck (siren)", "Emergency vehicle"), True),
    SecurityLabel("alarm", "Alarm (car, smoke, fire, alarm clock)",
                  ("Alarm", "Car alarm", "Smoke detector, smoke alarm", "Fire alarm", "Buzzer", "Alarm clock"), True),
    SecurityLabel("scream", "Screaming / shouting", ("Screaming", "Shout", "Yell", "Children shouting"), True),
    SecurityLabel("crying", "Crying", ("Crying, sobbing", "Baby cry, infant cry", "Wail, moan"), True),
    SecurityLabel("dog", "Dog barking", ("Dog", "Bark", "Yip", "Howl", "Bow-wow", "Growling"), True),
    SecurityLabel("crash", "Crash / tyre skid", ("Smash, crash", "Skidding", "Tire squeal"), True),
    SecurityLabel("vehicle", "Vehicle / engine",
                  ("Vehicle", "Motor vehicle (road)", "Car", "Truck", "Motorcycle", "Engine", "Idling",
                   "Accelerating, revving, vroom", "Light engine (high frequency)", "Medium engine (mid frequency)",
                   "Heavy engine (low frequency)", "Engine starting", "Race car, auto racing"), False),
    SecurityLabel("speech", "Speech",
                  ("Speech", "Conversation", "Narration, monologue", "Child speech, kid speaking"), False),
    SecurityLabel("music", "Music", ("Music",), False),
)

LABELS_BY_KEY: dict[str, SecurityLabel] = {label.key: label for label in SECURITY_LABELS}


def load_class_names(csv_path: Path) -> list[str]:
    """YAMNet's 521 display names, in output order (``yamnet_class_map.csv``: index,mid,display_name)."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    names = [row[2].strip() for row in rows[1:] if len(row) >= 3]
    if len(names) != 521:
        raise ValueError(f"{csv_path}: expected 521 classes, found {len(names)}")
    return names


def label_class_indices(class_names: list[str]) -> dict[str, list[int]]:
    """Security label key -> indices of its AudioSet classes; fails loudly on a misspelt class name."""
    index = {name: i for i, name in enumerate(class_names)}
    out: dict[str, list[int]] = {}
    for label in SECURITY_LABELS:
        missing = [c for c in label.classes if c not in index]
        if missing:
            raise ValueError(f"label {label.key}: unknown AudioSet classes {missing}")
        out[label.key] = [index[c] for c in label.classes]
    return out
