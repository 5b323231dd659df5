"""The baseline for bench/gateway_bench.py: an empty FastAPI route served like the gateway."""

from fastapi import FastAPI

app = FastAPI()


@app.post("/intentions")
async def empty() -> dict[str, str]:
    return {"status": "ok"}
