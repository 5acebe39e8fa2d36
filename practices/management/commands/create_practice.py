from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from practices.addons import ADDON_NAMES, addons_parse
from practices.services import practice_create


class Command(BaseCommand):
    help = "Create a practice (an office) and print its slug."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--timezone", required=True, help="IANA name, e.g. America/Chicago")
        parser.add_argument("--slug", default="")
        parser.add_argument("--phone", default="")
        parser.add_argument("--addons", default="", metavar="NAME,NAME",
                            help=f"add-ons to switch on, any of: {','.join(ADDON_NAMES)}")

    def handle(self, *args, **opts):
        try:
            addons = addons_parse(opts["addons"])
            practice = practice_create(name=opts["name"], time_zone=opts["timezone"],
                                       slug=opts["slug"], phone=opts["phone"], addons=addons)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(practice.slug)
