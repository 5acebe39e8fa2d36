"""The demo data set: two offices of one group practice and a team with a persona per role."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Membership, Practice, Role

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - the embedded demo's published password
DEMO_LOGINS = [
    ("admin@demo.test", "admin of both offices"),
    ("frontdesk@demo.test", "staff, Downtown only"),
    ("billing@demo.test", "staff, Downtown and Northside"),
]
_OFFICES = [
    ("Bright Smiles Dental - Downtown", "bright-smiles-downtown", "America/Chicago",
     "+13125550142", "200 W Madison St\nChicago, IL 60606"),
    ("Bright Smiles Dental - Northside", "bright-smiles-northside", "America/Chicago",
     "+17735550187", "4400 N Broadway\nChicago, IL 60640"),
]


@dataclass
class DemoResult:
    """What a demo seeder did: every seeder in settings.DEMO_SEEDERS returns one."""

    practices: list
    created: bool
    summary: str = ""


@transaction.atomic
def demo_seed() -> DemoResult:
    User = get_user_model()
    practices, created = [], False
    for name, slug, tz, phone, address in _OFFICES:
        practice, was_created = Practice.objects.get_or_create(slug=slug, defaults={
            "name": name, "time_zone": tz, "phone": phone, "address": address,
            "addon_balance_notifications": True, "addon_voice": slug.endswith("downtown"),
            "addon_on_demand": True, "addon_online_payments": True})
        practices.append(practice)
        created |= was_created
    downtown, northside = practices
    people = {
        "admin@demo.test": ("Alex Admin", [(downtown, Role.ADMIN), (northside, Role.ADMIN)]),
        "frontdesk@demo.test": ("Fran Frontdesk", [(downtown, Role.STAFF)]),
        "billing@demo.test": ("Bo Billing", [(downtown, Role.STAFF), (northside, Role.STAFF)]),
    }
    for email, (full_name, roles) in people.items():
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD,
                                            full_name=full_name)
            created = True
        for practice, role in roles:
            Membership.objects.get_or_create(user=user, practice=practice,
                                             defaults={"role": role})
    return DemoResult(practices=practices, created=created)
