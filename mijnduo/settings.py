"""Settings for mijnduo, read entirely from the environment (design.md §5).

Three profiles, chosen with ``DJANGO_ENV``:

* ``production`` (the default): safe defaults; the process refuses to start with the
  default secret key, with DEBUG on, or with the dev eHerkenning broker enabled.
* ``development``: what ``make run`` uses — SQLite, eager Celery, the dev broker, the
  dev mailbox at /dev/mail/, keys and data outside the repository tree.
* ``test``: what the test suite uses — PostgreSQL and Redis on loopback, real connections.

Every value below can still be overridden by its environment variable in any profile.
"""

import os
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
DJANGO_ENV = env.str("DJANGO_ENV", default="production")
if DJANGO_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be production, development or test, not {DJANGO_ENV!r}")
IS_PRODUCTION = DJANGO_ENV == "production"
IS_DEVELOPMENT = DJANGO_ENV == "development"
IS_TEST = DJANGO_ENV == "test"

# Where development keeps its generated key pair, SQLite file and mailbox: outside the repo tree.
# Every command must get the same MIJNDUO_DEV_DIR as `make run` (README); "~" is expanded and a
# relative path is taken from the repository root (where run-dev.sh runs), whatever the working directory.
DEV_DATA_DIR = (
    BASE_DIR
    / Path(env.str("MIJNDUO_DEV_DIR", default="") or Path.home() / ".local/share/mijnduo").expanduser()
)

# The management command this process runs, if any (see the development database below).
_COMMAND = sys.argv[1] if len(sys.argv) > 1 and Path(sys.argv[0]).name == "manage.py" else ""
_COMMANDS_WITHOUT_DATA = {"makemigrations", "makemessages", "compilemessages", "help", "version"}

INSECURE_SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=INSECURE_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=IS_DEVELOPMENT)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["localhost", "127.0.0.1", "testserver"]
)
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

EHERKENNING_DEV_BROKER = env.bool("EHERKENNING_DEV_BROKER", default=IS_DEVELOPMENT or IS_TEST)

if IS_PRODUCTION:
    problems = []
    if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 50:
        problems.append("DJANGO_SECRET_KEY is unset, the default, or shorter than 50 characters")
    if DEBUG:
        problems.append("DJANGO_DEBUG is on")
    if EHERKENNING_DEV_BROKER:
        problems.append("EHERKENNING_DEV_BROKER is on")
    if not SITE_URL.startswith("https://"):
        problems.append("SITE_URL must be an https:// URL")
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start with production settings: "
            + "; ".join(problems)
            + ". (For local work set DJANGO_ENV=development, as `make run` does; see README.)"
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Passkeys (WebAuthn) for the helpdesk login beside TOTP: accounts/passkeys.py.
    "django_otp_webauthn",
    "axes",
    "djangosaml2",
    "accounts",
    "koppeling",
    "beheer",
    "oauth2_provider",
    "diensten",
]
if EHERKENNING_DEV_BROKER:
    INSTALLED_APPS.append("koppeling.dev_broker")

