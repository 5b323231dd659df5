"""Turn a load/chaos run's results.json into a Markdown report, plots and a docs page.

Every number shown comes from the results dict; a missing key or section renders as an
en dash, never as an error. matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DASH = "\u2013"
MET = "\u2705"
NOT_MET = "\u274c"

RATE_PNG = "latency_over_rate.png"
DIST_PNG = "latency_distribution.png"
CHAOS_PNG = "chaos_timeline.png"

FIGSIZE = (8.0, 4.5)
DPI = 100

Results = Mapping[str, Any]


# --- formatting ---------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fmt(value: Any, spec: str) -> str:
    num = _number(value)
    if num is not None:
        return format(num, spec)
    return DASH if value is None else _cell(value)


def format_ms(value: Any) -> str:
    """A latency in milliseconds as the tables show it: one decimal, or a dash."""
    return _fmt(value, ".1f")


def format_rps(value: Any) -> str:
    """A rate as the tables show it: whole rates without decimals, others with one."""
    num = _number(value)
    if num is not None and num.is_integer():
        return str(int(num))
    return _fmt(value, ".1f")


def _fmt_int(value: Any) -> str:
    num = _number(value)
    if num is not None and num.is_integer():
        return str(int(num))
    return _fmt(value, ".1f")


def _fmt_pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def _cell(value: Any) -> str:
    if value is None:
        return DASH
    text = " ".join(str(value).split())
    return text.replace("|", "\\|") if text else DASH


def _yes_no(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return DASH


def _met(value: Any) -> str:
    if value is True:
        return MET
    if value is False:
        return NOT_MET
    return DASH


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _records(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _counts(value: Any) -> str:
    counts = _mapping(value)
    if not counts:
        return DASH
    return ", ".join(f"{_cell(k)}: {_fmt_int(v)}" for k, v in sorted(counts.items()))


def error_percent(status: Any) -> float | None:
    """Share of requests that did not get a 2xx (HTTP errors plus transport errors), in %."""
    counts = {str(k): _number(v) for k, v in _mapping(status).items()}
    total = sum(v for v in counts.values() if v is not None)
    if not counts or total <= 0:
        return None
    ok = sum(v for k, v in counts.items() if v is not None and k.startswith("2"))
    return 100.0 * (total - ok) / total


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _steps(results: Results) -> list[Mapping[str, Any]]:
    return _records(results.get("steps"))


def _baseline(results: Results) -> Mapping[str, Any]:
    return _mapping(results.get("baseline"))


def _timeline_cases(results: Results) -> list[Mapping[str, Any]]:
    return [c for c in _records(results.get("chaos")) if _records(c.get("timeline"))]


# --- Markdown sections ----------------------------------------------------------------------


def _meta_lines(results: Results) -> list[str]:
    meta = _mapping(results.get("meta"))
    counts = _mapping(meta.get("restarts"))
    restarts = (
        ", ".join(f"{_cell(w)} {_fmt_int(n)} times" for w, n in sorted(counts.items()))
        if counts
        else ("none" if "restarts" in meta else DASH)
    )
    return [
        f"Measured {_cell(meta.get('started_at'))} on {_cell(meta.get('host'))}, "
        f"{_fmt_int(meta.get('cpus'))} CPUs, Python {_cell(meta.get('python'))}; "
        f"target {_cell(meta.get('target'))}, gateway {_cell(meta.get('gateway'))}.",
        "",
        f"Voice intents: {_cell(meta.get('voice'))}. Chaos load: "
        f"{_cell(meta.get('chaos_rate'))} intents/s.",
        "",
        f"Workloads restarted during the load steps (a crash or an OOM kill): {restarts}.",
    ]


def _targets_lines(results: Results) -> list[str]:
    targets = _records(results.get("targets"))
    if not targets:
        return [DASH]
    rows = [
        [
            _cell(t.get("measure")),
            _cell(t.get("result")),
            _cell(t.get("target")),
            _met(t.get("met")),
        ]
        for t in targets
    ]
    return _table(["measure", "result", "target", "met"], rows)


def _latency_cells(step: Mapping[str, Any]) -> list[str]:
    lat = _mapping(step.get("latency_ms"))
    return [format_ms(lat.get(k)) for k in ("p50", "p95", "p99", "max")]


def _steps_lines(results: Results) -> list[str]:
    steps = _steps(results)
    if not steps:
        return [DASH]
    header = [
        "step", "offered rps", "seconds", "sent", "achieved rps",
        "P50 ms", "P95 ms", "P99 ms", "max ms", "error %", "status",
        "decision P50 ms", "decision P95 ms", "decision P99 ms", "decided", "undecided",
    ]  # fmt: skip
    rows = []
    for step in steps:
        dec = _mapping(step.get("decision_ms"))
        rows.append(
            [
                _cell(step.get("name")),
                format_rps(step.get("offered_rps")),
                _fmt_int(step.get("seconds")),
                _fmt_int(step.get("sent")),
                format_rps(step.get("achieved_rps")),
                *_latency_cells(step),
                _fmt_pct(error_percent(step.get("status"))),
                _counts(step.get("status")),
                *(format_ms(dec.get(k)) for k in ("p50", "p95", "p99")),
                _fmt_int(dec.get("decided")),
                _fmt_int(dec.get("missing")),
            ]
        )
    return _table(header, rows)


def _voice_lines(results: Results) -> list[str]:
    rows = []
    for step in _steps(results):
        voice = _mapping(step.get("voice"))
        if voice:
            lat = _mapping(voice.get("latency_ms"))
            rows.append(
                [
                    _cell(step.get("name")),
                    _fmt_int(voice.get("sent")),
                    _counts(voice.get("status")),
                    *(format_ms(lat.get(k)) for k in ("p50", "p95", "p99", "max")),
                ]
            )
    if not rows:
        return []
    header = ["step", "voice sent", "status", "P50 ms", "P95 ms", "P99 ms", "max ms"]
    return ["", "Voice intents sent alongside:", "", *_table(header, rows)]


def _baseline_lines(results: Results) -> list[str]:
    base = _baseline(results)
    steps = _records(base.get("steps"))
    if not steps:
        return [DASH]
    header = ["step", "offered rps", "achieved rps", "P50 ms", "P95 ms", "P99 ms", "max ms"]
    header += ["error %"]
    rows = [
        [
            _cell(s.get("name")),
            format_rps(s.get("offered_rps")),
            format_rps(s.get("achieved_rps")),
            *_latency_cells(s),
            _fmt_pct(error_percent(s.get("status"))),
        ]
        for s in steps
    ]
    return [f"Baseline: {_cell(base.get('name'))}.", "", *_table(header, rows)]


def _chaos_lines(results: Results) -> list[str]:
    cases = _records(results.get("chaos"))
    if not cases:
        return [DASH]
    header = [
        "case", "fault", "fault at s", "fault end s", "status", "error %", "acked",
        "acked, not in Kafka", "published again", "decided", "reduced quorum",
        "review required", "recovery s",
    ]  # fmt: skip
    rows = [
        [
            _cell(c.get("case")),
            f"`{_cell(c.get('fault'))}`" if c.get("fault") else DASH,
            _fmt(c.get("fault_at_s"), ".1f"),
            _fmt(c.get("fault_end_s"), ".1f"),
            _counts(c.get("status")),
            _fmt_pct(error_percent(c.get("status"))),
            _fmt_int(c.get("acked")),
            _fmt_int(c.get("acked_not_in_kafka")),
            _fmt_int(c.get("redelivered")),
            _fmt_int(c.get("decided")),
            _fmt_int(c.get("reduced_quorum")),
            _fmt_int(c.get("review_required")),
            _fmt(c.get("recovery_s"), ".1f"),
        ]
        for c in cases
    ]
    notes = [f"- {_cell(c.get('case'))}: {_cell(c.get('notes'))}" for c in cases if c.get("notes")]
    return _table(header, rows) + (["", "Notes:", "", *notes] if notes else [])


def _fuzz_lines(results: Results) -> list[str]:
    fuzz = _mapping(results.get("fuzz"))
    gateway = _mapping(fuzz.get("gateway"))
    specialists = _mapping(fuzz.get("specialists"))
    if not gateway and not specialists:
        return [DASH]
    lines: list[str] = ["Gateway:", ""]
    if gateway:
        by_status = _mapping(gateway.get("by_status"))
        raw_errors = gateway.get("server_errors")
        errors: list[Any] = raw_errors if isinstance(raw_errors, list) else []
        row = [
            _fmt_int(gateway.get("cases")),
            *(_fmt_int(by_status.get(k)) for k in ("2xx", "4xx", "5xx")),
            str(len(errors)),
        ]
        lines += _table(["cases", "2xx", "4xx", "5xx", "server errors"], [row])
        lines += [f"- `{_cell(e)}`" for e in errors[:20]]
    else:
        lines.append(DASH)
    lines += ["", "Specialists:", ""]
    if specialists:
        rows = []
        for name, spec in sorted(specialists.items()):
            s = _mapping(spec)
            rows.append(
                [
                    _cell(name),
                    _fmt_int(s.get("cases")),
                    _counts(s.get("by_code")),
                    _fmt_int(s.get("unexpected_count")),
                    _yes_no(s.get("serving_after")),
                ]
            )
        header = ["specialist", "cases", "status codes", "unexpected", "serving after"]
        lines += _table(header, rows)
    else:
        lines.append(DASH)
    return lines


def _images(names: Sequence[str], prefix: str) -> list[str]:
    titles = {
        RATE_PNG: "Latency over achieved rate",
        DIST_PNG: "Latency distribution",
        CHAOS_PNG: "Chaos timeline",
    }
    return [f"![{titles[n]}]({prefix}{n})" for n in names]


def _sections(results: Results, images: Sequence[str], prefix: str) -> list[str]:
    plots = _images([n for n in images if n != CHAOS_PNG], prefix)
    chaos_plot = _images([n for n in images if n == CHAOS_PNG], prefix)
    return [
        "## Targets",
        "",
        *_targets_lines(results),
        "",
        "## Load steps",
        "",
        *_steps_lines(results),
        *_voice_lines(results),
        "",
        "### Baseline",
        "",
        *_baseline_lines(results),
        "",
        *(line for p in plots for line in (p, "")),
        "## Chaos cases",
        "",
        *_chaos_lines(results),
        "",
        *(line for p in chaos_plot for line in (p, "")),
        "## Bad input",
        "",
        *_fuzz_lines(results),
        "",
    ]


# --- plots ----------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def _series(steps: Sequence[Mapping[str, Any]], key: str, pct: str) -> tuple[list[float], ...]:
    points = []
    for step in steps:
        x = _number(step.get("achieved_rps"))
        y = _number(_mapping(step.get(key)).get(pct))
        if x is not None and y is not None and y > 0:
            points.append((x, y))
    points.sort()
    return [p[0] for p in points], [p[1] for p in points]


def _plot_rate(results: Results, path: Path) -> None:
    fig, ax = _pyplot().subplots(figsize=FIGSIZE)
    steps = _steps(results)
    lines = [
        (steps, "latency_ms", "p50", "gateway P50", "-"),
        (steps, "latency_ms", "p95", "gateway P95", "-"),
        (steps, "latency_ms", "p99", "gateway P99", "-"),
        (steps, "decision_ms", "p99", "decision P99", "-"),
        (_records(_baseline(results).get("steps")), "latency_ms", "p99", "baseline P99", "--"),
    ]
    drawn = False
    for data, key, pct, label, style in lines:
        xs, ys = _series(data, key, pct)
        if xs:
            ax.plot(xs, ys, style, marker="o", markersize=3, label=label)
            drawn = True
    if drawn:
        ax.set_yscale("log")
        ax.set_xlabel("achieved requests/s")
        ax.set_ylabel("ms")
        ax.set_title("Latency over rate")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    else:
        _no_data(ax)
    _save(fig, path)


def _samples(step: Mapping[str, Any]) -> list[float]:
    raw = step.get("histogram_ms")
    values = [_number(v) for v in raw] if isinstance(raw, list) else []
    return sorted(v for v in values if v is not None and v > 0)


def _plot_distribution(results: Results, path: Path) -> None:
    fig, ax = _pyplot().subplots(figsize=FIGSIZE)
    series = [(_cell(s.get("name")), "-", _samples(s)) for s in _steps(results)]
    series += [
        (f"baseline: {_cell(s.get('name'))}", "--", _samples(s))
        for s in _records(_baseline(results).get("steps"))
    ]
    drawn = False
    for label, style, values in series:
        if values:
            n = len(values)
            ax.step(values, [(i + 1) / n for i in range(n)], style, where="post", label=label)
            drawn = True
    if drawn:
        ax.set_xscale("log")
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("gateway latency, ms")
        ax.set_ylabel("share of requests at or below")
        ax.set_title("Latency distribution (CDF)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    else:
        _no_data(ax)
    _save(fig, path)


def _plot_chaos(results: Results, path: Path) -> None:
    cases = _timeline_cases(results)
    height = max(FIGSIZE[1], 1.9 * len(cases) + 0.6)
    fig, axes = _pyplot().subplots(
        len(cases), 1, figsize=(FIGSIZE[0], height), squeeze=False, sharex=True
    )
    for case, row in zip(cases, axes, strict=True):
        ax = row[0]
        points = _records(case.get("timeline"))
        ts = [_number(p.get("t")) for p in points]
        for key, label in (("ok", "ok/s"), ("err", "errors/s")):
            pairs = [(t, _number(p.get(key))) for t, p in zip(ts, points, strict=True)]
            xy = [(t, v) for t, v in pairs if t is not None and v is not None]
            ax.plot([t for t, _ in xy], [v for _, v in xy], label=label)
        start, end = _number(case.get("fault_at_s")), _number(case.get("fault_end_s"))
        if start is not None:
            if end is not None and end > start:
                ax.axvspan(start, end, color="tab:red", alpha=0.15, label="fault")
            else:
                ax.axvline(start, color="tab:red", linestyle=":", label="fault")
        ax.set_title(_cell(case.get("case")), fontsize="small")
        ax.set_ylabel("requests")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small", loc="upper right")
    axes[-1][0].set_xlabel("seconds since start")
    _save(fig, path)


_PLOTS: dict[str, Callable[[Results, Path], None]] = {
    RATE_PNG: _plot_rate,
    DIST_PNG: _plot_distribution,
    CHAOS_PNG: _plot_chaos,
}


def _plot_names(results: Results) -> list[str]:
    names = [RATE_PNG, DIST_PNG]
    return [*names, CHAOS_PNG] if _timeline_cases(results) else names


# --- public API -----------------------------------------------------------------------------


def write_report(results: dict[str, Any], out_dir: Path) -> Path:
    """Write report.md and its PNGs into out_dir; return the path of report.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = _plot_names(results)
    for name in names:
        _PLOTS[name](results, out_dir / name)
    lines = [
        "# Load and chaos test report",
        "",
        *_meta_lines(results),
        "",
        *_sections(results, names, ""),
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_validation_doc(results: dict[str, Any], report_dir: Path, doc_path: Path) -> Path:
    """Write the docs page for a run, with its PNGs copied into <doc dir>/validation/.

    PNGs are taken from report_dir (as write_report left them); one not there is drawn.
    """
    img_dir = doc_path.parent / "validation"
    img_dir.mkdir(parents=True, exist_ok=True)
    names = _plot_names(results)
    for name in names:
        if (report_dir / name).is_file():
            shutil.copyfile(report_dir / name, img_dir / name)
        else:
            _PLOTS[name](results, img_dir / name)
    lines = [
        "# Validation report: load, chaos and bad input",
        "",
        "This page is generated by `neural-hive-loadtest report` from the run's results.json "
        "and must not be edited by hand: rerun the load test and regenerate it instead.",
        "",
        *_meta_lines(results),
        "",
        *_sections(results, names, "validation/"),
    ]
    doc_path.parent.mkdir(parents=True, exist_ok=True)
    doc_path.write_text("\n".join(lines), encoding="utf-8")
    return doc_path


def summary_table(results: dict[str, Any]) -> str:
    """A fixed-width plain-text table of the load steps, for the end of a run."""
    header = ["offered rps", "achieved rps", "P50 ms", "P95 ms", "P99 ms", "error %", "dec P99 ms"]
    rows = []
    for step in _steps(results):
        lat = _mapping(step.get("latency_ms"))
        rows.append(
            [
                format_rps(step.get("offered_rps")),
                format_rps(step.get("achieved_rps")),
                *(format_ms(lat.get(k)) for k in ("p50", "p95", "p99")),
                _fmt_pct(error_percent(step.get("status"))),
                format_ms(_mapping(step.get("decision_ms")).get("p99")),
            ]
        )
    if not rows:
        rows.append([DASH] * len(header))
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    return "\n".join(lines) + "\n"
