import json

from django.core.management import call_command
from django.urls import reverse

from practices.models import ApiKey
from practices.services import api_key_create


def _get(client, secret=None, path="/api/v1/practice"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret is not None else {}
    return client.get(path, **headers)


def test_a_key_identifies_its_practice(client, world):
    _key, secret = api_key_create(practice=world.practice_a, label="PMS")
    response = _get(client, secret)
    assert response.status_code == 200
    assert response.json() == {"name": "Lakeside Dental", "slug": "lakeside",
                               "time_zone": "America/Chicago"}
    _key, c_secret = api_key_create(practice=world.practice_c)
    assert _get(client, c_secret).json()["slug"] == "other-town"


def test_the_secret_is_stored_only_as_a_hash(world):
    key, secret = api_key_create(practice=world.practice_a)
    assert secret not in key.key_hash and len(key.key_hash) == 64
    assert not ApiKey.objects.filter(key_hash__contains=secret[10:]).exists()


def test_missing_unknown_and_revoked_keys_answer_401_json(client, world):
    key, secret = api_key_create(practice=world.practice_a)
    for presented in (None, "", "bo_unknown-key", "garbage"):
        response = _get(client, presented)
        assert response.status_code == 401
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"] == "unauthorized"
    from practices.services import api_key_revoke

    api_key_revoke(api_key=key)
    assert _get(client, secret).status_code == 401


def test_a_burst_of_calls_looks_its_key_up_once(client, world, django_assert_num_queries):
    _key, secret = api_key_create(practice=world.practice_a)
    with django_assert_num_queries(2):  # the key, and its last use recorded
        assert _get(client, secret).status_code == 200
    with django_assert_num_queries(0):
        for _ in range(5):
            assert _get(client, secret).json()["slug"] == "lakeside"


def test_a_key_revoked_by_another_process_is_refused_within_the_cache_time(client, world, time_machine,
                                                                           settings):
    settings.API_KEY_CACHE_SECONDS = 5
    time_machine.move_to("2027-03-01T15:00:00+00:00", tick=False)
    key, secret = api_key_create(practice=world.practice_a)
    assert _get(client, secret).status_code == 200
    # Revoked as another web process would: this process still holds the key it looked up.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2027-03-01T15:00:01+00:00")
    time_machine.move_to("2027-03-01T15:00:04+00:00", tick=False)
    assert _get(client, secret).status_code == 200
    time_machine.move_to("2027-03-01T15:00:05+00:00", tick=False)
    assert _get(client, secret).status_code == 401


def test_without_a_cache_time_every_call_looks_its_key_up(client, world, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    key, secret = api_key_create(practice=world.practice_a)
    assert _get(client, secret).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2027-03-01T15:00:01+00:00")
    assert _get(client, secret).status_code == 401


def test_admin_creates_a_key_sees_it_once_and_revokes_it(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    created = client.post(reverse("api_keys"), {"label": "Dentrix sync"}, follow=True)
    assert created.redirect_chain == [(reverse("api_keys"), 302)]  # a reload cannot post twice
    secret = created.context["new_secret"]
    assert secret and secret in created.content.decode()
    assert _get(client, secret).status_code == 200
    listing = client.get(reverse("api_keys")).content.decode()  # shown once: not on the next view
    assert secret not in listing and "Dentrix sync" in listing
    assert ApiKey.objects.filter(practice=world.practice_a).count() == 1
    key = ApiKey.objects.get(practice=world.practice_a)
    client.post(reverse("api_key_revoke", args=[key.pk]))
    assert _get(client, secret).status_code == 401


def test_staff_cannot_manage_keys_and_other_practices_keys_are_404(client_of, world):
    c_key, _ = api_key_create(practice=world.practice_c)
    assert client_of(world.staff_a).get(reverse("api_keys")).status_code == 403
    admin = client_of(world.admin_ab, office="lakeside")
    assert admin.post(reverse("api_key_revoke", args=[c_key.pk])).status_code == 404
    c_key.refresh_from_db()
    assert c_key.is_active


def test_command_prints_the_secret_on_its_last_line_and_revokes(client, world, capsys):
    call_command("create_api_key", "--practice", "lakeside", "--label", "ops")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert _get(client, secret).status_code == 200
    call_command("create_api_key", "--practice", "lakeside", "--revoke", secret[:10])
    assert _get(client, secret).status_code == 401


def test_openapi_schema_and_docs_are_served(client, db):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    doc = json.loads(schema.content)
    assert doc["openapi"].startswith("3.") and "/api/v1/practice" in doc["paths"]
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer"
               for s in doc["components"]["securitySchemes"].values())
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_revoking_by_prefix_works_whatever_characters_the_secret_starts_with(client, world, capsys):
    # token_urlsafe may put '-' or '_' among the first characters: create keys until both occur.
    seen = set()
    for _ in range(200):
        call_command("create_api_key", "--practice", "lakeside")
        secret = capsys.readouterr().out.strip().splitlines()[-1]
        kind = "dash" if "-" in secret[:10] else "plain"
        if kind in seen:
            continue
        seen.add(kind)
        call_command("create_api_key", "--practice", "lakeside", "--revoke", secret[:10])
        assert _get(client, secret).status_code == 401
        if seen == {"dash", "plain"}:
            break
    assert seen == {"dash", "plain"}
