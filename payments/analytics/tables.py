"""The analytics page's tables: one per chart, the same rows as the chart's numbers, the page's
accessible table and the CSV export. A chart's data is built from its table, never separately."""

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from ..models import LinkChannel, LinkSource
from . import figures
from .periods import Scope

# What a column holds: how the page shows it, and how the CSV writes it.
TEXT, COUNT, MONEY, PERCENT, DAYS = "text", "count", "money", "percent", "days"


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = COUNT


@dataclass
class Table:
    key: str
    title: str
    caption: str
    columns: list[Column]
    rows: list[list]
    empty: str
    foot: list | None = None
    chart: dict | None = None
    notes: list[str] = field(default_factory=list)
    summary: list[tuple[str, object]] = field(default_factory=list)  # (label, value) under the table

    @property
    def cells(self) -> list[list[tuple]]:
        """Each row as (value, column kind, column label), for the template."""
        return [self._cells(row) for row in self.rows]

    @property
    def foot_cells(self) -> list[tuple]:
        return self._cells(self.foot) if self.foot else []

    def _cells(self, row: list) -> list[tuple]:
        return [(value, c.kind, c.label) for value, c in zip(row, self.columns, strict=True)]


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(100 * part) / whole).quantize(Decimal("0.1")) if whole else None


def _days(value) -> Decimal | None:
    return None if value is None else (Decimal(value.total_seconds()) / 86400).quantize(Decimal("0.1"))


def _channel_label(channel: str) -> str:
    return LinkChannel(channel).label if channel in LinkChannel.values else (channel or "—")


def _source_label(source: str) -> str:
    return figures.SourceLine(source).label if source in LinkSource.values else source


def _chart(kind: str, labels: list, datasets: list[tuple[str, list]], unit: str, **options) -> dict:
    return {"type": kind, "labels": [str(label) for label in labels], "unit": unit,
            "datasets": [{"label": name, "data": [None if v is None else float(v) for v in values]}
                         for name, values in datasets], **options}


def collected_tables(scope: Scope, paid: figures.PaidInRange | None = None) -> list[Table]:
    found = figures.collected(scope=scope, paid=paid)
    money_columns = [Column("Payments"), Column("Received", MONEY), Column("Refunded", MONEY),
                     Column("Collected", MONEY)]
    total = found.total
    foot = [total.payments, total.received, total.refunded, total.net]
    by_source = [[line.label, m.payments, m.received, m.refunded, m.net]
                 for line, m in found.by_source.items()]
    by_channel = [[_channel_label(channel), m.payments, m.received, m.refunded, m.net]
                  for channel, m in found.by_channel.items()]
    return [
        Table("sources", "Collected by source",
              "Payments through QuickPay started in the range, by what sent the paid link "
              "(a statement's dunning level, an on-demand message, a payment request or its follow-ups).",
              [Column("Source", TEXT), *money_columns], by_source,
              "No payment came through a QuickPay link in this range.", foot=["Total", *foot],
              chart=_chart("bar", [r[0] for r in by_source], [("Collected", [r[4] for r in by_source])],
                           "money", horizontal=True) if by_source else None),
        Table("channels", "Collected by channel",
              "The same payments by the channel of the message that carried the paid link.",
              [Column("Channel", TEXT), *money_columns], by_channel,
              "No payment came through a QuickPay link in this range.", foot=["Total", *foot],
              chart=_chart("bar", [r[0] for r in by_channel], [("Collected", [r[4] for r in by_channel])],
                           "money", horizontal=True) if by_channel else None),
    ]


