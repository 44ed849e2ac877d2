"""The embedded store: one SQLite file (WAL) with an FTS5 full-text index.

Layout: `articles` holds each analysed article as JSON plus the columns filters need; `article_fts`
indexes title, body and the names of the linked entities in every script (text.index_form:
simplified, Chinese bigrams, English Porter-stemmed by the tokenizer); `article_entities` and
`claims` carry the entity / claim-type / stance / depth filters; incidents, subscriptions, the
alert log, delivery states and dead letters are plain tables. Several worker processes may write at
once: every write is one `BEGIN IMMEDIATE` transaction, retried while the file is busy, and a store
locked for too long raises StoreUnavailable so the caller retries later.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from search.aggregates import BUCKETS, aggregate, histogram
from search.backends.base import CapabilityError, QueryError, Store, StoreUnavailable
from search.backends.sqlite_admin import SqliteAdminMixin
from search.entities import (
    EmptyKnowledgeBase,
    KnowledgeBase,
    document_entity_ids,
    entity_family,
    entity_label,
    entity_names,
    load_kb,
    org_of,
    resolve_entity_id,
)
from search.highlight import Highlighter
from search.percolate import passing_claims
from search.query import And, DepthRange, Filter, Not, Or, Phrase, Query, Term, parse_query
from search.results import (
    BulkResult,
    DeadLetter,
    DeliveredAlert,
    FacetCount,
    IncidentDetail,
    MonthAggregates,
    SearchHit,
    SearchResult,
    Timeline,
)
from search.text import index_form, tokens
from shellwatch.config import Settings
from shellwatch.domain import (
    Alert,
    AnalysedArticle,
    Incident,
    Subscription,
    from_json,
    stable_id,
    to_json,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

TOKENIZER = "porter unicode61 remove_diacritics 2"
BM25_WEIGHTS = (3.0, 1.0, 2.0)  # title, body, entity names
FACET_SIZE = 20
FACET_NAMES = ("entity", "type", "depth", "stance", "lang", "source", "month")
FACET_SAMPLE = 5_000  # above this many matches, facets count the most recently indexed ones
RANK_WINDOW = 10_000  # BM25 ranks at most this many (the most recently indexed) matches
LOCK_SLOTS = 4096  # incident_lock: distinct keys share a byte (and wait for each other) 1 in 4096
CLAIM_FILTERS = ("type", "stance", "depth")

SCHEMA_VERSION = 3
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    published_at TEXT NOT NULL,  -- UTC 'YYYY-MM-DDTHH:MM:SS', the fetch time when no date is known
    language TEXT NOT NULL,
    source TEXT NOT NULL COLLATE NOCASE
);
-- The stored JSON lives apart so that `articles` rows stay small: filters and facets touch many
-- rows, the JSON is read only for the page of results shown.
CREATE TABLE IF NOT EXISTS article_payloads (rowid INTEGER PRIMARY KEY, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE TABLE IF NOT EXISTS article_entities (
    entity TEXT NOT NULL, article INTEGER NOT NULL, PRIMARY KEY (entity, article)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS article_entities_article ON article_entities(article);
CREATE TABLE IF NOT EXISTS claims (
    article INTEGER NOT NULL, type TEXT NOT NULL, stance TEXT NOT NULL, depth INTEGER,
    subject TEXT, confidence REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_article ON claims(article, type, stance, depth);  -- covers the facets
CREATE INDEX IF NOT EXISTS claims_type ON claims(type, stance, article);
CREATE INDEX IF NOT EXISTS claims_stance ON claims(stance, article);
CREATE INDEX IF NOT EXISTS claims_depth ON claims(depth, article);
CREATE VIRTUAL TABLE IF NOT EXISTS article_fts USING fts5(title, body, entities, tokenize='{TOKENIZER}');
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, subject TEXT, subject_org TEXT, started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_started ON incidents(started_at);
CREATE TABLE IF NOT EXISTS incident_articles (
    incident TEXT NOT NULL, article TEXT NOT NULL,
    published_at TEXT,  -- the article's, copied so timelines need no article lookups
    PRIMARY KEY (incident, article)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incident_articles_article ON incident_articles(article);
CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, subscription_id TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_subscription ON alerts(subscription_id);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, channel TEXT NOT NULL,
    subscription_id TEXT NOT NULL, delivered INTEGER NOT NULL, payload TEXT NOT NULL,
    UNIQUE (alert_id, channel)
);
CREATE TABLE IF NOT EXISTS dead_letters (id TEXT PRIMARY KEY, failed_at TEXT NOT NULL, payload TEXT NOT NULL);
"""

# Tables derived from the articles' payloads, rebuilt by reindex().
DERIVED_TABLES = {
    "article_fts": f"CREATE VIRTUAL TABLE {{name}} USING fts5(title, body, entities, tokenize='{TOKENIZER}')",
    "article_entities": (
        "CREATE TABLE {name} (entity TEXT NOT NULL, article INTEGER NOT NULL, PRIMARY KEY (entity, article))"
        " WITHOUT ROWID"
    ),
    "claims": (
        "CREATE TABLE {name} (article INTEGER NOT NULL, type TEXT NOT NULL, stance TEXT NOT NULL,"
        " depth INTEGER, subject TEXT, confidence REAL NOT NULL)"
    ),
}
DERIVED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS article_entities_article ON article_entities(article)",
    "CREATE INDEX IF NOT EXISTS claims_article ON claims(article, type, stance, depth)",
    "CREATE INDEX IF NOT EXISTS claims_type ON claims(type, stance, article)",
    "CREATE INDEX IF NOT EXISTS claims_stance ON claims(stance, article)",
    "CREATE INDEX IF NOT EXISTS claims_depth ON claims(depth, article)",
)


