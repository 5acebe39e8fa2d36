"""The embedded default's database (SQLite): the triggers behind the history's counts and
recipient search, send_due and the due-list sweep work there too. Run in a process of its own
with the embedded profile, on a fresh database."""

SCRIPT = r'''
from collections import Counter
from datetime import timedelta

from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from notifications import triggers
from notifications.counts import notification_counts_compact
from notifications.due import due_list_repair
from notifications.models import Notification, NotificationCount, NotificationDue, Status
from notifications.selectors import Filters, _by_status, notification_list, status_counts
from notifications.services import Recipient, notification_archive, notification_cancel, notification_schedule
from practices.models import Practice

practice = Practice.objects.create(name="Embedded Dental", slug="embedded", time_zone="UTC",
                                   addon_balance_notifications=True)
made = [notification_schedule(practice=practice, recipient=Recipient(kind="patient", id=i, name=f"Pat {i}"),
                              channel="email", address=f"pat{i}@example.test", kind=["a", "b"][i % 2],
                              body="b", idempotency_key=f"e-{i}",
                              send_at=timezone.now() + timedelta(hours=1) if i % 3 == 0 else None)
        for i in range(12)]
notification_cancel(notification=made[0])
notification_archive(notification=made[1])
Notification.objects.filter(pk=made[3].pk).delete()
Notification.objects.filter(pk=made[4].pk).update(created_at=timezone.now() - timedelta(days=3))
NotificationDue.objects.filter(notification=made[6]).delete()  # a waiting row loses its entry
assert due_list_repair() == {"repaired": 1}
call_command("send_due")


def check():
    for view in ("history", "queue", "errors"):
        for filters in (Filters(), Filters(kind="a"), Filters(date_from=timezone.now() - timedelta(days=1)),
                        Filters(recipient="pat 1"), Filters(recipient="PAT5@example.test")):
            shown = +_by_status(notification_list(practice=practice, view=view, filters=filters))
            counted = Counter({c["status"]: c["count"] for c in status_counts(
                practice=practice, view=view, filters=filters) if c["status"]})
            assert counted == shown, (view, filters, counted, shown)


check()
assert Notification.objects.filter(status=Status.SENT).count() == 8  # those due now
found = notification_list(practice=practice, view="history", filters=Filters(recipient="pat 1"))
assert {n.recipient_name for n in found} == {"Pat 1", "Pat 10", "Pat 11"}
# send_due folded the counts' changes (a due-work job); new changes are counted before folding.
assert NotificationCount.objects.exists() and notification_counts_compact() == {"folded": 0}
Notification.objects.filter(pk=made[5].pk).update(archived=True)
check()
assert notification_counts_compact() == {"folded": 2}
check()

# Django rebuilds a SQLite table for many column changes, and the table's triggers go with it:
# after a migration they are made again.
names = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
with connection.schema_editor() as editor:
    editor._remake_table(Notification)
assert connection.cursor().execute(names).fetchall() == []
triggers.sqlite_ensure(connection)
assert len(connection.cursor().execute(names).fetchall()) == 4
Notification.objects.filter(pk=made[2].pk).update(status=Status.DELIVERED)
check()
print("embedded ok")
'''


def test_counts_search_send_due_and_sweep_on_the_embedded_sqlite_database(embedded_manage):
    assert "embedded ok" in embedded_manage("shell", "--verbosity", "0", "-c", SCRIPT)
