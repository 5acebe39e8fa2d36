"""QuickPay links: the token's properties, the set-based minting interface, expiry and revoking."""

import hashlib
import math
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.models import PaymentSettings, QuickPayLink
from payments.quickpay import LinkRequest, quickpay_link_find, quickpay_links_mint
from practices.models import AuditEvent

from .conftest import make_guarantor


def _request(guarantor, n, **kw):
    return LinkRequest(guarantor_id=guarantor.pk, notification_key=f"statement:{n}:level:1:sms",
                       source="statement", channel="sms", dunning_level=1, **kw)


def test_a_token_is_128_random_bits_short_enough_for_a_text_and_stored_only_as_its_digest(office, settings):
    items = [_request(office.guarantor, n) for n in range(200)]
    urls = quickpay_links_mint(practice=office.practice, items=items)
    prefix = settings.PUBLIC_BASE_URL + "/p/"
    tokens = [url.removeprefix(prefix) for url in urls]
    assert all(url.startswith(prefix) for url in urls)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", token) for token in tokens)  # 22 * 6 = 132 >= 128 bits
    assert len(set(tokens)) == 200
    stored = set(QuickPayLink.objects.values_list("token_hash", flat=True))
    assert stored == {hashlib.sha256(token.encode()).hexdigest() for token in tokens}
    # Nothing of the token is stored in the clear (200 links of one guarantor share nothing).
    for token in tokens[:20]:
        assert not QuickPayLink.objects.filter(token_hash__contains=token[:8]).exists()
    # The characters are spread as random ones are: each of the 64 symbols appears, none dominates.
    counts = Counter("".join(token[:21] for token in tokens))  # the last character carries 2 bits
    assert len(counts) == 64
    expected = 200 * 21 / 64
    assert max(counts.values()) < expected + 6 * math.sqrt(expected)


def test_minting_returns_urls_in_order_tied_to_guarantor_message_source_channel_and_level(office, world):
    other = make_guarantor(office.practice, "G-2", "Ben", "Okafor")
    items = [_request(office.guarantor, 1), LinkRequest(guarantor_id=other.pk, notification_key="od:7",
                                                        source="on_demand", channel="email")]
    urls = quickpay_links_mint(practice=office.practice, items=items)
    first, second = (quickpay_link_find(token=url.rsplit("/", 1)[1]) for url in urls)
    assert (first.guarantor_id, first.notification_key, first.source, first.channel, first.dunning_level) == (
        office.guarantor.pk, "statement:1:level:1:sms", "statement", "sms", 1)
    assert (second.guarantor_id, second.source, second.channel, second.dunning_level) == (
        other.pk, "on_demand", "email", None)
    assert first.practice_id == world.practice_a.pk


def test_links_expire_after_the_practice_setting_default_sixty_days(office):
    token = office.link()
    link = quickpay_link_find(token=token)
    assert abs(link.expires_at - link.created_at - timedelta(days=60)) < timedelta(seconds=1)
    PaymentSettings.objects.create(practice=office.practice, link_expiry_days=14)
    link = quickpay_link_find(token=office.link())
    assert abs(link.expires_at - timezone.now() - timedelta(days=14)) < timedelta(seconds=5)


def test_ten_thousand_links_are_minted_with_a_few_statements(office):
    items = [_request(office.guarantor, n) for n in range(10_000)]
    with CaptureQueriesContext(connection) as queries:
        urls = quickpay_links_mint(practice=office.practice, items=items)
    assert len(urls) == 10_000 and all(urls) and len(set(urls)) == 10_000
    assert QuickPayLink.objects.filter(practice=office.practice).count() == 10_000
    # Settings, then per chunk of 5,000: guarantors check, insert, confirmation.
    assert len(queries) <= 1 + 2 * 3, [q["sql"][:80] for q in queries]


