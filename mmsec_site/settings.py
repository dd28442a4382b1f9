"""Django settings for mmsec: every deploy-time value comes from ``MMSEC_*`` environment variables.

Without ``DATABASE_URL`` / ``REDIS_URL`` the site uses the embedded PostgreSQL
and Redis that ``make run`` starts (``mmsec_site.embedded``); production sets both.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from mmsec_site import embedded
from mmsec_site.env import env_bool, env_int, env_list, env_secret, env_str
from retrieval.allocator import DEFAULT_KEEP_MB

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.default_var_dir()
SERVICES = embedded.paths(VAR_DIR)

# --------------------------------------------------------------------------- core

DEBUG = env_bool("MMSEC_DEBUG", False)


def _secret_key() -> str:
    key = env_secret("MMSEC_SECRET_KEY")
    if key:
        return key
    if env_bool("MMSEC_PRODUCTION", False):
        raise ImproperlyConfigured("MMSEC_SECRET_KEY (or MMSEC_SECRET_KEY_FILE) must be set in production")
    # Development: one random key per var dir, kept so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("MMSEC_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("MMSEC_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "retrieval",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "retrieval.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "mmsec_site.urls"
WSGI_APPLICATION = "mmsec_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "retrieval.context_processors.alerts",
            ],
        },
    },
]

# --------------------------------------------------------------------------- database


def _database_from_url(url: str) -> dict[str, object]:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ImproperlyConfigured(f"DATABASE_URL must be a postgresql:// URL (got scheme {parsed.scheme!r})")
    query = parse_qs(parsed.query)
    host = unquote(parsed.hostname or "") or query.get("host", [""])[0]
    options = {k: v[0] for k, v in query.items() if k != "host"}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or env_secret("MMSEC_DATABASE_PASSWORD")),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "OPTIONS": options,
    }


_database_url = env_secret("DATABASE_URL")
DATABASES = {"default": _database_from_url(_database_url) if _database_url else embedded.database_settings(SERVICES)}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("MMSEC_DB_CONN_MAX_AGE", 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if os.environ.get("MMSEC_DATABASE_NAME"):  # a worker pointed at a test database
    DATABASES["default"]["NAME"] = os.environ["MMSEC_DATABASE_NAME"]
DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str("MMSEC_TEST_DATABASE_NAME", "test_mmsec")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
#: Optional read replica for search reads (``retrieval.db_router``): same schema, streaming replication.
_replica_url = env_secret("DATABASE_REPLICA_URL")
if _replica_url:
    DATABASES["replica"] = _database_from_url(_replica_url) | {
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"], "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }
#: The alias search reads use inside ``retrieval.db_router.search_reads`` ("": the primary).
MMSEC_SEARCH_REPLICA_ALIAS = "replica" if _replica_url else ""
DATABASE_ROUTERS = ["retrieval.db_router.SearchReplicaRouter"]

# --------------------------------------------------------------------------- vector search

#: A filtered candidate set up to this many rows x 128 dimensions is searched exactly (scaled by dimension), in
#: spaces without the covering exact-path index (wider than 512-d): 10,000 rows at 1,024-d, where a 2-5 % filter
#: of 200k audio-event vectors took p95 21-39 ms exactly (recall 1.0) against 44-55 ms and recall 0.96-0.99 through
#: HNSW (docs/benchmarks/vector_search.md).
MMSEC_SEARCH_EXACT_MAX_ROWS = env_int("MMSEC_SEARCH_EXACT_MAX_ROWS", 80_000)
#: The same for spaces with the covering exact-path index (``embeddings.EXACT_INDEX_MAX_DIM``): at 1M x 128 a
#: 15 % filter (140,000 rows) took p95 44 ms exactly, where HNSW at ef 400 kept recall@10 0.94
#: (docs/benchmarks/vector_search.md).
MMSEC_SEARCH_EXACT_MAX_ROWS_COVERED = env_int("MMSEC_SEARCH_EXACT_MAX_ROWS_COVERED", 150_000)
#: Smallest hnsw.ef_search of the index path (recall at no / mild filters).
MMSEC_SEARCH_EF_MIN = env_int("MMSEC_SEARCH_EF_MIN", 100)
#: Session settings for HNSW index builds ("" / -1: the server's own).
MMSEC_HNSW_BUILD_MEMORY = env_str("MMSEC_HNSW_BUILD_MEMORY", "")
MMSEC_HNSW_BUILD_WORKERS = env_int("MMSEC_HNSW_BUILD_WORKERS", -1)
#: Store this many findings in one call and the table is ANALYZEd afterwards (planner estimates stay true).
MMSEC_ANALYZE_AFTER_ROWS = env_int("MMSEC_ANALYZE_AFTER_ROWS", 5_000)

# --------------------------------------------------------------------------- model-running processes

#: MiB of freed heap a process that runs models keeps for its next batch (retrieval.allocator; 0 = glibc's
#: defaults, which page-fault every large activation in again: YAMNet on 2 cores 411-436x -> 564-581x real time).
MMSEC_HEAP_KEEP_MB = env_int("MMSEC_HEAP_KEEP_MB", DEFAULT_KEEP_MB)

# --------------------------------------------------------------------------- auth

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
#: Failed logins (page, admin, API token) allowed per client IP and per username within the window.
MMSEC_LOGIN_WINDOW_S = env_int("MMSEC_LOGIN_WINDOW_S", 900)
MMSEC_LOGIN_MAX_FAILURES_PER_IP = env_int("MMSEC_LOGIN_MAX_FAILURES_PER_IP", 20)
MMSEC_LOGIN_MAX_FAILURES_PER_USER = env_int("MMSEC_LOGIN_MAX_FAILURES_PER_USER", 10)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "case-list"
LOGOUT_REDIRECT_URL = "login"

# --------------------------------------------------------------------------- i18n, static

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("MMSEC_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise expects it even when serving from finders
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --------------------------------------------------------------------------- evidence storage and uploads

#: Originals are stored once, addressed by SHA-256, never modified.
MMSEC_STORAGE_DIR = Path(env_str("MMSEC_STORAGE_DIR", str(VAR_DIR / "storage"))).resolve()
MMSEC_MAX_UPLOAD_BYTES = env_int("MMSEC_MAX_UPLOAD_BYTES", 2 * 1024**3)
MMSEC_MODEL_DIR = Path(env_str("MMSEC_MODEL_DIR", str(VAR_DIR / "models"))).resolve()
FILE_UPLOAD_HANDLERS = ["retrieval.uploads.HashingUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # never buffer uploads in memory
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 500
FILE_UPLOAD_PERMISSIONS = 0o640

# --------------------------------------------------------------------------- celery

_redis_url = env_secret("REDIS_URL")
CELERY_BROKER_URL = _redis_url or embedded.redis_url(SERVICES, env_int("MMSEC_REDIS_DB", 0))
CELERY_RESULT_BACKEND = None  # state lives in ProcessingJob rows, not in Redis results
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_TIME_LIMIT = env_int("MMSEC_TASK_TIME_LIMIT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("MMSEC_TASK_SOFT_TIME_LIMIT", 3300)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = env_bool("MMSEC_TASKS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    "reconcile-jobs": {"task": "mmsec.retrieval.reconcile_jobs", "schedule": 60.0},
    "verify-originals": {"task": "mmsec.retrieval.verify_originals",
                         "schedule": float(env_int("MMSEC_INTEGRITY_INTERVAL_S", 3600))},
    "maintain-references": {"task": "mmsec.retrieval.maintain_references", "schedule": 600.0},
}
#: Each integrity run re-hashes at most this many items / bytes (the oldest checks first).
MMSEC_INTEGRITY_BATCH = env_int("MMSEC_INTEGRITY_BATCH", 2000)
MMSEC_INTEGRITY_MAX_BYTES = env_int("MMSEC_INTEGRITY_MAX_BYTES", 20 * 1024**3)
#: A job queued or running for longer than this without progress is re-enqueued by the reconciler.
MMSEC_JOB_STALE_SECONDS = env_int("MMSEC_JOB_STALE_SECONDS", 900)
MMSEC_JOB_MAX_ATTEMPTS = env_int("MMSEC_JOB_MAX_ATTEMPTS", 5)

# --------------------------------------------------------------------------- plugins

#: Deploy-time plugin overrides (paths, device): {"face": {"device": "cuda"}}; admin settings override tunables.
MMSEC_PLUGINS_CONFIG: dict[str, dict[str, object]] = {}
#: Enabled on the first start of a fresh database (``sync_plugins --enable-defaults``, run by ``make run``), so
#: uploads are analysed without a visit to the admin; later starts never override an administrator's choice.
#: face_dlib (the second face model) and the example plugin stay off.
MMSEC_DEFAULT_PLUGINS = env_list("MMSEC_DEFAULT_PLUGINS", ["face", "audio_events", "audio_fingerprint",
                                                           "speech_translation", "fingerprint"])
#: Load the web-side models (probe photos, transcript queries) when a web process starts (mmsec_site/wsgi.py).
MMSEC_WEB_WARMUP = env_bool("MMSEC_WEB_WARMUP", True)
#: torch intra-op threads in web processes (probe photos, query embeddings); workers keep torch's default.
MMSEC_WEB_TORCH_THREADS = env_int("MMSEC_WEB_TORCH_THREADS", 1)
MMSEC_VIDEO_FRAME_INTERVAL_S = float(env_str("MMSEC_VIDEO_FRAME_INTERVAL_S", "1.0"))

# --------------------------------------------------------------------------- API

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "retrieval.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("MMSEC_THROTTLE_ANON", "60/min"),
        "user": env_str("MMSEC_THROTTLE_USER", "6000/min"),
    },
    "EXCEPTION_HANDLER": "retrieval.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mmsec API",
    "DESCRIPTION": "Cases, evidence media, processing status and audit trail.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served locally: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a "status" field with different choices: name both enums (clean `check --deploy`).
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "retrieval.models.cases.CaseStatus",
        "MediaStatusEnum": "retrieval.models.media.MediaStatus",
        "AlertStatusEnum": "retrieval.models.watchlists.AlertStatus",
        "RecordingStatusEnum": "retrieval.models.references.RecordingStatus",
        "MediaKindEnum": "retrieval.models.media.MediaKind",
        "WatchlistKindEnum": "retrieval.models.watchlists.WatchlistKind",
    },
}

# --------------------------------------------------------------------------- security

_production = env_bool("MMSEC_PRODUCTION", False)
SESSION_COOKIE_SECURE = env_bool("MMSEC_SECURE_COOKIES", _production)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # the upload page's JavaScript reads it for XHR uploads
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("MMSEC_SSL_REDIRECT", _production)
SECURE_HSTS_SECONDS = env_int("MMSEC_HSTS_SECONDS", 31536000 if _production else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _production
SECURE_HSTS_PRELOAD = _production
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("MMSEC_BEHIND_PROXY", False) else None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("MMSEC_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

EMAIL_BACKEND = env_str("MMSEC_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("MMSEC_FROM_EMAIL", "mmsec@localhost")
#: Absolute address of the site, used in alert e-mails and webhooks to link to the evidence.
MMSEC_BASE_URL = env_str("MMSEC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
#: Seconds a webhook receiver gets to answer before the delivery is retried.
MMSEC_WEBHOOK_TIMEOUT_S = 5.0
#: Allow webhooks to private/loopback addresses (an internal receiver); off by default against SSRF.
MMSEC_WEBHOOK_ALLOW_PRIVATE = env_bool("MMSEC_WEBHOOK_ALLOW_PRIVATE", False)
