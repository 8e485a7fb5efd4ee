"""Folded aggregates kept in process, within a byte budget: a load then folds only the new tail.

A snapshot is the state of a stream's fold up to a version, tagged with the shape of the
aggregate that made it. The cache holds its own copy of each state and hands every load
another, so a handler may change what it got. What a state weighs is told by `weigh` (for the
opportunity, an estimate of its resident size), and copies are made by `copy`; both default to
pickling, which is exact and generic but costs tens of microseconds per state. A snapshot is
never trusted to be current: the caller reads the events after its version from the store,
and the expected-version check on append still decides every race. A snapshot whose tag
differs from the running code's is dropped.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
#: room taken by an entry besides its state (key, tuple, ordered-dict node)
ENTRY_OVERHEAD = 200


def shape_tag(cls: type[Any], schema: int) -> str:
    """A tag that changes with the declared schema number or with the aggregate's fields."""
    names = ",".join(f.name for f in fields(cls)) if is_dataclass(cls) else cls.__qualname__
    return f"{cls.__qualname__}:{schema}:{names}"


def pickled_copy(state: T) -> T:
    copied: T = pickle.loads(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
    return copied


def pickled_size(state: object) -> int:
    return len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[T]):
    version: int
    state: T


class SnapshotCache(Generic[T]):
    """Least recently used streams go first once the states' weights exceed `max_bytes`."""

    def __init__(
        self,
        tag: str,
        max_bytes: int,
        *,
        copy: Callable[[T], T] = pickled_copy,
        weigh: Callable[[T], int] = pickled_size,
    ) -> None:
        self.tag = tag
        self.max_bytes = max_bytes
        self._copy = copy
        self._weigh = weigh
        #: stream → (tag, version, state, weight)
        self._entries: OrderedDict[str, tuple[str, int, T, int]] = OrderedDict()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, stream_id: str) -> Snapshot[T] | None:
        found = self._entries.get(stream_id)
        if found is None:
            return None
        tag, version, state, _ = found
        if tag != self.tag:
            self._drop(stream_id)
            return None
        self._entries.move_to_end(stream_id)
        return Snapshot(version, self._copy(state))

    def put(self, stream_id: str, version: int, state: T, *, adopt: bool = False) -> None:
        """Remember the fold up to `version` (a newer snapshot already held wins).

        The cache keeps a copy, unless the caller `adopt`s: hands `state` over and never
        touches it again (a unit of work, once committed, gives up what it wrote).
        """
        held = self._entries.get(stream_id)
        if held is not None and held[0] == self.tag and held[1] >= version:
            return
        self.put_tagged(stream_id, self.tag, version, state, adopt=adopt)

    def put_tagged(
        self, stream_id: str, tag: str, version: int, state: T, *, adopt: bool = False
    ) -> None:
        """Store a state under any tag (tests use it to plant one of an old shape)."""
        self._drop(stream_id)
        weight = self._weigh(state) + ENTRY_OVERHEAD
        if weight > self.max_bytes:
            return
        kept = state if adopt else self._copy(state)
        self._entries[stream_id] = (tag, version, kept, weight)
        self._bytes += weight
        while self._bytes > self.max_bytes:
            _, (_, _, _, old) = self._entries.popitem(last=False)
            self._bytes -= old

    def _drop(self, stream_id: str) -> None:
        held = self._entries.pop(stream_id, None)
        if held is not None:
            self._bytes -= held[3]
