"""The day's list made at the practice's hour by due work, and snoozes: by date, un-snoozed, and
tied to claims that the PMS reports settled."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from patients.services import patients_bulk_upsert
from payments.bulk_requests.eligibility import eligible_guarantors
from payments.bulk_requests.snoozes import snooze_create, snooze_end
from payments.models import RequestList, RequestListEntry, Snooze, SnoozeEnd
from practices.due_work import due_work_run

from .conftest import TODAY, make_guarantor, settings_form
from .test_send import _record


def test_the_list_is_made_at_the_practices_hour_by_the_due_work_once(desk, daytime):
    desk.settings(request_list_hour=7)
    big = make_guarantor(desk.practice, "G-big", total="900.00")
    small = make_guarantor(desk.practice, "G-small", total="30.00")
    make_guarantor(desk.practice, "G-plan", plan=True)
    daytime.move_to(datetime(2026, 6, 10, 11, 30, tzinfo=UTC))  # 06:30 in Chicago
    due_work_run()
    [row] = RequestList.objects.all()
    assert (row.day, row.made_at) == (TODAY, None)
    assert row.due_at == datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # 07:00 CDT, a row with a due time
    daytime.move_to(datetime(2026, 6, 10, 12, 0, 30, tzinfo=UTC))
    due_work_run()
    due_work_run()  # runs twice, makes once
    row.refresh_from_db()
    assert row.made_at is not None and row.size == 2
    assert list(RequestListEntry.objects.order_by("position").values_list("guarantor_id", "position")) == [
        (big.pk, 1), (small.pk, 2)]
    # The next day has its own list.
    daytime.move_to(datetime(2026, 6, 11, 12, 1, tzinfo=UTC))
    due_work_run()
    assert RequestList.objects.filter(day=TODAY + timedelta(days=1), made_at__isnull=False).count() == 1


def test_changing_the_hour_moves_a_list_not_made_yet(desk, daytime, client_of, world):
    daytime.move_to(datetime(2026, 6, 10, 10, 0, tzinfo=UTC))  # 05:00 in Chicago
    due_work_run()
    client = client_of(world.admin_ab, office="lakeside")
    response = client.post("/payments/settings/", settings_form(desk.practice, request_list_hour="9"))
    assert response.status_code == 302
    assert RequestList.objects.get().due_at == datetime(2026, 6, 10, 14, 0, tzinfo=UTC)


def test_a_list_is_only_planned_for_offices_with_online_payments(desk, world, daytime):
    due_work_run()
    assert set(RequestList.objects.values_list("practice_id", flat=True)) == {desk.practice.pk}


def test_snooze_and_unsnooze_and_coming_back_by_date(desk, daytime):
    guarantor = make_guarantor(desk.practice, "G-1")
    result = snooze_create(practice=desk.practice, actor=desk.world.staff_a, guarantor_ids=[guarantor.pk],
                           until=TODAY + timedelta(days=2), reason="hsa_card")
    assert result.snoozed == 1
    assert not eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()
    # Snoozing again replaces the snooze: one standing.
    snooze_create(practice=desk.practice, actor=desk.world.staff_a, guarantor_ids=[guarantor.pk],
                  until=TODAY + timedelta(days=1), reason="other", note="called, pays Friday")
    assert Snooze.objects.filter(ended_at__isnull=True).count() == 1
    assert Snooze.objects.get(ended_reason=SnoozeEnd.REPLACED).reason == "hsa_card"
    # The re-enroll date: back on the list by themselves that day.
    daytime.move_to(datetime(2026, 6, 11, 15, 0, tzinfo=UTC))
    assert eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()
    # Un-snooze ends one at once.
    snooze_create(practice=desk.practice, actor=desk.world.staff_a, guarantor_ids=[guarantor.pk],
                  until=date(2026, 7, 1), reason="adjustment")
    assert not eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()
    assert snooze_end(practice=desk.practice, actor=desk.world.staff_a, guarantor_ids=[guarantor.pk]) == 1
    assert eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()


def test_snoozed_guarantors_stay_on_the_list_and_are_pending_when_unsnoozed(desk, client_of, world):
    guarantor = make_guarantor(desk.practice, "G-1")
    snooze_create(practice=desk.practice, actor=world.staff_a, guarantor_ids=[guarantor.pk],
                  until=TODAY + timedelta(days=9), reason="personal")
    desk.make_list()
    client = client_of(world.staff_a)
    snoozed = client.get("/payments/requests/?tab=snoozed")
    assert [r.guarantor.pk for r in snoozed.context["page"].rows] == [guarantor.pk]
    assert client.get("/payments/requests/?tab=pending").context["page"].rows == []
    client.post("/payments/requests/unsnooze/", {"ids": [guarantor.pk]})
    assert [r.guarantor.pk for r in client.get("/payments/requests/").context["page"].rows] == [guarantor.pk]


@pytest.mark.parametrize(("until", "field"), [
    (TODAY, "until"), (TODAY - timedelta(days=1), "until"), (TODAY + timedelta(days=367), "until"),
    (date(9999, 12, 31), "until"), (date(1, 1, 1), "until"),
])
def test_a_snooze_date_must_be_after_today_and_within_a_year(desk, until, field):
    guarantor = make_guarantor(desk.practice, "G-1")
    with pytest.raises(ValidationError) as refused:
        snooze_create(practice=desk.practice, actor=None, guarantor_ids=[guarantor.pk], until=until,
                      reason="hsa_card")
    assert field in refused.value.message_dict


def test_a_claim_tied_snooze_ends_when_the_pms_reports_the_claims_settled(desk, daytime):
    patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", "100.00", claims=2),
                                                        _record("G-2", "80.00", mobile="(312) 555-0143")])
    desk.settings(request_include_claims=True)
    from patients.models import Patient

    waiting, plain = Patient.objects.get(external_id="G-1"), Patient.objects.get(external_id="G-2")
    result = snooze_create(practice=desk.practice, actor=None, guarantor_ids=[waiting.pk, plain.pk],
                           until=None,
                           reason="claim_resubmit")
    assert (result.snoozed, result.without_claims) == (1, 1)  # G-2 has no claims to wait for
    desk.settings(request_include_claims=False)
    request_list = desk.make_list()
    assert not RequestListEntry.objects.filter(request_list=request_list, guarantor=waiting).exists()
    # One claim settles: still snoozed.
    patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", "100.00", claims=1)])
    assert Snooze.objects.get(guarantor=waiting).ended_at is None
    # All settle: the snooze ends and the guarantor joins today's list, pending.
    patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", "100.00", claims=0)])
    snooze = Snooze.objects.get(guarantor=waiting)
    assert (snooze.ended_reason, snooze.ended_at is not None) == ("claims_settled", True)
    assert RequestListEntry.objects.filter(request_list=request_list, guarantor=waiting).exists()
    assert eligible_guarantors(terms=desk.terms()).filter(pk=waiting.pk).exists()


def test_a_dated_snooze_is_not_ended_by_settled_claims(desk):
    patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", "100.00", claims=1)])
    from patients.models import Patient

    guarantor = Patient.objects.get(external_id="G-1")
    snooze_create(practice=desk.practice, actor=None, guarantor_ids=[guarantor.pk],
                  until=TODAY + timedelta(days=4),
                  reason="claim_not_started")
    patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", "100.00", claims=0)])
    assert Snooze.objects.get().ended_at is None


def test_snoozing_another_practices_guarantor_does_nothing(desk, world):
    other = make_guarantor(world.practice_c, "C-1")
    result = snooze_create(practice=desk.practice, actor=None, guarantor_ids=[other.pk],
                           until=TODAY + timedelta(days=3),
                           reason="hsa_card")
    assert result.snoozed == 0 and not Snooze.objects.exists()
    with time_machine.travel(datetime(2026, 6, 10, 15, 0, tzinfo=UTC)):
        assert snooze_end(practice=desk.practice, actor=None, guarantor_ids=[other.pk]) == 0
