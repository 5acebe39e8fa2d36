"""Patients, guarantors, balances and visits, as the practice-management system (PMS) sends them.

A guarantor is the person responsible for an account: a patient whose guarantor is itself.
Children and other dependents point to their guarantor, and the balance belongs to the guarantor.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from practices.models import Practice

ZERO = Decimal("0.00")


class Patient(models.Model):
    # No index of its own: the (practice, external_id) constraint's index serves practice lookups.
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="patients",
                                 db_index=False)
    external_id = models.CharField("PMS id", max_length=64)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    # Stored lower-cased; phones in E.164 (+13125550142), normalised through `phonenumbers`.
    email = models.EmailField(max_length=254, blank=True)
    mobile_phone = models.CharField(max_length=20, blank=True)
    home_phone = models.CharField(max_length=20, blank=True)
    # The patient's own time zone when the PMS knows it; otherwise the practice's applies.
    time_zone = models.CharField(max_length=64, blank=True)
    consent_email = models.BooleanField(default=False)
    consent_sms = models.BooleanField(default=False)
    consent_voice = models.BooleanField(default=False)
    paperless = models.BooleanField(default=False)
    do_not_recall = models.BooleanField(default=False)
    # Every imported patient has one (itself for a guarantor); null only when the guarantor's
    # row was deleted, until the PMS sends the patient again.
    # Kept consistent by the import (a guarantor is checked to exist and to be their own
    # guarantor before anything is written) rather than by a database constraint: a
    # constraint would cost a deferred check per row at commit of a 100,000-row import.
    guarantor = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="dependents", db_constraint=False)
    last_visit_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "external_id"],
                                    name="patient_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["practice", "last_name", "first_name", "id"], name="patient_name_order"),
            models.Index(fields=["practice", "email"], name="patient_email"),
            models.Index(fields=["practice", "mobile_phone"], name="patient_mobile"),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def full_name(self) -> str:
        return str(self)

    @property
    def is_guarantor(self) -> bool:
        return self.guarantor_id is not None and self.guarantor_id == self.pk

    @property
    def has_contact(self) -> bool:
        return bool(self.email or self.mobile_phone or self.home_phone)

    @property
    def balance_or_none(self):
        """The patient's Balance, or None when the PMS never sent one (the reverse one-to-one
        raises instead)."""
        try:
            return self.balance
        except Patient.balance.RelatedObjectDoesNotExist:
            return None


# A patient row that is a guarantor, for querysets: Patient.objects.filter(IS_GUARANTOR).
IS_GUARANTOR = Q(guarantor_id=F("id"))


class Balance(models.Model):
    """A guarantor's account balance as of the PMS's last report."""

    # The guarantor's practice, copied for filtering; the guarantor link carries the integrity.
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="balances",
                                 db_index=False, db_constraint=False)
    guarantor = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="balance")
    total = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    amount_due = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    aging_current = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    aging_31_60 = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    aging_61_90 = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    aging_91_120 = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    aging_over_120 = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    in_collections = models.BooleanField(default=False)
    on_payment_plan = models.BooleanField(default=False)
    outstanding_claims = models.PositiveIntegerField(default=0)
    as_of = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    AGING_BUCKETS = [
        ("aging_current", "Current"), ("aging_31_60", "31-60 days"), ("aging_61_90", "61-90 days"),
        ("aging_91_120", "91-120 days"), ("aging_over_120", "Over 120 days"),
    ]

    class Meta:
        indexes = [models.Index(fields=["practice", "total"], name="balance_practice_total")]

    def __str__(self):
        return f"{self.total} for {self.guarantor_id}"

    @property
    def aging(self) -> list[tuple[str, Decimal]]:
        return [(label, getattr(self, name)) for name, label in self.AGING_BUCKETS]


class Visit(models.Model):
    """A visit day of a patient, as the PMS reports it."""

    # The patient's practice, copied for filtering; the (patient, visited_on) constraint's index
    # serves lookups by patient. Visits are written only by the import, for the patient rows it
    # writes in the same statement, and go with their patient (on_delete, through the ORM): no
    # database constraint, which would cost a deferred check (and a row lock on the patient) per
    # visit at commit, about a fifth of a first import of 100,000 patients (measured).
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="visits",
                                 db_index=False, db_constraint=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="visits", db_index=False,
                                db_constraint=False)
    visited_on = models.DateField()

    class Meta:
        ordering = ["-visited_on"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "visited_on"], name="visit_unique_day"),
        ]

    def __str__(self):
        return f"{self.patient_id} on {self.visited_on}"


class ImportStatus(models.TextChoices):
    VALIDATING = "validating", "Checking the file"
    INVALID = "invalid", "File refused"
    VALIDATED = "validated", "Checked, waiting for confirmation"
    QUEUED = "queued", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed, nothing changed"


IMPORT_IN_PROGRESS = (ImportStatus.VALIDATING, ImportStatus.QUEUED)


class ImportMode(models.TextChoices):
    ALL = "all", "Import all rows"
    VALID = "valid", "Import the valid rows"


class CsvUpload(models.Model):
    """An uploaded CSV file and what became of it (uploads.py); each import of a file has one.

    The file lives under MEDIA_ROOT; tasks get this row's id, never the file's contents.
    """

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=12, choices=ImportStatus.choices,
                              default=ImportStatus.VALIDATING)
    mode = models.CharField(max_length=8, choices=ImportMode.choices, blank=True)
    # A refusal of the whole file (encoding, header, empty): shown instead of row errors.
    file_error = models.TextField(blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # the first errors: {row, field, message}
    rejected_rows = models.JSONField(default=list, blank=True)  # every row number with an error
    preview = models.JSONField(default=list, blank=True)  # the first rows, as read
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)  # when it was queued for import
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def in_progress(self) -> bool:
        return self.status in IMPORT_IN_PROGRESS


class PatientImport(CsvUpload):
    """One uploaded patient CSV file and what became of it."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="patient_imports")
    file = models.FileField(upload_to="patient-imports/%Y/%m/")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["practice", "-created_at"], name="patient_import_recent"),
            # The sweep for stuck imports reads only the few still in progress.
            models.Index(fields=["created_at"], name="patient_import_in_progress",
                         condition=Q(status__in=IMPORT_IN_PROGRESS)),
        ]

    def __str__(self):
        return f"{self.original_name} ({self.status})"
