from django.core.management import call_command

from notifications.models import Notification, Status
from statements.models import BALANCE_KIND, StatementBatch


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
