"""Reads for payment-plan applications and alert preferences, always for one practice."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from practices.models import Membership, Practice

from .models import Alert, AlertDelivery, AlertPreference, AlertTimer, Application, ApplicationEvent


def applications(*, practice: Practice) -> QuerySet[Application]:
    return Application.objects.filter(practice=practice).order_by("-state_at", "-pk")


def application_get(*, practice: Practice, pk) -> Application:
    return get_object_or_404(Application, practice=practice, pk=pk)


@dataclass(frozen=True)
class ApplicationDetail:
    application: Application
    events: list[ApplicationEvent]
    timers: list[AlertTimer]
    deliveries: list[AlertDelivery]


def application_detail(*, practice: Practice, pk) -> ApplicationDetail:
    application = application_get(practice=practice, pk=pk)
    return ApplicationDetail(
        application=application,
        events=list(application.events.order_by("occurred_at", "pk")),
        timers=list(application.timers.order_by("due_at")),
        deliveries=list(application.deliveries.select_related("user").order_by("alert_at", "user__email")),
    )


@dataclass(frozen=True)
class PreferenceRow:
    alert: str
    label: str
    enabled: bool
    delivery: str

    @property
    def mode(self) -> str:
        return self.delivery if self.enabled else "off"


def alert_preferences(*, membership: Membership) -> list[PreferenceRow]:
    """A member's five alert choices in one office, defaults (on, instant) filled in."""
    saved = {p.alert: p for p in AlertPreference.objects.filter(membership=membership)}
    return [_row(alert, saved.get(alert)) for alert in Alert]


def alert_preference_row(*, membership: Membership, alert: str) -> PreferenceRow:
    return _row(Alert(alert), AlertPreference.objects.filter(membership=membership, alert=alert).first())


def _row(alert: Alert, saved: AlertPreference | None) -> PreferenceRow:
    if saved is None:
        return PreferenceRow(alert.value, alert.label, True, AlertPreference.Delivery.INSTANT)
    return PreferenceRow(alert.value, alert.label, saved.enabled, saved.delivery)


@dataclass(frozen=True)
class TeamAlertRow:
    membership: Membership
    modes: list[str]  # in Alert order: instant, digest or off


def team_alert_overview(*, practice: Practice) -> list[TeamAlertRow]:
    """Who in the office receives which alert, and how."""
    memberships = list(Membership.objects.filter(practice=practice).select_related("user")
                       .order_by("user__email"))
    saved = {(p.membership_id, p.alert): p.mode
             for p in AlertPreference.objects.filter(membership__practice=practice)}
    return [TeamAlertRow(m, [saved.get((m.pk, a.value), AlertPreference.Delivery.INSTANT) for a in Alert])
            for m in memberships]