class SqliteStore(SqliteAdminMixin, Store):
    """The embedded backend. `lock_timeout` bounds how long a write waits for a busy file."""

    def __init__(self, path: Path | str, kb: KnowledgeBase | None = None, lock_timeout: float = 10.0):
        self.path = str(path)
        self.kb: KnowledgeBase = kb if kb is not None else EmptyKnowledgeBase()
        self.lock_timeout = lock_timeout
        self._lock = threading.RLock()
        self._thread_lock = threading.Lock()  # incident_lock within this process
        self._db = _connect(self.path, lock_timeout)
        self._highlighter = Highlighter()
        self._percolator: sqlite3.Connection | None = None
        try:
            _probe_fts5(self._db)
            with self._read() as db:
                current = db.execute("PRAGMA user_version").fetchone()[0]
            if current != SCHEMA_VERSION:  # only a new or older file takes the write lock
                self._write(lambda tx: tx.create_schema(current))
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> SqliteStore:
        try:
            settings.ensure_data_dir()
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the data directory {settings.data_dir}: {exc}") from exc
        return cls(settings.database_path, kb=load_kb(settings))

    def close(self) -> None:
        with self._lock:
            for db in (self._db, self._percolator):
                if db is not None:
                    db.close()
            self._highlighter.close()

    # Transactions -------------------------------------------------------------------------------
    def _write(self, work: Callable[[_Tx], T]) -> T:
        """Run `work` in one IMMEDIATE transaction; retry while busy, then StoreUnavailable."""
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        with self._lock:
            while True:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    try:
                        result = work(_Tx(self._db))
                    except BaseException:
                        self._db.rollback()
                        raise
                    self._db.commit()
                    return result
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise StoreUnavailable(f"SQLite error on {self.path}: {exc}") from exc
                    if time.monotonic() >= deadline:
                        raise StoreUnavailable(
                            f"{self.path} stayed locked for more than {self.lock_timeout:g}s"
                        ) from exc
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise StoreUnavailable(f"{self.path} is locked: {exc}") from exc
                raise StoreUnavailable(f"SQLite error on {self.path}: {exc}") from exc

    # Articles -----------------------------------------------------------------------------------
    def upsert_article(self, article: AnalysedArticle) -> bool:
        rows = _article_rows(self.kb, article)
        return self._write(lambda tx: _upsert_article(tx.db, *rows))

    def upsert_articles(self, articles: list[AnalysedArticle]) -> BulkResult:
        """One transaction for the batch (far faster than one per article); bad documents are reported."""
        result = BulkResult()
        prepared = []
        for article in articles:
            try:
                prepared.append((article.id, _article_rows(self.kb, article)))
            except Exception as exc:  # one bad document must not fail the batch
                result.failures[article.id] = f"{type(exc).__name__}: {exc}"

        def work(tx: _Tx) -> BulkResult:
            # A fresh tally per attempt: _write may run this again after a busy rollback.
            tally = result.model_copy(deep=True)
            for article_id, rows in prepared:
                tx.db.execute("SAVEPOINT doc")
                try:
                    tally.new += _upsert_article(tx.db, *rows)
                    tally.indexed += 1
                except sqlite3.IntegrityError as exc:
                    tx.db.execute("ROLLBACK TO doc")
                    tally.failures[article_id] = f"IntegrityError: {exc}"
                tx.db.execute("RELEASE doc")
            return tally

        return self._write(work)

    def get_article(self, article_id: str) -> AnalysedArticle | None:
        with self._read() as db:
            row = db.execute(
                "SELECT p.payload FROM articles a JOIN article_payloads p ON p.rowid = a.rowid WHERE a.id = ?",
                (article_id,),
            ).fetchone()
            if row is None:
                return None
            return self._with_incidents(db, [_load_article(row[0])])[0]

    def iter_articles(self, since: datetime | None = None) -> Iterator[AnalysedArticle]:
        # Pages by rowid so a long export never holds the connection (or a read snapshot) for long.
        bound = _ts(since) if since else ""
        last = (0, "")
        while True:
            with self._read() as db:
                rows = db.execute(
                    "SELECT a.rowid, a.published_at, p.payload FROM articles a JOIN article_payloads p"
                    " ON p.rowid = a.rowid WHERE a.published_at >= ?"
                    " AND (a.published_at, a.rowid) > (?, ?) ORDER BY a.published_at, a.rowid LIMIT 500",
                    (bound, last[1], last[0]),
                ).fetchall()
                page = self._with_incidents(db, [_load_article(r[2]) for r in rows])
            if not rows:
                return
            yield from page
            last = (rows[-1][0], rows[-1][1])

    def count_articles(self) -> int:
        with self._read() as db:
            return db.execute("SELECT count(*) FROM articles").fetchone()[0]

    def _with_incidents(
        self, db: sqlite3.Connection, articles: list[AnalysedArticle]
    ) -> list[AnalysedArticle]:
        """incident_articles is the truth about membership; the payload's copy may be stale."""
        if not articles:
            return articles
        marks = ",".join("?" * len(articles))
        links: dict[str, list[str]] = defaultdict(list)
        for incident, article in db.execute(
            f"SELECT incident, article FROM incident_articles WHERE article IN ({marks}) ORDER BY incident",
            [a.id for a in articles],
        ):
            links[article].append(incident)
        return [a.model_copy(update={"incident_ids": links.get(a.id, [])}) for a in articles]

    # Incidents ----------------------------------------------------------------------------------
    def upsert_incident(self, incident: Incident) -> None:
        subject_org = org_of(self.kb, incident.subject) if incident.subject else None

        def work(tx: _Tx) -> None:
            tx.db.execute(
                "INSERT INTO incidents(id, subject, subject_org, started_at, updated_at, payload)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET subject = excluded.subject,"
                " subject_org = excluded.subject_org, started_at = excluded.started_at,"
                " updated_at = excluded.updated_at, payload = excluded.payload",
                (
                    incident.id,
                    incident.subject,
                    subject_org,
                    _ts(incident.started_at),
                    _ts(incident.updated_at),
                    to_json(incident),
                ),
            )
            tx.db.execute("DELETE FROM incident_articles WHERE incident = ?", (incident.id,))
            tx.db.executemany(
                "INSERT OR IGNORE INTO incident_articles(incident, article, published_at)"
                " VALUES (?, ?, (SELECT published_at FROM articles WHERE id = ?))",
                [(incident.id, a, a) for a in incident.article_ids],
            )

        self._write(work)

    def get_incident(self, incident_id: str) -> IncidentDetail | None:
        with self._read() as db:
            row = db.execute("SELECT payload FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None:
                return None
            payloads = db.execute(
                "SELECT p.payload FROM incident_articles i JOIN articles a ON a.id = i.article"
                " JOIN article_payloads p ON p.rowid = a.rowid"
                " WHERE i.incident = ? ORDER BY a.published_at, a.id",
                (incident_id,),
            ).fetchall()
            articles = self._with_incidents(db, [_load_article(p) for (p,) in payloads])
        return IncidentDetail(incident=from_json(Incident, row[0]), articles=articles)

    def list_incidents(
        self, subject: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[Incident]:
        """Incidents overlapping [since, until): started before `until`, updated at or after `since`."""
        where, params = ["1"], []
        if subject:
            entity_id = resolve_entity_id(self.kb, subject)
            family = entity_family(self.kb, entity_id)
            where.append(f"(subject IN ({','.join('?' * len(family))}) OR subject_org = ?)")
            params += [*family, entity_id]
        if since:
            where.append("updated_at >= ?")
            params.append(_ts(since))
        if until:
            where.append("started_at < ?")
            params.append(_ts(until))
        with self._read() as db:
            rows = db.execute(
                f"SELECT payload FROM incidents WHERE {' AND '.join(where)} ORDER BY started_at, id", params
            ).fetchall()
        return [from_json(Incident, p) for (p,) in rows]

    def delete_incident(self, incident_id: str) -> None:
        def work(tx: _Tx) -> None:
            tx.db.execute("DELETE FROM incidents WHERE id = ?", (incident_id,))
            tx.db.execute("DELETE FROM incident_articles WHERE incident = ?", (incident_id,))

        self._write(work)

    # Search -------------------------------------------------------------------------------------
    def search(self, query: str, *, offset: int = 0, limit: int = 20, facets: bool = True) -> SearchResult:
        """Totals are exact. Ranking by BM25 considers the RANK_WINDOW most recently indexed matches
        (all of them below that), so a common word stays fast at a million articles; facets are exact
        up to FACET_SAMPLE matches, above that they count the most recently indexed FACET_SAMPLE and
        `facet_sample` says so."""
        parsed = parse_query(query)
        compiled = _Compiler(self.kb).compile(parsed)
        facet_counts: dict[str, list[FacetCount]] = {}
        sample = None
        with self._read() as db:
            total = db.execute(
                f"SELECT count(*) FROM ({compiled.select_rowids()})", compiled.params
            ).fetchone()[0]
            if compiled.ranked and total > RANK_WINDOW:
                floor = db.execute(
                    compiled.select_nth_newest(), [*compiled.params, RANK_WINDOW - 1]
                ).fetchone()[0]
                page = db.execute(
                    compiled.select_page(floor=True), [*compiled.params, floor, limit, offset]
                ).fetchall()
            else:
                page = db.execute(compiled.select_page(), [*compiled.params, limit, offset]).fetchall()
            if facets:
                db.execute("CREATE TEMP TABLE IF NOT EXISTS hits (rowid INTEGER PRIMARY KEY)")
                db.execute("DELETE FROM temp.hits")
                sample = FACET_SAMPLE if total > FACET_SAMPLE else None
                db.execute(f"INSERT INTO temp.hits {compiled.select_rowids(newest=sample)}", compiled.params)
                facet_counts = self._facets(db)
            payloads = (
                dict(
                    db.execute(
                        f"SELECT rowid, payload FROM article_payloads WHERE rowid IN ({','.join('?' * len(page))})",
                        [rowid for rowid, _ in page],
                    ).fetchall()
                )
                if page
                else {}
            )
            articles = self._with_incidents(db, [_load_article(payloads[rowid]) for rowid, _ in page])
        terms = parsed.positive_text()
        hits = [
            SearchHit(
                article=article,
                score=round(-score, 4) if compiled.ranked else 0.0,
                highlights=self._highlighter.highlights(article.article.title, article.article.text, terms),
            )
            for article, (_, score) in zip(articles, page, strict=True)
        ]
        return SearchResult(query=query, total=total, hits=hits, facets=facet_counts, facet_sample=sample)

    def _facets(self, db: sqlite3.Connection) -> dict[str, list[FacetCount]]:
        """Facet counts over temp.hits, hits driving each join through an index (CROSS JOIN fixes that
        order; the planner has no statistics on temp.hits)."""
        counts: dict[str, Counter[str]] = {name: Counter() for name in FACET_NAMES}
        counts["entity"].update(
            dict(
                db.execute(
                    "SELECT e.entity, count(*) FROM temp.hits h CROSS JOIN article_entities e ON e.article = h.rowid"
                    " GROUP BY 1"
                ).fetchall()
            )
        )
        for name, value, count in db.execute(
            " UNION ALL ".join(
                f"SELECT '{name}', c.{name}, count(DISTINCT c.article) FROM temp.hits h"
                f" CROSS JOIN claims c ON c.article = h.rowid WHERE c.{name} IS NOT NULL GROUP BY 2"
                for name in CLAIM_FILTERS
            )
        ):
            counts[name][str(value)] += count
        article_columns = {
            "lang": "a.language",
            "source": "a.source",
            "month": "substr(a.published_at, 1, 7)",
        }
        for name, column in article_columns.items():  # one small GROUP BY each beats one wide one
            counts[name].update(
                dict(
                    db.execute(
                        f"SELECT {column}, count(*) FROM temp.hits h CROSS JOIN articles a ON a.rowid = h.rowid GROUP BY 1"
                    ).fetchall()
                )
            )
        facets: dict[str, list[FacetCount]] = {}
        for name, counter in counts.items():
            if name == "month":
                pairs = sorted(counter.items())
            else:
                pairs = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE]
            facets[name] = [
                FacetCount(
                    value=value, count=count, label=entity_label(self.kb, value) if name == "entity" else None
                )
                for value, count in pairs
            ]
        return facets

    def timeline(self, query: str = "", *, entity: str | None = None, interval: str = "month") -> Timeline:
        if interval not in BUCKETS:
            raise QueryError(f"unknown interval '{interval}' (one of {', '.join(BUCKETS)})")
        parsed = parse_query(query)
        where, params = ["1"], []
        if entity:
            entity_id = resolve_entity_id(self.kb, entity)
            family = entity_family(self.kb, entity_id)
            where.append(f"(i.subject IN ({','.join('?' * len(family))}) OR i.subject_org = ?)")
            params += [*family, entity_id]
        coverage = (
            "SELECT ia.incident, ia.article, ia.published_at FROM incident_articles ia"
            f" WHERE ia.incident IN (SELECT i.id FROM incidents i WHERE {' AND '.join(where)})"
        )
        coverage_params: list[Any] = list(params)
        if parsed.root is not None:
            compiled = _Compiler(self.kb).compile(parsed)
            coverage += f" AND ia.article IN (SELECT a.id FROM articles a WHERE a.rowid IN ({compiled.select_rowids()}))"
            coverage_params += compiled.params
        with self._read() as db:
            incidents = [
                from_json(Incident, payload)
                for (payload,) in db.execute(
                    f"WITH cov AS ({coverage}) SELECT payload FROM incidents"
                    " WHERE id IN (SELECT incident FROM cov) ORDER BY started_at, id",
                    coverage_params,
                )
            ]
            # An article in two incidents is still one piece of coverage.
            days = Counter(
                dict(
                    db.execute(
                        f"WITH cov AS ({coverage}) SELECT substr(published_at, 1, 10), count(DISTINCT article) FROM cov"
                        " WHERE published_at IS NOT NULL GROUP BY 1",
                        coverage_params,
                    ).fetchall()
                )
            )
        return Timeline(incidents=incidents, histogram=histogram(days, interval), interval=interval)

    def month_aggregates(self, start: date, end: date) -> MonthAggregates:
        lo, hi = _ts(_midnight(start)), _ts(_midnight(end))
        in_period = "a.published_at >= ? AND a.published_at < ?"
        with self._read() as db:
            articles = db.execute(f"SELECT count(*) FROM articles a WHERE {in_period}", (lo, hi)).fetchone()[
                0
            ]
            by_language = dict(
                db.execute(
                    f"SELECT language, count(*) FROM articles a WHERE {in_period} GROUP BY 1 ORDER BY 2 DESC",
                    (lo, hi),
                ).fetchall()
            )
            by_source = dict(
                db.execute(
                    f"SELECT source, count(*) FROM articles a WHERE {in_period} GROUP BY 1 ORDER BY 2 DESC, 1",
                    (lo, hi),
                ).fetchall()
            )
            claim_rows = db.execute(
                "SELECT c.type, c.stance, c.subject, substr(a.published_at, 1, 10) FROM claims c"
                f" JOIN articles a ON a.rowid = c.article WHERE {in_period}",
                (lo, hi),
            ).fetchall()
            new_ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM incidents WHERE started_at >= ? AND started_at < ? ORDER BY started_at, id",
                    (lo, hi),
                )
            ]
            ongoing_ids = [
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT i.id FROM incidents i JOIN incident_articles ia ON ia.incident = i.id"
                    f" JOIN articles a ON a.id = ia.article WHERE i.started_at < ? AND {in_period}"
                    " ORDER BY i.started_at, i.id",
                    (lo, lo, hi),
                )
            ]
        return aggregate(start, end, articles, by_language, by_source, claim_rows, new_ids, ongoing_ids)

    # Subscriptions and alerts ---------------------------------------------------------------------
    def save_subscription(self, subscription: Subscription) -> None:
        if subscription.query:
            parse_query(subscription.query)  # refuse a subscription whose query can never run
        self._write(
            lambda tx: tx.db.execute(
                "INSERT INTO subscriptions(id, payload) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET payload = excluded.payload",
                (subscription.id, to_json(subscription)),
            )
        )

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        with self._read() as db:
            row = db.execute("SELECT payload FROM subscriptions WHERE id = ?", (subscription_id,)).fetchone()
        return from_json(Subscription, row[0]) if row else None

    def list_subscriptions(self) -> list[Subscription]:
        with self._read() as db:
            rows = db.execute("SELECT payload FROM subscriptions").fetchall()
        return sorted((from_json(Subscription, p) for (p,) in rows), key=lambda s: (s.created_at, s.id))

    def delete_subscription(self, subscription_id: str) -> None:
        self._write(lambda tx: tx.db.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,)))

    def match_subscriptions(self, article: AnalysedArticle) -> list[Subscription]:
        candidates = [s for s in self.list_subscriptions() if passing_claims(s, article, self.kb)]
        with_query = [s for s in candidates if s.query and s.query.strip()]
        if not with_query:
            return candidates
        with self._lock:
            db = self._percolator_db()
            db.execute("BEGIN")
            try:
                _upsert_article(db, *_article_rows(self.kb, article))
                matched = {s.id for s in with_query if self._percolate(db, s)}
            finally:
                db.rollback()  # the in-memory index only ever holds the article being percolated
        return [s for s in candidates if not (s.query and s.query.strip()) or s.id in matched]

    def _percolator_db(self) -> sqlite3.Connection:
        if self._percolator is None:
            self._percolator = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self._percolator.executescript(SCHEMA)
        return self._percolator

    def _percolate(self, db: sqlite3.Connection, subscription: Subscription) -> bool:
        try:
            compiled = _Compiler(self.kb).compile(parse_query(subscription.query or ""))
        except QueryError as exc:  # saved before validation existed: it matches nothing, loudly
            log.warning("event=subscription-query-invalid subscription=%s error=%s", subscription.id, exc)
            return False
        return db.execute(f"SELECT EXISTS ({compiled.select_rowids()})", compiled.params).fetchone()[0] == 1

    def record_alert(self, alert: Alert) -> bool:
        return self._write(
            lambda tx: (
                tx.db.execute(
                    "INSERT OR IGNORE INTO alerts(id, subscription_id, payload) VALUES (?, ?, ?)",
                    (alert.id, alert.subscription_id, to_json(alert)),
                ).rowcount
                == 1
            )
        )

    def list_alerts(self, subscription_id: str | None = None, limit: int = 100) -> list[Alert]:
        sql, params = "SELECT payload FROM alerts", []
        if subscription_id:
            sql += " WHERE subscription_id = ?"
            params.append(subscription_id)
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit]).fetchall()
        return [from_json(Alert, p) for (p,) in rows]

    def record_delivery(self, delivery: DeliveredAlert) -> None:
        # A fresh seq on every update keeps "newest first" meaning "most recently touched".
        def work(tx: _Tx) -> None:
            tx.db.execute(
                "DELETE FROM deliveries WHERE alert_id = ? AND channel = ?",
                (delivery.alert.id, delivery.channel),
            )
            tx.db.execute(
                "INSERT INTO deliveries(alert_id, channel, subscription_id, delivered, payload) VALUES (?, ?, ?, ?, ?)",
                (
                    delivery.alert.id,
                    delivery.channel,
                    delivery.alert.subscription_id,
                    int(delivery.delivered_at is not None),
                    to_json(delivery),
                ),
            )

        self._write(work)

    def list_deliveries(
        self, subscription_id: str | None = None, pending_only: bool = False
    ) -> list[DeliveredAlert]:
        where, params = ["1"], []
        if subscription_id:
            where.append("subscription_id = ?")
            params.append(subscription_id)
        if pending_only:
            where.append("delivered = 0")
        with self._read() as db:
            rows = db.execute(
                f"SELECT payload FROM deliveries WHERE {' AND '.join(where)} ORDER BY seq DESC", params
            ).fetchall()
        return [from_json(DeliveredAlert, p) for (p,) in rows]

    # Dead letters -------------------------------------------------------------------------------
    def add_dead_letter(self, letter: DeadLetter) -> None:
        self._write(
            lambda tx: tx.db.execute(
                "INSERT INTO dead_letters(id, failed_at, payload) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET failed_at = excluded.failed_at, payload = excluded.payload",
                (letter.id, _ts(letter.failed_at), to_json(letter)),
            )
        )

    def list_dead_letters(self) -> list[DeadLetter]:
        with self._read() as db:
            rows = db.execute("SELECT payload FROM dead_letters ORDER BY failed_at DESC, id").fetchall()
        return [from_json(DeadLetter, p) for (p,) in rows]

    def delete_dead_letter(self, letter_id: str) -> None:
        self._write(lambda tx: tx.db.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,)))

    # Coordination -------------------------------------------------------------------------------
    @contextmanager
    def incident_lock(self, key: str) -> Iterator[None]:
        """A byte-range lock (fcntl.lockf) on `<database>.locks`, one byte per key hash: held across
        processes on this machine, released by the OS if a worker dies. Threads of this process
        queue on a threading lock first, since POSIX record locks are per process."""
        deadline = time.monotonic() + self.lock_timeout
        if not self._thread_lock.acquire(timeout=self.lock_timeout):
            raise StoreUnavailable(f"incident lock {key!r} busy for more than {self.lock_timeout:g}s")
        try:
            if self.path == ":memory:":
                yield
                return
            offset = int(stable_id("lock", key)[:8], 16) % LOCK_SLOTS
            with open(f"{self.path}.locks", "a+b") as handle:
                while True:
                    try:
                        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                        break
                    except OSError:
                        if time.monotonic() >= deadline:
                            raise StoreUnavailable(
                                f"incident lock {key!r} held elsewhere for more than {self.lock_timeout:g}s"
                            ) from None
                        time.sleep(0.01)
                try:
                    yield
                finally:
                    fcntl.lockf(handle, fcntl.LOCK_UN, 1, offset)
        finally:
            self._thread_lock.release()

    # Reindex ------------------------------------------------------------------------------------
    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the full-text and filter tables from the stored articles, then swap them in.

        The new tables are filled in batches under `*_next` names while readers keep using the old
        ones; one short transaction drops the old tables and renames the new ones, so a failed rebuild
        leaves the old index serving.
        """
        self._write(lambda tx: tx.drop_next_tables())
        self._write(lambda tx: tx.create_next_tables())
        done, last = 0, 0
        while True:
            with self._read() as db:
                rows = db.execute(
                    "SELECT rowid, payload FROM article_payloads WHERE rowid > ? ORDER BY rowid LIMIT 1000",
                    (last,),
                ).fetchall()
            if not rows:
                break
            batch = [(rowid, _article_rows(self.kb, _load_article(payload))) for rowid, payload in rows]
            self._write(lambda tx, batch=batch: tx.fill_next_tables(batch))
            done += len(rows)
            last = rows[-1][0]
            if progress:
                progress(done)
        self._write(lambda tx: tx.swap_next_tables())
        return done


# Compiling a parsed query to SQL ----------------------------------------------------------------


class _Compiled:
    """SQL for one parsed query. Ranking reads only the FTS index (bm25 over the match set); the
    stored JSON is fetched for the returned page alone. With words and filters, the FTS match
    always drives the join (CROSS JOIN): the planner would otherwise probe FTS5 once per filtered
    row, which is far slower than checking filters on the matched rows."""

    def __init__(self, fts: str | None, where: str, params: list[Any]):
        self.fts = fts
        self.where = where
        self.params = ([fts] if fts else []) + params
        self.ranked = fts is not None

    def select_rowids(self, newest: int | None = None) -> str:
        """Matching rowids; `newest` keeps only the last N indexed (cheap in rowid order)."""
        tail = f" ORDER BY 1 DESC LIMIT {int(newest)}" if newest else ""
        if self.fts and self.where == "1":
            return f"SELECT rowid FROM article_fts WHERE article_fts MATCH ?{tail}"
        if self.fts:
            return (
                f"SELECT f.rowid FROM article_fts f CROSS JOIN articles a ON a.rowid = f.rowid"
                f" WHERE article_fts MATCH ? AND {self.where}{tail}"
            )
        return f"SELECT a.rowid FROM articles a WHERE {self.where}{tail}"

    def select_nth_newest(self) -> str:
        return f"{self.select_rowids()} ORDER BY 1 DESC LIMIT 1 OFFSET ?"

    def select_page(self, floor: bool = False) -> str:
        """(rowid, score) of one page: best BM25 first, or newest first without words. With `floor`,
        only rowids >= a bound (one more parameter before limit and offset) are ranked."""
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        if self.fts and self.where == "1":
            bound = " AND rowid >= ?" if floor else ""
            return (
                f"SELECT rowid, bm25(article_fts, {weights}) AS score FROM article_fts"
                f" WHERE article_fts MATCH ?{bound} ORDER BY score LIMIT ? OFFSET ?"
            )
        if self.fts:
            bound = " AND f.rowid >= ?" if floor else ""
            return (
                f"SELECT f.rowid, bm25(article_fts, {weights}) AS score FROM article_fts f"
                f" CROSS JOIN articles a ON a.rowid = f.rowid WHERE article_fts MATCH ? AND {self.where}{bound}"
                " ORDER BY score LIMIT ? OFFSET ?"
            )
        return (
            f"SELECT a.rowid, 0 FROM articles a WHERE {self.where}"
            " ORDER BY a.published_at DESC, a.rowid DESC LIMIT ? OFFSET ?"
        )


class _Compiler:
    """Top-level text conjuncts become one FTS5 MATCH (ranked by BM25); filters and text nested under
    OR / NOT with filters become SQL conditions over the filter tables."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.params: list[Any] = []
        self.fts_drives = False

    def compile(self, query: Query) -> _Compiled:
        if query.root is None:
            return _Compiled(None, "1", [])
        conjuncts = list(query.root.children) if isinstance(query.root, And) else [query.root]
        text = [c for c in conjuncts if _text_only(c)]
        fts = _fts_and(text)
        self.fts_drives = fts is not None
        rest = conjuncts if fts is None else [c for c in conjuncts if c not in text]
        where = self._and(rest, top=True) if rest else "1"
        return _Compiled(fts, where, self.params)

    def _sql(self, node: Any) -> str:
        if isinstance(node, And):
            return self._and(list(node.children))
        if isinstance(node, Or):
            return "(" + " OR ".join(self._sql(c) for c in node.children) + ")"
        if isinstance(node, Not):
            return f"NOT {self._sql(node.child)}"
        if isinstance(node, Filter):
            return self._filter(node)
        self.params.append(_fts(node))
        return "a.rowid IN (SELECT rowid FROM article_fts WHERE article_fts MATCH ?)"

    def _and(self, nodes: list[Any], top: bool = False) -> str:
        # Sibling claim filters constrain the same claim: "type:x stance:denial" = a denial of x.
        claim_filters = [n for n in nodes if isinstance(n, Filter) and n.name in CLAIM_FILTERS]
        others = [n for n in nodes if n not in claim_filters]
        parts = [self._sql(n) for n in others]
        if claim_filters:
            # When the text match or an entity set already drives the query, probe each of its rows
            # (covering index on claims.article) instead of materialising every claim of a type.
            driven = (
                top and self.fts_drives or any(isinstance(n, Filter) and n.name == "entity" for n in others)
            )
            parts.append(self._claim(claim_filters, correlated=driven))
        return "(" + " AND ".join(parts) + ")"

    def _filter(self, node: Filter) -> str:
        if node.name in CLAIM_FILTERS:
            return self._claim([node])
        if node.name == "entity":
            family = entity_family(self.kb, resolve_entity_id(self.kb, str(node.value)))
            self.params += family
            return f"a.rowid IN (SELECT article FROM article_entities WHERE entity IN ({','.join('?' * len(family))}))"
        if node.name == "lang":
            self.params.append(str(node.value))
            return "a.language = ?"
        if node.name == "source":
            self.params.append(str(node.value))
            return "a.source = ?"
        assert isinstance(node.value, datetime)
        self.params.append(_ts(node.value))
        return "a.published_at >= ?" if node.name == "from" else "a.published_at < ?"

    def _claim(self, filters: list[Filter], correlated: bool = False) -> str:
        conditions = []
        for node in filters:
            if node.name == "depth":
                assert isinstance(node.value, DepthRange)
                conditions.append("c.depth BETWEEN ? AND ?")
                self.params += [node.value.low, node.value.high]
            else:
                conditions.append(f"c.{node.name} = ?")
                self.params.append(str(node.value))
        if correlated:
            return f"EXISTS (SELECT 1 FROM claims c WHERE c.article = a.rowid AND {' AND '.join(conditions)})"
        # Uncorrelated: SQLite walks the claims index once and seeks articles by rowid.
        return f"a.rowid IN (SELECT c.article FROM claims c WHERE {' AND '.join(conditions)})"


