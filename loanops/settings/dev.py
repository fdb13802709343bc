"""Embedded default: SQLite, Celery tasks in-process, console email. For trying LoanOps, not production."""

from .base import *  # noqa: F403
from .base import DEBUG, LOANOPS_PII_HASH_KEY, LOANOPS_PII_KEYS, SECRET_KEY, derive_dev_key, env_bool

SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-change-me-in-production-0123456789"
DEBUG = env_bool("DEBUG", DEBUG)
ALLOWED_HOSTS = ["*"]
LOANOPS_PII_KEYS = LOANOPS_PII_KEYS or [derive_dev_key(SECRET_KEY, "encrypt")]
LOANOPS_PII_HASH_KEY = LOANOPS_PII_HASH_KEY or derive_dev_key(SECRET_KEY, "hash")
