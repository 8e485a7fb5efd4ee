"""The printed table and latest.json, merged so other sections' keys survive."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.context import Section


def table(title: str, sections: list[tuple[str, Section | None, str | None]]) -> str:
    rows: list[tuple[str, str]] = []
    for name, section, error in sections:
        rows.append((f"[{name}]", ""))
        if section is None:
            rows.append(("  FAILED", error or "unknown error"))
            continue
        rows += section.rows
        rows += [("  note", note) for note in section.notes]
    width = max(len(label) for label, _ in rows) + 2
    lines = [title, "=" * len(title)]
    lines += [f"{label:<{width}}{value}" for label, value in rows]
    return "\n".join(lines)


def merge_write(path: Path, updates: dict[str, Any]) -> dict[str, Any]:
    """Update the JSON object at `path` with `updates` (nested `sections` merged per name)."""
    current: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict):
                current = loaded
        except (OSError, ValueError):
            current = {}
    sections = {**current.get("sections", {}), **updates.pop("sections", {})}
    current.update(updates)
    current["sections"] = sections
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".latest-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(current, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")
    Path(tmp).replace(path)
    return current


def fmt_latency(d: dict[str, Any]) -> str:
    return f"p50 {d['p50']} ms  p99 {d['p99']} ms  max {d['max']} ms"


def note_noise(section: Section, cpu: dict[str, float], limit: float) -> None:
    """Say so when other processes, or other guests of the host, took CPU during a measurement."""
    if cpu.get("other_cores", 0.0) > limit:
        section.notes.append(
            f"other processes used {cpu['other_cores']:.2f} cores meanwhile: figures disturbed"
        )
    if cpu.get("steal_cores", 0.0) > limit:
        section.notes.append(
            f"the host gave {cpu['steal_cores']:.2f} cores to other guests meanwhile (steal):"
            " figures disturbed"
        )


def note_failures(section: Section, sent: list[Any], what: str) -> None:
    """Name how many sent commands got no 2xx answer, and the first reason."""
    failed = [s for s in sent if s.answer is None or not 200 <= s.answer.status < 300]
    if failed:
        first = failed[0]
        detail = first.error or (first.answer.body[:300] if first.answer else b"")
        section.notes.append(f"{len(failed)} {what} failed; first: {detail!r}")
