"""The pipeline as plain functions: analyse → store → assign to incidents → plan alerts → deliver.

`process_article` runs the whole chain for one article; embedded mode calls it in-process. The
Celery task `workers.process_article` (workers/tasks.py, `analysis` queue) calls its two halves,
`analyse_article` and `store_analysed`, and queues each alert's delivery on the `delivery` queue.
Every step is idempotent: the article id comes from its canonical URL, writes are upserts, incident
ids and alert ids are derived from their content, and an alert is recorded (and so delivered) once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from search.backends.base import Store
from shellwatch.config import Settings
from shellwatch.domain import Alert, AnalysedArticle, Analysis, Article
from workers.logs import kv

log = logging.getLogger(__name__)


class Analyzer(Protocol):
    def analyze_article(self, article: Article) -> Analysis: ...


@dataclass
class ProcessOutcome:
    """What processing one article did."""

    analysed: AnalysedArticle
    new: bool  # the article was not in the store before
    incident_ids: list[str] = field(default_factory=list)
    new_allegations: int = 0
    responses: int = 0
    alerts: list[Alert] = field(default_factory=list)
    # The alerts with a channel to push; feed-only alerts need no delivery (readers pull the feed).
    pushed_alerts: list[Alert] = field(default_factory=list)
    delivery_failures: list[tuple[Alert, BaseException]] = field(default_factory=list)

    @property
    def article_id(self) -> str:
        return self.analysed.id


def process_article(
    settings: Settings, article: Article, *, store: Store, analyzer: Analyzer, kb: Any
) -> ProcessOutcome:
    """Analyse, store, assign and alert one article in this process; deliver its alerts here too.

    A delivery failure does not fail the article (it is stored): the alerts stage keeps the
    delivery pending and its periodic retry sends it later; failures are listed in the outcome.
    """
    analysed = analyse_article(analyzer, article)
    outcome = store_analysed(store, analysed, kb)
    outcome.delivery_failures = deliver_in_process(settings, store, outcome.pushed_alerts)
    return outcome


def analyse_article(analyzer: Analyzer, article: Article) -> AnalysedArticle:
    analysis = analyzer.analyze_article(article)
    log.info(
        kv(
            "article.analysed",
            article_id=article.id,
            relevant=analysis.relevant,
            claims=len(analysis.claims),
            entities=len(analysis.entities),
        )
    )
    return AnalysedArticle(article=article, analysis=analysis)


def store_analysed(store: Store, analysed: AnalysedArticle, kb: Any) -> ProcessOutcome:
    """Store the article, put its claims into incidents, plan the alerts they raise."""
    from alerts.dispatch import plan_alert_groups
    from search.corrections import apply_corrections
    from search.incidents import assign_incidents

    # Analysts' corrections outlive re-analysis: re-apply them before anything downstream sees it.
    analysed = apply_corrections(store, analysed)
    previous = store.get_article(analysed.id)
    # Keep the incidents a previous run attached, so readers never see them vanish mid-retry.
    analysed = analysed.model_copy(update={"incident_ids": previous.incident_ids if previous else []})
    new = store.upsert_article(analysed)
    assignment = assign_incidents(store, analysed, kb)
    incident_ids = sorted({*analysed.incident_ids, *(incident.id for incident in assignment.incidents)})
    if incident_ids != analysed.incident_ids:
        analysed = analysed.model_copy(update={"incident_ids": incident_ids})
        store.upsert_article(analysed)
    planned = plan_alert_groups(store, analysed, assignment, kb)
    alerts = planned.all
    outcome = ProcessOutcome(
        analysed=analysed,
        new=new,
        incident_ids=incident_ids,
        new_allegations=len(assignment.new_allegations),
        responses=len(assignment.responses),
        alerts=alerts,
        pushed_alerts=planned.pushed,
    )
    log.info(
        kv(
            "article.stored",
            article_id=analysed.id,
            new=new,
            incidents=",".join(incident_ids) or None,
            new_allegations=outcome.new_allegations,
            alerts=len(alerts),
        )
    )
    return outcome


def deliver_in_process(
    settings: Settings, store: Store, alerts: list[Alert]
) -> list[tuple[Alert, BaseException]]:
    """Deliver the alerts now, all channels in parallel so a slow webhook holds up no other
    subscriber; return those that failed (they stay pending in the alerts stage)."""
    from alerts.delivery import PERMANENT_PREFIX, deliver_alerts
    from alerts.errors import PermanentDeliveryError, TransientDeliveryError

    failures: list[tuple[Alert, BaseException]] = []
    for state in deliver_alerts(settings, store, alerts):
        if state.delivered_at is not None:
            log.info(kv("alert.delivered", article_id=state.alert.article_id, alert_id=state.alert.id))
            continue
        error = state.last_error or "not delivered"
        kind = PermanentDeliveryError if error.startswith(PERMANENT_PREFIX) else TransientDeliveryError
        failures.append((state.alert, kind(error)))
        log.warning(
            kv(
                "alert.delivery_failed",
                article_id=state.alert.article_id,
                alert_id=state.alert.id,
                error=error,
            )
        )
    return failures
