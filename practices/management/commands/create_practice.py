from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from practices.services import practice_create


class Command(BaseCommand):
    help = "Create a practice (an office) and print its slug."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--timezone", required=True, help="IANA name, e.g. America/Chicago")
        parser.add_argument("--slug", default="")
        parser.add_argument("--phone", default="")

    def handle(self, *args, **opts):
        try:
            practice = practice_create(name=opts["name"], time_zone=opts["timezone"],
                                       slug=opts["slug"], phone=opts["phone"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(practice.slug)
