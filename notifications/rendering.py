"""Message templates as data: the merge fields, the checks made when one is saved, rendering.

Templates are jinja2 source rendered by a sandboxed environment with StrictUndefined, over plain
values (nested dicts of strings), never model instances. A template may use the merge fields of
its purpose, `{% if %}`, comparisons and a few text filters; anything else (loops, calls,
arithmetic, includes, assignments) is refused when it is saved, so rendering a batch of
100,000 messages is bounded and cannot reach anything but the values it was given.

Minimum necessary: a text (SMS) may carry the first name, the office's name and phone, amounts,
dates and the payment link, and must say which office it is from; a call (voice) says the
office's name and phone and asks the patient to call back, nothing else.

Most templates are text with `{{ field }}` holes: those render by joining their pieces, which
gives the same text as jinja2 (tested) at a fraction of the cost; the others render through
jinja2 itself.
"""

from dataclasses import dataclass
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from .segments import segment_count

EMAIL, SMS, VOICE = "email", "sms", "voice"
PURPOSES = ("balance", "on_demand", "payment_request")
ALL_PURPOSES = frozenset(PURPOSES)
MAX_BODY = {EMAIL: 20_000, SMS: 1_000, VOICE: 1_000}
MAX_SUBJECT = 200


@dataclass(frozen=True)
class MergeField:
    name: str  # as written in a template: patient.first_name
    label: str
    sample: str  # shown in the editor's preview and used by test sends
    channels: frozenset  # where minimum necessary allows it
    purposes: frozenset = ALL_PURPOSES


_TEXT = frozenset({EMAIL, SMS})
MERGE_FIELDS = {f.name: f for f in [
    MergeField("patient.first_name", "the guarantor's first name", "Ana", _TEXT),
    MergeField("patient.last_name", "the guarantor's last name", "Reyes", frozenset({EMAIL})),
    MergeField("practice.name", "the office's name", "Lakeside Dental", frozenset({EMAIL, SMS, VOICE})),
    MergeField("practice.phone", "the office's phone", "(312) 555-0100", frozenset({EMAIL, SMS, VOICE})),
    MergeField("practice.address", "the office's address", "200 W Madison St, Chicago, IL 60606",
               frozenset({EMAIL})),
    MergeField("statement.amount_due", "the amount due on the statement", "$125.00", _TEXT,
               frozenset({"balance"})),
    MergeField("statement.balance", "the account balance on the statement", "$250.00", _TEXT,
               frozenset({"balance"})),
    MergeField("statement.statement_date", "the statement's date", "Nov 1, 2026", _TEXT,
               frozenset({"balance"})),
    MergeField("statement.due_date", "the statement's due date", "Nov 25, 2026", _TEXT,
               frozenset({"balance"})),
    MergeField("quickpay_link", "the link to pay (the office's phone when online payments are off)",
               "https://portal.example.com/p/Xy12ab", _TEXT),
    MergeField("unsubscribe_link", "the one-click unsubscribe link (email only)",
               "https://portal.example.com/unsubscribe/abc/", frozenset({EMAIL})),
]}
# A field's last part must not be a dict method: jinja2 looks attributes up before keys.
assert not any(hasattr({}, name.rsplit(".", 1)[-1]) for name in MERGE_FIELDS)
REQUIRED = {SMS: ("practice.name",), VOICE: ("practice.name", "practice.phone"), EMAIL: ()}
REQUIRED_WHY = {SMS: "a text must say which office it is from",
                VOICE: "a call says the office's name and the number to call back"}
FILTERS = ("upper", "lower", "title", "capitalize", "trim", "default", "truncate", "replace")

# The jinja2 nodes a template may contain; any other construct is refused by name.
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.Name, nodes.Getattr,
    nodes.Getitem, nodes.Const, nodes.Filter, nodes.Test, nodes.Compare, nodes.Operand,
    nodes.And, nodes.Or, nodes.Not, nodes.CondExpr, nodes.Concat, nodes.Keyword,
)
_REFUSED = {
    nodes.For: "loops ({% for %})", nodes.Macro: "macros", nodes.CallBlock: "call blocks",
    nodes.Call: "calls (write a filter instead, e.g. {{ practice.name|upper }})",
    nodes.Extends: "{% extends %}", nodes.Include: "{% include %}", nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}", nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}",
    nodes.BinExpr: "arithmetic", nodes.UnaryExpr: "arithmetic", nodes.With: "{% with %}",
}


