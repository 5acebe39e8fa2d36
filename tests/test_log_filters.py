"""Bearer tokens in paths (QuickPay, unsubscribe, invitations, password resets) never reach a log."""

import io
import logging

import pytest

from config.log_filters import secret_paths_redact


@pytest.mark.parametrize("path, kept", [
    ("/p/D3SUO7I_gFre3RWttE99Bg", "/p/[redacted]"),
    ("/p/D3SUO7I_gFre3RWttE99Bg/paid?session_id=cs_1", "/p/[redacted]/paid?session_id=cs_1"),
    ("/unsubscribe/eyJhIjoxfQ:1tXy:abc/", "/unsubscribe/[redacted]/"),
    ("/invites/Zm9vYmFy/", "/invites/[redacted]/"),
    ("/accounts/reset/MQ/cbx-5e1f2a/", "/accounts/reset/[redacted]/"),
    ("/patients/12/", "/patients/12/"),
])
def test_secret_segments_are_redacted(path, kept):
    assert secret_paths_redact(f'"GET {path} HTTP/1.1" 404') == f'"GET {kept} HTTP/1.1" 404'


@pytest.mark.django_db
def test_a_quickpay_404_logs_no_token(client):
    console = next(h for h in logging.getLogger().handlers if h.filters)
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        assert client.get("/p/NoSuchToken0123456789ab").status_code == 404
    finally:
        console.setStream(previous)
    written = stream.getvalue()
    assert "Not Found: /p/[redacted]" in written and "NoSuchToken" not in written
