"""Run the crawler: `run_crawl` is the one entry point (CLI, demo, tests), returning `CrawlStats`.

Twisted's reactor runs once per process. The first `run_crawl` in a process runs the crawl right
here; any later call (a second demo run in a test session, say) runs it in a child process
(`python -m crawlers.run`) and reads its statistics back, so callers never need to care.

Without `once`, sources are polled again on their own interval (`interval_minutes`) until Ctrl-C or
SIGTERM; Scrapy then stops gracefully: in-flight requests finish and their articles are handed off,
anything claimed but unfinished stays pending in the crawl state and is resumed next time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from shellwatch.config import ENV_NAMES, Settings, load_settings
from shellwatch.domain import Source

logger = logging.getLogger(__name__)


@dataclass
class CrawlStats:
    """What one crawl did: printed at the end of every run."""

    fetched: int = 0  # HTTP responses handled (feeds, sitemaps, listings, articles)
    articles_fetched: int = 0
    new: int = 0  # articles handed to processing
    duplicates: int = 0  # fetched, then found to be an already-seen URL (redirect, canonical link)
    skipped_seen: int = 0  # discovered but not fetched: seen in an earlier run or by another crawler
    syndicated: int = 0  # copies (转载) recorded on the first copy's `also_published_at`
    irrelevant: int = 0  # dropped by the relevance pre-filter
    not_modified: int = 0  # feeds answered 304
    resumed: int = 0  # pending URLs of an interrupted crawl requested again
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.failed_by_reason.values())

    def add(self, other: CrawlStats) -> None:
        for name in (
            "fetched",
            "articles_fetched",
            "new",
            "duplicates",
            "skipped_seen",
            "syndicated",
            "irrelevant",
            "not_modified",
            "resumed",
            "seconds",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed_by_reason = dict(Counter(self.failed_by_reason) + Counter(other.failed_by_reason))

    @classmethod
    def from_scrapy(cls, stats: Mapping[str, Any]) -> CrawlStats:
        prefix = "shellwatch/"
        failed = {
            key.removeprefix(prefix + "failed/"): value
            for key, value in stats.items()
            if key.startswith(prefix + "failed/")
        }
        values = {
            name: stats.get(prefix + name, 0)
            for name in (
                "fetched",
                "articles_fetched",
                "new",
                "duplicates",
                "skipped_seen",
                "syndicated",
                "irrelevant",
                "not_modified",
                "resumed",
            )
        }
        seconds = stats.get("elapsed_time_seconds", 0.0)
        return cls(**values, failed_by_reason=dict(sorted(failed.items())), seconds=float(seconds))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        failed = ", ".join(f"{reason} {count}" for reason, count in self.failed_by_reason.items()) or "none"
        return (
            f"crawl: fetched {self.fetched} ({self.articles_fetched} articles), new {self.new}, "
            f"duplicates {self.duplicates}, already seen {self.skipped_seen}, syndicated {self.syndicated}, "
            f"dropped irrelevant {self.irrelevant}, feeds not modified {self.not_modified}, "
            f"resumed {self.resumed}, failed {self.failed} ({failed}) in {self.seconds:.1f}s"
        )


def run_crawl(
    settings: Settings,
    *,
    sources_file: Path | None = None,
    once: bool = True,
    since: date | None = None,
    ingest_urls: Iterable[str] = (),
    scrapy_settings: Mapping[str, Any] | None = None,
) -> CrawlStats:
    """Crawl the registry (default: settings.sources_file) and hand every new article off.

    `ingest_urls` fetches single article pages instead of the registry's discovery;
    `scrapy_settings` overlays Scrapy settings (e.g. `SHELLWATCH_ARTICLES_JSONL`).
    """
    from crawlers.registry import load_sources

    sources = load_sources(sources_file or settings.sources_file)
    if _reactor_already_ran():
        return _run_in_child(
            settings, sources_file or settings.sources_file, once, since, ingest_urls, scrapy_settings
        )
    return _run_here(
        settings,
        sources,
        once=once,
        since=since,
        ingest_urls=list(ingest_urls),
        scrapy_settings=dict(scrapy_settings or {}),
    )


def scrapy_settings_for(settings: Settings, overrides: Mapping[str, Any] | None = None):
    """The project's Scrapy settings with ShellWatch's configuration laid over them."""
    from scrapy.settings import Settings as ScrapySettings

    import crawlers.settings as defaults

    result = ScrapySettings()
    result.setmodule(defaults, priority="project")
    result.set("USER_AGENT", settings.user_agent, priority="project")
    result.set("LOG_LEVEL", settings.log_level, priority="project")
    # ShellWatch configures logging itself (shellwatch.cli, `python -m crawlers.run`).
    result.set("LOG_INSTALL_ROOT_HANDLER", False, priority="project")
    result.set("SHELLWATCH_SETTINGS", settings, priority="project")
    for key, value in (overrides or {}).items():
        result.set(key, value, priority="cmdline")
    return result


def _run_here(
    settings: Settings,
    sources: list[Source],
    *,
    once: bool,
    since: date | None,
    ingest_urls: list[str],
    scrapy_settings: dict[str, Any],
) -> CrawlStats:
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.reactor import install_reactor

    from crawlers.spiders.news import NewsSpider

    scrapy_config = scrapy_settings_for(settings, scrapy_settings)
    install_reactor(scrapy_config["TWISTED_REACTOR"])
    from twisted.internet import defer, reactor, task

    process = CrawlerProcess(scrapy_config)
    # Scrapy's logging defaults set its own logger to DEBUG; with ShellWatch's root handler (no
    # level of its own) that let every "Crawled (200)" line through whatever SHELLWATCH_LOG_LEVEL says.
    logging.getLogger("scrapy").setLevel(settings.log_level)
    total = CrawlStats()
    last_polled: dict[str, datetime] = {}
    errors: list[BaseException] = []

    @defer.inlineCallbacks
    def loop():
        try:
            while True:
                now = datetime.now(UTC)
                # Ingesting single URLs: the registry is only consulted to name their source.
                due = (
                    sources
                    if ingest_urls
                    else [s for s in sources if _is_due(s, last_polled.get(s.name), now)]
                )
                for source in due:
                    last_polled[source.name] = now
                crawler = process.create_crawler(NewsSpider)
                yield process.crawl(crawler, sources=due, since=since, ingest_urls=ingest_urls)
                stats = CrawlStats.from_scrapy(crawler.stats.get_stats())
                total.add(stats)
                if not once:
                    logger.info("crawl_pass_done %s", stats)
                if once or ingest_urls or crawler.stats.get_value("finish_reason") == "shutdown":
                    break
                yield task.deferLater(reactor, _seconds_until_next(sources, last_polled), lambda: None)
        except Exception as exc:  # surfaced to the caller once the reactor has stopped
            errors.append(exc)
        finally:
            if reactor.running:
                reactor.stop()

    reactor.callWhenRunning(loop)
    # Scrapy installs its own SIGINT/SIGTERM handlers, which are dead once the reactor has stopped;
    # give the caller (the demo serving the web app afterwards, say) its own back.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        process.start(stop_after_crawl=False)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if errors:
        raise errors[0]
    return total


def _is_due(source: Source, last: datetime | None, now: datetime) -> bool:
    return last is None or now - last >= timedelta(minutes=source.interval_minutes)


def _seconds_until_next(sources: list[Source], last_polled: dict[str, datetime]) -> float:
    now = datetime.now(UTC)
    waits = [
        (last_polled[s.name] + timedelta(minutes=s.interval_minutes) - now).total_seconds()
        for s in sources
        if s.name in last_polled
    ]
    return max(1.0, min(waits, default=60.0))


def _reactor_already_ran() -> bool:
    if "twisted.internet.reactor" not in sys.modules:
        return False
    from twisted.internet import reactor

    return bool(getattr(reactor, "_startedBefore", False) or reactor.running)


def _run_in_child(
    settings: Settings,
    sources_file: Path,
    once: bool,
    since: date | None,
    ingest_urls: Iterable[str],
    scrapy_settings: Mapping[str, Any] | None,
) -> CrawlStats:
    with tempfile.TemporaryDirectory(prefix="shellwatch-crawl-") as workdir:
        request = Path(workdir) / "request.json"
        result = Path(workdir) / "stats.json"
        request.write_text(
            json.dumps(
                {
                    "settings": {ENV_NAMES[k]: v for k, v in settings.model_dump(mode="json").items()},
                    "sources_file": str(sources_file),
                    "once": once,
                    "since": since.isoformat() if since else None,
                    "ingest_urls": list(ingest_urls),
                    "scrapy_settings": dict(scrapy_settings or {}),
                }
            ),
            encoding="utf-8",
        )
        subprocess.run(
            [sys.executable, "-m", "crawlers.run", "--request", str(request), "--stats-json", str(result)],
            check=True,
            env=os.environ.copy(),
        )
        return CrawlStats(**json.loads(result.read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    """`python -m crawlers.run`: a crawl in its own process (used by `run_crawl` and tests)."""
    parser = argparse.ArgumentParser(prog="python -m crawlers.run", description=main.__doc__)
    parser.add_argument("--request", type=Path, help="JSON file with every run_crawl argument")
    parser.add_argument("--sources", type=Path)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--since", type=date.fromisoformat)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a Scrapy setting (repeatable)"
    )
    parser.add_argument("--stats-json", type=Path, help="write the statistics here as JSON")
    parser.add_argument("ingest_urls", nargs="*")
    args = parser.parse_args(argv)
    if args.request:
        request = json.loads(args.request.read_text(encoding="utf-8"))
        settings = load_settings(**request["settings"])
        kwargs = {
            "sources_file": Path(request["sources_file"]),
            "once": request["once"],
            "since": date.fromisoformat(request["since"]) if request["since"] else None,
            "ingest_urls": request["ingest_urls"],
            "scrapy_settings": request["scrapy_settings"],
        }
    else:
        settings = load_settings()
        overrides = dict(item.split("=", 1) for item in args.set)
        kwargs = {
            "sources_file": args.sources,
            "once": args.once,
            "since": args.since,
            "ingest_urls": args.ingest_urls,
            "scrapy_settings": overrides,
        }
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    started = time.monotonic()
    stats = run_crawl(settings, **kwargs)
    stats.seconds = stats.seconds or time.monotonic() - started
    print(stats)
    if args.stats_json:
        args.stats_json.write_text(json.dumps(stats.to_dict(), ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
