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
import heapq
import itertools
import json
import logging
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal, TypeVar

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
from search.percolate import article_keys, passing_claims, subscription_keys
from search.query import And, DepthRange, Filter, Not, Or, Phrase, Query, Term, parse_query
from search.results import (
    TRACK_TOTAL_HITS,
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
    Stance,
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
# What a filtered search reads of each match: all of it is in every articles_by_* index.
FILTER_ROW = "a.rowid, a.published_at, a.claim_set, a.language, a.source"

SCHEMA_VERSION = 5
CLAIM_SETS_TABLE = """CREATE TABLE IF NOT EXISTS claim_sets (
    id INTEGER PRIMARY KEY, claims TEXT NOT NULL UNIQUE, articles INTEGER NOT NULL DEFAULT 0
)"""
# Each subscription filed under the keys of its most selective filter (search/percolate.py), so
# that percolation reads only the subscriptions an article can match.
SUBSCRIPTION_KEYS_TABLE = """CREATE TABLE IF NOT EXISTS subscription_keys (
    key TEXT NOT NULL, subscription TEXT NOT NULL, PRIMARY KEY (key, subscription)
) WITHOUT ROWID"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    published_at TEXT NOT NULL,  -- UTC 'YYYY-MM-DDTHH:MM:SS', the fetch time when no date is known
    language TEXT NOT NULL,
    source TEXT NOT NULL COLLATE NOCASE,
    claim_set INTEGER NOT NULL DEFAULT 0  -- claim_sets.id of the article's claims, 0 for none
);
-- The stored JSON lives apart so that `articles` rows stay small: filters and facets touch many
-- rows, the JSON is read only for the page of results shown.
CREATE TABLE IF NOT EXISTS article_payloads (rowid INTEGER PRIMARY KEY, payload TEXT NOT NULL);
-- Every distinct set of (type, stance, depth) an article's claims have, once: claim filters become
-- `claim_set IN (…)` on the article's own row, with the same-claim semantics intact. `articles`
-- counts the articles with this set (it sizes a filter when the plan is chosen).
{CLAIM_SETS_TABLE};
-- Covering indexes: each leads with one filter and carries the others, so whichever filter is the
-- most selective drives the plan and the rest are checked without reading the table.
CREATE INDEX IF NOT EXISTS articles_by_date ON articles(published_at, language, source, claim_set);
CREATE INDEX IF NOT EXISTS articles_by_source ON articles(source, published_at, language, claim_set);
CREATE INDEX IF NOT EXISTS articles_by_claims ON articles(claim_set, published_at, language, source);
CREATE TABLE IF NOT EXISTS article_entities (
    entity TEXT NOT NULL, article INTEGER NOT NULL, PRIMARY KEY (entity, article)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS article_entities_article ON article_entities(article);
-- One row per claim, for the digest aggregates (searches read claim_set instead).
CREATE TABLE IF NOT EXISTS claims (
    article INTEGER NOT NULL, type TEXT NOT NULL, stance TEXT NOT NULL, depth INTEGER,
    subject TEXT, confidence REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_article ON claims(article, type, stance, depth);
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
{SUBSCRIPTION_KEYS_TABLE};
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
        self._claim_set_cache: dict[int, tuple[ClaimKey, ...]] = {}
        try:
            _probe_fts5(self._db)
            with self._read() as db:
                current = db.execute("PRAGMA user_version").fetchone()[0]
            if current != SCHEMA_VERSION:  # only a new or older file takes the write lock
                self._write(lambda tx: tx.create_schema(self.path, self.kb))
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

    def list_articles_with_claims(
        self,
        subject: str | None,
        stances: Collection[Stance],
        since: datetime,
        until: datetime,
        *,
        name: str = "",
        exclude_ids: Collection[str] = (),
        limit: int = 100,
    ) -> list[AnalysedArticle]:
        """The accused's postings in article_entities (a claim's subject and its developer are
        there) or the name's FTS5 phrase pick the candidates; the claims table checks the stance."""
        stance_values = [Stance(s).value for s in stances]
        if not stance_values:
            return []
        if subject is not None:
            family = entity_family(self.kb, subject)
            candidates = (
                f"SELECT article FROM article_entities WHERE entity IN ({','.join('?' * len(family))})"
            )
            candidate_params: list[Any] = list(family)
            claim_subject = f"c.subject IN ({','.join('?' * len(family))})"
            claim_params: list[Any] = list(family)
        else:
            words = tokens(name)
            if not words:
                return []
            candidates = "SELECT rowid FROM article_fts WHERE article_fts MATCH ?"
            candidate_params = ['"' + " ".join(w.replace('"', '""') for w in words) + '"']
            claim_subject, claim_params = "c.subject IS NULL", []
        excluded = list(dict.fromkeys(exclude_ids))
        sql = (
            "SELECT p.payload FROM articles a JOIN article_payloads p ON p.rowid = a.rowid"
            f" WHERE a.rowid IN ({candidates}) AND a.published_at >= ? AND a.published_at < ?"
            " AND EXISTS (SELECT 1 FROM claims c WHERE c.article = a.rowid"
            f" AND c.stance IN ({','.join('?' * len(stance_values))}) AND {claim_subject})"
            + (" AND a.id NOT IN (SELECT value FROM json_each(?))" if excluded else "")
            + " ORDER BY a.published_at, a.id LIMIT ?"
        )
        params = [
            *candidate_params,
            _ts(since),
            _ts(until),
            *stance_values,
            *claim_params,
            *([json.dumps(excluded)] if excluded else []),
            limit,
        ]
        with self._read() as db:
            rows = db.execute(sql, params).fetchall()
            return self._with_incidents(db, [_load_article(payload) for (payload,) in rows])

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
    def search(
        self,
        query: str,
        *,
        offset: int = 0,
        limit: int = 20,
        facets: bool = True,
        track_total_hits: int = TRACK_TOTAL_HITS,
    ) -> SearchResult:
        """The work is bounded, as in Elasticsearch: the total is exact up to `track_total_hits`
        matches and a lower bound above ("gte"); BM25 ranks the RANK_WINDOW most recently indexed
        matches (all of them below that); facets count at most FACET_SAMPLE of the newest matches
        and `facet_sample` says so."""
        parsed = parse_query(query)
        with self._read() as db:
            compiled = _Compiler(self.kb, self._claim_sets(db)).compile(parsed)
            if compiled.ranked:
                matches = _ranked_matches(db, compiled, offset, limit, track_total_hits)
            else:
                matches = _filtered_matches(db, compiled, offset, limit, facets, track_total_hits)
            facet_counts = self._facets(db, matches.sample, matches.sample_rows) if facets else {}
            payloads = (
                dict(
                    db.execute(
                        f"SELECT rowid, payload FROM article_payloads WHERE rowid IN ({','.join('?' * len(matches.page))})",
                        [rowid for rowid, _ in matches.page],
                    ).fetchall()
                )
                if matches.page
                else {}
            )
            articles = self._with_incidents(db, [_load_article(payloads[rowid]) for rowid, _ in matches.page])
        terms = parsed.positive_text()
        hits = [
            SearchHit(
                article=article,
                score=round(-score, 4) if compiled.ranked else 0.0,
                highlights=self._highlighter.highlights(article.article.title, article.article.text, terms),
            )
            for article, (_, score) in zip(articles, matches.page, strict=True)
        ]
        return SearchResult(
            query=query,
            total=matches.total,
            total_relation=matches.relation,
            hits=hits,
            facets=facet_counts,
            facet_sample=len(matches.sample) if facets and matches.sampled else None,
        )

    def _claim_sets(self, db: sqlite3.Connection) -> dict[int, tuple[ClaimKey, ...]]:
        """Every claim set, read once: sets are only ever added, so new ids are all that is read."""
        newest = max(self._claim_set_cache, default=0)
        for set_id, claims in db.execute("SELECT id, claims FROM claim_sets WHERE id > ?", (newest,)):
            self._claim_set_cache[set_id] = tuple(tuple(c) for c in json.loads(claims))
        return self._claim_set_cache

    def _facets(
        self, db: sqlite3.Connection, rowids: list[int], rows: list[tuple] | None
    ) -> dict[str, list[FacetCount]]:
        """Facet counts over the sampled matches: entities through their posting table, the rest
        from the filter rows (claim types, stances and depths through each row's claim set)."""
        sample = json.dumps(rowids)
        counts: dict[str, Counter[str]] = {
            "entity": Counter(
                dict(
                    db.execute(
                        "SELECT e.entity, count(*) FROM json_each(?) h"
                        " CROSS JOIN article_entities e ON e.article = h.value GROUP BY 1",
                        (sample,),
                    ).fetchall()
                )
            )
        }
        if rows is None:
            rows = db.execute(
                f"SELECT {FILTER_ROW} FROM json_each(?) h CROSS JOIN articles a ON a.rowid = h.value",
                (sample,),
            ).fetchall()
        _, published, claim_set_ids, languages, sources = zip(*rows, strict=True) if rows else ((),) * 5
        counts["lang"] = Counter(languages)
        counts["source"] = Counter(sources)
        counts["month"] = Counter(p[:7] for p in published)
        for name in CLAIM_FILTERS:
            counts[name] = Counter()
        claim_sets = self._claim_sets(db)
        for claim_set, count in Counter(claim_set_ids).items():
            claims = claim_sets.get(claim_set, ())
            for value in {c[0] for c in claims}:
                counts["type"][value] += count
            for value in {c[1] for c in claims}:
                counts["stance"][value] += count
            for value in {str(c[2]) for c in claims if c[2] is not None}:
                counts["depth"][value] += count
        facets: dict[str, list[FacetCount]] = {}
        for name in FACET_NAMES:
            counter = counts[name]
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
        with self._read() as db:
            if parsed.root is not None:
                compiled = _Compiler(self.kb, self._claim_sets(db)).compile(parsed)
                coverage += f" AND ia.article IN (SELECT a.id FROM articles a WHERE a.rowid IN ({compiled.select_rowids()}))"
                coverage_params += compiled.params
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
        keys = subscription_keys(subscription, self.kb)

        def work(tx: _Tx) -> None:
            tx.db.execute(
                "INSERT INTO subscriptions(id, payload) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET payload = excluded.payload",
                (subscription.id, to_json(subscription)),
            )
            tx.file_subscription(subscription.id, keys)

        self._write(work)

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        with self._read() as db:
            row = db.execute("SELECT payload FROM subscriptions WHERE id = ?", (subscription_id,)).fetchone()
        return from_json(Subscription, row[0]) if row else None

    def list_subscriptions(self) -> list[Subscription]:
        with self._read() as db:
            rows = db.execute("SELECT payload FROM subscriptions").fetchall()
        return sorted((from_json(Subscription, p) for (p,) in rows), key=lambda s: (s.created_at, s.id))

    def delete_subscription(self, subscription_id: str) -> None:
        def work(tx: _Tx) -> None:
            tx.db.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))
            tx.file_subscription(subscription_id, [])

        self._write(work)

    def match_subscriptions(self, article: AnalysedArticle) -> list[Subscription]:
        """Only the subscriptions filed under one of the article's keys are read and checked; each
        distinct query among them is percolated once."""
        keys = article_keys(article, self.kb)
        with self._read() as db:
            rows = db.execute(
                "SELECT payload FROM subscriptions WHERE id IN (SELECT subscription FROM subscription_keys"
                f" WHERE key IN ({','.join('?' * len(keys))}))",
                keys,
            ).fetchall()
        filed = sorted((from_json(Subscription, p) for (p,) in rows), key=lambda s: (s.created_at, s.id))
        candidates = [s for s in filed if passing_claims(s, article, self.kb)]
        with_query = [s for s in candidates if s.query and s.query.strip()]
        if not with_query:
            return candidates
        with self._lock:
            db = self._percolator_db()
            db.execute("BEGIN")
            try:
                _upsert_article(db, *_article_rows(self.kb, article))
                claim_sets = {
                    i: tuple(map(tuple, json.loads(c)))
                    for i, c in db.execute("SELECT id, claims FROM claim_sets")
                }
                verdicts: dict[str, bool] = {}
                for subscription in with_query:
                    query = subscription.query or ""
                    if query not in verdicts:
                        verdicts[query] = self._percolate(db, claim_sets, subscription)
                matched = {s.id for s in with_query if verdicts[s.query or ""]}
            finally:
                db.rollback()  # the in-memory index only ever holds the article being percolated
        return [s for s in candidates if not (s.query and s.query.strip()) or s.id in matched]

    def _percolator_db(self) -> sqlite3.Connection:
        if self._percolator is None:
            self._percolator = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self._percolator.executescript(SCHEMA)
        return self._percolator

    def _percolate(
        self, db: sqlite3.Connection, claim_sets: dict[int, tuple[ClaimKey, ...]], subscription: Subscription
    ) -> bool:
        try:
            compiled = _Compiler(self.kb, claim_sets).compile(parse_query(subscription.query or ""))
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


