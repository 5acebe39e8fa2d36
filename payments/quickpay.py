"""QuickPay links: minting them for messages, finding one from its token, what its page may show.

A token is 128 random bits (22 URL-safe characters, so `/p/<token>` fits in a text). Only its
SHA-256 is stored: a random 128-bit secret needs no salt or key stretching (there is nothing
to guess from the digest), and nothing about the token comes from the guarantor or from
SECRET_KEY. A link is tied to one guarantor and to the outbox row that carried it (its
idempotency key), expires after the practice's number of days, and can be revoked by staff.
"""

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from notifications.schedule_many import json_chunks, json_rows
from notifications.sql import run
from notifications.staging import STAGE_FROM, stage, staged_source
from patients.models import IS_GUARANTOR, ZERO, Patient
from practices.services import audit_record

from .models import LinkChannel, LinkSource, PaymentSettings, QuickPayLink, QuickPayOpen
from .rollups import link_day_add

TOKEN_BYTES = 16  # 128 bits
TOKEN_PATTERN = r"[A-Za-z0-9_-]{22}"  # noqa: S105 - the shape of a token, not a secret
_TOKEN_RE = re.compile(rf"^{TOKEN_PATTERN}$")
MINT_CHUNK = 5000


@dataclass(slots=True)  # not frozen: a batch asks for 200,000 (see Outgoing)
class LinkRequest:
    guarantor_id: int
    notification_key: str  # the idempotency key of the outbox row that carries the link
    source: str  # statement, on_demand, payment_request, manual
    channel: str  # email, sms, voice, qr, paper
    dunning_level: int | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/p/{token}"


# What previews, proofs and test sends show for a link: as long as a real one (so a text's
# segments count the same) and plainly not one. No link is minted for it, so its page is a 404.
PREVIEW_TOKEN = "preview-link-not-valid"  # noqa: S105 - a placeholder, not a secret
assert len(PREVIEW_TOKEN) == len(secrets.token_urlsafe(TOKEN_BYTES))


def preview_link_url() -> str:
    return link_url(PREVIEW_TOKEN)


def payment_settings_for(practice) -> PaymentSettings:
    """The practice's payment settings, or unsaved defaults."""
    return PaymentSettings.objects.filter(practice=practice).first() or PaymentSettings(practice=practice)


def link_payment_settings(link: QuickPayLink) -> PaymentSettings:
    """The settings of a link's practice, read with the link by quickpay_link_find."""
    try:
        return link.practice.payment_settings
    except PaymentSettings.DoesNotExist:
        return PaymentSettings(practice=link.practice)


_SOURCES, _CHANNELS = frozenset(LinkSource.values), frozenset(LinkChannel.values)


def _requests_check(practice, items: list[LinkRequest]) -> None:
    errors: list[str] = []
    keys = set()
    for n, item in enumerate(items):
        if item.source not in _SOURCES:
            errors.append(f"item {n}: source must be one of {', '.join(LinkSource.values)}")
        if item.channel not in _CHANNELS:
            errors.append(f"item {n}: channel must be one of {', '.join(LinkChannel.values)}")
        if not item.notification_key or len(item.notification_key) > 200:
            errors.append(f"item {n}: notification_key must be 1 to 200 characters")
        elif item.notification_key in keys:
            errors.append(f"item {n}: notification_key {item.notification_key!r} is repeated")
        keys.add(item.notification_key)
        if item.dunning_level is not None and not 0 <= item.dunning_level <= 32767:
            errors.append(f"item {n}: dunning_level must be between 0 and 32767")
        if len(errors) >= 10:
            break
    if errors:
        raise ValidationError(errors)


