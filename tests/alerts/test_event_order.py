"""An application's state and first times follow its events by when they occurred, whatever order
they arrive in: each event is folded into the stored state, which must equal deriving it afresh."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.models import Application, EventType
from payments.services import application_event_record

T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
_ids = itertools.count(1)

pytestmark = pytest.mark.django_db

# Few distinct times, so that several events often share one (the latest to arrive wins a tie).
events = st.lists(st.tuples(st.sampled_from(EventType.values), st.integers(min_value=0, max_value=4)),
                  min_size=1, max_size=7)


def _derived(arrivals: list[tuple[str, datetime]]) -> dict:
    """What the stored fields must be: from all events, ordered by (occurred_at, arrival)."""
    ordered = sorted(enumerate(arrivals), key=lambda item: (item[1][1], item[0]))
    firsts = {}
    for _, (event_type, at) in ordered:
        firsts.setdefault(event_type, at)
    state, state_at = ordered[-1][1]
    return {"state": state, "state_at": state_at,
            **{f"{t}_at": firsts.get(t) for t in EventType.values}}


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=events)
def test_any_arrival_order_gives_the_state_of_the_events_ordered_by_time(world, events):
    application_id = f"order-{next(_ids)}"
    arrivals = [(event_type, T0 + timedelta(hours=hours)) for event_type, hours in events]
    for event_type, at in arrivals:
        application_event_record(practice=world.practice_a, event_id=f"{application_id}-{next(_ids)}",
                                 application_id=application_id, type=event_type, occurred_at=at,
                                 patient_external_id="pms-1", patient_first_name="Ann",
                                 patient_last_name="Lee")
    stored = Application.objects.filter(practice=world.practice_a, external_id=application_id).values(
        "state", "state_at", *(f"{t}_at" for t in EventType.values)).get()
    assert stored == _derived(arrivals)
