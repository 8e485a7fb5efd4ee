"""Which failures make a consumer wait and which park the message; the supervisor's backoff."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from sqlalchemy import exc as sa_exc

from shared.messaging.faults import is_transient
from shared.runtime.supervisor import STABLE_AFTER_S, _Backoff, describe_exit


def wrapped(orig: Exception, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("SELECT 1", {}, orig, connection_invalidated=invalidated)


def raised_from(cause: Exception) -> RuntimeError:
    try:
        raise RuntimeError("handler gave up") from cause
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    "failure",
    [
        sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        sa_exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        sa_exc.TimeoutError("QueuePool limit reached"),
        wrapped(Exception("broken pipe"), invalidated=True),
        wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")),
        wrapped(asyncpg.exceptions.ObjectNotInPrerequisiteStateError("not accepting connections")),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        KafkaConnectionError("broker away"),
        raised_from(OSError("network unreachable")),
    ],
)
def test_infrastructure_faults_are_transient(failure: Exception) -> None:
    assert is_transient(failure)


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError("the projection cannot take this one"),
        ValueError("bad payload"),
        KeyError("missing"),
        wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        raised_from(ZeroDivisionError()),
    ],
)
def test_errors_of_the_message_are_not_transient(failure: Exception) -> None:
    assert not is_transient(failure)


def test_a_record_too_large_is_a_kafka_error_but_the_relay_parks_it() -> None:
    # the consumer would wait on a KafkaError; the relay checks ROW_FAULTS before that
    from shared.messaging.relay import ROW_FAULTS

    assert isinstance(MessageSizeTooLargeError(), ROW_FAULTS)


def test_exits_are_described_by_signal_or_code() -> None:
    assert describe_exit(-9) == "signal SIGKILL"
    assert describe_exit(-15) == "signal SIGTERM"
    assert describe_exit(3) == "exit code 3"


def test_restart_backoff_doubles_up_to_its_cap_and_starts_afresh_after_a_stable_run() -> None:
    plan = _Backoff(base_s=1.0, cap_s=8.0, up_since=0.0)
    delays = [plan.schedule(now=1.0) for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]
    plan.up_since = 100.0
    assert plan.schedule(now=100.0 + STABLE_AFTER_S) == 1.0
