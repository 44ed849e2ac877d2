"""Elasticsearch implementation of the web stage's store methods (API tokens, corrections); a mixin
of ElasticsearchStore. Two plain indices, `<prefix>-api-tokens` and `<prefix>-corrections`, created
on first use with strict mappings; the payload is the record's JSON, as in the other indices."""

from __future__ import annotations

import time
from datetime import UTC
from typing import TYPE_CHECKING, Any

from elasticsearch import BadRequestError

from search.backends.admin import ApiToken, Correction
from shellwatch.domain import from_json, to_json

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager

    from elasticsearch import Elasticsearch

UNINDEXED = {"type": "keyword", "index": False, "doc_values": False}
ADMIN_INDICES: dict[str, dict[str, Any]] = {
    "api-tokens": {"id": {"type": "keyword"}, "created_at": {"type": "date"}, "payload": UNINDEXED},
    "corrections": {
        "id": {"type": "keyword"},
        "article_id": {"type": "keyword"},
        "created_at": {"type": "date"},
        "seq": {"type": "long"},
        "payload": UNINDEXED,
    },
}


class ElasticsearchAdminMixin:
    """Needs the store's `es` client, `prefix`, `_errors()`, `_get(index, id)` and
    `_pages(index, query, sort, source)`."""

    _admin_ready = False
    if TYPE_CHECKING:
        es: Elasticsearch
        prefix: str
        _errors: Callable[[], AbstractContextManager[None]]
        _get: Callable[..., dict[str, Any] | None]
        _pages: Callable[..., Iterator[list[dict[str, Any]]]]

    def _admin_index(self, name: str) -> str:
        if not self._admin_ready:
            with self._errors():
                for suffix, properties in ADMIN_INDICES.items():
                    index = f"{self.prefix}-{suffix}"
                    if self.es.indices.exists(index=index):
                        continue
                    try:
                        self.es.indices.create(
                            index=index,
                            settings={"number_of_replicas": 0},
                            mappings={"dynamic": "strict", "properties": properties},
                        )
                    except BadRequestError as exc:
                        if exc.error != "resource_already_exists_exception":  # another process won
                            raise
            self._admin_ready = True
        return f"{self.prefix}-{name}"

    def save_api_token(self, token: ApiToken) -> None:
        index = self._admin_index("api-tokens")
        document = {"id": token.id, "created_at": _iso(token), "payload": to_json(token)}
        with self._errors():
            self.es.index(index=index, id=token.id, document=document, refresh=True)

    def get_api_token(self, token_id: str) -> ApiToken | None:
        index = self._admin_index("api-tokens")
        found = self._get(index, token_id)
        return None if found is None else from_json(ApiToken, found["_source"]["payload"])

    def list_api_tokens(self) -> list[ApiToken]:
        index = self._admin_index("api-tokens")
        pages = self._pages(index, {"match_all": {}}, [{"created_at": "asc"}, {"id": "asc"}], ["payload"])
        return [from_json(ApiToken, hit["_source"]["payload"]) for page in pages for hit in page]

    def save_correction(self, correction: Correction) -> None:
        index = self._admin_index("corrections")
        document = {
            "id": correction.id,
            "article_id": correction.article_id,
            "created_at": _iso(correction),
            "seq": time.time_ns(),
            "payload": to_json(correction),
        }
        if (saved := self._get(index, correction.id)) is not None:  # keep the order it was first made in
            document["seq"] = saved["_source"]["seq"]
        with self._errors():
            self.es.index(index=index, id=correction.id, document=document, refresh=True)

    def list_corrections(self, article_id: str | None = None) -> list[Correction]:
        index = self._admin_index("corrections")
        query = {"term": {"article_id": article_id}} if article_id is not None else {"match_all": {}}
        pages = self._pages(index, query, [{"created_at": "asc"}, {"seq": "asc"}], ["payload"])
        return [from_json(Correction, hit["_source"]["payload"]) for page in pages for hit in page]


def _iso(record: ApiToken | Correction) -> str:
    return record.created_at.astimezone(UTC).isoformat()
