"""Checks that span the records of one request or file: repeated ids and guarantor links.

A record may name a guarantor that appears later in the same batch, or one already stored. A
guarantor must be their own guarantor. A dependent whose guarantor was rejected is rejected too,
so that "import the valid rows" never leaves a patient without a guarantor.

Memory: one small entry per distinct external_id of the batch (about 100 bytes), never the
records themselves.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from django.db import connection
from django.db.models import F

from .models import Patient
from .records import PatientRecord

_LOOKUP_CHUNK = 2000


@dataclass(slots=True)
class LinkRejection:
    index: int  # the record's index (API) or row number (CSV)
    field: str
    message: str


class GuarantorLinks:
    def __init__(self, *, practice, guarantor_field: str = "guarantor_external_id",
                 id_field: str = "external_id", where: str = "index"):
        self.practice = practice
        self.guarantor_field = guarantor_field
        self.id_field = id_field
        self.where = where  # how an error names a position: "index 3" or "row 3"
        self.valid: dict[str, tuple[int, bool]] = {}  # external_id -> (index, is_guarantor)
        self.rejected: dict[str, int] = {}  # external_id -> index of a rejected record
        self.refs: list[tuple[int, str, str]] = []  # (index, external_id, guarantor external_id)

    def add_rejected(self, index: int, external_id) -> None:
        if isinstance(external_id, str) and external_id.strip():
            self.rejected.setdefault(external_id.strip(), index)

    def add(self, index: int, record: PatientRecord) -> LinkRejection | None:
        """Note a record that passed its own checks; a repeated id is rejected at once."""
        return self.add_ids(index, record.external_id, record.guarantor_external_id)

    def add_ids(self, index: int, external_id: str, guarantor_external_id: str) -> LinkRejection | None:
        """add() for a record given by its id and its guarantor's (its own for a guarantor)."""
        seen = self.valid.get(external_id)
        if seen is not None:
            return LinkRejection(index, self.id_field,
                                  f"{external_id!r} appears again (first at {self.where} {seen[0]})")
        is_guarantor = guarantor_external_id == external_id
        self.valid[external_id] = (index, is_guarantor)
        if not is_guarantor:
            self.refs.append((index, external_id, guarantor_external_id))
        return None

    def finish(self) -> list[LinkRejection]:
        """Resolve every guarantor link; returns the records rejected for their link."""
        stored = self._stored_guarantor_flags({g for _, _, g in self.refs if g not in self.valid})
        rejections = []
        for index, external_id, guarantor in self.refs:
            message = None
            if guarantor in self.valid:
                if not self.valid[guarantor][1]:
                    message = f"{guarantor!r} is not a guarantor (their own guarantor)"
            elif guarantor in self.rejected:
                message = f"guarantor {guarantor!r} is rejected ({self.where} {self.rejected[guarantor]})"
            elif guarantor not in stored:
                message = f"unknown guarantor {guarantor!r}"
            elif not stored[guarantor]:
                message = f"{guarantor!r} is not a guarantor (their own guarantor)"
            if message:
                rejections.append(LinkRejection(index, self.guarantor_field, message))
                del self.valid[external_id]
        return rejections

    def _stored_guarantor_flags(self, external_ids: set[str], method: str = "auto") -> dict[str, bool]:
        """external_id -> whether that stored patient is their own guarantor (absent: unknown)."""
        if not external_ids:
            return {}
        if method == "sql" or (method == "auto" and connection.vendor == "postgresql"):
            # One array parameter rather than chunks of IN (%s, %s, ...): thousands of ids are
            # looked up at once without a placeholder each.
            with connection.cursor() as cursor:
                cursor.execute("SELECT external_id, guarantor_id = id FROM patients_patient "
                               "WHERE practice_id = %s AND external_id = ANY(%s)",
                               [self.practice.pk, list(external_ids)])
                return {external_id: bool(own) for external_id, own in cursor.fetchall()}
        flags: dict[str, bool] = {}
        it: Iterator[str] = iter(external_ids)
        while chunk := list(islice(it, _LOOKUP_CHUNK)):
            rows = (Patient.objects.filter(practice=self.practice, external_id__in=chunk)
                    .annotate(own=F("guarantor_id")).values_list("external_id", "own", "pk"))
            for external_id, guarantor_pk, pk in rows:
                flags[external_id] = guarantor_pk == pk
        return flags