# Bounded matching -------------------------------------------------------------------------------


@dataclass
class _Matches:
    page: list[tuple[int, float]]  # (rowid, bm25 score or 0) of the page asked for
    total: int
    relation: Literal["eq", "gte"]
    sample: list[int]  # rowids the facets count
    sampled: bool  # `sample` is not every match
    sample_rows: list[tuple] | None = None  # their filter rows (FILTER_ROW), when already read


def _ranked_matches(
    db: sqlite3.Connection, compiled: _Compiled, offset: int, limit: int, track: int
) -> _Matches:
    """One pass over the newest matches (the FTS match drives, newest first, and stops after
    enough): it gives the bounded total, the window BM25 ranks and the facet sample."""
    wanted = max(track, RANK_WINDOW, FACET_SAMPLE) + 1
    rows = db.execute(compiled.select_ranked_window(), [*compiled.params, wanted]).fetchall()
    total, relation = _bounded(len(rows), track)
    # Best BM25 first (lowest); nsmallest is stable, so equal scores keep newest first.
    page = [r[:2] for r in heapq.nsmallest(offset + limit, rows[:RANK_WINDOW], key=itemgetter(1))[offset:]]
    sample = rows[:FACET_SAMPLE]
    sample_rows = [(r[0], *r[2:]) for r in sample] if compiled.parts else None  # read with the filters
    return _Matches(page, total, relation, [r[0] for r in sample], len(rows) > FACET_SAMPLE, sample_rows)


