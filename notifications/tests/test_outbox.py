"""The transactional outbox: written with the business change, delivered once by the relay, retried on
failure, and kept (pending) while the broker is down or hung."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from django.core import mail
from django.db import transaction
from django.utils import timezone

from notifications import tasks as notification_tasks
from notifications.channels import LoggingSmsProvider, SmsProvider, sms_provider
from notifications.models import Channel, OutboxMessage, OutboxStatus
from notifications.services import Message, outbox_relay, outbox_retry, outbox_write, outbox_write_many

pytestmark = pytest.mark.django_db


def _email(key: str = "k1", **overrides: Any) -> Message:
    data: dict[str, Any] = {
        "channel": Channel.EMAIL,
        "kind": "test",
        "dedupe_key": key,
        "recipient": "a@example.com",
        "subject": "标题",
        "body": "正文",
        "loan_id": 7,
    }
    data.update(overrides)
    return Message(**data)


def _sms(key: str = "s1", **overrides: Any) -> Message:
    return Message(
        **{"channel": Channel.SMS, "kind": "test", "dedupe_key": key, "recipient": "13800000001", "body": "短信"}
        | overrides
    )


def _make_due() -> None:
    """Time passes: every message waiting for its retry delay becomes due now."""
    OutboxMessage.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


class FlakySms:
    """An SMS gateway that fails its first `failures` sends (class-level, shared by every instance)."""

    failures = 1
    calls: list[str] = []

    def send(self, *, phone: str, text: str) -> str:
        FlakySms.calls.append(phone)
        if FlakySms.failures > 0:
            FlakySms.failures -= 1
            raise ConnectionError("gateway timeout")
        return "ok"


@pytest.mark.django_db(transaction=True)
def test_write_needs_the_business_transaction() -> None:
    with pytest.raises(RuntimeError):
        outbox_write(_email())
    assert OutboxMessage.objects.count() == 0


def test_a_rolled_back_change_leaves_no_message() -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        outbox_write(_email())
        1 / 0  # noqa: B018 - the business change fails after the message was written
    assert OutboxMessage.objects.count() == 0


def test_same_dedupe_key_is_written_once() -> None:
    with transaction.atomic():
        outbox_write_many([_email("x"), _email("x"), _sms("y")])
    with transaction.atomic():
        outbox_write(_email("x", body="又一次"))
    assert OutboxMessage.objects.count() == 2
    assert OutboxMessage.objects.get(dedupe_key="x").body == "正文"


def test_relay_delivers_each_message_once() -> None:
    LoggingSmsProvider.sent.clear()
    with transaction.atomic():
        outbox_write_many([_email("e1"), _sms("s1")])
    result = outbox_relay()
    assert (result.sent, result.retried, result.failed) == (2, 0, 0)
    assert [m.to for m in mail.outbox] == [["a@example.com"]]
    assert [s.phone for s in LoggingSmsProvider.sent] == ["13800000001"]
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {(OutboxStatus.SENT, 1)}
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0
    # A second relay (beat, or another worker) finds nothing to send.
    assert outbox_relay().attempted == 0
    assert len(mail.outbox) == 1 and len(LoggingSmsProvider.sent) == 1


def test_logging_provider_implements_the_interface() -> None:
    assert isinstance(sms_provider(), SmsProvider)


def test_failed_delivery_is_retried_later(settings: Any) -> None:
    settings.LOANOPS_SMS_PROVIDER = f"{__name__}.FlakySms"
    FlakySms.failures, FlakySms.calls = 1, []
    with transaction.atomic():
        outbox_write(_sms("s1"))
    first = outbox_relay()
    assert (first.sent, first.retried) == (0, 1)
    row = OutboxMessage.objects.get()
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert "gateway timeout" in row.last_error
    assert row.next_attempt_at > timezone.now()  # waits for its retry delay
    assert outbox_relay().attempted == 0
    _make_due()
    second = outbox_relay()
    assert second.sent == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, 2, "")
    assert FlakySms.calls == ["13800000001", "13800000001"]


def test_gives_up_after_max_attempts_and_can_be_requeued(settings: Any, manager_user: Any, ops_user: Any) -> None:
    settings.LOANOPS_SMS_PROVIDER = f"{__name__}.FlakySms"
    settings.LOANOPS_OUTBOX_MAX_ATTEMPTS = 2
    FlakySms.failures, FlakySms.calls = 99, []
    with transaction.atomic():
        outbox_write(_sms("s1"))
    outbox_relay()
    _make_due()
    result = outbox_relay()
    assert result.failed == 1
    row = OutboxMessage.objects.get()
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 2)
    _make_due()
    assert outbox_relay().attempted == 0  # failed rows are not retried automatically
    with pytest.raises(Exception, match="权限"):
        outbox_retry(actor=ops_user, message_id=row.pk)
    assert OutboxMessage.objects.get().status == OutboxStatus.FAILED
    FlakySms.failures = 0
    outbox_retry(actor=manager_user, message_id=row.pk)
    assert outbox_relay().sent == 1


def test_one_bad_message_does_not_block_the_batch() -> None:
    with transaction.atomic():
        outbox_write_many([_email("bad", recipient=""), _email("good")])
    result = outbox_relay()
    assert (result.sent, result.retried) == (1, 1)
    assert OutboxMessage.objects.get(dedupe_key="bad").status == OutboxStatus.PENDING
    assert OutboxMessage.objects.get(dedupe_key="good").status == OutboxStatus.SENT


def test_commit_kicks_the_relay_once_per_transaction(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        outbox_write(_email("a"))
        outbox_write(_email("b"))
    assert len(callbacks) == 1
    # Celery runs in-process in the tests: the kick delivered both messages right after the commit.
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 2
    assert len(mail.outbox) == 2


def test_in_app_messages_are_delivered_on_commit(manager_user: Any) -> None:
    with transaction.atomic():
        outbox_write(
            Message(channel=Channel.IN_APP, kind="t", dedupe_key="i", recipient_user_id=manager_user.pk, body="x")
        )
    row = OutboxMessage.objects.get()
    assert row.status == OutboxStatus.SENT and row.sent_at is not None


def test_the_beat_task_runs_the_relay() -> None:
    with transaction.atomic():
        outbox_write(_email())
    assert notification_tasks.outbox_relay.apply().get() == 1
    assert len(mail.outbox) == 1


# --- broker down or hung -------------------------------------------------------------------------

no_broker_configured = pytest.mark.skipif(
    bool(os.environ.get("CELERY_BROKER_URL")), reason="runs without a configured broker"
)


@pytest.fixture
def hung_broker() -> Iterator[str]:
    """A TCP server on loopback that accepts connections and never answers (like a wedged Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def down_broker() -> str:
    """A loopback port with nothing listening (connection refused)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"redis://127.0.0.1:{port}/0"


def _relay_task_on(broker: str) -> Any:
    # The broker given to the constructor takes precedence over CELERY_BROKER_URL; every other option
    # (timeouts, retry policy) comes from the project settings under test (as in tests/test_broker_timeouts).
    app = Celery("outbox-broker-test", broker=broker, set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.task_always_eager = False

    @app.task(name="tests.outbox_relay_on_an_unreachable_broker")
    def relay() -> None:  # pragma: no cover - never executed: the broker never takes the message
        return None

    return relay


@no_broker_configured
@pytest.mark.parametrize("broker_fixture", ["hung_broker", "down_broker"])
def test_broker_down_or_hung_delays_delivery_but_loses_nothing(
    broker_fixture: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(notification_tasks, "outbox_relay", _relay_task_on(request.getfixturevalue(broker_fixture)))
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox_write(_email())
    elapsed = time.monotonic() - started
    assert elapsed < 15, f"the kick hung for {elapsed:.1f}s"
    assert "Could not enqueue" in caplog.text
    row = OutboxMessage.objects.get()
    assert row.status == OutboxStatus.PENDING  # committed and waiting, not lost
    assert mail.outbox == []
    # The broker is back: the next beat relay delivers it, once.
    monkeypatch.undo()
    assert outbox_relay().sent == 1
    assert outbox_relay().attempted == 0
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT
