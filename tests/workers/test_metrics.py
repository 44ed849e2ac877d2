"""Counters and latencies: in-process (embedded) and shared through Redis, rendered for Prometheus."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shellwatch.config import Settings
from tests.support.servers import RedisServer
from workers.application import PROCESS_ARTICLE
from workers.connections import get_redis
from workers.context import process_context
from workers.metrics import LocalMetrics, RedisMetrics, render_prometheus


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_local_counters_and_histograms_render_as_prometheus_text(settings: Settings) -> None:
    metrics = process_context(settings).metrics
    assert isinstance(metrics, LocalMetrics)
    metrics.incr("articles_processed")
    metrics.incr("articles_processed", 2)
    metrics.incr("task_failures", task=PROCESS_ARTICLE, kind="transient")
    for value in (0.03, 0.2, 7.0):
        metrics.observe("article_latency_seconds", value)
    samples = _samples(render_prometheus(settings))
    assert samples[("shellwatch_articles_processed_total", ())] == 3
    labels = (("kind", "transient"), ("task", PROCESS_ARTICLE))
    assert samples[("shellwatch_task_failures_total", labels)] == 1
    assert samples[("shellwatch_article_latency_seconds_bucket", (("le", "0.05"),))] == 1
    assert samples[("shellwatch_article_latency_seconds_bucket", (("le", "0.25"),))] == 2
    assert samples[("shellwatch_article_latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert samples[("shellwatch_article_latency_seconds_sum", ())] == pytest.approx(7.23)
    assert samples[("shellwatch_spool_articles", ())] == 0
    assert metrics.recent("article_latency_seconds") == [7.0, 0.2, 0.03]


def test_unknown_metric_names_are_refused(settings: Settings) -> None:
    with pytest.raises(KeyError):
        process_context(settings).metrics.incr("articles_procesed")


def test_redis_metrics_are_shared_by_every_process_and_include_queue_depth(
    settings: Settings, redis: RedisServer
) -> None:
    multi = settings.model_copy(update={"redis_url": redis.url})
    # Two recorders on the same Redis stand for two worker processes.
    first, second = RedisMetrics(get_redis(multi)), RedisMetrics(get_redis(multi))
    first.incr("articles_processed")
    second.incr("articles_processed")
    second.observe("handoff_latency_seconds", 0.4)
    first.observe("handoff_latency_seconds", 12.0)
    client = get_redis(multi)
    client.lpush("analysis", "m1", "m2", "m3")
    client.lpush("delivery", "m4")
    client.hset("unacked", "tag-1", "x")

    samples = _samples(render_prometheus(multi))
    assert samples[("shellwatch_articles_processed_total", ())] == 2
    assert samples[("shellwatch_handoff_latency_seconds_count", ())] == 2
    assert samples[("shellwatch_handoff_latency_seconds_bucket", (("le", "0.5"),))] == 1
    assert samples[("shellwatch_queue_depth", (("queue", "analysis"),))] == 3
    assert samples[("shellwatch_queue_depth", (("queue", "delivery"),))] == 1
    assert samples[("shellwatch_queue_depth", (("queue", "crawl"),))] == 0
    assert samples[("shellwatch_tasks_unacked", ())] == 1
    assert sorted(first.recent("handoff_latency_seconds")) == [0.4, 12.0]


def test_metrics_never_fail_the_caller_when_redis_is_down(settings: Settings, redis: RedisServer) -> None:
    multi = settings.model_copy(update={"redis_url": redis.url})
    metrics = RedisMetrics(get_redis(multi))
    redis.stop()
    metrics.incr("articles_processed")  # no exception
    metrics.observe("task_duration_seconds", 0.1, task="x")
    text = render_prometheus(multi)  # counters unavailable: the gauges still render
    assert "shellwatch_spool_articles 0.0" in text
    assert "shellwatch_metrics_available 0.0" in text
