"""Running everything that is due now: the jobs listed in settings.DUE_WORK, in order.

Each app lists its own job there (claiming due notifications, firing timers), so this module
needs to know none of them.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def due_work_run() -> dict:
    summary = {}
    for path in settings.DUE_WORK:
        job = import_string(path)
        summary[path] = job()
        logger.info("due work %s: %s", path, summary[path])
    return summary
