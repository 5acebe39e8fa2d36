import re
from datetime import UTC, datetime

import time_machine
from django.core import mail
from django.core.management import call_command

from notifications.dispatch import drain_inline
from notifications.models import Notification, ReasonCode, SandboxMessage, Status
from patients.models import Patient
from payments.models import Payment
from payments.quickpay import quickpay_link_find
from statements.models import BALANCE_KIND, StatementBatch
from tests.payments.conftest import pay_form


def test_seed_demo_adds_two_batches_per_office_once(db, capsys):
    call_command("seed_demo")
    batches = StatementBatch.objects.order_by("practice__slug", "received_at")
    assert batches.count() == 4
    old, recent = batches[0], batches[1]
    assert (recent.received_at - old.received_at).days == 30
    assert recent.profile.slug == "due-date-reminders" and old.profile.slug == "standard"
    balance = Notification.objects.filter(kind=BALANCE_KIND)
    assert balance.filter(status=Status.DELIVERED).count() > 100
    assert balance.filter(status=Status.UNDELIVERABLE_PERMANENT).exists()
    assert balance.filter(status=Status.QUEUED, tag=recent.tag).count() > 100
    rows = balance.count()
    call_command("seed_demo")
    assert StatementBatch.objects.count() == 4 and balance.count() == rows
    assert "Statement batches: 4" in capsys.readouterr().out


@time_machine.travel(datetime(2026, 11, 3, 16, 0, tzinfo=UTC), tick=False)  # 10:00 in Chicago
def test_the_demo_dunning_text_links_to_quickpay_which_pays_and_stops_the_dunning(db, client, capsys,
                                                                                    settings):
    call_command("seed_demo")
    [url] = re.findall(r"links to (\S+/p/[A-Za-z0-9_-]{22})", capsys.readouterr().out)
    text = Notification.objects.get(kind=BALANCE_KIND, channel="sms", body__contains=url)
    link = quickpay_link_find(token=url.rsplit("/", 1)[1])
    assert (link.notification_key, link.source, link.channel) == (text.idempotency_key, "statement", "sms")
    guarantor = Patient.objects.select_related("balance").get(pk=text.recipient_id)
    drain_inline()
    text.refresh_from_db()
    assert text.status == Status.SENT and SandboxMessage.objects.filter(body__contains=url).exists()
    rest = Notification.objects.filter(recipient_id=guarantor.pk, kind=BALANCE_KIND, status=Status.QUEUED)
    assert rest.exists()  # the dunning still to come
    waiting = list(rest.values_list("pk", flat=True))

    call_command("seed_demo")
    assert url in capsys.readouterr().out  # printed again, nothing brought forward twice
    path = url.removeprefix(settings.PUBLIC_BASE_URL)
    started = client.post(path, pay_form(client.get(path), choice="full"))
    done = client.post(started["Location"], {"card_number": "4242424242424242", "expiry": "12/39",
                                             "cvc": "123", "email": "demo.payer@example.test"})
    assert done.status_code == 302 and Payment.objects.get().status == "succeeded"
    guarantor.balance.refresh_from_db()
    assert guarantor.balance.total == 0
    assert set(Notification.objects.filter(pk__in=waiting).values_list("status", "reason_code")) == {
        (Status.WILL_NOT_SEND, ReasonCode.BALANCE_PAID)}
    drain_inline()
    receipt = Notification.objects.get(kind="payment_receipt")
    assert (receipt.address, receipt.status) == ("demo.payer@example.test", Status.SENT)
    assert any(m.to == ["demo.payer@example.test"] for m in mail.outbox)