class _Environment(ImmutableSandboxedEnvironment):
    def __init__(self):
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        self.globals.clear()  # no range(), dict(), lipsum(), cycler() ...
        self.filters = {name: self.filters[name] for name in FILTERS}
        self.filters["d"] = self.filters["default"]


ENV = _Environment()


@dataclass(frozen=True)
class TemplateProblem:
    field: str  # "subject" or "body"
    message: str


class RenderError(Exception):
    """A stored template could not be rendered with the values given (a missing value)."""


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            return None
        node = node.node
    if isinstance(node, nodes.Name) and node.ctx == "load":
        parts.append(node.name)
        return ".".join(reversed(parts))
    return None


def _walk(node, fields: set, refused: list) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        what = next((label for kind, label in _REFUSED.items() if isinstance(node, kind)),
                    type(node).__name__)
        refused.append(what)
        return
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
        path = _dotted(node)
        if path is not None:
            fields.add(path)
            return
    if isinstance(node, nodes.Filter) and node.name not in ENV.filters:
        refused.append(f"the filter |{node.name}")
    for child in node.iter_child_nodes():
        _walk(child, fields, refused)


def _parse(source: str) -> nodes.Template:
    return ENV.parse(source)


def fields_used(source: str) -> set[str]:
    """The merge fields a (checked) template uses."""
    fields: set[str] = set()
    _walk(_parse(source), fields, [])
    return fields


def _field_list(purpose: str, channel: str) -> str:
    return ", ".join("{{ " + f.name + " }}" for f in MERGE_FIELDS.values()
                     if purpose in f.purposes and channel in f.channels)


def _check_source(source: str, part: str, *, purpose: str, channel: str) -> tuple[list, set]:
    problems: list[TemplateProblem] = []
    if "\x00" in source:
        return [TemplateProblem(part, "contains a NUL character")], set()
    try:
        tree = _parse(source)
    except TemplateSyntaxError as exc:
        return [TemplateProblem(part, f"line {exc.lineno}: {exc.message}")], set()
    fields: set[str] = set()
    refused: list[str] = []
    _walk(tree, fields, refused)
    for what in dict.fromkeys(refused):
        problems.append(TemplateProblem(part, f"{what} cannot be used in a message template"))
    for name in sorted(fields):
        field = MERGE_FIELDS.get(name)
        if field is None:
            problems.append(TemplateProblem(part, "{{ " + name + " }} is not a merge field. The fields "
                                            f"are: {_field_list(purpose, channel)}."))
        elif purpose not in field.purposes:
            problems.append(TemplateProblem(part, "{{ " + name + " }} is not available in "
                                            f"{purpose.replace('_', '-')} templates."))
        elif channel not in field.channels:
            problems.append(TemplateProblem(part, "{{ " + name + " }} may not be used in a "
                                            f"{'text' if channel == SMS else channel} message: "
                                            f"{_MINIMUM[channel]}"))
    return problems, fields


_MINIMUM = {
    SMS: "texts carry only the first name, the office's name and phone, amounts, dates and the link.",
    VOICE: "a call says only the office's name and phone and asks the patient to call back.",
    EMAIL: "",
}


