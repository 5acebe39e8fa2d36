import re

from django.urls import reverse


def test_pages_carry_a_nonce_csp_and_no_unnonced_inline_script(client_of, world):
    response = client_of(world.admin_ab).get(reverse("dashboard"))
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "script-src 'self' 'nonce-" in policy and "'unsafe-inline'" not in policy
    body = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", body)
    assert scripts, "the layout loads htmx and the portal script"
    for tag in scripts:
        assert f'nonce="{nonce}"' in tag and "src=" in tag
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
    assert "/static/vendor/htmx-2.0.11.min.js" in body


def test_the_nonce_changes_per_response(client_of, world):
    client = client_of(world.staff_a)
    first = client.get(reverse("dashboard"))["Content-Security-Policy"]
    second = client.get(reverse("dashboard"))["Content-Security-Policy"]
    assert first != second


def test_htmx_is_served_from_static_files(client, db):
    response = client.get("/static/vendor/htmx-2.0.11.min.js")
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"htmx" in content[:2000]


def test_pages_and_api_answers_are_never_stored_by_browsers_or_proxies(client_of, client, world):
    """Patient data must not stay in a shared computer's browser cache or a proxy's."""
    from patients.models import Patient
    from practices.services import api_key_create

    patient = Patient.objects.create(practice=world.practice_a, external_id="A-9",
                                     first_name="Ann", last_name="Lee")
    staff = client_of(world.staff_a)
    for url in ("/", f"/patients/{patient.pk}/", "/patients/", "/notifications/history/",
                "/notifications/dev-outbox/", "/accounts/login/"):
        response = staff.get(url)
        assert "no-store" in response.get("Cache-Control", ""), url
    _key, secret = api_key_create(practice=world.practice_a)
    api = client.get("/api/v1/patients/A-9", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200 and "no-store" in api["Cache-Control"]
    static = client.get("/static/vendor/htmx-2.0.11.min.js")
    assert "no-store" not in static.get("Cache-Control", "")
