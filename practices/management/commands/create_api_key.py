from django.core.management.base import BaseCommand, CommandError

from practices.models import ApiKey, Practice
from practices.services import api_key_create, api_key_revoke


class Command(BaseCommand):
    help = ("Create an API key for a practice; the secret is printed on the last line, once. "
            "With --revoke PREFIX, revoke a key instead.")

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="the practice's slug")
        parser.add_argument("--label", default="")
        parser.add_argument("--revoke", metavar="PREFIX", default=None,
                            help="revoke the practice's key that starts with PREFIX")

    def handle(self, *args, **opts):
        practice = Practice.objects.filter(slug=opts["practice"]).first()
        if practice is None:
            raise CommandError(f"No practice with slug {opts['practice']!r}.")
        if opts["revoke"]:
            keys = list(ApiKey.objects.filter(practice=practice, prefix=opts["revoke"][:10]))
            if len(keys) != 1:
                raise CommandError(
                    f"No single key of {practice.slug} starts with {opts['revoke']!r}.")
            api_key_revoke(api_key=keys[0])
            self.stdout.write(f"revoked {keys[0].prefix}")
            return
        key, secret = api_key_create(practice=practice, label=opts["label"])
        self.stdout.write(f"Created key {key.prefix}… for {practice.slug}. "
                          "Store it now; it is not shown again:")
        self.stdout.write(secret)