MIDDLEWARE = [
    "mijnduo.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # SAML state (outstanding AuthnRequests, logout state) in its own cookie: see SAML_SESSION_* below.
    "djangosaml2.middleware.SamlSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.TokenSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ends sessions past their idle or absolute limit, with an explanation; renews active ones.
    "accounts.session_timeout.SessionTimeoutMiddleware",
    # 405 (Django has no handler405) gets the portal's error page too.
    "mijnduo.errors.MethodNotAllowedPageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mijnduo.urls"
WSGI_APPLICATION = "mijnduo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mijnduo.context_processors.site",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
if IS_DEVELOPMENT:
    # Created by `make run` (scripts/run-dev.sh), never here: a command started without the
    # MIJNDUO_DEV_DIR that `make run` used would otherwise create an empty database (and key pairs)
    # elsewhere, fail with "no such table" and leave them behind.
    if not DEV_DATA_DIR.is_dir() and _COMMAND in _COMMANDS_WITHOUT_DATA:
        # Schema and translation commands read no demo data: they get a throwaway directory (for
        # the key pairs the system checks load), so they run on a fresh clone before `make run`.
        DEV_DATA_DIR = Path(tempfile.mkdtemp(prefix="mijnduo-dev-"))
    if not DEV_DATA_DIR.is_dir():
        raise ImproperlyConfigured(
            f"No development data directory {DEV_DATA_DIR} (MIJNDUO_DEV_DIR). `make run` creates it and "
            "loads the demo data; if you started it with another MIJNDUO_DEV_DIR, give this command the same."
        )
    _default_db = f"sqlite:///{DEV_DATA_DIR / 'dev.sqlite3'}"
else:
    _default_db = "postgres://postgres@127.0.0.1:5432/mijnduo"
DATABASES = {"default": env.db("DATABASE_URL", default=_default_db)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Parallel test runs (several developers or helpers on one machine) each get their own test database.
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_mijnduo")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The SQLite pass of the suite (scripts/test.sh, tests marked ``sqlite``): the database of
    # ``make run``. A file beside the configured one, not in the working directory.
    _sqlite_file = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"]["NAME"] = str(
        _sqlite_file.with_name(f"{DATABASES['default']['TEST']['NAME']}.sqlite3")
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and sessions ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/1")
if IS_DEVELOPMENT and not env.bool("USE_REDIS", default=False):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Parallel test runs share one Redis: each run's keys carry its test database name.
            "KEY_PREFIX": env.str(
                "CACHE_KEY_PREFIX",
                default=env.str("TEST_DATABASE_NAME", default="test_mijnduo") if IS_TEST else "mijnduo",
            ),
        }
    }
# Django's database sessions, inserting a new session's row once (accounts/sessions.py).
SESSION_ENGINE = "accounts.sessions"
# Sessions that are not logged in (the koppel wizard before the link): one hour after their last write.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60)
# A logged-in session ends after SESSION_IDLE_TIMEOUT seconds without a request (the helpdesk admin:
# ADMIN_SESSION_IDLE_TIMEOUT) and SESSION_MAX_AGE seconds after the login, however active; a dialog
# warns two minutes before the idle end (accounts/session_timeout.py, design.md §5, WCAG 2.2.1).
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=15 * 60)
ADMIN_SESSION_IDLE_TIMEOUT = env.int("ADMIN_SESSION_IDLE_TIMEOUT", default=15 * 60)
SESSION_MAX_AGE = env.int("SESSION_MAX_AGE", default=8 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# The SAML response is a cross-site POST from the broker, on which browsers do not send a Lax cookie.
# What the ACS needs from before the redirect (the outstanding AuthnRequest IDs for InResponseTo)
# therefore lives in a separate session cookie that only djangosaml2 uses: SameSite=None (with
# Secure) in production, where the broker is another site. The login session itself stays Lax and
# is created fresh by the ACS.
SAML_SESSION_COOKIE_NAME = "__Host-saml_session" if IS_PRODUCTION else "saml_session"
SAML_SESSION_COOKIE_SAMESITE = "None" if IS_PRODUCTION else "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- Authentication ----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Account"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Recorded on sessions started by an eHerkenning response; authenticates no credentials.
    "koppeling.backends.EHerkenningBackend",
]
LOGIN_URL = "/saml2/login/"
LOGIN_REDIRECT_URL = "/overzicht/"
LOGOUT_REDIRECT_URL = "/uitgelogd/"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Activation codes only (60-bit random secrets, 24 hours): see koppeling/hashers.py.
    "koppeling.hashers.ActivationCodeHasher",
    # OAuth2 client secrets of the Diensten only: see diensten/hashers.py.
    "diensten.hashers.ClientSecretHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes throttles failed password logins (the admin and the legacy token login). Its
# counting is not atomic, which is acceptable for a throttle but not for the koppel lockout,
# which is our own (koppeling/lockout.py).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
# Per username, whatever the address: counting per (username, IP) lets a botnet guess without limit.
# The price — anyone can block a username for 15 minutes — is the one design.md accepts for the
# koppel lockout too.
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for ip_address in the lockout parameters. Deliberately not: a per-IP lockout would
# block every token user of a school behind one NAT address after five typos by anyone there, and a
# per-(username, IP) lockout lets a botnet guess without limit (see above).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
# The database handler, leaving eHerkenning logins alone (no password involved).
AXES_HANDLER = "koppeling.axes_handler.AxesHandler"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# The same client address as the audit trail (X-Forwarded-For trusted for exactly TRUSTED_PROXY_COUNT hops).
AXES_CLIENT_IP_CALLABLE = "mijnduo.middleware.client_ip"
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "activation_code"]
# Successful logins are in our own audit trail; axes keeps only the failure counters.
AXES_DISABLE_ACCESS_LOG = True
TRUSTED_PROXY_COUNT = AXES_IPWARE_PROXY_COUNT

OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Mijn DUO Zakelijk (mijnduo)")
# Passkeys (accounts/passkeys.py): the relying party is SITE_URL's host, the one allowed origin SITE_URL's.
OTP_WEBAUTHN_RP_ID_CALLABLE = "accounts.passkeys.site_rp_id"
OTP_WEBAUTHN_RP_NAME = "Mijn DUO Zakelijk helpdesk"
OTP_WEBAUTHN_ALLOWED_ORIGINS = ["{0.scheme}://{0.netloc}".format(urlsplit(SITE_URL))]
OTP_WEBAUTHN_HELPER_CLASS = "accounts.passkeys.HelpdeskWebAuthnHelper"
# On: staff log in with a passkey only (the password + TOTP form refuses them, and a session verified by
# TOTP no longer opens the admin). Off (default): the login screen offers both.
HELPDESK_REQUIRE_PASSKEY = env.bool("HELPDESK_REQUIRE_PASSKEY", default=False)

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates in words in either language: "28 november 2026" / "28 November 2026" (mijnduo/formats/).
FORMAT_MODULE_PATH = ["mijnduo.formats"]
# Where the accessibility statement (/toegankelijkheid/) sends questions and complaints.
ACCESSIBILITY_CONTACT_EMAIL = env.str(
    "ACCESSIBILITY_CONTACT_EMAIL", default="toegankelijkheid@mijnduo.example"
)
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=IS_PRODUCTION)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- E-mail ------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Mijn DUO Zakelijk <noreply@mijnduo.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
DEV_MAIL_DIR = DEV_DATA_DIR / "mail"
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
elif IS_DEVELOPMENT:
    EMAIL_BACKEND = "accounts.devmail.DevMailboxBackend"
elif IS_TEST:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = "localhost"
    EMAIL_PORT = 25
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEV_MAILBOX_ENABLED = env.bool("DEV_MAILBOX", default=IS_DEVELOPMENT)
if IS_PRODUCTION and DEV_MAILBOX_ENABLED:
    raise ImproperlyConfigured("Refusing to start with production settings: DEV_MAILBOX is on")
# The demo Dienst at /dev/dienst/ (diensten/demo_rp.py): a relying party for `make run`'s hand-off.
DEMO_DIENST_ENABLED = env.bool("DEMO_DIENST", default=IS_DEVELOPMENT or IS_TEST)
if IS_PRODUCTION and DEMO_DIENST_ENABLED:
    raise ImproperlyConfigured("Refusing to start with production settings: DEMO_DIENST is on")

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=IS_DEVELOPMENT or IS_TEST)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must fail fast when the broker is down: the e-mail outbox catches up later.
# Every broker connection is bounded, so a frozen broker can never hang a request or a worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "flush-email-outbox": {"task": "accounts.tasks.flush_email_outbox", "schedule": 60.0},
    # Seed 002 §1.5: links unused for 18 months are undone (and warned at 17 months), daily at night.
    "unlink-inactive-links": {
        "task": "accounts.tasks.unlink_inactive_links",
        "schedule": crontab(hour=3, minute=17),
    },
    # Sessions that expired while their user was away: audited, reported to the DUO services.
    "end-expired-sessions": {"task": "accounts.tasks.end_expired_sessions", "schedule": 60.0},
}