def _filtered_matches(
    db: sqlite3.Connection, compiled: _Compiled, offset: int, limit: int, facets: bool, track: int
) -> _Matches:
    """Filters only: the most selective filter drives (its index carries the other filters), and
    matches are read until `track` + 1 are found. Fewer: every match is at hand, sorted newest first
    here. More: the page and the facet sample come from a newest-first walk of the date index,
    which finds them quickly because matches are then common."""
    driver = _driver(db, compiled, track)
    sql, params = compiled.select_driven(driver)
    rows = db.execute(sql, [*params, track + 1]).fetchall()
    total, relation = _bounded(len(rows), track)
    sample_size = FACET_SAMPLE if facets else 0
    every_match = relation == "eq"  # `rows` holds every match
    if relation == "gte" and (driver is not None or offset + limit > len(rows)):
        sql, params = compiled.select_driven(None)
        wanted = max(offset + limit, sample_size)
        rows = db.execute(sql, [*params, wanted]).fetchall()
        every_match = len(rows) < wanted
    elif driver is not None:
        rows.sort(key=lambda r: (r[1], r[0]), reverse=True)
    page = [(row[0], 0.0) for row in rows[offset : offset + limit]]
    sample = rows[:sample_size]
    sampled = not every_match or len(rows) > sample_size
    return _Matches(page, total, relation, [row[0] for row in sample], sampled, sample)


