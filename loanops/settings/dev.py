"""Embedded default: SQLite, Celery tasks in-process, console email. For trying LoanOps, not production."""

from .base import *  # noqa: F403
from .base import DEBUG, SECRET_KEY, env_bool

SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-change-me-in-production-0123456789"
DEBUG = env_bool("DEBUG", DEBUG)
ALLOWED_HOSTS = ["*"]
