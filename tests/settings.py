"""Test settings: the same settings, with state (embedded servers, storage) under var/test/."""

from __future__ import annotations

import os
from pathlib import Path

_base = Path(__file__).resolve().parent.parent
os.environ.setdefault("MMSEC_VAR_DIR", str(_base / "var" / "test"))
os.environ.setdefault("MMSEC_THROTTLE_ANON", "100000/min")
os.environ.setdefault("MMSEC_THROTTLE_USER", "100000/min")

from mmsec_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

# A read-replica alias that points at the test database (TEST MIRROR); search uses it only where a test sets
# MMSEC_SEARCH_REPLICA_ALIAS = "replica" (and allows that alias, with transaction=True so both sessions see rows).
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
