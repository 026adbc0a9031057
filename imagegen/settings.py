"""Imagegen settings, read from environment variables.

The defaults are the embedded setup: SQLite, a SQLite-backed Celery broker and
local media, all under ``var/``, so a fresh clone runs with no servers. Setting
``DATABASE_URL``, ``CELERY_BROKER_URL=sqs://`` and ``IMAGE_S3_BUCKET`` moves the
same code onto PostgreSQL, SQS and S3. ``.env.example`` lists every variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

from imagegen.api.rates import parse_rate
from imagegen.env import env_bool, env_int, env_int_map, env_list, env_str, require
from imagegen.var import dev_secret_key_file, var_dir

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

# --- var/: the embedded setup's database, broker, media and dev secret ---------
# Read here, made by the entry points before the settings load (imagegen/boot.py, imagegen/var.py).

VAR_DIR = var_dir()


def _dev_secret_key() -> str:
    key_file = dev_secret_key_file(VAR_DIR)
    try:
        key = key_file.read_text().strip()
    except OSError:
        key = ""
    if not key:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and there is no development key in {key_file} yet; "
            "manage.py, gunicorn (imagegen.wsgi) and celery_app make it when DEBUG is on"
        )
    return key


def _secret_key_from_file(path: str) -> str:
    # Docker secrets, and the key docker compose generates on its first start (docker/init_secret.py).
    if not path:
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"SECRET_KEY_FILE: cannot read {path} ({exc.strerror or exc})") from None


SECRET_KEY_FILE = env_str("SECRET_KEY_FILE")
SECRET_KEY = env_str("SECRET_KEY") or _secret_key_from_file(SECRET_KEY_FILE) or (_dev_secret_key() if DEBUG else "")
require("SECRET_KEY", SECRET_KEY, why="when DEBUG is off (set a long random value, or SECRET_KEY_FILE)")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG is off (comma-separated host names)")
if "*" in ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured("ALLOWED_HOSTS must not be '*' when DEBUG is off")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_EXPOSE_HEADERS = ["Location", "Retry-After", "X-Request-ID"]
# Only the APIs answer other origins; the pages and the admin never do.
CORS_URLS_REGEX = r"^/(api|v1)/.*$"
# Browsers may send the API's own headers cross-origin (API keys, idempotency, waiting).
CORS_ALLOW_HEADERS = (*default_headers, "x-api-key", "idempotency-key", "prefer", "x-request-id")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here: no CDN (CSP default-src 'self')
    "imagegen",
    "accounts",
    "images",
]

MIDDLEWARE = [
    "imagegen.middleware.RequestIdMiddleware",
    # Before anything (CSRF, forms, uploads) reads the body: an oversized one is refused unread.
    # After the request id, so the 413 is logged and carries X-Request-ID like any answer.
    "imagegen.body_limit.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "imagegen.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so its process_exception sees a view's database outage first.
    "imagegen.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "imagegen.urls"
WSGI_APPLICATION = "imagegen.wsgi.application"
ASGI_APPLICATION = "imagegen.asgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        _database = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except (ValueError, dj_database_url.UnknownSchemeError) as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if not _database.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL names no database (expected e.g. postgres://user@host:5432/imagegen)")
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database["ENGINE"] = "imagegen.postgresql"  # Django's, with a health check that costs no round trip
        # Parameters bound by the server, and a query run 5 times on a connection prepared there: the
        # hot paths' queries are parsed and planned once per connection, not on every request. Django
        # leaves both off for poolers that cannot carry prepared statements (PgBouncer in transaction
        # mode before 1.21; RDS Proxy pins such sessions): DATABASE_PREPARED_STATEMENTS=0 for those.
        if env_bool("DATABASE_PREPARED_STATEMENTS", True):
            _database.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
else:
    # Connections are kept, as on PostgreSQL: opening the file and setting its pragmas, then
    # closing it (which checkpoints the WAL), was a sixth of a gallery list's time on SQLite.
    _database = {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3", "CONN_MAX_AGE": 60}

if _database["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write to the same file: WAL lets readers
    # proceed during a write, and IMMEDIATE transactions queue writers on the
    # busy timeout instead of failing with "database is locked" mid-transaction.
    # synchronous=NORMAL (safe with WAL) syncs at checkpoints, not at every
    # commit: a crashed process loses nothing, a power cut the last commits.
    _database.setdefault("OPTIONS", {}).update(
        {
            # Seconds a write waits for another's lock; past it, "database is locked" (a 503, a retry).
            "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20, minimum=1),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Optional Redis, for caching and throttle counts shared by several web hosts.
# Without it everything stays in the database: the embedded default needs no server.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and urlsplit(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
    raise ImproperlyConfigured("REDIS_URL must be a redis://, rediss:// or unix:// URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "imagegen_cache"}
    )
}
# Where throttles count (imagegen/ratelimit.py): one upserted row per client in the
# database, or one atomic MULTI/EXEC in Redis.
THROTTLE_STORE = env_str("THROTTLE_STORE", "redis" if REDIS_URL else "database")
if THROTTLE_STORE not in ("database", "redis"):
    raise ImproperlyConfigured(f"THROTTLE_STORE must be database or redis, got {THROTTLE_STORE!r}")
if THROTTLE_STORE == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("THROTTLE_STORE=redis needs REDIS_URL")

# --- Auth -------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

JWT_ACCESS_MINUTES = env_int("JWT_ACCESS_MINUTES", 15, minimum=1)
JWT_REFRESH_DAYS = env_int("JWT_REFRESH_DAYS", 7, minimum=1)
TIER_QUOTAS = env_int_map("TIER_QUOTAS", "free:50,pro:1000,enterprise:0")
DEFAULT_TIER = env_str("DEFAULT_TIER", next(iter(TIER_QUOTAS)))
if DEFAULT_TIER not in TIER_QUOTAS:
    raise ImproperlyConfigured(f"DEFAULT_TIER {DEFAULT_TIER!r} is not one of TIER_QUOTAS ({', '.join(TIER_QUOTAS)})")
# Uploaded files per UTC day, and bytes of stored originals (set in MiB), per tier; 0 = unlimited.
TIER_UPLOAD_QUOTAS = env_int_map("TIER_UPLOAD_QUOTAS", "free:100,pro:2000,enterprise:0")
TIER_STORAGE_QUOTAS = {
    tier: mib * 1024 * 1024
    for tier, mib in env_int_map("TIER_STORAGE_QUOTAS_MB", "free:1024,pro:102400,enterprise:0").items()
}


def _rate(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        parse_rate(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    return value


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # API keys first: its 401 carries the WWW-Authenticate header. Each class
        # leaves the other's Bearer credentials alone (keys start with igk_).
        "accounts.api.authentication.ApiKeyAuthentication",
        "accounts.api.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["imagegen.api.renderers.OrjsonRenderer"],
    # DRF's own three, with a JSON parser that refuses deep nesting (400, not a RecursionError 500).
    "DEFAULT_PARSER_CLASSES": [
        "imagegen.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "imagegen.api.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["imagegen.api.filters.FilterBackend"],
    "EXCEPTION_HANDLER": "imagegen.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "imagegen.api.pagination.CursorPagination",
    "PAGE_SIZE": 20,
    # Counted in THROTTLE_STORE, so every process shares the counts.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttles.AnonRateThrottle", "accounts.api.throttles.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": _rate("THROTTLE_ANON_RATE", "100/15min"),  # per IP, signed out
        "user": _rate("THROTTLE_USER_RATE", "1000/hour"),  # per user
        "auth": _rate("THROTTLE_AUTH_RATE", "20/15min"),  # per IP: sign-in, sign-up, password change
        "account": _rate("THROTTLE_ACCOUNT_RATE", "20/15min"),  # per account: sign-in (API, site, admin)
    },
    # Proxies in front of gunicorn that append to X-Forwarded-For (1 behind one
    # load balancer); 0 uses the socket's address, which a client cannot forge.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, minimum=0),
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # Tokens carry a digest of the password hash: a password change ends access tokens too.
    "CHECK_REVOKE_TOKEN": True,
    "CHECK_USER_IS_ACTIVE": True,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

# OpenAPI: GET /api/schema and the Swagger UI at /api/docs (imagegen/urls.py).
SPECTACULAR_SETTINGS = {
    "TITLE": "Imagegen API",
    "DESCRIPTION": (
        "Self-hosted AI image generation. Authenticate with `Authorization: Bearer <JWT access token or API key>` "
        'or `X-API-Key: <API key>`. Every error is `{"error": {code, message, field, details?}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public; a stale token in the browser must not hide them.
    "SERVE_AUTHENTICATION": [],
    # Separate request/response components: read-only fields stay out of request bodies,
    # and multipart file fields are described as binary.
    "COMPONENT_SPLIT_REQUEST": True,
    # The contract is JSON (uploads say multipart themselves); form bodies still parse, as DRF always did.
    "PARSER_WHITELIST": ["imagegen.api.parsers.JSONParser"],
    # Operation ids and tags from the path after the version: images_create, tag "images".
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "imagegen.api.schema.add_error_responses",
        "imagegen.api.schema.add_links",
        "imagegen.api.schema.require_one_of_bodies",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ImageVisibilityEnum": "images.models.Image.Visibility",
        "ImageSourceEnum": "images.models.Image.Source",
        "GenerationStatusEnum": "images.models.Generation.Status",
        "BackgroundEnum": "images.params.BACKGROUNDS",
        "RenderedBackgroundEnum": "images.params.RENDERED_BACKGROUNDS",
        "OutputFormatEnum": "images.params.OUTPUT_FORMATS",
        "QualityEnum": "images.params.QUALITIES",
        "UsedQualityEnum": "images.params.USED_QUALITIES",
    },
}

# --- Celery -----------------------------------------------------------------------

_BROKER_SCHEMES = {"sqla+sqlite", "sqla+postgresql", "sqs", "amqp", "amqps", "pyamqp", "memory"}
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}"
_broker_scheme = urlsplit(CELERY_BROKER_URL).scheme
if _broker_scheme not in _BROKER_SCHEMES:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL has an unknown scheme {_broker_scheme!r}; use one of {', '.join(sorted(_BROKER_SCHEMES))}"
    )
BROKER_IS_SQS = _broker_scheme == "sqs"
BROKER_IS_EMBEDDED = _broker_scheme.startswith("sqla+")

AWS_REGION = env_str("AWS_REGION", "us-east-1")
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL")
SQS_QUEUE_NAME = env_str("SQS_QUEUE_NAME", "imagegen")
SQS_DEAD_LETTER_QUEUE = env_str("SQS_DEAD_LETTER_QUEUE", f"{SQS_QUEUE_NAME}-dlq")
SQS_MAX_RECEIVE_COUNT = env_int("SQS_MAX_RECEIVE_COUNT", 5, minimum=1)
# Longest a job may run; the SQS visibility timeout must stay above it or the
# message would be handed to a second worker while the first still works.
GENERATION_TIME_LIMIT = env_int("GENERATION_TIME_LIMIT", 600, minimum=10)
SQS_VISIBILITY_TIMEOUT = env_int("SQS_VISIBILITY_TIMEOUT", GENERATION_TIME_LIMIT + 300, minimum=30)
if SQS_VISIBILITY_TIMEOUT <= GENERATION_TIME_LIMIT:
    raise ImproperlyConfigured("SQS_VISIBILITY_TIMEOUT must be greater than GENERATION_TIME_LIMIT")

CELERY_TASK_DEFAULT_QUEUE = SQS_QUEUE_NAME
# Applied by Celery to the task when the app is configured: past the soft limit the job
# fails with its message (images/services/pipeline.py); 30 s later the child is killed.
CELERY_TASK_ANNOTATIONS = {
    "images.run_generation": {"soft_time_limit": GENERATION_TIME_LIMIT, "time_limit": GENERATION_TIME_LIMIT + 30},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery gives up after 100 reconnects (the worker exits); a broker outage of any
# length must not end the worker (the embedded broker's file locked or gone, say).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if _broker_scheme == "sqla+sqlite":
    # kombu passes these to create_engine(): the plugin reconnects a process whose
    # broker file was removed or replaced (imagegen/embedded_broker.py).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"plugins": ["imagegen_follow_broker_file"]}
if BROKER_IS_SQS:
    # kombu's SQS transport with a fix: it survives SQS outages (see the module).
    CELERY_BROKER_TRANSPORT = "imagegen.sqs_transport:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "region": AWS_REGION,
        "visibility_timeout": SQS_VISIBILITY_TIMEOUT,
        # Long polling: a message is picked up as it lands, without busy polls.
        "wait_time_seconds": 20,
        "polling_interval": 0,
        "is_secure": not AWS_ENDPOINT_URL.startswith("http://"),
    }

# --- Storage ----------------------------------------------------------------------

MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve from the app and project folders too, so nothing needs collectstatic
# before the first start; the Docker image still collects (and compresses).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

IMAGE_S3_BUCKET = env_str("IMAGE_S3_BUCKET")
CDN_URL = env_str("CDN_URL").rstrip("/")
PRESIGNED_URL_TTL = env_int("PRESIGNED_URL_TTL", 3600, minimum=60)
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1024)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 50_000_000, minimum=10_000)
# ZIP downloads (images/services/archives.py): a larger archive is refused before its first byte.
ZIP_MAX_BYTES = env_int("ZIP_MAX_BYTES", 2 * 1024**3, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

if IMAGE_S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": IMAGE_S3_BUCKET,
            "region_name": AWS_REGION,
            "endpoint_url": AWS_ENDPOINT_URL or None,
            # Path style: a local endpoint (moto, LocalStack) has no per-bucket host names.
            "addressing_style": "path" if AWS_ENDPOINT_URL else "auto",
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": PRESIGNED_URL_TTL,
            "file_overwrite": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Providers --------------------------------------------------------------------

IMAGE_PROVIDER = env_str("IMAGE_PROVIDER", "builtin")
# Sleep per builtin render step: lets end-to-end tests interrupt a job mid-render. 0 in production.
BUILTIN_STEP_DELAY_MS = env_int("BUILTIN_STEP_DELAY_MS", 0, minimum=0)
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
# gpt-image-1 was shut down by OpenAI on 2026-10-23 (DALL·E in May 2026).
OPENAI_IMAGE_MODEL = env_str("OPENAI_IMAGE_MODEL", "gpt-image-2")
OPENAI_TIMEOUT = env_int("OPENAI_TIMEOUT", 120, minimum=1)
KIE_API_KEY = env_str("KIE_API_KEY")
KIE_BASE_URL = env_str("KIE_BASE_URL", "https://api.kie.ai")
KIE_MODEL = env_str("KIE_MODEL", "flux-kontext-pro")
KIE_POLL_INTERVAL = env_int("KIE_POLL_INTERVAL", 3, minimum=1)
# Below the job's own limit, so a stuck task ends with KIE's clear error and
# leaves time to download what did finish.
KIE_TIMEOUT = env_int("KIE_TIMEOUT", max(GENERATION_TIME_LIMIT - 60, 10), minimum=1)
# reference_image_urls are fetched through images/fetch.py's SSRF guard with these limits.
REFERENCE_FETCH_MAX_BYTES = env_int("REFERENCE_FETCH_MAX_BYTES", MAX_UPLOAD_BYTES, minimum=1024)
REFERENCE_FETCH_TIMEOUT = env_int("REFERENCE_FETCH_TIMEOUT", 30, minimum=1)
# Result images that a provider returns as URLs (openai url responses, KIE resultUrls).
PROVIDER_DOWNLOAD_MAX_BYTES = env_int("PROVIDER_DOWNLOAD_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
PROVIDER_DOWNLOAD_TIMEOUT = env_int("PROVIDER_DOWNLOAD_TIMEOUT", 120, minimum=1)

# --- Security ---------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preload-list submission is a one-way commitment for the whole domain:
    # an operator opts in with SECURE_HSTS_PRELOAD=1, we do not nag.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- Internationalisation ---------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging: one JSON object per line, each with the request id ---------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "imagegen.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "imagegen.logging.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log line replaces Django's own for requests.
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}

# Name -> dotted path of each provider class (images/providers/base.py's protocol).
IMAGE_PROVIDERS = {
    "builtin": "images.providers.builtin.BuiltinProvider",
    "openai": "images.providers.openai.OpenAIProvider",
    "kie": "images.providers.kie.KieProvider",
}
if IMAGE_PROVIDER not in IMAGE_PROVIDERS:
    raise ImproperlyConfigured(f"IMAGE_PROVIDER must be one of {', '.join(IMAGE_PROVIDERS)}, got {IMAGE_PROVIDER!r}")

# --- Image analysis and moderation (images/analysis/, images/moderation/) ------------

# Name -> dotted path of each analyzer (images/analysis/base.py's protocol).
IMAGE_ANALYZERS = {
    "builtin": "images.analysis.builtin.BuiltinAnalyzer",
    "rekognition": "images.analysis.rekognition.RekognitionAnalyzer",
}
IMAGE_ANALYZER = env_str("IMAGE_ANALYZER", "builtin")
if IMAGE_ANALYZER not in IMAGE_ANALYZERS:
    raise ImproperlyConfigured(f"IMAGE_ANALYZER must be one of {', '.join(IMAGE_ANALYZERS)}, got {IMAGE_ANALYZER!r}")
ANALYSIS_TIMEOUT = env_int("ANALYSIS_TIMEOUT", 30, minimum=1)
ANALYSIS_MAX_LABELS = env_int("ANALYSIS_MAX_LABELS", 10, minimum=1)
ANALYSIS_MIN_CONFIDENCE = env_int("ANALYSIS_MIN_CONFIDENCE", 70, minimum=0)  # percent, Rekognition's scale
# Images whose analysis or moderation failed are tried again every this many seconds (beat).
ANALYSIS_RETRY_INTERVAL = env_int("ANALYSIS_RETRY_INTERVAL", 300, minimum=10)

MODERATION_PROVIDERS = {
    "none": "images.moderation.base.NoModeration",
    "builtin": "images.moderation.builtin.BuiltinModerator",
    "openai": "images.moderation.openai.OpenAIModerator",
    "rekognition": "images.moderation.rekognition.RekognitionModerator",
}
MODERATION_PROVIDER = env_str("MODERATION_PROVIDER", "builtin")
if MODERATION_PROVIDER not in MODERATION_PROVIDERS:
    raise ImproperlyConfigured(
        f"MODERATION_PROVIDER must be one of {', '.join(MODERATION_PROVIDERS)}, got {MODERATION_PROVIDER!r}"
    )
# Empty: the policy shipped in images/moderation/default_policy.txt.
MODERATION_POLICY_FILE = env_str("MODERATION_POLICY_FILE")
MODERATION_TIMEOUT = env_int("MODERATION_TIMEOUT", 10, minimum=1)
MODERATION_MIN_CONFIDENCE = env_int("MODERATION_MIN_CONFIDENCE", 60, minimum=0)  # percent (rekognition)
OPENAI_MODERATION_MODEL = env_str("OPENAI_MODERATION_MODEL", "omni-moderation-latest")

# --- Generation jobs ----------------------------------------------------------------

# Absolute base of links in webhooks and other messages sent outside a request.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL").rstrip("/")
GENERATION_MAX_ATTEMPTS = env_int("GENERATION_MAX_ATTEMPTS", 4, minimum=1)
GENERATION_RETRY_BASE_SECONDS = env_int("GENERATION_RETRY_BASE_SECONDS", 5, minimum=0)
GENERATION_RETRY_MAX_SECONDS = env_int("GENERATION_RETRY_MAX_SECONDS", 120, minimum=1)
# A running job writes a heartbeat every quarter of this; past it, the job is taken over.
GENERATION_HEARTBEAT_TIMEOUT = env_int("GENERATION_HEARTBEAT_TIMEOUT", 60, minimum=1)
GENERATION_QUEUED_STALE_SECONDS = env_int("GENERATION_QUEUED_STALE_SECONDS", 600, minimum=5)
GENERATION_PROGRESS_INTERVAL = 0.5  # seconds between progress writes (and cancellation checks)
SWEEPER_INTERVAL = env_int("SWEEPER_INTERVAL", 30, minimum=1)
# A job whose message the broker did not take (an outage) is re-sent: every PUBLISH_RETRY_INTERVAL s
# by beat and by the process that failed to send it, each job backing off up to PUBLISH_RETRY_MAX_SECONDS.
PUBLISH_RETRY_INTERVAL = env_int("PUBLISH_RETRY_INTERVAL", 5, minimum=1)
PUBLISH_RETRY_MAX_SECONDS = env_int("PUBLISH_RETRY_MAX_SECONDS", 30, minimum=1)
MAX_WAIT_SECONDS = 60
# The fair queue (docs/architecture.md): at most this many jobs have a broker message at once (queued
# with one, or running); the rest wait their user's turn. Set it to the worker slots of all workers
# together plus one or two: more weakens fairness, fewer leaves slots idle. 0 sends every job at once.
GENERATION_IN_FLIGHT_LIMIT = env_int("GENERATION_IN_FLIGHT_LIMIT", 4, minimum=0)
# Shares of the queue per tier (a tier not listed: 1): "pro:2" gives a pro user two turns to a free user's one.
TIER_QUEUE_WEIGHTS = env_int_map("TIER_QUEUE_WEIGHTS", "free:1,pro:2,enterprise:4")
# The longest deadline (Cancel-After, deadline_seconds) a job may ask for.
GENERATION_MAX_DEADLINE_SECONDS = env_int("GENERATION_MAX_DEADLINE_SECONDS", 24 * 3600, minimum=10)
# Per web process; keep it below GUNICORN_THREADS so waiting requests never take every thread.
MAX_WAITING_REQUESTS = env_int("MAX_WAITING_REQUESTS", 12, minimum=1)
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 10, minimum=0)
WEBHOOK_RETRY_MAX_SECONDS = 600
# Webhook targets on private networks are refused (SSRF) unless this is set.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False)

# How long POST /v1/images/generations (OpenAI-compatible) waits for its images.
OPENAI_COMPAT_TIMEOUT = env_int("OPENAI_COMPAT_TIMEOUT", 120, minimum=1)

# /metrics needs `Authorization: Bearer <METRICS_TOKEN>` (which also shows /readyz's details);
# METRICS_ALLOW_LOOPBACK=1 lets loopback clients scrape without it (not behind a proxy on the same host).
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOW_LOOPBACK = env_bool("METRICS_ALLOW_LOOPBACK", False)
# /readyz runs its database, broker and storage checks at most this often per process.
READYZ_CACHE_SECONDS = env_int("READYZ_CACHE_SECONDS", 5, minimum=0)

# Direct uploads never completed are deleted after this; 0 keeps images forever, N deletes them after N days.
DIRECT_UPLOAD_EXPIRY_SECONDS = env_int("DIRECT_UPLOAD_EXPIRY_SECONDS", 24 * 3600, minimum=60)
IMAGE_RETENTION_DAYS = env_int("IMAGE_RETENTION_DAYS", 0, minimum=0)

CELERY_BEAT_SCHEDULE = {
    "sweep-generations": {"task": "images.sweep_generations", "schedule": float(SWEEPER_INTERVAL)},
    "publish-owed-generations": {
        "task": "images.publish_owed_generations",
        "schedule": float(PUBLISH_RETRY_INTERVAL),
        # A run queued behind long jobs is pointless once the next one is due.
        "options": {"expires": float(PUBLISH_RETRY_INTERVAL)},
    },
    "expire-direct-uploads": {"task": "images.expire_direct_uploads", "schedule": 3600.0},
    "sweep-upload-staging": {"task": "images.sweep_upload_staging", "schedule": 3600.0},
    "expire-old-images": {"task": "images.expire_old_images", "schedule": 3600.0},
    "sweep-partial-frames": {"task": "images.sweep_partial_frames", "schedule": 600.0},
    "analyze-owed-images": {"task": "images.analyze_owed_images", "schedule": float(ANALYSIS_RETRY_INTERVAL)},
    "delete-expired-rate-counters": {"task": "imagegen.delete_expired_rate_counters", "schedule": 900.0},
}
if BROKER_IS_EMBEDDED:
    CELERY_BEAT_SCHEDULE["prune-broker-messages"] = {"task": "imagegen.prune_broker_messages", "schedule": 600.0}
