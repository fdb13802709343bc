"""Celery application. Beat schedule lives here, in one place."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loanops.settings.dev")

app = Celery("loanops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    # Close of business (日终批处理) for the new day, catching up missed dates (loan_collections.cob.runner).
    "close-of-business": {
        "task": "loan_collections.tasks.cob_beat",
        "schedule": crontab(hour=0, minute=5),  # CELERY_TIMEZONE = Asia/Shanghai
    },
    # The outbox relay also runs after every commit that wrote a message; this catches up after a broker outage.
    "notifications-outbox-relay": {"task": "notifications.tasks.outbox_relay", "schedule": 60.0},
}
