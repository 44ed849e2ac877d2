"""What only the Elasticsearch backend has: the start-up probe, aliases and the reindex swap and
catch-up, schema migrations, exactly-once creates under client retries, the incident lock, bulk and
error handling.

Legs: the noida-db emulator always (see emulator.py: never proof of real Elasticsearch behaviour),
and a real Elasticsearch 9 when ELASTICSEARCH_URL is set (`-m elasticsearch`), skipped visibly
otherwise. What the emulator cannot show (percolation) runs on the real leg only, and says so. The
version probe, bulk rejections and an unavailable cluster run against small HTTP servers that
answer as Elasticsearch would."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import (
    ApiError,
    BadRequestError,
    ConflictError,
    Elasticsearch,
    NotFoundError,
    SerializationError,
)

from search.backends.base import (
    CapabilityError,
    QueryError,
    StoreError,
    StoreRejected,
    StoreUnavailable,
)
from search.backends.elasticsearch import ElasticsearchStore
from search.results import BulkResult
from shellwatch.domain import Alert, AnalysedArticle, ClaimType, Subscription, alert_id
from tests.search.conftest import make_article, make_claim
from tests.support.servers import free_port
from workers.reliability import FailureKind, classify


def test_unreachable_elasticsearch_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="unreachable"):
        ElasticsearchStore(f"http://127.0.0.1:{free_port()}", prefix="x")


class Elasticsearch8(BaseHTTPRequestHandler):
    """`GET /` as an Elasticsearch 8 server answers it: a 9.x client's compatibility header is
    refused before routing (elasticsearch-py issue #2923)."""

    def do_GET(self) -> None:
        if "compatible-with=9" in self.headers.get("Accept", ""):
            status, body = (
                400,
                {
                    "error": {
                        "type": "media_type_header_exception",
                        "reason": "Invalid media-type value on headers [Accept]",
                        "caused_by": {
                            "type": "status_exception",
                            "reason": "Accept version must be either version 8 or 7, but found 9.",
                        },
                    },
                    "status": 400,
                },
            )
        else:
            status, body = (
                200,
                {"name": "es8", "version": {"number": "8.19.7"}, "tagline": "You Know, for Search"},
            )
        answer_json(self, status, body)

    def log_message(self, *_: object) -> None:
        pass


def answer_json(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
    """Answer as Elasticsearch does: JSON with its product header (the client checks it)."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("X-Elastic-Product", "Elasticsearch")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def test_an_elasticsearch_8_server_is_a_capability_error() -> None:
    with (
        http_stub(Elasticsearch8) as url,
        pytest.raises(CapabilityError, match=r"version 8\.19\.7.*needs 9\.x"),
    ):
        ElasticsearchStore(url, prefix="x")


def test_wrong_major_version_is_a_capability_error(emulator_url: str) -> None:
    # The emulator answers as 8.15, exactly the mismatch the probe exists for.
    with pytest.raises(CapabilityError, match=r"version 8\.15.*needs 9\.x"):
        ElasticsearchStore(emulator_url, prefix="x")


class Cluster(NamedTuple):
    url: str
    store: type[ElasticsearchStore]


@pytest.fixture(params=["emulator", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def cluster(request: pytest.FixtureRequest) -> Cluster:
    """The noida-db emulator always; a real Elasticsearch 9 when ELASTICSEARCH_URL is set."""
    if request.param == "elasticsearch":
        url = os.environ.get("ELASTICSEARCH_URL")
        if not url:
            pytest.skip("ELASTICSEARCH_URL is not set (start one with `docker compose up elasticsearch`)")
        return Cluster(url, ElasticsearchStore)
    from tests.search.emulator import EmulatedElasticsearchStore

    return Cluster(request.getfixturevalue("emulator_url"), EmulatedElasticsearchStore)


@pytest.fixture
def es_store(cluster: Cluster, kb) -> Iterator[ElasticsearchStore]:
    store = cluster.store(cluster.url, prefix=f"test-{uuid.uuid4().hex[:10]}", kb=kb)
    try:
        yield store
    finally:
        store.drop_everything()
        store.close()


def test_reindex_swaps_both_aliases_to_a_new_index(es_store: ElasticsearchStore) -> None:
    es_store.upsert_articles(
        [make_article(f"零一萬物 story {i}", "text", url=f"https://x.example/{i}") for i in range(3)]
    )
    before = set(es_store.es.indices.get_alias(name=es_store.read_alias))
    assert set(es_store.es.indices.get_alias(name=es_store.write_alias)) == before
    assert es_store.reindex() == 3
    after = set(es_store.es.indices.get_alias(name=es_store.read_alias))
    assert after and after != before
    assert es_store.es.indices.get_alias(name=es_store.write_alias) == {
        index: {"aliases": {es_store.write_alias: {"is_write_index": True}}} for index in after
    }
    assert not es_store.es.indices.exists(index=",".join(before))
    assert es_store.search("零一万物").total == 3


def test_reopening_keeps_the_indices(es_store: ElasticsearchStore, kb) -> None:
    es_store.upsert_article(make_article("kept", "text"))
    with type(es_store)(es_store.url, prefix=es_store.prefix, kb=kb) as again:
        assert again.count_articles() == 1


def test_bulk_reports_documents_elasticsearch_rejects(es_store: ElasticsearchStore) -> None:
    good = make_article("good", "text")
    actions = [
        {"_index": es_store.write_alias, "_id": good.id, "_source": es_store._article_doc(good)},
        {
            "_index": es_store.write_alias,
            "_id": "bad",
            "_source": {"id": "bad", "published_at": "not a date"},
        },
    ]
    result = BulkResult()
    es_store._bulk(actions, result)
    assert result.indexed == 1 and list(result.failures) == ["bad"]
    assert es_store.count_articles() == 1


def test_processes_starting_together_share_one_articles_index(cluster: Cluster, kb) -> None:
    # Two processes that both saw "no alias" yet: each creates the first index. With a fixed name
    # the second create is a no-op; timestamped names left two indices and no write index.
    from search.backends.elasticsearch import get_es_client

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    stores = []
    try:
        for _ in range(2):
            client = get_es_client(cluster.url)
            client.indices.exists_alias = lambda **_: False  # type: ignore[method-assign]
            stores.append(cluster.store(cluster.url, prefix=prefix, kb=kb, client=client))
        first, second = stores
        aliases = first.es.indices.get_alias(name=f"{prefix}-articles*")
        assert list(aliases) == [f"{prefix}-articles-000001"]
        assert aliases[f"{prefix}-articles-000001"]["aliases"][first.write_alias] == {"is_write_index": True}
        article = make_article("written by the second process", "text")
        assert second.upsert_article(article)
        assert first.get_article(article.id) is not None
    finally:
        for store in stores[:1]:
            store.drop_everything()
        for store in stores:
            store.close()


def make_alert() -> Alert:
    claim = make_claim("yi-34b")
    return Alert(
        id=alert_id("s1", claim),
        subscription_id="s1",
        incident_id=None,
        article_id="a1",
        claim=claim,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _create_retried_after_timeout(store: ElasticsearchStore) -> None:
    """What the transport does with retry_on_timeout: the first `create` landed but its answer
    timed out, so the same request is sent again and answers 409."""
    create = store.es.create

    def twice(**kwargs):
        create(**kwargs)
        return create(**kwargs)

    store.es.create = twice  # type: ignore[method-assign]


def test_record_alert_survives_a_retried_create(es_store: ElasticsearchStore) -> None:
    alert = make_alert()
    _create_retried_after_timeout(es_store)
    assert es_store.record_alert(alert) is True
    assert es_store.record_alert(alert) is False
    assert [a.id for a in es_store.list_alerts()] == [alert.id]


def test_start_adds_new_fields_to_existing_indices(cluster: Cluster, kb) -> None:
    # An alerts index made by an earlier version (no `attempt` field, strict mapping) must take the
    # new field at start, or every record_alert fails with strict_dynamic_mapping_exception.
    from search.backends.elasticsearch import UNINDEXED, get_es_client

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    old = {"subscription_id": {"type": "keyword"}, "seq": {"type": "long"}, "payload": UNINDEXED}
    with get_es_client(cluster.url) as client:
        client.indices.create(index=f"{prefix}-alerts", mappings={"dynamic": "strict", "properties": old})
    with cluster.store(cluster.url, prefix=prefix, kb=kb) as store:
        try:
            assert store.record_alert(make_alert()) is True
        finally:
            store.drop_everything()


def test_reindex_brings_an_old_index_to_the_current_analyser(
    cluster: Cluster, kb, caplog: pytest.LogCaptureFixture
) -> None:
    # A cluster set up before possessive_english: the live index keeps its analyser (settings of
    # an open index cannot change), start-up says to reindex, and reindex() applies the new one.
    from search.backends.elasticsearch import ARTICLE_PROPERTIES, get_es_client

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    old_analysis = {
        "analyzer": {
            "shellwatch_text": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["cjk_width", "lowercase", "cjk_bigram", "porter_stem"],
            }
        },
        "normalizer": {"lower": {"type": "custom", "filter": ["lowercase"]}},
    }
    with get_es_client(cluster.url) as client:
        client.indices.create(
            index=f"{prefix}-articles-1",
            settings={"analysis": old_analysis},
            mappings={"dynamic": "strict", "properties": ARTICLE_PROPERTIES},
            aliases={f"{prefix}-articles": {}, f"{prefix}-articles-write": {}},
        )
    with cluster.store(cluster.url, prefix=prefix, kb=kb) as store:
        try:
            assert f"event=reindex-needed indices={prefix}-articles-1 " in caplog.text
            article = make_article("OpenAI's new model", "text")
            store.upsert_article(article)
            assert store.search("openai").total == 0
            assert store.reindex() == 1
            assert [a.id for a in (h.article for h in store.search("openai").hits)] == [article.id]
            caplog.clear()
            with cluster.store(cluster.url, prefix=prefix, kb=kb):
                assert "reindex-needed" not in caplog.text
        finally:
            store.drop_everything()


def unindexable(article: AnalysedArticle) -> dict:
    """A document the articles mapping refuses."""
    return {"id": article.id, "published_at": "not a date"}


def _during_reindex(store: ElasticsearchStore, after_swap: Callable[[], None]) -> None:
    """Run `after_swap` right after reindex() has moved the aliases, before its catch-up."""
    update_aliases = store.es.indices.update_aliases

    def then(**kwargs):
        response = update_aliases(**kwargs)
        after_swap()
        return response

    store.es.indices.update_aliases = then  # type: ignore[method-assign]


def test_reindex_catch_up_never_overwrites_a_newer_write(es_store: ElasticsearchStore) -> None:
    def version(n: int, url: str) -> AnalysedArticle:
        return make_article(f"version {n}", "text", url=url)

    updated_twice = version(1, "https://x.example/twice")
    updated_once = version(1, "https://x.example/once")
    es_store.upsert_articles([updated_twice, updated_once])
    born_during_copy = version(1, "https://x.example/born")

    def during_copy(_: int) -> None:  # the write alias still points at the old index
        es_store.upsert_articles(
            [version(2, "https://x.example/twice"), version(2, "https://x.example/once"), born_during_copy]
        )

    _during_reindex(es_store, lambda: es_store.upsert_article(version(3, "https://x.example/twice")))
    indexed = es_store.reindex(progress=during_copy)

    def title(article: AnalysedArticle) -> str:
        found = es_store.get_article(article.id)
        assert found is not None
        return found.article.title

    assert title(updated_twice) == "version 3"  # the live write after the swap, not the stale v2
    assert title(updated_once) == "version 2"
    assert title(born_during_copy) == "version 1"
    assert es_store.count_articles() == indexed == 3


def test_reindex_keeps_the_old_index_when_the_catch_up_fails(
    es_store: ElasticsearchStore,
) -> None:
    es_store.upsert_article(make_article("before", "text"))
    old = set(es_store.es.indices.get_alias(name=es_store.read_alias))
    written_during_copy = make_article("during the copy", "text")

    def unindexable_after_swap() -> None:  # the catch-up's copy of it is refused
        es_store._article_doc = unindexable  # type: ignore[method-assign]

    _during_reindex(es_store, unindexable_after_swap)
    with pytest.raises(StoreError, match=r"could not be copied.*is kept"):
        es_store.reindex(progress=lambda _: es_store.upsert_article(written_during_copy))
    assert es_store.es.indices.exists(index=",".join(old))
    assert es_store.es.get(index=",".join(old), id=written_during_copy.id)["found"]


def test_concurrent_reindexes_leave_one_index_behind_the_aliases(es_store: ElasticsearchStore, kb) -> None:
    es_store.upsert_article(make_article("kept", "text"))
    old = set(es_store.es.indices.get_alias(name=es_store.read_alias))
    with type(es_store)(es_store.url, prefix=es_store.prefix, kb=kb) as other:
        other._drop_replaced = lambda *_: None  # type: ignore[method-assign]  # still catching up
        swap = es_store.es.indices.update_aliases

        def other_swaps_first(**kwargs):
            other.reindex()
            return swap(**kwargs)

        es_store.es.indices.update_aliases = other_swaps_first  # type: ignore[method-assign]
        with pytest.raises(StoreError):
            es_store.reindex()
        serving = set(es_store.es.indices.get_alias(name=es_store.read_alias))
        assert len(serving) == 1
        assert set(es_store.es.indices.get_alias(name=es_store.write_alias)) == serving
        assert set(es_store.es.indices.get(index=f"{es_store.prefix}-articles-*")) == serving | old
        assert es_store.count_articles() == 1


@pytest.fixture
def second_worker(es_store: ElasticsearchStore, kb) -> Iterator[ElasticsearchStore]:
    """Another process on the same indices, with a short lock timeout."""
    with type(es_store)(es_store.url, prefix=es_store.prefix, kb=kb, lock_timeout=0.3) as store:
        yield store


def test_two_workers_breaking_one_stale_lock_do_not_both_hold_it(
    es_store: ElasticsearchStore, second_worker: ElasticsearchStore
) -> None:
    from search.backends.elasticsearch import stable_id

    lock_id = stable_id("lock", "yi-34b")
    es_store.es.create(
        index=es_store.locks_index,
        id=lock_id,
        refresh=True,
        document={"key": "yi-34b", "acquired_at": time.time() - 3600},  # a dead worker's
    )
    with ExitStack() as first_holds:
        get = second_worker.es.get
        first_took_it: list[bool] = []

        def first_breaks_it_meanwhile(**kwargs):
            stale = get(**kwargs)  # the second worker has read the stale lock...
            if not first_took_it:  # ...when the first one breaks it and takes it
                first_holds.enter_context(es_store.incident_lock("yi-34b"))
                first_took_it.append(True)
            return stale

        second_worker.es.get = first_breaks_it_meanwhile  # type: ignore[method-assign]
        with pytest.raises(StoreUnavailable), second_worker.incident_lock("yi-34b"):
            pass


def test_an_overrunning_holder_does_not_release_the_next_holders_lock(
    es_store: ElasticsearchStore, second_worker: ElasticsearchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import search.backends.elasticsearch as backend

    with es_store.incident_lock("yi-34b"):
        monkeypatch.setattr(backend, "LOCK_STALE_SECONDS", -1)  # the holder overran its lease
        took_over = second_worker.incident_lock("yi-34b")
        took_over.__enter__()
        monkeypatch.undo()
    try:  # the overrunning holder has released: the second worker must still hold the lock
        es_store.lock_timeout = 0.2
        with pytest.raises(StoreUnavailable), es_store.incident_lock("yi-34b"):
            pass
    finally:
        took_over.__exit__(None, None, None)
    with es_store.incident_lock("yi-34b"):
        pass


def test_incident_lock_survives_a_retried_create(es_store: ElasticsearchStore) -> None:
    es_store.lock_timeout = 0.3
    _create_retried_after_timeout(es_store)
    with es_store.incident_lock("yi-34b"):
        pass


class ScriptedBulk(BaseHTTPRequestHandler):
    """Answers `_bulk` from a script of HTTP statuses, one per request: 200 accepts every document,
    "429-items" rejects every document with 429 (a full write queue), other numbers fail the
    request; `_refresh` always succeeds."""

    script: list[int | str]
    requests: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        if not self.path.endswith("/_bulk"):
            return self._answer(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
        ids = [json.loads(line)["index"]["_id"] for line in body.splitlines()[::2]]
        self.requests.append(len(ids))
        step = self.script.pop(0) if self.script else 200
        if step == "429-items":
            error = {"type": "es_rejected_execution_exception", "reason": "queue full"}
            items = [{"index": {"_id": i, "status": 429, "error": error}} for i in ids]
            return self._answer(200, {"took": 1, "errors": True, "items": items})
        if step != 200:
            return self._answer(int(step), {"error": {"type": "unavailable", "reason": "x"}, "status": step})
        items = [
            {"index": {"_id": i, "status": 201, "result": "created", "_seq_no": 0, "_primary_term": 1}}
            for i in ids
        ]
        return self._answer(200, {"took": 1, "errors": False, "items": items})

    do_PUT = do_POST

    def _answer(self, status: int, body: dict) -> None:
        answer_json(self, status, body)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def http_stub(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free 127.0.0.1 port; yields the base URL; always stops."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def scripted_bulk(store: ElasticsearchStore, script: list[int | str]) -> Iterator[list[int]]:
    """Point the store's client at a ScriptedBulk server; yields the sizes of the bulk requests."""
    requests: list[int] = []
    handler = type("Handler", (ScriptedBulk,), {"script": list(script), "requests": requests})
    real = store.es
    with http_stub(handler) as url:
        store.es = Elasticsearch(url, max_retries=0)
        try:
            yield requests
        finally:
            store.es.close()
            store.es = real


def test_bulk_raises_store_unavailable_when_the_cluster_is(es_store: ElasticsearchStore) -> None:
    articles = [make_article(f"story {i}", "text", url=f"https://x.example/{i}") for i in range(3)]
    with scripted_bulk(es_store, [503]), pytest.raises(StoreUnavailable):
        es_store.upsert_articles(articles)


def test_bulk_retries_documents_rejected_with_429(
    es_store: ElasticsearchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import search.backends.elasticsearch as backend

    monkeypatch.setattr(backend, "BULK_BACKOFF_SECONDS", 0.01, raising=False)
    articles = [make_article(f"story {i}", "text", url=f"https://x.example/{i}") for i in range(3)]
    with scripted_bulk(es_store, ["429-items"]) as requests:
        result = es_store.upsert_articles(articles)
    assert (result.indexed, result.failures) == (3, {})
    assert requests == [3, 3]


def _api_error(kind: type[ApiError], status: int, body: dict) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "localhost", 9200),
    )
    return kind(message=str(body.get("error", {}).get("type")), meta=meta, body=body)


TOO_MANY_CLAUSES = {
    "error": {
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "root_cause": [{"type": "query_shard_exception", "reason": "failed to create query"}],
        "failed_shards": [
            {
                "reason": {
                    "type": "too_many_nested_clauses",
                    "reason": "Query contains too many nested clauses",
                }
            }
        ],
    },
    "status": 400,
}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_api_error(BadRequestError, 400, {"error": {"type": "mapper_parsing_exception"}}), StoreRejected),
        (_api_error(ApiError, 413, {"error": {"type": "content_too_long"}}), StoreRejected),
        (_api_error(NotFoundError, 404, {"error": {"type": "index_not_found_exception"}}), StoreError),
        (_api_error(ApiError, 500, {"error": {"type": "null_pointer_exception"}}), StoreError),
        (_api_error(ApiError, 429, {"error": {"type": "es_rejected_execution_exception"}}), StoreUnavailable),
        (_api_error(ApiError, 503, {"error": {"type": "cluster_block_exception"}}), StoreUnavailable),
        (_api_error(ApiError, 403, {"error": {"type": "cluster_block_exception"}}), StoreUnavailable),
        (_api_error(ApiError, 403, {"error": {"type": "security_exception"}}), CapabilityError),
    ],
)
def test_elasticsearch_errors_map_to_store_errors_by_what_a_retry_can_fix(
    error: ApiError, expected: type[Exception]
) -> None:
    from search.backends.elasticsearch import _store_error

    mapped = _store_error(error, "http://es:9200")
    assert type(mapped) is expected
    assert (
        classify(mapped)
        is {
            CapabilityError: FailureKind.UNEXPECTED,
            StoreRejected: FailureKind.PERMANENT,
            StoreError: FailureKind.TRANSIENT,
            StoreUnavailable: FailureKind.TRANSIENT,
        }[expected]
    )


