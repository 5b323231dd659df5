"""JWT bearer authentication: HS256 with a shared secret, or RS256 with keys from a JWKS URL."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

import jwt
from fastapi import HTTPException, Request, status

from neural_hive.gateway.settings import GatewaySettings

# Tokens already verified, with their claims: a client sends the same token with every
# request, and verifying it again cost 7% of the gateway's CPU at 500 intents/s. Keyed by
# the whole token (signature included); a hit is still refused once the token expired.
VERIFIED_CACHE_SIZE = 1024


class Authenticator:
    def __init__(self, settings: GatewaySettings) -> None:
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.required = settings.auth_required
        self.algorithm = settings.jwt_algorithm
        self.secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, timeout=5)
            if settings.jwks_url
            else None
        )

    async def __call__(self, request: Request) -> dict[str, Any]:
        """FastAPI dependency: the token's claims, or an anonymous actor when auth is off."""
        header = request.headers.get("authorization", "")
        if not self.required and not header:
            return {"sub": "anonymous"}
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("missing bearer token (Authorization: Bearer <JWT>)")
        known = self._verified.get(token)
        if known is not None:
            if known["exp"] > time.time():
                self._verified.move_to_end(token)
                return known
            del self._verified[token]
        try:
            key: Any = self.secret
            if self.algorithm == "RS256":
                assert self._jwks is not None  # guaranteed by GatewaySettings
                signing = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key = signing.key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"cannot fetch signing keys: {exc}",
                headers={"Retry-After": "5"},
            ) from None
        except jwt.PyJWKClientError as exc:  # e.g. no key with the token's kid
            raise _unauthorized(f"invalid token: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(f"invalid token: {exc}") from None
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )
