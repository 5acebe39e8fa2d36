"""The Twilio REST client, one per process, reusing one HTTP connection.

`TWILIO_API_BASE_URL` (tests and benchmarks) points the client's `http_client` at a loopback
fake of Twilio's REST API; empty means the real https://api.twilio.com and friends.
"""

import re
from functools import lru_cache

from django.conf import settings
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

_TWILIO_HOST = re.compile(r"^https://[a-z.]*api\.twilio\.com")


class RedirectableHttpClient(TwilioHttpClient):
    def __init__(self, base_url: str = "", **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        if self.base_url and self.session is not None:
            from requests.adapters import HTTPAdapter

            self.session.mount("http://", HTTPAdapter(pool_maxsize=4))

    def request(self, method, url, *args, **kwargs):
        if self.base_url:
            url = _TWILIO_HOST.sub(self.base_url, url)
        return super().request(method, url, *args, **kwargs)


@lru_cache(maxsize=4)
def _client(account_sid: str, auth_token: str, base_url: str, timeout: float) -> Client:
    http_client = RedirectableHttpClient(base_url=base_url, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)


def twilio_client() -> Client:
    return _client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN,
                   settings.TWILIO_API_BASE_URL, float(settings.TWILIO_TIMEOUT))
