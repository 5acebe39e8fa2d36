from django.db import migrations

from config.postgresql_only import postgresql_only

# Every claim and every task leaves dead entries in the due list (the claim moves due_at, the
# task deletes): vacuum it after a thousand changes instead of after a fifth of the table, so
# the claim's index scan does not step over a large drain's leftovers for long.
TUNE = ("ALTER TABLE notifications_notificationdue SET (autovacuum_vacuum_scale_factor = 0, "
        "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05)")
RESET = ("ALTER TABLE notifications_notificationdue RESET (autovacuum_vacuum_scale_factor, "
         "autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor)")


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0005_notification_due_list"),
    ]

    operations = [postgresql_only([TUNE], [RESET])]
