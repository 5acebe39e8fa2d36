"""The Twilio REST client, one per process, on a lean HTTP client with one pooled connection.

Twilio's default `http_client` goes through requests and re-reads proxy settings from the
environment on every call, which costs more CPU than the call itself at thousands of messages a
second. `PooledHttpClient` (the client's `http_client` hook) speaks to the same API with
urllib3 directly. `TWILIO_API_BASE_URL` (tests and benchmarks) points it at a loopback fake of
Twilio's REST API; empty means the real https://*.twilio.com hosts.
"""

import base64
import logging
import re
from functools import lru_cache
from urllib.parse import urlencode

import urllib3
from django.conf import settings
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

logger = logging.getLogger(__name__)
_TWILIO_HOST = re.compile(r"^https://[a-z0-9.-]*\.twilio\.com")


class PooledHttpClient(HttpClient):
    def __init__(self, base_url: str = "", timeout: float = 10.0):
        super().__init__(logger, False, timeout)
        self.base_url = base_url.rstrip("/")
        # Connection and read errors surface to the channel, which classes them as temporary.
        self.pool = urllib3.PoolManager(maxsize=2, retries=False)

    def request(self, method, url, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        if self.base_url:
            url = _TWILIO_HOST.sub(self.base_url, url)
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        headers = dict(headers or {})
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        body = None
        if data:
            body = urlencode(data, doseq=True)
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        seconds = timeout or self.timeout or 10.0
        response = self.pool.request(method.upper(), url, body=body, headers=headers,
                                     redirect=allow_redirects,
                                     timeout=urllib3.Timeout(connect=seconds, read=seconds))
        self.last_response = Response(response.status, response.data.decode("utf-8"),
                                      dict(response.headers))
        return self.last_response


@lru_cache(maxsize=4)
def _client(account_sid: str, auth_token: str, base_url: str, timeout: float) -> Client:
    return Client(account_sid, auth_token,
                  http_client=PooledHttpClient(base_url=base_url, timeout=timeout))


def twilio_client() -> Client:
    return _client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN,
                   settings.TWILIO_API_BASE_URL, float(settings.TWILIO_TIMEOUT))
