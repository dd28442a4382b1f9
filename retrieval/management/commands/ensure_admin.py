"""Create the first administrator if there is none (used by `make run`)."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an administrator (MMSEC_ADMIN_USER / MMSEC_ADMIN_PASSWORD) if no superuser exists."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("MMSEC_ADMIN_USER", "admin")
        password = os.environ.get("MMSEC_ADMIN_PASSWORD")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(self.style.WARNING(
                f"Created administrator '{username}' with password: {password}\n"
                "This is shown once. Change it after logging in, or set MMSEC_ADMIN_PASSWORD next time."
            ))
        else:
            self.stdout.write(f"Created administrator '{username}' (password from MMSEC_ADMIN_PASSWORD).")
