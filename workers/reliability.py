"""How the workers react to a failure: classify it, back off, retry a bounded number of times,
then move the task to the dead-letter store with its error and traceback.

- transient (store unavailable or erroring, network, broker, a webhook worth retrying): retried with
  exponential backoff and jitter, up to `RetryPolicy.transient_retries` times;
- permanent (the payload does not parse, the store refuses the request): dead-lettered at once, a
  retry cannot help;
- unexpected (anything else, e.g. an analysis bug on one article, a soft time limit): retried
  `unexpected_retries` times in case it was a fluke, then dead-lettered.
"""

from __future__ import annotations

import json
import random
import socket
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from kombu.exceptions import OperationalError as BrokerError
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from search.backends.base import StoreError, StoreRejected
from search.results import DeadLetter
from shellwatch.config import Settings
from shellwatch.domain import stable_id

# Errors a later attempt can overcome. StoreError covers StoreUnavailable and CapabilityError
# alike; the latter (a backend lacking a feature) is a configuration problem, see classify(); a
# StoreRejected (the store refused the request itself) is permanent.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    StoreError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    BrokerError,
    RedisConnectionError,
    RedisTimeoutError,
)
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ValidationError, json.JSONDecodeError, StoreRejected)


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNEXPECTED = "unexpected"
    WORKER_LOST = "worker_lost"  # the process died while running it (kill, OOM, hard time limit)


@dataclass(frozen=True)
class RetryPolicy:
    transient_retries: int
    unexpected_retries: int
    dead_letter: bool  # False: give up and rely on the next periodic run instead

    def retries_for(self, kind: FailureKind) -> int:
        if kind is FailureKind.TRANSIENT:
            return self.transient_retries
        if kind is FailureKind.UNEXPECTED:
            return self.unexpected_retries
        return 0


# Articles and alerts: nothing may be lost, so a transient outage gets ~15 minutes of retries at
# the default limits before the task is parked as a dead letter for a manual re-run.
ARTICLE_POLICY = RetryPolicy(transient_retries=10, unexpected_retries=2, dead_letter=True)
# Periodic jobs run again on their next tick anyway.
PERIODIC_POLICY = RetryPolicy(transient_retries=2, unexpected_retries=0, dead_letter=False)
# A task whose worker process died this many times is poison (it crashes or hangs the worker).
CRASH_LIMIT = 3


def classify(exc: BaseException) -> FailureKind:
    from search.backends.base import CapabilityError

    if isinstance(exc, CapabilityError):
        return FailureKind.UNEXPECTED
    if isinstance(exc, PERMANENT_ERRORS):
        return FailureKind.PERMANENT
    if isinstance(exc, TRANSIENT_ERRORS) or _is_transient_delivery(exc):
        return FailureKind.TRANSIENT
    return FailureKind.UNEXPECTED


def _is_transient_delivery(exc: BaseException) -> bool:
    try:
        from alerts.errors import TransientDeliveryError
    except ImportError:  # the alerts stage is optional for the pipeline's own tests
        return False
    return isinstance(exc, TransientDeliveryError)


def backoff_seconds(retries: int, *, cap: float, base: float = 1.0) -> float:
    """Exponential backoff with jitter: a random delay in [½, 1] × min(cap, base·2^retries)."""
    ceiling = min(cap, base * 2 ** min(retries, 30))
    return random.uniform(ceiling / 2, ceiling)


def max_backoff(settings: Settings) -> float:
    """The longest retry delay the broker allows.

    On Redis a delayed retry sits unacknowledged in the worker until it runs; it must run and finish
    within the visibility timeout or Redis hands it to a second worker.
    """
    room = settings.visibility_timeout_seconds - settings.task_time_limit_seconds
    return max(0.5, min(300.0, room * 0.8))


def make_dead_letter(task: str, key: str, payload: str, exc: BaseException, attempts: int) -> DeadLetter:
    """The dead letter of one task; its id is stable per (task, key), so a re-failure replaces it."""
    return DeadLetter(
        id=stable_id("dead-letter", task, key),
        task=task,
        payload=payload,
        error=f"{type(exc).__name__}: {exc}"[:2000],
        traceback="".join(traceback.format_exception(exc))[-20000:],
        attempts=attempts,
        failed_at=datetime.now(UTC),
    )
