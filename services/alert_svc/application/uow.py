"""alert_svc's stores bound to one transaction: the unit of work of commands and consumers alike."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.alert_svc.adapters.alerts import AlertViews, ReportViews
from services.alert_svc.adapters.deadlines import Deadlines
from services.alert_svc.adapters.firing import Firings
from services.alert_svc.adapters.rules import RuleViews
from services.alert_svc.adapters.subjects import SubjectViews
from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.store.postgres import PostgresEventStore
from shared.store.uow import SqlUnitOfWork


class Stores:
    """Everything a handler reads or writes, on one connection inside one transaction."""

    def __init__(
        self, conn: AsyncConnection, events: PostgresEventStore, registry: EventRegistry
    ) -> None:
        self.events = events
        self.rules = RuleViews(conn)
        self.subjects = SubjectViews(conn, registry)
        self.deadlines = Deadlines(conn)
        self.alerts = AlertViews(conn)
        self.reports = ReportViews(conn)
        self.firings = Firings(conn)

    @classmethod
    def on(cls, conn: AsyncConnection, registry: EventRegistry, clock: Clock) -> Stores:
        """For a consumer handler, which runs in the inbox's transaction."""
        return cls(conn, PostgresEventStore(conn, registry, clock), registry)


class AlertUnitOfWork(SqlUnitOfWork):
    tx: Stores

    def bind(self, conn: AsyncConnection) -> None:
        self.tx = Stores(conn, self.events, self._registry)
