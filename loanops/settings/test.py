"""Test settings: whatever DATABASE_URL / CELERY_BROKER_URL name (the test command starts PostgreSQL and Redis)."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import BASE_DIR, LOANOPS_PII_HASH_KEY, LOANOPS_PII_KEYS, derive_dev_key

SECRET_KEY = "test-only-key-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("TEST_EMAIL_FILE_PATH", tempfile.gettempdir())
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="loanops-test-media-"))
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="loanops-test-static-"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests run tasks in-process unless a test deliberately talks to the real broker (and the workers a test
# starts, e.g. bench cob --workers, are told CELERY_TASK_ALWAYS_EAGER=0).
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "1") != "0"
CELERY_TASK_EAGER_PROPAGATES = True
LANGUAGE_CODE = "zh-hans"
_ = BASE_DIR
LOANOPS_PII_KEYS = LOANOPS_PII_KEYS or [derive_dev_key(SECRET_KEY, "encrypt")]
LOANOPS_PII_HASH_KEY = LOANOPS_PII_HASH_KEY or derive_dev_key(SECRET_KEY, "hash")
