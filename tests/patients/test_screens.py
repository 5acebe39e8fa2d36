"""Patient list, patient dashboard and guarantor dashboard, through their URLs."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from patients import selectors
from patients.models import Patient
from patients.services import patients_bulk_upsert
from tests.patients.records import family

pytestmark = pytest.mark.django_db


@pytest.fixture
def families(world):
    records = family("F1")
    records += family("F2", balance_total="40.00")
    records[5].update(last_name="Okafor", mobile_phone="(312) 555-0111", email="ana.okafor@example.test")
    records[5]["balance"]["in_collections"] = True
    records[5]["balance"]["aging"] = {"current": "40.00"}
    records[3]["last_name"] = records[4]["last_name"] = "Okafor"
    records.append({"external_id": "NC", "first_name": "Nia", "last_name": "Nocontact",
                    "do_not_recall": True})
    result = patients_bulk_upsert(practice=world.practice_a, items=records)
    assert not result.rejected
    patients_bulk_upsert(practice=world.practice_c, items=family("F1"))
    return {p.external_id: p for p in Patient.objects.filter(practice=world.practice_a)}


def _names(response):
    return [p.external_id for p in response.context["patients"]]


def test_search_by_name_phone_email_and_external_id(client_of, world, families):
    client = client_of(world.staff_a)
    url = reverse("patients")
    assert set(_names(client.get(url, {"q": "reyes"}))) == {"F1-g", "F1-kid1", "F1-kid2"}
    assert _names(client.get(url, {"q": "ana rey"})) == ["F1-g"]
    assert set(_names(client.get(url, {"q": "312-555-0142"}))) == {"F1-g"}
    assert set(_names(client.get(url, {"q": "ANA.REYES@example.test"}))) == {"F1-g"}
    assert _names(client.get(url, {"q": "F2-kid1"})) == ["F2-kid1"]
    assert _names(client.get(url, {"q": "nobody-like-this"})) == []
    # Office C's copy of the same family never shows in office A.
    assert len(_names(client.get(url))) == 7


def test_filters_by_balance_aging_guarantor_and_flags(client_of, world, families):
    client = client_of(world.staff_a)
    url = reverse("patients")
    assert set(_names(client.get(url, {"guarantors_only": "on"}))) == {"F1-g", "F2-g", "NC"}
    assert _names(client.get(url, {"balance_min": "100"})) == ["F1-g"]
    assert _names(client.get(url, {"balance_max": "50"})) == ["F2-g"]
    assert _names(client.get(url, {"aging": "over_120"})) == ["F1-g"]
    assert _names(client.get(url, {"flag": "in_collections"})) == ["F2-g"]
    assert set(_names(client.get(url, {"flag": "no_contact"}))) == {"NC", "F1-kid1", "F1-kid2", "F2-kid1",
                                                                    "F2-kid2"}
    assert _names(client.get(url, {"flag": "do_not_recall"})) == ["NC"]
    bad = client.get(url, {"balance_min": "lots", "flag": "nonsense"})
    assert bad.status_code == 200 and len(_names(bad)) == 7  # bad filters are shown and ignored
    assert "Enter a number" in bad.content.decode()


def test_keyset_pages_follow_name_order_without_names_in_the_url(client_of, world, families):
    client = client_of(world.staff_a)
    url = reverse("patients")
    first = client.get(url, {"q": ""})
    ordered = [p.pk for p in sorted(families.values(), key=lambda p: (p.last_name, p.first_name, p.pk))]
    rows, after = selectors.patient_page(practice=world.practice_a, filters=selectors.PatientFilters(),
                                         size=3)
    assert [p.pk for p in rows] == ordered[:3] and after == ordered[2]
    rows2, after2 = selectors.patient_page(practice=world.practice_a, filters=selectors.PatientFilters(),
                                           after=after, size=3)
    assert [p.pk for p in rows2] == ordered[3:6]
    rows3, after3 = selectors.patient_page(practice=world.practice_a, filters=selectors.PatientFilters(),
                                           after=after2, size=3)
    assert [p.pk for p in rows3] == ordered[6:] and after3 is None
    assert first.status_code == 200


def test_the_search_form_posts_and_its_pages_carry_the_term_in_the_body_not_the_url(
        client_of, world, families, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    client = client_of(world.staff_a)
    url = reverse("patients")
    page = client.get(url).content.decode()
    assert f'method="post" action="{url}" role="search"' in page
    first = client.post(url, {"q": "okafor"})
    assert len(_names(first)) == 2
    body = first.content.decode()
    # The next page is a form: the term travels in its body, and no link holds it.
    assert 'name="q" value="okafor"' in body and 'name="after"' in body
    assert not [href for href in re.findall(r'(?:href|hx-get|hx-post|action)="([^"]*)"', body)
                if "okafor" in href.lower()]
    after = first.context["next_after"]
    second = client.post(url, {"q": "okafor", "after": after})
    assert set(_names(first)) | set(_names(second)) == {"F2-kid1", "F2-kid2", "F2-g"}
    assert not set(_names(first)) & set(_names(second))


def test_filter_pages_without_a_term_are_plain_links_that_keep_the_filters(client_of, world, families,
                                                                          monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    client = client_of(world.staff_a)
    first = client.post(reverse("patients"), {"flag": "no_contact"})
    body = first.content.decode()
    assert f'href="/patients/?flag=no_contact&amp;after={first.context["next_after"]}"' in body
    second = client.get(reverse("patients"), {"flag": "no_contact", "after": first.context["next_after"]})
    assert len(_names(second)) == 2 and not set(_names(first)) & set(_names(second))


def test_htmx_search_returns_only_the_results_partial(client_of, world, families):
    client = client_of(world.staff_a)
    partial = client.get(reverse("patients"), {"q": "okafor"}, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="patient-results">') and "<html" not in partial
    full = client.get(reverse("patients"), {"q": "okafor"}).content.decode()
    assert "<html" in full and 'id="patient-results"' in full


def test_patient_dashboard_shows_contacts_consents_account_balance_and_visits(client_of, world, families):
    client = client_of(world.staff_a)
    kid = families["F1-kid1"]
    page = client.get(reverse("patient_detail", args=[kid.pk])).content.decode()
    assert "Mia Reyes" in page and "2026-01-10" in page
    assert "250.00" in page  # the guarantor's balance
    assert reverse("guarantor_detail", args=[families["F1-g"].pk]) in page
    assert 'data-testid="history-panel"' in page
    guarantor = client.get(reverse("patient_detail", args=[families["F1-g"].pk])).content.decode()
    assert "(312) 555-0142" in guarantor and "texts: yes" in guarantor
    nocontact = client.get(reverse("patient_detail", args=[families["NC"].pk])).content.decode()
    assert "No contact details" in nocontact and "do not recall" in nocontact


def test_guarantor_dashboard_lists_the_account_and_refuses_dependents(client_of, world, families):
    client = client_of(world.staff_a)
    response = client.get(reverse("guarantor_detail", args=[families["F1-g"].pk]))
    page = response.content.decode()
    assert [p.external_id for p in response.context["dependents"]] == ["F1-g", "F1-kid2", "F1-kid1"]
    assert response.context["balance"].aging_over_120 == Decimal("50.00")
    assert "Statements and notifications" in page
    assert client.get(reverse("guarantor_detail", args=[families["F1-kid1"].pk])).status_code == 404


def test_another_practices_patients_are_404(client_of, world, families):
    c_client = client_of(world.staff_c)
    assert c_client.get(reverse("patient_detail", args=[families["F1-g"].pk])).status_code == 404
    assert c_client.get(reverse("guarantor_detail", args=[families["F1-g"].pk])).status_code == 404
    assert "Reyes" in c_client.get(reverse("patients")).content.decode()  # C's own copy


def test_a_search_too_long_to_apply_is_refused_on_the_form_and_kept_out_of_every_link(
        client_of, world, families, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    client = client_of(world.staff_a)
    term = "Okafor" + "x" * 120
    url = reverse("patients")
    for response in (client.post(url, {"q": term}), client.get(url, {"q": term})):
        body = response.content.decode()
        assert "at most 100 characters" in body
        assert response.context["next_after"]  # there is a next page, and its link
        assert not [link for link in re.findall(r'(?:href|hx-get|hx-post|action)="([^"]*)"', body)
                    if "xxxxxxxxxx" in link]
