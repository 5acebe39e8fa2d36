from django import forms

from .models import ImportMode
from .selectors import AGING_FILTERS, PatientFilters

AGING_CHOICES = [("", "Any aging"), ("d31_60", "31+ days"), ("d61_90", "61+ days"),
                 ("d91_120", "91+ days"), ("over_120", "Over 120 days")]
FLAG_CHOICES = [("", "Any"), ("no_contact", "No contact details"), ("opted_out", "Opted out of everything"),
                ("do_not_recall", "Do not recall"), ("paperless", "Paperless"),
                ("in_collections", "In collections"), ("payment_plan", "On a payment plan")]
assert {k for k, _ in AGING_CHOICES if k} == set(AGING_FILTERS)


class PatientFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100,
                        widget=forms.SearchInput(attrs={"placeholder": "Name, phone, email or PMS id",
                                                        "autocomplete": "off"}))
    balance_min = forms.DecimalField(label="Balance from", required=False, decimal_places=2, max_digits=12)
    balance_max = forms.DecimalField(label="to", required=False, decimal_places=2, max_digits=12)
    aging = forms.ChoiceField(label="Aging", required=False, choices=AGING_CHOICES)
    flag = forms.ChoiceField(label="Flag", required=False, choices=FLAG_CHOICES)
    guarantors_only = forms.BooleanField(label="Guarantors only", required=False)
    after = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def filters(self) -> PatientFilters:
        """The valid filters; a field with an error is ignored (and shown with its error)."""
        self.is_valid()
        data = {name: value for name, value in getattr(self, "cleaned_data", {}).items()
                if name not in self.errors}
        return PatientFilters(q=data.get("q") or "", balance_min=data.get("balance_min"),
                              balance_max=data.get("balance_max"), aging=data.get("aging") or "",
                              guarantors_only=bool(data.get("guarantors_only")), flag=data.get("flag") or "")

    def carried(self) -> list[tuple[str, str]]:
        """The submitted search and filters that apply (not the page, not a field with an error),
        to carry into the next page's form."""
        if not self.is_bound:
            return []
        self.is_valid()
        return [(name, value) for name in self.fields if name != "after" and name not in self.errors
                for value in self.data.getlist(name) if value not in ("", None)]

    def after_id(self) -> int | None:
        return getattr(self, "cleaned_data", {}).get("after") if "after" not in self.errors else None


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="CSV file", allow_empty_file=True,
                           help_text="UTF-8 CSV with the template's header row.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size == 0:
            raise forms.ValidationError("The file is empty (0 bytes). Export the patients from your "
                                        "practice-management system again, or start from the template.")
        return upload


class ImportConfirmForm(forms.Form):
    mode = forms.ChoiceField(choices=ImportMode.choices)
