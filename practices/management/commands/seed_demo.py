from django.core.management.base import BaseCommand

from practices import demo


class Command(BaseCommand):
    help = "Load a realistic demo practice (idempotent: running it again changes nothing)."

    def handle(self, *args, **opts):
        result = demo.demo_seed()
        verb = "Loaded" if result.created else "Demo data already present for"
        self.stdout.write(f"{verb} {', '.join(p.name for p in result.practices)}.")
        self.stdout.write(f"Demo logins (password for all: {demo.DEMO_PASSWORD}):")
        for email, what in demo.DEMO_LOGINS:
            self.stdout.write(f"  {email:<28} {what}")
