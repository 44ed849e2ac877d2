"""`/metrics`: the workers' Prometheus figures plus what this process can read from the store."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from collections.abc import Iterator

    from web.app import AppState

log = logging.getLogger(__name__)


def render_metrics(state: AppState) -> str:
    from workers.metrics import render_prometheus

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCollector(state))
    return render_prometheus(state.settings) + generate_latest(registry).decode("utf-8")


class _StoreCollector:
    def __init__(self, state: AppState):
        self.state = state

    def collect(self) -> Iterator[object]:
        up = GaugeMetricFamily("shellwatch_store_up", "1 when the web process can read the store.")
        try:
            store = self.state.store
            articles = store.count_articles()
            incidents = len(store.list_incidents())
            subscriptions = store.list_subscriptions()
        except Exception as exc:  # noqa: BLE001 - a down store is reported as a metric, not an error
            log.warning("event=metrics-store-unavailable error=%r", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("shellwatch_articles_stored", "Articles in the store.", value=articles)
        yield GaugeMetricFamily("shellwatch_incidents", "Incidents in the store.", value=incidents)
        active = GaugeMetricFamily("shellwatch_subscriptions", "Subscriptions by state.", labels=["state"])
        active.add_metric(["active"], sum(not s.paused for s in subscriptions))
        active.add_metric(["paused"], sum(s.paused for s in subscriptions))
        yield active
