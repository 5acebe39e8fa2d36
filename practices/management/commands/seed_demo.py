from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from practices import demo


class Command(BaseCommand):
    help = "Load a realistic demo practice (idempotent: running it again changes nothing)."

    def handle(self, *args, **opts):
        results = [import_string(path)() for path in settings.DEMO_SEEDERS]
        first = results[0]
        verb = "Loaded" if any(r.created for r in results) else "Demo data already present for"
        self.stdout.write(f"{verb} {', '.join(p.name for p in first.practices)}.")
        for result in results[1:]:
            if result.summary:
                self.stdout.write(result.summary)
        self.stdout.write(f"Demo logins (password for all: {demo.DEMO_PASSWORD}):")
        for email, what in demo.DEMO_LOGINS:
            self.stdout.write(f"  {email:<28} {what}")