def _driver(db: sqlite3.Connection, compiled: _Compiled, track: int) -> _Part | None:
    """The filter matching the fewest articles on its own; None when no filter can drive (then the
    date index is walked newest first). Sizes come from claim_sets.articles for claim filters and
    from counting up to `track` + 1 in the filter's index for the others."""
    best: tuple[int, _Part] | None = None
    for part in compiled.parts:
        if part.driver is None:
            continue
        if part.driver == "articles_by_claims":
            marks = ",".join(str(i) for i in part.claim_sets)
            size = (
                db.execute(
                    f"SELECT coalesce(sum(articles), 0) FROM claim_sets WHERE id IN ({marks})"
                ).fetchone()[0]
                if part.claim_sets
                else 0
            )
        else:
            size = db.execute(compiled.select_probe(part), [*part.params, track + 1]).fetchone()[0]
        if best is None or size < best[0]:
            best = (size, part)
    return best[1] if best else None


def _bounded(found: int, track: int) -> tuple[int, Literal["eq", "gte"]]:
    return (track, "gte") if found > track else (found, "eq")


# Compiling a parsed query to SQL ----------------------------------------------------------------

ClaimKey = tuple[str, str, int | None]  # (type, stance, depth) of one claim


@dataclass
class _Part:
    """One top-level conjunct of the filters: its SQL condition on `a` (articles) and, when it can
    drive the plan, how: `driver` names the index (or "entity": the entity's posting list),
    `driving_sql` is the condition in the form that drives, `size` the matches it alone has when
    known without a probe (claim filters, from claim_sets.articles)."""

    sql: str
    params: list[Any]
    driver: str | None = None
    driving_sql: str | None = None
    claim_sets: list[int] = field(default_factory=list)


