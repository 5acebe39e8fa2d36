"""A per-sender rate limit shared by every worker: a token bucket in Redis.

Each send reserves one token from the bucket of its sender (a Twilio number or messaging
service, or the email provider) and sleeps until its reservation time, so all workers together
stay at the configured rate and a burst of 10,000 drains evenly instead of provoking 429s.
When Redis is unreachable (or not configured, as in the embedded default) each process paces
itself at the full rate divided by NOTIFICATIONS_RATE_PROCESSES.
"""

import logging
import threading
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# Reserve `want` tokens; answer how long to wait (seconds) before using them. Redis's own clock
# keeps every worker on the same time line.
_RESERVE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate)
tokens = tokens - want
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
if tokens >= 0 then return '0' end
return tostring(-tokens / rate)
"""

_local = threading.local()
_client_lock = threading.Lock()
_clients: dict = {}


def _redis():
    url = getattr(settings, "NOTIFICATIONS_REDIS_URL", "")
    if not url:
        return None
    with _client_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            client._reserve = client.register_script(_RESERVE)
            _clients[url] = client
        return client


def rate_for(channel: str, practice_rate: float | None) -> float:
    if practice_rate:
        return float(practice_rate)
    return float(settings.NOTIFICATIONS_RATES.get(channel, 10.0))


def _local_wait(sender: str, rate: float) -> float:
    rate = rate / max(1, int(settings.NOTIFICATIONS_RATE_PROCESSES))
    buckets = getattr(_local, "buckets", None)
    if buckets is None:
        buckets = _local.buckets = {}
    now = time.monotonic()
    next_free = max(buckets.get(sender, now), now)
    buckets[sender] = next_free + 1.0 / rate
    return next_free - now


def sending_rate_acquire(*, sender: str, rate: float) -> float:
    """Block until this process may make one send for `sender`; return the seconds waited."""
    client = _redis()
    wait = None
    if client is not None:
        try:
            wait = float(client._reserve(keys=[f"notif:rate:{sender}"],
                                         args=[rate, max(1.0, rate * 0.1), 1]))
        except redis.RedisError:
            logger.warning("sending rate: Redis unreachable, pacing locally")
    if wait is None:
        wait = _local_wait(sender, rate)
    if wait > 0:
        time.sleep(wait)
    return wait
