"""Reads the decision tap (`python -m neural_hive.consensus.tap`) while a test sends intents.

The tap runs where the cluster's Kafka names resolve (inside the consensus engine's
container, through `podman exec`); this side keeps, per intent id, whether it reached Kafka
and its decision, so a test can tell acknowledged-but-lost intents from decided ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Decision:
    decided_at: float  # wall clock, s
    decision: str
    opinions: int


@dataclass
class DecisionTap:
    command: Sequence[str]
    reached_kafka: set[str] = field(default_factory=set)
    redelivered: set[str] = field(default_factory=set)  # published again by the gateway
    decisions: dict[str, Decision] = field(default_factory=dict)
    lag: int | None = None  # the consensus engine's uncommitted intents, when last asked
    # The tap's own log (aiokafka's errors while a broker is away), kept short. It must be
    # read: a full pipe would block the tap mid-write and blind it for the rest of a case.
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    _proc: asyncio.subprocess.Process | None = None
    _readers: list[asyncio.Task[None]] = field(default_factory=list)
    _lag_told: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> DecisionTap:
        self._proc = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        self._readers = [asyncio.create_task(self._read_log())]
        try:
            first = await asyncio.wait_for(self._proc.stdout.readline(), 60)
        except TimeoutError:
            first = b""
        if json.loads(first or b"{}").get("kind") != "ready":
            await self.__aexit__()
            log = " | ".join(self.stderr_tail)
            raise RuntimeError(f"the decision tap did not start ({' '.join(self.command)}): {log}")
        self._readers.append(asyncio.create_task(self._read()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
        for reader in self._readers:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def ask_lag(self, timeout_s: float = 10.0) -> int | None:
        """The consensus engine's lag, asked of the tap now (it does not report it
        unasked: see neural_hive.consensus.tap); None when it does not answer in time."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            return None
        self._lag_told.clear()
        proc.stdin.write(b"lag\n")
        await proc.stdin.drain()
        try:
            await asyncio.wait_for(self._lag_told.wait(), timeout_s)
        except TimeoutError:
            return None
        return self.lag

    async def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        async for raw in self._proc.stdout:
            self.take(json.loads(raw))

    async def _read_log(self) -> None:
        assert self._proc is not None
        assert self._proc.stderr is not None
        async for raw in self._proc.stderr:
            self.stderr_tail.append(raw.decode(errors="replace").rstrip())

    def confirm(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        """Take decisions the tap missed from the gateway's records (GET /intentions/{id}):
        the engine decided those intents, so they reached Kafka. The tap cannot see a record
        that a broker without storage acknowledged and then lost in a restart before the
        tap's next fetch, though the engine had read it."""
        for ident, d in records.items():
            line = {"decision": d.get("decision"), "decided_at": d.get("decided_at")}
            opinions = (d.get("quorum") or {}).get("received")
            self.take({"kind": "decision", "id": ident, **line, "opinions": opinions, "ts": 0})

    def take(self, line: dict[str, Any]) -> None:
        if line.get("kind") == "lag":
            self.lag = line.get("lag")
            self._lag_told.set()
            return
        ident = line.get("id")
        if not isinstance(ident, str):
            return
        if line.get("kind") == "intent":
            self.reached_kafka.add(ident)
            if line.get("redelivery"):
                self.redelivered.add(ident)
        elif line.get("kind") == "decision":
            self.reached_kafka.add(ident)  # decided, so it was on an intent topic
            when = line.get("decided_at")
            decided = datetime.fromisoformat(when).timestamp() if when else line["ts"] / 1000
            self.decisions[ident] = Decision(
                decided,
                str(line.get("decision")),
                int(line.get("opinions") or 0),
            )

    async def drain(self, ids: set[str], timeout_s: float, seen: set[str] | None = None) -> None:
        """Wait until every id in `ids` has a decision and the tap has read every id in
        `seen` (so a tap that is merely behind does not count an intent lost), or until
        `timeout_s` passes."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        seen = seen or set()
        while loop.time() < end and not (  # noqa: ASYNC110 - many events
            ids <= self.decisions.keys() and seen <= self.reached_kafka
        ):
            await asyncio.sleep(0.1)
