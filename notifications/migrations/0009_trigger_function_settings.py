"""The outbox's trigger functions run without JIT and find recipient keys by index
(see notifications/triggers.py, PG_FUNCTION_SETTINGS)."""

from django.db import migrations

from notifications import triggers


def settings(apps, schema_editor):
    triggers.function_settings(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0008_message_templates_and_tags'),
    ]

    operations = [
        migrations.RunPython(settings, migrations.RunPython.noop, elidable=True),
    ]