def quickpay_links_mint(*, practice, items: list[LinkRequest]) -> list[str]:
    """Mint one link per item and return their absolute URLs, in the order of the items.

    Set-based: per chunk of 5,000, one statement writes the links of the practice's guarantors
    among the items (on PostgreSQL the chunk is staged by binary COPY and inserted by one
    INSERT ... SELECT joined with the patients, so the guarantors' check costs no query of its
    own); a second query runs only when some item got no link, to tell a guarantor that is not
    the practice's (refused: nothing of the call is written) from a key minted before. Mint in
    the same transaction as the outbox rows that carry the links. A notification_key that
    already has a link keeps its first link (its token cannot be recovered) and gets "" in its
    place: the outbox row with that key, which exists already, carries the first link.
    """
    if not items:
        return []
    drawn = quickpay_links_draw(practice=practice, items=items)
    with transaction.atomic():
        stored = drawn.store()
    return [url if digest in stored else "" for url, digest in zip(drawn.urls, drawn.hashes, strict=True)]


@dataclass
class DrawnLinks:
    """Links whose tokens are drawn (their URLs known) and not yet stored: `store` writes them,
    in whatever connection and transaction runs it (see statements/ingest.py)."""

    practice: object
    items: list[LinkRequest]
    urls: list[str]
    hashes: list[str]
    created_at: object
    expires_at: object

    def store(self) -> set[str]:
        """Write the links; the digests of those written (a key that had a link keeps it)."""
        stored: set[str] = set()
        for start in range(0, len(self.items), MINT_CHUNK):
            chunk, hashes = self.items[start:start + MINT_CHUNK], self.hashes[start:start + MINT_CHUNK]
            written = _links_insert(self.practice, chunk, hashes, self.created_at, self.expires_at)
            if len(written) < len(chunk):
                _guarantors_check(self.practice, chunk)
            stored |= written
        return stored

    def store_all(self) -> int:
        """Write the links, every one of them new: an item's key with a link already is an error
        (a caller whose keys are new by construction, such as a statement's messages, for
        guarantors it has just read as the practice's: statements/ingest.py). On PostgreSQL by
        one binary COPY, the way it loads rows fastest (a key or digest already stored is a
        unique violation)."""
        if json_chunks():
            return self._copy()
        stored = self.store()
        if len(stored) < len(self.items):
            raise ValueError(f"{len(self.items) - len(stored)} of {len(self.items)} notification keys "
                             "already had a payment link")
        return len(stored)

    def _copy(self) -> int:
        practice_id, now, expires_at = self.practice.pk, self.created_at, self.expires_at
        with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(
                f"COPY {_LINKS} ({', '.join(name for name, _ in _COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types([kind for _, kind in _COPY_COLUMNS])
            for item, digest in zip(self.items, self.hashes, strict=True):
                copy.write_row((practice_id, item.guarantor_id, digest, item.notification_key, item.source,
                                item.channel, item.dunning_level, now, expires_at, 0))
        return len(self.items)


def quickpay_links_draw(*, practice, items: list[LinkRequest],
                        settings: PaymentSettings | None = None) -> DrawnLinks:
    """Check the requests and draw their tokens: the URLs are known, nothing is written yet.
    Given the practice's `settings` (payment_settings_for), it reads nothing either: it may run
    in another thread."""
    _requests_check(practice, items)
    now = timezone.now()
    tokens, hashes = _tokens(len(items))
    base = link_url("")
    expiry_days = (settings or payment_settings_for(practice)).link_expiry_days
    return DrawnLinks(practice=practice, items=items, urls=[base + token for token in tokens], hashes=hashes,
                      created_at=now, expires_at=now + timedelta(days=expiry_days))


def _tokens(n: int) -> tuple[list[str], list[str]]:
    """`n` tokens and their digests: token_urlsafe(16)'s tokens, from one read of the system's
    random source (a read per token costs more than the rest of its minting)."""
    raw = os.urandom(TOKEN_BYTES * n)
    encode, sha256 = base64.urlsafe_b64encode, hashlib.sha256
    # 16 bytes are 22 base64 characters and two of padding, which token_urlsafe drops too.
    encoded = [encode(raw[i:i + TOKEN_BYTES])[:22] for i in range(0, len(raw), TOKEN_BYTES)]
    return [token.decode() for token in encoded], [sha256(token).hexdigest() for token in encoded]


_LINKS = QuickPayLink._meta.db_table
_PATIENTS = Patient._meta.db_table
_STAGE = "quickpay_link_stage"
_STAGE_COLUMNS = (("guarantor_id", "bigint"), ("token_hash", "varchar"), ("notification_key", "varchar"),
                  ("source", "varchar"), ("channel", "varchar"), ("dunning_level", "integer"))
_RECORD = ", ".join(f"{name} {kind}" for name, kind in _STAGE_COLUMNS)
_COPY_COLUMNS = (("practice_id", "bigint"), ("guarantor_id", "bigint"), ("token_hash", "varchar"),
                 ("notification_key", "varchar"), ("source", "varchar"), ("channel", "varchar"),
                 ("dunning_level", "smallint"), ("created_at", "timestamptz"), ("expires_at", "timestamptz"),
                 ("dob_failures", "smallint"))


def _pg_insert(source: str) -> str:
    # Composed from constant names, no input. The chunk's guarantors are looked up by their ids
    # (an index probe each) rather than joined with all of the practice's patients.
    return (
        f"WITH v AS ({source}), g AS (SELECT id FROM {_PATIENTS} WHERE id = ANY(%s::bigint[]) "  # noqa: S608
        "AND practice_id = %s AND guarantor_id = id), "
        f"ins AS (INSERT INTO {_LINKS} (practice_id, guarantor_id, token_hash, notification_key, source, "
        "channel, dunning_level, created_at, expires_at, dob_failures) "
        "SELECT %s, v.guarantor_id, v.token_hash, v.notification_key, v.source, v.channel, "
        "v.dunning_level, %s, %s, 0 FROM v JOIN g ON g.id = v.guarantor_id "
        "ON CONFLICT (notification_key) DO NOTHING RETURNING 1) SELECT count(*) FROM ins")


_PG_INSERT = {"json": _pg_insert(f"SELECT * FROM json_to_recordset(%s::json) AS v({_RECORD})"),  # noqa: S608
              "staged": _pg_insert(staged_source(_STAGE))}


def _links_insert(practice, chunk: list[LinkRequest], hashes: list[str], now, expires_at) -> set[str]:
    """Write a chunk's links (guarantors of the practice only); the digests written."""
    rows = [(item.guarantor_id, digest, item.notification_key, item.source, item.channel, item.dunning_level)
            for item, digest in zip(chunk, hashes, strict=True)]
    if json_chunks():
        constants = [list({row[0] for row in rows}), practice.pk, practice.pk, now, expires_at]
        if len(rows) < STAGE_FROM:
            params = [json_rows(tuple(name for name, _ in _STAGE_COLUMNS), rows), *constants]
            [(written,)] = run(_PG_INSERT["json"], params)
        else:
            stage(_STAGE, _STAGE_COLUMNS, rows)
            [(written,)] = run(_PG_INSERT["staged"], constants)
        if written == len(rows):  # the usual case: no digest comes back over the wire
            return set(hashes)
        return set(QuickPayLink.objects.filter(token_hash__in=hashes).values_list("token_hash", flat=True))
    found = set(Patient.objects.filter(IS_GUARANTOR, practice=practice, pk__in={r[0] for r in rows})
                .values_list("pk", flat=True))
    links = [QuickPayLink(practice=practice, guarantor_id=g, token_hash=digest, notification_key=key,
                          source=source, channel=channel, dunning_level=level, created_at=now,
                          expires_at=expires_at)
             for g, digest, key, source, channel, level in rows if g in found]
    QuickPayLink.objects.bulk_create(links, batch_size=500, ignore_conflicts=True)
    return set(QuickPayLink.objects.filter(token_hash__in=[link.token_hash for link in links])
               .values_list("token_hash", flat=True))


def _guarantors_check(practice, chunk: list[LinkRequest]) -> None:
    wanted = {item.guarantor_id for item in chunk}
    found = set(Patient.objects.filter(IS_GUARANTOR, practice=practice, pk__in=wanted)
                .values_list("pk", flat=True))
    if missing := sorted(wanted - found)[:10]:
        raise ValidationError(f"not guarantors of {practice.slug}: {missing}")


# What the page and the start of a payment read: the patient and practice rows are wide, and this
# is the one query of every page view.
_PAGE_FIELDS = [
    *(f.name for f in QuickPayLink._meta.concrete_fields),
    "practice__name", "practice__slug", "practice__phone", "practice__time_zone",
    "practice__addon_online_payments", "practice__payment_settings__stripe_account_id",
    "practice__payment_settings__link_expiry_days", "practice__payment_settings__require_date_of_birth",
    "guarantor__practice_id", "guarantor__guarantor_id", "guarantor__first_name", "guarantor__last_name",
    "guarantor__date_of_birth", "guarantor__balance__total", "guarantor__balance__amount_due",
    "guarantor__balance__in_collections",
]


def quickpay_link_find(*, token: str) -> QuickPayLink | None:
    """The link with this token (any state), or None: a malformed token is simply not found."""
    if not isinstance(token, str) or not _TOKEN_RE.match(token):
        return None
    return (QuickPayLink.objects.select_related("practice__payment_settings", "guarantor__balance")
            .only(*_PAGE_FIELDS).filter(token_hash=token_hash(token)).first())


@transaction.atomic
def quickpay_link_revoke(*, link: QuickPayLink, actor) -> bool:
    """Revoke a link (staff). True when it was active until now."""
    revoked = QuickPayLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=actor)
    if revoked:
        audit_record(practice=link.practice, actor=actor, action="quickpay.link_revoked",
                     target=f"link {link.pk}", guarantor=link.guarantor_id, source=link.source)
    link.refresh_from_db()
    return bool(revoked)


