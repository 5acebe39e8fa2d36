from django.core.management import call_command
from django.db.models import F

from patients.models import Balance, Patient, Visit


def test_seed_demo_builds_believable_families_once(db, capsys):
    call_command("seed_demo")
    patients = Patient.objects.all()
    counts = (patients.count(), Balance.objects.count(), Visit.objects.count())
    assert 1900 <= counts[0] <= 2100
    guarantors = patients.filter(guarantor_id=F("id"))
    assert 500 < guarantors.count() < counts[0] and not patients.filter(guarantor__isnull=True).exists()
    dependents = patients.exclude(guarantor_id=F("id"))
    assert not dependents.exclude(guarantor__guarantor_id=F("guarantor_id")).exists()  # no chains
    for bucket in ("aging_current", "aging_31_60", "aging_61_90", "aging_91_120", "aging_over_120"):
        assert Balance.objects.filter(**{f"{bucket}__gt": 0}).count() > 20, bucket
    assert 2 <= Balance.objects.filter(in_collections=True).count() <= 4
    assert patients.filter(email="", mobile_phone="", home_phone="").count() > 50
    assert patients.filter(consent_email=False, consent_sms=False, consent_voice=False).count() > 50
    assert patients.filter(do_not_recall=True).count() > 20
    assert counts[2] > counts[0]  # more than one visit for many
    assert {p.practice.slug for p in guarantors.select_related("practice")} == {
        "bright-smiles-downtown", "bright-smiles-northside"}
    call_command("seed_demo")
    assert (patients.count(), Balance.objects.count(), Visit.objects.count()) == counts
    assert "Patients: " in capsys.readouterr().out
