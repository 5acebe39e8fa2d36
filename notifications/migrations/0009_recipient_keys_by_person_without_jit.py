"""The outbox's trigger functions as notifications/triggers.py writes them now: recipient keys
compared per person, before anything is written, and no JIT or scan of the key table
(PG_FUNCTION_SETTINGS)."""

from django.db import migrations

from notifications import triggers


def recreate(apps, schema_editor):
    triggers.recreate(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0008_message_templates_and_tags'),
    ]

    operations = [
        migrations.RunPython(recreate, migrations.RunPython.noop, elidable=True),
    ]
