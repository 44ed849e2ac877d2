"""What only the embedded backend has: the file, WAL, locking, several writer processes, FTS5 probe."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from search import open_store
from search.backends.base import CapabilityError, StoreUnavailable
from search.backends.sqlite import SCHEMA_VERSION, SqliteStore, _probe_fts5
from shellwatch.domain import ClaimType, Language, Stance, Subscription
from tests.search.conftest import make_article, make_claim

DATA = Path(__file__).resolve().parent.parent / "data" / "search"


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
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [row[1] for row in store._db.execute("PRAGMA table_info(articles)")]
        assert "payload" not in columns and "claim_set" in columns


def test_a_file_of_schema_3_gets_claim_sets_and_answers_the_same(tmp_path: Path, kb, caplog) -> None:
    """A store written before claim filters moved onto the article row (tests/data/search/
    schema-v3.sql is that schema, as released), filled the way that version wrote it."""
    path = tmp_path / "v3.sqlite3"
    articles = [
        make_article("Yi-34B accused", "llama", claims=[make_claim("yi-34b")]),
        make_article(
            "01.AI denies and admits",
            "llama",
            lang=Language.ZH,
            claims=[
                make_claim("yi-34b", ClaimType.LLAMA_BASED, Stance.DENIAL),
                make_claim("yi-34b", ClaimType.API_DISTILLED, Stance.ADMISSION),
            ],
        ),
        make_article("ERNIE Bot wrapper", "llama", claims=[make_claim("ernie-bot", ClaimType.API_WRAPPER)]),
        make_article("no claims here", "llama", mentions=["baidu"]),
    ]
    with sqlite3.connect(path) as old:
        old.executescript((DATA / "schema-v3.sql").read_text(encoding="utf-8"))
        for rowid, analysed in enumerate(articles, start=1):
            a = analysed.article
            old.execute(
                "INSERT INTO articles VALUES (?, ?, ?, ?, ?)",
                (rowid, a.id, a.published_at.strftime("%Y-%m-%dT%H:%M:%S"), a.language.value, a.source),
            )
            old.execute("INSERT INTO article_payloads VALUES (?, ?)", (rowid, analysed.model_dump_json()))
            old.execute(
                "INSERT INTO article_fts(rowid, title, body, entities) VALUES (?, ?, ?, '')",
                (rowid, a.title, a.text),
            )
            for claim in analysed.analysis.claims:
                old.execute(
                    "INSERT INTO claims VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        rowid,
                        claim.type.value,
                        claim.stance.value,
                        claim.type.depth,
                        claim.subject,
                        claim.confidence,
                    ),
                )
            for mention in analysed.analysis.entities:
                old.execute("INSERT INTO article_entities VALUES (?, ?)", (mention.id, rowid))
        baidu = Subscription(id="baidu", name="Baidu", entities=["baidu"], created_at=datetime.now(UTC))
        old.execute("INSERT INTO subscriptions VALUES (?, ?)", (baidu.id, baidu.model_dump_json()))
    with caplog.at_level("WARNING"), SqliteStore(path, kb=kb) as store:
        assert "event=sqlite-migrate" in caplog.text and "from_version=3" in caplog.text
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        titles = lambda q: {h.article.article.title for h in store.search(q).hits}  # noqa: E731
        assert titles("type:llama_based stance:denial") == {"01.AI denies and admits"}
        assert titles("type:llama_based stance:admission") == set()  # one claim must match both
        assert titles("depth:<=2") == {"ERNIE Bot wrapper"}
        assert titles("llama NOT stance:allegation") == {"01.AI denies and admits", "no claims here"}
        facets = store.search("llama").facets
        assert {f.value: f.count for f in facets["stance"]} == {"allegation": 2, "denial": 1, "admission": 1}
        sizes = dict(store._db.execute("SELECT claims, articles FROM claim_sets").fetchall())
        assert sorted(sizes.values()) == [1, 1, 1]
        plans = {"articles_by_claims", "articles_by_date", "articles_by_source"}
        indexes = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert plans <= indexes and not {"claims_type", "claims_stance", "articles_published"} & indexes
        assert [s.id for s in store.match_subscriptions(articles[2])] == ["baidu"]  # filed on upgrade
        store.upsert_article(make_article("new after the upgrade", "llama", claims=[make_claim("yi-34b")]))
        assert titles("type:llama_based stance:allegation") == {"Yi-34B accused", "new after the upgrade"}


def test_a_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite3"
    with sqlite3.connect(path) as newer:
        newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CapabilityError, match="newer than this ShellWatch"):
        SqliteStore(path)


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


def test_filters_drive_the_plan_through_covering_indexes_without_the_claims_table(tmp_path: Path, kb) -> None:
    """EXPLAIN QUERY PLAN of the statements a filtered search runs: the smallest filter drives, its
    index covers the others, and no claim filter reads the claims table."""
    from search.backends.sqlite import _Compiler, _driver
    from search.query import parse_query

    with SqliteStore(tmp_path / "store.sqlite3", kb=kb) as store:
        for i in range(30):
            claim = make_claim("yi-34b", ClaimType.API_DISTILLED if i % 3 else ClaimType.LLAMA_BASED)
            source = "36kr" if i % 10 == 0 else "TechCrunch"
            store.upsert_article(make_article(f"story {i}", "llama", source=source, claims=[claim]))
        db = store._db

        def plan(query: str) -> tuple[str | None, str]:
            compiled = _Compiler(kb, store._claim_sets(db)).compile(parse_query(query))
            driver = _driver(db, compiled, 10_000)
            sql, params = compiled.select_driven(driver)
            steps = " | ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", [*params, 1]))
            return (driver.driver if driver else None), steps

        driver, steps = plan("type:llama_based lang:en")
        assert driver == "articles_by_claims" and "COVERING INDEX articles_by_claims" in steps
        driver, steps = plan("source:36kr type:api_distilled")  # 3 articles from 36kr, 20 distilled
        assert driver == "articles_by_source" and "COVERING INDEX articles_by_source" in steps
        driver, steps = plan("lang:en")  # nothing selective: newest first through the date index
        assert driver is None and "COVERING INDEX articles_by_date" in steps
        assert "TEMP B-TREE FOR ORDER BY" not in steps  # ties on the date only are sorted by rowid
        driver, steps = plan("entity:01.AI stance:allegation from:2023")  # all 30: the first wins
        assert driver == "entity" and "article_entities" in steps
        for query in ("type:llama_based lang:en", "source:36kr type:api_distilled", "stance:denial"):
            assert " claims" not in plan(query)[1]
        assert store.search("source:36kr type:api_distilled").total == 2


def test_keyed_percolation_matches_what_checking_every_subscription_matches(tmp_path: Path, kb) -> None:
    """match_subscriptions reads only the subscriptions filed under the article's keys: on random
    subscriptions and articles it returns exactly what checking every subscription returns."""
    import random

    from search.percolate import passing_claims

    rng = random.Random(11)
    names = ["baidu", "ernie-bot", "01.AI", "零一萬物", "yi-34b", "meta", "llama", "gpt-4", "unknown-9b"]
    queries = [
        None,
        None,
        "llama",
        "蒸馏 OR 套壳",
        "entity:百度 lang:zh",
        "wrapper -llama",
        "type:api_wrapper",
    ]
    subjects = ["yi-34b", "ernie-bot", "llama", "doubao", "gpt-4", None]
    with SqliteStore(tmp_path / "store.sqlite3", kb=kb) as store:
        subscriptions = []
        for n in range(150):
            fields: dict = {"query": rng.choice(queries)}
            if rng.random() < 0.5:
                fields["entities"] = rng.sample(names, rng.choice((1, 2)))
            if rng.random() < 0.4:
                fields["claim_types"] = rng.sample(list(ClaimType), rng.choice((1, 2)))
            if rng.random() < 0.3:
                fields["max_depth"] = rng.choice((1, 2, 3, 5, 9))
            if rng.random() < 0.3:
                fields["stances"] = rng.sample(list(Stance), rng.choice((0, 1, 2)))
            subscriptions.append(
                Subscription(
                    id=f"s{n:03d}", name=f"s{n}", created_at=datetime(2024, 1, 1, tzinfo=UTC), **fields
                )
            )
        for s in subscriptions:
            store.save_subscription(s)
        store.delete_subscription("s000")  # a deleted subscription is no candidate any more
        subscriptions = subscriptions[1:]
        texts = ["Llama weights", "文心一言被指蒸馏", "a thin wrapper", "零一萬物套殼"]
        checked = 0
        for _ in range(40):
            claims = [
                make_claim(
                    subject,
                    rng.choice(list(ClaimType)),
                    rng.choice(list(Stance)),
                    subject_name=None if subject else "Unknown-9B",
                )
                for subject in rng.sample(subjects, rng.choice((0, 1, 2)))
            ]
            lang = rng.choice([Language.EN, Language.ZH])
            article = make_article(rng.choice(texts), rng.choice(texts), lang=lang, claims=claims)
            store.upsert_article(article)  # so that a search finds it: the reference for queries
            found = {
                s.id
                for s in subscriptions
                if passing_claims(s, article, kb)
                and (
                    not s.query or article.id in {h.article.id for h in store.search(s.query, limit=100).hits}
                )
            }
            matched = [s.id for s in store.match_subscriptions(article)]
            assert set(matched) == found and matched == sorted(matched)
            checked += len(found)
        assert checked > 100  # the comparison covered many matches, not only empty ones


def test_facets_say_when_they_count_a_sample(tmp_path: Path, kb, monkeypatch) -> None:
    from search.backends import sqlite as backend

    with SqliteStore(tmp_path / "store.sqlite3", kb=kb) as store:
        for day in range(10, 15):
            claims = [make_claim("yi-34b")]
            store.upsert_article(
                make_article(f"story {day}", "llama", published=f"2023-11-{day}", claims=claims)
            )
        bounded = store.search("lang:en", track_total_hits=1)  # the total stops at 1, facets do not
        assert (bounded.total, bounded.total_relation, bounded.facet_sample) == (1, "gte", None)
        assert {f.value: f.count for f in bounded.facets["lang"]} == {"en": 5}
        monkeypatch.setattr(backend, "FACET_SAMPLE", 2)
        for query in ("lang:en", "llama", "llama lang:en", "type:llama_based", ""):
            sampled = store.search(query)
            assert (sampled.total, sampled.facet_sample) == (5, 2), query
            assert {f.value: f.count for f in sampled.facets["type"]} == {"llama_based": 2}, query
