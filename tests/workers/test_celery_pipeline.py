"""The pipeline through real `celery worker` processes on a real Redis, with faults injected:
a worker killed with SIGKILL mid-batch, Redis stopped and restarted, the store locked, a poison
message. Every article must end up stored exactly once.
"""

from __future__ import annotations

import re
import sqlite3
import time

import pytest

from search import open_store
from shellwatch.config import Settings
from shellwatch.domain import Article
from tests.support.servers import RedisServer
from tests.workers.conftest import wait_for_articles
from tests.workers.factories import make_article
from workers.application import PROCESS_ARTICLE, UNACKED_KEY, queue_keys
from workers.context import process_context
from workers.dead_letters import retry_dead_letters
from workers.handoff import HandOff, flush_spool, submit_article
from workers.metrics import render_prometheus

pytestmark = pytest.mark.slow


def _submit(settings: Settings, articles: list[Article]) -> list[HandOff]:
    return [submit_article(settings, article) for article in articles]


def _assert_stored_once(settings: Settings, articles: list[Article]) -> None:
    with open_store(settings) as store:
        assert store.count_articles() == len(articles)
        stored_ids = [stored.id for stored in store.iter_articles()]
        assert sorted(stored_ids) == sorted(article.id for article in articles)
        for incident in store.list_incidents():
            assert len(incident.article_ids) == len(set(incident.article_ids)), incident.id


def _metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_batch_round_trips_through_a_worker_and_a_poison_message_is_dead_lettered(
    multi_settings: Settings, start_worker
) -> None:
    worker = start_worker(multi_settings)
    articles = [make_article(i) for i in range(12)]
    assert _submit(multi_settings, articles[:6]) == [HandOff.QUEUED] * 6
    # A message that can never be processed, sent as a broken producer would.
    process_context(multi_settings).celery.send_task(
        PROCESS_ARTICLE, kwargs={"article": '{"url": "https://x.example/1"}', "article_id": "poison-1"}
    )
    assert _submit(multi_settings, articles[6:]) == [HandOff.QUEUED] * 6

    wait_for_articles(multi_settings, len(articles), timeout=60, worker=worker)
    _assert_stored_once(multi_settings, articles)
    deadline = time.monotonic() + 10
    with open_store(multi_settings) as store:
        while not store.list_dead_letters() and time.monotonic() < deadline:
            time.sleep(0.1)
        letters = store.list_dead_letters()
    assert [letter.task for letter in letters] == [PROCESS_ARTICLE]
    assert letters[0].error.startswith("ValidationError")
    assert "Traceback" in letters[0].traceback
    assert '"poison-1"' in letters[0].payload
    assert letters[0].attempts == 1  # a payload that does not parse is not retried

    # Re-running it sends it to the broker again; still broken, it comes back as a dead letter.
    [result] = retry_dead_letters(multi_settings, ["all"])
    assert result.outcome == "queued"
    deadline = time.monotonic() + 10
    with open_store(multi_settings) as store:
        while not store.list_dead_letters() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [letter.id for letter in store.list_dead_letters()] == [letters[0].id]

    metrics = render_prometheus(multi_settings)
    assert _metric(metrics, "shellwatch_articles_processed_total") == len(articles)
    assert _metric(metrics, 'shellwatch_dead_letters_total{task="workers.process_article"}') == 2
    assert _metric(metrics, "shellwatch_handoff_latency_seconds_count") == len(articles)
    assert 'shellwatch_queue_depth{queue="analysis"} 0.0' in metrics
    log = worker.log()
    assert f"article_id={articles[0].id} event=article.stored" in log
    # The worker's own lines carry the article id too, and never the article's text.
    assert re.search(rf"article_id={articles[0].id} Task workers.process_article\[[-0-9a-f]+\] received", log)
    assert articles[0].title not in log


def test_kill_9_of_a_worker_mid_batch_then_a_new_worker_stores_every_article_once(
    multi_settings: Settings, start_worker, redis: RedisServer
) -> None:
    articles = [make_article(i, paragraphs=12) for i in range(40)]
    first = start_worker(multi_settings, "first")
    _submit(multi_settings, articles)
    wait_for_articles(multi_settings, 4, timeout=40, worker=first)
    first.kill9()

    client = process_context(multi_settings).redis
    waiting = sum(client.llen(key) for key in queue_keys("analysis"))
    in_flight = client.hlen(UNACKED_KEY)
    with open_store(multi_settings) as store:
        stored_at_kill = store.count_articles()
    assert stored_at_kill < len(articles), "the batch finished before the kill; make it longer"
    assert waiting + in_flight > 0

    second = start_worker(multi_settings, "second")
    wait_for_articles(multi_settings, len(articles), timeout=60, worker=second)
    # Let redelivered duplicates finish too: they must not add a second record.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        backlog, unacked = process_context(multi_settings).broker_backlog()
        if unacked == 0 and not any(backlog.values()):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"broker never drained: {backlog}, unacked={unacked}")
    _assert_stored_once(multi_settings, articles)


def test_redis_stopped_and_restarted_mid_run_loses_nothing(
    multi_settings: Settings, start_worker, redis: RedisServer
) -> None:
    before = [make_article(i, paragraphs=6) for i in range(20)]
    during = [make_article(i) for i in range(20, 26)]
    worker = start_worker(multi_settings)
    assert _submit(multi_settings, before) == [HandOff.QUEUED] * len(before)
    wait_for_articles(multi_settings, 2, timeout=40, worker=worker)

    redis.stop()
    started = time.monotonic()
    assert _submit(multi_settings, during) == [HandOff.SPOOLED] * len(during)
    assert time.monotonic() - started < 15, "spooling must not stall the crawler"
    assert len(process_context(multi_settings).spool.pending()) == len(during)
    time.sleep(2)
    redis.start()

    result = flush_spool(multi_settings)
    assert result.submitted == len(during) and result.error is None
    assert process_context(multi_settings).spool.pending() == []
    wait_for_articles(multi_settings, len(before) + len(during), timeout=60, worker=worker)
    _assert_stored_once(multi_settings, before + during)


def test_a_locked_store_makes_tasks_retry_and_the_backlog_drains_when_it_returns(
    multi_settings: Settings, start_worker
) -> None:
    # SQLite waits up to 10 s for a lock before StoreUnavailable: the time limit must exceed that.
    multi_settings = multi_settings.model_copy(
        update={"task_time_limit_seconds": 14.0, "visibility_timeout_seconds": 18.0}
    )
    open_store(multi_settings).close()  # create the database file the lock is taken on
    worker = start_worker(multi_settings)
    blocker = sqlite3.connect(multi_settings.database_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        articles = [make_article(i) for i in range(5)]
        _submit(multi_settings, articles)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            metrics = render_prometheus(multi_settings)
            if _metric(metrics, 'shellwatch_task_retries_total{task="workers.process_article"}') >= 1:
                break
            time.sleep(0.25)
        else:
            raise AssertionError("no retry while the store was locked:\n" + worker.log()[-3000:])
        with open_store(multi_settings) as store:
            assert store.count_articles() == 0
    finally:
        blocker.rollback()
        blocker.close()
    wait_for_articles(multi_settings, len(articles), timeout=60, worker=worker)
    _assert_stored_once(multi_settings, articles)
    with open_store(multi_settings) as store:
        assert store.list_dead_letters() == []
    assert "event=task.retry" in worker.log() and "kind=transient" in worker.log()
