"""Message templates: refused when saved for unknown fields, bad syntax or more than texts and
calls may say; versions never change; the SMS segment counter; the plain renderer matches jinja2."""

import pytest
from django.core.exceptions import ValidationError

from notifications.message_templates import message_template_save
from notifications.models import MessageTemplateVersion
from notifications.rendering import compiled, sample_values, template_check
from notifications.segments import GSM7, UCS2, segment_count

pytestmark = pytest.mark.django_db

SMS_OK = ("{{ practice.name }}: Hi {{ patient.first_name }}, {{ statement.amount_due }} is due. "
          "{{ quickpay_link }}")


def problems(channel="sms", subject="", body=SMS_OK, purpose="balance"):
    return [(p.field, p.message) for p in template_check(purpose=purpose, channel=channel, subject=subject,
                                                         body=body)]


def test_a_template_with_an_unknown_field_is_refused_naming_the_field():
    found = problems(body=SMS_OK + " {{ patient.ssn }}")
    assert len(found) == 1 and found[0][0] == "body"
    assert "{{ patient.ssn }} is not a merge field" in found[0][1]
    assert "{{ practice.phone }}" in found[0][1]  # and says which fields there are


@pytest.mark.parametrize("body, why", [
    ("{{ practice.name }} {% if %}", "line 1"),
    ("{{ practice.name }} {{ patient.first_name", "line 1"),
    ("{{ practice.name }}{% for x in practice %}{{ x }}{% endfor %}", "loops"),
    ("{{ practice.name }}{{ practice.name.upper() }}", "calls"),
    ("{{ practice.name }}{{ 'x' * 1000000000 }}", "arithmetic"),
    ("{{ practice.name }}{% include 'base.html' %}", "include"),
    ("{{ practice.name }}{{ practice.name|center(1000000000) }}", "filter |center"),
    ("{{ practice.name }}{{ patient }}", "{{ patient }} is not a merge field"),
    ("{{ practice.name }}{{ practice.__class__ }}", "practice.__class__"),
])
def test_bad_syntax_and_anything_beyond_fields_and_if_is_refused(body, why):
    found = problems(body=body)
    assert found and any(why in message for _, message in found), found


@pytest.mark.parametrize("channel, body, field", [
    ("sms", SMS_OK + " {{ patient.last_name }}", "patient.last_name"),
    ("sms", SMS_OK + " {{ unsubscribe_link }}", "unsubscribe_link"),
    ("sms", SMS_OK + " {{ practice.address }}", "practice.address"),
    ("voice", "{{ practice.name }} {{ practice.phone }} {{ patient.first_name }}", "patient.first_name"),
    ("voice", "{{ practice.name }} {{ practice.phone }} {{ statement.amount_due }}", "statement.amount_due"),
])
def test_texts_and_calls_may_say_only_the_minimum(channel, body, field):
    (found,) = problems(channel=channel, body=body)
    assert "{{ " + field + " }} may not be used" in found[1]


def test_texts_name_the_office_and_calls_give_its_name_and_phone():
    assert "practice.name" in problems(body="Hi {{ patient.first_name }}")[0][1]
    (found,) = problems(channel="voice", body="Please call {{ practice.phone }}")
    assert "{{ practice.name }}" in found[1]
    assert problems(channel="voice", body="This is {{ practice.name }}. Call {{ practice.phone }}.") == []


def test_email_needs_a_subject_and_texts_have_none():
    assert ("subject", "An email needs a subject.") in problems(channel="email", body="Hello")
    assert ("subject", "Only emails have a subject.") in problems(subject="Hi", body=SMS_OK)


def test_fields_of_another_purpose_are_refused():
    (found,) = problems(purpose="on_demand")
    assert "{{ statement.amount_due }} is not available in on-demand templates" in found[1]


@pytest.mark.parametrize("body", [
    SMS_OK, "{{practice.name}}\n\nLine {{ patient.first_name }}\n", "{{ practice['name'] }} x",
    "{{ practice.name }}{% if statement.amount_due %} owes {{ statement.amount_due }}{% endif %}",
    "{{ practice.name|upper }} {{ patient.first_name|default('there') }}",
    "{{ practice.name }} {# a comment #} {%- if true -%} trimmed {%- endif %} é€ {{ quickpay_link }}",
])
def test_the_plain_renderer_gives_what_jinja2_gives(body):
    assert problems(body=body) == []
    template = compiled(body)
    values = sample_values()
    assert template.render(values) == template.render_jinja(values)
    values["patient"]["first_name"] = "Zoë {{ not a field }}"
    assert template.render(values) == template.render_jinja(values)


@pytest.mark.parametrize("text, encoding, segments", [
    ("", GSM7, 0),
    ("a" * 160, GSM7, 1),
    ("a" * 161, GSM7, 2),
    ("a" * 306, GSM7, 2),
    ("a" * 307, GSM7, 3),
    ("€" * 80, GSM7, 1),  # extension characters take two places each
    ("€" * 81, GSM7, 2),
    ("a" * 152 + "€" + "a" * 152, GSM7, 3),  # the escape and its character stay in one segment
    ("a" * 69 + "😀", UCS2, 2),  # an emoji is two UTF-16 units
    ("ç" * 70, UCS2, 1),  # ç is not in the GSM alphabet (Ç is)
    ("ç" * 71, UCS2, 2),
    ("ç" * 134, UCS2, 2),
    ("ç" * 135, UCS2, 3),
    ("a" * 66 + "😀" + "a", UCS2, 1),
    ("a" * 66 + "😀" + "a" * 66, UCS2, 3),  # the pair does not straddle segments
])
def test_the_segment_counter_splits_as_carriers_do(text, encoding, segments):
    count = segment_count(text)
    assert (count.encoding, count.segments) == (encoding, segments)


def test_the_counter_warns_past_two_segments_and_names_what_forced_ucs2():
    assert segment_count("a" * 306).warning == ""
    warning = segment_count("Héllo “friend” " + "a" * 140).warning
    assert "3 segments" in warning and "“" in warning


def test_every_save_adds_a_version_and_never_changes_one(world):
    template = message_template_save(practice=world.practice_a, actor=world.admin_ab, purpose="balance",
                                     channel="sms", name="Reminder", subject="", body=SMS_OK)
    first = MessageTemplateVersion.objects.get(template=template, number=1)
    message_template_save(practice=world.practice_a, actor=world.admin_ab, template=template, subject="",
                          body=SMS_OK + " Thanks!")
    same = message_template_save(practice=world.practice_a, actor=world.admin_ab, template=template,
                                 subject="", body=SMS_OK + " Thanks!")
    assert same.current_version == 2
    first.refresh_from_db()
    assert first.body == SMS_OK
    with pytest.raises(ValidationError) as refused:
        message_template_save(practice=world.practice_a, actor=world.admin_ab, template=template,
                              subject="", body="{{ patient.date_of_birth }}")
    assert "patient.date_of_birth" in str(refused.value.message_dict["body"])
    with pytest.raises(ValidationError) as taken:
        message_template_save(practice=world.practice_a, actor=world.admin_ab, purpose="balance",
                              channel="sms", name="Reminder", subject="", body=SMS_OK)
    assert "already exists" in taken.value.message_dict["name"][0]


def test_the_product_templates_pass_their_own_checks():
    from statements.profiles import STANDARD_TEMPLATES

    for t in STANDARD_TEMPLATES.values():
        assert problems(channel=t.channel, subject=t.subject, body=t.body) == [], t.name
