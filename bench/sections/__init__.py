"""The benchmark sections, run in this order; a new benchmark is one more module here.

A section is a module with `NAME`, `TITLE` and `async def run(ctx: BenchContext) -> Section`.
Its metrics are merged into latest.json, so sections never clobber each other's keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType

from bench.context import BenchContext, Section
from bench.sections import (
    alert,
    apply,
    commands,
    delivery,
    health,
    propagation,
    raw_insert,
    rebuild,
    soak,
    streams,
    timeline,
)

SectionRun = Callable[[BenchContext], Awaitable[Section]]
ALL: tuple[ModuleType, ...] = (
    commands,
    streams,
    raw_insert,
    delivery,
    timeline,
    propagation,
    health,
    apply,
    rebuild,
    alert,
    soak,
)


def by_name() -> dict[str, ModuleType]:
    return {module.NAME: module for module in ALL}
