"""What one process keeps loaded for one configuration: analyzer, knowledge base, store, metrics.

Loading the NLP pipelines and opening the store are slow, so each process does it once per
settings and reuses the result for every article (embedded hand-offs and Celery tasks alike).
Contexts are keyed by process id too: a forked Celery child opens its own store connection.
Everything is loaded lazily, on first use.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shellwatch.config import Settings
from workers.logs import kv
from workers.metrics import LocalMetrics, Metrics, RedisMetrics
from workers.spool import Spool

if TYPE_CHECKING:
    from celery import Celery

    from search.backends.base import Store

log = logging.getLogger(__name__)

BROKER_PAUSE_SECONDS = 5.0  # after a failed publish, spool straight away for this long


class ProcessContext:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._broker_down_until = 0.0

    # Stages ---------------------------------------------------------------------------------
    @cached_property
    def analyzer(self) -> Any:
        from nlp import load_analyzer

        started = time.monotonic()
        analyzer = load_analyzer(self.settings)
        log.info(kv("analyzer.loaded", seconds=round(time.monotonic() - started, 2)))
        return analyzer

    @cached_property
    def knowledge_base(self) -> Any:
        from nlp.knowledge_base import load_knowledge_base

        return load_knowledge_base(self.settings.knowledge_base_file)

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from search import open_store

                self._store = open_store(self.settings)
            return self._store

    @store.setter
    def store(self, store: Store) -> None:
        """Use an already open store (e.g. one a caller configured differently)."""
        with self._lock:
            self._store = store

    def discard_store(self) -> None:
        """Drop the store connection after a store error; the next use opens a fresh one."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception as exc:  # noqa: BLE001 - closing a broken connection may fail too
                log.debug(kv("store.close_failed", error=repr(exc)))

    # Bookkeeping ----------------------------------------------------------------------------
    @cached_property
    def metrics(self) -> Metrics:
        if self.settings.embedded:
            return LocalMetrics()
        return RedisMetrics(self.redis)

    @cached_property
    def spool(self) -> Spool:
        return Spool(self.settings.data_dir / "spool")

    @cached_property
    def redis(self) -> Any:
        from workers.connections import get_redis

        return get_redis(self.settings)

    # Broker (multi-service mode) ------------------------------------------------------------
    @cached_property
    def celery(self) -> Celery:
        """A Celery app on REDIS_URL used to send tasks from this process."""
        from workers.application import create_app

        return create_app(self.settings)

    def broker_paused(self) -> bool:
        return time.monotonic() < self._broker_down_until

    def pause_broker(self) -> None:
        """After a failed publish, skip the broker for a moment so a crawl is not slowed by timeouts."""
        self._broker_down_until = time.monotonic() + BROKER_PAUSE_SECONDS

    def resume_broker(self) -> None:
        self._broker_down_until = 0.0

    def broker_backlog(self) -> tuple[dict[str, int], int]:
        """Tasks waiting per queue and tasks delivered but unacknowledged, read from Redis."""
        from workers.application import QUEUES, queue_keys

        pipe = self.redis.pipeline(transaction=False)
        for queue in QUEUES:
            for key in queue_keys(queue):
                pipe.llen(key)
        pipe.hlen("unacked")
        counts = pipe.execute()
        depth: dict[str, int] = {}
        index = 0
        for queue in QUEUES:
            keys = queue_keys(queue)
            depth[queue] = sum(counts[index : index + len(keys)])
            index += len(keys)
        return depth, counts[-1]

    def close(self) -> None:
        self.discard_store()


_contexts: dict[tuple[int, str], ProcessContext] = {}
_contexts_lock = threading.Lock()


def process_context(settings: Settings) -> ProcessContext:
    """This process's context for these settings, created on first use."""
    key = (os.getpid(), settings.model_dump_json())
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            context = _contexts[key] = ProcessContext(settings)
        return context


def close_contexts() -> None:
    """Close every context of this process (tests, process shutdown)."""
    with _contexts_lock:
        contexts = [c for (pid, _), c in _contexts.items() if pid == os.getpid()]
        _contexts.clear()
    for context in contexts:
        context.close()
