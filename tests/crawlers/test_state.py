"""Crawl state, run against both backends: SQLite (embedded) and Redis (shared by crawler processes)."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from crawlers import syndication
from crawlers.state import CrawlState, FeedValidators, RedisCrawlState, SqliteCrawlState
from shellwatch.domain import Article, Language

TEXT = (
    "近日，有开发者在Hugging Face上发现，零一万物发布的Yi-34B模型沿用了Meta的Llama架构。"
    "这一发现迅速在社交媒体上引发热议，不少网友质疑Yi-34B是否属于套壳。"
    "对此，零一万物回应称，模型是从零开始训练的，训练数据和方法都是团队自主完成的。"
)


@pytest.fixture(params=["sqlite", "redis"])
def state(request: pytest.FixtureRequest, tmp_path) -> Iterator[CrawlState]:
    if request.param == "sqlite":
        backend: CrawlState = SqliteCrawlState(tmp_path / "state.sqlite3")
    else:
        backend = RedisCrawlState(request.getfixturevalue("redis").url)
    yield backend
    backend.close()


def article(url: str, source: str) -> Article:
    return Article(
        url=url,
        canonical_url=url,
        source=source,
        language=Language.ZH,
        title="t",
        text=TEXT,
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


def test_claim_once(state: CrawlState) -> None:
    assert state.claim("http://x/a", {"source": "s"})
    assert not state.claim("http://x/a", {"source": "s"})
    assert state.is_seen("http://x/a")


def test_pending_until_complete(state: CrawlState) -> None:
    state.claim("http://x/a", {"source": "s", "title": "标题"})
    state.claim("http://x/b", {"source": "s"})
    pending = {p.url: p.payload for p in state.pending(all_of_them=True)}
    assert pending["http://x/a"] == {"source": "s", "title": "标题"}
    state.complete("http://x/a")
    state.complete("http://x/b")
    assert state.pending(all_of_them=True) == []
    assert state.is_seen("http://x/a") and state.is_seen("http://x/b")


def test_transient_failures_stay_pending_and_count_attempts(state: CrawlState) -> None:
    state.claim("http://x/a", {"source": "s"})
    assert state.retry_later("http://x/a") == 1
    assert state.retry_later("http://x/a") == 2
    # Due at once, even for a process that only retakes stale claims.
    (pending,) = state.pending(all_of_them=False)
    assert pending.payload == {"source": "s", "attempts": 2}


def test_fresh_claims_of_other_processes_are_not_retaken(state: CrawlState) -> None:
    state.claim("http://x/a", {"source": "s"})
    assert state.pending(all_of_them=False) == []


def test_feed_validators(state: CrawlState) -> None:
    assert state.validators("http://x/feed") == FeedValidators()
    state.save_validators("http://x/feed", FeedValidators('"abc"', "Fri, 15 Dec 2023 10:00:00 GMT"))
    assert state.validators("http://x/feed") == FeedValidators('"abc"', "Fri, 15 Dec 2023 10:00:00 GMT")


def test_first_copy_and_update(state: CrawlState) -> None:
    first = article("http://a/1", "outlet-a")
    fingerprint = syndication.fingerprint(TEXT)
    assert fingerprint is not None and state.first_copy(fingerprint) is None
    state.remember_article(first, fingerprint)
    state.remember_article(
        article("http://c/9", "outlet-c"),
        syndication.fingerprint("另一篇完全不同的文章。" * 3 + "结尾不同的句子内容在这里。"),
    )
    found = state.first_copy(syndication.fingerprint("转载自A。\n" + TEXT))
    assert found is not None and found.id == first.id
    found.also_published_at.append("http://b/2")
    state.remember_article(found, None)  # updating keeps the original fingerprint
    again = state.first_copy(fingerprint)
    assert again is not None and again.also_published_at == ["http://b/2"]


def test_peek_takes_nothing(state: CrawlState) -> None:
    state.claim("http://x/a", {"source": "s"})
    assert [p.url for p in state.peek_pending()] == ["http://x/a"]
    assert [p.url for p in state.peek_pending()] == ["http://x/a"]


def test_a_killed_crawlers_urls_are_retaken_once_its_heartbeat_stops(redis) -> None:
    """Another process retakes what a dead crawler claimed within seconds, not after the 600 s
    lease; it leaves a live crawler's claims alone however old they are, and of two resuming
    processes only one takes each URL."""
    killed = RedisCrawlState(redis.url, heartbeat_seconds=0.6)
    live = RedisCrawlState(redis.url, heartbeat_seconds=0.6)
    first, second = RedisCrawlState(redis.url), RedisCrawlState(redis.url)
    try:
        assert killed.claim("http://x/dead", {"source": "s"})
        assert live.claim("http://x/busy", {"source": "s"})
        assert first.pending(all_of_them=False) == []  # both owners live
        killed._stopped.set()  # the process dies: no more heartbeats, no clean close
        time.sleep(1.5)  # its key expires; the live one's is renewed every 0.2 s
        taken = first.pending(all_of_them=False) + second.pending(all_of_them=False)
        assert [p.url for p in taken] == ["http://x/dead"]
        assert taken[0].payload == {"source": "s"}
        assert second.pending(all_of_them=False) == []  # the retaker lives: not taken twice
    finally:
        for state in (killed, live, first, second):
            state.close()


def test_a_cleanly_closed_crawlers_leftovers_are_due_at_once(redis) -> None:
    leaving = RedisCrawlState(redis.url)
    leaving.claim("http://x/left", {"source": "s"})
    leaving.close()
    resuming = RedisCrawlState(redis.url)
    try:
        assert [p.url for p in resuming.pending(all_of_them=False)] == ["http://x/left"]
    finally:
        resuming.close()
