# Every message a batch queues or stops writes a status event: the event table keeps the indexes
# something reads. notif_event_idx (notification, created_at) serves every look-up by
# notification, so the notification column's own index goes; the actor's holds only the events
# staff caused (most have none), and the actor has no constraint in the database, whose check
# PostgreSQL queued for every event and ran at commit (Django sets the actor to NULL itself when
# a user is deleted).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0011_idempotency_key_in_c_collation'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='notificationevent',
            name='actor',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='notificationevent',
            name='notification',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='notifications.notification'),
        ),
        migrations.AddIndex(
            model_name='notificationevent',
            index=models.Index(condition=models.Q(('actor__isnull', False)), fields=['actor'], name='notif_event_actor_idx'),
        ),
    ]