# --- eHerkenning (design.md §4) ---------------------------------------------------------------
EHERKENNING_IDP_METADATA = env.str("EHERKENNING_IDP_METADATA", default="")
EHERKENNING_SP_ENTITY_ID = env.str("EHERKENNING_SP_ENTITY_ID", default=f"{SITE_URL}/saml2/metadata/")
EHERKENNING_SP_KEY_FILE = env.str("EHERKENNING_SP_KEY_FILE", default="")
EHERKENNING_SP_CERT_FILE = env.str("EHERKENNING_SP_CERT_FILE", default="")
EHERKENNING_SERVICE_ID = env.str(
    "EHERKENNING_SERVICE_ID", default="urn:etoegang:DV:00000001234567890000:services:1"
)
EHERKENNING_MIN_LEVEL = "urn:etoegang:core:assurance-class:loa3"
# Generated development/test SAML key pairs (SP and dev broker) live here, outside the repo tree.
EHERKENNING_KEY_DIR = Path(
    env.str(
        "EHERKENNING_KEY_DIR",
        default=str(
            DEV_DATA_DIR / "saml"
            if IS_DEVELOPMENT
            else Path(tempfile.gettempdir()) / f"mijnduo-saml-{DJANGO_ENV}-{os.getuid()}"
        ),
    )
)
EHERKENNING_CLOCK_SKEW_SECONDS = env.int("EHERKENNING_CLOCK_SKEW_SECONDS", default=60)
EHERKENNING_DEV_BROKER_ENCRYPT = env.bool("EHERKENNING_DEV_BROKER_ENCRYPT", default=True)
# Response bindings the ACS accepts and the metadata advertises (eherkenning.md §2: brokers answer by
# artifact; "post" stays for brokers and tests that use it). A comma list of "artifact" and "post".
# The test profile accepts both: the dev broker answers by artifact, and tests that mint a response
# with a tweak post it directly.
EHERKENNING_RESPONSE_BINDINGS = [
    b.strip().lower()
    for b in env.list(
        "EHERKENNING_RESPONSE_BINDINGS", default=["artifact", "post"] if IS_TEST else ["artifact"]
    )
    if b.strip()
]
if not EHERKENNING_RESPONSE_BINDINGS or set(EHERKENNING_RESPONSE_BINDINGS) - {"artifact", "post"}:
    raise ImproperlyConfigured(
        "EHERKENNING_RESPONSE_BINDINGS must be a comma list of artifact and post, "
        f"not {','.join(EHERKENNING_RESPONSE_BINDINGS)!r}"
    )
EHERKENNING_RESPONSE_BINDINGS = list(dict.fromkeys(EHERKENNING_RESPONSE_BINDINGS))
# Mutual TLS to the broker's ArtifactResolutionService: our client pair (default: the SP pair) and the
# CA file that the broker's server certificate must chain to (default: the system CAs).
EHERKENNING_TLS_CLIENT_CERT_FILE = env.str("EHERKENNING_TLS_CLIENT_CERT_FILE", default="")
EHERKENNING_TLS_CLIENT_KEY_FILE = env.str("EHERKENNING_TLS_CLIENT_KEY_FILE", default="")
EHERKENNING_TLS_CA_FILE = env.str("EHERKENNING_TLS_CA_FILE", default="")
EHERKENNING_ARTIFACT_RESOLVE_TIMEOUT = env.float("EHERKENNING_ARTIFACT_RESOLVE_TIMEOUT", default=10.0)
# Identifiers in plain text (not EncryptedID) only for test brokers that do not encrypt.
EHERKENNING_PLAIN_IDENTIFIERS = env.bool("EHERKENNING_PLAIN_IDENTIFIERS", default=False)
# The next SP key pair (eherkenning.md §5): shown in metadata and catalogue once set, used for decryption
# at once, and for signing from EHERKENNING_SP_NEXT_FROM (a date, YYYY-MM-DD) on.
EHERKENNING_SP_NEXT_CERT_FILE = env.str("EHERKENNING_SP_NEXT_CERT_FILE", default="")
EHERKENNING_SP_NEXT_KEY_FILE = env.str("EHERKENNING_SP_NEXT_KEY_FILE", default="")
_next_from = env.str("EHERKENNING_SP_NEXT_FROM", default="")
try:
    EHERKENNING_SP_NEXT_FROM = date.fromisoformat(_next_from) if _next_from else None
except ValueError as exc:
    raise ImproperlyConfigured("EHERKENNING_SP_NEXT_FROM must be a date, YYYY-MM-DD") from exc