def _text_only(node: Any) -> bool:
    if isinstance(node, Term | Phrase):
        return True
    if isinstance(node, And | Or):
        return all(_text_only(c) for c in node.children)
    if isinstance(node, Not):
        return _text_only(node.child)
    return False


def _fts_and(nodes: list[Any]) -> str | None:
    """FTS5 has only binary NOT: `a AND NOT b` → `a NOT b`; a pure negation is left to SQL."""
    positives = [n for n in nodes if not isinstance(n, Not)]
    negatives = [n for n in nodes if isinstance(n, Not)]
    if not positives:
        return None
    parts = [_fts(n) for n in positives]
    if any(p is None for p in parts):
        return None
    expression = " AND ".join(parts)  # type: ignore[arg-type]
    for negative in negatives:
        inner = _fts(negative.child)
        if inner is None:
            return None
        expression = f"({expression}) NOT {inner}"
    return expression


def _fts(node: Any) -> str | None:
    """An FTS5 expression for a text-only subtree, or None when FTS5 cannot express it."""
    if isinstance(node, Term):
        words = tokens(node.text)
        if not words:
            return '""'
        phrase = '"' + " ".join(w.replace('"', '""') for w in words) + '"'
        return phrase + "*" if node.prefix else phrase
    if isinstance(node, Phrase):
        return '"' + " ".join(w.replace('"', '""') for w in tokens(node.text)) + '"'
    if isinstance(node, And):
        inner = _fts_and(list(node.children))
        return f"({inner})" if inner else None
    if isinstance(node, Or):
        parts = [_fts(c) for c in node.children]
        if any(p is None or isinstance(c, Not) for p, c in zip(parts, node.children, strict=True)):
            return None
        return "(" + " OR ".join(parts) + ")"  # type: ignore[arg-type]
    return None


