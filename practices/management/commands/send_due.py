from django.core.management.base import BaseCommand

from practices.due_work import due_work_run


class Command(BaseCommand):
    help = "Run everything that is due now once (timers, queued sends, reclaims), then exit."

    def handle(self, *args, **opts):
        summary = due_work_run()
        if not summary:
            self.stdout.write("nothing is due")
        for job, result in summary.items():
            self.stdout.write(f"{job}: {result}")