def test_a_missing_document_or_a_lost_conflict_reaches_the_caller_as_is() -> None:
    from search.backends.elasticsearch import _store_error

    missing = _api_error(NotFoundError, 404, {"_index": "x", "_id": "1", "found": False})
    conflict = _api_error(ConflictError, 409, {"error": {"type": "version_conflict_engine_exception"}})
    assert _store_error(missing, "http://es:9200") is missing
    assert _store_error(conflict, "http://es:9200") is conflict


def test_a_missing_index_is_a_store_error(es_store: ElasticsearchStore) -> None:
    es_store.es.indices.delete(index=",".join(es_store.es.indices.get_alias(name=es_store.read_alias)))
    with pytest.raises(StoreError, match="lacks an index or alias"):
        es_store.count_articles()
    with pytest.raises(StoreError, match="lacks an index or alias"):
        es_store.get_article("any")  # not None, as if the article did not exist
    es_store.es.indices.delete(index=es_store.incidents_index)
    with pytest.raises(StoreError, match="lacks an index or alias"):
        es_store.delete_incident("any")


def test_a_document_elasticsearch_refuses_is_permanent(es_store: ElasticsearchStore) -> None:
    es_store._article_doc = unindexable  # type: ignore[method-assign]
    with pytest.raises(StoreRejected, match="refused"):
        es_store.upsert_article(make_article("unindexable", "text"))


