"""Committed stream prefixes kept in process: a load then reads only the events that are new.

Stored events never change, so a cached prefix is never wrong, only possibly short; the
expected-version check on append still decides every race.
"""

from __future__ import annotations

from collections import OrderedDict

from shared.events.envelope import Envelope


class StreamCache:
    def __init__(self, max_streams: int = 10_000) -> None:
        self._streams: OrderedDict[str, tuple[Envelope, ...]] = OrderedDict()
        self._max = max_streams

    def get(self, stream_id: str) -> tuple[Envelope, ...]:
        found = self._streams.get(stream_id)
        if found is None:
            return ()
        self._streams.move_to_end(stream_id)
        return found

    def put(self, stream_id: str, envelopes: tuple[Envelope, ...]) -> None:
        """Remember a committed prefix (the longer of what is known wins)."""
        if len(envelopes) <= len(self._streams.get(stream_id, ())):
            return
        self._streams[stream_id] = envelopes
        self._streams.move_to_end(stream_id)
        if len(self._streams) > self._max:
            self._streams.popitem(last=False)
