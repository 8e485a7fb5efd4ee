"""The pipeline's unit of work: event store, idempotency keys and the list view in one transaction.

Deals are folded from the snapshot cache plus the events after the snapshot; the snapshots of
what the transaction wrote enter the cache only once it has committed.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.pipeline_svc.adapters.directory import Directory
from services.pipeline_svc.adapters.playbook_lock import PlaybookLock
from services.pipeline_svc.adapters.views import OpportunityViews
from services.pipeline_svc.domain.opportunity import SNAPSHOT_SCHEMA, Opportunity
from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.store.snapshots import SnapshotCache, shape_tag
from shared.store.uow import SqlUnitOfWork

#: resident bytes of a folded deal besides its records, of one activity or artifact record,
#: and of one stakeholder entry, as tracemalloc measures them (a unit test holds the estimate
#: to the measured size)
DEAL_BYTES = 1400
RECORD_BYTES = 340
STAKEHOLDER_BYTES = 250


def stream_id(opportunity_id: str) -> str:
    return f"opportunity-{opportunity_id}"


def resident_bytes(opp: Opportunity) -> int:
    """What a snapshot of the deal holds in memory, estimated from its records."""
    records = len(opp.activities) + len(opp.artifacts)
    return DEAL_BYTES + RECORD_BYTES * records + STAKEHOLDER_BYTES * len(opp.stakeholders)


def snapshot_cache(max_bytes: int) -> SnapshotCache[Opportunity]:
    """Deals kept as live objects, copied per load (no pickling), weighed by resident size."""
    return SnapshotCache(
        shape_tag(Opportunity, SNAPSHOT_SCHEMA),
        max_bytes,
        copy=Opportunity.copy,
        weigh=resident_bytes,
    )


class PipelineUnitOfWork(SqlUnitOfWork):
    views: OpportunityViews
    directory: Directory
    playbook_lock: PlaybookLock

    def __init__(
        self,
        engine: AsyncEngine,
        registry: EventRegistry,
        clock: Clock,
        snapshots: SnapshotCache[Opportunity] | None = None,
        *,
        deferred: bool = False,
    ) -> None:
        super().__init__(engine, registry, clock, deferred=deferred)
        self._snapshots = snapshots
        #: region each loaded deal had in its fold, before collab's word replaced it
        self._folded_regions: dict[str, str] = {}
        self._written: dict[str, Opportunity] = {}

    def bind(self, conn: AsyncConnection) -> None:
        self.views = OpportunityViews(conn)
        self.directory = Directory(conn, self.driver)
        self.playbook_lock = PlaybookLock(conn)
        self._folded_regions.clear()
        self._written.clear()

    async def fold(self, opportunity_id: str) -> Opportunity:
        """The deal as the full fold of its stream: a snapshot plus the events after it."""
        sid = stream_id(opportunity_id)
        snap = self._snapshots.get(sid) if self._snapshots is not None else None
        opp = snap.state if snap is not None else Opportunity(opportunity_id)
        for envelope in await self.events.load(sid, opp.version):
            opp.apply(envelope.event)
        self._folded_regions[sid] = opp.region
        return opp

    async def load_owned(self, opportunity_id: str) -> tuple[Opportunity, str | None]:
        """The deal's full fold and its account's owning region, which the append checks again
        (`OWNER_GUARD`).

        With a snapshot (which names the account) both come in one round trip.
        """
        sid = stream_id(opportunity_id)
        snap = self._snapshots.get(sid) if self._snapshots is not None else None
        if snap is None or not snap.state.account_id:
            opp = await self.fold(opportunity_id)
            if not opp.exists:
                return opp, None
            return opp, await self.directory.owning_region(opp.account_id)
        opp = snap.state
        tail, owner = await self.directory.tail_and_owner(
            self._registry, sid, opp.version, opp.account_id
        )
        for envelope in tail:
            opp.apply(envelope.event)
        self._folded_regions[sid] = opp.region
        return opp, owner

    def wrote(self, opp: Opportunity) -> None:
        """`opp` holds what this transaction appended: its fold goes to the cache on commit.

        The caller hands `opp` over: once the unit commits, the cache keeps it without a copy.
        """
        sid = stream_id(opp.opportunity_id)
        region = self._folded_regions.get(sid, opp.region)
        # the cache adopts `opp` on commit; a copy with the fold's region only when collab's
        # word changed the region the view shows
        self._written[sid] = opp if region == opp.region else replace(opp, region=region)

    async def commit(self) -> None:
        await super().commit()
        if self._snapshots is not None:
            # the unit gives its deals up on commit: the cache keeps them without a copy
            for sid, opp in self._written.items():
                self._snapshots.put(sid, opp.version, opp, adopt=True)
        self._written.clear()
