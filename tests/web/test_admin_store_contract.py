"""The web stage's store methods (API tokens, corrections), against every backend.

Legs as in tests/search/test_store_contract.py (the shared `store` fixture, tests/support/stores.py):
`sqlite` always; `elasticsearch` with ELASTICSEARCH_URL (skipped with the reason otherwise);
`elasticsearch-emulator` on noida-db, which exercises the real client and request bodies but proves
nothing about real Elasticsearch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from search.backends.admin import ApiToken, Correction, TokenScope
from search.backends.base import Store
from shellwatch.domain import ClaimType, Stance
from tests.search import conftest as search_fixtures
from tests.search.conftest import make_claim
from tests.support import stores
from web.auth import allows, create_token, revoke_token, verify_token

# The contract suites' shared fixtures; `kb` is the search tests' small knowledge base.
store = stores.store
emulator_url = stores.emulator_url
kb = search_fixtures.kb


def test_tokens_round_trip_verify_and_revoke(store: Store) -> None:
    assert store.list_api_tokens() == []
    assert store.get_api_token("00000000") is None
    writer, secret = create_token(store, "analyst", TokenScope.WRITE)
    reader, read_secret = create_token(store, "reader", TokenScope.READ)
    assert [t.id for t in store.list_api_tokens()] == [writer.id, reader.id]
    assert store.get_api_token(writer.id) == writer
    assert verify_token(store, secret) == writer
    assert verify_token(store, read_secret) == reader
    assert allows(writer, TokenScope.READ) and not allows(reader, TokenScope.WRITE)
    assert verify_token(store, secret[:-2]) is None
    assert verify_token(store, f"sw_{writer.id}_{read_secret.split('_', 2)[2]}") is None  # another's secret
    revoked = revoke_token(store, writer.id)
    assert revoked.revoked_at is not None
    assert verify_token(store, secret) is None
    assert store.get_api_token(writer.id).revoked_at == revoked.revoked_at
    assert len(store.list_api_tokens()) == 2  # revoked tokens stay for the record


def test_saving_a_token_again_replaces_it(store: Store) -> None:
    token = ApiToken(
        id="abcdef01",
        name="x",
        scope=TokenScope.READ,
        salt="s",
        digest="d",
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    store.save_api_token(token)
    store.save_api_token(token.model_copy(update={"name": "y"}))
    assert [t.name for t in store.list_api_tokens()] == ["y"]


def test_corrections_in_order_per_article(store: Store) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    claim = make_claim("yi-34b")

    def correction(number: int, article_id: str, minutes: int) -> Correction:
        return Correction(
            id=f"c{number}",
            article_id=article_id,
            claim_key=f"k{number}",
            stance=Stance.DENIAL,
            type=ClaimType.API_WRAPPER if number % 2 else None,
            before=claim,
            created_at=start + timedelta(minutes=minutes),
        )

    assert store.list_corrections() == []
    store.save_correction(correction(1, "a1", 5))
    store.save_correction(correction(2, "a2", 1))
    store.save_correction(correction(3, "a1", 9))
    assert [c.id for c in store.list_corrections()] == ["c2", "c1", "c3"]
    assert [c.id for c in store.list_corrections("a1")] == ["c1", "c3"]
    assert store.list_corrections("nothing") == []
    assert store.list_corrections("a1")[0] == correction(1, "a1", 5)
    store.save_correction(correction(1, "a1", 5).model_copy(update={"note": "checked"}))
    assert [c.note for c in store.list_corrections("a1")] == ["checked", None]