def test_a_key_already_minted_keeps_its_first_link_and_gets_an_empty_url(office):
    [first] = quickpay_links_mint(practice=office.practice, items=[_request(office.guarantor, 1)])
    urls = quickpay_links_mint(practice=office.practice,
                               items=[_request(office.guarantor, 1), _request(office.guarantor, 2)])
    assert urls[0] == "" and urls[1]
    assert quickpay_link_find(token=first.rsplit("/", 1)[1]) is not None


@pytest.mark.parametrize("bad", [
    {"source": "carrier_pigeon"}, {"channel": "fax"}, {"notification_key": ""},
    {"notification_key": "k" * 201}, {"dunning_level": 2**40}, {"dunning_level": -1},
])
def test_bad_requests_are_refused_naming_what_is_wrong(office, bad):
    args = {"guarantor_id": office.guarantor.pk, "notification_key": "k", "source": "statement",
            "channel": "sms", **bad}
    with pytest.raises(ValidationError) as exc:
        quickpay_links_mint(practice=office.practice, items=[LinkRequest(**args)])
    assert next(iter(bad)) in " ".join(exc.value.messages)
    assert not QuickPayLink.objects.exists()


def test_only_the_practices_own_guarantors_get_links(office, world):
    dependent = make_guarantor(office.practice, "D-1", "Mia", "Reyes", total=None)
    dependent.guarantor = office.guarantor
    dependent.save()
    elsewhere = make_guarantor(world.practice_c, "C-1", "Cy", "Other")
    for patient in (dependent, elsewhere):
        with pytest.raises(ValidationError):
            quickpay_links_mint(practice=office.practice, items=[
                LinkRequest(guarantor_id=patient.pk, notification_key=f"x:{patient.pk}", source="manual",
                            channel="qr")])
    with pytest.raises(ValidationError):
        quickpay_links_mint(practice=office.practice, items=[_request(office.guarantor, 1)] * 2)
    assert not QuickPayLink.objects.exists()


def test_staff_revoke_a_link_and_it_is_audited(client_of, world, office):
    token = office.link()
    link = quickpay_link_find(token=token)
    client = client_of(world.staff_a)
    response = client.post(reverse("quickpay_link_revoke", args=[link.pk]))
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None and link.revoked_by == world.staff_a
    event = AuditEvent.objects.get(action="quickpay.link_revoked")
    assert event.actor == world.staff_a and event.practice == office.practice
    page = client.get(f"/p/{token}")
    assert page.status_code == 200 and b"no longer active" in page.content


def test_another_practices_staff_cannot_revoke(client_of, world, office):
    link = quickpay_link_find(token=office.link())
    response = client_of(world.staff_c).post(reverse("quickpay_link_revoke", args=[link.pk]))
    assert response.status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


@pytest.mark.parametrize("generic", [False, True])
def test_links_drawn_first_are_stored_whole_or_refused_when_a_key_has_one(office, settings, generic):
    from django.db import IntegrityError, transaction

    from payments.quickpay import quickpay_links_draw

    settings.OUTBOX_GENERIC_SQL = generic  # the COPY on PostgreSQL, the generic statements elsewhere
    items = [_request(office.guarantor, n) for n in range(3)]
    drawn = quickpay_links_draw(practice=office.practice, items=items)
    assert not QuickPayLink.objects.exists()  # drawn: the URLs are known, nothing is written
    assert drawn.store_all() == 3
    for url, item in zip(drawn.urls, items, strict=True):
        link = quickpay_link_find(token=url.rsplit("/", 1)[1])
        assert (link.notification_key, link.guarantor_id, link.practice_id, link.dob_failures) == (
            item.notification_key, office.guarantor.pk, office.practice.pk, 0)
        assert link.expires_at > link.created_at
    again = quickpay_links_draw(practice=office.practice, items=[*items[1:], _request(office.guarantor, 9)])
    with pytest.raises((IntegrityError, ValueError)), transaction.atomic():
        again.store_all()
    assert QuickPayLink.objects.count() == 3
