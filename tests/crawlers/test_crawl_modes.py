"""Crawl modes: Redis-shared seen-set across processes, resume after a kill, continuous polling with a
clean SIGTERM stop, a second `run_crawl` in one process, `--since` backfill, per-source overrides."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.ingest import ingest_file
from shellwatch.config import PACKAGE_ROOT
from shellwatch.domain import Article
from tests.crawlers.crawling import FAST, crawl, crawl_env, read_result
from tests.crawlers.newsroom import NEWSROOM, Newsroom, serve_newsroom

QUICK_SOURCES = """
sources:
  - name: test-tw-b
    language: zh
    feeds: ['{base}/tw-b/atom.xml']
  - name: test-zh-c
    language: zh
    sitemaps: ['{base}/zh-c/news-sitemap.xml']
  - name: test-en-d
    language: en
    start_urls: ['{base}/en-d/index.html']
    allow: ['/en-d/news/']
    {override}
  - name: test-en-e
    language: en
    feeds: ['{base}/en-e/rdf.xml']
    sitemaps: ['{base}/en-e/sitemap-index.xml']
    interval_minutes: 1
"""
QUICK_ARTICLES = {
    "/big5-header/bytedance.html",
    "/zh-c/copy.html",
    "/zh-c/textdate.html",
    "/en-d/news/2023/12/yi-llama.html",
    "/en-d/news/2023/12/distill.html",
    "/en-d/news/2023/12/older.html",
    "/en-d/news/2023/05/ancient.html",
    "/en-e/posts/wrapper.html",
    "/en-e/posts/rag.html",
}


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    with serve_newsroom() as room:
        yield room


def sources_file(tmp_path: Path, newsroom: Newsroom, text: str = QUICK_SOURCES, override: str = "") -> Path:
    path = tmp_path / "quick.yaml"
    path.write_text(text.replace("{override}", override).replace("{base}", newsroom.base), encoding="utf-8")
    return path


def article_hits(newsroom: Newsroom) -> dict[str, int]:
    return {path: count for path, count in newsroom.hits().items() if path in QUICK_ARTICLES}


def crawl_process(
    tmp_path: Path,
    sources: Path,
    name: str,
    *,
    data_dir: Path,
    redis_url: str | None = None,
    args: tuple[str, ...] = ("--once",),
    settings: dict[str, str] | None = None,
) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "crawlers.run",
        "--sources",
        str(sources),
        "--stats-json",
        str(tmp_path / f"{name}.stats.json"),
        "--set",
        f"SHELLWATCH_ARTICLES_JSONL={tmp_path / name}.jsonl",
        *args,
    ]
    for key, value in {**FAST, **(settings or {})}.items():
        command += ["--set", f"{key}={value}"]
    return subprocess.Popen(
        command,
        cwd=PACKAGE_ROOT,
        env=crawl_env(data_dir, redis_url),
        text=True,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / f"{name}.log").open("w"),
    )


@pytest.mark.slow
def test_crawlers_sharing_redis_fetch_each_url_once(tmp_path: Path, newsroom: Newsroom, redis) -> None:
    sources = sources_file(tmp_path, newsroom)
    crawlers = [
        crawl_process(tmp_path, sources, f"crawler{i}", data_dir=tmp_path / f"data{i}", redis_url=redis.url)
        for i in (1, 2)
    ]
    for process in crawlers:
        assert process.wait(timeout=90) == 0, (tmp_path / "crawler1.log").read_text()[-3000:]
    results = [
        read_result(tmp_path / f"crawler{i}.jsonl", tmp_path / f"crawler{i}.stats.json") for i in (1, 2)
    ]
    assert article_hits(newsroom) == dict.fromkeys(QUICK_ARTICLES, 1)  # no URL fetched twice
    stored = {a["canonical_url"].split(newsroom.base)[1] for r in results for a in r.articles.values()}
    assert stored == QUICK_ARTICLES
    assert sum(r.stats.new for r in results) == len(QUICK_ARTICLES)
    assert sum(r.stats.skipped_seen for r in results) > 0  # each saw the other's claims
    # A third crawler started later finds everything seen, in Redis rather than its own data dir.
    third = crawl(tmp_path, sources, data_dir=tmp_path / "data3", redis_url=redis.url, name="crawler3")
    assert third.stats.new == 0 and article_hits(newsroom) == dict.fromkeys(QUICK_ARTICLES, 1)


@pytest.mark.slow
def test_a_killed_crawl_resumes_without_refetching_everything(tmp_path: Path, newsroom: Newsroom) -> None:
    sources = sources_file(tmp_path, newsroom)
    slow = {
        "DOWNLOAD_DELAY": "0.4",
        "DOWNLOAD_DELAY_JITTER": "0",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "1",
    }
    process = crawl_process(tmp_path, sources, "killed", data_dir=tmp_path / "data", settings=slow)
    output = tmp_path / "killed.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not output.exists() or len(output.read_text().splitlines()) < 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # no graceful shutdown: the worst case
    process.wait(timeout=10)
    handed_off = {
        json.loads(line)["canonical_url"].split(newsroom.base)[1] for line in output.read_text().splitlines()
    }
    assert 2 <= len(handed_off) < len(QUICK_ARTICLES)
    before = newsroom.hits()

    resumed = crawl(tmp_path, sources, data_dir=tmp_path / "data", name="resumed")
    refetched = {path for path in (newsroom.hits() - before) if path in handed_off}
    assert resumed.stats.resumed >= 1  # claimed-but-unfinished URLs were picked up first
    assert len(refetched) <= 1  # at most one article caught between hand-off and completion
    stored = handed_off | {a["canonical_url"].split(newsroom.base)[1] for a in resumed.articles.values()}
    assert stored == QUICK_ARTICLES


@pytest.mark.slow
def test_continuous_mode_polls_until_sigterm_and_stops_cleanly(tmp_path: Path, newsroom: Newsroom) -> None:
    sources = sources_file(tmp_path, newsroom)
    process = crawl_process(tmp_path, sources, "continuous", data_dir=tmp_path / "data", args=())
    log = tmp_path / "continuous.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "crawl_pass_done" not in log.read_text():
        time.sleep(0.1)
    assert process.poll() is None, "without --once the crawler keeps running"
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert stdout.startswith("crawl: fetched") and f"new {len(QUICK_ARTICLES)}" in stdout


@pytest.mark.slow
def test_run_crawl_twice_in_one_process(tmp_path: Path, newsroom: Newsroom) -> None:
    sources = sources_file(tmp_path, newsroom)
    script = textwrap.dedent(f"""
        import json
        from pathlib import Path
        from crawlers.run import run_crawl
        from shellwatch.config import load_settings
        overrides = {{**{FAST!r}, "SHELLWATCH_ARTICLES_JSONL": {str(tmp_path / "twice.jsonl")!r}}}
        settings = load_settings()
        first = run_crawl(settings, sources_file=Path({str(sources)!r}), scrapy_settings=overrides)
        second = run_crawl(settings, sources_file=Path({str(sources)!r}), scrapy_settings=overrides)
        print(json.dumps([first.to_dict(), second.to_dict()]))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PACKAGE_ROOT,
        env=crawl_env(tmp_path / "data", None),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = json.loads(done.stdout.strip().splitlines()[-1])
    assert first["new"] == len(QUICK_ARTICLES)
    # The second crawl ran (in a child process: the reactor cannot restart) and found all seen.
    assert second["new"] == 0 and second["not_modified"] == 2 and second["skipped_seen"] == 6