class _Compiled:
    """SQL for one parsed query: an FTS5 expression for the top-level words (ranked by BM25) and the
    top-level filter conjuncts as `_Part`s over the articles' filter rows."""

    def __init__(self, fts: str | None, parts: list[_Part]):
        self.fts = fts
        self.parts = parts
        self.ranked = fts is not None

    @property
    def where(self) -> str:
        return " AND ".join(p.sql for p in self.parts) or "1"

    @property
    def params(self) -> list[Any]:
        return ([self.fts] if self.fts else []) + [x for p in self.parts for x in p.params]

    def select_rowids(self) -> str:
        """Every matching rowid (for timelines and percolation)."""
        if self.fts and not self.parts:
            return "SELECT rowid FROM article_fts WHERE article_fts MATCH ?"
        if self.fts:
            return (
                "SELECT f.rowid FROM article_fts f CROSS JOIN articles a ON a.rowid = f.rowid"
                f" WHERE article_fts MATCH ? AND {self.where}"
            )
        return f"SELECT a.rowid FROM articles a WHERE {self.where}"

    def select_ranked_window(self) -> str:
        """(rowid, bm25) of the newest matches, newest first, with the rest of their filter rows
        when the filters read them anyway; one parameter more: how many. The FTS match drives (CROSS
        JOIN): the planner would otherwise probe FTS5 once per filtered row."""
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        if not self.parts:
            return (
                f"SELECT rowid, bm25(article_fts, {weights}) FROM article_fts"
                " WHERE article_fts MATCH ? ORDER BY rowid DESC LIMIT ?"
            )
        return (
            f"SELECT f.rowid, bm25(article_fts, {weights}), a.published_at, a.claim_set, a.language, a.source"
            f" FROM article_fts f CROSS JOIN articles a ON a.rowid = f.rowid"
            f" WHERE article_fts MATCH ? AND {self.where}"
            " ORDER BY f.rowid DESC LIMIT ?"
        )

    def select_driven(self, driver: _Part | None) -> tuple[str, list[Any]]:
        """The filter rows (FILTER_ROW) of the matches, read through `driver`'s index, or newest
        first through the date index without one; one parameter more: how many."""
        if driver is None:
            return (
                f"SELECT {FILTER_ROW} FROM articles a INDEXED BY articles_by_date WHERE {self.where}"
                " ORDER BY a.published_at DESC, a.rowid DESC LIMIT ?",
                self.params,
            )
        others = [p for p in self.parts if p is not driver]
        rest = " AND ".join(p.sql for p in others) or "1"
        rest_params = [x for p in others for x in p.params]
        if driver.driver == "entity":
            return (
                f"SELECT {FILTER_ROW} FROM ({driver.driving_sql}) e"
                f" CROSS JOIN articles a ON a.rowid = e.article WHERE {rest} LIMIT ?",
                driver.params + rest_params,
            )
        return (
            f"SELECT {FILTER_ROW} FROM articles a INDEXED BY {driver.driver}"
            f" WHERE {driver.sql} AND {rest} LIMIT ?",
            driver.params + rest_params,
        )

    def select_probe(self, driver: _Part) -> str:
        """How many articles `driver` alone matches, counted up to a bound (one more parameter)."""
        if driver.driver == "entity":
            return f"SELECT count(*) FROM ({driver.driving_sql} LIMIT ?)"
        return f"SELECT count(*) FROM (SELECT 1 FROM articles a INDEXED BY {driver.driver} WHERE {driver.sql} LIMIT ?)"