if bool(EHERKENNING_SP_NEXT_CERT_FILE) != bool(EHERKENNING_SP_NEXT_KEY_FILE):
    raise ImproperlyConfigured(
        "Set both EHERKENNING_SP_NEXT_CERT_FILE and EHERKENNING_SP_NEXT_KEY_FILE, or neither"
    )
# Broker metadata by URL (besides EHERKENNING_IDP_METADATA): fetched on a schedule by Celery beat, the last
# good copy kept in the database; optionally it must be signed by EHERKENNING_IDP_METADATA_CERT (a file).
EHERKENNING_IDP_METADATA_URL = env.str("EHERKENNING_IDP_METADATA_URL", default="")
EHERKENNING_IDP_METADATA_CERT = env.str("EHERKENNING_IDP_METADATA_CERT", default="")
EHERKENNING_IDP_METADATA_TIMEOUT = env.float("EHERKENNING_IDP_METADATA_TIMEOUT", default=20.0)
# The dienstcatalogus (eherkenning.md §4; manage.py eherkenning_catalogue). The UUIDs are generated once
# (manage.py eherkenning_catalogue --new-uuids) and never changed or reused.
# Our OIN (20 digits); by default the one in EHERKENNING_SERVICE_ID (urn:etoegang:DV:<OIN>:services:<n>).
EHERKENNING_OIN = env.str(
    "EHERKENNING_OIN",
    default=EHERKENNING_SERVICE_ID.split(":")[3] if EHERKENNING_SERVICE_ID.count(":") == 5 else "",
)
EHERKENNING_SERVICE_UUID = env.str("EHERKENNING_SERVICE_UUID", default="")
EHERKENNING_SERVICE_INSTANCE_UUID = env.str("EHERKENNING_SERVICE_INSTANCE_UUID", default="")
EHERKENNING_ACCEPT_VESTIGING = env.bool("EHERKENNING_ACCEPT_VESTIGING", default=False)
# The broker's OIN (20 digits: the catalogue's HerkenningsmakelaarId); outside production a made-up one
# for the dev broker.
EHERKENNING_BROKER_ID = env.str(
    "EHERKENNING_BROKER_ID", default="" if IS_PRODUCTION else "00000009999999999999"
)
EHERKENNING_SERVICE_URL = env.str("EHERKENNING_SERVICE_URL", default=f"{SITE_URL}/")
# The privacy statement the broker shows; the terms of use page until DUO's statement URL is set.
EHERKENNING_PRIVACY_URL = env.str("EHERKENNING_PRIVACY_URL", default=f"{SITE_URL}/gebruiksvoorwaarden/")
# Certificates (ours, the broker's, the TLS pair) expiring within this many days warn in checks and /healthz.
EHERKENNING_CERT_WARN_DAYS = env.int("EHERKENNING_CERT_WARN_DAYS", default=30)
# /healthz lists the warnings of these providers (callables returning a list of dicts) beside its status.
HEALTHZ_WARNINGS = ["koppeling.saml.health.eherkenning_warnings"]
# XML signature checks and decryption: "xmlsec" in-process (libxmlsec1 bindings, koppeling/saml/crypto.py)
# or "xmlsec1", pysaml2's default that runs the xmlsec1 program per check (the benchmark's baseline).
EHERKENNING_CRYPTO_BACKEND = env.str("EHERKENNING_CRYPTO_BACKEND", default="xmlsec")
# djangosaml2: the pysaml2 configuration is built from the settings above (koppeling/saml/config.py).
SAML_CONFIG_LOADER = "koppeling.saml.config.sp_config_load"
SAML_DEFAULT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
# Replay records of expired assertions are purged hourly (koppeling/saml/tasks.py).
CELERY_IMPORTS = ["koppeling.saml.tasks"]
CELERY_BEAT_SCHEDULE["purge-used-saml-assertions"] = {
    "task": "koppeling.saml.tasks.purge_used_assertions",
    "schedule": 3600.0,
}
# Broker metadata by URL is refreshed hourly (a no-op without EHERKENNING_IDP_METADATA_URL).
CELERY_BEAT_SCHEDULE["refresh-idp-metadata"] = {
    "task": "koppeling.saml.tasks.refresh_idp_metadata",
    "schedule": 3600.0,
}
if IS_PRODUCTION and not (
    (EHERKENNING_IDP_METADATA or EHERKENNING_IDP_METADATA_URL)
    and EHERKENNING_SP_KEY_FILE
    and EHERKENNING_SP_CERT_FILE
):
    raise ImproperlyConfigured(
        "Refusing to start with production settings: set EHERKENNING_IDP_METADATA or "
        "EHERKENNING_IDP_METADATA_URL, EHERKENNING_SP_KEY_FILE and EHERKENNING_SP_CERT_FILE"
    )

