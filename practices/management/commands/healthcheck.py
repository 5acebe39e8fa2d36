import json

from django.core.management.base import BaseCommand, CommandError

from config.health import CHECKS, health_report


class Command(BaseCommand):
    help = ("Check the database, the broker and beat's heartbeat (as GET /healthz does); print the "
            "report and exit 1 when a check fails. For container healthchecks.")

    def add_arguments(self, parser):
        parser.add_argument("checks", nargs="*", choices=sorted(CHECKS), metavar="CHECK",
                            help=f"only these ({', '.join(CHECKS)}); all by default")

    def handle(self, *args, checks, **options):
        report = health_report(checks or None)
        self.stdout.write(json.dumps(report))
        if report["status"] != "ok":
            raise CommandError(f"failing: {', '.join(report['failed'])}")