def test_a_query_over_the_clause_limit_is_a_query_error(es_store: ElasticsearchStore) -> None:
    def refuse(**_: object) -> None:
        raise _api_error(BadRequestError, 400, TOO_MANY_CLAUSES)

    es_store.es.search = refuse  # type: ignore[method-assign]
    with pytest.raises(QueryError, match="too broad"):
        es_store.search("a* OR b*")


def test_an_unreadable_answer_is_not_reported_as_unreachable(es_store: ElasticsearchStore) -> None:
    def garbled(**_: object) -> None:
        raise SerializationError("Unable to deserialize as JSON")

    es_store.es.count = garbled  # type: ignore[method-assign]
    with pytest.raises(StoreError, match="unreadable") as raised:
        es_store.count_articles()
    assert not isinstance(raised.value, StoreUnavailable)


def make_subscription(sub_id: str, query: str | None = None) -> Subscription:
    return Subscription(id=sub_id, name=sub_id, query=query, created_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_reindex_moves_a_plain_subscriptions_index_behind_an_alias(cluster: Cluster, kb) -> None:
    # A cluster from before: `<prefix>-subscriptions` is a plain index with the old analyser and
    # without the newest article fields. Start-up adds the fields (a percolated article must fit
    # the strict mapping); reindex rebuilds it with the current analyser behind an alias.
    from search.backends.elasticsearch import ANALYSIS, SUBSCRIPTION_PROPERTIES, get_es_client

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    legacy = f"{prefix}-subscriptions"
    old_properties = {k: v for k, v in SUBSCRIPTION_PROPERTIES.items() if k != "claim_depths"}
    old_analysis = {k: v for k, v in ANALYSIS.items() if k != "filter"} | {
        "analyzer": {"shellwatch_text": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]}}
    }
    with get_es_client(cluster.url) as client:
        client.indices.create(
            index=legacy,
            settings={"analysis": old_analysis},
            mappings={"dynamic": "strict", "properties": old_properties},
        )
    with cluster.store(cluster.url, prefix=prefix, kb=kb) as store:
        try:
            assert (
                "claim_depths" in store.es.indices.get_mapping(index=legacy)[legacy]["mappings"]["properties"]
            )
            subscriptions = [make_subscription("s1", "OpenAI"), make_subscription("s2")]
            for sub in subscriptions:
                store.save_subscription(sub)
            store.reindex()
            (rebuilt,) = store.es.indices.get_alias(name=legacy)
            assert rebuilt.startswith(f"{legacy}-")
            settings = store.es.indices.get_settings(index=rebuilt)[rebuilt]["settings"]["index"]
            assert (
                settings["analysis"]["analyzer"]["shellwatch_text"]["filter"]
                == (ANALYSIS["analyzer"]["shellwatch_text"]["filter"])
            )
            assert store.list_subscriptions() == subscriptions
            store.save_subscription(make_subscription("s3"))
            store.delete_subscription("s1")
            assert [s.id for s in store.list_subscriptions()] == ["s2", "s3"]
            store.reindex()  # and again, now from behind the alias
            assert store.es.indices.get_alias(name=legacy).keys() != {rebuilt}
            assert [s.id for s in store.list_subscriptions()] == ["s2", "s3"]
        finally:
            store.drop_everything()


