"""The playbook in force: one stream of PlaybookPublished events, cached briefly per process."""

from __future__ import annotations

import time
from dataclasses import dataclass

from services.pipeline_svc.application.uow import PipelineUnitOfWork
from services.pipeline_svc.domain.errors import PlaybookConflictError
from services.pipeline_svc.domain.playbook import default_playbook
from shared.contracts.pipeline import PlaybookPublished
from shared.contracts.playbook import PlaybookDefinition
from shared.errors import ConcurrencyError, PreconditionFailedError
from shared.events.envelope import Metadata, NewEvent

STREAM_ID = "playbook"
STREAM_TYPE = "playbook"
#: replicas see another replica's publication within this many seconds
CACHE_TTL_S = 2.0


@dataclass(frozen=True)
class PlaybookInForce:
    version: int
    definition: PlaybookDefinition


class Playbooks:
    def __init__(self) -> None:
        self._cached: PlaybookInForce | None = None
        self._loaded_at = 0.0

    async def current(self, uow: PipelineUnitOfWork) -> PlaybookInForce:
        if self._cached and time.monotonic() - self._loaded_at < CACHE_TTL_S:
            return self._cached
        events = await uow.events.load(STREAM_ID)
        if not events:
            # not seeded yet (another replica may be doing it): the shipped default applies
            return PlaybookInForce(0, default_playbook())
        last = events[-1].event
        assert isinstance(last, PlaybookPublished)
        self._remember(PlaybookInForce(last.playbook_version, last.definition))
        assert self._cached is not None
        return self._cached

    async def for_stage_move(self, uow: PipelineUnitOfWork) -> PlaybookInForce:
        """The playbook in force for a command that moves a deal into another stage.

        A publication waits for this transaction (and this one for a publication under way), and
        the version is read from the store rather than trusted from the cache: no deal can enter a
        stage that a playbook published meanwhile has dropped."""
        await uow.begin()  # the lock is the transaction's
        version = await uow.playbook_lock.for_stage_move(STREAM_ID)
        if self._cached is not None and self._cached.version == version:
            return self._cached
        self.forget()
        return await self.current(uow)

    def _remember(self, pb: PlaybookInForce) -> None:
        self._cached, self._loaded_at = pb, time.monotonic()

    def forget(self) -> None:
        self._cached = None

    async def publish(
        self,
        uow: PipelineUnitOfWork,
        definition: PlaybookDefinition,
        actor: str,
        metadata: Metadata,
        now_version: int | None,
        occurred_at: object,
    ) -> PlaybookInForce:
        await uow.playbook_lock.for_publication()
        events = await uow.events.load(STREAM_ID)
        version = len(events)
        if now_version is not None and now_version != version:
            raise PreconditionFailedError(
                f"If-Match expects version {now_version}; the playbook is at {version}",
                current_version=version,
            )
        stranded = await uow.views.open_stages() - {s.key for s in definition.stages}
        if stranded:
            raise PlaybookConflictError(
                "open deals sit in stages this playbook drops: " + ", ".join(sorted(stranded)),
                stages=sorted(stranded),
            )
        event = PlaybookPublished(
            occurred_at=occurred_at,
            playbook_version=version + 1,
            definition=definition,
            published_by=actor,
        )
        await uow.events.append(STREAM_ID, STREAM_TYPE, version, [NewEvent(event)], metadata)
        return PlaybookInForce(version + 1, definition)

    async def seed(self, uow: PipelineUnitOfWork, metadata: Metadata, occurred_at: object) -> bool:
        """Publish the shipped default as version 1 if nothing was ever published."""
        if await uow.events.load(STREAM_ID):
            return False
        try:
            await self.publish(uow, default_playbook(), "system", metadata, 0, occurred_at)
        except (ConcurrencyError, PreconditionFailedError):
            # a process starting beside this one (its api or worker, a replica) seeded first:
            # the publication lock made us wait, then the version check saw its playbook
            return False
        return True
