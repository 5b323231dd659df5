# Copyright: Neural Hive-Mind contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""verify_table: the verify play's check results as a fixed-width text table.

Documented in verify_table.yml (``ansible-doc -t filter neural_hive.deploy.verify_table``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

RESULTS = ("passed", "failed", "skipped")
HEADERS = ("CHECK", "RESULT", "TIME (ms)", "DETAIL")
TIME_WIDTH = 9
RESULT_WIDTH = 7


def _text(value: Any) -> str:
    """One line: newlines and tabs folded into spaces, runs of spaces collapsed."""
    if value is None:
        return ""
    return " ".join(str(value).split())


def _clip(text: str, width: int) -> str:
    if width <= 0 or len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    return text[: width - 3] + "..."


def _time(value: Any, index: int) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise AnsibleFilterError(f"verify_table: check #{index + 1}: time_ms is a boolean")
    try:
        ms = float(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(
            f"verify_table: check #{index + 1}: time_ms must be a number, got {value!r}"
        ) from None
    if ms < 0:
        raise AnsibleFilterError(f"verify_table: check #{index + 1}: time_ms is negative")
    return ms


def _fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:.0f}" if ms >= 10 else f"{ms:.1f}"


def verify_table(
    checks: Sequence[Mapping[str, Any]], check_width: int = 48, detail_width: int = 72
) -> str:
    """The table: a header, one line per check, a rule and a totals line."""
    if isinstance(checks, (str, bytes)) or not isinstance(checks, Sequence):
        raise AnsibleFilterError(
            f"verify_table expects a list of check results, got {type(checks).__name__}"
        )
    for name, width in (("check_width", check_width), ("detail_width", detail_width)):
        if isinstance(width, bool) or not isinstance(width, int) or width < 8:
            raise AnsibleFilterError(f"verify_table: {name} must be an integer >= 8")
    rows = []
    for i, item in enumerate(checks):
        if not isinstance(item, Mapping):
            raise AnsibleFilterError(
                f"verify_table: check #{i + 1} must be a mapping, got {type(item).__name__}"
            )
        name = _text(item.get("check"))
        if not name:
            raise AnsibleFilterError(f"verify_table: check #{i + 1} has no 'check' name")
        result = _text(item.get("result")).lower()
        if result not in RESULTS:
            raise AnsibleFilterError(
                f"verify_table: check {name!r}: result must be one of "
                f"{', '.join(RESULTS)}, got {item.get('result')!r}"
            )
        rows.append((name, result, _time(item.get("time_ms"), i), _text(item.get("detail"))))

    total_label = f"TOTAL {len(rows)} check{'' if len(rows) == 1 else 's'}"
    name_w = min(check_width, max([len(HEADERS[0]), len(total_label), *(len(r[0]) for r in rows)]))
    lines = [
        f"{HEADERS[0]:<{name_w}}  {HEADERS[1]:<{RESULT_WIDTH}}  {HEADERS[2]:>{TIME_WIDTH}}  "
        f"{HEADERS[3]}",
        f"{'-' * name_w}  {'-' * RESULT_WIDTH}  {'-' * TIME_WIDTH}  {'-' * len(HEADERS[3])}",
    ]
    for name, result, ms, detail in rows:
        line = (
            f"{_clip(name, name_w):<{name_w}}  {result:<{RESULT_WIDTH}}  "
            f"{_fmt_ms(ms):>{TIME_WIDTH}}  {_clip(detail, detail_width)}"
        )
        lines.append(line.rstrip())
    counts = {r: sum(row[1] == r for row in rows) for r in RESULTS}
    total_ms = sum(row[2] or 0.0 for row in rows)
    verdict = "FAILED" if counts["failed"] else "PASSED"
    summary = ", ".join(f"{counts[r]} {r}" for r in RESULTS)
    lines.append(lines[1])
    lines.append(
        f"{_clip(total_label, name_w):<{name_w}}  {verdict:<{RESULT_WIDTH}}  "
        f"{_fmt_ms(total_ms):>{TIME_WIDTH}}  {summary}"
    )
    return "\n".join(lines)


class FilterModule:
    """neural_hive.deploy filters for the verify play."""

    def filters(self) -> dict[str, Any]:
        return {"verify_table": verify_table}
