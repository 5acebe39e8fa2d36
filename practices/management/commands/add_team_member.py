from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from practices.models import Practice, Role
from practices.services import team_invite, team_member_add


class Command(BaseCommand):
    help = ("Add a person to a practice's team with --password; without it, email them an "
            "invitation they accept to join.")

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="the practice's slug")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", default=None)

    def handle(self, *args, **opts):
        practice = Practice.objects.filter(slug=opts["practice"]).first()
        if practice is None:
            raise CommandError(f"No practice with slug {opts['practice']!r}.")
        try:
            validate_email(opts["email"])
            if opts["password"]:
                membership = team_member_add(practice=practice, email=opts["email"],
                                             role=opts["role"], password=opts["password"])
                self.stdout.write(f"{membership.user.email} is {opts['role']} of {practice.slug}")
                return
            invitation = team_invite(practice=practice, email=opts["email"], role=opts["role"],
                                     actor=None)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"invitation emailed to {invitation.email}: they join {practice.slug} "
                          f"as {opts['role']} when they accept it")
