"""Redis for the gateway: idempotency claims, the intent hash, the NLU cache and the set of
intents that await a decision (republished from here when a broker lost them).

Redis is a helper, not a gate: when it is unreachable the gateway still accepts and
publishes intents, without dedup, and says so in /ready.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any, NamedTuple

import redis.asyncio as aioredis

from neural_hive.common.contracts import PENDING_KEY, intent_key

log = logging.getLogger(__name__)
RedisDown = (aioredis.RedisError, OSError)


_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


REDELIVERY_TURN_KEY = "intents:redelivery-turn"


class Pending(NamedTuple):
    """An acknowledged intent still without a decision, as stored after its publish."""

    intent_id: str
    topic: str
    envelope: bytes
    redeliveries: int


def now_ms() -> int:
    return int(time.time() * 1000)


def dedup_key(correlation_id: str) -> str:
    return f"dedup:{correlation_id}"


def nlu_key(lang: str | None, text: str) -> str:
    return "nlu:" + hashlib.sha256(f"{lang or '-'}\x00{text}".encode()).hexdigest()


class IntentStore:
    def __init__(
        self,
        url: str,
        *,
        dedup_ttl_s: int,
        intent_ttl_s: int,
        nlu_ttl_s: int,
        max_connections: int = 256,
    ) -> None:
        # A burst (requests that waited on a slow broker all releasing their claims at once)
        # waits up to 0.5 s for a connection instead of failing at once: a failed release
        # would leave a claim that answers the client's retry with duplicate_detected.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=0.5,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            decode_responses=True,
        )
        self.redis: aioredis.Redis = aioredis.Redis(connection_pool=pool)
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

    async def begin(
        self, correlation_id: str | None, intent_id: str, lang: str | None, text: str
    ) -> tuple[str | bool | None, dict[str, Any] | None]:
        """One round trip before the NLU: the idempotency claim and the NLU cache lookup.

        The claim is SET NX of the correlation id (when the request has one): None when
        this intent claimed it, the first intent's id when it was already claimed, False
        when Redis is unreachable (dedup degraded). The second value is the cached NLU
        result, or None.
        """
        claim: str | bool | None = None
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                if correlation_id:
                    key = dedup_key(correlation_id)
                    pipe.set(key, intent_id, nx=True, ex=self.dedup_ttl_s)
                    pipe.get(key)
                if self.nlu_ttl_s:
                    pipe.get(nlu_key(lang, text))
                replies = await pipe.execute() if len(pipe) else []
        except RedisDown as exc:
            self._failed("begin", exc)
            return (False if correlation_id else None), None
        if correlation_id:
            claimed, holder = replies[0], replies[1]
            claim = None if claimed or not holder else str(holder)
            replies = replies[2:]
        cached = replies[0] if replies else None
        return claim, (dict(json.loads(cached)) if cached else None)

    async def release(self, correlation_id: str, intent_id: str) -> None:
        """Undo a claim whose intent was never published (only if it is still ours)."""
        try:
            await self._release(keys=[dedup_key(correlation_id)], args=[intent_id])
        except RedisDown as exc:
            self._failed("release", exc)

    async def record(
        self,
        intent_id: str,
        envelope: bytes,
        nlu: tuple[str | None, str, dict[str, Any]] | None,
        topic: str,
    ) -> None:
        """One round trip after the broker's ack: the intent hash (envelope and topic) with
        its TTL, the intent in the pending set until the consensus engine decided it (or, for
        human validation, read it back), and, when the NLU ran for this request, its result
        for the cache (``(lang, text, result)``)."""
        key = intent_key(intent_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"envelope": envelope, "topic": topic})
                pipe.expire(key, self.intent_ttl_s)
                pipe.zadd(PENDING_KEY, {intent_id: now_ms()})
                if nlu is not None and self.nlu_ttl_s:
                    lang, text, result = nlu
                    pipe.set(nlu_key(lang, text), json.dumps(result), ex=self.nlu_ttl_s)
                await pipe.execute()
        except RedisDown as exc:
            self._failed("record", exc)

    async def overdue(self, published_before_ms: int, limit: int) -> list[Pending]:
        """Intents last published before the given time and not confirmed since, oldest
        first. Those decided meanwhile, or whose hash expired, leave the pending set here.
        Raises when Redis is down."""
        ids = [
            str(i)
            for i in await self.redis.zrangebyscore(
                PENDING_KEY, "-inf", published_before_ms, start=0, num=limit
            )
        ]
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for intent_id in ids:
                key = intent_key(intent_id)
                pipe.hmget(key, "envelope", "topic", "redeliveries")
                pipe.hexists(key, "decision")
            replies = await pipe.execute()
        found, done = [], []
        for intent_id, (envelope, topic, count), decided in zip(
            ids, replies[::2], replies[1::2], strict=True
        ):
            if decided or envelope is None or topic is None:
                done.append(intent_id)
            else:
                found.append(Pending(intent_id, topic, envelope.encode(), int(count or 0)))
        if done:
            await self.redis.zrem(PENDING_KEY, *done)
        return found

    async def redelivered(self, intent_id: str) -> None:
        """Restart the intent's wait (unless it was decided meanwhile) and count the retry."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(PENDING_KEY, {intent_id: now_ms()}, xx=True)
            pipe.hincrby(intent_key(intent_id), "redeliveries", 1)
            await pipe.execute()

    async def abandon(self, *intent_ids: str) -> None:
        """Stop waiting for these intents' decisions."""
        if intent_ids:
            await self.redis.zrem(PENDING_KEY, *intent_ids)

    async def take_redelivery_turn(self, holder: str, ttl_ms: int) -> bool:
        """One gateway replica redelivers per period: True when this one got the turn."""
        return bool(await self.redis.set(REDELIVERY_TURN_KEY, holder, nx=True, px=ttl_ms))

    async def load_intent(self, intent_id: str) -> dict[str, Any] | None:
        """The intent's `envelope` and, once decided, its `decision`, decoded; None when
        unknown. Raises when Redis is down."""
        envelope, decision = await self.redis.hmget(intent_key(intent_id), "envelope", "decision")
        if envelope is None:
            return None
        return {"envelope": json.loads(envelope), "decision": decision and json.loads(decision)}

    async def close(self) -> None:
        await self.redis.aclose(close_connection_pool=True)
