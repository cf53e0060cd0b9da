"""
Settings for No Broker Kathmandu: one module, driven by environment variables.

Every variable is listed in `.env.example`. Where a variable is unset the
embedded default is used (SQLite, local-memory cache, in-memory channel layer,
local media, console email) so `make run` works on a bare machine; setting the
variable switches the real backend on. Nothing here exists only in production.
"""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from nobroker.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG")
TESTING = "pytest" in sys.modules or env_bool("DJANGO_TESTING")
# `make run` serves plain HTTP on this machine only (see the Makefile).
LOCAL_HTTP = env_bool("LOCAL_HTTP")

# https://docs.djangoproject.com/en/6.1/ref/settings/#secret-key
# No fallback secret: a development key is generated only when DEBUG is on or
# the test suite is running, and it changes on every start.
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or TESTING:
        from django.core.management.utils import get_random_secret_key

        SECRET_KEY = get_random_secret_key()
    else:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value, or set "
            "DJANGO_DEBUG=1 for local development."
        )

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS",
    "localhost,127.0.0.1,[::1]" if DEBUG or TESTING or LOCAL_HTTP else "",
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
# Only the small JSON endpoints are meant for other origins.
CORS_URLS_REGEX = r"^/api/.*$"

SITE_NAME = "No Broker Kathmandu"
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "channels",
    "storages",
    "axes",
    "django_tasks_db",
    "nobroker",
    "accounts",
    "listings",
    "visits",
    "messaging",
    "ads",
    # Numbers: the public rent index and the staff business dashboard.
    "rentindex",
    "business",
    "searches",
]

MIDDLEWARE = [
    # First, so its request id and time cover every other middleware.
    "nobroker.logs.RequestLogMiddleware",
    "nobroker.metrics.MetricsMiddleware",
    "nobroker.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "nobroker.middleware.PermissionsPolicyMiddleware",
    # Before every middleware that writes the body; brotli or gzip on request.
    "nobroker.middleware.CompressionMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a logged-in person's saved language (nobroker/i18n.py).
    "nobroker.i18n.UserLanguageMiddleware",
    "nobroker.i18n.NepaliInputMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every write's rate limit, from the table in nobroker/ratelimits.py.
    "nobroker.ratelimits.RateLimitMiddleware",
    # The frequency-cap cookie of visitors who asked not to be tracked (ads/capping.py).
    "ads.capping.CookieCapMiddleware",
    # Last, so it sees the result of authentication: https://django-axes.readthedocs.io/
    "axes.middleware.AxesMiddleware",
]

# Server-Timing header (time in Django and in SQL) on every response; the
# benchmark in bench/ reads it. https://www.w3.org/TR/server-timing/
SERVER_TIMING = env_bool("SERVER_TIMING", DEBUG)

ROOT_URLCONF = "nobroker.urls"
WSGI_APPLICATION = "nobroker.wsgi.application"
ASGI_APPLICATION = "nobroker.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "nobroker.context_processors.site",
                "messaging.context_processors.unread_messages",
            ],
            # BS dates and Nepali digits in every template (nobroker/i18n.py).
            "builtins": ["nobroker.template_filters"],
        },
    },
]

# ---------------------------------------------------------------------------
# Database
# https://docs.djangoproject.com/en/6.1/ref/databases/#connection-pool
# ---------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's own psycopg pool replaces persistent connections
        # (CONN_MAX_AGE must stay 0 with it).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"]["OPTIONS"] = {
            "pool": {
                "min_size": int(env("DATABASE_POOL_MIN", "2")),
                "max_size": int(env("DATABASE_POOL_MAX", "20")),
                # Seconds a request waits for a connection. Short, so that with
                # PostgreSQL down a page says so (503) instead of hanging.
                "timeout": float(env("DATABASE_POOL_TIMEOUT", "3")),
            },
            "connect_timeout": 5,
        }
        # Web processes (asgi.py and wsgi.py set 15 s) give up on a statement
        # after this many milliseconds, so one runaway query cannot hold a
        # connection and a core for minutes; unset (commands, migrations,
        # workers) means no limit.
        statement_timeout = int(env("DATABASE_STATEMENT_TIMEOUT", "0"))
        if statement_timeout > 0:
            DATABASES["default"]["OPTIONS"]["options"] = (
                f"-c statement_timeout={statement_timeout}"
            )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            "OPTIONS": {
                # WAL and a busy timeout keep the single-file database usable
                # with the web process and the worker side by side.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not memory, so a second process (the websocket test server)
            # sees the test database too.
            "TEST": {"NAME": BASE_DIR / "db.sqlite3.test"},
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# Behind PgBouncer in transaction mode (docs/capacity.md): consecutive
# statements may reach different server connections, so nothing may outlive a
# transaction: no server-side cursors, no prepared statements, no session
# options at connect (set statement_timeout on the role instead). PgBouncer
# pools, so Django keeps each connection for a minute instead of its own pool.
DATABASE_PGBOUNCER = IS_POSTGRES and env_bool("DATABASE_PGBOUNCER")
if DATABASE_PGBOUNCER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["OPTIONS"] = {
        "prepare_threshold": None,
        "connect_timeout": 5,
    }

# Read replicas (nobroker/replicas.py): the reads of web requests go to a
# healthy replica, writes and transactions to the primary.
# https://docs.djangoproject.com/en/6.1/topics/db/multi-db/
DATABASE_REPLICAS = []
for number, url in enumerate(env_list("DATABASE_REPLICA_URLS"), start=1):
    alias = f"replica_{number}"
    replica = {**DATABASES["default"], **dj_database_url.parse(url)}
    replica["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {})}
    if "pool" in replica["OPTIONS"]:
        # A replica that is down must cost a page little: fail fast, then the
        # primary serves the read.
        replica["OPTIONS"]["pool"] = {**replica["OPTIONS"]["pool"], "timeout": 1}
    replica["OPTIONS"]["connect_timeout"] = 1
    # Tests use the primary's test database for every alias.
    replica["TEST"] = {"MIRROR": "default"}
    DATABASES[alias] = replica
    DATABASE_REPLICAS.append(alias)
if DATABASE_REPLICAS:
    DATABASE_ROUTERS = ["nobroker.replicas.ReplicaRouter"]
    MIDDLEWARE.insert(1, "nobroker.replicas.ReplicaMiddleware")
# Seconds a person's reads stay on the primary after they wrote.
DATABASE_REPLICA_PIN_SECONDS = int(env("DATABASE_REPLICA_PIN_SECONDS", "5"))
# A replica further behind than this many seconds is not read from.
DATABASE_REPLICA_MAX_LAG = float(env("DATABASE_REPLICA_MAX_LAG", "2"))
# Seconds between two checks of a replica's health and lag, per process.
DATABASE_REPLICA_CHECK_SECONDS = float(env("DATABASE_REPLICA_CHECK_SECONDS", "1"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# Cache and channel layer
# https://github.com/jazzband/django-redis#memcached-exceptions-behavior
# ---------------------------------------------------------------------------
# Seconds a whole home, search or listing page is kept for visitors who are
# not logged in (nobroker/page_cache.py); 0 turns the page cache off.
PAGE_CACHE_SECONDS = int(env("PAGE_CACHE_SECONDS", "30"))
# A page is stored once a process has been asked for it this many times
# within PAGE_CACHE_SECONDS: a search nobody repeats costs no store.
PAGE_CACHE_MIN_USES = max(1, int(env("PAGE_CACHE_MIN_USES", "2")))
REDIS_URL = env("REDIS_URL")
# Keys and pub/sub channels of one site (or one test run) sharing a Redis server.
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", "nbk")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # One Redis client per process, not one per request or socket.
                "CONNECTION_FACTORY": "nobroker.redis_clients.SharedClientConnectionFactory",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # A Redis outage becomes a cache miss (and a log line), never a 500.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": env(
                "CHANNEL_LAYER_BACKEND",
                "nobroker.channel_layers.RedisPubSubChannelLayer",
            ),
            "CONFIG": {"hosts": [REDIS_URL], "prefix": REDIS_KEY_PREFIX},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "nobroker",
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Sessions are written through to the database, so a cache outage logs nobody out.
# (nobroker.sessions is Django's cached_db with its cache lookups counted.)
SESSION_ENGINE = "nobroker.sessions"

# ---------------------------------------------------------------------------
# Background tasks (Django's tasks framework)
# https://docs.djangoproject.com/en/6.1/topics/tasks/
# ---------------------------------------------------------------------------
TASKS_BACKEND = env("TASKS_BACKEND", "immediate")
# A task running longer than this is taken to have lost its worker: put back
# by requeue_stale_tasks, and its email may then be sent (see nobroker.sendonce).
TASKS_LEASE_SECONDS = int(env("TASKS_LEASE_SECONDS", "600"))
if TASKS_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
else:
    TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}

# ---------------------------------------------------------------------------
# Auth and accounts
# ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out account before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Failed password checks (login, password change, account deletion):
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# An account locks after LOGIN_FAILURE_LIMIT failures from any address; an
# address, shared by many people behind a mobile operator, only after
# LOGIN_IP_FAILURE_LIMIT (see accounts/lockout.py).
LOGIN_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_IP_FAILURE_LIMIT = int(env("LOGIN_IP_FAILURE_LIMIT", "100"))
AXES_HANDLER = "accounts.lockout.LockoutHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = float(env("LOGIN_COOLOFF_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.lockout.lockout_username"
AXES_LOCKOUT_TEMPLATE = "429.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_RESET_ON_SUCCESS = True
# Proxies in front of the site (nginx: 1) whose X-Forwarded-For entry is trusted;
# the client address is the entry the outermost one added (nobroker/ratelimits.py).
PROXY_COUNT = int(env("PROXY_COUNT", "0"))
# Lockouts see the same client address as rate limits and counting.
AXES_CLIENT_IP_CALLABLE = "nobroker.ratelimits.request_address"
AXES_VERBOSE = False

SILENCED_SYSTEM_CHECKS = []
if not IS_POSTGRES:
    # The search indexes carry extra columns on PostgreSQL (INCLUDE); other
    # databases build them without, which is all this warning says.
    SILENCED_SYSTEM_CHECKS.append("models.W040")

# ---------------------------------------------------------------------------
# Counting (views, impressions): nobroker/counting.py
# ---------------------------------------------------------------------------
# Off: nothing is counted (an operator's switch; the benchmark's baseline).
COUNTING_ENABLED = env_bool("COUNTING_ENABLED", True)
# With Redis, a page's counts go into its process's batch, written every
# quarter second by a thread (no round trip on the page); tests write at once.
COUNTING_DEFER_WRITES = env_bool("COUNTING_DEFER_WRITES", not TESTING)
# Without Redis, each web process flushes its own counts this often (seconds);
# 0 turns that off (tests flush by hand).
COUNTING_LOCAL_FLUSH_SECONDS = float(
    env("COUNTING_LOCAL_FLUSH_SECONDS", "0" if TESTING else "30")
)

# ---------------------------------------------------------------------------
# Ads (ads/README.md)
# ---------------------------------------------------------------------------
# Off serves no ad and no boost anywhere (pages render as without ads).
ADS_ENABLED = env_bool("ADS_ENABLED", True)
# The site's PAN, printed on advertisers' receipts.
SITE_PAN = env("SITE_PAN")
# An advertiser is emailed once when the balance falls below this (rupees).
ADS_LOW_BALANCE = int(float(env("ADS_LOW_BALANCE_NPR", "1000")) * 100)
# Without Redis (the embedded default) the web process flushes the ads' counts
# itself every minute; with Redis a scheduler runs `manage.py ads_tick`.
ADS_LOCAL_TICKER = env_bool("ADS_LOCAL_TICKER", not REDIS_URL and not TESTING)
# What a page served is counted by a thread every quarter second, not in the
# request (tests write at once to read the counts back).
ADS_DEFER_WRITES = env_bool("ADS_DEFER_WRITES", not TESTING)
# Seconds a process chooses ads from its copy of the campaigns' spend (read
# in one trip for all of them); 0 reads it live for every page (tests).
ADS_SPEND_SECONDS = float(env("ADS_SPEND_SECONDS", "0" if TESTING else "1"))

# ---------------------------------------------------------------------------
# Internationalisation
# ---------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# No language prefix in URLs: a shared link opens the same page in the reader's
# language, chosen with the switch in the header and footer (nobroker/i18n.py).
LANGUAGES = [("en", _("English")), ("ne", _("Nepali"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Asia/Kathmandu"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------
# Maps: Leaflet is served from static/vendor/leaflet; only the tiles come from
# elsewhere, from this URL template (empty: no map, the text location only).
# https://leafletjs.com/reference.html#tilelayer
# ---------------------------------------------------------------------------
MAP_TILE_URL = env("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env("MAP_TILE_ATTRIBUTION", "© OpenStreetMap contributors")
# The one outside origin pages load images from; the Content-Security-Policy's
# img-src allows exactly this (and nothing when there is no tile URL).
MAP_TILE_ORIGINS = (
    ["{0.scheme}://{0.netloc}".format(urlsplit(MAP_TILE_URL))]
    if urlsplit(MAP_TILE_URL).netloc
    else []
)

# ---------------------------------------------------------------------------
# Static files and media
# https://whitenoise.readthedocs.io/ and https://django-storages.readthedocs.io/
# ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))

AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    from botocore.config import Config as BotoConfig

    AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME") or None
    AWS_S3_CUSTOM_DOMAIN = env("AWS_S3_CUSTOM_DOMAIN") or None
    media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": not AWS_S3_CUSTOM_DOMAIN,
            "object_parameters": {
                "CacheControl": "public, max-age=31536000, immutable"
            },
            # An unreachable S3 fails an upload within seconds (the page says
            # so) instead of holding the request through minutes of retries.
            "client_config": BotoConfig(
                connect_timeout=2,
                read_timeout=5,
                retries={"max_attempts": 1, "mode": "standard"},
                signature_version="s3v4",
            ),
        },
    }
else:
    media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}

STORAGES = {
    "default": media_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve static files from the app folders without collectstatic in development.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
SERVE_MEDIA = not AWS_STORAGE_BUCKET_NAME
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Backups (manage.py backup, backup_restore_drill; docs/capacity.md).
BACKUP_DIR = Path(env("BACKUP_DIR", str(BASE_DIR / "backups")))
BACKUP_KEEP_DAYS = int(env("BACKUP_KEEP_DAYS", "14"))
BACKUP_S3_BUCKET = env("BACKUP_S3_BUCKET")
BACKUP_S3_PREFIX = env("BACKUP_S3_PREFIX", "backups")

# ---------------------------------------------------------------------------
# Email
# https://docs.djangoproject.com/en/6.1/topics/email/
# ---------------------------------------------------------------------------
SMTP_HOST = env("EMAIL_HOST")
if SMTP_HOST:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": SMTP_HOST,
                "port": int(env("EMAIL_PORT", "587")),
                "username": env("EMAIL_HOST_USER"),
                "password": env("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                # Seconds a request waits for a connection. Short, so that with
                # PostgreSQL down a page says so (503) instead of hanging.
                "timeout": float(env("DATABASE_POOL_TIMEOUT", "3")),
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "No Broker Kathmandu <hello@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ---------------------------------------------------------------------------
# Security
# https://docs.djangoproject.com/en/6.1/howto/deployment/checklist/
# ---------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
# Load balancers probe the processes directly over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = not DEBUG and not TESTING
CSRF_COOKIE_SECURE = not DEBUG and not TESTING
SECURE_HSTS_SECONDS = int(
    env("SECURE_HSTS_SECONDS", "0" if DEBUG or TESTING else "31536000")
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# The pages' scripts read the token from the form, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Features no page uses, switched off for every frame (nobroker.middleware).
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), "
    "geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=(), interest-cohort=()"
)

# Content-Security-Policy, Django's own: https://docs.djangoproject.com/en/6.1/ref/csp/
# Nothing inline: every script and style is a file in static/. The nonce is
# there for the admin's few inline blocks and appears only on pages that use it.
# CSP_REPORT_ONLY=1 sends the same policy as report-only, to try a change first.
media_origins = []
if AWS_STORAGE_BUCKET_NAME:
    if AWS_S3_CUSTOM_DOMAIN:
        media_origins.append(f"https://{AWS_S3_CUSTOM_DOMAIN}")
    elif AWS_S3_ENDPOINT_URL:
        media_origins.append(AWS_S3_ENDPOINT_URL.rstrip("/"))
    else:
        media_origins.append(f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com")
CONTENT_SECURITY_POLICY = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    # Map tiles: exactly the host of MAP_TILE_URL (none without one).
    "img-src": [CSP.SELF, "data:", *media_origins, *MAP_TILE_ORIGINS],
    "font-src": [CSP.SELF],
    # 'self' covers the chat's websocket on the same host.
    "connect-src": [CSP.SELF],
    "manifest-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "report-uri": "/csp-report",
}
CSP_REPORT_ONLY = env_bool("CSP_REPORT_ONLY")
SECURE_CSP = {} if CSP_REPORT_ONLY else CONTENT_SECURITY_POLICY
SECURE_CSP_REPORT_ONLY = CONTENT_SECURITY_POLICY if CSP_REPORT_ONLY else {}
# Violation reports larger than this are refused unread.
CSP_REPORT_MAX_BYTES = 8 * 1024
# Plain HTTP on the embedded default (127.0.0.1) must keep working for `make run`.
if LOCAL_HTTP:
    SECURE_SSL_REDIRECT = False
    SESSION_COOKIE_SECURE = False
    CSRF_COOKIE_SECURE = False
    SECURE_HSTS_SECONDS = 0

# ---------------------------------------------------------------------------
# Error reporting and logging
# ---------------------------------------------------------------------------
SENTRY_DSN = env("SENTRY_DSN")
# https://docs.sentry.io/platforms/python/integrations/django/
# nobroker/errors.py: release and environment on every event, personal data
# removed, database outages grouped as one issue.
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", "production")
# The commit being run: SENTRY_RELEASE, or the checkout's git commit.
SENTRY_RELEASE = env("SENTRY_RELEASE")
if SENTRY_DSN:
    from nobroker.errors import git_commit, sentry_init

    SENTRY_RELEASE = SENTRY_RELEASE or git_commit(BASE_DIR)
    sentry_init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        traces=float(env("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

# Prometheus metrics at /metrics (nobroker/metrics.py), answered only with
# this bearer token or from these networks (comma-separated CIDRs); 404 otherwise.
# Several processes: PROMETHEUS_MULTIPROC_DIR (read by prometheus-client).
METRICS_TOKEN = env("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS")

# One JSON object per line (LOG_FORMAT=json, the default without debug or
# LOCAL_HTTP) or readable console lines: nobroker/logs.py.
LOG_FORMAT = env("LOG_FORMAT", "console" if DEBUG or LOCAL_HTTP or TESTING else "json")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env("LOG_LEVEL", "INFO"))