def quickpay_front_desk_link(*, practice, guarantor: Patient, actor) -> str:
    """A link for the front desk (shown as a QR code on the guarantor's account), audited."""
    with transaction.atomic():
        [url] = quickpay_links_mint(practice=practice, items=[LinkRequest(
            guarantor_id=guarantor.pk, notification_key=f"front-desk:{secrets.token_hex(12)}",
            source=LinkSource.MANUAL, channel=LinkChannel.QR)])
        audit_record(practice=practice, actor=actor, action="quickpay.link_created",
                     target=f"guarantor {guarantor.pk}", channel=LinkChannel.QR)
    return url


def quickpay_open_record(*, link: QuickPayLink) -> None:
    """Each opening of the page is a row (the link and the time: nothing about the visitor);
    the first also marks the link opened, the funnel's step, and counts it in its day (analytics)."""
    opening = QuickPayOpen.objects.create(link=link)
    if link.first_opened_at is None:
        with transaction.atomic():
            if QuickPayLink.objects.filter(pk=link.pk, first_opened_at__isnull=True).update(
                    first_opened_at=opening.opened_at):
                link_day_add(link=link, time_zone=link.practice.time_zone, opened=1)


# --- what the page may show ---


class PageState(StrEnum):
    PAYABLE = "payable"
    NOTHING_TO_PAY = "nothing_to_pay"
    COLLECTIONS = "collections"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNAVAILABLE = "unavailable"  # online payments are off (or not set up) for the practice
    DOB_REQUIRED = "dob_required"
    DOB_LOCKED = "dob_locked"  # too many wrong dates on this link
    NO_DOB_ON_FILE = "no_dob_on_file"  # the check is on but there is nothing to check against


