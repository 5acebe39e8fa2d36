"""The Twilio REST client, one per process, on a lean HTTP client with one keep-alive connection.

Twilio's default `http_client` goes through requests (and urllib3 under it), which costs more
CPU than the call itself at thousands of messages a second. `KeepAliveHttpClient` (the client's
`http_client` hook) speaks to the same API over the standard library's http.client: one
keep-alive connection per process (per thread where threads share the client), reopened after
any error, with the client's timeout on the connect and on every read. `TWILIO_API_BASE_URL`
(tests and benchmarks) points it at a loopback fake of Twilio's REST API; empty means the real
https://*.twilio.com hosts.

A request is never sent twice: a connection the server has closed while idle is noticed before
the request is written (as urllib3 does), and any error after that surfaces to the channel,
which classes it (timeouts and connection errors are temporary).
"""

import base64
import http.client
import logging
import os
import re
import select
import ssl
import threading
from functools import lru_cache
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

logger = logging.getLogger(__name__)
_TWILIO_HOST = re.compile(r"^https://[a-z0-9.-]*\.twilio\.com")


class TwilioConnectionError(TwilioException):
    """The request did not get an HTTP answer: refused, reset, timed out, malformed reply."""

    def __init__(self, cause: BaseException):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


def _dropped(sock) -> bool:
    """An idle keep-alive socket that is readable has been closed by the server (or sent
    something unasked): it must not carry the next request."""
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class KeepAliveHttpClient(HttpClient):
    def __init__(self, base_url: str = "", timeout: float = 10.0):
        super().__init__(logger, False, timeout)
        self.base_url = base_url.rstrip("/")
        # One connection per thread (and per process: see _connection); http.client connections
        # must not be shared between threads.
        self._local = threading.local()
        self._auth_header = {}
        self._ssl = None

    def _connection(self, scheme: str, netloc: str, timeout: float):
        local = self._local
        key = (scheme, netloc, timeout, os.getpid())  # a forked child opens its own socket
        conn = getattr(local, "conn", None)
        if conn is not None and (local.key != key or _dropped(conn.sock)):
            if local.key[3] == key[3]:
                self.close()
            conn = local.conn = None
        if conn is None:
            if scheme == "https":
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()
                conn = http.client.HTTPSConnection(netloc, timeout=timeout, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(netloc, timeout=timeout)
            local.conn, local.key = conn, key
        return conn

    def close(self):
        """Close this thread's connection (the next request opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.close()
            finally:
                self._local.conn = None

    def _authorization(self, auth) -> str:
        header = self._auth_header.get(auth)
        if header is None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            header = self._auth_header[auth] = f"Basic {token}"
        return header

    def request(self, method, url, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        if self.base_url:
            url = _TWILIO_HOST.sub(self.base_url, url)
        parts = urlsplit(url)
        path = parts.path or "/"
        query = parts.query
        if params:
            query = f"{query}&{urlencode(params, doseq=True)}" if query else urlencode(params, doseq=True)
        if query:
            path = f"{path}?{query}"
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = self._authorization(tuple(auth))
        body = None
        if data:
            body = urlencode(data, doseq=True).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        seconds = float(timeout or self.timeout or 10.0)
        conn = self._connection(parts.scheme, parts.netloc, seconds)
        try:
            conn.request(method.upper(), path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8")
        except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors too
            self.close()
            raise TwilioConnectionError(exc) from exc
        if response.will_close:
            self.close()
        self.last_response = Response(response.status, text, dict(response.getheaders()))
        return self.last_response


@lru_cache(maxsize=4)
def _client(account_sid: str, auth_token: str, base_url: str, timeout: float) -> Client:
    return Client(account_sid, auth_token,
                  http_client=KeepAliveHttpClient(base_url=base_url, timeout=timeout))


def twilio_client() -> Client:
    return _client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN,
                   settings.TWILIO_API_BASE_URL, float(settings.TWILIO_TIMEOUT))
