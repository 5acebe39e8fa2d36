"""Settings for bench/quickpay.py: the test profile plus a trivial view to compare against."""

from config.settings.test import *  # noqa: F403

ROOT_URLCONF = "bench.quickpay_urls"
