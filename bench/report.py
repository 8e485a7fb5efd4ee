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
