"""A real Celery worker process, on the real Redis broker and the test database."""

import pytest

from notifications.models import SandboxMessage
from practices.services import team_invite
from tests.conftest import wait_for

pytestmark = pytest.mark.worker


def test_worker_delivers_a_team_invite_enqueued_on_commit(world, celery_worker):
    worker = celery_worker()
    team_invite(practice=world.practice_a, email="invitee@example.test", role="staff",
                actor=world.admin_ab)
    message = wait_for(
        lambda: SandboxMessage.objects.filter(to="invitee@example.test").first(),
        timeout=30, message="the invite email")
    assert "Lakeside Dental" in message.subject
    assert "/invites/" in message.body
    assert "practices.tasks.team_invite_send" in worker.log()


def test_worker_runs_the_due_work_task_and_returns_its_result(world, celery_worker):
    from practices.tasks import due_work_run

    celery_worker()
    result = due_work_run.delay()
    summary = result.get(timeout=30)
    assert summary["notifications.dispatch.dispatch_due"]["claimed"] == 0
