"""Crawl state that outlives a run: seen-set, pending frontier, feed validators, syndication index.

Embedded mode keeps it in a SQLite file under the data directory; with REDIS_URL it lives in Redis
under its own key prefix so several crawler processes share it. `claim` is the one atomic step that
decides which process fetches a URL: it adds the URL to the seen-set and, when it was new, to the
pending frontier. `complete` removes it from the frontier once the outcome is final; a killed crawl
leaves its claimed-but-unfinished URLs pending, and the next run resumes them (`pending`).

In Redis, each process keeps a short-lived liveness key alive from a background thread and records
itself as the owner of what it claims: another process retakes a pending URL as soon as its owner's
key has expired (a killed crawler's URLs wait `HEARTBEAT_SECONDS`, not a long lease), and never
while the owner lives, however slow its fetch.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawlers import syndication
from shellwatch.config import Settings
from shellwatch.domain import Article, from_json, to_json

REDIS_PREFIX = "shellwatch:crawl:"
# A pending URL claimed by another process is left alone for this long before it is retaken, when
# that process cannot be asked whether it lives (SQLite, or claims recorded without an owner).
PENDING_LEASE_SECONDS = 600
# A Redis crawler process proves it lives by renewing a key of this lifetime every third of it.
HEARTBEAT_SECONDS = 30.0


@dataclass(frozen=True)
class PendingArticle:
    url: str
    payload: dict[str, Any]  # what the request needs to be rebuilt: source, hints


@dataclass(frozen=True)
class FeedValidators:
    etag: str | None = None
    last_modified: str | None = None


class CrawlState(ABC):
    """What the spider and pipelines need to remember between runs."""

    @abstractmethod
    def claim(self, url: str, payload: dict[str, Any] | None = None) -> bool:
        """Mark a canonical URL seen; True if it was new (then it is pending until `complete`)."""

    @abstractmethod
    def is_seen(self, url: str) -> bool: ...

    @abstractmethod
    def complete(self, url: str) -> None:
        """The URL's outcome is final (stored, dropped or permanently failed)."""

    @abstractmethod
    def retry_later(self, url: str) -> int:
        """Keep a claimed URL pending after a transient failure, so the next run requests it again
        (even when its feed answers 304); returns how many attempts have failed so far."""

    @abstractmethod
    def pending(self, *, all_of_them: bool) -> list[PendingArticle]:
        """Claimed URLs whose outcome never came (a crawl killed halfway); with `all_of_them` False,
        only those whose lease ran out (other processes may still be working on fresh ones)."""

    @abstractmethod
    def peek_pending(self) -> list[PendingArticle]:
        """Every pending URL, taking none of them (for status pages)."""

    @abstractmethod
    def validators(self, feed_url: str) -> FeedValidators: ...

    @abstractmethod
    def save_validators(self, feed_url: str, validators: FeedValidators) -> None: ...

    @abstractmethod
    def remember_article(self, article: Article, fingerprint: frozenset[int] | None) -> None:
        """Keep the article (and, the first time, its fingerprint) for later copies to attach to."""

    @abstractmethod
    def first_copy(self, fingerprint: frozenset[int]) -> Article | None:
        """The earliest remembered article whose text this fingerprint's text is a copy of."""

    @abstractmethod
    def close(self) -> None: ...


def open_crawl_state(settings: Settings) -> CrawlState:
    """Redis when REDIS_URL is set (shared by every crawler process), else SQLite in the data dir."""
    if settings.redis_url:
        return RedisCrawlState(settings.redis_url)
    return SqliteCrawlState(settings.ensure_data_dir() / "crawl" / "state.sqlite3")


