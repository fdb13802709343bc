"""A real Celery worker, on the real Redis broker, executes the stage-change notification task."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from applications.models import Customer, Loan, Product
from applications.services import loan_submit
from loanops.celery import app as celery_app

BROKER = os.environ.get("CELERY_BROKER_URL", "")

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(
        not BROKER.startswith("redis"), reason="needs a real Redis broker (the test command starts one)"
    ),
]


@pytest.fixture
def worker(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("the worker process must share the test database (PostgreSQL)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "loanops.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "TEST_EMAIL_FILE_PATH": str(tmp_path),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "loanops",
            "worker",
            "--pool=solo",
            "-l",
            "warning",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield tmp_path
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_real_worker_executes_stage_notification(worker) -> None:  # type: ignore[no-untyped-def]
    mail_dir = worker
    ops = get_user_model().objects.create_user(username="ops-celery", password="x" * 12, is_staff=True)
    ops.groups.add(Group.objects.get(name="ops"))
    product = Product.objects.create(
        code="celery",
        name="测试产品",
        applicant_type="individual",
        min_amount=Decimal("1000"),
        max_amount=Decimal("50000"),
        min_term_months=3,
        max_term_months=24,
        min_rate=Decimal("0.05"),
        max_rate=Decimal("0.2"),
        required_documents=[],  # nothing to upload: the test is about the worker, not intake
    )
    customer = Customer.objects.create(
        kind="individual", name="李四", phone="13900000001", industry="F", email="lisi@example.com"
    )
    loan = Loan.objects.create(
        customer=customer,
        product=product,
        requested_amount=Decimal("5000"),
        requested_term_months=12,
        purpose="装修",
        repayment_source="工资收入",
        reference="LNCELERY0001",
    )
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        loan_submit(actor=ops, loan_id=loan.pk, reason="客户提交")
    finally:
        celery_app.conf.task_always_eager = previous
    deadline = time.monotonic() + 60
    messages: list[Path] = []
    while time.monotonic() < deadline and not messages:
        messages = list(mail_dir.glob("*.log"))
        time.sleep(0.3)
    assert messages, "the worker did not send the notification within 60 s"
    body = messages[0].read_text(encoding="utf-8")
    assert "LNCELERY0001" in body
    assert "lisi@example.com" in body