def test_a_subscription_saved_during_the_rebuild_is_refused_not_lost(
    es_store: ElasticsearchStore, second_worker: ElasticsearchStore
) -> None:
    es_store.save_subscription(make_subscription("s1"))
    subscription_doc = es_store._subscription_doc
    refused = []

    def while_copying(subscription: Subscription) -> dict:
        with pytest.raises(StoreUnavailable, match="blocks writes") as raised:
            second_worker.save_subscription(make_subscription("s2"))
        refused.append(raised.value)
        return subscription_doc(subscription)

    es_store._subscription_doc = while_copying  # type: ignore[method-assign]
    es_store.reindex()
    assert refused
    second_worker.save_subscription(make_subscription("s2"))  # the retry
    assert [s.id for s in es_store.list_subscriptions()] == ["s1", "s2"]


def test_a_failed_subscriptions_rebuild_leaves_the_old_index_serving(
    es_store: ElasticsearchStore,
) -> None:
    es_store.save_subscription(make_subscription("s1"))
    before = set(es_store.es.indices.get_alias(name=es_store.subscriptions_index))

    def broken(subscription: Subscription) -> dict:
        raise QueryError("no longer parses")

    es_store._subscription_doc = broken  # type: ignore[method-assign]
    with pytest.raises(StoreError, match="subscriptions were not.*no longer parses"):
        es_store.reindex()
    assert set(es_store.es.indices.get_alias(name=es_store.subscriptions_index)) == before
    del es_store._subscription_doc
    es_store.save_subscription(make_subscription("s2"))  # not left write-blocked
    assert [s.id for s in es_store.list_subscriptions()] == ["s1", "s2"]
    assert len(es_store.es.indices.get(index=f"{es_store.subscriptions_index}-*")) == 1


