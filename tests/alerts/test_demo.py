"""The demo data set includes applications for Downtown, loaded once."""

import pytest
from django.core.management import call_command

from payments.models import AlertDelivery, Application

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_applications_once_and_alerts_the_downtown_team(capsys):
    call_command("seed_demo")
    states = dict(Application.objects.values_list("external_id", "state"))
    assert states == {"fin-1001": "approved", "fin-1002": "declined", "fin-1003": "prequalified",
                      "fin-1004": "started"}
    alerted = set(AlertDelivery.objects.values_list("alert", "user__email"))
    assert ("declined", "frontdesk@demo.test") in alerted
    assert all(practice == "bright-smiles-downtown"
               for practice in Application.objects.values_list("practice__slug", flat=True))
    call_command("seed_demo")
    assert Application.objects.count() == 4
    assert "4 payment-plan applications" in capsys.readouterr().out