def template_check(*, purpose: str, channel: str, subject: str, body: str) -> list[TemplateProblem]:
    """Everything wrong with a template, each problem naming the part and the field."""
    if purpose not in PURPOSES:
        return [TemplateProblem("purpose", f"purpose must be one of {', '.join(PURPOSES)}")]
    if channel not in MAX_BODY:
        return [TemplateProblem("channel", "channel must be email, sms or voice")]
    problems: list[TemplateProblem] = []
    if not body.strip():
        problems.append(TemplateProblem("body", "The message is empty."))
    elif len(body) > MAX_BODY[channel]:
        problems.append(TemplateProblem("body", f"At most {MAX_BODY[channel]:,} characters "
                                                f"(this one has {len(body):,})."))
    if channel == EMAIL and not subject.strip():
        problems.append(TemplateProblem("subject", "An email needs a subject."))
    if channel != EMAIL and subject.strip():
        problems.append(TemplateProblem("subject", "Only emails have a subject."))
    if len(subject) > MAX_SUBJECT:
        problems.append(TemplateProblem("subject", f"At most {MAX_SUBJECT} characters."))
    if problems:
        return problems
    found, fields = _check_source(body, "body", purpose=purpose, channel=channel)
    problems += found
    if subject:
        found, subject_fields = _check_source(subject, "subject", purpose=purpose, channel=channel)
        problems += found
        fields |= subject_fields
    missing = [name for name in REQUIRED[channel] if name not in fields]
    if missing and not problems:
        problems.append(TemplateProblem("body", f"Include {', '.join('{{ ' + m + ' }}' for m in missing)}: "
                                                f"{REQUIRED_WHY[channel]}."))
    if not problems:
        try:
            sample_render(subject=subject, body=body)
        except RenderError as exc:
            problems.append(TemplateProblem("body", str(exc)))
    return problems


def sample_values() -> dict:
    """Every merge field with its sample value, as nested plain values."""
    values: dict = {}
    for field in MERGE_FIELDS.values():
        head, _, tail = field.name.partition(".")
        if tail:
            values.setdefault(head, {})[tail] = field.sample
        else:
            values[head] = field.sample
    return values


def sample_render(*, subject: str, body: str, practice=None) -> tuple[str, str]:
    """The template rendered with sample values (the office's own name, phone and address when
    a practice is given)."""
    values = sample_values()
    if practice is not None:
        from practices.templatetags.portal import phone

        values["practice"] = {"name": practice.name, "phone": phone(practice.phone) or practice.phone,
                              "address": " ".join((practice.address or "").split())}
    return (compiled(subject).render(values) if subject else "", compiled(body).render(values))


# --- rendering ---

def _plain_parts(tree: nodes.Template) -> tuple | None:
    """The template as literal strings and field paths, if it is nothing more than that."""
    parts: list = []
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
                continue
            path = _dotted(node) if isinstance(node, nodes.Getattr | nodes.Name) else None
            if path is None:
                return None
            parts.append(tuple(path.split(".")))
    return tuple(parts)


class CompiledTemplate:
    """One template source, ready to render many times.

    A plain template becomes a format string and one getter per hole: rendering is one
    str.format call (a value is formatted as jinja2 prints it, with str()).
    """

    def __init__(self, source: str):
        self.source = source
        parts = _plain_parts(_parse(source))
        self.template = None
        if parts is None:
            self.template = ENV.from_string(source)
            return
        pattern, self.paths = [], []
        for part in parts:
            if part.__class__ is str:
                pattern.append(part.replace("{", "{{").replace("}", "}}"))
            else:
                pattern.append(f"{{{len(self.paths)}!s}}")
                self.paths.append(part)
        self.pattern = "".join(pattern)

    def render(self, values: dict) -> str:
        try:
            if self.template is not None:
                return self.template.render(values)
            args = []
            for path in self.paths:
                value = values[path[0]]
                for key in path[1:]:
                    value = value[key]
                args.append(value)
            return self.pattern.format(*args)
        except KeyError as exc:
            raise RenderError(f"no value for the merge field {exc.args[0]!r}") from None
        except (TemplateError, SecurityError, TypeError) as exc:
            raise RenderError(f"the template could not be rendered: {exc}") from None

    def render_jinja(self, values: dict) -> str:
        """Always through jinja2 (tests compare the plain path with it)."""
        return ENV.from_string(self.source).render(values)


@lru_cache(maxsize=256)
def compiled(source: str) -> CompiledTemplate:
    return CompiledTemplate(source)


def text_facts(body: str) -> dict:
    """What the SMS editor shows as the admin types: characters, encoding, segments, warning."""
    count = segment_count(body)
    return {"characters": count.characters, "encoding": count.encoding, "segments": count.segments,
            "units": count.units, "warning": count.warning}