# --- OpenID Connect provider (design.md §9, app diensten) ---------------------------------------
# The Diensten verify ID tokens with these RSA keys (RS256). The current key signs; the others
# (OIDC_RSA_NEXT_PRIVATE_KEY before a rotation, the previous one after it) are only published in the
# JWKS, so a rotation needs no downtime. Each as PEM text or as a file (…_FILE).
from diensten.keys import signing_key_ensure, signing_key_read  # noqa: E402

OIDC_RSA_PRIVATE_KEY = signing_key_read(
    pem=env.str("OIDC_RSA_PRIVATE_KEY", default=""), path=env.str("OIDC_RSA_PRIVATE_KEY_FILE", default="")
)
OIDC_RSA_PUBLISHED_KEYS = [
    key
    for key in (
        signing_key_read(
            pem=env.str(f"OIDC_RSA_{which}_PRIVATE_KEY", default=""),
            path=env.str(f"OIDC_RSA_{which}_PRIVATE_KEY_FILE", default=""),
        )
        for which in ("NEXT", "PREVIOUS")
    )
    if key
]
if not OIDC_RSA_PRIVATE_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            "Refusing to start with production settings: set OIDC_RSA_PRIVATE_KEY_FILE (or "
            "OIDC_RSA_PRIVATE_KEY), the RSA key that signs the ID tokens for the Diensten"
        )
    # Generated once, outside the repo tree, like the development SAML key pairs.
    _oidc_key_dir = (
        DEV_DATA_DIR / "oidc"
        if IS_DEVELOPMENT
        else Path(tempfile.gettempdir()) / f"mijnduo-oidc-{DJANGO_ENV}-{os.getuid()}"
    )
    OIDC_RSA_PRIVATE_KEY = signing_key_ensure(
        directory=Path(env.str("OIDC_KEY_DIR", default=str(_oidc_key_dir)))
    )
# ID and access tokens live 5 minutes: a Dienst asks again (a redirect, no screen) and so sees a
# revoked rol within minutes even without back-channel logout.
OIDC_TOKEN_SECONDS = env.int("OIDC_TOKEN_SECONDS", default=300)
# django-oauth-toolkit's own models; named here because diensten's migrations refer to them.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": env.str("OIDC_ISSUER", default=SITE_URL),
    "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY,
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": OIDC_RSA_PUBLISHED_KEYS,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_SUBJECT_TYPES_SUPPORTED": ["pairwise"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ],
    # RP-initiated logout at /o/logout/ (diensten/views.py): no question when the Dienst's ID token
    # names the logged-in user, exact post-logout redirect URIs, expired ID tokens accepted as hint.
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": True,
    "OAUTH2_VALIDATOR_CLASS": "diensten.validators.DienstValidator",
    "SCOPES": {
        "openid": _("Log in with your Mijn DUO Zakelijk account"),
        "profile": _("Your name"),
        "email": _("Your e-mail address"),
        "duo": _("Your organisation and your rollen for this service"),
    },
    "DEFAULT_SCOPES": ["openid"],
    "CLIENT_SECRET_HASHER": "pbkdf2_sha256_client_secret",
    "PKCE_REQUIRED": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": OIDC_TOKEN_SECONDS,
    "ID_TOKEN_EXPIRE_SECONDS": OIDC_TOKEN_SECONDS,
    "REQUEST_APPROVAL_PROMPT": "auto",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if IS_PRODUCTION else ["http", "https"],
    # RFC 9700 (OAuth 2.0 security best current practice): S256 only, the iss parameter in the
    # authorization response, tokens stored hashed, no implicit or password grant.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    # No refresh tokens are issued (diensten/validators.py); should one ever be, a replay revokes its family.
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": IS_PRODUCTION,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}
# Back-channel logouts whose Celery message was lost or whose retries ran out (diensten/logout.py).
CELERY_BEAT_SCHEDULE["flush-backchannel-logouts"] = {
    "task": "diensten.tasks.flush_backchannel_logouts",
    "schedule": 60.0,
}

