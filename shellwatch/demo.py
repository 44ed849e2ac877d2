"""`shellwatch demo`: the whole pipeline on the offline demo newsroom shipped in demo/.

Serves demo/newsroom/ on 127.0.0.1, crawls it with the real Scrapy spiders (embedded mode: tasks
in-process, SQLite store under the data directory), then shows what a user wants to see first:
the incident timeline, the alerts that fired and where the monthly digest was written.
Re-running is safe: the newsroom is served on the same port, so article ids (hashes of canonical
URLs) are stable and everything is an upsert; already-seen pages are not fetched again.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from shellwatch.cli_support import pass_settings
from shellwatch.config import PACKAGE_ROOT, Settings
from shellwatch.domain import Alert, Channel, ChannelKind, Incident, Stance, Subscription
from shellwatch.static_server import serve_directory

DEMO_ROOT = PACKAGE_ROOT / "demo"
NEWSROOM_DIR = DEMO_ROOT / "newsroom"
SOURCES_TEMPLATE = DEMO_ROOT / "sources.yaml"
# A fixed port keeps the newsroom's URLs, and so the article ids, the same from run to run.
DEFAULT_NEWSROOM_PORT = 8719


@dataclass
class DemoReport:
    newsroom_url: str
    crawl_stats: object
    incidents: list[Incident]
    alerts: list[Alert]
    subscriptions: dict[str, str]
    digests: list[Path] = field(default_factory=list)
    articles: int = 0


@click.command()
@click.option("--serve", "then_serve", is_flag=True, help="Afterwards serve the web app with the demo data.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Web app address (with --serve).")
@click.option("--port", default=8000, show_default=True, type=int, help="Web app port (with --serve).")
@click.option(
    "--newsroom-port",
    default=DEFAULT_NEWSROOM_PORT,
    show_default=True,
    type=int,
    help="Port of the demo newsroom on 127.0.0.1 (0: any free port).",
)
@pass_settings
def demo(settings: Settings, then_serve: bool, host: str, port: int, newsroom_port: int) -> None:
    """Crawl, analyse and index the offline demo newsroom; show timeline, alerts and digest."""
    settings = embedded(settings)
    # Off a terminal (logs, CI) rich would wrap at 80 columns; the tables read better wider.
    console = Console(width=None if sys.stdout.isatty() else 150)
    console.print(f"[bold]ShellWatch demo[/bold] — state in {settings.data_dir.resolve()}")
    log_file = settings.ensure_data_dir() / "logs" / "demo.log"
    console.print(f"Crawling, analysing and indexing the demo newsroom (log: {log_file}) …")
    with logs_to_file(log_file, settings.log_level):
        report = run_demo(settings, newsroom_port=newsroom_port)
    print_report(console, report)
    if then_serve:
        serve_web(console, settings, host, port)


@contextmanager
def logs_to_file(path: Path, level: str) -> Iterator[None]:
    """While the pipeline runs, its log lines (a few per page) go to `path`; the terminal keeps
    warnings and errors only, so the timeline, alerts and digest that follow are what one reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setLevel(level)
    to_file.setFormatter(logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"))
    terminal = [h for h in root.handlers if isinstance(h, logging.StreamHandler) and h.stream is sys.stderr]
    levels = [h.level for h in terminal]
    for handler in terminal:
        handler.setLevel(max(handler.level, logging.WARNING))
    root.addHandler(to_file)
    try:
        yield
    finally:
        root.removeHandler(to_file)
        to_file.close()
        for handler, old in zip(terminal, levels, strict=True):
            handler.setLevel(old)


def embedded(settings: Settings) -> Settings:
    """The demo always runs embedded: in-process tasks and the SQLite store in the data directory."""
    return settings.model_copy(update={"redis_url": None, "elasticsearch_url": None})


def run_demo(settings: Settings, newsroom_port: int = DEFAULT_NEWSROOM_PORT) -> DemoReport:
    from crawlers.run import run_crawl
    from search import open_store

    settings.ensure_data_dir()
    with open_store(settings) as store:
        subscriptions = ensure_demo_subscriptions(store)
    with serve_directory(NEWSROOM_DIR, port=_usable_port(newsroom_port)) as base_url:
        sources_file = write_sources_file(settings, base_url)
        stats = run_crawl(settings, sources_file=sources_file, once=True)
    with open_store(settings) as store:
        timeline = store.timeline()
        alerts = [alert for sub_id in subscriptions for alert in store.list_alerts(sub_id, limit=1000)]
        report = DemoReport(
            newsroom_url=base_url,
            crawl_stats=stats,
            incidents=timeline.incidents,
            alerts=sorted(alerts, key=lambda alert: alert.created_at),
            subscriptions=subscriptions,
            articles=store.count_articles(),
        )
    report.digests = write_demo_digests(settings, report.incidents)
    return report


def write_sources_file(settings: Settings, base_url: str) -> Path:
    """The demo registry with `{base}` replaced by the newsroom's URL, kept in the data directory."""
    path = settings.data_dir / "demo-sources.yaml"
    path.write_text(
        SOURCES_TEMPLATE.read_text(encoding="utf-8").replace("{base}", base_url), encoding="utf-8"
    )
    return path


def ensure_demo_subscriptions(store) -> dict[str, str]:
    """Two subscriptions a user would make, delivered to Atom feeds so the demo needs no servers."""
    wanted = [
        Subscription(
            id="demo-all-allegations",
            name="Every new allegation",
            channels=[Channel(kind=ChannelKind.FEED)],
            secret="demo-secret-all",
            created_at=datetime(2023, 1, 1, tzinfo=UTC),
        ),
        Subscription(
            id="demo-responses",
            name="Denials and admissions",
            stances=[Stance.DENIAL, Stance.ADMISSION],
            channels=[Channel(kind=ChannelKind.FEED)],
            secret="demo-secret-responses",
            created_at=datetime(2023, 1, 1, tzinfo=UTC),
        ),
    ]
    for subscription in wanted:
        if store.get_subscription(subscription.id) is None:
            store.save_subscription(subscription)
    return {subscription.id: subscription.name for subscription in wanted}


def write_demo_digests(settings: Settings, incidents: list[Incident]) -> list[Path]:
    """The digest of the busiest month, in English (HTML, Markdown) and Chinese (HTML)."""
    from digests import write_digest

    if not incidents:
        return []
    months = Counter(incident.started_at.strftime("%Y-%m") for incident in incidents)
    month = max(sorted(months), key=lambda m: months[m])
    return [
        write_digest(settings, month, "html", "en"),
        write_digest(settings, month, "md", "en"),
        write_digest(settings, month, "html", "zh"),
    ]


def print_report(console: Console, report: DemoReport) -> None:
    console.print(f"\nCrawled the demo newsroom at {report.newsroom_url}: {report.crawl_stats}")
    console.print(f"{report.articles} articles stored.\n")

    table = Table(title=f"Incident timeline ({len(report.incidents)} incidents)", show_lines=False)
    for column in ("started", "incident", "标题", "types", "depth", "status", "articles"):
        table.add_column(column, overflow="fold")
    for incident in report.incidents:
        table.add_row(
            incident.started_at.strftime("%Y-%m-%d"),
            incident.title_en,
            incident.title_zh,
            ", ".join(incident.claim_types),
            str(incident.depth or "—"),
            incident.status,
            str(len(incident.article_ids)),
        )
    console.print(table)

    alerts = Table(title=f"Alerts that fired ({len(report.alerts)})")
    for column in ("subscription", "subject", "claim", "stance", "evidence"):
        alerts.add_column(column)
    for alert in report.alerts:
        alerts.add_row(
            report.subscriptions.get(alert.subscription_id, alert.subscription_id),
            alert.claim.subject_name,
            alert.claim.type,
            alert.claim.stance,
            _clip(alert.claim.evidence, 70),
        )
    console.print(alerts)
    for path in report.digests:
        console.print(f"Digest written: {path}")


def serve_web(console: Console, settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from search import open_store
    from web.app import create_app
    from web.auth import create_token

    # Subscribing and correcting need a write token; the demo makes one so the browser can do both.
    with open_store(settings) as store:
        _, secret = create_token(store, f"demo {datetime.now(UTC):%Y-%m-%d %H:%M}")
    console.print(f"\n[bold]Web app with the demo data:[/bold] http://{host}:{port}/  (Ctrl-C stops it)")
    console.print(f"To subscribe and correct claims, sign in at http://{host}:{port}/token with: {secret}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def _usable_port(preferred: int) -> int:
    """The preferred port when it is free, else any free one (ids may then differ from earlier runs)."""
    if preferred == 0:
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            click.echo(f"port {preferred} is busy; serving the demo newsroom on a free port", err=True)
            return 0
    return preferred


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