def test_percolation_analyses_possessives_like_search(es_store: ElasticsearchStore) -> None:
    from tests.search.emulator import EmulatedElasticsearchStore

    if isinstance(es_store, EmulatedElasticsearchStore):
        pytest.skip("emulator: noida-db has no percolate query (runs with ELASTICSEARCH_URL)")
    es_store.save_subscription(make_subscription("openai", "OpenAI"))
    article = make_article(
        "Startup’s chatbot is a thin wrapper around OpenAI’s API",
        "Analysts say the product only forwards requests.",
        claims=[make_claim(None, ClaimType.API_WRAPPER, subject_name="FooChat", obj="openai")],
        mentions=[],
    )
    assert [s.id for s in es_store.match_subscriptions(article)] == ["openai"]
    es_store.reindex()  # the rebuilt percolator index analyses the same way
    assert [s.id for s in es_store.match_subscriptions(article)] == ["openai"]


def test_dates_are_sent_in_the_strict_format_of_the_date_fields() -> None:
    from search.backends.elasticsearch import _iso

    assert _iso(datetime(2023, 11, 14, 8, 30, 5, 123456, tzinfo=UTC)) == "2023-11-14T08:30:05Z"
    assert _iso(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00Z"
    assert _iso(datetime(2024, 2, 1)) == "2024-02-01T00:00:00Z"  # naive is UTC