class _Compiler:
    """Top-level text conjuncts become one FTS5 MATCH (ranked by BM25); filters and text nested under
    OR / NOT with filters become SQL conditions on the articles' filter rows. `claim_sets` maps each
    claim_sets id to its claims: claim filters compile to the ids whose claims satisfy them."""

    def __init__(self, kb: KnowledgeBase, claim_sets: dict[int, tuple[ClaimKey, ...]]):
        self.kb = kb
        self.claim_sets = claim_sets
        self.params: list[Any] = []

    def compile(self, query: Query) -> _Compiled:
        if query.root is None:
            return _Compiled(None, [])
        conjuncts = list(query.root.children) if isinstance(query.root, And) else [query.root]
        text = [c for c in conjuncts if _text_only(c)]
        fts = _fts_and(text)
        rest = conjuncts if fts is None else [c for c in conjuncts if c not in text]
        # Sibling claim filters constrain the same claim: "type:x stance:denial" = a denial of x.
        claim_filters = [n for n in rest if isinstance(n, Filter) and n.name in CLAIM_FILTERS]
        dates = [n for n in rest if isinstance(n, Filter) and n.name in ("from", "to")]
        parts = [self._part(n) for n in rest if n not in claim_filters and n not in dates]
        if dates:  # one range on the date index
            ranges = [self._part(n) for n in dates]
            sql = " AND ".join(r.sql for r in ranges)
            parts.append(_Part(sql, [x for r in ranges for x in r.params], "articles_by_date"))
        if claim_filters:
            ids = self._claim_set_ids(claim_filters)
            parts.append(_Part(_claim_sql(ids), [], "articles_by_claims", claim_sets=ids))
        return _Compiled(fts, parts)

    def _part(self, node: Any) -> _Part:
        self.params = []
        sql = self._sql(node)
        part = _Part(sql, self.params)
        if isinstance(node, Filter) and node.name == "entity":
            part.driver = "entity"
            marks = ",".join("?" * len(part.params))
            part.driving_sql = f"SELECT DISTINCT article FROM article_entities WHERE entity IN ({marks})"
        elif isinstance(node, Filter) and node.name == "source":
            part.driver = "articles_by_source"
        return part

    def _sql(self, node: Any) -> str:
        if isinstance(node, And):
            claim_filters = [n for n in node.children if isinstance(n, Filter) and n.name in CLAIM_FILTERS]
            parts = [self._sql(n) for n in node.children if n not in claim_filters]
            if claim_filters:
                parts.append(_claim_sql(self._claim_set_ids(claim_filters)))
            return "(" + " AND ".join(parts) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self._sql(c) for c in node.children) + ")"
        if isinstance(node, Not):
            return f"NOT {self._sql(node.child)}"
        if isinstance(node, Filter):
            return self._filter(node)
        self.params.append(_fts(node))
        return "a.rowid IN (SELECT rowid FROM article_fts WHERE article_fts MATCH ?)"

    def _filter(self, node: Filter) -> str:
        if node.name in CLAIM_FILTERS:
            return _claim_sql(self._claim_set_ids([node]))
        if node.name == "entity":
            family = entity_family(self.kb, resolve_entity_id(self.kb, str(node.value)))
            self.params += family
            return (
                "EXISTS (SELECT 1 FROM article_entities e WHERE e.article = a.rowid"
                f" AND e.entity IN ({','.join('?' * len(family))}))"
            )
        if node.name == "lang":
            self.params.append(str(node.value))
            return "a.language = ?"
        if node.name == "source":
            self.params.append(str(node.value))
            return "a.source = ?"
        assert isinstance(node.value, datetime)
        self.params.append(_ts(node.value))
        return "a.published_at >= ?" if node.name == "from" else "a.published_at < ?"

    def _claim_set_ids(self, filters: list[Filter]) -> list[int]:
        """The claim sets with one claim that satisfies every filter."""
        return [
            set_id
            for set_id, claims in self.claim_sets.items()
            if any(all(_claim_matches(f, claim) for f in filters) for claim in claims)
        ]


