"""Render saved results (the JSON in bench/results/) as a Markdown table and into README.md."""

from __future__ import annotations

import os
import platform
import re
import statistics
from pathlib import Path
from typing import Any

START_MARK = "<!-- bench:start -->"
END_MARK = "<!-- bench:end -->"
TOOLS = ("metaflow", "headwater")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def format_value(value: float, unit: str) -> str:
    if unit == "ms":
        ms = value * 1000
        return f"{ms:.1f}" if ms < 10 else f"{ms:.0f}"
    if unit == "MiB":
        return f"{value / 2**20:,.0f}"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def format_cell(values: list[float], unit: str) -> str:
    median = format_value(statistics.median(values), unit)
    if len(values) == 1:
        return f"{median} {unit}"
    low, high = format_value(min(values), unit), format_value(max(values), unit)
    return f"{median} {unit} ({low}–{high})"


def format_ratio(mf: list[float], hw: list[float]) -> str:
    if not mf or not hw:
        return "—"
    hw_median = statistics.median(hw)
    if hw_median <= 0:
        return "—"
    ratio = statistics.median(mf) / hw_median
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×" if ratio < 100 else f"{ratio:.0f}×"


def tool_cell(tool: dict[str, Any], key: str, unit: str, reps: int) -> tuple[str, list[float]]:
    values = [rep[key] for rep in tool.get("reps", []) if key in rep]
    if not values:
        return ("failed" if tool.get("errors") else "—"), []
    cell = format_cell(values, unit)
    if len(values) < reps:
        cell += f" ⚠ {len(values)}/{reps} ok"
    return cell, values


def table(results: dict[str, Any]) -> str:
    rows = [
        "| workload | measure | Metaflow | Headwater | Metaflow / Headwater |",
        "|---|---|---:|---:|---:|",
    ]
    for workload in results["workloads"]:
        for i, metric in enumerate(workload["metrics"]):
            cells = [tool_cell(workload["tools"].get(t, {}), metric["key"], metric["unit"],
                               results["meta"]["reps"]) for t in TOOLS]
            title = workload["title"] if i == 0 else ""
            rows.append(f"| {title} | {metric['label']} | {cells[0][0]} | {cells[1][0]} | "
                        f"{format_ratio(cells[0][1], cells[1][1])} |")
    return "\n".join(rows)


def raw_s3_table(results: dict[str, Any]) -> str:
    """Headwater's S3 transfers next to the server's raw limit (boto3 alone, same bytes)."""
    raw = results.get("raw_s3")
    work = next((w for w in results["workloads"] if w["name"] == "bigarray-s3"), None)
    if not raw or work is None:
        return ""
    hw = work["tools"].get("headwater", {})
    rows = [f"The same server's raw limit: boto3's managed transfer of {raw['mib']} MiB from and to "
            "memory (16 MiB parts, 16 threads), against Headwater's persist and load of the "
            "same-size array (which include serializing, and starting the next task):",
            "",
            "| transfer | raw boto3 | Headwater | Headwater / raw |",
            "|---|---:|---:|---:|"]
    for label, raw_key, key in (("upload / persist", "upload", "persist"),
                                ("download / load + sum", "download", "load_sum")):
        cell, values = tool_cell(hw, key, "s", results["meta"]["reps"])
        ratio = "—"
        if values and raw[raw_key]:
            ratio = f"{statistics.median(values) / statistics.median(raw[raw_key]):.2f}×"
        rows.append(f"| {label} | {format_cell(raw[raw_key], 's')} | {cell} | {ratio} |")
    return "\n".join(rows)


def header(meta: dict[str, Any]) -> str:
    mode = "`bench/run --quick`" if meta["quick"] else "`bench/run`"
    return "\n".join([
        f"Measured {meta['date']} with {mode}: median (min–max) of {meta['reps']} "
        f"repetition{'s' if meta['reps'] != 1 else ''} per tool after one warm-up; "
        "a ratio above 1 means Headwater is faster or smaller.",
        "",
        f"- CPU: {meta['cpu']}, {meta['cores']} cores, {meta['memory_gib']} GiB memory",
        f"- Python {meta['python']}, Metaflow {meta['metaflow_version']}, "
        f"Headwater {meta['headwater_version']}",
    ])


def section(results: dict[str, Any]) -> str:
    raw = raw_s3_table(results)
    extra = f"\n\n{raw}" if raw else ""
    return f"{START_MARK}\n{header(results['meta'])}\n\n{table(results)}{extra}\n{END_MARK}"


def update_readme(readme: Path, results: dict[str, Any]) -> None:
    """Replace the marked section of the README (appending one if it has none)."""
    text = readme.read_text() if readme.exists() else ""
    pattern = re.compile(re.escape(START_MARK) + ".*?" + re.escape(END_MARK), re.DOTALL)
    new_section = section(results)
    if pattern.search(text):
        text = pattern.sub(lambda _: new_section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + new_section + "\n"
    readme.write_text(text)


def put_block(readme: Path, marker: str, heading: str, text: str) -> None:
    """Put ``text`` between ``<!-- marker:start -->`` and ``<!-- marker:end -->`` in ``readme``
    (appended under ``heading`` the first time)."""
    content = readme.read_text()
    block = f"<!-- {marker}:start -->\n{text}\n<!-- {marker}:end -->"
    if f"<!-- {marker}:start -->" in content:
        content = re.sub(rf"<!-- {marker}:start -->.*<!-- {marker}:end -->", lambda _: block, content, flags=re.S)
    else:
        content += f"\n## {heading}\n\n{block}\n"
    readme.write_text(content)


def memory_gib() -> int:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError):
        return 0
