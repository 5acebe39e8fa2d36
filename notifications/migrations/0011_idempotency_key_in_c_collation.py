from django.db import migrations

from config.postgresql_only import postgresql_only

# The idempotency key is an identifier ("statement:12:step:3"), never text a person reads: on
# PostgreSQL it is compared byte by byte (collation "C") rather than by the database's locale,
# whose comparisons cost several times more in every unique check and look-up of the key (each
# message queued or stopped by a batch makes one). Equality is the same either way. SQLite
# compares bytes already. The model's field says so: an AlterField of it must keep this.
SQL = 'ALTER TABLE notifications_notification ALTER COLUMN idempotency_key TYPE varchar(200) COLLATE "{}"'


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0010_errors_to_manage_index"),
    ]

    operations = [postgresql_only([SQL.format("C")], [SQL.format("default")])]
