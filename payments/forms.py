from django import forms

from .models import Alert, AlertPreference


class AlertPreferenceForm(forms.Form):
    """One alert's switch and delivery. An unchecked switch is absent from the POST: off."""

    alert = forms.ChoiceField(choices=Alert.choices)
    enabled = forms.BooleanField(required=False)
    delivery = forms.ChoiceField(choices=AlertPreference.Delivery.choices,
                                 initial=AlertPreference.Delivery.INSTANT)
