"""The multi-service store: Elasticsearch 9 through the official client.

Indices (all named `<prefix>-…`, ELASTICSEARCH_INDEX_PREFIX):
  articles       behind a read alias `<prefix>-articles` and a write alias `<prefix>-articles-write`
                 (`is_write_index`); concrete indices come from an index template: the first one,
                 `<prefix>-articles-000001`, has a fixed name so that processes starting together
                 create it once; `reindex()` builds `<prefix>-articles-<ns>` and swaps the aliases
  incidents, alerts, deliveries, dead-letters   plain indices
  subscriptions  a percolator index (each subscription's query, compiled from the search syntax)
                 behind the alias `<prefix>-subscriptions`: it analyses percolated articles with
                 its own settings, so `reindex()` rebuilds it too (first `…-subscriptions-000001`)

Text: the same folding as the embedded store (search/text.py: NFKC, lower case, traditional →
simplified) before indexing, then a built-in analyser (standard tokenizer, cjk_width, lowercase,
asciifolding, possessive_english, cjk_bigram, porter_stem): Chinese as bigrams, English stemmed
without possessives, no plugins; an analyser change bumps SCHEMA_VERSION and needs `reindex()`.
Highlights are cut in Python by the shared Highlighter so both backends mark the same words.

Consistency: single-document writes use `refresh=true` so the pipeline (and the next article's
incident assignment) sees them at once; news arrive at a few per second, far below where that
costs. Bulk paths (upsert_articles, reindex) refresh once at the end.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from typing import Any

from elasticsearch import (
    ApiError,
    BadRequestError,
    ConflictError,
    Elasticsearch,
    NotFoundError,
    SerializationError,
    TransportError,
    helpers,
)

from search.aggregates import BUCKETS, aggregate
from search.backends.base import (
    CapabilityError,
    QueryError,
    Store,
    StoreError,
    StoreRejected,
    StoreUnavailable,
)
from search.backends.elasticsearch_admin import ElasticsearchAdminMixin
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
    TRACK_TOTAL_HITS,
    BulkResult,
    DeadLetter,
    DeliveredAlert,
    FacetCount,
    HistogramBucket,
    IncidentDetail,
    MonthAggregates,
    SearchHit,
    SearchResult,
    Timeline,
)
from search.text import fold
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

SUPPORTED_MAJOR = 9
TEXT_FIELDS = ["title^3", "body", "entity_names^2"]
CLAIM_FILTERS = ("type", "stance", "depth")
FACET_SIZE = 20
PAGE = 1000
MAX_TERMS = 60_000  # below Elasticsearch's index.max_terms_count default (65,536)
LOCK_STALE_SECONDS = 120  # an incident lock this old belongs to a dead worker
BULK_RETRIES = 3  # for documents rejected with 429, after 1, 2, 4 seconds
BULK_BACKOFF_SECONDS = 1.0
BULK_MAX_BACKOFF_SECONDS = 30.0
CLOCK_SKEW_SECONDS = 300  # reindex catches up with writes stamped this long before it started
FIRST_INDEX_SUFFIX = "000001"  # the articles index made at first start; reindex() makes `<ns>` ones

# Bump when ANALYSIS or ARTICLE_PROPERTIES change. New indices (the template, reindex) carry it in
# their mapping's _meta; start-up warns while the live index is older, until `shellwatch reindex`.
SCHEMA_VERSION = 2  # 2: possessive_english + asciifolding
ANALYSIS = {
    # The standard tokenizer keeps "OpenAI's" (and "OpenAI’s") whole, and Porter leaves "openai'":
    # asciifolding turns ’ into ' (and folds diacritics, as SQLite's remove_diacritics does), then
    # possessive_english drops the trailing 's, so the word indexes as "openai" as in SQLite.
    "filter": {"possessive_english": {"type": "stemmer", "language": "possessive_english"}},
    "analyzer": {
        "shellwatch_text": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": [
                "cjk_width",
                "lowercase",
                "asciifolding",
                "possessive_english",
                "cjk_bigram",
                "porter_stem",
            ],
        }
    },
    "normalizer": {"lower": {"type": "custom", "filter": ["lowercase"]}},
}
UNINDEXED = {"type": "keyword", "index": False, "doc_values": False}
ARTICLE_PROPERTIES: dict[str, Any] = {
    "id": {"type": "keyword"},
    "published_at": {"type": "date"},
    "indexed_at": {"type": "date"},
    "language": {"type": "keyword"},
    "source": {"type": "keyword", "fields": {"lower": {"type": "keyword", "normalizer": "lower"}}},
    "title": {"type": "text", "analyzer": "shellwatch_text"},
    "body": {"type": "text", "analyzer": "shellwatch_text"},
    "entity_names": {"type": "text", "analyzer": "shellwatch_text"},
    "entities": {"type": "keyword"},
    "claims": {
        "type": "nested",
        "properties": {
            "type": {"type": "keyword"},
            "stance": {"type": "keyword"},
            "depth": {"type": "integer"},
            "subject": {"type": "keyword"},
            "confidence": {"type": "float"},
            "published_at": {"type": "date"},
        },
    },
    # Flat copies of the claims' values, one per document, for facets that count articles.
    "claim_types": {"type": "keyword"},
    "claim_stances": {"type": "keyword"},
    "claim_depths": {"type": "integer"},
    "payload": UNINDEXED,
}
# The percolator index maps every article field: percolation indexes the article in memory with it.
SUBSCRIPTION_PROPERTIES: dict[str, Any] = {
    **ARTICLE_PROPERTIES,
    "query": {"type": "percolator"},
    "subscription_id": {"type": "keyword"},
}
INDEX_SETTINGS = {"analysis": ANALYSIS, "number_of_replicas": 0}
INCIDENT_PROPERTIES = {
    "id": {"type": "keyword"},
    "subject": {"type": "keyword"},
    "subject_org": {"type": "keyword"},
    "started_at": {"type": "date"},
    "updated_at": {"type": "date"},
    "article_ids": {"type": "keyword"},
    "payload": UNINDEXED,
}


def get_es_client(url: str) -> Elasticsearch:
    """The one place an Elasticsearch client is built."""
    return Elasticsearch(url, request_timeout=30, retry_on_timeout=True, max_retries=2)


class ElasticsearchStore(ElasticsearchAdminMixin, Store):
    def __init__(
        self,
        url: str,
        prefix: str = "shellwatch",
        kb: KnowledgeBase | None = None,
        client: Elasticsearch | None = None,
        lock_timeout: float = 30.0,
    ):
        self.url = url
        self.lock_timeout = lock_timeout
        self.prefix = prefix
        self.kb: KnowledgeBase = kb if kb is not None else EmptyKnowledgeBase()
        self.es = client or get_es_client(url)
        self._highlighter = Highlighter()
        self.read_alias = f"{prefix}-articles"
        self.write_alias = f"{prefix}-articles-write"
        self.incidents_index = f"{prefix}-incidents"
        self.subscriptions_index = f"{prefix}-subscriptions"
        self.alerts_index = f"{prefix}-alerts"
        self.deliveries_index = f"{prefix}-deliveries"
        self.dead_letters_index = f"{prefix}-dead-letters"
        self.locks_index = f"{prefix}-locks"
        try:
            self._probe_version()
            self._ensure_indices()
            self._warn_if_schema_is_old()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> ElasticsearchStore:
        if not settings.elasticsearch_url:
            raise CapabilityError("ELASTICSEARCH_URL is not set")
        return cls(settings.elasticsearch_url, settings.elasticsearch_index_prefix, kb=load_kb(settings))

    def close(self) -> None:
        self._highlighter.close()
        self.es.close()

    # Start-up -----------------------------------------------------------------------------------
    def _probe_version(self) -> None:
        """`GET /` through the transport with a plain JSON Accept header: the client sends
        `compatible-with=9` on its own requests, which an 8.x server refuses (400
        media_type_header_exception) before it would say its version."""
        with self._errors():
            meta, info = self.es.transport.perform_request("GET", "/", headers={"accept": "application/json"})
        if meta.status in (429, 502, 503, 504):
            raise StoreUnavailable(f"Elasticsearch at {self.url} is unavailable: HTTP {meta.status}")
        if meta.status != 200 or not isinstance(info, dict):
            raise CapabilityError(
                f"Elasticsearch at {self.url} answered GET / with HTTP {meta.status}: {info}"
            )
        if meta.headers.get("x-elastic-product") != "Elasticsearch":
            raise CapabilityError(f"{self.url} is not Elasticsearch (no X-Elastic-Product header)")
        number = str(info.get("version", {}).get("number", "?"))
        if not number.split(".")[0].isdigit() or int(number.split(".")[0]) != SUPPORTED_MAJOR:
            raise CapabilityError(
                f"Elasticsearch at {self.url} is version {number}; ShellWatch needs {SUPPORTED_MAJOR}.x"
                " (the docker-compose image)"
            )

    def _ensure_indices(self) -> None:
        settings = INDEX_SETTINGS
        with self._errors():
            self.es.indices.put_index_template(
                name=f"{self.prefix}-articles",
                index_patterns=[f"{self.prefix}-articles-*"],
                template={
                    "settings": settings,
                    "mappings": {
                        "dynamic": "strict",
                        "_meta": {"schema_version": SCHEMA_VERSION},
                        "properties": ARTICLE_PROPERTIES,
                    },
                },
                priority=100,
                version=SCHEMA_VERSION,
            )
            if not self.es.indices.exists_alias(name=self.read_alias):
                # A fixed name: processes starting together race to create the same index, and all
                # but one get resource_already_exists (two timestamped indices behind the aliases
                # would leave no write index, failing every write).
                self._create(f"{self.prefix}-articles-{FIRST_INDEX_SUFFIX}", aliases=self._article_aliases())
            plain = {
                self.incidents_index: INCIDENT_PROPERTIES,
                self.alerts_index: {
                    "subscription_id": {"type": "keyword"},
                    "seq": {"type": "long"},
                    "attempt": {"type": "keyword"},
                    "payload": UNINDEXED,
                },
                self.deliveries_index: {
                    "subscription_id": {"type": "keyword"},
                    "delivered": {"type": "boolean"},
                    "seq": {"type": "long"},
                    "payload": UNINDEXED,
                },
                self.locks_index: {
                    "key": {"type": "keyword"},
                    "acquired_at": {"type": "double"},
                    "owner": {"type": "keyword"},
                },
                self.dead_letters_index: {
                    "id": {"type": "keyword"},
                    "failed_at": {"type": "date"},
                    "payload": UNINDEXED,
                },
            }
            for index, properties in plain.items():
                if not self.es.indices.exists(index=index):
                    self._create(
                        index, settings=settings, mappings={"dynamic": "strict", "properties": properties}
                    )
                else:  # fields added since the index was made; a changed field fails loudly here
                    self.es.indices.put_mapping(index=index, properties=properties)
            # Behind an alias, so reindex() can rebuild it (an index made before that is a plain
            # index of the alias's name until the next reindex).
            if not self.es.indices.exists(index=self.subscriptions_index):
                self._create(
                    f"{self.subscriptions_index}-{FIRST_INDEX_SUFFIX}",
                    settings=settings,
                    mappings=_subscription_mappings(),
                    aliases={self.subscriptions_index: {}},
                )
            else:
                self.es.indices.put_mapping(
                    index=self.subscriptions_index, properties=SUBSCRIPTION_PROPERTIES
                )

    def _warn_if_schema_is_old(self) -> None:
        """Analysis settings of an open index cannot change: a new analyser or mapping reaches the
        live indices only through `reindex()`; until then, say so at every start."""
        with self._errors():
            mappings = self.es.indices.get_mapping(index=f"{self.read_alias},{self.subscriptions_index}")
        old = sorted(
            index
            for index, body in mappings.items()
            if body["mappings"].get("_meta", {}).get("schema_version", 1) < SCHEMA_VERSION
        )
        if old:
            log.warning(
                "event=reindex-needed indices=%s schema_version=%d: built by an older ShellWatch "
                "(analyser or mapping); run `shellwatch reindex`",
                ",".join(old),
                SCHEMA_VERSION,
            )

    def _create(self, index: str, **body: Any) -> None:
        try:
            self.es.indices.create(index=index, **body)
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":  # another process made it first
                raise

    def _new_articles_index(self) -> str:
        return f"{self.prefix}-articles-{time.time_ns()}"

    def _article_aliases(self) -> dict[str, dict[str, Any]]:
        return {self.read_alias: {}, self.write_alias: {"is_write_index": True}}

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Client errors as store errors: unreachable/overloaded → StoreUnavailable (retry); a
        request Elasticsearch refuses (4xx) → StoreRejected (permanent); a missing index →
        StoreError. A document-level 404 or 409 passes through for the caller to handle."""
        try:
            yield
        except SerializationError as exc:  # a TransportError, but no network problem
            raise StoreError(f"Elasticsearch at {self.url}: unreadable request or answer: {exc}") from exc
        except (TransportError, ConnectionError) as exc:
            raise StoreUnavailable(f"Elasticsearch at {self.url} is unreachable: {exc}") from exc
        except ApiError as exc:
            mapped = _store_error(exc, self.url)
            if mapped is exc:
                raise
            raise mapped from exc

    def _get(self, index: str, doc_id: str, **params: Any) -> dict[str, Any] | None:
        """The document, or None when there is none; a missing index is a StoreError."""
        with self._errors():
            try:
                return self.es.get(index=index, id=doc_id, **params)
            except NotFoundError as exc:
                if _no_such_document(exc):
                    return None
                raise

    def _delete(self, index: str, doc_id: str, **params: Any) -> None:
        """Delete a document, tolerating one that is already gone; a missing index is a StoreError."""
        with self._errors():
            try:
                self.es.delete(index=index, id=doc_id, refresh=True, **params)
            except NotFoundError as exc:
                if not _no_such_document(exc):
                    raise

    # Articles -----------------------------------------------------------------------------------
    def upsert_article(self, article: AnalysedArticle) -> bool:
        document = self._article_doc(article)
        with self._errors():
            response = self.es.index(index=self.write_alias, id=article.id, document=document, refresh=True)
        return response["result"] == "created"

    def upsert_articles(self, articles: list[AnalysedArticle]) -> BulkResult:
        result = BulkResult()
        actions = []
        for article in articles:
            try:
                actions.append(
                    {"_index": self.write_alias, "_id": article.id, "_source": self._article_doc(article)}
                )
            except Exception as exc:  # one bad document must not fail the batch
                result.failures[article.id] = f"{type(exc).__name__}: {exc}"
        self._bulk(actions, result)
        return result

    def _bulk(
        self,
        actions: list[dict[str, Any]],
        result: BulkResult,
        index: str | None = None,
        written: dict[str, tuple[int, int]] | None = None,
        conflicts: set[str] | None = None,
    ) -> None:
        """Run the actions; `written` collects each written document's (seq_no, primary term),
        `conflicts` the ids of conditional writes that lost (409), which are then not failures."""
        if not actions:
            return
        with self._errors():
            # raise_on_exception: a request-level error (cluster down, overloaded, 413) reaches
            # _errors() as StoreUnavailable/StoreError instead of passing as per-document failures;
            # max_retries: documents rejected with 429 (a full write queue) are sent again.
            for ok, item in helpers.streaming_bulk(
                self.es,
                actions,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=BULK_RETRIES,
                initial_backoff=BULK_BACKOFF_SECONDS,
                max_backoff=BULK_MAX_BACKOFF_SECONDS,
                chunk_size=500,
            ):
                ((_, outcome),) = item.items()
                doc_id = str(outcome.get("_id"))
                if ok:
                    result.indexed += 1
                    result.new += outcome.get("result") == "created"
                    if written is not None:
                        written[doc_id] = (outcome["_seq_no"], outcome["_primary_term"])
                elif conflicts is not None and outcome.get("status") == 409:
                    conflicts.add(doc_id)
                else:
                    result.failures[doc_id] = str(outcome.get("error"))
            self.es.indices.refresh(index=index or self.write_alias)

    def get_article(self, article_id: str) -> AnalysedArticle | None:
        found = self._get(self.read_alias, article_id, source_includes=["payload"])
        if found is None:
            return None
        return self._with_incidents([_load_article(found["_source"]["payload"])])[0]

    def iter_articles(self, since: datetime | None = None) -> Iterator[AnalysedArticle]:
        query = {"range": {"published_at": {"gte": _iso(since)}}} if since else {"match_all": {}}
        for page in self._pages(
            self.read_alias, query, [{"published_at": "asc"}, {"id": "asc"}], ["payload"]
        ):
            yield from self._with_incidents([_load_article(h["_source"]["payload"]) for h in page])

    def count_articles(self) -> int:
        with self._errors():
            return int(self.es.count(index=self.read_alias)["count"])

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
        """One nested claim carries both the stance and the subject (or has no subject at all, for a
        name the knowledge base does not know, whose phrase the text must then contain)."""
        stance_values = [Stance(s).value for s in stances]
        if not stance_values or (subject is None and not fold(name).strip()):
            return []
        claim = [{"terms": {"claims.stance": stance_values}}]
        must: list[dict[str, Any]] = []
        if subject is not None:
            claim.append({"terms": {"claims.subject": entity_family(self.kb, subject)}})
        else:
            claim.append({"bool": {"must_not": [{"exists": {"field": "claims.subject"}}]}})
            must.append({"multi_match": {"query": fold(name), "fields": TEXT_FIELDS, "type": "phrase"}})
        query = {
            "bool": {
                "must": must,
                "filter": [
                    {"range": {"published_at": {"gte": _iso(since), "lt": _iso(until)}}},
                    {"nested": {"path": "claims", "query": {"bool": {"filter": claim}}}},
                ],
                "must_not": [{"ids": {"values": list(exclude_ids)}}] if exclude_ids else [],
            }
        }
        with self._errors():
            response = self.es.search(
                index=self.read_alias,
                query=query,
                sort=[{"published_at": "asc"}, {"id": "asc"}],
                size=limit,
                source_includes=["payload"],
            )
        return self._with_incidents(
            [_load_article(h["_source"]["payload"]) for h in response["hits"]["hits"]]
        )

    def _with_incidents(self, articles: list[AnalysedArticle]) -> list[AnalysedArticle]:
        if not articles:
            return articles
        ids = [a.id for a in articles]
        links: dict[str, list[str]] = {}
        query = {"terms": {"article_ids": ids}}
        for page in self._pages(self.incidents_index, query, [{"id": "asc"}], ["id", "article_ids"]):
            for hit in page:
                for article_id in set(hit["_source"]["article_ids"]) & set(ids):
                    links.setdefault(article_id, []).append(hit["_source"]["id"])
        return [a.model_copy(update={"incident_ids": sorted(links.get(a.id, []))}) for a in articles]

    def _article_doc(self, analysed: AnalysedArticle) -> dict[str, Any]:
        article = analysed.article
        when = _iso(article.published_at or article.fetched_at)
        entity_ids = document_entity_ids(self.kb, analysed)
        names = [m.name for m in analysed.analysis.entities] + entity_names(self.kb, entity_ids)
        return {
            "id": article.id,
            "published_at": when,
            "indexed_at": _iso(datetime.now(UTC)),
            "language": article.language.value,
            "source": article.source,
            "title": fold(article.title),
            "body": fold(article.text),
            "entity_names": fold(" ; ".join(dict.fromkeys(names))),
            "entities": entity_ids,
            "claims": [
                {
                    "type": c.type.value,
                    "stance": c.stance.value,
                    "depth": c.depth if c.depth is not None else c.type.depth,
                    "subject": c.subject,
                    "confidence": c.confidence,
                    "published_at": when,
                }
                for c in analysed.analysis.claims
            ],
            "claim_types": sorted({c.type.value for c in analysed.analysis.claims}),
            "claim_stances": sorted({c.stance.value for c in analysed.analysis.claims}),
            "claim_depths": sorted({d for c in analysed.analysis.claims if (d := c.depth or c.type.depth)}),
            "payload": to_json(analysed),
        }

    # Incidents ----------------------------------------------------------------------------------
    def upsert_incident(self, incident: Incident) -> None:
        document = {
            "id": incident.id,
            "subject": incident.subject,
            "subject_org": org_of(self.kb, incident.subject) if incident.subject else None,
            "started_at": _iso(incident.started_at),
            "updated_at": _iso(incident.updated_at),
            "article_ids": incident.article_ids,
            "payload": to_json(incident),
        }
        with self._errors():
            self.es.index(index=self.incidents_index, id=incident.id, document=document, refresh=True)

    def get_incident(self, incident_id: str) -> IncidentDetail | None:
        found = self._get(self.incidents_index, incident_id)
        if found is None:
            return None
        with self._errors():
            incident = from_json(Incident, found["_source"]["payload"])
            articles = []
            if incident.article_ids:
                docs = self.es.mget(
                    index=self.read_alias, ids=incident.article_ids, source_includes=["payload"]
                )
                articles = [_load_article(d["_source"]["payload"]) for d in docs["docs"] if d.get("found")]
        articles.sort(key=lambda a: (a.article.published_at or a.article.fetched_at, a.id))
        return IncidentDetail(incident=incident, articles=self._with_incidents(articles))

    def list_incidents(
        self, subject: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[Incident]:
        """Incidents overlapping [since, until): started before `until`, updated at or after `since`."""
        filters: list[dict[str, Any]] = []
        if subject:
            filters.append(self._subject_filter(subject))
        if since:
            filters.append({"range": {"updated_at": {"gte": _iso(since)}}})
        if until:
            filters.append({"range": {"started_at": {"lt": _iso(until)}}})
        return [from_json(Incident, d["payload"]) for d in self._incident_docs(filters)]

    def _subject_filter(self, subject: str) -> dict[str, Any]:
        entity_id = resolve_entity_id(self.kb, subject)
        family = entity_family(self.kb, entity_id)
        return {
            "bool": {
                "should": [{"terms": {"subject": family}}, {"term": {"subject_org": entity_id}}],
                "minimum_should_match": 1,
            }
        }

    def _incident_docs(self, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        query = {"bool": {"filter": filters}}
        sort = [{"started_at": "asc"}, {"id": "asc"}]
        return [h["_source"] for page in self._pages(self.incidents_index, query, sort) for h in page]

    def delete_incident(self, incident_id: str) -> None:
        self._delete(self.incidents_index, incident_id)

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
        parsed = parse_query(query)
        compiled = _Compiler(self.kb).compile(parsed)
        ranked = parsed.has_text()
        sort = ["_score", {"published_at": "desc"}] if ranked else [{"published_at": "desc"}, {"id": "desc"}]
        with self._errors(), _query_limits():
            response = self.es.search(
                index=self.read_alias,
                query=compiled,
                from_=offset,
                size=limit,
                sort=sort,
                track_total_hits=track_total_hits,
                source_includes=["payload"],
                aggs=FACET_AGGS if facets else None,
                track_scores=ranked,
            )
        hits = response["hits"]["hits"]
        articles = self._with_incidents([_load_article(h["_source"]["payload"]) for h in hits])
        terms = parsed.positive_text()
        total = response["hits"]["total"]
        return SearchResult(
            query=query,
            total=total["value"],
            total_relation=total.get("relation", "eq"),
            hits=[
                SearchHit(
                    article=article,
                    score=round(float(hit.get("_score") or 0.0), 4) if ranked else 0.0,
                    highlights=self._highlighter.highlights(
                        article.article.title, article.article.text, terms
                    ),
                )
                for article, hit in zip(articles, hits, strict=True)
            ],
            facets=self._facets(response.get("aggregations", {})) if facets else {},
        )

    def _facets(self, aggs: dict[str, Any]) -> dict[str, list[FacetCount]]:
        def terms(name: str) -> list[tuple[str, int]]:
            pairs = [(str(b["key"]), b["doc_count"]) for b in aggs[name]["buckets"]]
            return sorted(pairs, key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE]

        facets = {
            "entity": terms("entity"),
            "type": terms("type"),
            "depth": terms("depth"),
            "stance": terms("stance"),
            "lang": terms("lang"),
            "source": terms("source"),
            "month": [
                (b["key_as_string"], b["doc_count"]) for b in aggs["month"]["buckets"] if b["doc_count"]
            ],
        }
        return {
            name: [
                FacetCount(
                    value=value, count=count, label=entity_label(self.kb, value) if name == "entity" else None
                )
                for value, count in pairs
            ]
            for name, pairs in facets.items()
        }

    def timeline(self, query: str = "", *, entity: str | None = None, interval: str = "month") -> Timeline:
        if interval not in BUCKETS:
            raise QueryError(f"unknown interval '{interval}' (one of {', '.join(BUCKETS)})")
        compiled = _Compiler(self.kb).compile(parse_query(query))
        docs = self._incident_docs([self._subject_filter(entity)] if entity else [])
        article_ids = sorted({a for d in docs for a in d["article_ids"]})
        if not article_ids:
            return Timeline(incidents=[], histogram=[], interval=interval)
        if len(article_ids) > MAX_TERMS:
            raise CapabilityError(f"a timeline over {len(article_ids)} articles is too large; narrow it down")
        with self._errors(), _query_limits():
            response = self.es.search(
                index=self.read_alias,
                size=0,
                query={"bool": {"must": [compiled], "filter": [{"terms": {"id": article_ids}}]}},
                aggs={
                    "histogram": {
                        "date_histogram": {
                            "field": "published_at",
                            "calendar_interval": interval,
                            "min_doc_count": 1,
                            "format": "yyyy-MM-dd",
                        }
                    },
                    "ids": {"terms": {"field": "id", "size": len(article_ids)}},
                },
            )
        matched = {b["key"] for b in response["aggregations"]["ids"]["buckets"]}
        incidents = [from_json(Incident, d["payload"]) for d in docs if matched & set(d["article_ids"])]
        histogram = [
            HistogramBucket(date=date.fromisoformat(b["key_as_string"]), count=b["doc_count"])
            for b in response["aggregations"]["histogram"]["buckets"]
            if b["doc_count"]
        ]
        return Timeline(incidents=incidents, histogram=histogram, interval=interval)

    def month_aggregates(self, start: date, end: date) -> MonthAggregates:
        period = {"range": {"published_at": {"gte": start.isoformat(), "lt": end.isoformat()}}}
        with self._errors():
            response = self.es.search(
                index=self.read_alias,
                size=0,
                query=period,
                track_total_hits=True,
                aggs={
                    "lang": {"terms": {"field": "language", "size": 10}},
                    "source": {"terms": {"field": "source", "size": 1000}},
                },
            )
        claim_rows: list[tuple] = []
        article_ids: list[str] = []
        for page in self._pages(
            self.read_alias, period, [{"published_at": "asc"}, {"id": "asc"}], ["id", "claims"]
        ):
            for hit in page:
                article_ids.append(hit["_source"]["id"])
                claim_rows += [
                    (c["type"], c["stance"], c.get("subject"), c["published_at"][:10])
                    for c in hit["_source"].get("claims", [])
                ]
        new_ids = [
            d["id"]
            for d in self._incident_docs(
                [{"range": {"started_at": {"gte": start.isoformat(), "lt": end.isoformat()}}}]
            )
        ]
        ongoing_ids = (
            [
                d["id"]
                for d in self._incident_docs(
                    [
                        {"range": {"started_at": {"lt": start.isoformat()}}},
                        {"terms": {"article_ids": article_ids[:MAX_TERMS]}},
                    ]
                )
            ]
            if article_ids
            else []
        )
        aggs = response["aggregations"]

        def counts(name: str) -> dict[str, int]:
            pairs = sorted(
                ((b["key"], b["doc_count"]) for b in aggs[name]["buckets"]), key=lambda kv: (-kv[1], kv[0])
            )
            return dict(pairs)

        return aggregate(
            start,
            end,
            response["hits"]["total"]["value"],
            counts("lang"),
            counts("source"),
            claim_rows,
            new_ids,
            ongoing_ids,
        )

    # Subscriptions and alerts ---------------------------------------------------------------------
    def save_subscription(self, subscription: Subscription) -> None:
        document = self._subscription_doc(subscription)
        with self._errors():
            self.es.index(index=self.subscriptions_index, id=subscription.id, document=document, refresh=True)

    def _subscription_doc(self, subscription: Subscription) -> dict[str, Any]:
        has_query = bool(subscription.query and subscription.query.strip())
        compiled = _Compiler(self.kb).compile(parse_query(subscription.query or ""))
        return {
            "subscription_id": subscription.id,
            "query": compiled if has_query else {"match_all": {}},
            "payload": to_json(subscription),
        }

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        found = self._get(self.subscriptions_index, subscription_id, source_includes=["payload"])
        if found is None:
            return None
        return from_json(Subscription, found["_source"]["payload"])

    def list_subscriptions(self) -> list[Subscription]:
        pages = self._pages(
            self.subscriptions_index, {"match_all": {}}, [{"subscription_id": "asc"}], ["payload"]
        )
        found = [from_json(Subscription, h["_source"]["payload"]) for page in pages for h in page]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    def delete_subscription(self, subscription_id: str) -> None:
        self._delete(self.subscriptions_index, subscription_id)

    def match_subscriptions(self, article: AnalysedArticle) -> list[Subscription]:
        candidates = [s for s in self.list_subscriptions() if passing_claims(s, article, self.kb)]
        if not candidates:
            return []
        document = self._article_doc(article)
        del document["payload"]
        with self._errors():
            response = self.es.search(
                index=self.subscriptions_index,
                size=len(candidates),
                source_includes=["subscription_id"],
                query={
                    "bool": {
                        "filter": [
                            {"percolate": {"field": "query", "document": document}},
                            {"ids": {"values": [s.id for s in candidates]}},
                        ]
                    }
                },
            )
        matched = {h["_source"]["subscription_id"] for h in response["hits"]["hits"]}
        return [s for s in candidates if s.id in matched]

    def record_alert(self, alert: Alert) -> bool:
        attempt = uuid.uuid4().hex
        document = {
            "subscription_id": alert.subscription_id,
            "seq": time.time_ns(),
            "attempt": attempt,
            "payload": to_json(alert),
        }
        with self._errors():
            try:
                self.es.create(index=self.alerts_index, id=alert.id, document=document, refresh=True)
            except ConflictError:
                return self._written_by(self.alerts_index, alert.id, "attempt", attempt)
        return True

    def _written_by(self, index: str, doc_id: str, field: str, token: str) -> bool:
        """Whether the document holds our token: the client retries a `create` that timed out
        (retry_on_timeout), and when the first try had landed, the retry conflicts with our own write."""
        found = self._get(index, doc_id, source_includes=[field])
        return found is not None and found["_source"].get(field) == token

    def list_alerts(self, subscription_id: str | None = None, limit: int = 100) -> list[Alert]:
        query = {"term": {"subscription_id": subscription_id}} if subscription_id else {"match_all": {}}
        with self._errors():
            response = self.es.search(
                index=self.alerts_index, query=query, size=limit, sort=[{"seq": "desc"}]
            )
        return [from_json(Alert, h["_source"]["payload"]) for h in response["hits"]["hits"]]

    def record_delivery(self, delivery: DeliveredAlert) -> None:
        document = {
            "subscription_id": delivery.alert.subscription_id,
            "delivered": delivery.delivered_at is not None,
            "seq": time.time_ns(),
            "payload": to_json(delivery),
        }
        with self._errors():
            self.es.index(
                index=self.deliveries_index,
                id=stable_id("delivery", delivery.alert.id, delivery.channel),
                document=document,
                refresh=True,
            )

    def list_deliveries(
        self, subscription_id: str | None = None, pending_only: bool = False
    ) -> list[DeliveredAlert]:
        filters: list[dict[str, Any]] = []
        if subscription_id:
            filters.append({"term": {"subscription_id": subscription_id}})
        if pending_only:
            filters.append({"term": {"delivered": False}})
        pages = self._pages(
            self.deliveries_index, {"bool": {"filter": filters}}, [{"seq": "desc"}], ["payload"]
        )
        return [from_json(DeliveredAlert, h["_source"]["payload"]) for page in pages for h in page]

    # Dead letters -------------------------------------------------------------------------------
    def add_dead_letter(self, letter: DeadLetter) -> None:
        document = {"id": letter.id, "failed_at": _iso(letter.failed_at), "payload": to_json(letter)}
        with self._errors():
            self.es.index(index=self.dead_letters_index, id=letter.id, document=document, refresh=True)

    def list_dead_letters(self) -> list[DeadLetter]:
        pages = self._pages(
            self.dead_letters_index, {"match_all": {}}, [{"failed_at": "desc"}, {"id": "asc"}], ["payload"]
        )
        return [from_json(DeadLetter, h["_source"]["payload"]) for page in pages for h in page]

    def delete_dead_letter(self, letter_id: str) -> None:
        self._delete(self.dead_letters_index, letter_id)

    # Coordination -------------------------------------------------------------------------------
    @contextmanager
    def incident_lock(self, key: str) -> Iterator[None]:
        """A lock document created with op_type=create (only one creator wins) in `<prefix>-locks`,
        carrying a random owner token. A lock older than LOCK_STALE_SECONDS belongs to a dead worker
        and is broken. Breaking and releasing are deletes conditional on the lock's seq_no and
        primary term, so they can only remove the very lock that was read or taken: never one that
        another worker has taken since."""
        lock_id = stable_id("lock", key)
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + self.lock_timeout
        while (held := self._try_lock(lock_id, key, owner)) is None:
            if time.monotonic() >= deadline:
                raise StoreUnavailable(
                    f"incident lock {key!r} held elsewhere for more than {self.lock_timeout:g}s"
                )
            time.sleep(0.05)
        try:
            yield
        finally:
            with self._errors():
                self._delete_lock(lock_id, held)

    def _try_lock(self, lock_id: str, key: str, owner: str) -> tuple[int, int] | None:
        """The (seq_no, primary term) of the lock if we now hold it, else None."""
        with self._errors():
            try:
                created = self.es.create(
                    index=self.locks_index,
                    id=lock_id,
                    refresh=True,
                    document={"key": key, "acquired_at": time.time(), "owner": owner},
                )
                return created["_seq_no"], created["_primary_term"]
            except ConflictError:
                pass
            found = self._get(self.locks_index, lock_id)
            if found is None:
                return None  # released meanwhile
            held = found["_seq_no"], found["_primary_term"]
            if found["_source"].get("owner") == owner:  # our create, retried after a timeout
                return held
            if time.time() - found["_source"]["acquired_at"] > LOCK_STALE_SECONDS:
                log.warning("event=stale-lock-broken key=%s", key)
                self._delete_lock(lock_id, held)
        return None

    def _delete_lock(self, lock_id: str, held: tuple[int, int]) -> None:
        with suppress(ConflictError):  # no longer the lock we read: not ours to delete
            self._delete(self.locks_index, lock_id, if_seq_no=held[0], if_primary_term=held[1])

    # Reindex ------------------------------------------------------------------------------------
    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Build a fresh articles index from the stored payloads and swap both aliases to it in one
        call, then catch up with what was written to the old index meanwhile. A failure before the
        swap deletes the new index and leaves the old one serving; the old index is deleted only
        once the catch-up has copied everything."""
        with self._errors():
            old = sorted(self.es.indices.get_alias(name=self.read_alias))
        new = self._new_articles_index()
        started = datetime.now(UTC)
        result = BulkResult()
        written: dict[str, tuple[int, int]] = {}
        with self._errors():
            self._create(new)
        try:
            self._copy(old, {"match_all": {}}, new, result, progress, written)
            if result.failures:
                raise StoreError(
                    f"reindex failed for {len(result.failures)} articles, e.g. "
                    f"{next(iter(result.failures.items()))}; the old index keeps serving"
                )
            # must_exist: a concurrent reindex that swapped first makes this one fail, rather
            # than leave two indices behind the aliases.
            actions = [
                {"remove": {"index": index, "alias": alias, "must_exist": True}}
                for index in old
                for alias in (self.read_alias, self.write_alias)
            ]
            actions += [{"add": {"index": new, "alias": a, **o}} for a, o in self._article_aliases().items()]
            with self._errors():
                try:
                    self.es.indices.update_aliases(actions=actions)
                except NotFoundError as exc:
                    raise StoreError(
                        f"the articles aliases left {','.join(old)} during the rebuild (another "
                        f"reindex?); {new} is dropped: {exc}"
                    ) from exc
        except BaseException:
            with self._errors():
                self.es.indices.delete(index=new, ignore_unavailable=True)
            raise
        since = _iso(started - timedelta(seconds=CLOCK_SKEW_SECONDS))
        caught_up = self._catch_up(
            ",".join(old),
            {"range": {"indexed_at": {"gte": since}}},
            [{"id": "asc"}],
            new,
            written,
            lambda hit: self._article_doc(_load_article(hit["_source"]["payload"])),
        )
        self._drop_replaced(old, new, caught_up, "articles")
        log.info("event=reindexed index=%s articles=%d replaced=%s", new, result.indexed, old)
        try:
            self._reindex_subscriptions()
        except StoreError as exc:
            raise StoreError(
                f"articles were reindexed into {new}, but the subscriptions were not (run reindex "
                f"again): {exc}"
            ) from exc
        return result.indexed + caught_up.new

    def _reindex_subscriptions(self) -> None:
        """Rebuild the percolator index with every stored query compiled again: percolation
        analyses each article with this index's own analyser and mapping, which only a new index
        can change. Subscriptions are few, so instead of catching up afterwards the old index is
        write-blocked for the moment the copy takes (a save meanwhile is StoreUnavailable: retry).
        A failure before the swap unblocks it and leaves it serving."""
        alias = self.subscriptions_index
        with self._errors():
            old = sorted(self.es.indices.get(index=alias))
        new = f"{alias}-{time.time_ns()}"
        result = BulkResult()
        with self._errors():
            self._create(new, settings=INDEX_SETTINGS, mappings=_subscription_mappings())
        try:
            with self._errors():
                self.es.indices.put_settings(index=",".join(old), settings={"index.blocks.write": True})
            for page in self._pages(
                ",".join(old), {"match_all": {}}, [{"subscription_id": "asc"}], ["payload"]
            ):
                actions = []
                for hit in page:
                    try:
                        document = self._subscription_doc(from_json(Subscription, hit["_source"]["payload"]))
                    except Exception as exc:  # e.g. a stored query the parser no longer takes
                        result.failures[hit["_id"]] = f"{type(exc).__name__}: {exc}"
                        continue
                    actions.append({"_index": new, "_id": hit["_id"], "_source": document})
                self._bulk(actions, result, index=new)
            if result.failures:
                raise StoreError(
                    f"rebuilding subscriptions failed for {len(result.failures)}, e.g. "
                    f"{next(iter(result.failures.items()))}; the old index keeps serving"
                )
            if old == [alias]:  # the plain index made before subscriptions had an alias
                actions = [{"remove_index": {"index": alias}}]
            else:
                actions = [{"remove": {"index": index, "alias": alias, "must_exist": True}} for index in old]
            actions.append({"add": {"index": new, "alias": alias}})
            with self._errors():
                try:
                    self.es.indices.update_aliases(actions=actions)
                except NotFoundError as exc:
                    raise StoreError(f"{alias} moved during the rebuild (another reindex?): {exc}") from exc
        except BaseException:
            with self._errors():
                self.es.indices.delete(index=new, ignore_unavailable=True)
                self.es.indices.put_settings(
                    index=",".join(old), settings={"index.blocks.write": None}, ignore_unavailable=True
                )
            raise
        if old != [alias]:
            with self._errors():
                self.es.indices.delete(index=",".join(old), ignore_unavailable=True)
        log.info("event=reindexed index=%s subscriptions=%d replaced=%s", new, result.indexed, old)

    def _copy(
        self,
        sources: list[str],
        query: dict[str, Any],
        target: str,
        result: BulkResult,
        progress: Callable[[int], None] | None,
        written: dict[str, tuple[int, int]],
    ) -> None:
        for page in self._pages(",".join(sources), query, [{"id": "asc"}], ["payload"]):
            actions = []
            for hit in page:
                article = _load_article(hit["_source"]["payload"])
                actions.append({"_index": target, "_id": article.id, "_source": self._article_doc(article)})
            self._bulk(actions, result, index=target, written=written)
            if progress:
                progress(result.indexed)

    def _catch_up(
        self,
        sources: str,
        query: dict[str, Any],
        sort: list[Any],
        target: str,
        written: dict[str, tuple[int, int]],
        document: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> BulkResult:
        """After the swap, copy from `sources` (the old indices) what the first copy missed: writes
        that landed there while it ran. Each target document is replaced only if it is still the
        copy written by this rebuild (same seq_no and primary term) and created only if this rebuild
        never wrote it: anything else is a live write made through the swapped alias, which is
        newer and must not be overwritten by a stale copy."""
        result = BulkResult()
        newer: set[str] = set()
        for page in self._pages(sources, query, sort, ["payload"]):
            documents = {hit["_id"]: document(hit) for hit in page}
            with self._errors():
                current = self.es.mget(index=target, ids=list(documents), source=False)["docs"]
            actions = []
            for found in current:
                doc_id = found["_id"]
                action = {"_index": target, "_id": doc_id, "_source": documents[doc_id]}
                if not found.get("found"):
                    if doc_id not in written:
                        actions.append({**action, "_op_type": "create"})
                elif written.get(doc_id) == (found["_seq_no"], found["_primary_term"]):
                    actions.append(
                        {**action, "if_seq_no": found["_seq_no"], "if_primary_term": found["_primary_term"]}
                    )
            self._bulk(actions, result, index=target, conflicts=newer)
        log.info(
            "event=reindex-caught-up index=%s copied=%d kept_newer=%d", target, result.indexed, len(newer)
        )
        return result

    def _drop_replaced(self, old: list[str], new: str, caught_up: BulkResult, what: str) -> None:
        """Delete the replaced indices, unless the catch-up failed: then they are the only copy of
        some documents, and are kept (outside the aliases) for the operator."""
        if caught_up.failures:
            log.error(
                "event=reindex-catch-up-failed what=%s index=%s kept=%s failures=%s",
                what,
                new,
                ",".join(old),
                caught_up.failures,
            )
            raise StoreError(
                f"reindex swapped {what} to {new}, but {len(caught_up.failures)} documents written "
                f"during the rebuild could not be copied, e.g. {next(iter(caught_up.failures.items()))}; "
                f"the replaced index {','.join(old)} is kept: copy them from it before deleting it"
            )
        with self._errors():
            self.es.indices.delete(index=",".join(old), ignore_unavailable=True)

    def drop_everything(self) -> None:
        """Delete every index and the template under this prefix (tests, `make clean`)."""
        with self._errors():
            # By name: Elasticsearch refuses wildcard deletes (action.destructive_requires_name).
            names = sorted(self.es.indices.get(index=f"{self.prefix}-*", expand_wildcards="all"))
            if names:
                self.es.indices.delete(index=",".join(names), ignore_unavailable=True)
            with suppress(NotFoundError):
                self.es.indices.delete_index_template(name=f"{self.prefix}-articles")

    # Paging -------------------------------------------------------------------------------------
    def _pages(
        self, index: str, query: dict[str, Any], sort: list[Any], source: list[str] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every hit, PAGE at a time, with search_after on a total sort order."""
        after: list[Any] | None = None
        while True:
            with self._errors():
                response = self.es.search(
                    index=index, query=query, sort=sort, size=PAGE, search_after=after, source_includes=source
                )
            hits = response["hits"]["hits"]
            if hits:
                yield hits
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]


FACET_AGGS: dict[str, Any] = {
    "entity": {"terms": {"field": "entities", "size": FACET_SIZE}},
    "lang": {"terms": {"field": "language", "size": FACET_SIZE}},
    "source": {"terms": {"field": "source", "size": FACET_SIZE}},
    "month": {
        "date_histogram": {
            "field": "published_at",
            "calendar_interval": "month",
            "format": "yyyy-MM",
            "min_doc_count": 1,
        }
    },
    "type": {"terms": {"field": "claim_types", "size": FACET_SIZE}},
    "stance": {"terms": {"field": "claim_stances", "size": FACET_SIZE}},
    "depth": {"terms": {"field": "claim_depths", "size": FACET_SIZE}},
}


class _Compiler:
    """The parsed query as Elasticsearch query DSL; sibling claim filters constrain one nested claim."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb

    def compile(self, query: Query) -> dict[str, Any]:
        return {"match_all": {}} if query.root is None else self._node(query.root)

    def _node(self, node: Any) -> dict[str, Any]:
        if isinstance(node, Term | Phrase):
            kind = "phrase_prefix" if isinstance(node, Term) and node.prefix else "phrase"
            return {"multi_match": {"query": fold(node.text), "fields": TEXT_FIELDS, "type": kind}}
        if isinstance(node, And):
            claim_filters = [c for c in node.children if isinstance(c, Filter) and c.name in CLAIM_FILTERS]
            must = [self._node(c) for c in node.children if c not in claim_filters]
            if claim_filters:
                must.append(self._claims(claim_filters))
            return {"bool": {"must": must}}
        if isinstance(node, Or):
            return {"bool": {"should": [self._node(c) for c in node.children], "minimum_should_match": 1}}
        if isinstance(node, Not):
            return {"bool": {"must_not": [self._node(node.child)]}}
        return self._filter(node)

    def _filter(self, node: Filter) -> dict[str, Any]:
        if node.name in CLAIM_FILTERS:
            return self._claims([node])
        if node.name == "entity":
            return {
                "terms": {"entities": entity_family(self.kb, resolve_entity_id(self.kb, str(node.value)))}
            }
        if node.name == "lang":
            return {"term": {"language": str(node.value)}}
        if node.name == "source":
            return {"term": {"source.lower": str(node.value).lower()}}
        assert isinstance(node.value, datetime)
        bound = "gte" if node.name == "from" else "lt"
        return {"range": {"published_at": {bound: _iso(node.value)}}}

    def _claims(self, filters: list[Filter]) -> dict[str, Any]:
        conditions = []
        for node in filters:
            if node.name == "depth":
                assert isinstance(node.value, DepthRange)
                conditions.append(
                    {"range": {"claims.depth": {"gte": node.value.low, "lte": node.value.high}}}
                )
            else:
                conditions.append({"term": {f"claims.{node.name}": str(node.value)}})
        return {"nested": {"path": "claims", "query": {"bool": {"filter": conditions}}}}


@contextmanager
def _query_limits() -> Iterator[None]:
    """A user's query over Elasticsearch's clause limits (indices.query.bool.max_clause_count, e.g.
    a prefix that expands to too many terms) is a QueryError, answered as such, not a store error."""
    try:
        yield
    except BadRequestError as exc:
        for cause in _causes(exc.body.get("error") if isinstance(exc.body, dict) else None):
            kind, reason = str(cause.get("type", "")), str(cause.get("reason", ""))
            if kind.startswith("too_many") or "maxClauseCount" in reason:
                raise QueryError(f"the query is too broad for the search engine: {reason}") from exc
        raise


def _causes(error: Any) -> Iterator[dict[str, Any]]:
    """An Elasticsearch error and every error nested in it."""
    if not isinstance(error, dict):
        return
    yield error
    for cause in error.get("root_cause", []):
        yield from _causes(cause)
    for shard in error.get("failed_shards", []):
        yield from _causes(shard.get("reason"))
    yield from _causes(error.get("caused_by"))


def _store_error(exc: ApiError, url: str) -> Exception:
    """The store error for an Elasticsearch error answer (or the answer itself when the caller
    handles it: a document that does not exist, a write that lost a conflict)."""
    if exc.status_code in (408, 429, 502, 503, 504):
        return StoreUnavailable(f"Elasticsearch at {url} is unavailable: {exc}")
    if exc.error == "cluster_block_exception":  # read-only for now: a reindex, or a full disk
        return StoreUnavailable(f"Elasticsearch at {url} blocks writes for now: {exc}")
    if isinstance(exc, ConflictError):
        return exc
    if isinstance(exc, NotFoundError):
        if _no_such_document(exc):
            return exc
        return StoreError(
            f"Elasticsearch at {url} lacks an index or alias ({exc.error}): {exc}; a restart creates "
            "the indices (check ELASTICSEARCH_INDEX_PREFIX)"
        )
    if exc.status_code in (401, 403):  # configuration (credentials, privileges), not this request
        return CapabilityError(f"Elasticsearch at {url} does not let ShellWatch do this: {exc}")
    if 400 <= exc.status_code < 500:
        return StoreRejected(f"Elasticsearch refused the request ({exc.error}): {exc}")
    return StoreError(f"Elasticsearch failed: {exc}")


def _no_such_document(exc: NotFoundError) -> bool:
    """A 404 about the document ({"found": false}, {"result": "not_found"}), not about its index
    ({"error": {"type": "index_not_found_exception"}})."""
    return not (isinstance(exc.body, dict) and "error" in exc.body)


def _subscription_mappings() -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "_meta": {"schema_version": SCHEMA_VERSION},
        "properties": SUBSCRIPTION_PROPERTIES,
    }


def _iso(moment: datetime | None) -> str:
    assert moment is not None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat pads the year to 4 digits (strftime's %Y does not for years < 1000 on glibc), as
    # the strict_date_optional_time format of the date fields requires.
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _load_article(payload: str) -> AnalysedArticle:
    return from_json(AnalysedArticle, payload)