def funnel_table(scope: Scope) -> Table:
    rows = [[_source_label(r.source), _channel_label(r.channel), r.sent, r.delivered, r.opened, r.paid,
             _rate(r.delivered, r.sent), _rate(r.opened, r.sent), _rate(r.paid, r.sent)]
            for r in figures.funnel(scope=scope)]
    labels = [f"{r[0]} · {r[1]}" for r in rows]
    return Table(
        "funnel", "From message to payment",
        "Messages queued in the range: how many were sent and delivered, and how many of the QuickPay "
        "links they carried were opened and paid (rates are of the messages sent).",
        [Column("Source", TEXT), Column("Channel", TEXT), Column("Sent"), Column("Delivered"),
         Column("Link opened"), Column("Paid"), Column("Delivered %", PERCENT), Column("Opened %", PERCENT),
         Column("Paid %", PERCENT)], rows, "No message was queued and no link was opened in this range.",
        chart=_chart("bar", labels, [(name, [r[i] for r in rows]) for i, name in
                                     ((2, "Sent"), (3, "Delivered"), (4, "Link opened"), (5, "Paid"))],
                     "count") if rows else None,
        notes=["Calls carry no link: they are sent and delivered only. Front-desk QR codes have no message."])


def time_to_pay_table(scope: Scope, paid: figures.PaidInRange | None = None) -> Table:
    found = figures.time_to_pay(scope=scope, paid=paid)
    rows = [[label, n, _rate(n, found.payments)] for label, n in found.buckets] if found.payments else []
    summary = [("Median (days)", _days(found.median)), ("Payments timed", found.payments),
               ("Payments with no message (front desk)", found.without_message)] if found.payments else []
    return Table(
        "time_to_pay", "Time to pay",
        "From the first message of the paid link's statement, payment request or on-demand send to the "
        "payment.",
        [Column("Paid after", TEXT), Column("Payments"), Column("Share", PERCENT)], rows,
        "No payment in this range came through a message's link.",
        chart=_chart("bar", [r[0] for r in rows], [("Payments", [r[1] for r in rows])], "count")
        if rows else None, summary=summary)


def delivery_table(scope: Scope) -> Table:
    periods = scope.periods
    found = figures.delivery(scope=scope)
    rows = [[periods[r.period].label, _channel_label(r.channel), r.sent, r.delivered, r.undeliverable,
             r.opted_out, _rate(r.delivered, r.sent)] for r in found]
    channels = sorted({r.channel for r in found}, key=lambda c: LinkChannel.values.index(c)
                      if c in LinkChannel.values else 99)
    by_key = {(r.period, r.channel): r for r in found}
    datasets = [(f"{_channel_label(c)} delivered %",
                 [_rate(by_key[(n, c)].delivered, by_key[(n, c)].sent) if (n, c) in by_key else None
                  for n in range(len(periods))]) for c in channels]
    return Table(
        "delivery", "Delivery health",
        f"Outreach messages by the {scope.grain} they were queued: sent, delivered and undeliverable; and "
        "addresses that opted out in that period (replied STOP, unsubscribed, bounced, complained or were "
        "opted out by staff).",
        [Column(scope.grain.capitalize(), TEXT), Column("Channel", TEXT), Column("Sent"), Column("Delivered"),
         Column("Undeliverable"), Column("Opted out"), Column("Delivered %", PERCENT)], rows,
        "No outreach message was sent and no address opted out in this range.",
        chart=_chart("line", [p.short for p in periods], datasets, "percent") if rows else None)


BUILDERS = {"sources": lambda scope: collected_tables(scope)[0],
            "channels": lambda scope: collected_tables(scope)[1],
            "funnel": funnel_table, "time_to_pay": time_to_pay_table, "delivery": delivery_table}
TABLE_NAMES = list(BUILDERS)


def all_tables(scope: Scope) -> list[Table]:
    paid = figures.paid_in_range(scope=scope)  # read once for both
    return [*collected_tables(scope, paid), funnel_table(scope), time_to_pay_table(scope, paid),
            delivery_table(scope)]


def _plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def table_csv(table: Table) -> str:
    """The table as CSV: a header row, its rows and its total, numbers without formatting. A
    text cell that a spreadsheet would read as a formula is quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.label for c in table.columns])
    for row in [*table.rows, *([table.foot] if table.foot else []), *table.summary]:
        writer.writerow([_guarded(_plain(v)) for v in row])
    return out.getvalue()


def _guarded(text: str) -> str:
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True
