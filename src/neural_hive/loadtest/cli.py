"""`neural-hive-loadtest`: load, chaos and bad-input tests of the deployed local stack.

    neural-hive-loadtest load  --rates 100,250,500 --seconds 60   # then the baseline, then fuzz
    neural-hive-loadtest chaos --rate 100                         # the five fault cases
    neural-hive-loadtest report --doc docs/validation-report.md   # report from results.json

Each run writes its section into <out>/results.json (the other sections are kept), then
rewrites <out>/report.md with its plots and prints the summary. `playbooks/loadtest.yml`
and `playbooks/chaos.yml` call it with the inventory's paths.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("results/loadtest")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="neural-hive-loadtest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("load", "chaos", "report"):
        s = sub.add_parser(name)
        s.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
        s.add_argument("--doc", type=Path, help="also write this validation page (docs/...)")
        if name == "report":
            continue
        s.add_argument("--network", default="neural-hive", help="the Podman network")
        s.add_argument("--jwt-secret-file", type=Path, help="the gateway's HS256 secret")
        s.add_argument("--data", type=Path, default=Path("data/nlu"), help="NLU data set")
        if name == "load":
            s.add_argument("--rates", default="100,250,500", help="intents/s, one step each")
            s.add_argument("--seconds", type=float, default=60.0, help="length of each step")
            s.add_argument("--voice-every", type=float, default=2.0, help="0: no voice")
            s.add_argument("--no-baseline", action="store_true")
            s.add_argument("--no-fuzz", action="store_true")
        else:
            s.add_argument("--rate", type=float, default=100.0, help="steady intents/s")
            s.add_argument("--cases", default="all", help="comma-separated case names, or all")
    args = p.parse_args(argv)
    if args.command == "load":
        try:
            args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
        except ValueError:
            p.error(f"--rates takes numbers separated by commas, got {args.rates!r}")
        if not args.rates or min(args.rates) <= 0 or args.seconds <= 0:
            p.error("--rates and --seconds must be positive")
    return args


def load_results(out: Path) -> dict[str, Any]:
    path = out / "results.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def save_results(out: Path, results: dict[str, Any], doc: Path | None) -> None:
    from neural_hive.loadtest.report import summary_table, write_report, write_validation_doc
    from neural_hive.loadtest.targets import judge

    out.mkdir(parents=True, exist_ok=True)
    results["targets"] = judge(results)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    report = write_report(results, out)
    if doc is not None:
        write_validation_doc(results, out, doc)
    print(summary_table(results))
    for t in results["targets"]:
        mark = {True: "met", False: "MISSED", None: "-"}[t["met"]]
        print(f"{mark:6} {t['measure']}: {t['result']} (target {t['target']})")
    print(f"report: {report}" + (f", {doc}" if doc else ""))


def voice_clips(texts: list[tuple[str, str]]) -> list[tuple[str, bytes]]:
    """One spoken intent per language, synthesised by espeak-ng; none without it."""
    if shutil.which("espeak-ng") is None:
        return []
    voices = {"pt": "pt-br", "en": "en-us", "es": "es"}
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for lang, voice in voices.items():
            text = next(t for lg, t in texts if lg == lang)
            wav = Path(tmp) / f"{lang}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
            clips.append((lang, wav.read_bytes()))
    return clips


async def run_load(args: argparse.Namespace, stack: Any, results: dict[str, Any]) -> None:
    from neural_hive.loadtest.load import run_steps, started_meta, wait_quiet
    from neural_hive.loadtest.podman import WORKLOADS
    from neural_hive.loadtest.tap import DecisionTap
    from neural_hive.loadtest.traffic import Traffic, Voice, load_texts

    texts = load_texts(args.data)
    gateway = f"http://{stack.address('gateway-intencoes')}:8000"
    token = _token(args)
    asr = await _asr_state(gateway)
    clips = voice_clips(texts) if args.voice_every > 0 and asr == "ok" else []
    voice = Voice(clips, args.voice_every) if clips else None
    chaos_rate = results.get("meta", {}).get("chaos_rate")  # the other run's, kept
    results["meta"] = {**started_meta("podman", gateway), "chaos_rate": chaos_rate}
    results["meta"]["voice"] = (
        f"one intent every {args.voice_every:g} s" if voice else f"none (gateway ASR: {asr})"
    )
    before = stack.restarts(*WORKLOADS)
    async with (
        DecisionTap(stack.tap_command()) as tap,
        Traffic(gateway, texts, token, voice=voice) as t,
    ):
        results["steps"] = await run_steps(t, args.rates, args.seconds, tap, "gateway")
        await wait_quiet(t, tap)  # the baseline must not share the CPUs with a backlog
    # A workload that died under load (its restart policy brought it back) shows here.
    after = stack.restarts(*WORKLOADS)
    results["meta"]["restarts"] = {w: n - before[w] for w, n in after.items() if n > before[w]}
    if not args.no_baseline:
        url = stack.start_baseline(stack.image("gateway-intencoes"))
        try:
            await _wait_http(url)
            async with Traffic(url, texts) as t:
                steps = await run_steps(t, args.rates, args.seconds, None, "baseline")
        finally:
            stack.stop_baseline()
        results["baseline"] = {
            "name": "empty FastAPI route, gateway image, same Podman network",
            "steps": steps,
        }
    if not args.no_fuzz:
        from neural_hive.loadtest.fuzz import fuzz_gateway, fuzz_specialists
        from neural_hive.loadtest.podman import SPECIALISTS

        sys.stderr.write("bad input: schemathesis on the gateway, bad bytes to the specialists\n")
        results["fuzz"] = {
            "gateway": await asyncio.to_thread(
                fuzz_gateway,
                gateway,
                token,
                not_installed=() if asr == "ok" else ("/intentions/voice",),
            ),
            **await fuzz_specialists({s: f"{stack.address(s)}:50051" for s in SPECIALISTS}),
        }


async def run_chaos_cmd(args: argparse.Namespace, stack: Any, results: dict[str, Any]) -> None:
    from neural_hive.loadtest.chaos import CASES, run_chaos
    from neural_hive.loadtest.traffic import Traffic, load_texts

    wanted = None if args.cases == "all" else {c.strip() for c in args.cases.split(",")}
    cases = [c for c in CASES if wanted is None or c.name in wanted]
    if wanted is not None and len(cases) != len(wanted):
        known = ", ".join(c.name for c in CASES)
        raise SystemExit(f"unknown chaos case in {sorted(wanted)}; known: {known}")
    gateway = f"http://{stack.address('gateway-intencoes')}:8000"
    async with Traffic(gateway, load_texts(args.data), _token(args)) as t:
        results["chaos"] = await run_chaos(stack, t, cases, args.rate)
    results.setdefault("meta", {})["chaos_rate"] = args.rate


def _token(args: argparse.Namespace) -> str | None:
    from neural_hive.loadtest.traffic import mint_token

    if args.jwt_secret_file is None:
        return None
    if not args.jwt_secret_file.is_file():
        raise SystemExit(f"no JWT secret at {args.jwt_secret_file}")
    return mint_token(args.jwt_secret_file.read_text().strip())


async def _asr_state(gateway: str) -> str:
    """The gateway's own word on speech: ok, or why voice intents would be refused."""
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(f"{gateway}/ready") as r:
        body = await r.json(content_type=None)
    asr = body.get("checks", {}).get("asr", {})
    return "ok" if asr.get("state") == "ok" else f"{asr.get('state')}: {asr.get('detail')}"


async def _wait_http(url: str, timeout_s: float = 30) -> None:
    import aiohttp

    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    async with aiohttp.ClientSession() as s:
        while True:
            try:
                async with s.post(f"{url}/intentions", json={}) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                if loop.time() > end:
                    raise
            await asyncio.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = load_results(args.out)
    if args.command != "report":
        from neural_hive.loadtest.podman import PodmanStack, StackError

        stack = PodmanStack(args.network)
        run = run_load if args.command == "load" else run_chaos_cmd
        try:
            asyncio.run(run(args, stack, results))
        except StackError as exc:
            sys.exit(f"neural-hive-loadtest: {exc}")
    save_results(args.out, results, args.doc)


if __name__ == "__main__":
    main()
