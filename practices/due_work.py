"""Running everything that is due now: the jobs listed in settings.DUE_WORK, in order.

Each app lists its own job there (claiming due notifications, firing timers), so this module
needs to know none of them.

Two ways to run them. Beat runs them on the worker every minute (`due_work_run`), and a job may
hand its work to the worker's queue (the notifications job enqueues chunks of messages).
`manage.py send_due` runs them in its own process (`due_work_run_here`): a job then finishes
its work before it returns, so one run does everything due even where no worker runs, and the
jobs count what came of it in the run's outcomes (messages sent, refused, ...).
"""

import logging
from collections import Counter
from contextvars import ContextVar

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

_outcomes: ContextVar[Counter | None] = ContextVar("due_work_outcomes", default=None)


def in_process_outcomes() -> Counter | None:
    """The outcome counter of the `send_due` run under way in this process, or None when the
    jobs run under beat (where work may go to the worker)."""
    return _outcomes.get()


def due_work_run() -> dict:
    summary = {}
    for path in settings.DUE_WORK:
        job = import_string(path)
        summary[path] = job()
        logger.info("due work %s: %s", path, summary[path])
    return summary


def due_work_run_here() -> tuple[dict, Counter]:
    """Run the jobs with all of their work done in this process; return their summaries and the
    run's outcomes."""
    outcomes = Counter()
    token = _outcomes.set(outcomes)
    try:
        return due_work_run(), outcomes
    finally:
        _outcomes.reset(token)