class SqliteCrawlState(CrawlState):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS seen (url TEXT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS pending (url TEXT PRIMARY KEY, payload TEXT NOT NULL, claimed_at REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS validators (feed_url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT);
    CREATE TABLE IF NOT EXISTS articles (
        id TEXT PRIMARY KEY, sentences INTEGER NOT NULL, payload TEXT NOT NULL, remembered_at REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS sentences (hash INTEGER NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (hash, article_id));
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # autocommit: every claim is durable at once, so a killed crawl loses nothing it decided.
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(self.SCHEMA)

    def claim(self, url: str, payload: dict[str, Any] | None = None) -> bool:
        with self.db:
            if self.db.execute("INSERT OR IGNORE INTO seen (url) VALUES (?)", (url,)).rowcount == 0:
                return False
            self.db.execute(
                "INSERT OR REPLACE INTO pending (url, payload, claimed_at) VALUES (?, ?, ?)",
                (url, json.dumps(payload or {}, ensure_ascii=False), time.time()),
            )
        return True

    def is_seen(self, url: str) -> bool:
        return self.db.execute("SELECT 1 FROM seen WHERE url = ?", (url,)).fetchone() is not None

    def complete(self, url: str) -> None:
        self.db.execute("DELETE FROM pending WHERE url = ?", (url,))

    def retry_later(self, url: str) -> int:
        row = self.db.execute("SELECT payload FROM pending WHERE url = ?", (url,)).fetchone()
        payload = json.loads(row[0]) if row else {}
        payload["attempts"] = payload.get("attempts", 0) + 1
        # claimed_at 0: due at once for whichever run comes next.
        self.db.execute(
            "INSERT OR REPLACE INTO pending (url, payload, claimed_at) VALUES (?, ?, 0)",
            (url, json.dumps(payload, ensure_ascii=False)),
        )
        return payload["attempts"]

    def pending(self, *, all_of_them: bool) -> list[PendingArticle]:
        cutoff = time.time() if all_of_them else time.time() - PENDING_LEASE_SECONDS
        rows = self.db.execute(
            "SELECT url, payload FROM pending WHERE claimed_at <= ? ORDER BY claimed_at", (cutoff,)
        )
        return [PendingArticle(url, json.loads(payload)) for url, payload in rows]

    def peek_pending(self) -> list[PendingArticle]:
        return self.pending(all_of_them=True)  # reading the SQLite frontier takes nothing

    def validators(self, feed_url: str) -> FeedValidators:
        row = self.db.execute(
            "SELECT etag, last_modified FROM validators WHERE feed_url = ?", (feed_url,)
        ).fetchone()
        return FeedValidators(*row) if row else FeedValidators()

    def save_validators(self, feed_url: str, validators: FeedValidators) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO validators (feed_url, etag, last_modified) VALUES (?, ?, ?)",
            (feed_url, validators.etag, validators.last_modified),
        )

    def remember_article(self, article: Article, fingerprint: frozenset[int] | None) -> None:
        with self.db:
            known = self.db.execute("SELECT 1 FROM articles WHERE id = ?", (article.id,)).fetchone()
            if known:
                self.db.execute(
                    "UPDATE articles SET payload = ? WHERE id = ?", (to_json(article), article.id)
                )
                return
            self.db.execute(
                "INSERT INTO articles (id, sentences, payload, remembered_at) VALUES (?, ?, ?, ?)",
                (article.id, len(fingerprint or ()), to_json(article), time.time()),
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO sentences (hash, article_id) VALUES (?, ?)",
                [(value, article.id) for value in fingerprint or ()],
            )

    def first_copy(self, fingerprint: frozenset[int]) -> Article | None:
        hashes = list(fingerprint)
        shared: dict[str, int] = {}
        for start in range(0, len(hashes), 500):  # stay under SQLite's bound-parameter limit
            chunk = hashes[start : start + 500]
            for article_id, count in self.db.execute(
                f"SELECT article_id, COUNT(*) FROM sentences WHERE hash IN ({','.join('?' * len(chunk))}) "
                "GROUP BY article_id",
                chunk,
            ):
                shared[article_id] = shared.get(article_id, 0) + count
        if not shared:
            return None
        rows = self.db.execute(
            f"SELECT id, sentences, payload FROM articles WHERE id IN ({','.join('?' * len(shared))}) "
            "ORDER BY remembered_at",
            list(shared),
        )
        for article_id, size, payload in rows:
            if syndication.is_copy(shared[article_id], size, len(fingerprint)):
                return from_json(Article, payload)
        return None

    def close(self) -> None:
        self.db.close()


_CLAIM_SCRIPT = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  return 1
end
return 0
"""

# Take over a pending URL: only when its owner (if any) no longer lives and nobody took it over
# since the caller looked (ARGV[4], the owner the caller saw, '' for none).
_RETAKE_SCRIPT = """
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and redis.call('EXISTS', ARGV[2] .. owner) == 1 then
  return 0
end
if (owner or '') ~= ARGV[4] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


class RedisCrawlState(CrawlState):
    """The same state in Redis: one seen-set and frontier for every crawler process."""

    def __init__(self, url: str, prefix: str = REDIS_PREFIX, heartbeat_seconds: float = HEARTBEAT_SECONDS):
        import redis

        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self.owner = uuid.uuid4().hex
        self.heartbeat_seconds = heartbeat_seconds
        self._stopped = threading.Event()
        self._heart: threading.Thread | None = None  # started when this process first owns a URL

    def _own(self) -> None:
        if self._heart is None:
            self._beat()
            self._heart = threading.Thread(target=self._keep_alive, name="crawl-state-heartbeat", daemon=True)
            self._heart.start()

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _beat(self) -> None:
        self.redis.set(self._key("alive", self.owner), "1", px=int(self.heartbeat_seconds * 1000))

    def _keep_alive(self) -> None:
        while not self._stopped.wait(self.heartbeat_seconds / 3):
            try:
                self._beat()
            except Exception:  # noqa: BLE001 - Redis away for a moment: the next beat tries again
                continue

    def claim(self, url: str, payload: dict[str, Any] | None = None) -> bool:
        # One script, so a crawler killed between the writes cannot leave a URL seen but never
        # pending (nobody would ever fetch it).
        entry = json.dumps({"payload": payload or {}, "claimed_at": time.time()}, ensure_ascii=False)
        self._own()
        keys = (self._key("seen"), self._key("pending"), self._key("owners"))
        return bool(self.redis.eval(_CLAIM_SCRIPT, 3, *keys, url, entry, self.owner))

    def is_seen(self, url: str) -> bool:
        return bool(self.redis.sismember(self._key("seen"), url))

    def complete(self, url: str) -> None:
        pipe = self.redis.pipeline()
        pipe.hdel(self._key("pending"), url)
        pipe.hdel(self._key("owners"), url)
        pipe.execute()

    def retry_later(self, url: str) -> int:
        raw = self.redis.hget(self._key("pending"), url)
        payload = json.loads(raw)["payload"] if raw else {}
        payload["attempts"] = payload.get("attempts", 0) + 1
        entry = json.dumps({"payload": payload, "claimed_at": 0}, ensure_ascii=False)
        pipe = self.redis.pipeline()
        pipe.hset(self._key("pending"), url, entry)
        pipe.hdel(self._key("owners"), url)  # nobody's: due at once for whichever run comes next
        pipe.execute()
        return payload["attempts"]

    def pending(self, *, all_of_them: bool) -> list[PendingArticle]:
        """With `all_of_them` False: the URLs whose owner no longer lives, and those without an
        owner (a transient failure's, or claimed before owners were recorded) once their lease ran
        out. The retake script makes this process their owner, so of several resuming processes
        exactly one takes each URL."""
        self._own()
        if all_of_them:  # a run that resumes everything: every pending URL is now this process's
            entries = self.redis.hgetall(self._key("pending"))
            if entries:
                self.redis.hset(self._key("owners"), mapping=dict.fromkeys(entries, self.owner))
            return [PendingArticle(url, json.loads(raw)["payload"]) for url, raw in entries.items()]
        cutoff = time.time() - PENDING_LEASE_SECONDS
        owners = self.redis.hgetall(self._key("owners"))
        found = []
        for url, raw in self.redis.hgetall(self._key("pending")).items():
            entry = json.loads(raw)
            owner = owners.get(url, "")
            if owner == self.owner or (not owner and entry["claimed_at"] > cutoff):
                continue
            retaken = self.redis.eval(
                _RETAKE_SCRIPT, 1, self._key("owners"), url, self._key("alive", ""), self.owner, owner
            )
            if retaken:
                found.append(PendingArticle(url, entry["payload"]))
        return found

    def peek_pending(self) -> list[PendingArticle]:
        entries = self.redis.hgetall(self._key("pending"))
        return [PendingArticle(url, json.loads(raw)["payload"]) for url, raw in entries.items()]

    def validators(self, feed_url: str) -> FeedValidators:
        raw = self.redis.hget(self._key("validators"), feed_url)
        return FeedValidators(**json.loads(raw)) if raw else FeedValidators()

    def save_validators(self, feed_url: str, validators: FeedValidators) -> None:
        payload = {"etag": validators.etag, "last_modified": validators.last_modified}
        self.redis.hset(self._key("validators"), feed_url, json.dumps(payload))

    def remember_article(self, article: Article, fingerprint: frozenset[int] | None) -> None:
        key = self._key("article", article.id)
        # HSETNX on the timestamp decides, atomically, which process remembered the article first.
        if not self.redis.hsetnx(key, "remembered_at", repr(time.time())):
            self.redis.hset(key, "payload", to_json(article))
            return
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={"sentences": len(fingerprint or ()), "payload": to_json(article)})
        for value in fingerprint or ():
            pipe.sadd(self._key("sentence", str(value)), article.id)
        pipe.execute()

    def first_copy(self, fingerprint: frozenset[int]) -> Article | None:
        pipe = self.redis.pipeline()
        for value in fingerprint:
            pipe.smembers(self._key("sentence", str(value)))
        shared: dict[str, int] = {}
        for members in pipe.execute():
            for article_id in members:
                shared[article_id] = shared.get(article_id, 0) + 1
        matches = []
        for article_id, count in shared.items():
            size, payload, remembered_at = self.redis.hmget(
                self._key("article", article_id), "sentences", "payload", "remembered_at"
            )
            if payload and syndication.is_copy(count, int(size or 0), len(fingerprint)):
                matches.append((float(remembered_at or 0), payload))
        return from_json(Article, min(matches)[1]) if matches else None

    def close(self) -> None:
        """Stop the heartbeat and give up liveness at once: what this process leaves pending is
        retaken by the next process without waiting for its key to expire."""
        try:
            if self._heart is not None:
                self._stopped.set()
                self._heart.join(timeout=5)
                self.redis.delete(self._key("alive", self.owner))
        finally:
            self.redis.close()
