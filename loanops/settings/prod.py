"""Production: PostgreSQL, Redis broker, secure cookies. SECRET_KEY, DATABASE_URL and the PII keys must be set."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL, DATABASES, LOANOPS_PII_HASH_KEY, LOANOPS_PII_KEYS, SECRET_KEY, env_bool


def _check_fernet_keys(keys: list[str]) -> None:
    from cryptography.fernet import Fernet

    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except ValueError as exc:
            message = f"LOANOPS_PII_KEYS[{index}] is not a Fernet key (32 url-safe base64 bytes)"
            raise ImproperlyConfigured(message) from exc


if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in production")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Production runs on PostgreSQL: set DATABASE_URL=postgres://…")
if not CELERY_BROKER_URL:
    raise ImproperlyConfigured("Production needs CELERY_BROKER_URL (Redis)")
if not LOANOPS_PII_KEYS:
    raise ImproperlyConfigured("LOANOPS_PII_KEYS must be set in production (comma-separated Fernet keys)")
if not LOANOPS_PII_HASH_KEY:
    raise ImproperlyConfigured("LOANOPS_PII_HASH_KEY must be set in production (the lookup-hash secret)")
_check_fernet_keys(LOANOPS_PII_KEYS)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