@pytest.mark.slow
def test_since_backfill_limits_sitemaps_feeds_and_paging(tmp_path: Path, newsroom: Newsroom) -> None:
    sources = sources_file(tmp_path, newsroom)
    backfill = crawl(
        tmp_path, sources, data_dir=tmp_path / "since", args=("--once", "--since", "2023-12-19"), name="since"
    )
    hits = newsroom.hits()
    assert hits["/en-e/posts/rag.html"] == 1  # lastmod 2023-12-19
    assert hits["/en-e/posts/wrapper.html"] == 0  # 2023-12-18 in both the sitemap and the RDF feed
    assert hits["/zh-c/copy.html"] == 0  # Google News publication date 2023-11-15
    # Page 1's articles are older than the date: the next page is not fetched.
    assert hits["/en-d/index.html"] == 1 and hits["/en-d/page2.html"] == 0
    assert backfill.by_path("/en-e/posts/rag.html") is not None

    newsroom.requests.clear()
    crawl(
        tmp_path,
        sources,
        data_dir=tmp_path / "full",
        settings={"SHELLWATCH_LISTING_PAGES": "10"},
        name="full",
    )
    assert newsroom.hits()["/en-d/page4.html"] == 1  # without --since, paging goes on while pages bring news

    newsroom.requests.clear()
    crawl(
        tmp_path, sources, data_dir=tmp_path / "deep", args=("--once", "--since", "2023-06-01"), name="deep"
    )
    hits = newsroom.hits()
    # Pages 1 and 2 hold articles from June 2023 on; page 3's is from May: paging stops there.
    assert hits["/en-d/page2.html"] == hits["/en-d/page3.html"] == 1 and hits["/en-d/page4.html"] == 0