@dataclass(frozen=True)
class QuickPayPage:
    link: QuickPayLink
    state: PageState
    total: Decimal = ZERO
    amount_due: Decimal = ZERO  # never more than the total

    @property
    def practice(self):
        return self.link.practice

    @property
    def short_name(self) -> str:
        """First name and last initial: all the page says about who owes."""
        guarantor = self.link.guarantor
        initial = guarantor.last_name[:1].upper()
        return f"{guarantor.first_name} {initial}." if initial else guarantor.first_name

    @property
    def credit(self) -> Decimal:
        return -self.total if self.total < 0 else ZERO

    @property
    def shows_account(self) -> bool:
        return self.state in (PageState.PAYABLE, PageState.NOTHING_TO_PAY, PageState.COLLECTIONS)


def gateway_ready(*, practice, payment_settings: PaymentSettings) -> bool:
    """Whether the practice can take a payment now: add-on on, and a Stripe account with Stripe."""
    if not practice.addon_online_payments:
        return False
    return settings.PAYMENTS_GATEWAY != "stripe" or bool(payment_settings.stripe_account_id)


def quickpay_page(*, link: QuickPayLink, verified: bool, now=None) -> QuickPayPage:
    """The state of a link's page, in the order the rules apply.

    Revoked and expired links say so before anything else; then the office must take online
    payments; then, with the date-of-birth check on, nothing about the account shows until the
    visitor has passed it (`verified`, kept in their session); then the balance decides.
    """
    now = now or timezone.now()
    if link.revoked_at is not None:
        return QuickPayPage(link, PageState.REVOKED)
    if link.expires_at <= now:
        return QuickPayPage(link, PageState.EXPIRED)
    payment_settings = link_payment_settings(link)
    if not gateway_ready(practice=link.practice, payment_settings=payment_settings):
        return QuickPayPage(link, PageState.UNAVAILABLE)
    if payment_settings.require_date_of_birth and not verified:
        if link.guarantor.date_of_birth is None:
            return QuickPayPage(link, PageState.NO_DOB_ON_FILE)
        if link.dob_failures >= settings.QUICKPAY_DOB_LINK_ATTEMPTS:
            return QuickPayPage(link, PageState.DOB_LOCKED)
        return QuickPayPage(link, PageState.DOB_REQUIRED)
    balance = link.guarantor.balance_or_none
    total = balance.total if balance else ZERO
    due = max(ZERO, min(balance.amount_due, total)) if balance else ZERO
    if balance is not None and balance.in_collections:
        return QuickPayPage(link, PageState.COLLECTIONS, total, due)
    if total <= ZERO:
        return QuickPayPage(link, PageState.NOTHING_TO_PAY, total, ZERO)
    return QuickPayPage(link, PageState.PAYABLE, total, due)


