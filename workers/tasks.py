"""Celery tasks: thin bodies around the plain functions of workers/pipeline.py and workers/periodic.py.

Each task receives JSON (the record as `shellwatch.domain.to_json` wrote it) plus the id it is
about (`article_id`, which every log line carries). `_run` applies the retry policy of
workers/reliability.py: backoff on transient errors, dead letter after a bounded number of tries,
and a crash guard for tasks that keep killing their worker.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task, signals

from shellwatch.config import Settings
from shellwatch.domain import Article, from_json, to_json
from workers import periodic, pipeline
from workers.application import DELIVER_ALERT, PROCESS_ARTICLE
from workers.context import ProcessContext, process_context
from workers.logs import install_task_context, kv, task_kwargsrepr
from workers.metrics import record_stored
from workers.reliability import (
    ARTICLE_POLICY,
    CRASH_LIMIT,
    PERIODIC_POLICY,
    FailureKind,
    RetryPolicy,
    backoff_seconds,
    classify,
    make_dead_letter,
    max_backoff,
)

log = logging.getLogger(__name__)

CRASH_KEY = "shellwatch:running:"
CRASH_KEY_TTL = 24 * 3600


@shared_task(bind=True, max_retries=None, name=PROCESS_ARTICLE)
def process_article(self: Task, article: str, article_id: str, handed_off_at: float | None = None) -> None:
    """Analyse and store one article, assign incidents, plan alerts; queue each pushed alert's delivery.

    One task rather than an analyse task and a store task: analysis is cheap next to Celery's cost
    per task, so a store outage re-running it on retry costs less than a second hop per article.
    """

    def body(context: ProcessContext) -> None:
        analysed = pipeline.analyse_article(context.analyzer, from_json(Article, article))
        outcome = pipeline.store_analysed(context.store, analysed, context.knowledge_base)
        record_stored(context.metrics, outcome, handed_off_at)
        for alert in outcome.pushed_alerts:  # a feed-only alert is already readable: no task
            self.app.send_task(
                DELIVER_ALERT,
                kwargs={"alert": to_json(alert), "article_id": article_id, "alert_id": alert.id},
                kwargsrepr=task_kwargsrepr(article_id=article_id, alert_id=alert.id),
            )

    _run(self, key=article_id, body=body, policy=ARTICLE_POLICY)


@shared_task(bind=True, max_retries=None, name="workers.deliver_alert")
def deliver_alert(self: Task, alert: str, article_id: str, alert_id: str) -> None:
    """Send one alert on its subscription's channels; channels already delivered are skipped."""

    def body(context: ProcessContext) -> None:
        periodic.deliver_one(context, alert)

    _run(self, key=alert_id, body=body, policy=ARTICLE_POLICY)


@shared_task(bind=True, max_retries=None, name="workers.crawl_source")
def crawl_source(self: Task, source: str) -> None:
    _run(
        self,
        key=source,
        body=lambda context: periodic.crawl_source(context.settings, source),
        policy=PERIODIC_POLICY,
    )


@shared_task(bind=True, max_retries=None, name="workers.write_monthly_digests")
def write_monthly_digests(self: Task, month: str | None = None) -> None:
    _run(
        self,
        key=month or "last-month",
        body=lambda context: periodic.write_monthly_digests(context, month),
        policy=ARTICLE_POLICY,
    )


@shared_task(bind=True, max_retries=None, name="workers.retry_failed_deliveries")
def retry_failed_deliveries(self: Task) -> None:
    _run(self, key="-", body=periodic.retry_failed_deliveries, policy=PERIODIC_POLICY)


@shared_task(bind=True, max_retries=None, name="workers.send_due_summaries")
def send_due_summaries(self: Task) -> None:
    _run(self, key="-", body=periodic.send_due_summaries, policy=PERIODIC_POLICY)


@shared_task(bind=True, max_retries=None, name="workers.flush_spool")
def flush_spool(self: Task) -> None:
    from workers.handoff import flush_spool as flush

    _run(self, key="-", body=lambda context: flush(context.settings), policy=PERIODIC_POLICY)


# The retry policy ------------------------------------------------------------------------------


