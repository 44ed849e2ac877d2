"""`shellwatch crawl` and `shellwatch ingest` from the command line (production hand-off wiring)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.crawlers.crawling import crawl_env
from tests.crawlers.newsroom import serve_newsroom

SHELLWATCH = [sys.executable, "-m", "shellwatch"]


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SHELLWATCH, *args],
        cwd=data_dir.parent,
        env=crawl_env(data_dir, None),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # loads the production hand-off (workers, NLP imports)
def test_crawl_prints_statistics_with_failure_reasons(tmp_path: Path) -> None:
    with serve_newsroom() as newsroom:
        registry = tmp_path / "sources.yaml"
        registry.write_text(
            f"sources:\n  - name: moved-feed\n    language: en\n    feeds: ['{newsroom.base}/en-d/feed.xml']\n",
            encoding="utf-8",
        )
        done = run(["crawl", "--sources", str(registry), "--once"], tmp_path / "data")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "crawl: fetched 1 (0 articles), new 0" in done.stdout
    assert "failed 1 (feed_not_xml 1)" in done.stdout


def test_crawl_with_a_broken_registry_says_what_is_wrong(tmp_path: Path) -> None:
    registry = tmp_path / "sources.yaml"
    registry.write_text("sources:\n  - name: a\n    language: zh\n", encoding="utf-8")
    done = run(["crawl", "--sources", str(registry), "--once"], tmp_path / "data")
    assert done.returncode != 0
    assert "source 'a' has no feeds, sitemaps or start_urls" in done.stderr


def test_ingest_refuses_what_is_neither_url_nor_file(tmp_path: Path) -> None:
    done = run(["ingest", "no-such-file.html"], tmp_path / "data")
    assert done.returncode != 0 and "neither an http(s) URL nor a readable file" in done.stderr
