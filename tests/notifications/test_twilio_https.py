"""The Twilio HTTP client over HTTPS, as production sends: a loopback Twilio with a certificate
from a certificate authority made here (trusted through SSL_CERT_FILE, as an operator would), a
proxy that only tunnels, and the environment's proxy variables."""

import base64
import ssl
from types import SimpleNamespace

import pytest
import trustme

from notifications import dispatch
from notifications.channels import TemporaryError
from notifications.channels.sms import TwilioSmsChannel
from notifications.channels.twilio_client import (
    KeepAliveHttpClient,
    LibraryHttpClient,
    _client,
    twilio_client,
)
from notifications.models import Status
from notifications.services import Recipient

from .fake_providers import ConnectProxy, FakeTwilio

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                   "ALL_PROXY", "all_proxy")


@pytest.fixture
def authority(tmp_path, monkeypatch):
    """A certificate authority of this test, trusted by OpenSSL's defaults in this process."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    _client.cache_clear()
    yield ca
    _client.cache_clear()


def _twilio_over_tls(ca, *names):
    """The loopback fake of Twilio over HTTPS, with a certificate for `names` signed by `ca`."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(server)
    return FakeTwilio().start(tls=server)


@pytest.fixture
def engine(settings, world, daytime):
    settings.MESSAGING_SANDBOX = False
    settings.TWILIO_TIMEOUT = 3
    settings.NOTIFICATIONS_RATES = {"sms": 1000.0, "voice": 1000.0, "email": 1000.0}
    return settings


def test_texts_go_over_https_to_a_host_with_a_trusted_certificate(authority, engine, schedule):
    fake = _twilio_over_tls(authority, "localhost")
    try:
        engine.TWILIO_API_BASE_URL = f"https://localhost:{fake.port}"
        sent = [schedule(idempotency_key=f"tls-{i}", recipient=Recipient(kind="patient", id=i))
                for i in range(3)]
        assert dispatch.drain_inline()["sent"] == 3
        assert len(fake.messages) == 3 and len(fake.peers) == 1  # one kept-alive TLS connection
        for n in sent:
            n.refresh_from_db()
            assert n.status == Status.SENT and n.provider_message_id.startswith("SM")
        assert isinstance(twilio_client().http_client, KeepAliveHttpClient)
    finally:
        fake.stop()


@pytest.mark.parametrize("certificate_for", ["another.example", None])
def test_a_certificate_that_does_not_verify_sends_nothing(authority, engine, schedule,
                                                          certificate_for):
    if certificate_for is None:  # the right name, from an authority nobody trusts
        fake = _twilio_over_tls(trustme.CA(), "localhost")
    else:
        fake = _twilio_over_tls(authority, certificate_for)
    try:
        engine.TWILIO_API_BASE_URL = f"https://localhost:{fake.port}"
        n = schedule()
        assert dispatch.drain_inline()["failed"] == 1
        n.refresh_from_db()
        assert n.status == Status.UNDELIVERABLE_RETRY and "SSLCertVerificationError" in n.last_error
        assert fake.messages == []
    finally:
        fake.stop()


def test_https_proxy_tunnels_to_twilio_with_the_proxys_credentials(authority, engine, schedule,
                                                                    monkeypatch):
    # Twilio's real host name: the client reaches it only through the proxy, which tunnels to the
    # loopback fake holding a certificate for api.twilio.com.
    fake = _twilio_over_tls(authority, "api.twilio.com")
    proxy = ConnectProxy(upstream=fake.port).start()
    try:
        engine.TWILIO_API_BASE_URL = ""
        monkeypatch.setenv("HTTPS_PROXY", f"http://ops%40clinic:s3cret@127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "localhost,.internal.example")
        n = schedule()
        assert dispatch.drain_inline()["sent"] == 1
        n.refresh_from_db()
        assert n.status == Status.SENT and [m["sid"] for m in fake.messages] == [n.provider_message_id]
        assert proxy.tunnels == [("api.twilio.com:443",
                                  "Basic " + base64.b64encode(b"ops@clinic:s3cret").decode())]
        # The lookup after an interrupted send goes the same way.
        assert TwilioSmsChannel().lookup(n) == n.provider_message_id
        assert [target for target, _ in proxy.tunnels] == ["api.twilio.com:443"] * len(proxy.tunnels)
    finally:
        proxy.stop()
        fake.stop()


def test_no_proxy_hosts_are_reached_directly(authority, engine, schedule, monkeypatch):
    fake = _twilio_over_tls(authority, "localhost")
    proxy = ConnectProxy(upstream=fake.port).start()
    try:
        engine.TWILIO_API_BASE_URL = f"https://localhost:{fake.port}"
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("no_proxy", "example.org,localhost")
        schedule()
        assert dispatch.drain_inline()["sent"] == 1
        assert len(fake.messages) == 1 and proxy.tunnels == []
    finally:
        proxy.stop()
        fake.stop()


def test_a_proxy_the_fast_client_cannot_speak_to_is_left_to_the_twilio_librarys_client(
        authority, engine, monkeypatch):
    engine.TWILIO_API_BASE_URL = ""
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.internal.example:3129")
    assert isinstance(twilio_client().http_client, LibraryHttpClient)
    monkeypatch.setenv("HTTPS_PROXY", "socks5://proxy.internal.example:1080")
    assert isinstance(twilio_client().http_client, LibraryHttpClient)
    monkeypatch.setenv("NO_PROXY", "api.twilio.com")
    assert isinstance(twilio_client().http_client, KeepAliveHttpClient)


def test_a_proxy_that_refuses_the_tunnel_is_a_temporary_error(authority, engine, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    engine.TWILIO_API_BASE_URL = ""
    message = SimpleNamespace(pk=1, address="+13125550111", body="b")
    with pytest.raises(TemporaryError, match="Twilio unreachable"):
        TwilioSmsChannel().send(message, "+13125550100")
