"""Redis for the gateway: idempotency claims, the intent hash and the NLU cache.

Redis is a helper, not a gate: when it is unreachable the gateway still accepts and
publishes intents, without dedup, and says so in /ready.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis

from neural_hive.common.contracts import intent_key

log = logging.getLogger(__name__)
RedisDown = (aioredis.RedisError, OSError)


_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def dedup_key(correlation_id: str) -> str:
    return f"dedup:{correlation_id}"


def nlu_key(lang: str | None, text: str) -> str:
    return "nlu:" + hashlib.sha256(f"{lang or '-'}\x00{text}".encode()).hexdigest()


class IntentStore:
    def __init__(self, url: str, *, dedup_ttl_s: int, intent_ttl_s: int, nlu_ttl_s: int) -> None:
        self.redis: aioredis.Redis = aioredis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True
        )
        self.dedup_ttl_s, self.intent_ttl_s, self.nlu_ttl_s = dedup_ttl_s, intent_ttl_s, nlu_ttl_s
        self.last_error: str | None = None
        self._release = self.redis.register_script(_COMPARE_AND_DELETE)

    def _failed(self, what: str, exc: Exception) -> None:
        self.last_error = f"{what}: {exc}"
        log.warning("redis unavailable", extra={"fields": {"op": what, "error": str(exc)}})

    async def ping(self) -> bool:
        try:
            await self.redis.ping()
        except RedisDown as exc:
            self._failed("ping", exc)
            return False
        self.last_error = None
        return True

    async def claim(self, correlation_id: str, intent_id: str) -> str | bool | None:
        """SET NX the correlation id. Returns None when claimed, the first intent id when
        already claimed, or False when Redis is unreachable (dedup degraded)."""
        key = dedup_key(correlation_id)
        try:
            if await self.redis.set(key, intent_id, nx=True, ex=self.dedup_ttl_s):
                return None
            first = await self.redis.get(key)
        except RedisDown as exc:
            self._failed("claim", exc)
            return False
        return str(first) if first else None

    async def release(self, correlation_id: str, intent_id: str) -> None:
        """Undo a claim whose intent was never published (only if it is still ours)."""
        try:
            await self._release(keys=[dedup_key(correlation_id)], args=[intent_id])
        except RedisDown as exc:
            self._failed("release", exc)

    async def save_envelope(self, intent_id: str, envelope: bytes) -> None:
        key = intent_key(intent_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, "envelope", envelope)
                pipe.expire(key, self.intent_ttl_s)
                await pipe.execute()
        except RedisDown as exc:
            self._failed("save_envelope", exc)

    async def load_intent(self, intent_id: str) -> dict[str, Any] | None:
        """The intent hash decoded, or None when unknown. Raises when Redis is down."""
        fields = await self.redis.hgetall(intent_key(intent_id))
        if not fields:
            return None
        return {str(k): json.loads(v) for k, v in fields.items()}

    async def cached_nlu(self, lang: str | None, text: str) -> dict[str, Any] | None:
        if not self.nlu_ttl_s:
            return None
        try:
            raw = await self.redis.get(nlu_key(lang, text))
        except RedisDown as exc:
            self._failed("nlu_cache_get", exc)
            return None
        return dict(json.loads(raw)) if raw else None

    async def cache_nlu(self, lang: str | None, text: str, result: dict[str, Any]) -> None:
        if not self.nlu_ttl_s:
            return
        try:
            await self.redis.set(nlu_key(lang, text), json.dumps(result), ex=self.nlu_ttl_s)
        except RedisDown as exc:
            self._failed("nlu_cache_set", exc)

    async def close(self) -> None:
        await self.redis.aclose()