# Rows of one article ----------------------------------------------------------------------------


def _article_rows(
    kb: KnowledgeBase, analysed: AnalysedArticle
) -> tuple[tuple, tuple, list[str], list[tuple]]:
    """Everything upsert writes for an article, computed outside the write transaction."""
    article = analysed.article
    when = article.published_at or article.fetched_at
    entity_ids = document_entity_ids(kb, analysed)
    names = [m.name for m in analysed.analysis.entities] + entity_names(kb, entity_ids)
    base = (article.id, _ts(when), article.language.value, article.source, to_json(analysed))
    text = (index_form(article.title), index_form(article.text), index_form(" ; ".join(dict.fromkeys(names))))
    claims = [
        (
            c.type.value,
            c.stance.value,
            c.depth if c.depth is not None else c.type.depth,
            c.subject,
            c.confidence,
        )
        for c in analysed.analysis.claims
    ]
    return base, text, entity_ids, claims


def _upsert_article(
    db: sqlite3.Connection, base: tuple, text: tuple, entity_ids: list[str], claims: list[tuple]
) -> bool:
    row = db.execute("SELECT rowid FROM articles WHERE id = ?", (base[0],)).fetchone()
    if row is None:
        rowid = db.execute(
            "INSERT INTO articles(id, published_at, language, source) VALUES (?, ?, ?, ?)", base[:4]
        ).lastrowid
        db.execute("INSERT INTO article_payloads(rowid, payload) VALUES (?, ?)", (rowid, base[4]))
    else:
        rowid = row[0]
        db.execute(
            "UPDATE articles SET published_at = ?, language = ?, source = ? WHERE rowid = ?",
            (*base[1:4], rowid),
        )
        db.execute("UPDATE article_payloads SET payload = ? WHERE rowid = ?", (base[4], rowid))
        db.execute("UPDATE incident_articles SET published_at = ? WHERE article = ?", (base[1], base[0]))
        for table, column in (
            ("article_fts", "rowid"),
            ("article_entities", "article"),
            ("claims", "article"),
        ):
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (rowid,))
    _insert_derived(db, "", rowid, text, entity_ids, claims)
    return row is None


