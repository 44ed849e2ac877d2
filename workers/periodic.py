"""The bodies of the delivery and periodic tasks: crawl one source, write last month's digests,
retry failed deliveries, send due summaries. Beat schedules them (workers/beat.py); each calls the
entry point its own stage offers.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path

import yaml

from shellwatch.config import ENV_NAMES, Settings
from shellwatch.domain import Alert, from_json, to_dict
from workers.context import ProcessContext
from workers.logs import kv

log = logging.getLogger(__name__)

DIGEST_FORMATS = ("md", "html", "pdf", "json")
DIGEST_LANGUAGES = ("en", "zh")


def deliver_one(context: ProcessContext, alert_json: str) -> None:
    from alerts.delivery import deliver_alert

    alert = from_json(Alert, alert_json)
    deliver_alert(context.settings, context.store, alert)
    context.metrics.incr("alerts_delivered")
    log.info(kv("alert.delivered", article_id=alert.article_id, alert_id=alert.id))


class CrawlFailed(RuntimeError):
    pass


def crawl_source(settings: Settings, source_name: str) -> dict:
    """Crawl one source once, in a child `python -m crawlers.run` process; returns its statistics.

    A child process because Scrapy's Twisted reactor cannot be restarted inside a long-lived worker
    process; the child hands each new article to the workers as every crawl does.
    """
    from crawlers.registry import load_sources

    sources = {source.name: source for source in load_sources(settings.sources_file)}
    if source_name not in sources:
        raise CrawlFailed(f"source {source_name!r} is no longer in {settings.sources_file}")
    with tempfile.TemporaryDirectory(prefix="shellwatch-crawl-") as directory:
        registry = Path(directory) / "sources.yaml"
        registry.write_text(
            yaml.safe_dump({"sources": [to_dict(sources[source_name])]}, allow_unicode=True), encoding="utf-8"
        )
        stats_file = Path(directory) / "stats.json"
        command = [
            sys.executable,
            "-m",
            "crawlers.run",
            "--sources",
            str(registry),
            "--once",
            "--stats-json",
            str(stats_file),
        ]
        log.info(kv("crawl.started", source=source_name))
        result = subprocess.run(
            command,
            env=settings_environment(settings),
            capture_output=True,
            text=True,
            timeout=settings.task_time_limit_seconds * 0.85,  # below the task's soft limit
        )
        if result.returncode != 0:
            raise CrawlFailed(
                f"crawl of {source_name!r} exited with {result.returncode}: {result.stderr[-1500:]}"
            )
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
    log.info(kv("crawl.finished", source=source_name, new=stats.get("new"), fetched=stats.get("fetched")))
    return stats


def write_monthly_digests(context: ProcessContext, month: str | None = None) -> list[Path]:
    """Write last month's digest (or `month`'s) in every format and language."""
    from digests import write_digest

    month = month or previous_month(datetime.now(UTC).date())
    written = []
    for lang in DIGEST_LANGUAGES:
        for fmt in DIGEST_FORMATS:
            path = write_digest(context.settings, month, fmt, lang)
            written.append(path)
            log.info(kv("digest.written", month=month, format=fmt, lang=lang, path=path))
    return written


def previous_month(today: date) -> str:
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def retry_failed_deliveries(context: ProcessContext) -> None:
    from alerts.delivery import retry_failed_deliveries as retry

    states = retry(context.settings, context.store)
    delivered = sum(1 for state in states if state.delivered_at is not None)
    if delivered:
        context.metrics.incr("alerts_delivered", delivered)
    log.info(kv("deliveries.retried", attempted=len(states), delivered=delivered))


def send_due_summaries(context: ProcessContext) -> None:
    from alerts.summaries import send_due_summaries as send

    results = send(context.settings, context.store, datetime.now(UTC))
    failed = sum(1 for result in results if result.error)
    log.info(kv("summaries.sent", sent=len(results) - failed, failed=failed))


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process load these same settings."""
    environment = dict(os.environ)
    for name, variable in ENV_NAMES.items():
        value = getattr(settings, name)
        if value is None:
            environment.pop(variable, None)
        elif isinstance(value, list):
            environment[variable] = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            environment[variable] = "true" if value else "false"
        elif isinstance(value, Enum):
            environment[variable] = str(value.value)
        elif isinstance(value, Path):
            environment[variable] = str(value.resolve())
        else:
            environment[variable] = str(value)
    return environment
