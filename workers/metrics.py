"""Counters and latencies every worker process adds to, rendered as Prometheus text at `/metrics`.

Multi-service mode keeps them in Redis (hash increments, so any number of worker, crawler and API
processes add to the same figures); embedded mode keeps them in the process. Queue depth, tasks in
flight and the spool size are read live when rendering. Recording never raises: bookkeeping must
not fail an article.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from shellwatch.config import Settings

if TYPE_CHECKING:
    from workers.pipeline import ProcessOutcome

log = logging.getLogger(__name__)

PREFIX = "shellwatch_"

COUNTERS: dict[str, str] = {
    "articles_submitted": "Articles handed to the pipeline, by how (queued, spooled, in_process).",
    "articles_processed": "Articles analysed and stored.",
    "alerts_planned": "Alerts planned for subscriptions (one per new allegation and subscription).",
    "alerts_delivered": "Alerts handed to their channels.",
    "task_failures": "Failed task attempts, by task and kind (transient, permanent, unexpected, worker_lost).",
    "task_retries": "Task retries scheduled with backoff, by task.",
    "dead_letters": "Tasks moved to the dead-letter store, by task.",
    "spool_flushed": "Spooled articles handed to the broker after an outage.",
}

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0)
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    "article_latency_seconds": ("End-to-end latency from fetch to stored.", LATENCY_BUCKETS),
    "handoff_latency_seconds": ("Latency from hand-off to the pipeline to stored.", LATENCY_BUCKETS),
    "task_duration_seconds": ("Time spent in one task attempt, by task.", DURATION_BUCKETS),
}

RECENT_KEEP = 5000  # recent raw latencies kept for percentiles (benchmarks, `recent()`)

LabelKey = tuple[tuple[str, str], ...]


def _labels(labels: dict[str, str]) -> LabelKey:
    return tuple(sorted((key, str(value)) for key, value in labels.items()))


@dataclass
class HistogramState:
    buckets: list[int]  # per bucket (not cumulative), the last one is +Inf
    total: float = 0.0
    count: int = 0


@dataclass
class Snapshot:
    counters: dict[tuple[str, LabelKey], float] = field(default_factory=dict)
    histograms: dict[tuple[str, LabelKey], HistogramState] = field(default_factory=dict)
    queue_depth: dict[str, int] = field(default_factory=dict)
    unacked: int | None = None
    spooled: int = 0
    available: bool = True  # False when the counters could not be read (Redis down)


class Metrics(ABC):
    """Where counters and latencies are kept; `incr` and `observe` never raise."""

    def incr(self, name: str, amount: float = 1, **labels: str) -> None:
        if name not in COUNTERS:
            raise KeyError(f"unknown counter {name!r}")
        try:
            self._incr(name, _labels(labels), amount)
        except Exception as exc:  # noqa: BLE001 - metrics must never fail the pipeline
            log.debug("metrics.incr failed name=%s error=%r", name, exc)

    def observe(self, name: str, value: float, **labels: str) -> None:
        if name not in HISTOGRAMS:
            raise KeyError(f"unknown histogram {name!r}")
        index = bisect.bisect_left(HISTOGRAMS[name][1], value)
        try:
            self._observe(name, _labels(labels), index, value)
        except Exception as exc:  # noqa: BLE001
            log.debug("metrics.observe failed name=%s error=%r", name, exc)

    @abstractmethod
    def _incr(self, name: str, labels: LabelKey, amount: float) -> None: ...

    @abstractmethod
    def _observe(self, name: str, labels: LabelKey, index: int, value: float) -> None: ...

    @abstractmethod
    def snapshot(self) -> Snapshot: ...

    @abstractmethod
    def recent(self, name: str) -> list[float]:
        """The latest raw observations of a histogram (newest first), for percentiles."""

    @abstractmethod
    def reset(self) -> None:
        """Forget every figure (benchmarks start from zero)."""


class LocalMetrics(Metrics):
    """Embedded mode: figures of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, LabelKey], float] = defaultdict(float)
        self._histograms: dict[tuple[str, LabelKey], HistogramState] = {}
        self._recent: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=RECENT_KEEP))

    def _incr(self, name: str, labels: LabelKey, amount: float) -> None:
        with self._lock:
            self._counters[(name, labels)] += amount

    def _observe(self, name: str, labels: LabelKey, index: int, value: float) -> None:
        with self._lock:
            state = self._histograms.setdefault(
                (name, labels), HistogramState(buckets=[0] * (len(HISTOGRAMS[name][1]) + 1))
            )
            state.buckets[index] += 1
            state.total += value
            state.count += 1
            self._recent[name].appendleft(value)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                counters=dict(self._counters),
                histograms={
                    key: HistogramState(list(state.buckets), state.total, state.count)
                    for key, state in self._histograms.items()
                },
            )

    def recent(self, name: str) -> list[float]:
        with self._lock:
            return list(self._recent[name])

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()
            self._histograms.clear()
            self._recent.clear()


