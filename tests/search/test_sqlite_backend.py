"""What only the embedded backend has: the file, WAL, locking, several writer processes, FTS5 probe."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from search import open_store
from search.backends.base import CapabilityError, StoreUnavailable
from search.backends.sqlite import SqliteStore, _probe_fts5
from shellwatch.domain import Language
from tests.search.conftest import make_article, make_claim


def test_from_settings_opens_one_wal_file_in_the_data_dir(settings) -> None:
    with open_store(settings) as store:
        assert isinstance(store, SqliteStore)
        store.upsert_article(make_article("Yi-34B accused", "text", claims=[make_claim("yi-34b")]))
    assert settings.database_path.exists()
    with sqlite3.connect(settings.database_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with open_store(settings) as store:  # the real knowledge base resolves names in any script
        assert store.search("entity:零一萬物").total == 1


def test_a_database_that_cannot_be_opened_is_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot open"):
        SqliteStore(tmp_path / "missing-dir" / "store.sqlite3")
    (tmp_path / "not-a-db").write_bytes(b"this is not an SQLite file" * 100)
    with pytest.raises(StoreUnavailable):
        SqliteStore(tmp_path / "not-a-db")


def test_a_store_locked_too_long_raises_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    SqliteStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with SqliteStore(path, lock_timeout=0.3) as store:
            with pytest.raises(StoreUnavailable, match="locked"):
                store.upsert_article(make_article("title", "text"))
            assert store.count_articles() == 0  # readers are not blocked under WAL
    finally:
        holder.rollback()
        holder.close()


def test_missing_fts5_is_a_capability_error() -> None:
    class NoFts5:  # stands in for an SQLite build without FTS5, which cannot be installed here
        def execute(self, sql: str) -> None:
            raise sqlite3.OperationalError("no such module: fts5")

    with pytest.raises(CapabilityError, match="no FTS5"):
        _probe_fts5(NoFts5())  # type: ignore[arg-type]


def _write_many(path: str, worker: int, count: int) -> None:
    with SqliteStore(path, lock_timeout=30) as store:
        for i in range(count):
            store.upsert_article(
                make_article(f"worker {worker} article {i}", "text", url=f"https://w{worker}.example/{i}")
            )


@pytest.mark.slow
def test_several_processes_write_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "store.sqlite3")
    SqliteStore(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, w, 40)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    with SqliteStore(path) as store:
        assert store.count_articles() == 120
        assert store.search("worker").total == 120


def test_reindex_swaps_tables_and_a_failed_rebuild_leaves_the_old_index(
    tmp_path: Path, kb, monkeypatch
) -> None:
    with SqliteStore(tmp_path / "store.sqlite3", kb=kb) as store:
        for i in range(5):
            store.upsert_article(make_article(f"零一萬物 story {i}", "text", url=f"https://x.example/{i}"))
        import search.backends.sqlite as backend

        def broken(*args, **kwargs):
            raise RuntimeError("analysis bug")

        monkeypatch.setattr(backend, "_article_rows", broken)
        with pytest.raises(RuntimeError):
            store.reindex()
        monkeypatch.undo()
        assert store.search("零一万物").total == 5
        assert store.reindex() == 5
        assert store.search("零一万物").total == 5
        tables = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%_next%'")}
        assert tables == set()


def test_facets_above_the_sample_size_count_the_newest_matches(tmp_path: Path, monkeypatch) -> None:
    import search.backends.sqlite as backend

    with SqliteStore(tmp_path / "store.sqlite3") as store:
        for i in range(5):
            lang = Language.ZH if i < 3 else Language.EN
            store.upsert_article(
                make_article(f"llama story {i}", "text", lang=lang, url=f"https://x.example/{i}")
            )
        exact = store.search("llama")
        assert exact.facet_sample is None
        assert {f.value: f.count for f in exact.facets["lang"]} == {"zh": 3, "en": 2}
        monkeypatch.setattr(backend, "FACET_SAMPLE", 2)
        sampled = store.search("llama")
        assert sampled.total == 5 and sampled.facet_sample == 2
        assert {f.value: f.count for f in sampled.facets["lang"]} == {"en": 2}  # the two indexed last


def test_ranking_window_keeps_the_newest_matches_and_exact_totals(tmp_path: Path, monkeypatch) -> None:
    import search.backends.sqlite as backend

    with SqliteStore(tmp_path / "store.sqlite3") as store:
        store.upsert_article(
            make_article("llama llama llama", "llama", url="https://x.example/best-but-oldest")
        )
        for i in range(4):
            store.upsert_article(make_article(f"story {i}", "llama", url=f"https://x.example/{i}"))
        assert store.search("llama").hits[0].article.article.title == "llama llama llama"
        monkeypatch.setattr(backend, "RANK_WINDOW", 3)
        windowed = store.search("llama")
        assert windowed.total == 5
        assert {h.article.article.title for h in windowed.hits} == {"story 1", "story 2", "story 3"}
        assert {h.article.article.title for h in store.search("llama lang:en").hits} == {
            "story 1",
            "story 2",
            "story 3",
        }


def test_a_file_of_the_previous_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    article = make_article("kept across the upgrade", "text")
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:  # schema version 2: the JSON still inside `articles`
        old.executescript(
            "CREATE TABLE articles (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, published_at TEXT NOT NULL,"
            " language TEXT NOT NULL, source TEXT NOT NULL COLLATE NOCASE, payload TEXT NOT NULL);"
            "CREATE TABLE claims (article INTEGER NOT NULL, type TEXT NOT NULL, stance TEXT NOT NULL, depth INTEGER,"
            " subject TEXT, confidence REAL NOT NULL);"
            "CREATE INDEX claims_type ON claims(type, stance); CREATE INDEX claims_article ON claims(article);"
            "PRAGMA user_version = 2;"
        )
        old.execute(
            "INSERT INTO articles VALUES (1, ?, '2023-11-15T00:00:00', 'en', 'TechCrunch', ?)",
            (article.id, article.model_dump_json()),
        )
    with SqliteStore(path) as store:
        assert store.get_article(article.id).article.title == "kept across the upgrade"
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == 3
        columns = [row[1] for row in store._db.execute("PRAGMA table_info(articles)")]
        assert "payload" not in columns


def test_any_input_either_answers_or_is_a_query_error(tmp_path: Path) -> None:
    """Random strings of the syntax's own pieces never reach SQLite as a raw error."""
    import random

    from search.backends.base import QueryError

    pieces = [
        "a",
        "llama",
        "零",
        "一",
        '"',
        "(",
        ")",
        "*",
        "-",
        ":",
        "AND",
        "OR",
        "NOT",
        " ",
        " ",
        "entity:",
        "type:",
        "depth:",
        "<",
        "=",
        "^",
        "\\",
        "'",
        ".",
        "，",
        "“",
        "”",
        "（",
        "）",
        "from:",
        "2023",
        "lang:",
    ]
    rng = random.Random(7)
    with SqliteStore(tmp_path / "store.sqlite3") as store:
        store.upsert_article(make_article("零一万物 llama", "text"))
        answered = 0
        for _ in range(400):
            query = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
            try:
                store.search(query)
                answered += 1
            except QueryError as exc:
                assert exc.position is None or 0 <= exc.position <= len(query)
        assert answered > 50
