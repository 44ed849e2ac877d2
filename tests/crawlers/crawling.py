"""Run real crawls for tests: `python -m crawlers.run` in a child process (Twisted's reactor runs
once per process, and a child keeps the test process clean), articles captured as JSON Lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from crawlers.run import CrawlStats
from shellwatch.config import PACKAGE_ROOT

# Fast and strict for a local server: no politeness delays, a short timeout for the hanging route.
FAST = {
    "DOWNLOAD_TIMEOUT": "4",  # the hanging route costs this; shorter is flaky on a loaded machine
    "RETRY_TIMES": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
}


@dataclass
class CrawlResult:
    stats: CrawlStats
    articles: dict[str, dict]  # by id; the last line for an id wins (a syndicated update)
    lines: list[dict]
    stdout: str
    stderr: str

    def by_path(self, path: str) -> dict | None:
        for article in self.articles.values():
            if article["url"].split("?")[0].endswith(path) or article["canonical_url"].endswith(path):
                return article
        return None


def crawl(
    workdir: Path,
    sources_file: Path,
    *,
    data_dir: Path,
    redis_url: str | None = None,
    args: tuple[str, ...] = ("--once",),
    settings: dict[str, str] | None = None,
    name: str = "run",
    timeout: float = 90,
) -> CrawlResult:
    articles_file = workdir / f"{name}.jsonl"
    stats_file = workdir / f"{name}.stats.json"
    command = [
        sys.executable,
        "-m",
        "crawlers.run",
        "--sources",
        str(sources_file),
        "--stats-json",
        str(stats_file),
        "--set",
        f"SHELLWATCH_ARTICLES_JSONL={articles_file}",
        *args,
    ]
    for key, value in {**FAST, **(settings or {})}.items():
        command += ["--set", f"{key}={value}"]
    done = subprocess.run(
        command,
        cwd=PACKAGE_ROOT,
        env=crawl_env(data_dir, redis_url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return read_result(articles_file, stats_file, done.stdout, done.stderr)


def crawl_env(data_dir: Path, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ELASTICSEARCH_URL")}
    env["SHELLWATCH_DATA_DIR"] = str(data_dir)
    env["SHELLWATCH_LOG_LEVEL"] = "INFO"
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def read_result(articles_file: Path, stats_file: Path, stdout: str = "", stderr: str = "") -> CrawlResult:
    lines = []
    if articles_file.exists():
        lines = [json.loads(line) for line in articles_file.read_text(encoding="utf-8").splitlines() if line]
    stats = CrawlStats(**json.loads(stats_file.read_text(encoding="utf-8")))
    return CrawlResult(stats, {line["id"]: line for line in lines}, lines, stdout, stderr)