def _claim_matches(node: Filter, claim: ClaimKey) -> bool:
    claim_type, stance, depth = claim
    if node.name == "depth":
        assert isinstance(node.value, DepthRange)
        return depth is not None and node.value.low <= depth <= node.value.high
    return (claim_type if node.name == "type" else stance) == str(node.value)


def _claim_sql(ids: list[int]) -> str:
    return f"a.claim_set IN ({','.join(str(i) for i in ids)})" if ids else "0"


def _claim_set_key(claims: list[tuple]) -> str:
    """The claim_sets.claims text of an article's claims (type, stance, depth, …): distinct, sorted."""
    distinct = {(c[0], c[1], c[2]) for c in claims}
    return json.dumps(sorted(distinct, key=lambda c: (c[0], c[1], -1 if c[2] is None else c[2])))


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
    row = db.execute("SELECT rowid, claim_set FROM articles WHERE id = ?", (base[0],)).fetchone()
    claim_set = _claim_set_id(db, claims)
    if row is None:
        rowid = db.execute(
            "INSERT INTO articles(id, published_at, language, source, claim_set) VALUES (?, ?, ?, ?, ?)",
            (*base[:4], claim_set),
        ).lastrowid
        db.execute("INSERT INTO article_payloads(rowid, payload) VALUES (?, ?)", (rowid, base[4]))
    else:
        rowid = row[0]
        db.execute(
            "UPDATE articles SET published_at = ?, language = ?, source = ?, claim_set = ? WHERE rowid = ?",
            (*base[1:4], claim_set, rowid),
        )
        db.execute("UPDATE article_payloads SET payload = ? WHERE rowid = ?", (base[4], rowid))
        db.execute("UPDATE incident_articles SET published_at = ? WHERE article = ?", (base[1], base[0]))
        for table, column in (
            ("article_fts", "rowid"),
            ("article_entities", "article"),
            ("claims", "article"),
        ):
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (rowid,))
    if row is None or row[1] != claim_set:
        db.execute("UPDATE claim_sets SET articles = articles + 1 WHERE id = ?", (claim_set,))
        if row is not None:
            db.execute("UPDATE claim_sets SET articles = articles - 1 WHERE id = ?", (row[1],))
    _insert_derived(db, "", rowid, text, entity_ids, claims)
    return row is None


