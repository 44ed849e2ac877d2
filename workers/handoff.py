"""The crawler's hand-off: `submit_article(settings, article)` for every new article.

Multi-service mode (REDIS_URL set): the article goes to the broker as the first task of the chain
(`workers.process_article` on the `analysis` queue, JSON). When the broker cannot take it, the
article is spooled to `<data dir>/spool` and sent on the next successful hand-off or by the
periodic `workers.flush_spool` task: nothing fetched is lost.

Embedded mode: the same pipeline runs in this process (`pipeline.process_article`) with the
analyzer, knowledge base and store this process keeps loaded, under the same policy: transient
errors are retried with backoff and then spooled, a poison article is dead-lettered.
"""

from __future__ import annotations

import json
import logging
import time
from enum import StrEnum

from shellwatch.config import Settings
from shellwatch.domain import Article, to_json
from workers import pipeline
from workers.application import DELIVER_ALERT, PROCESS_ARTICLE, PUBLISH_RETRY_POLICY
from workers.context import ProcessContext, process_context
from workers.logs import kv, task_kwargsrepr
from workers.metrics import record_stored
from workers.reliability import (
    ARTICLE_POLICY,
    FailureKind,
    backoff_seconds,
    classify,
    make_dead_letter,
)
from workers.spool import DrainResult

log = logging.getLogger(__name__)

# In-process retries of a transient failure stay short: the crawl is waiting; the spool keeps the rest.
EMBEDDED_TRANSIENT_TRIES = 3
EMBEDDED_BACKOFF_CAP = 2.0


class HandOff(StrEnum):
    QUEUED = "queued"  # on the broker
    SPOOLED = "spooled"  # on disk until the broker or store is back
    PROCESSED = "processed"  # embedded: stored (and alerted) in this process
    DEAD_LETTERED = "dead_lettered"  # embedded: failed permanently, see `shellwatch dead-letters`


class NotHandedOff(RuntimeError):
    """The article could not be processed or queued now; it stays in the spool."""


def submit_article(settings: Settings, article: Article) -> HandOff:
    """Hand one fetched article to the pipeline; never loses it."""
    context = process_context(settings)
    if settings.embedded:
        outcome = process_in_process(context, article)
        if outcome is not HandOff.SPOOLED and context.spool.pending():
            _drain(context)
        return outcome
    if not context.broker_paused():
        try:
            send_article(context, article)
        except Exception as exc:  # noqa: BLE001 - any publish failure: keep the article on disk
            context.pause_broker()
            log.warning(kv("handoff.broker_unavailable", article_id=article.id, error=repr(exc)))
        else:
            context.metrics.incr("articles_submitted", how=HandOff.QUEUED)
            if context.spool.pending():
                _drain(context)
            return HandOff.QUEUED
    context.spool.put(article)
    context.metrics.incr("articles_submitted", how=HandOff.SPOOLED)
    log.info(kv("handoff.spooled", article_id=article.id))
    return HandOff.SPOOLED


def flush_spool(settings: Settings) -> DrainResult:
    """Hand every spooled article to the pipeline (periodic task, or after an outage)."""
    return _drain(process_context(settings))


def send_article(context: ProcessContext, article: Article) -> None:
    """Publish the first task of the chain; raises when the broker cannot take it."""
    context.celery.send_task(
        PROCESS_ARTICLE,
        kwargs={"article": to_json(article), "article_id": article.id, "handed_off_at": time.time()},
        kwargsrepr=task_kwargsrepr(article_id=article.id),
        retry=True,
        retry_policy=PUBLISH_RETRY_POLICY,
    )


def process_in_process(context: ProcessContext, article: Article) -> HandOff:
    """Embedded mode: run the whole chain here, retrying transient failures a little."""
    settings = context.settings
    handed_off_at = time.time()
    tries = 0
    while True:
        tries += 1
        try:
            outcome = pipeline.process_article(
                settings, article, store=context.store, analyzer=context.analyzer, kb=context.knowledge_base
            )
        except Exception as exc:  # noqa: BLE001 - every failure goes through the policy
            kind = classify(exc)
            context.metrics.incr("task_failures", task=PROCESS_ARTICLE, kind=kind)
            if kind is FailureKind.TRANSIENT:
                context.discard_store()
                if tries < EMBEDDED_TRANSIENT_TRIES:
                    context.metrics.incr("task_retries", task=PROCESS_ARTICLE)
                    time.sleep(backoff_seconds(tries - 1, base=0.25, cap=EMBEDDED_BACKOFF_CAP))
                    continue
                context.spool.put(article)
                context.metrics.incr("articles_submitted", how=HandOff.SPOOLED)
                log.warning(kv("handoff.spooled", article_id=article.id, reason=repr(exc)))
                return HandOff.SPOOLED
            if tries <= ARTICLE_POLICY.retries_for(kind):
                context.metrics.incr("task_retries", task=PROCESS_ARTICLE)
                continue
            payload = {"article": to_json(article), "article_id": article.id}
            return _dead_letter(context, PROCESS_ARTICLE, article.id, payload, exc, tries, article)
        break
    context.metrics.incr("articles_submitted", how=HandOff.PROCESSED)
    record_stored(context.metrics, outcome, handed_off_at)
    delivered = len(outcome.alerts) - len(outcome.delivery_failures)
    if delivered:
        context.metrics.incr("alerts_delivered", delivered)
    for alert, exc in outcome.delivery_failures:
        kind = classify(exc)
        context.metrics.incr("task_failures", task=DELIVER_ALERT, kind=kind)
        if kind is not FailureKind.TRANSIENT:  # transient ones stay pending for the periodic retry
            payload = {"alert": to_json(alert), "article_id": article.id, "alert_id": alert.id}
            _dead_letter(context, DELIVER_ALERT, alert.id, payload, exc, 1, None)
    return HandOff.PROCESSED


def _dead_letter(
    context: ProcessContext,
    task: str,
    key: str,
    payload: dict,
    exc: BaseException,
    attempts: int,
    article: Article | None,
) -> HandOff:
    letter = make_dead_letter(task, key, json.dumps(payload, ensure_ascii=False), exc, attempts)
    try:
        context.store.add_dead_letter(letter)
    except Exception as store_exc:  # noqa: BLE001 - no store: keep the article for a later attempt
        if article is None:
            raise
        context.spool.put(article)
        log.error(kv("handoff.dead_letter_failed", article_id=key, error=repr(store_exc)))
        return HandOff.SPOOLED
    context.metrics.incr("dead_letters", task=task)
    log.error(
        kv(
            "task.dead_lettered",
            task=task,
            article_id=payload.get("article_id"),
            key=key,
            attempts=attempts,
            dead_letter_id=letter.id,
            error=f"{type(exc).__name__}: {exc}",
        )
    )
    return HandOff.DEAD_LETTERED


def _drain(context: ProcessContext) -> DrainResult:
    def submit(article: Article) -> None:
        if context.settings.embedded:
            if process_in_process(context, article) is HandOff.SPOOLED:
                raise NotHandedOff(f"article {article.id} could not be processed yet")
        else:
            send_article(context, article)
            context.metrics.incr("spool_flushed")

    result = context.spool.drain(submit)
    if result.submitted or result.error:
        log.info(
            kv(
                "spool.drained",
                submitted=result.submitted,
                remaining=result.remaining,
                rejected=result.rejected,
                error=repr(result.error) if result.error else None,
            )
        )
    return result
