"""Django settings for the helpdesk.

With no environment at all the product runs on embedded defaults (SQLite in ./data, a
filesystem Celery broker, the Graph API sandbox, DEBUG on). `HELPDESK_ENV=production`
requires every secret and refuses to start without it.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from csp import constants as csp
from kombu import Queue

from settings.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent

_bootstrap = Env()
HELPDESK_ENV = _bootstrap.str("HELPDESK_ENV", "development")
if HELPDESK_ENV not in {"development", "production"}:
    raise ValueError("HELPDESK_ENV must be 'development' or 'production'.")
PRODUCTION = HELPDESK_ENV == "production"
env = Env(production=PRODUCTION)

DATA_DIR = Path(env.str("DATA_DIR", str(BASE_DIR / "data")))

SECRET_KEY = env.str("SECRET_KEY", dev_default="dev-insecure-secret-key-do-not-use-in-production-0123456789")
DEBUG = env.bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ValueError("The environment variable ALLOWED_HOSTS must be set in production.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])
PORT = env.int("PORT", 8000)
PUBLIC_URL = env.str("PUBLIC_URL", dev_default=f"http://127.0.0.1:{PORT}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "helpdesk",
    "availability",
    "channels",
    "labels",
    "sla",
    "messenger",
    "messenger.sandbox",
    "tickets",
    "csat",
    "canned",
    "home",
    "reports",
    "outgoing",
    "contacts",
    "live",
    "auditlog",
    "privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "helpdesk.tenancy.OrganizationMiddleware",
    # Who did what, from which address, for the audit log (privacy.audit).
    "privacy.audit.AuditMiddleware",
    # Turns a locked sign-in into helpdesk.throttle.lockout_response; axes wants it last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helpdesk.context_processors.organization",
                "availability.context_processors.availability",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", dev_default=f"sqlite:///{DATA_DIR / 'helpdesk.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env.int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database is shared by the web server, the worker and beat: WAL lets
    # readers run beside one writer, IMMEDIATE makes writers queue instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests get a file too, not Django's default database in memory: there connections share
    # one page cache with table locks that fail a second writer at once ("database table is
    # locked") whatever the timeout, and the browser tests' live server writes from a
    # connection per request beside the test's own.
    # One per process: two test runs side by side in one checkout must not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"helpdesk-test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, cache, locks ------------------------------------------------------------
REDIS_URL = env.optional("REDIS_URL")
if PRODUCTION and not REDIS_URL:
    raise ValueError("The environment variable REDIS_URL must be set in production.")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "helpdesk.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", REDIS_URL)
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", "filesystem://")

# Under ASGI Django reads a file response (static files through WhiteNoise; kept files, 25 MB
# at most) whole before sending it, and warns on every one: the trade-off is intended.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

# Threads that run the synchronous code of requests in one ASGI process (helpdesk.asgi):
# at most that many database connections per web process.
ASGI_SYNC_THREADS = env.int("ASGI_SYNC_THREADS", 8)

# --- Live updates (live): server-sent events over Redis ----------------------------------------
# Without Redis the pages poll (every LIVE_POLL_SECONDS); with it they are pushed each change.
LIVE_REDIS_URL = env.optional("LIVE_REDIS_URL") or REDIS_URL
# The Redis names of the live events (tests running side by side give each run its own).
LIVE_KEY_PREFIX = env.str("LIVE_KEY_PREFIX", "live")
# About how many events each organization's stream keeps for reconnecting pages to catch up.
LIVE_STREAM_LENGTH = env.int("LIVE_STREAM_LENGTH", 10_000)
# Open streams (tabs) per member; one more closes their oldest.
LIVE_MAX_STREAMS_PER_MEMBER = env.int("LIVE_MAX_STREAMS_PER_MEMBER", 10)
# A comment line on an idle stream this often: proxies keep it open, dead clients are found.
LIVE_HEARTBEAT_SECONDS = env.int("LIVE_HEARTBEAT_SECONDS", 15)
LIVE_POLL_SECONDS = env.int("LIVE_POLL_SECONDS", 2)

# --- Celery ---------------------------------------------------------------------------------
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must fail fast when the broker is down: the webhook stores first and a
# periodic job picks up what could not be queued.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"max_retries": 1, "socket_connect_timeout": 2}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport with atomic message files (helpdesk/broker.py).
    CELERY_BROKER_TRANSPORT = "helpdesk.broker:Transport"
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Queues: an agent's reply never waits behind a burst of slow attachment downloads, and
# automatic assignment (quick, database only) never waits behind follow-ups that call Facebook.
# Each has workers of its own (docker-compose.yml, `runall`); a worker started without -Q
# takes them all.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (
    Queue("celery", routing_key="celery"),
    Queue("sending", routing_key="sending"),
    Queue("downloads", routing_key="downloads"),
    Queue("routing", routing_key="routing"),
    # Outgoing webhooks: a slow or dead endpoint of a customer never delays anything else.
    Queue("outgoing", routing_key="outgoing"),
    # The webhook's POSTs kept to apply later (WEBHOOK_APPLY_LATER): never behind anything else.
    Queue("webhook", routing_key="webhook"),
)
# By task name (`<app>.<area>.<action>`, see messenger/tasks/__init__.py); unlisted tasks go to "celery".
CELERY_TASK_ROUTES = {
    "messenger.sending.send_message": {"queue": "sending"},
    "messenger.sending.send_sender_action": {"queue": "sending"},
    "messenger.attachments.download": {"queue": "downloads"},
    "messenger.contacts.avatar_copy": {"queue": "downloads"},
    "messenger.routing.route_conversations": {"queue": "routing"},
    "messenger.routing.drain_agent": {"queue": "routing"},
    "messenger.routing.drain_channel": {"queue": "routing"},
    "messenger.routing.drain_organization": {"queue": "routing"},
    "messenger.routing.out_of_hours_reply": {"queue": "routing"},
    "messenger.webhook.received_posts_apply": {"queue": "webhook"},
    "outgoing.deliver": {"queue": "outgoing"},
    "outgoing.sweep": {"queue": "outgoing"},
}
# Every periodic job, by task name. A job with `expires` shorter than its period is dropped
# when no worker started it in time: the next run does its work.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Pages whose authorization runs out are flagged, and their admins told, ahead of time.
    "messenger-token-expiry-sweep": {"task": "messenger.pages.token_expiry_sweep", "schedule": 60 * 60},
    # Page health (messenger.pages.health): each linked page's webhook subscription checked
    # daily and renewed when Facebook dropped it; pages unusually silent flagged hourly.
    "messenger-page-subscription-check": {
        "task": "messenger.pages.subscription_check",
        "schedule": crontab(hour=4, minute=41),
    },
    "messenger-page-silence-check": {
        "task": "messenger.pages.silence_check",
        "schedule": 60 * 60,
        "options": {"expires": 55 * 60},
    },
    # Contact profiles: names Facebook did not give asked again on their schedule (hourly);
    # each profile picture copied again a week after its last copy (messenger.services.contacts).
    "messenger-contact-profiles-retry": {
        "task": "messenger.contacts.profiles_retry",
        "schedule": 60 * 60,
        "options": {"expires": 55 * 60},
    },
    "messenger-contact-avatars-refresh": {
        "task": "messenger.contacts.avatars_refresh",
        "schedule": 60 * 60,
        "options": {"expires": 55 * 60},
    },
    # Members without input for their organization's idle time go away; those without an open
    # tab (no heartbeat for three minutes) go offline.
    "availability-sweep": {
        "task": "availability.status.sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # The inbox's view counts: the rows the triggers added folded into one per (channel, assignee).
    "messenger-open-counts-fold": {
        "task": "messenger.counts.fold",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Idle chats become tickets.
    "tickets-sweep-idle-conversations": {
        "task": "tickets.conversion.sweep_idle_conversations",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Automatic assignment: lost routings, offline agents' conversations back to the queue
    # after the grace period, the queue drained to agents with room.
    "messenger-routing-sweep": {
        "task": "messenger.routing.sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Conversations left unassigned longer than their organization's time: admins told once.
    "messenger-unassigned-alerts": {
        "task": "messenger.alerts.unassigned_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Reply windows about to close on unanswered customers: flagged, their assignee (or
    # admins) told once per window per customer message; closed ones kept as lost.
    "messenger-window-alerts": {
        "task": "messenger.alerts.window_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # SLA: response targets of conversations and resolution targets of tickets timed, warned
    # of and marked breached (messenger.services.sla, tickets.services_sla).
    "messenger-sla-sweep": {"task": "messenger.sla.sweep", "schedule": 60.0, "options": {"expires": 55}},
    "tickets-sla-sweep": {"task": "tickets.sla.sweep", "schedule": 60.0, "options": {"expires": 55}},
    # The webhook: events stored but not yet applied, and the follow-ups a down broker could
    # not take.
    "messenger-webhook-events-process-pending": {
        "task": "messenger.webhook.events_process_pending",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # The webhook's raw event log is kept WEBHOOK_EVENT_RETENTION_DAYS, then deleted (daily).
    "messenger-webhook-events-prune": {
        "task": "messenger.webhook.events_prune",
        "schedule": crontab(hour=3, minute=17),
    },
    # Outbound sending: fail sends of unknown outcome, publish again what never reached the
    # broker (a reply queued during a broker outage goes out within a minute of its return).
    "messenger-sending-sweep": {
        "task": "messenger.sending.sweep",
        "schedule": 20.0,
        "options": {"expires": 19},
    },
    # The inbox search's copy of message texts, a minute behind the webhook (messenger.services.search).
    "messenger-message-search-index": {
        "task": "messenger.search.index",
        "schedule": 15.0,
        "options": {"expires": 14},
    },
    # The reports' per-conversation facts, caught up with the conversations changed since (reports.tasks).
    "reports-facts-refresh": {
        "task": "reports.facts_refresh",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Customer ratings: comments written after an answer, and taps whose reading was not queued.
    "csat-sweep": {"task": "csat.sweep", "schedule": 5 * 60, "options": {"expires": 4 * 60}},
    # Outgoing webhooks: deliveries due again (backoff) handed to the endpoints' senders, endpoints
    # failing for a day disabled (outgoing.services).
    "outgoing-sweep": {"task": "outgoing.sweep", "schedule": 15.0, "options": {"expires": 14}},
    # The API's Idempotency-Keys older than IDEMPOTENCY_KEY_RETENTION_HOURS are deleted (hourly).
    "helpdesk-idempotency-keys-prune": {
        "task": "helpdesk.idempotency.prune",
        "schedule": crontab(minute=41),
    },
}

# --- Auth, sessions, security ----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password reset emails: at most this many per address per hour (4× per client address).
PASSWORD_RESET_LIMIT_PER_HOUR = env.int("PASSWORD_RESET_LIMIT_PER_HOUR", 3)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3  # a reset link works for three hours
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
# Failures from one address across accounts before it may try only once per delay (never a lockout).
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", 4 * LOGIN_FAILURE_LIMIT)
LOGIN_ADDRESS_DELAY_SECONDS = env.int("LOGIN_ADDRESS_DELAY_SECONDS", 10)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: REMOTE_ADDR is the client).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 0)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked account before any password is checked
    # Usernames are one name whatever their case: "ADMIN" signs in user "admin".
    "helpdesk.backends.CaseInsensitiveModelBackend",
]
# Account lockout (helpdesk.throttle): attempts kept in the database, so that it holds while Redis is down.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 wants the address in the lock: locking an address would lock everyone behind an
# office NAT or a load balancer; addresses only wait a few seconds (LOGIN_ADDRESS_*).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_FAILURE_LIMIT = "helpdesk.throttle.account_failure_limit"
AXES_COOLOFF_TIME = "helpdesk.throttle.account_lockout_period"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "helpdesk.throttle.login_username"
AXES_CLIENT_IP_CALLABLE = "helpdesk.throttle.client_address"
AXES_LOCKOUT_CALLABLE = "helpdesk.throttle.lockout_response"
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date and time format per language (helpdesk/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["helpdesk.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", str(DATA_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production the files are served straight from the apps' static folders.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "helpdesk@localhost")

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "helpdesk.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "helpdesk.drf.CursorPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "helpdesk.drf.exception_handler",
    # JSON bodies only; the few endpoints that take files declare MultiPartParser themselves.
    "DEFAULT_PARSER_CLASSES": ["helpdesk.drf.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Requests per window of each API token, and of each user calling the API with a session
# (helpdesk.ratelimit); counted in the cache, not limited while it is down.
API_RATE_LIMIT = env.int("API_RATE_LIMIT", 600)
API_RATE_LIMIT_WINDOW_SECONDS = env.int("API_RATE_LIMIT_WINDOW_SECONDS", 60)
# `Idempotency-Key` of the API's POSTs (helpdesk.idempotency): how long a key and its answer
# are kept, and after how long a request that never answered is taken to have crashed.
IDEMPOTENCY_KEY_RETENTION_HOURS = env.int("IDEMPOTENCY_KEY_RETENTION_HOURS", 24)
IDEMPOTENCY_LOCK_SECONDS = env.int("IDEMPOTENCY_LOCK_SECONDS", 300)
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": "Messenger conversations, channels and tickets of one organization.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "helpdesk.openapi.add_error_responses",
    ],
    # Swagger UI is served from the sidecar package's static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Named after their app, so that a ticket's `state` and a conversation's `state` do not collide.
    "ENUM_NAME_OVERRIDES": {
        "ConversationStateEnum": "messenger.models.ConversationState",
        "ReplyWindowStateEnum": ["standard", "human_agent", "closed"],
        "TicketStateEnum": "tickets.models.TicketState",
        "TicketPriorityEnum": "tickets.models.TicketPriority",
        "TicketOriginEnum": "tickets.models.TicketOrigin",
        "AvailabilityStatusEnum": "availability.models.Status",
        # The same statuses as input, checked by the service (availability.api.StatusField).
        "AvailabilityStatusInputEnum": ["online", "away", "offline"],
    },
}

# --- Facebook / Graph API -------------------------------------------------------------------
GRAPH_SANDBOX = (not PRODUCTION) and env.bool("GRAPH_SANDBOX", True)
_sandbox_base = f"{PUBLIC_URL}/sandbox"
FB_APP_ID = env.str("FB_APP_ID", dev_default="100000000000001")
FB_APP_SECRET = env.str("FB_APP_SECRET", dev_default="sandbox-app-secret")
FB_VERIFY_TOKEN = env.str("FB_VERIFY_TOKEN", dev_default="sandbox-verify-token")
FB_GRAPH_URL = env.str("FB_GRAPH_URL", f"{_sandbox_base}/graph" if GRAPH_SANDBOX else "https://graph.facebook.com")
FB_DIALOG_URL = env.str("FB_DIALOG_URL", f"{_sandbox_base}/dialog" if GRAPH_SANDBOX else "https://www.facebook.com")
FB_GRAPH_VERSION = env.str("FB_GRAPH_VERSION", "v21.0")
FB_GRAPH_TIMEOUT = float(env.str("FB_GRAPH_TIMEOUT", "10"))
# The audit log (django-auditlog) writes its entries to the organization-scoped model of privacy.
AUDITLOG_LOGENTRY_MODEL = "privacy.AuditEntry"
AUDITLOG_DISABLE_REMOTE_ADDR = False
# django-auditlog's own (swapped-out) table is never created: its migrations would make it anyway.
MIGRATION_MODULES = {"auditlog": None}
# Where the sandbox posts Meta's data deletion callback (the product's Data Deletion Request URL).
SANDBOX_DATA_DELETION_URL = env.str("SANDBOX_DATA_DELETION_URL", f"{PUBLIC_URL}/messenger/data-deletion/")
SANDBOX_WEBHOOK_URL = env.str("SANDBOX_WEBHOOK_URL", f"{PUBLIC_URL}/webhooks/messenger/")  # where the sandbox posts
# Fernet keys (comma-separated, newest first) for page tokens at rest; old keys still decrypt.
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS") or (
    [] if PRODUCTION else ["ZGV2LW9ubHktdG9rZW4ta2V5LTAxMjM0NTY3ODlhYmM="]
)
if PRODUCTION and not TOKEN_ENCRYPTION_KEYS:
    raise ValueError("The environment variable TOKEN_ENCRYPTION_KEYS must be set in production.")
TOKEN_REAUTHORIZATION_DAYS = env.int("TOKEN_REAUTHORIZATION_DAYS", 60)
TOKEN_EXPIRY_WARNING_DAYS = env.int("TOKEN_EXPIRY_WARNING_DAYS", 7)
# How many page tokens one sweep asks /debug_token about (each is one HTTP call).
TOKEN_CHECK_BATCH_SIZE = env.int("TOKEN_CHECK_BATCH_SIZE", 50)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", 1024 * 1024)
WEBHOOK_EVENT_RETENTION_DAYS = env.int("WEBHOOK_EVENT_RETENTION_DAYS", 30)
# Keep each verified POST as it arrived, answer Facebook at once, and apply the POSTs waiting in
# a worker (the "webhook" queue), joined into batches (messenger.webhook.later). Off, each POST
# is applied before its answer: the embedded defaults, where no worker may run.
WEBHOOK_APPLY_LATER = env.bool("WEBHOOK_APPLY_LATER", False)
# Customers' attachments are downloaded only from hosts under these suffixes (label boundary)
# when the Graph sandbox is off; with it on, from any public https host and the sandbox itself.
ATTACHMENT_HOST_SUFFIXES = env.list(
    "ATTACHMENT_HOST_SUFFIXES", ["fbcdn.net", "fbsbx.com", "facebook.com", "cdninstagram.com"]
)
# Tests and benchmarks only (bench/settings.py): URL prefixes the downloader fetches as they
# are, loopback and http included. Never read from the environment; ignored in production.
ATTACHMENT_FETCH_TEST_PREFIXES: list[str] = []

# --- Outgoing webhooks (outgoing) -----------------------------------------------------------
# Endpoints must be https in production; elsewhere http is allowed too (the addresses are
# checked all the same: public addresses only, see helpdesk.netfetch).
OUTGOING_WEBHOOKS_HTTPS_ONLY = env.bool("OUTGOING_WEBHOOKS_HTTPS_ONLY", PRODUCTION)
# The ports an endpoint may use (comma-separated; empty: any). A public address can still front
# a database or an admin console on another port: production allows the web's own.
OUTGOING_WEBHOOK_PORTS: tuple[int, ...] = tuple(
    int(port) for port in env.list("OUTGOING_WEBHOOK_PORTS", ["443", "8443"] if PRODUCTION else [])
)
# Benchmarks only (bench/settings.py): address prefixes delivered to as they are (loopback and
# http included). Never read from the environment; ignored in production.
OUTGOING_WEBHOOK_TEST_PREFIXES: list[str] = []
# Threads (each with its own database connection) of one idle-chat sweep on PostgreSQL.
TICKET_SWEEP_WORKERS = env.int("TICKET_SWEEP_WORKERS", 2)

# --- Content-Security-Policy (django-csp) ----------------------------------------------------
# No inline script or style and no eval anywhere: behaviour lives in static files (helpdesk/app.js).
# A page that must inline something (the API docs) marks it with request.csp_nonce; a response
# that already carries a Content-Security-Policy (the file views') keeps its own.


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.NONCE],
        # data: for Bootstrap's own icons; customers' pictures and files come from Facebook's CDN
        # until they are downloaded (from the sandbox outside production).
        "img-src": [csp.SELF, "data:", "https://*.fbcdn.net", "https://*.fbsbx.com"]
        + ([_origin(FB_GRAPH_URL)] if GRAPH_SANDBOX else []),
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "frame-ancestors": [csp.NONE],
        # Linking a page may end in a redirect to Facebook's Login dialog.
        "form-action": [csp.SELF, _origin(FB_DIALOG_URL)],
    }
}

# --- Channels -------------------------------------------------------------------------------
# What the channels app asks of each kind of channel (linked pages, lifecycle hooks): the
# kind's own app implements channels.kinds.ChannelKindBackend, so channels imports nothing above it.
CHANNEL_KIND_BACKENDS = {"messenger": "messenger.pages.kind.MessengerChannelKind"}
# What may refuse the deletion of a department (helpdesk.services.department_delete): apps
# above helpdesk own what is filed under a department, so they are named here, not imported.
DEPARTMENT_DELETE_GUARDS = ["channels.services.department_delete_guard"]
# Called, in order and in the same transaction, when a member stops working in departments
# (helpdesk.services.member_update): what the member held there is let go (channels.visibility).
MEMBERSHIP_DEPARTMENTS_REMOVED_HOOKS = [
    "channels.services.agent_channels_drop_for_departments",
    "messenger.services.conversations.reorganization.conversations_unassign_for_departments",
    "tickets.services.tickets_unassign_for_departments",
]

# The words of each kind of notification, written when it is read (helpdesk.notifications):
# the app that sends a kind owns its words, so they are named here, not imported.
NOTIFICATION_TEXTS = {
    "new_conversation": "messenger.notification_texts.new_conversation",
    "conversation_forwarded": "messenger.notification_texts.conversation_forwarded",
    "page_reauthorization": "messenger.notification_texts.page_reauthorization",
    "token_expiring": "messenger.notification_texts.token_expiring",
    "mention": "messenger.notification_texts.mention",
    "unassigned_too_long": "messenger.notification_texts.unassigned_too_long",
    "window_closing": "messenger.notification_texts.window_closing",
    "sla_at_risk": "messenger.notification_texts.sla_at_risk",
    "sla_breached": "messenger.notification_texts.sla_breached",
    "page_subscription_dropped": "messenger.notification_texts.page_subscription_dropped",
    "page_silent": "messenger.notification_texts.page_silent",
    "webhook_endpoint_disabled": "outgoing.notification_texts.endpoint_disabled",
}

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # urllib3 logs whole URLs at DEBUG, and Graph API URLs carry access tokens.
        "urllib3": {"level": "INFO"},
    },
}
