"""Open-loop traffic against the gateway: requests sent on a fixed schedule, answers timed.

Open loop means a slow answer does not slow the sender down (a closed loop would hide the
latency it causes), so the achieved rate tells whether the system keeps up. Each request is
a real intent from the NLU data set, in pt, en or es, with its own correlation id; a voice
request (a WAV file) is mixed in at a fixed interval when the caller gives audio.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

LANGUAGES = ("pt", "en", "es")


@dataclass(frozen=True)
class Sample:
    """One request: when it left (wall clock, s), how long the answer took, what it was."""

    sent_at: float
    latency_ms: float
    status: str  # the HTTP code, or "error" for a transport error or a timeout
    kind: str = "text"
    intent_id: str | None = None
    topic: str | None = None


@dataclass
class Voice:
    """Audio files to post to /intentions/voice, one every `every_s` seconds."""

    clips: Sequence[tuple[str, bytes]]  # (language, WAV bytes)
    every_s: float = 2.0


def load_texts(data_dir: Path, per_language: int = 400, seed: int = 7) -> list[tuple[str, str]]:
    """(language, text) pairs from the NLU data set, an equal share per language."""
    rng = random.Random(seed)
    texts: list[tuple[str, str]] = []
    for lang in LANGUAGES:
        path = data_dir / f"{lang}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"no NLU data for {lang!r} at {path}")
        rows = [json.loads(line)["text"] for line in path.read_text().splitlines() if line]
        texts += [(lang, t) for t in rng.sample(rows, min(per_language, len(rows)))]
    rng.shuffle(texts)
    return texts


def mint_token(secret: str, subject: str = "neural-hive-loadtest", ttl_s: int = 3600) -> str:
    import jwt

    now = int(time.time())
    return jwt.encode({"sub": subject, "iat": now, "exp": now + ttl_s}, secret, algorithm="HS256")


@dataclass
class Traffic:
    """Sends intents to `base_url` (the gateway, or the baseline's empty route)."""

    base_url: str
    texts: Sequence[tuple[str, str]]
    token: str | None = None
    timeout_s: float = 10.0
    connections: int = 256
    voice: Voice | None = None
    samples: list[Sample] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Traffic:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        self._session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=self.connections),
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, kind: str, path: str, out: list[Sample], **body: Any) -> None:
        """One request, timed from the moment it leaves; its Sample goes to `out`."""
        assert self._session is not None
        sent, t0 = time.time(), time.perf_counter()
        try:
            async with self._session.post(f"{self.base_url}{path}", **body) as r:
                answer = await r.json(content_type=None) if r.status < 300 else None
                status = str(r.status)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            answer, status = None, "error"
        out.append(_sample(sent, t0, status, kind, answer))

    async def decisions(self, intent_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The decisions the gateway recorded for these intents (GET /intentions/{id});
        an intent still pending, unknown or unreadable is left out."""
        assert self._session is not None
        session = self._session

        async def one(intent_id: str) -> tuple[str, dict[str, Any] | None]:
            try:
                async with session.get(f"{self.base_url}/intentions/{intent_id}") as r:
                    doc = await r.json(content_type=None) if r.status == 200 else None
            except (aiohttp.ClientError, TimeoutError, ValueError):
                doc = None
            decision = doc.get("decision") if isinstance(doc, dict) else None
            return intent_id, decision if isinstance(decision, dict) else None

        found = await asyncio.gather(*map(one, intent_ids))
        return {i: d for i, d in found if d is not None}

    async def _send(self, i: int, out: list[Sample]) -> None:
        lang, text = self.texts[i % len(self.texts)]
        body = {"text": text, "language": lang, "correlation_id": f"lt-{uuid.uuid4().hex}"}
        await self._post("text", "/intentions", out, json=body)

    async def _send_voice(self, clip: tuple[str, bytes], out: list[Sample]) -> None:
        lang, audio = clip
        form = aiohttp.FormData()
        form.add_field("audio", audio, filename="intent.wav", content_type="audio/wav")
        form.add_field("language", lang)
        form.add_field("correlation_id", f"lt-voice-{uuid.uuid4().hex}")
        await self._post("voice", "/intentions/voice", out, data=form)

    async def run(
        self,
        rate: float,
        seconds: float,
        progress: Callable[[float, list[Sample]], None] | None = None,
    ) -> list[Sample]:
        """Send `rate` intents per second for `seconds`; wait for the last answers."""
        loop = asyncio.get_running_loop()
        out: list[Sample] = []
        pending: set[asyncio.Task[None]] = set()
        total = int(rate * seconds)
        start = loop.time()
        next_voice, voices = 0.0, 0
        next_progress = 1.0
        for i in range(total):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = loop.create_task(self._send(i, out))
            pending.add(task)
            task.add_done_callback(pending.discard)
            elapsed = loop.time() - start
            if self.voice and self.voice.clips and elapsed >= next_voice:
                clip = self.voice.clips[voices % len(self.voice.clips)]
                vtask = loop.create_task(self._send_voice(clip, out))
                pending.add(vtask)
                vtask.add_done_callback(pending.discard)
                voices += 1
                next_voice += self.voice.every_s
            if progress and elapsed >= next_progress:
                progress(elapsed, out)
                next_progress += 1.0
        if pending:
            await asyncio.wait(pending, timeout=self.timeout_s + 1)
        self.samples += out
        return out


def _sample(sent: float, t0: float, status: str, kind: str, answer: Any) -> Sample:
    latency = (time.perf_counter() - t0) * 1000
    answer = answer if isinstance(answer, dict) else {}
    return Sample(sent, latency, status, kind, answer.get("intent_id"), answer.get("topic") or None)
