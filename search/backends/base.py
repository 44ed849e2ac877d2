"""The store contract: what every backend (SQLite embedded, Elasticsearch) must do.

One backend-agnostic test suite (tests/search/test_store_contract.py) runs against every
implementation. A backend that cannot do something raises CapabilityError; it never skips it
silently. Writes are upserts keyed by deterministic ids, deletes tolerate "not found".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager
from datetime import date, datetime

from search.backends.admin import ApiToken, Correction
from search.results import (
    TRACK_TOTAL_HITS,
    BulkResult,
    DeadLetter,
    DeliveredAlert,
    IncidentDetail,
    MonthAggregates,
    SearchResult,
    Timeline,
)
from shellwatch.domain import Alert, AnalysedArticle, Incident, Stance, Subscription


class StoreError(RuntimeError):
    """The store failed; transient (worth a retry) unless a subclass says otherwise."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is locked: retry later."""


class StoreRejected(StoreError):
    """The store refused this request as invalid (a mapping or query it cannot take): the same
    request will be refused again, so it is permanent, not worth a retry."""


class CapabilityError(StoreError):
    """This backend cannot do what was asked (e.g. no FTS5, wrong Elasticsearch major)."""


class QueryError(ValueError):
    """A malformed search query; `position` points at the problem in the query string."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


class Store(ABC):
    # Articles ---------------------------------------------------------------------------------
    @abstractmethod
    def upsert_article(self, article: AnalysedArticle) -> bool:
        """Insert or replace by article id; True when the article was new."""

    def upsert_articles(self, articles: list[AnalysedArticle]) -> BulkResult:
        """Upsert many articles; a document that fails is reported in `failures`, the rest go in."""
        result = BulkResult()
        for article in articles:
            try:
                result.new += self.upsert_article(article)
                result.indexed += 1
            except StoreUnavailable:
                raise
            except Exception as exc:  # one bad document must not fail the batch
                result.failures[article.id] = f"{type(exc).__name__}: {exc}"
        return result

    @abstractmethod
    def get_article(self, article_id: str) -> AnalysedArticle | None: ...

    @abstractmethod
    def iter_articles(self, since: datetime | None = None) -> Iterator[AnalysedArticle]:
        """Every stored article (published or fetched at or after `since`), oldest first."""

    @abstractmethod
    def count_articles(self) -> int: ...

    @abstractmethod
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
        """Articles published in [since, until), oldest first (at most `limit`, ids in `exclude_ids`
        left out), with a claim of one of `stances` about `subject`: an entity id, a company
        including its models. With `subject` None, the claim's subject is a name the knowledge base
        does not know and the article must contain the phrase `name` (title, text or the names
        found in it). Incident assignment finds back the earlier claims that corroborate a new one."""

    # Incidents --------------------------------------------------------------------------------
    @abstractmethod
    def upsert_incident(self, incident: Incident) -> None: ...

    @abstractmethod
    def get_incident(self, incident_id: str) -> IncidentDetail | None: ...

    @abstractmethod
    def list_incidents(
        self, subject: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[Incident]:
        """Incidents ordered by started_at; `subject` is an entity id (a company includes its models)."""

    @abstractmethod
    def delete_incident(self, incident_id: str) -> None:
        """Remove an incident (e.g. after a merge); no error when it does not exist."""

    # Search -----------------------------------------------------------------------------------
    @abstractmethod
    def search(
        self,
        query: str,
        *,
        offset: int = 0,
        limit: int = 20,
        facets: bool = True,
        track_total_hits: int = TRACK_TOTAL_HITS,
    ) -> SearchResult:
        """Full-text search in the query syntax (search/query.py); raises QueryError when malformed.
        The total is exact up to `track_total_hits` matches; above, `total` is that number and
        `total_relation` is "gte". Facets may count a sample of the matches (`facet_sample` says how
        many); `facets=False` skips them (cheaper when only hits are wanted)."""

    @abstractmethod
    def timeline(
        self, query: str = "", *, entity: str | None = None, interval: str = "month"
    ) -> Timeline: ...

    @abstractmethod
    def month_aggregates(self, start: date, end: date) -> MonthAggregates: ...

    # Subscriptions and alerts -------------------------------------------------------------------
    @abstractmethod
    def save_subscription(self, subscription: Subscription) -> None: ...

    @abstractmethod
    def get_subscription(self, subscription_id: str) -> Subscription | None: ...

    @abstractmethod
    def list_subscriptions(self) -> list[Subscription]: ...

    @abstractmethod
    def delete_subscription(self, subscription_id: str) -> None: ...

    @abstractmethod
    def match_subscriptions(self, article: AnalysedArticle) -> list[Subscription]:
        """Percolate: the active subscriptions whose query and filters match this article."""

    @abstractmethod
    def record_alert(self, alert: Alert) -> bool:
        """Remember an alert by its id; True only the first time (the exactly-once key)."""

    @abstractmethod
    def list_alerts(self, subscription_id: str | None = None, limit: int = 100) -> list[Alert]:
        """Recorded alerts, newest first."""

    @abstractmethod
    def record_delivery(self, delivery: DeliveredAlert) -> None:
        """Upsert the delivery state of one alert on one channel (keyed by alert id and channel)."""

    @abstractmethod
    def list_deliveries(
        self, subscription_id: str | None = None, pending_only: bool = False
    ) -> list[DeliveredAlert]:
        """Delivery states, newest first; `pending_only` keeps those not yet delivered."""

    # Dead letters -----------------------------------------------------------------------------
    @abstractmethod
    def add_dead_letter(self, letter: DeadLetter) -> None: ...

    @abstractmethod
    def list_dead_letters(self) -> list[DeadLetter]: ...

    @abstractmethod
    def delete_dead_letter(self, letter_id: str) -> None: ...

    # API tokens and corrections (the web stage; backends/admin.py) ---------------------------------
    @abstractmethod
    def save_api_token(self, token: ApiToken) -> None:
        """Upsert by token id (revoking is saving it with `revoked_at` set)."""

    @abstractmethod
    def get_api_token(self, token_id: str) -> ApiToken | None: ...

    @abstractmethod
    def list_api_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones included, oldest first."""

    @abstractmethod
    def save_correction(self, correction: Correction) -> None:
        """Upsert by correction id."""

    @abstractmethod
    def list_corrections(self, article_id: str | None = None) -> list[Correction]:
        """Corrections (of one article, or all), in the order they were made."""

    # Coordination ------------------------------------------------------------------------------
    def incident_lock(self, key: str) -> AbstractContextManager[None]:
        """Hold an exclusive lock named `key` across every process using this store (incident
        assignment takes one per accused party, so concurrent workers cannot lose each other's
        updates). Raises StoreUnavailable when it cannot be had within the store's lock timeout."""
        raise CapabilityError(f"{type(self).__name__} cannot lock")

    # Index maintenance ------------------------------------------------------------------------
    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the index under a new name from the stored articles and swap it in; returns the
        number of articles indexed. A failed rebuild leaves the old index serving."""
        raise CapabilityError(f"{type(self).__name__} cannot reindex")

    # Lifecycle --------------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
