"""The history's counts and recipient search, kept by the database (see notifications/triggers.py)."""

import django.db.models.deletion
from django.db import migrations, models

from notifications import triggers


def create(apps, schema_editor):
    triggers.create(schema_editor)
    triggers.backfill(schema_editor)


def drop(apps, schema_editor):
    triggers.drop(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0006_due_list_autovacuum'),
        ('practices', '0002_api_key_prefix_is_the_secrets_start'),
    ]

    operations = [
        migrations.CreateModel(
            name='NotificationCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('practice_id', models.BigIntegerField()),
                ('span', models.IntegerField()),
                ('bucket', models.BigIntegerField()),
                ('status', models.CharField(max_length=32)),
                ('channel', models.CharField(max_length=8)),
                ('kind', models.CharField(max_length=40)),
                ('archived', models.BooleanField()),
                ('n', models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name='NotificationCountChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('practice_id', models.BigIntegerField()),
                ('bucket', models.BigIntegerField()),
                ('status', models.CharField(max_length=32)),
                ('channel', models.CharField(max_length=8)),
                ('kind', models.CharField(max_length=40)),
                ('archived', models.BooleanField()),
                ('n', models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name='NotificationRecipient',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('recipient_kind', models.CharField(choices=[('patient', 'Patient'), ('user', 'Team member')], max_length=16)),
                ('recipient_id', models.BigIntegerField()),
                ('key', models.CharField(max_length=260)),
            ],
        ),
        migrations.RemoveIndex(
            model_name='notification',
            name='notif_recipient_sent_idx',
        ),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(fields=['practice', 'recipient_kind', 'recipient_id', 'sent_at'], name='notif_recipient_idx'),
        ),
        migrations.AddConstraint(
            model_name='notificationcount',
            constraint=models.UniqueConstraint(fields=('practice_id', 'span', 'bucket', 'status', 'channel', 'kind', 'archived'), name='notif_count_key'),
        ),
        migrations.AddIndex(
            model_name='notificationcountchange',
            index=models.Index(fields=['practice_id', 'bucket'], name='notif_count_change_idx'),
        ),
        migrations.AddField(
            model_name='notificationrecipient',
            name='practice',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='practices.practice'),
        ),
        migrations.AddIndex(
            model_name='notificationrecipient',
            index=models.Index(fields=['practice', 'recipient_kind', 'recipient_id'], name='notif_recipient_person_idx'),
        ),
        migrations.AddIndex(
            model_name='notificationrecipient',
            index=models.Index(fields=['practice', 'key'], name='notif_recipient_key_idx', opclasses=['', 'varchar_pattern_ops']),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
