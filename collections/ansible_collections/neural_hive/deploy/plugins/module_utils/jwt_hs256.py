"""Minting the HS256 bearer tokens the gateway accepts (standard library only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

#: Tokens are issued a little in the past: a gateway whose clock is behind must not see a
#: token from the future.
CLOCK_SKEW_S = 30


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_hs256(
    secret: str,
    subject: str,
    ttl_s: int,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """A compact JWS (RFC 7519) signed with HMAC-SHA256: what the gateway's PyJWT checks."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "iat": now - CLOCK_SKEW_S, "exp": now + ttl_s}
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"
