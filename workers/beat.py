"""The periodic schedule (Celery beat): each source on its own interval, last month's digests on the
1st, delivery retries, due summaries, and the spool flush.

The schedule is built when beat starts (`SourceScheduler`), from the source registry the settings
name, so a broken registry stops beat with a clear error instead of silently crawling nothing.
Restart beat after editing the registry. With SHELLWATCH_BEAT_CRAWL=false beat leaves crawling to a
long-running `shellwatch crawl` and schedules only the other jobs.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery.beat import PersistentScheduler
from celery.schedules import crontab

from shellwatch.config import Settings
from workers.application import (
    CRAWL_SOURCE,
    FLUSH_SPOOL,
    RETRY_FAILED_DELIVERIES,
    SEND_DUE_SUMMARIES,
    WRITE_MONTHLY_DIGESTS,
)
from workers.logs import kv

log = logging.getLogger(__name__)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every periodic task, keyed by a stable entry name."""
    from crawlers.registry import load_sources

    schedule: dict[str, dict[str, Any]] = {}
    sources = load_sources(settings.sources_file) if settings.beat_crawl else []
    for source in sources:
        every = timedelta(minutes=source.interval_minutes)
        schedule[f"crawl:{source.name}"] = {
            "task": CRAWL_SOURCE,
            "schedule": every,
            "args": (source.name,),
            # A crawl still waiting when the next one is due is superseded by it.
            "options": {"expires": every.total_seconds()},
        }
    schedule["digests:monthly"] = {
        "task": WRITE_MONTHLY_DIGESTS,
        "schedule": crontab(minute=30, hour=0, day_of_month=1),
    }
    schedule["deliveries:retry"] = {"task": RETRY_FAILED_DELIVERIES, "schedule": timedelta(minutes=1)}
    schedule["summaries:send"] = {"task": SEND_DUE_SUMMARIES, "schedule": timedelta(minutes=10)}
    schedule["spool:flush"] = {"task": FLUSH_SPOOL, "schedule": timedelta(minutes=1)}
    return schedule


class SourceScheduler(PersistentScheduler):
    """Celery's persistent scheduler with ShellWatch's schedule merged in at start."""

    def setup_schedule(self) -> None:
        settings: Settings = self.app.shellwatch_settings
        schedule = beat_schedule(settings)
        self.app.conf.beat_schedule = {**schedule, **(self.app.conf.beat_schedule or {})}
        log.info(kv("beat.schedule", entries=len(schedule), sources_file=settings.sources_file))
        super().setup_schedule()