@pytest.mark.slow
def test_per_source_override_hook(tmp_path: Path, newsroom: Newsroom) -> None:
    override = "override: 'tests.crawlers.hooks_for_tests:SkipDistillOverride'"
    result = crawl(tmp_path, sources_file(tmp_path, newsroom, override=override), data_dir=tmp_path / "data")
    assert newsroom.hits()["/en-d/news/2023/12/distill.html"] == 0
    assert result.by_path("/en-d/news/2023/12/yi-llama.html")["author"] == "Jane Doe (checked by test-en-d)"
    assert result.by_path("/en-e/posts/rag.html")["author"] == "Jane Doe"  # other sources untouched


@pytest.mark.slow
def test_a_failed_hand_off_is_counted_and_retried_next_run(tmp_path: Path, newsroom: Newsroom) -> None:
    sources = sources_file(tmp_path, newsroom)
    handed = tmp_path / "handed.jsonl"
    command = [
        sys.executable,
        "-m",
        "crawlers.run",
        "--sources",
        str(sources),
        "--once",
        "--stats-json",
        str(tmp_path / "stats.json"),
        "--set",
        "SHELLWATCH_HANDOFF=tests.crawlers.hooks_for_tests:handoff_failing_on_rag",
    ]
    for key, value in FAST.items():
        command += ["--set", f"{key}={value}"]
    env = {**crawl_env(tmp_path / "data", None), "TEST_HANDOFF_FILE": str(handed)}
    done = subprocess.run(command, cwd=PACKAGE_ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "failed 1 (handoff_error 1)" in done.stdout
    assert "handoff_failed" in done.stderr and "store unreachable" in done.stderr
    assert len(handed.read_text().splitlines()) == len(QUICK_ARTICLES) - 1

    again = crawl(tmp_path, sources, data_dir=tmp_path / "data", name="again")  # the stage works again
    assert again.stats.resumed == 1 and again.stats.new == 1
    assert again.by_path("/en-e/posts/rag.html") is not None


def test_broken_override_is_a_clear_error(tmp_path: Path, newsroom: Newsroom) -> None:
    sources = sources_file(tmp_path, newsroom, override="override: 'no.such.module:Hook'")
    done = subprocess.run(
        [sys.executable, "-m", "crawlers.run", "--sources", str(sources), "--once"],
        cwd=PACKAGE_ROOT,
        env=crawl_env(tmp_path / "data", None),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "override 'no.such.module:Hook' cannot be loaded" in done.stderr


@pytest.mark.slow
def test_ingest_urls_skip_discovery_and_the_relevance_filter(tmp_path: Path, newsroom: Newsroom) -> None:
    sources = newsroom.sources_file(tmp_path)
    urls = (f"{newsroom.base}/zh-a/irrelevant.html", f"{newsroom.base}/en-e/posts/rag.html")
    result = crawl(tmp_path, sources, data_dir=tmp_path / "data", args=("--once", *urls))
    assert result.stats.new == 2 and result.stats.irrelevant == 0  # given by hand: kept
    assert {a["source"] for a in result.articles.values()} == {
        "test-zh-a",
        "test-en-e",
    }  # named by the registry
    assert not any("feed" in path or "sitemap" in path for path in newsroom.hits())


def test_ingest_a_saved_page(tmp_path: Path, settings) -> None:
    captured: list[Article] = []
    article = ingest_file(
        settings,
        NEWSROOM / "zh-a" / "gbk.html",
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
        handoff=lambda _settings, a: captured.append(a),
    )
    assert captured == [article]
    assert article.title == "百度文心一言被质疑使用ChatGPT生成的数据训练" and article.language == "zh"
    assert article.source == "ingest" and article.url.startswith("file://")


def test_ingest_refuses_a_page_without_an_article(tmp_path: Path, settings) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><nav>首页</nav></body></html>", encoding="utf-8")
    with pytest.raises(ValueError, match="no_article_text"):
        ingest_file(settings, empty, fetched_at=datetime(2024, 1, 1, tzinfo=UTC), handoff=lambda *_: None)


def test_crawl_env_does_not_leak_a_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert "REDIS_URL" not in crawl_env(tmp_path, None)
    assert os.environ["REDIS_URL"]  # the helper copies, it does not mutate
