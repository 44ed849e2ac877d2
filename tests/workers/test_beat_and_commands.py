"""The beat schedule built from the source registry, periodic task helpers, and the CLI surface."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from celery.schedules import crontab
from click.testing import CliRunner

from crawlers.registry import RegistryError
from shellwatch.cli import cli
from shellwatch.config import Settings, load_settings
from workers.application import CRAWL_SOURCE, FLUSH_SPOOL, RETRY_FAILED_DELIVERIES, WRITE_MONTHLY_DIGESTS
from workers.beat import beat_schedule
from workers.periodic import previous_month, settings_environment


def _registry(path: Path, sources: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
    return path


def test_each_source_is_crawled_on_its_own_interval(settings: Settings, tmp_path: Path) -> None:
    registry = _registry(
        tmp_path / "sources.yaml",
        [
            {"name": "36kr", "language": "zh", "feeds": ["https://36kr.example/feed"], "interval_minutes": 5},
            {
                "name": "verge",
                "language": "en",
                "feeds": ["https://verge.example/rss"],
                "interval_minutes": 30,
            },
        ],
    )
    schedule = beat_schedule(settings.model_copy(update={"sources_file": registry}))
    assert schedule["crawl:36kr"]["task"] == CRAWL_SOURCE
    assert schedule["crawl:36kr"]["args"] == ("36kr",)
    assert schedule["crawl:36kr"]["schedule"] == timedelta(minutes=5)
    assert schedule["crawl:verge"]["schedule"] == timedelta(minutes=30)
    assert schedule["crawl:verge"]["options"]["expires"] == 1800
    digest = schedule["digests:monthly"]
    assert digest["task"] == WRITE_MONTHLY_DIGESTS and isinstance(digest["schedule"], crontab)
    assert digest["schedule"].day_of_month == {1}
    assert {entry["task"] for entry in schedule.values()} >= {RETRY_FAILED_DELIVERIES, FLUSH_SPOOL}


def test_beat_can_leave_crawling_to_a_crawler_service(settings: Settings) -> None:
    schedule = beat_schedule(settings.model_copy(update={"beat_crawl": False}))
    assert not any(entry["task"] == CRAWL_SOURCE for entry in schedule.values())
    assert "digests:monthly" in schedule and "spool:flush" in schedule


def test_a_broken_registry_stops_beat_with_the_reason(settings: Settings, tmp_path: Path) -> None:
    registry = _registry(tmp_path / "sources.yaml", [{"name": "x", "language": "en"}])
    with pytest.raises(RegistryError, match="no feeds"):
        beat_schedule(settings.model_copy(update={"sources_file": registry}))


def test_the_digest_on_the_first_is_for_the_month_before() -> None:
    assert previous_month(date(2024, 1, 1)) == "2023-12"
    assert previous_month(date(2024, 3, 1)) == "2024-02"


def test_a_child_process_gets_the_same_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = settings.model_copy(
        update={
            "redis_url": "redis://127.0.0.1:1/3",
            "webhook_allow": ["127.0.0.1", "10.0.0.0/8"],
            "task_time_limit_seconds": 30.0,
            "visibility_timeout_seconds": 90.0,
        }
    )
    for name, value in settings_environment(custom).items():
        monkeypatch.setenv(name, value)
    assert load_settings() == custom.model_copy(update={"data_dir": custom.data_dir.resolve()})


def test_worker_needs_redis_and_known_queues(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["worker"])
    assert result.exit_code != 0 and "REDIS_URL is not set" in result.output
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = runner.invoke(cli, ["worker", "--queues", "analysis,mail"])
    assert result.exit_code != 0 and "unknown queue(s) mail" in result.output


def test_dead_letters_says_so_when_there_are_none(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["dead-letters"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output.strip() == "no dead letters"


DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.mark.slow
def test_the_periodic_crawl_of_one_source_hands_its_articles_to_the_pipeline(
    settings: Settings, tmp_path: Path
) -> None:
    from search import open_store
    from tests.support.servers import static_http_server
    from workers.periodic import crawl_source

    with static_http_server(DEMO / "newsroom") as base:
        registry = tmp_path / "sources.yaml"
        registry.write_text(
            (DEMO / "sources.yaml").read_text(encoding="utf-8").replace("{base}", base), encoding="utf-8"
        )
        configured = settings.model_copy(update={"sources_file": registry, "task_time_limit_seconds": 120.0})
        stats = crawl_source(configured, "syndicate")
    assert stats["new"] > 0
    with open_store(configured) as store:
        sources = {article.article.source for article in store.iter_articles()}
        assert store.count_articles() == stats["new"]
    assert sources == {"syndicate"}  # only the source that was due


def test_beat_starts_with_the_registry_schedule_merged_in(settings: Settings, tmp_path: Path) -> None:
    from workers.application import create_app
    from workers.beat import SourceScheduler

    registry = _registry(
        tmp_path / "sources.yaml",
        [
            {
                "name": "ithome",
                "language": "zh",
                "feeds": ["https://ithome.example/rss"],
                "interval_minutes": 15,
            },
        ],
    )
    configured = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "sources_file": registry})
    app = create_app(configured)
    scheduler = SourceScheduler(app=app, schedule_filename=str(tmp_path / "beat-schedule"), lazy=False)
    try:
        entries = scheduler.schedule
        assert entries["crawl:ithome"].task == CRAWL_SOURCE
        assert entries["crawl:ithome"].schedule.run_every == timedelta(minutes=15)
        assert entries["digests:monthly"].task == WRITE_MONTHLY_DIGESTS
    finally:
        scheduler.close()
