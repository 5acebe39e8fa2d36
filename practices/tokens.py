"""Secrets handed out once (API keys, invitation links) and stored only as a digest."""

import hashlib
import secrets


def token_new() -> str:
    return secrets.token_urlsafe(32)


def token_digest(secret: str) -> str:
    # 256 random bits: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()
