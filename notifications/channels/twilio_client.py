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

HTTPS is verified against the system's certificate authorities (OpenSSL's defaults, so
`SSL_CERT_FILE` and `SSL_CERT_DIR` apply). Proxies come from the environment as for any HTTP
client (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, any case): HTTPS goes through an http:// proxy
in a CONNECT tunnel, with the proxy URL's user and password as Basic credentials. A proxy this
client cannot speak to (https:// or socks) makes `twilio_client` use the twilio library's own
HTTP client (requests) instead, which can.
"""

import base64
import http.client
import logging
import os
import re
import select
import ssl
import threading
import urllib.request
from functools import lru_cache
from urllib.parse import unquote, urlencode, urlsplit

from django.conf import settings
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
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


def proxy_for(scheme: str, netloc: str) -> str:
    """The proxy URL the environment names for this scheme and host ("" for none)."""
    proxies = urllib.request.getproxies_environment()
    if not proxies.get(scheme) or urllib.request.proxy_bypass_environment(netloc, proxies):
        return ""
    return proxies[scheme]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


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
        """This thread's connection for (scheme, host), opened if needed: direct, or through the
        environment's proxy (returned with the request's path prefix and headers it needs)."""
        local = self._local
        key = (scheme, netloc, timeout, os.getpid())  # a forked child opens its own socket
        conn = getattr(local, "conn", None)
        if conn is not None and (local.key != key or _dropped(conn.sock)):
            if local.key[3] == key[3]:
                self.close()
            conn = local.conn = None
        if conn is None:
            (local.conn, local.via), local.key = self._open(scheme, netloc, timeout), key
        return local.conn, local.via

    def _open(self, scheme: str, netloc: str, timeout: float):
        """A new connection, and what a request on it needs: a prefix for its path (a plain-HTTP
        request through a proxy names the whole URL) and headers for the proxy."""
        proxy = urlsplit(proxy_for(scheme, netloc))
        credentials = ({"Proxy-Authorization": _basic(unquote(proxy.username or ""),
                                                       unquote(proxy.password or ""))}
                       if proxy.username else {})
        direct = ("", {})
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            if not proxy.hostname:
                return http.client.HTTPSConnection(netloc, timeout=timeout, context=self._ssl), direct
            # CONNECT through the proxy, then TLS with Twilio itself (its name is checked).
            conn = http.client.HTTPSConnection(proxy.hostname, proxy.port or 80, timeout=timeout,
                                               context=self._ssl)
            conn.set_tunnel(netloc, headers=credentials)
            return conn, direct
        if not proxy.hostname:
            return http.client.HTTPConnection(netloc, timeout=timeout), direct
        return (http.client.HTTPConnection(proxy.hostname, proxy.port or 80, timeout=timeout),
                (f"http://{netloc}", credentials))

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
            header = self._auth_header[auth] = _basic(*auth)
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
        conn, (prefix, proxy_headers) = self._connection(parts.scheme, parts.netloc, seconds)
        if proxy_headers:
            headers.update(proxy_headers)
        try:
            conn.request(method.upper(), prefix + path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8")
        except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors too
            self.close()
            raise TwilioConnectionError(exc) from exc
        if response.will_close:
            self.close()
        self.last_response = Response(response.status, text, dict(response.getheaders()))
        return self.last_response


class LibraryHttpClient(TwilioHttpClient):
    """The twilio library's own HTTP client (requests), for proxies the fast one cannot use;
    `base_url` points it at a loopback fake as for the fast one."""

    def __init__(self, base_url: str = "", timeout: float = 10.0):
        super().__init__(timeout=timeout, logger=logger)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url:
            url = _TWILIO_HOST.sub(self.base_url, url)
        return super().request(method, url, *args, **kwargs)


def fast_client_serves(base_url: str) -> bool:
    """False where the environment's proxy for Twilio's API is one the fast client cannot
    use: it speaks plain HTTP to a proxy (CONNECT for HTTPS), not TLS or SOCKS."""
    target = urlsplit(base_url or "https://api.twilio.com")
    proxy = proxy_for(target.scheme, target.netloc)
    return not proxy or urlsplit(proxy).scheme == "http"


# The environment variables that choose a proxy: a change of any makes a new client.
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                    "ALL_PROXY", "all_proxy")


@lru_cache(maxsize=4)
def _client(account_sid: str, auth_token: str, base_url: str, timeout: float,
            proxy_environment: tuple) -> Client:
    fast = fast_client_serves(base_url)
    http_client = (KeepAliveHttpClient if fast else LibraryHttpClient)(base_url=base_url,
                                                                        timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)


def twilio_client() -> Client:
    return _client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN,
                   settings.TWILIO_API_BASE_URL, float(settings.TWILIO_TIMEOUT),
                   tuple(os.environ.get(name) for name in _PROXY_VARIABLES))
