from django.core.management.base import BaseCommand

from practices.due_work import due_work_run_here


def _describe(summary) -> str:
    if not isinstance(summary, dict):
        return str(summary)
    return ", ".join(f"{name.replace('_', ' ')} {_describe(value)}" for name, value in summary.items())


class Command(BaseCommand):
    help = ("Run everything that is due now once, in this process (timers, due messages, reclaims, "
            "repairs), print what came of it, then exit. Needs no Celery worker.")

    def handle(self, *args, **opts):
        summary, outcomes = due_work_run_here()
        for job, result in summary.items():
            self.stdout.write(f"{job}: {_describe(result)}")
        # Each job counts the outcomes of its work (the outbox: sent, failed, refused, waiting).
        self.stdout.write("outcomes: " + (_describe(dict(outcomes)) if outcomes else "nothing to do"))