def _run(task: Task, *, key: str, body: Callable[[ProcessContext], Any], policy: RetryPolicy) -> None:
    settings: Settings = task.app.shellwatch_settings
    context = process_context(settings)
    retries = task.request.retries
    crash_key = f"{CRASH_KEY}{task.name}:{key}"
    crashes = _enter(context, crash_key)
    if crashes >= CRASH_LIMIT:
        _leave(context, crash_key, clear=True)
        exc = RuntimeError(
            f"the worker died {crashes} times while running this task (crash, OOM or hard time limit)"
        )
        context.metrics.incr("task_failures", task=task.name, kind=FailureKind.WORKER_LOST)
        _give_up(task, context, key, exc, FailureKind.WORKER_LOST, policy, attempts=retries + crashes)
        return
    started = time.monotonic()
    try:
        body(context)
    except Exception as exc:  # noqa: BLE001 - every failure goes through the policy
        kind = classify(exc)
        context.metrics.incr("task_failures", task=task.name, kind=kind)
        if kind is FailureKind.TRANSIENT:
            context.discard_store()  # reconnect next time, the connection may be what broke
        if retries >= policy.retries_for(kind):
            _give_up(task, context, key, exc, kind, policy, attempts=retries + 1)
            return
        countdown = backoff_seconds(retries, cap=max_backoff(settings))
        context.metrics.incr("task_retries", task=task.name)
        log.warning(
            kv(
                "task.retry",
                key=key,
                kind=kind,
                retries=retries + 1,
                countdown=round(countdown, 2),
                error=_short(exc),
            )
        )
        raise task.retry(exc=exc, countdown=countdown) from exc
    finally:
        context.metrics.observe("task_duration_seconds", time.monotonic() - started, task=task.name)
        _leave(context, crash_key)
    log.info(kv("task.done", key=key, seconds=round(time.monotonic() - started, 3)))


def _give_up(
    task: Task,
    context: ProcessContext,
    key: str,
    exc: BaseException,
    kind: FailureKind,
    policy: RetryPolicy,
    attempts: int,
) -> None:
    if not policy.dead_letter:
        log.error(kv("task.gave_up", key=key, kind=kind, attempts=attempts, error=_short(exc)))
        return
    payload = json.dumps(dict(task.request.kwargs or {}), ensure_ascii=False)
    letter = make_dead_letter(task.name, key, payload, exc, attempts)
    try:
        context.store.add_dead_letter(letter)
    except Exception as store_exc:  # noqa: BLE001 - the store is down: keep the task in the broker
        context.discard_store()
        countdown = max_backoff(context.settings)
        log.error(
            kv("task.dead_letter_failed", key=key, error=_short(store_exc), countdown=round(countdown, 2))
        )
        raise task.retry(exc=store_exc, countdown=countdown) from store_exc
    context.metrics.incr("dead_letters", task=task.name)
    log.error(
        kv(
            "task.dead_lettered",
            key=key,
            kind=kind,
            attempts=attempts,
            dead_letter_id=letter.id,
            error=_short(exc),
        )
    )


def _enter(context: ProcessContext, crash_key: str) -> int:
    """Count this start; return how many earlier starts never finished (the worker died)."""
    try:
        pipe = context.redis.pipeline(transaction=True)
        pipe.incr(crash_key)
        pipe.expire(crash_key, CRASH_KEY_TTL)
        started, _ = pipe.execute()
        return int(started) - 1
    except Exception as exc:  # noqa: BLE001 - without Redis bookkeeping the task still runs
        log.debug(kv("crash_guard.unavailable", error=repr(exc)))
        return 0


def _leave(context: ProcessContext, crash_key: str, clear: bool = False) -> None:
    try:
        if clear:
            context.redis.delete(crash_key)
        else:
            context.redis.decr(crash_key)
    except Exception as exc:  # noqa: BLE001
        log.debug(kv("crash_guard.unavailable", error=repr(exc)))


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# Worker process set-up ---------------------------------------------------------------------------


@signals.after_setup_logger.connect
def _structured_logs(logger: logging.Logger, **_: object) -> None:
    install_task_context(logger)


@signals.after_setup_task_logger.connect
def _structured_task_logs(logger: logging.Logger, **_: object) -> None:
    install_task_context(logger)


@signals.worker_process_init.connect
def _warm_up(sender: object = None, **_: object) -> None:
    """Load the NLP pipelines and knowledge base before the first article, not during it."""
    from celery import current_app

    settings = getattr(current_app, "shellwatch_settings", None)
    if settings is None:
        return
    context = process_context(settings)
    try:
        context.knowledge_base  # noqa: B018 - loads it
        context.analyzer  # noqa: B018
    except Exception as exc:  # noqa: BLE001 - the tasks will report the problem per article
        log.error(kv("worker.warm_up_failed", error=_short(exc)))
