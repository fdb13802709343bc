"""Settings shared by every environment. Values come from environment variables with safe defaults."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "loanops",
    "compliance",
    "notifications",
    "applications",
    "underwriting",
    "contracts",
    "servicing",
    "loan_collections",
    "reporting",
    "backoffice",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "loanops.urls"
WSGI_APPLICATION = "loanops.wsgi.application"

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
                "loanops.context_processors.roles",
            ],
            "builtins": ["loanops.templatetags.money"],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'loanops.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)  # var/ is not in git
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "applications.auth.PhoneBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "backoffice:queue"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- LoanOps domain settings -------------------------------------------------------------
LOANOPS_CURRENCY = "CNY"
LOANOPS_MAX_UPLOAD_BYTES = int(os.environ.get("LOANOPS_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
LOANOPS_UPLOAD_TYPES = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}
LOANOPS_CJK_FONT = os.environ.get("LOANOPS_CJK_FONT", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
LOANOPS_SYSTEM_USERNAME = "system"
# The lender's licence decides the legal cap on a loan's annualised cost (underwriting.rate_caps):
# "private_lending" (民间借贷: 4 × the one-year LPR published before the contract date), or a licensed lender
# ("microcredit" 小额贷款公司, "consumer_finance" 消费金融公司) at its regulator's fixed cap below.
LOANOPS_LICENCE_TYPE = os.environ.get("LOANOPS_LICENCE_TYPE", "private_lending")
LOANOPS_LICENSED_RATE_CAPS = {"microcredit": "0.24", "consumer_finance": "0.24"}
# Close of business: the steps run in this order for each business date (loanops.cob.CobStep dotted paths).
# Planned order: due, penalty, bucket, classify, collections, reminders, early_warning, staff_tasks.
LOANOPS_COB_STEPS: list[str] = [
    "servicing.cob_steps.DUE",
    "servicing.cob_steps.PENALTY",
    "servicing.cob_steps.BUCKET",
    "servicing.services.classification.CLASSIFY",
    "loan_collections.steps.collections",
    "loan_collections.reminders.REMINDERS_STEP",
    "loan_collections.early_warning.EARLY_WARNING_STEP",
    "loan_collections.staff_tasks.STAFF_TASKS_STEP",
]
# Loan ids per chunk (one transaction, one Celery task per chunk and step). Each chunk costs a transaction,
# its run record and a commit (10–15 ms) whatever it does; at a million loans 100,000 (10 chunks a step)
# measured faster than 50,000 (steady day 15.9 → 14.0 s on 2 workers) and as fast as 250,000, while keeping
# a chunk's locks held under a second (the longest step, penalty: 0.5–0.7 s a chunk on a steady day).
LOANOPS_COB_CHUNK_SIZE = int(os.environ.get("LOANOPS_COB_CHUNK_SIZE", "100000"))
# PostgreSQL lock_timeout of a COB chunk: waits this long for an online writer's row lock, then retries.
LOANOPS_COB_LOCK_TIMEOUT_MS = 5000
# The Celery queue COB hands its chunk and advance tasks to (workers that run COB consume it: `-Q`).
LOANOPS_COB_QUEUE = os.environ.get("LOANOPS_COB_QUEUE", "celery")
LOANOPS_COB_CHUNK_ATTEMPTS = 3
# Buckets (账龄) by days past due: (name, highest DPD in it); above the last bound is "M3+".
LOANOPS_COB_BUCKETS: list[tuple[str, int]] = [("M0", 0), ("M1", 30), ("M2", 60), ("M3", 90)]
LOANOPS_COB_BUCKET_OVER = "M3+"
# Five-category classification (五级分类): the smallest days past due at which a loan is at least that class
# (any overdue → 关注, > 90 → 次级, > 270 → 可疑, > 360 → 损失). A product's dpd_floor_* fields override these.
LOANOPS_RISK_CLASS_DPD_FLOORS: dict[str, int] = {"special_mention": 1, "substandard": 91, "doubtful": 271, "loss": 361}
# Extension / restructuring (展期/重组): class at least 关注 for this many months after approval, and
# above this outstanding principal (CNY) a manager approves too, after risk.
LOANOPS_RESTRUCTURE_OBSERVATION_MONTHS = 6
LOANOPS_RESTRUCTURE_MANAGER_LIMIT = "500000.00"
# Step 6 (reminders): days before a due date to remind (T−3, T−1, T0) and days after it to send an
# overdue notice (D+1, D+3, D+7).
LOANOPS_REMINDER_DAYS_BEFORE = [3, 1, 0]
LOANOPS_OVERDUE_NOTICE_DAYS = [1, 3, 7]
# Step 7 (early_warning): an industry whose overdue rate (M1+ principal / outstanding principal) is above
# the warning threshold alerts the managers; above the restriction threshold its new offers get at most the
# product's maximum × the factor and need a manager's approval.
LOANOPS_EARLY_WARNING_THRESHOLD = "0.05"
LOANOPS_EARLY_RESTRICTION_THRESHOLD = "0.10"
LOANOPS_EARLY_RESTRICTION_FACTOR = "0.5"
# Step 8 (staff_tasks): return visit (回访) this many days after disbursement; post-loan review (贷后检查)
# every N months for loans with at least this principal.
LOANOPS_RETURN_VISIT_DAYS = 7
LOANOPS_POST_LOAN_REVIEW_MONTHS = 3
LOANOPS_POST_LOAN_REVIEW_MIN_PRINCIPAL = "300000.00"

# Notifications (transactional outbox, notifications app).
LOANOPS_SMS_PROVIDER = os.environ.get("LOANOPS_SMS_PROVIDER", "notifications.channels.LoggingSmsProvider")
LOANOPS_OUTBOX_MAX_ATTEMPTS = 8  # a message still failing after this many tries is marked failed
LOANOPS_OUTBOX_RETRY_SECONDS = 60  # first retry delay; doubles with each further failure
# False: delivery by the per-minute beat relay only (no kick per commit; `bench cob --workers` sets it)
LOANOPS_OUTBOX_KICK_ON_COMMIT = env_bool("LOANOPS_OUTBOX_KICK_ON_COMMIT", True)
# Where the relay reads a borrower's address for a message that keeps none (customer_id set, recipient blank).
LOANOPS_OUTBOX_CONTACT_RESOLVER = "applications.selectors.customer_contacts"
# Collections (loan_collections): contact policy of the 2025 national standard for consumer-credit collection
# and the 2026 banking-association guideline, always applied in Asia/Shanghai time.
LOANOPS_COLLECTION_POLICY = {
    "quiet_start": "22:00",  # no contact from this time ...
    "quiet_end": "08:00",  # ... until this time, unless the debtor consented
    "quiet_hours_channels": ["phone", "sms", "wechat", "visit"],
    "max_effective_calls_per_debtor_per_day": 3,
    "max_dials_per_number_per_day": 6,
    "promise_max_days": 30,  # a promise to pay may be at most this many days after the business date
}
# Case level per bucket, and the role responsible for each level (M3+: "legal" or "outsourced").
LOANOPS_COLLECTION_LEVELS = {
    "buckets": {"M1": "reminder", "M2": "collector", "M3": "field_visit", "M3+": "legal"},
    "roles": {
        "reminder": "service",
        "collector": "collector",
        "field_visit": "collector",
        "legal": "risk",
        "outsourced": "collector",
    },
}
# Personal data at rest (compliance.pii): Fernet keys, comma-separated, the first is current (encrypts), the
# others only decrypt (rotation: prepend a new key, run `manage.py rotate_pii_keys`, then drop the old one);
# a separate secret keys the HMAC-SHA256 lookup hashes. Dev/test derive defaults from SECRET_KEY; prod
# refuses to start without both.
LOANOPS_PII_KEYS: list[str] = [k.strip() for k in os.environ.get("LOANOPS_PII_KEYS", "").split(",") if k.strip()]
LOANOPS_PII_HASH_KEY = os.environ.get("LOANOPS_PII_HASH_KEY", "")
# A second open application for the same ID number (or USCC): "refuse" (422) or "flag" (shown to staff).
LOANOPS_DUPLICATE_APPLICATION = os.environ.get("LOANOPS_DUPLICATE_APPLICATION", "refuse")
if LOANOPS_DUPLICATE_APPLICATION not in ("refuse", "flag"):
    raise ImproperlyConfigured('LOANOPS_DUPLICATE_APPLICATION must be "refuse" or "flag"')
# Where intake reads the business date (servicing owns it; a dotted path keeps the import layers intact).
LOANOPS_BUSINESS_DATE = "servicing.services.business_date.business_date_get"


def derive_dev_key(secret: str, purpose: str) -> str:
    """A deterministic key for dev/test settings only (never production): urlsafe base64 of 32 bytes."""
    import base64
    import hashlib

    digest = hashlib.sha256(f"loanops-pii:{purpose}:{secret}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


# Risk review (underwriting): what runs as a loan enters risk review, the rule thresholds, stage SLA targets.
LOANOPS_REVIEW_START_HOOKS: list[str] = ["underwriting.risk_services.assessment_on_review_start"]
LOANOPS_RISK_MAX_DTI = "0.55"  # knock-out: monthly debt payments (this loan included) / monthly income above this
LOANOPS_RISK_SERIOUS_DPD = 90  # knock-out: longest overdue in the last 24 months above this many days
LOANOPS_RISK_REPEAT_WINDOW_DAYS = 30  # warning: other applications by the same ID number or phone in this window
LOANOPS_RISK_REPEAT_MIN_OTHERS = 1  # ... at least this many of them
LOANOPS_RISK_INCOME_DEVIATION = "0.3"  # warning: stated income differs from the verified one by more than this
#: hours a loan may stay in a stage before the back-office queues flag it as past its target
LOANOPS_STAGE_SLA_HOURS: dict[str, int] = {
    "submitted": 24,
    "supplement_required": 72,
    "risk_review": 48,
    "approved": 24,
    "offered": 72,
    "contract_pending": 72,
    "contract_signed": 24,
    "disbursement_pending": 24,
}

# --- REST framework ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "loanops.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATE_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LoanOps API",
    "DESCRIPTION": "贷款运营管理系统 API — loan operations for Chinese lenders",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per vocabulary, however many fields use it.
    "ENUM_NAME_OVERRIDES": {
        "LoanStatusEnum": "applications.models.LoanStatus",
        "DocumentTypeEnum": "applications.models.DocumentType",
        "ApplicantTypeEnum": "applications.models.ApplicantType",
        "IndustryEnum": "applications.models.Industry",
        "RepaymentMethodEnum": "loanops.types.RepaymentMethod",
        "ContractStatusEnum": "contracts.models.Contract.Status",
        "RiskClassEnum": "applications.models.RiskClass",
        "RestructuringKindEnum": "servicing.risk_models.Restructuring.Kind",
        "RecoveryChannelEnum": "servicing.risk_models.WriteOffRecovery.Channel",
        "CollectionCaseStatusEnum": "loan_collections.case_models.CaseStatus",
        "CollectionLevelEnum": "loan_collections.case_models.CollectionLevel",
        "CollectionOutcomeEnum": "loan_collections.case_models.CaseOutcome",
        "ContactChannelEnum": "loan_collections.case_models.ContactChannel",
        "RepaymentChannelEnum": "servicing.models.RepaymentChannel",
        "ContactPartyEnum": "loan_collections.case_models.ContactParty",
        "ContactOutcomeEnum": "loan_collections.case_models.ContactOutcome",
        "ContactRelationEnum": "loan_collections.case_models.ContactRelation",
        "PromiseStatusEnum": "loan_collections.case_models.PromiseStatus",
    },
}

# --- Celery ------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A hung or absent broker must fail an enqueue within ~3 s instead of hanging the request.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY = False
CELERY_BROKER_CONNECTION_MAX_RETRIES = 0
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1.5,
    "socket_timeout": 1.5,
    "max_retries": 0,
    "retry_on_timeout": False,
}
CELERY_TASK_PUBLISH_RETRY = False

# --- Email -------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "LoanOps <noreply@loanops.local>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
