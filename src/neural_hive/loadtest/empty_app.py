"""The latency baseline: an empty FastAPI route served like the gateway.

`bench/gateway_bench.py` runs it beside the gateway's process; `neural-hive-loadtest`
runs it from the gateway's image on the same Podman network. Whatever either measures
above this route's latency is the gateway's own cost.
"""

from fastapi import FastAPI

app = FastAPI()


@app.post("/intentions")
async def empty() -> dict[str, str]:
    return {"status": "ok"}
