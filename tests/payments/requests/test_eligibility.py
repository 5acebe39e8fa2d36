"""Eligibility: each rule alone and combined, the aging categories and the minimum's bounds, and
the explainer, which reads the same rule definitions as the selector."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from payments.bulk_requests.eligibility import RULE_NAMES, eligible_guarantors, explain
from payments.models import CampaignState, PaymentRequestCampaign, Snooze

from .conftest import TODAY, make_dependent, make_guarantor


def _campaign(guarantor, *, started_on, state=CampaignState.FINISHED):
    now = timezone.now()
    return PaymentRequestCampaign.objects.create(practice=guarantor.practice, guarantor=guarantor,
                                                 started_at=now,
                                                 started_on=started_on, state=state, state_at=now)


# Each case makes a guarantor who fails that rule and no other.
FAILING_ONE = {
    "not_on_payment_plan": lambda p: make_guarantor(p, "G-plan", plan=True),
    "owes_more_than_minimum": lambda p: make_guarantor(p, "G-low", total="20.00"),
    "is_guarantor": lambda p: make_dependent(make_guarantor(p, "G-parent"), "G-child"),
    "not_snoozed": lambda p: Snooze.objects.create(
        practice=p, guarantor=make_guarantor(p, "G-snoozed"), until=TODAY + timedelta(days=5),
        reason="claim_not_started").guarantor,
    "no_do_not_recall": lambda p: make_guarantor(p, "G-dnr", do_not_recall=True),
    "no_open_campaign": lambda p: _campaign(make_guarantor(p, "G-open", last_visit=TODAY),
                                            started_on=TODAY - timedelta(days=30),
                                            state=CampaignState.ACTIVE).guarantor,
    "no_campaign_since_visit": lambda p: _campaign(make_guarantor(p, "G-asked", last_visit=date(2026, 4, 1)),
                                                   started_on=date(2026, 5, 2)).guarantor,
    "not_in_collections": lambda p: make_guarantor(p, "G-coll", collections=True),
    "no_outstanding_claims": lambda p: make_guarantor(p, "G-claims", claims=2),
}


@pytest.mark.parametrize("rule", sorted(FAILING_ONE))
def test_each_rule_alone_keeps_a_guarantor_off_and_the_explainer_names_it(desk, rule):
    eligible = make_guarantor(desk.practice, "G-ok", first="Eve")
    patient = FAILING_ONE[rule](desk.practice)
    ids = set(eligible_guarantors(terms=desk.terms()).values_list("pk", flat=True))
    assert eligible.pk in ids and patient.pk not in ids
    explanation = explain(patient=patient, terms=desk.terms())
    assert not explanation.eligible
    assert [r.rule for r in explanation.reasons] == [rule]
    assert explain(patient=eligible, terms=desk.terms()).eligible


def test_every_rule_has_a_case():
    assert set(FAILING_ONE) | {"aging"} == set(RULE_NAMES)


def test_a_guarantor_failing_several_rules_sees_all_of_them_in_words(desk):
    guarantor = make_guarantor(desk.practice, "G-many", plan=True, total="10.00", do_not_recall=True,
                               claims=1,
                               collections=True, last_visit=date(2026, 3, 2))
    Snooze.objects.create(practice=desk.practice, guarantor=guarantor, until=date(2026, 12, 3),
                          reason="claim_not_started")
    _campaign(guarantor, started_on=date(2026, 3, 9))
    desk.settings(request_aging="over_90")
    explanation = explain(patient=guarantor, terms=desk.terms())
    words = {r.rule: r.words for r in explanation.reasons}
    assert set(words) == {"not_on_payment_plan", "owes_more_than_minimum", "aging", "not_snoozed",
                          "no_do_not_recall", "no_campaign_since_visit", "not_in_collections",
                          "no_outstanding_claims"}
    assert words["not_on_payment_plan"] == "on a payment plan in the PMS"
    assert words["not_snoozed"] == "snoozed until Dec 3, 2026: Claim not started"
    assert words["owes_more_than_minimum"] == "owes $10.00, not more than the $25.00 minimum"
    since = words["no_campaign_since_visit"]
    assert "Mar 9, 2026" in since and "Mar 2, 2026" in since
    assert words["no_outstanding_claims"].startswith("1 insurance claim outstanding")
    assert not eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()


@pytest.mark.parametrize(("total", "minimum", "eligible"), [
    ("25.00", 25, False), ("25.01", 25, True), ("15.00", 15, False), ("15.01", 15, True),
    ("250.00", 250, False), ("250.01", 250, True), ("0.00", 15, False), ("-40.00", 15, False),
])
def test_the_minimum_is_a_strict_bound(desk, total, minimum, eligible):
    desk.settings(request_minimum=minimum)
    guarantor = make_guarantor(desk.practice, "G-1", total=total)
    assert eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists() is eligible


@pytest.mark.parametrize(("aging", "buckets", "eligible"), [
    ("current", {}, True),
    ("over_30", {"aging_31_60": "25.00"}, True),  # at least the minimum is that old: bound included
    ("over_30", {"aging_31_60": "24.99"}, False),
    ("over_30", {"aging_31_60": "10.00", "aging_over_120": "15.00"}, True),  # older buckets count
    ("over_60", {"aging_31_60": "99.00"}, False),
    ("over_60", {"aging_61_90": "25.00"}, True),
    ("over_90", {"aging_61_90": "99.00"}, False),
    ("over_90", {"aging_91_120": "12.50", "aging_over_120": "12.50"}, True),
])
def test_the_aging_categories(desk, aging, buckets, eligible):
    desk.settings(request_aging=aging, request_minimum=25)
    guarantor = make_guarantor(desk.practice, "G-1", total="99.00", aging=buckets)
    assert eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists() is eligible
    reasons = [r.rule for r in explain(patient=guarantor, terms=desk.terms()).reasons]
    assert reasons == ([] if eligible else ["aging"])


def test_claims_are_a_rule_only_when_the_practice_leaves_them_out(desk):
    guarantor = make_guarantor(desk.practice, "G-claims", claims=3)
    assert not eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()
    desk.settings(request_include_claims=True)
    assert eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()


def test_a_visit_after_the_last_campaign_makes_the_guarantor_eligible_again(desk):
    guarantor = make_guarantor(desk.practice, "G-1", last_visit=date(2026, 4, 1))
    child = make_dependent(guarantor, "G-1-kid")
    _campaign(guarantor, started_on=date(2026, 5, 2))
    assert not eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()
    child.last_visit_on = date(2026, 5, 2)  # same day as the campaign: not after it
    child.save()
    assert not eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()
    child.last_visit_on = date(2026, 5, 20)  # anyone on the account visiting later counts
    child.save()
    assert eligible_guarantors(terms=desk.terms()).filter(pk=guarantor.pk).exists()


def test_a_dependent_is_explained_through_the_account(desk):
    guarantor = make_guarantor(desk.practice, "G-1", first="Ana", plan=True)
    child = make_dependent(guarantor, "G-1-kid")
    explanation = explain(patient=child, terms=desk.terms())
    assert [r.rule for r in explanation.reasons] == ["is_guarantor"]
    assert "Ana Reyes" in explanation.reasons[0].words
    assert [r.rule for r in explanation.account.reasons] == ["not_on_payment_plan"]


def test_a_guarantor_without_a_balance_is_told_so_once(desk):
    guarantor = make_guarantor(desk.practice, "G-1", balance=False)
    explanation = explain(patient=guarantor, terms=desk.terms())
    assert [(r.rule, r.words) for r in explanation.reasons] == [("owes_more_than_minimum",
                                                                 "no balance from the PMS")]


def test_another_practices_patients_are_never_eligible_here(desk, world):
    other = make_guarantor(world.practice_c, "C-1")
    assert not eligible_guarantors(terms=desk.terms()).filter(pk=other.pk).exists()
    with pytest.raises(other.DoesNotExist):
        explain(patient=other, terms=desk.terms())