def _claim_set_id(db: sqlite3.Connection, claims: list[tuple]) -> int:
    """The claim_sets id of these claims (type, stance, depth, …), added on first sight; 0: none."""
    if not claims:
        return 0
    key = _claim_set_key(claims)
    db.execute("INSERT OR IGNORE INTO claim_sets(claims) VALUES (?)", (key,))
    return db.execute("SELECT id FROM claim_sets WHERE claims = ?", (key,)).fetchone()[0]


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

    def create_schema(self, path: str, kb: KnowledgeBase) -> None:
        """Create the tables, or bring a file of an older schema version up to date in place. The
        version is read again under the write lock: another process may have just migrated."""
        current = self.db.execute("PRAGMA user_version").fetchone()[0]
        if current == SCHEMA_VERSION:
            return
        if current > SCHEMA_VERSION:
            raise CapabilityError(
                f"{path} has schema version {current}, newer than this ShellWatch reads ({SCHEMA_VERSION}):"
                " upgrade ShellWatch, or move the file away and run `shellwatch reindex` on a fresh store"
            )
        started = time.monotonic()
        if current:
            log.warning(
                "event=sqlite-migrate path=%s from_version=%s to_version=%s", path, current, SCHEMA_VERSION
            )
        if current == 1:  # version 1 had no published_at in incident_articles
            self.db.execute("ALTER TABLE incident_articles ADD COLUMN published_at TEXT")
            self.db.execute(
                "UPDATE incident_articles SET published_at = (SELECT published_at FROM articles WHERE id = article)"
            )
        if current in (1, 2):  # the JSON moved out of `articles`
            self.db.execute(
                "CREATE TABLE article_payloads (rowid INTEGER PRIMARY KEY, payload TEXT NOT NULL)"
            )
            self.db.execute(
                "INSERT INTO article_payloads(rowid, payload) SELECT rowid, payload FROM articles"
            )
            self.db.execute("ALTER TABLE articles DROP COLUMN payload")
            self.db.execute("DROP INDEX IF EXISTS claims_article")  # it covers more columns now
        if current in (1, 2, 3):  # claim filters moved onto the article's row (claim_set)
            self.db.execute("ALTER TABLE articles ADD COLUMN claim_set INTEGER NOT NULL DEFAULT 0")
            self.db.execute(CLAIM_SETS_TABLE)
            self._fill_claim_sets()
            for index in (
                "articles_published",
                "articles_source",
                "claims_type",
                "claims_stance",
                "claims_depth",
            ):
                self.db.execute(f"DROP INDEX IF EXISTS {index}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self.db.execute(statement)
        if 0 < current < 5:  # subscriptions got filed under keys
            for (payload,) in self.db.execute("SELECT payload FROM subscriptions").fetchall():
                subscription = from_json(Subscription, payload)
                self.file_subscription(subscription.id, subscription_keys(subscription, kb))
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if current:
            log.warning(
                "event=sqlite-migrated path=%s to_version=%s seconds=%.1f",
                path,
                SCHEMA_VERSION,
                time.monotonic() - started,
            )

    def file_subscription(self, subscription_id: str, keys: list[str]) -> None:
        self.db.execute("DELETE FROM subscription_keys WHERE subscription = ?", (subscription_id,))
        self.db.executemany(
            "INSERT INTO subscription_keys(key, subscription) VALUES (?, ?)",
            [(k, subscription_id) for k in keys],
        )

    def _fill_claim_sets(self) -> None:
        """Give every article its claim set, from the claims table (one pass in article order)."""
        sizes: Counter[int] = Counter()
        assignments: list[tuple[int, int]] = []
        rows = self.db.execute("SELECT article, type, stance, depth FROM claims ORDER BY article")
        for article, claims in itertools.groupby(rows, key=itemgetter(0)):
            claim_set = _claim_set_id(self.db, [c[1:] for c in claims])
            sizes[claim_set] += 1
            assignments.append((claim_set, article))
            if len(assignments) == 10_000:  # bounded memory, however large the store
                self.db.executemany("UPDATE articles SET claim_set = ? WHERE rowid = ?", assignments)
                assignments = []
        self.db.executemany("UPDATE articles SET claim_set = ? WHERE rowid = ?", assignments)
        self.db.executemany(
            "UPDATE claim_sets SET articles = ? WHERE id = ?", [(n, i) for i, n in sizes.items()]
        )

    def drop_next_tables(self) -> None:
        for name in DERIVED_TABLES:
            self.db.execute(f"DROP TABLE IF EXISTS {name}_next")

    def create_next_tables(self) -> None:
        for name, ddl in DERIVED_TABLES.items():
            self.db.execute(ddl.format(name=f"{name}_next"))

    def fill_next_tables(self, batch: list[tuple[int, tuple]]) -> None:
        for rowid, (_base, text, entity_ids, claims) in batch:
            _insert_derived(self.db, "_next", rowid, text, entity_ids, claims)
            # The claim set is a pure function of the claims: an article's row always holds a valid
            # one, so it is updated in place (the sizes are recounted at the swap).
            self.db.execute(
                "UPDATE articles SET claim_set = ? WHERE rowid = ?", (_claim_set_id(self.db, claims), rowid)
            )

    def swap_next_tables(self) -> None:
        for name in DERIVED_TABLES:
            self.db.execute(f"DROP TABLE {name}")
            self.db.execute(f"ALTER TABLE {name}_next RENAME TO {name}")
        for ddl in DERIVED_INDEXES:
            self.db.execute(ddl)
        self.db.execute(
            "UPDATE claim_sets SET articles = (SELECT count(*) FROM articles WHERE claim_set = claim_sets.id)"
        )


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
