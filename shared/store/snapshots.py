"""Folded aggregates kept in process, within a byte budget: a load then folds only the new tail.

A snapshot is the pickled state of a stream's fold up to a version, tagged with the shape of
the aggregate that made it. Bytes make the budget exact and hand every load its own copy, so a
handler may change what it got. A snapshot is never trusted to be current: the caller reads
the events after its version from the store, and the expected-version check on append still
decides every race. A snapshot whose tag differs from the running code's is dropped.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
#: room taken by an entry besides its bytes (key, tuple, ordered-dict node)
ENTRY_OVERHEAD = 200


def shape_tag(cls: type[Any], schema: int) -> str:
    """A tag that changes with the declared schema number or with the aggregate's fields."""
    names = ",".join(f.name for f in fields(cls)) if is_dataclass(cls) else cls.__qualname__
    return f"{cls.__qualname__}:{schema}:{names}"


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[T]):
    version: int
    state: T


class SnapshotCache(Generic[T]):
    """Least recently used streams go first once the pickled states exceed `max_bytes`."""

    def __init__(self, tag: str, max_bytes: int) -> None:
        self.tag = tag
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[str, int, bytes]] = OrderedDict()
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
        tag, version, data = found
        if tag != self.tag:
            self._drop(stream_id)
            return None
        self._entries.move_to_end(stream_id)
        state: T = pickle.loads(data)  # noqa: S301 - bytes this process pickled itself
        return Snapshot(version, state)

    def put(self, stream_id: str, version: int, state: T) -> None:
        """Remember the fold up to `version` (a newer snapshot already held wins)."""
        held = self._entries.get(stream_id)
        if held is not None and held[0] == self.tag and held[1] >= version:
            return
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        self.put_bytes(stream_id, self.tag, version, data)

    def put_bytes(self, stream_id: str, tag: str, version: int, data: bytes) -> None:
        """Store an already pickled state as it is (tests use it to plant an old shape)."""
        self._drop(stream_id)
        if len(data) + ENTRY_OVERHEAD > self.max_bytes:
            return
        self._entries[stream_id] = (tag, version, data)
        self._bytes += len(data) + ENTRY_OVERHEAD
        while self._bytes > self.max_bytes:
            _, (_, _, old) = self._entries.popitem(last=False)
            self._bytes -= len(old) + ENTRY_OVERHEAD

    def _drop(self, stream_id: str) -> None:
        held = self._entries.pop(stream_id, None)
        if held is not None:
            self._bytes -= len(held[2]) + ENTRY_OVERHEAD