# Access review (BIO 9.2.5): every organisation's beheerders confirm or revoke each role once per
# interval; reminders a REMINDER_DAYS before the due date and once GRACE_DAYS past it (then overdue
# for the helpdesk; nothing is revoked without a person's decision).
ACCESS_REVIEW_INTERVAL_DAYS = env.int("ACCESS_REVIEW_INTERVAL_DAYS", default=365)
ACCESS_REVIEW_REMINDER_DAYS = env.int("ACCESS_REVIEW_REMINDER_DAYS", default=30)
ACCESS_REVIEW_GRACE_DAYS = env.int("ACCESS_REVIEW_GRACE_DAYS", default=30)
CELERY_BEAT_SCHEDULE["access-review-reminders"] = {
    "task": "beheer.review_tasks.access_review_reminders",
    "schedule": crontab(hour=6, minute=41),
}
# Files of users nobody confirmed within their validity: deleted daily, not only at the next upload.
CELERY_BEAT_SCHEDULE["purge-expired-gebruikers-uploads"] = {
    "task": "beheer.tasks.gebruikers_uploads_purge_task",
    "schedule": crontab(hour=4, minute=23),
}
# A confirmed file of users is registered by one Celery worker that writes a heartbeat with every
# chunk of 100 rows (a few seconds each). A worker that dies mid-run (OOM, deploy, kill -9) leaves the
# file running with an old heartbeat: after GEBRUIKERS_UPLOAD_STALE_SECONDS without one, the file counts
# as stopped — its page says so — and the beat task below hands it to a worker that takes it over (one
# at a time, by a conditional UPDATE) and registers only the rows that have no result yet. Long enough
# that a live worker waiting on a lock is never taken for dead (a chunk takes seconds; the run's lock
# fences a slow old worker out anyway), short enough that the beheerder waits minutes, not hours. A file
# that stopped three times, or whose 24 hours ran out, is failed instead, its page saying why (audited).
GEBRUIKERS_UPLOAD_STALE_SECONDS = env.int("GEBRUIKERS_UPLOAD_STALE_SECONDS", default=5 * 60)
CELERY_BEAT_SCHEDULE["resume-stalled-gebruikers-uploads"] = {
    "task": "beheer.tasks.gebruikers_uploads_resume_task",
    "schedule": 60.0,
}

# The version of the terms of use (/gebruiksvoorwaarden/) that the koppel wizard records as accepted.
TERMS_VERSION = env.str("TERMS_VERSION", default="2022-1")

# --- Web hardening (design.md §6) -------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
if IS_PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the container health check speaks plain HTTP on loopback
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=63072000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])
CSRF_FAILURE_VIEW = "mijnduo.errors.csrf_failure"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        # The SAML POST binding submits a form to the broker: allow the broker's origin.
        "form-action": ["'self'", *env.list("CSP_FORM_ACTION", default=[])],
        "object-src": ["'none'"],
    }
}

# The dev broker's HTTP-POST page submits to our ACS at SITE_URL (which may differ from the origin used).
if EHERKENNING_DEV_BROKER:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(SITE_URL)

# --- Logging: never log secrets; the audit trail is in the database -----------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "mijnduo.middleware.RequestIdLogFilter"},
        # A request refused with a 4xx (oversized, malformed, bad Host…) is one WARNING line, not an
        # ERROR with a traceback: anyone can send those at will (mijnduo/logging.py).
        "client_errors": {"()": "mijnduo.logging.ClientErrorFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "client_errors"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own handlers for "django" (a DEBUG-only console, mail_admins) saw every record before
        # the filters above, tracebacks and all; its records go to the console handler like the rest.
        "django": {"handlers": [], "level": "INFO"},
        "saml2": {"level": "WARNING"},
        "djangosaml2": {"level": "WARNING"},
        "xmlsec": {"level": "WARNING"},
    },
}
