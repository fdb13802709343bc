"""Celery application. Beat schedule lives here, in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loanops.settings.dev")

app = Celery("loanops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    # The outbox relay also runs after every commit that wrote a message; this catches up after a broker outage.
    "notifications-outbox-relay": {"task": "notifications.tasks.outbox_relay", "schedule": 60.0},
}