# --- the date-of-birth check ---


class DobOutcome(StrEnum):
    PASSED = "passed"
    WRONG = "wrong"
    LINK_LOCKED = "link_locked"
    ADDRESS_LIMITED = "address_limited"


def _address_key(client_address: str) -> str:
    digest = hashlib.sha256((client_address or "unknown").encode()).hexdigest()[:32]
    return f"quickpay-dob:ip:{digest}"


def quickpay_dob_check(*, link: QuickPayLink, date_of_birth: date, client_address: str) -> DobOutcome:
    """Compare a date of birth with the guarantor's, within the attempt limits.

    Wrong dates count against the link (stored: at QUICKPAY_DOB_LINK_ATTEMPTS it stops asking
    and the page gives the office's phone) and against the client address (in the cache, for
    QUICKPAY_DOB_WINDOW seconds), so neither one visitor trying many links nor many visitors
    trying one link gets far.
    """
    key = _address_key(client_address)
    if (cache.get(key) or 0) >= settings.QUICKPAY_DOB_ADDRESS_ATTEMPTS:
        return DobOutcome.ADDRESS_LIMITED
    link.refresh_from_db(fields=["dob_failures"])
    if link.dob_failures >= settings.QUICKPAY_DOB_LINK_ATTEMPTS:
        return DobOutcome.LINK_LOCKED
    if link.guarantor.date_of_birth == date_of_birth:
        return DobOutcome.PASSED
    QuickPayLink.objects.filter(pk=link.pk).update(dob_failures=F("dob_failures") + 1)
    if not cache.add(key, 1, timeout=settings.QUICKPAY_DOB_WINDOW):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=settings.QUICKPAY_DOB_WINDOW)
    link.refresh_from_db(fields=["dob_failures"])
    if link.dob_failures >= settings.QUICKPAY_DOB_LINK_ATTEMPTS:
        return DobOutcome.LINK_LOCKED
    return DobOutcome.WRONG
