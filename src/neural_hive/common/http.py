"""The small HTTP side every gRPC/Kafka service exposes: /health, /ready, /metrics.

/health is liveness (the process answers); /ready reports each dependency and is 503
only when a dependency the service cannot work without is down; optional ones degrade
the details but never liveness.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CheckState = Literal["ok", "degraded", "down", "skipped"]


@dataclass(slots=True)
class Readiness:
    """Dependency checks: `required` ones decide readiness, others only inform."""

    checks: dict[str, tuple[CheckState, str]] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)

    def set(self, name: str, state: CheckState, detail: str = "", *, required: bool) -> None:
        self.checks[name] = (state, detail)
        if required:
            self.required.add(name)

    @property
    def ready(self) -> bool:
        return all(self.checks[n][0] == "ok" for n in self.required if n in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not_ready",
            "checks": {
                n: {"state": s, "detail": d, "required": n in self.required}
                for n, (s, d) in sorted(self.checks.items())
            },
        }


ReadinessProbe = Callable[[], Awaitable[Readiness]]


def build_app(service: str, probe: ReadinessProbe, registry: CollectorRegistry) -> Starlette:
    async def health(_: Request) -> Response:
        return JSONResponse({"status": "alive", "service": service})

    async def ready(_: Request) -> Response:
        report = await probe()
        return JSONResponse(
            {"service": service, **report.as_dict()}, status_code=200 if report.ready else 503
        )

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/ready", ready),
            Route("/metrics", metrics),
        ]
    )


class HttpServer:
    """uvicorn in the caller's event loop, so one process serves gRPC and HTTP."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the bind error
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
