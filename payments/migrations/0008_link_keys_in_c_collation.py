from django.db import migrations

from config.postgresql_only import postgresql_only

# A link's token digest and its message's idempotency key are identifiers: on PostgreSQL they
# are compared byte by byte (collation "C", as notifications_notification.idempotency_key is)
# rather than by the database's locale, which costs several times more in the unique checks
# of every link stored (a statement batch stores one per message). Equality is the same either
# way; SQLite compares bytes already. The model's fields say so: an AlterField must keep this.
COLUMNS = (("token_hash", 64), ("notification_key", 200))
SQL = 'ALTER TABLE payments_quickpaylink ALTER COLUMN {} TYPE varchar({}) COLLATE "{}"'


def _alter(collation: str) -> list[str]:
    return [SQL.format(column, length, collation) for column, length in COLUMNS]


class Migration(migrations.Migration):

    dependencies = [
        ("payments", "0007_analytics_attribution"),
    ]

    operations = [postgresql_only(_alter("C"), _alter("default"))]