def _insert_derived(
    db: sqlite3.Connection, suffix: str, rowid: int, text: tuple, entity_ids: list[str], claims: list[tuple]
) -> None:
    db.execute(
        f"INSERT INTO article_fts{suffix}(rowid, title, body, entities) VALUES (?, ?, ?, ?)", (rowid, *text)
    )
    db.executemany(
        f"INSERT OR IGNORE INTO article_entities{suffix}(entity, article) VALUES (?, ?)",
        [(e, rowid) for e in entity_ids],
    )
    db.executemany(
        f"INSERT INTO claims{suffix}(article, type, stance, depth, subject, confidence) VALUES (?, ?, ?, ?, ?, ?)",
        [(rowid, *c) for c in claims],
    )


class _Tx:
    """The operations run inside one write transaction."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def create_schema(self, current: int) -> None:
        """Create the tables, or bring a file of an older schema version up to date in place."""
        if current == 1:  # version 1 had no published_at in incident_articles
            self.db.execute("ALTER TABLE incident_articles ADD COLUMN published_at TEXT")
            self.db.execute(
                "UPDATE incident_articles SET published_at = (SELECT published_at FROM articles WHERE id = article)"
            )
        if current in (1, 2):  # the JSON moved out of `articles`; claims got covering indexes
            self.db.execute(
                "CREATE TABLE article_payloads (rowid INTEGER PRIMARY KEY, payload TEXT NOT NULL)"
            )
            self.db.execute(
                "INSERT INTO article_payloads(rowid, payload) SELECT rowid, payload FROM articles"
            )
            self.db.execute("ALTER TABLE articles DROP COLUMN payload")
            for index in ("claims_type", "claims_stance", "claims_article"):
                self.db.execute(f"DROP INDEX IF EXISTS {index}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self.db.execute(statement)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def drop_next_tables(self) -> None:
        for name in DERIVED_TABLES:
            self.db.execute(f"DROP TABLE IF EXISTS {name}_next")

    def create_next_tables(self) -> None:
        for name, ddl in DERIVED_TABLES.items():
            self.db.execute(ddl.format(name=f"{name}_next"))

    def fill_next_tables(self, batch: list[tuple[int, tuple]]) -> None:
        for rowid, (_base, text, entity_ids, claims) in batch:
            _insert_derived(self.db, "_next", rowid, text, entity_ids, claims)

    def swap_next_tables(self) -> None:
        for name in DERIVED_TABLES:
            self.db.execute(f"DROP TABLE {name}")
            self.db.execute(f"ALTER TABLE {name}_next RENAME TO {name}")
        for ddl in DERIVED_INDEXES:
            self.db.execute(ddl)


# Helpers ----------------------------------------------------------------------------------------


def _connect(path: str, lock_timeout: float) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=lock_timeout)
        db.execute(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        db.execute("PRAGMA synchronous = NORMAL")
        # Reads touch many small rows (filters, facets): a larger page cache and memory-mapped I/O
        # keep them off the syscall path. Both are per-connection and only bound what is used.
        db.execute("PRAGMA cache_size = -65536")
        db.execute("PRAGMA mmap_size = 1073741824")
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open the SQLite store {path}: {exc}") from exc
    if path != ":memory:" and mode.lower() != "wal":
        log.warning("event=sqlite-no-wal path=%s journal_mode=%s", path, mode)
    return db


def _probe_fts5(db: sqlite3.Connection) -> None:
    try:
        db.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x)")
        db.execute("DROP TABLE temp.fts5_probe")
    except sqlite3.OperationalError as exc:
        raise CapabilityError(
            f"this SQLite ({sqlite3.sqlite_version}) has no FTS5 full-text search ({exc}); install a Python"
            " built against an SQLite with FTS5, or set ELASTICSEARCH_URL"
        ) from exc


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _load_article(payload: str) -> AnalysedArticle:
    return from_json(AnalysedArticle, payload)
