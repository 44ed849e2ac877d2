"""The on-disk spool: atomic, idempotent per article, drained in order, never loses a file."""

from __future__ import annotations

import fcntl
from pathlib import Path

from shellwatch.domain import Article, from_json
from tests.workers.factories import make_article
from workers.spool import Spool


def test_put_is_idempotent_per_article_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    article = make_article(1)
    spool.put(article)
    spool.put(article)
    files = spool.pending()
    assert [path.name for path in files] == [f"{article.id}.json"]
    assert from_json(Article, files[0].read_bytes()) == article
    assert not list((tmp_path / "spool").glob(".incoming-*"))


def test_drain_submits_oldest_first_and_deletes_only_what_was_handed_off(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    articles = [make_article(i) for i in range(4)]
    for article in articles:
        spool.put(article)
    submitted: list[str] = []

    def submit(article: Article) -> None:
        if len(submitted) == 2:
            raise ConnectionError("broker down again")
        submitted.append(article.id)

    result = spool.drain(submit)
    assert submitted == [articles[0].id, articles[1].id]
    assert (result.submitted, result.remaining) == (2, 2)
    assert isinstance(result.error, ConnectionError)
    assert sorted(path.stem for path in spool.pending()) == sorted(a.id for a in articles[2:])

    result = spool.drain(lambda article: submitted.append(article.id))
    assert (result.submitted, result.remaining, result.error) == (2, 0, None)
    assert submitted == [article.id for article in articles]
    assert spool.pending() == []


def test_a_file_that_does_not_parse_is_moved_aside_not_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put(make_article(1))
    broken = tmp_path / "spool" / "broken.json"
    broken.write_text('{"url": ', encoding="utf-8")
    seen: list[str] = []
    result = spool.drain(lambda article: seen.append(article.id))
    assert (result.submitted, result.rejected) == (1, 1)
    assert (tmp_path / "spool" / "rejected" / "broken.json").read_text(encoding="utf-8") == '{"url": '
    assert spool.pending() == []


def test_a_second_drainer_skips_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put(make_article(1))
    with open(tmp_path / "spool" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = spool.drain(lambda article: None)
    assert result.skipped and result.submitted == 0
    assert len(spool) == 1
