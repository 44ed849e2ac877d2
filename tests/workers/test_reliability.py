"""Failure classification, backoff, and the Celery task policy run eagerly (`Task.apply`, which
executes each retry at once) against a real Redis for the crash guard and a real SQLite store.

The failing analyzers below are stand-ins for an analysis bug on one article: the real NLP stage
has no article that fails on purpose.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

import workers.tasks  # noqa: F401 - registers the tasks with every app
from alerts.errors import TransientDeliveryError
from search import StoreUnavailable, open_store
from search.backends.base import CapabilityError, StoreRejected
from shellwatch.config import Settings
from shellwatch.domain import Analysis, Article, to_json
from tests.workers.factories import make_article
from workers.application import PROCESS_ARTICLE, create_app
from workers.context import process_context
from workers.reliability import (
    ARTICLE_POLICY,
    FailureKind,
    backoff_seconds,
    classify,
    make_dead_letter,
    max_backoff,
)
from workers.tasks import CRASH_KEY


def test_failures_are_classified_by_what_a_retry_can_fix() -> None:
    assert classify(StoreUnavailable("locked")) is FailureKind.TRANSIENT
    assert classify(ConnectionRefusedError()) is FailureKind.TRANSIENT
    assert classify(TimeoutError()) is FailureKind.TRANSIENT
    assert classify(TransientDeliveryError("HTTP 503")) is FailureKind.TRANSIENT
    assert classify(CapabilityError("no FTS5")) is FailureKind.UNEXPECTED
    with pytest.raises(ValidationError) as invalid:
        Article.model_validate_json('{"url": 1}')
    assert classify(invalid.value) is FailureKind.PERMANENT
    assert classify(json.JSONDecodeError("x", "", 0)) is FailureKind.PERMANENT
    assert classify(StoreRejected("mapper_parsing_exception")) is FailureKind.PERMANENT
    assert classify(ZeroDivisionError()) is FailureKind.UNEXPECTED


def test_backoff_grows_exponentially_with_jitter_and_respects_the_cap() -> None:
    for retries in range(8):
        ceiling = min(60.0, 2.0**retries)
        delays = [backoff_seconds(retries, cap=60.0) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        if retries:
            assert len(set(delays)) > 1  # jitter spreads the retries of many tasks


def test_retry_delays_fit_within_the_visibility_timeout(settings: Settings) -> None:
    assert max_backoff(settings) == 300.0
    tight = settings.model_copy(update={"task_time_limit_seconds": 6.0, "visibility_timeout_seconds": 9.0})
    assert max_backoff(tight) + tight.task_time_limit_seconds < tight.visibility_timeout_seconds


def test_a_dead_letter_id_is_stable_per_task_and_key() -> None:
    error = ValueError("bad")
    first = make_dead_letter(PROCESS_ARTICLE, "abc", "{}", error, 3)
    again = make_dead_letter(PROCESS_ARTICLE, "abc", "{}", error, 1)
    other = make_dead_letter(PROCESS_ARTICLE, "abd", "{}", error, 1)
    assert first.id == again.id != other.id
    assert first.error == "ValueError: bad" and first.attempts == 3


class FailingAnalyzer:
    """Stand-in for an analyzer with a bug that one article triggers every time."""

    def __init__(self) -> None:
        self.calls = 0

    def analyze_article(self, article: Article) -> Analysis:
        self.calls += 1
        raise ZeroDivisionError("division by zero in the claim scorer")


@pytest.fixture
def app(multi_settings: Settings):
    return create_app(multi_settings)


def _process_kwargs(article: Article) -> dict:
    return {
        "article": to_json(article),
        "article_id": article.id,
        "handed_off_at": datetime.now(UTC).timestamp(),
    }


def test_an_unexpected_error_is_retried_a_bounded_number_of_times_then_dead_lettered(
    app, multi_settings: Settings
) -> None:
    analyzer = FailingAnalyzer()
    process_context(multi_settings).analyzer = analyzer
    article = make_article(1)
    app.tasks[PROCESS_ARTICLE].apply(kwargs=_process_kwargs(article))

    assert analyzer.calls == ARTICLE_POLICY.unexpected_retries + 1
    with open_store(multi_settings) as store:
        [letter] = store.list_dead_letters()
    assert letter.task == PROCESS_ARTICLE
    assert letter.attempts == analyzer.calls
    assert letter.error == "ZeroDivisionError: division by zero in the claim scorer"
    assert "in analyze_article" in letter.traceback
    assert json.loads(letter.payload)["article_id"] == article.id
    counters = process_context(multi_settings).metrics.snapshot().counters
    assert counters[("dead_letters", (("task", PROCESS_ARTICLE),))] == 1
    assert counters[("task_retries", (("task", PROCESS_ARTICLE),))] == ARTICLE_POLICY.unexpected_retries


def test_a_task_that_keeps_killing_its_worker_is_dead_lettered_without_running(
    app, multi_settings: Settings
) -> None:
    analyzer = FailingAnalyzer()
    context = process_context(multi_settings)
    context.analyzer = analyzer
    article = make_article(2)
    # Three earlier starts never finished: the worker died each time (OOM, segfault, hard limit).
    context.redis.set(f"{CRASH_KEY}{PROCESS_ARTICLE}:{article.id}", 3)
    app.tasks[PROCESS_ARTICLE].apply(kwargs=_process_kwargs(article))

    assert analyzer.calls == 0
    with open_store(multi_settings) as store:
        [letter] = store.list_dead_letters()
    assert "died 3 times" in letter.error
    assert context.redis.get(f"{CRASH_KEY}{PROCESS_ARTICLE}:{article.id}") is None


def test_a_finished_task_leaves_no_crash_count(app, multi_settings: Settings) -> None:
    context = process_context(multi_settings)
    article = make_article(3)
    app.tasks[PROCESS_ARTICLE].apply(kwargs=_process_kwargs(article))
    assert context.redis.get(f"{CRASH_KEY}{PROCESS_ARTICLE}:{article.id}") == "0"
    with open_store(multi_settings) as store:
        assert store.get_article(article.id) is not None


def test_store_errors_are_retried_before_anything_is_dead_lettered(app, multi_settings: Settings) -> None:
    from search.backends.sqlite import SqliteStore
    from search.entities import load_kb

    open_store(multi_settings).close()
    context = process_context(multi_settings)
    article = make_article(4)
    blocker = sqlite3.connect(multi_settings.database_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    attempts = {"n": 0}
    real_discard = context.discard_store

    def short_lock_store() -> None:
        # Reopen with a short lock wait so the retries happen within the test's time.
        real_discard()
        attempts["n"] += 1
        if attempts["n"] == 3:
            blocker.rollback()
        context.store = SqliteStore(
            multi_settings.database_path, kb=load_kb(multi_settings), lock_timeout=0.2
        )

    context.discard_store = short_lock_store
    context.store = SqliteStore(multi_settings.database_path, kb=load_kb(multi_settings), lock_timeout=0.2)
    try:
        app.tasks[PROCESS_ARTICLE].apply(kwargs=_process_kwargs(article))
    finally:
        blocker.close()
    assert attempts["n"] == 3
    with open_store(multi_settings) as store:
        assert store.get_article(article.id) is not None
        assert store.list_dead_letters() == []


def test_celery_never_caps_retries_before_the_retry_policy_does() -> None:
    """Celery's default max_retries (3) would drop a task, undead-lettered, before the policy's limit."""
    from celery import Task

    from workers import tasks

    shared = [task for task in vars(tasks).values() if isinstance(task, Task) and task.name]
    assert len(shared) >= 7, "the Celery tasks of workers.tasks"
    assert {task.name: task.max_retries for task in shared} == {task.name: None for task in shared}
