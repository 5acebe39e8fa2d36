"""The portal's home: the current office's worklist for today.

Each app adds its own items through `settings.DASHBOARD_WORKLIST` (dotted paths, each called as
`items(*, practice, membership, now)` and returning WorkItems), the way DUE_WORK lists due work,
so this app imports none of the apps above it. Every figure is read by a selector that stays a
few milliseconds at a million notifications: counters, or an index range that ends early.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.module_loading import import_string

# The page's sections, in order: what needs someone today, what came in, and (admins) what keeps
# the office's outreach from working.
SECTIONS = {
    "todo": "Needs attention",
    "activity": "This week",
    "setup": "Setup to finish",
}


@dataclass(frozen=True)
class WorkItem:
    section: str  # a key of SECTIONS
    order: int  # place within the section
    key: str  # stable name: the item's data-testid
    label: str
    url: str  # the screen that lists what the figure counts, filtered to it
    count: int = 0  # what needs doing (todo, setup) or what came in (activity)
    figure: str = ""  # how the count reads when it is not a plain number ("$1,250.00")
    note: str = ""
    capped: bool = False  # the count stopped at a limit: "200+"

    @property
    def attention(self) -> bool:
        return self.section in ("todo", "setup") and self.count > 0


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    items: list[WorkItem]

    @property
    def clear(self) -> bool:
        return not any(item.count for item in self.items)


def office_week_start(now: datetime, tz) -> datetime:
    """Monday 00:00 of the office's current week, in the office's time zone."""
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=tz)


def office_day_start(now: datetime, tz) -> datetime:
    local = now.astimezone(tz)
    return datetime(local.year, local.month, local.day, tzinfo=tz)


def worklist(*, practice, membership, now: datetime) -> list[Section]:
    """The office's sections with their items, in order; sections with no item are left out
    (an admin-only section for staff, an add-on's items while it is off)."""
    items: list[WorkItem] = []
    for path in settings.DASHBOARD_WORKLIST:
        items += import_string(path)(practice=practice, membership=membership, now=now)
    unknown = {item.section for item in items} - SECTIONS.keys()
    if unknown:
        raise ValueError(f"dashboard items name unknown sections: {sorted(unknown)}")
    return [Section(key, title, sorted((i for i in items if i.section == key), key=lambda i: i.order))
            for key, title in SECTIONS.items() if any(i.section == key for i in items)]