class RedisMetrics(Metrics):
    """Multi-service mode: figures shared by every process through Redis hashes."""

    COUNTERS_KEY = "shellwatch:metrics:counters"
    HISTOGRAMS_KEY = "shellwatch:metrics:histograms"
    RECENT_KEY = "shellwatch:metrics:recent:"

    def __init__(self, client) -> None:  # redis.Redis with decode_responses=True
        self.client = client

    def _incr(self, name: str, labels: LabelKey, amount: float) -> None:
        self.client.hincrbyfloat(self.COUNTERS_KEY, _field(name, labels), amount)

    def _observe(self, name: str, labels: LabelKey, index: int, value: float) -> None:
        base = _field(name, labels)
        pipe = self.client.pipeline(transaction=False)
        pipe.hincrby(self.HISTOGRAMS_KEY, f"{base}|b{index}", 1)
        pipe.hincrbyfloat(self.HISTOGRAMS_KEY, f"{base}|sum", value)
        pipe.hincrby(self.HISTOGRAMS_KEY, f"{base}|count", 1)
        pipe.lpush(self.RECENT_KEY + name, value)
        pipe.ltrim(self.RECENT_KEY + name, 0, RECENT_KEEP - 1)
        pipe.execute()

    def snapshot(self) -> Snapshot:
        snapshot = Snapshot()
        for key, value in self.client.hgetall(self.COUNTERS_KEY).items():
            snapshot.counters[_parse_field(key)] = float(value)
        for key, value in self.client.hgetall(self.HISTOGRAMS_KEY).items():
            base, _, part = key.rpartition("|")
            name, labels = _parse_field(base)
            if name not in HISTOGRAMS:
                continue
            state = snapshot.histograms.setdefault(
                (name, labels), HistogramState(buckets=[0] * (len(HISTOGRAMS[name][1]) + 1))
            )
            if part == "sum":
                state.total = float(value)
            elif part == "count":
                state.count = int(value)
            elif part.startswith("b"):
                state.buckets[int(part[1:])] = int(value)
        return snapshot

    def recent(self, name: str) -> list[float]:
        return [float(value) for value in self.client.lrange(self.RECENT_KEY + name, 0, -1)]

    def reset(self) -> None:
        recent = [self.RECENT_KEY + name for name in HISTOGRAMS]
        self.client.delete(self.COUNTERS_KEY, self.HISTOGRAMS_KEY, *recent)


def record_stored(metrics: Metrics, outcome: ProcessOutcome, handed_off_at: float | None) -> None:
    """Count a stored article and its latencies (from fetch, and from the hand-off when known)."""
    now = time.time()
    metrics.incr("articles_processed")
    if outcome.alerts:
        metrics.incr("alerts_planned", len(outcome.alerts))
    metrics.observe(
        "article_latency_seconds", max(0.0, now - outcome.analysed.article.fetched_at.timestamp())
    )
    if handed_off_at is not None:
        metrics.observe("handoff_latency_seconds", max(0.0, now - handed_off_at))


def _field(name: str, labels: LabelKey) -> str:
    return f"{name}|{json.dumps(labels, separators=(',', ':'))}"


def _parse_field(field_name: str) -> tuple[str, LabelKey]:
    name, _, labels = field_name.partition("|")
    return name, tuple(tuple(pair) for pair in json.loads(labels or "[]"))


def render_prometheus(settings: Settings) -> str:
    """Every ShellWatch worker metric in the Prometheus text format (what `/metrics` serves)."""
    from workers.context import process_context

    context = process_context(settings)
    try:
        snapshot = context.metrics.snapshot()
    except Exception as exc:  # noqa: BLE001 - Redis down: say so, still render the local gauges
        log.warning("metrics.snapshot_unavailable error=%r", exc)
        snapshot = Snapshot(available=False)
    snapshot.spooled = len(context.spool)
    if not settings.embedded:
        try:
            snapshot.queue_depth, snapshot.unacked = context.broker_backlog()
        except Exception as exc:  # noqa: BLE001 - a down broker still gets the other figures rendered
            log.warning("metrics.queue_depth_unavailable error=%r", exc)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry).decode("utf-8")


class _SnapshotCollector:
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def collect(self) -> Iterator[object]:
        for name, documentation in COUNTERS.items():
            rows = [(labels, value) for (key, labels), value in self.snapshot.counters.items() if key == name]
            label_names = sorted({label for labels, _ in rows for label, _ in labels})
            family = CounterMetricFamily(PREFIX + name, documentation, labels=label_names)
            for labels, value in sorted(rows):
                values = dict(labels)
                family.add_metric([values.get(label, "") for label in label_names], value)
            yield family
        for name, (documentation, bounds) in HISTOGRAMS.items():
            rows = [
                (labels, state) for (key, labels), state in self.snapshot.histograms.items() if key == name
            ]
            label_names = sorted({label for labels, _ in rows for label, _ in labels})
            family = HistogramMetricFamily(PREFIX + name, documentation, labels=label_names)
            for labels, state in sorted(rows, key=lambda row: row[0]):
                cumulative, buckets = 0, []
                for bound, count in zip([*map(_bound, bounds), "+Inf"], state.buckets, strict=True):
                    cumulative += count
                    buckets.append((bound, cumulative))
                values = dict(labels)
                family.add_metric([values.get(label, "") for label in label_names], buckets, state.total)
            yield family
        depth = GaugeMetricFamily(
            PREFIX + "queue_depth", "Tasks waiting in each broker queue.", labels=["queue"]
        )
        for queue, count in sorted(self.snapshot.queue_depth.items()):
            depth.add_metric([queue], count)
        yield depth
        if self.snapshot.unacked is not None:
            yield GaugeMetricFamily(
                PREFIX + "tasks_unacked",
                "Tasks delivered to a worker and not yet acknowledged.",
                value=self.snapshot.unacked,
            )
        yield GaugeMetricFamily(
            PREFIX + "metrics_available",
            "1 when the shared counters could be read (0: Redis unreachable, counters missing).",
            value=1 if self.snapshot.available else 0,
        )
        yield GaugeMetricFamily(
            PREFIX + "spool_articles",
            "Articles spooled on disk while the broker was unreachable.",
            value=self.snapshot.spooled,
        )


def _bound(value: float) -> str:
    return repr(float(value))
