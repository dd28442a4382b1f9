"""WSGI entry point (gunicorn in production).

Each web process loads the models that web requests run (probe photos, transcript queries) in a background
thread right after start (``retrieval.services.warmup``; ``MMSEC_WEB_WARMUP=0`` turns it off). Do not run
gunicorn with ``--preload``: torch must not be initialised before the fork.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mmsec_site.settings")
application = get_wsgi_application()

if settings.MMSEC_WEB_WARMUP:
    from retrieval.services import warmup

    warmup.start_in_background()
