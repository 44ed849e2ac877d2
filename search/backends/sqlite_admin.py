"""SQLite implementation of the web stage's store methods (API tokens, corrections); a mixin of
SqliteStore. Its tables are created on first use, so the search schema stays the search stage's."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

from search.backends.admin import ApiToken, Correction
from shellwatch.domain import from_json, to_json

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from typing import Any

ADMIN_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS corrections (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL, created_at TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS corrections_article ON corrections(article_id);
"""


class SqliteAdminMixin:
    """Needs the store's `_write(work)` (one IMMEDIATE transaction) and `_read()` (a connection)."""

    _admin_ready = False
    if TYPE_CHECKING:
        _write: Callable[[Callable[[Any], Any]], Any]
        _read: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def _admin_tables(self) -> None:
        if self._admin_ready:
            return

        def work(tx: Any) -> None:
            for statement in ADMIN_SCHEMA.split(";"):
                if statement.strip():
                    tx.db.execute(statement)

        self._write(work)
        self._admin_ready = True

    def save_api_token(self, token: ApiToken) -> None:
        self._admin_tables()
        self._write(
            lambda tx: tx.db.execute(
                "INSERT INTO api_tokens(id, created_at, payload) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET payload = excluded.payload",
                (token.id, token.created_at.astimezone(UTC).isoformat(), to_json(token)),
            )
        )

    def get_api_token(self, token_id: str) -> ApiToken | None:
        self._admin_tables()
        with self._read() as db:
            row = db.execute("SELECT payload FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
        return from_json(ApiToken, row[0]) if row else None

    def list_api_tokens(self) -> list[ApiToken]:
        self._admin_tables()
        with self._read() as db:
            rows = db.execute("SELECT payload FROM api_tokens ORDER BY created_at, id").fetchall()
        return [from_json(ApiToken, payload) for (payload,) in rows]

    def save_correction(self, correction: Correction) -> None:
        self._admin_tables()
        self._write(
            lambda tx: tx.db.execute(
                "INSERT INTO corrections(id, article_id, created_at, payload) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET payload = excluded.payload",
                (
                    correction.id,
                    correction.article_id,
                    correction.created_at.astimezone(UTC).isoformat(),
                    to_json(correction),
                ),
            )
        )

    def list_corrections(self, article_id: str | None = None) -> list[Correction]:
        self._admin_tables()
        sql = "SELECT payload FROM corrections"
        params: tuple[str, ...] = ()
        if article_id is not None:
            sql += " WHERE article_id = ?"
            params = (article_id,)
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY created_at, seq", params).fetchall()
        return [from_json(Correction, payload) for (payload,) in rows]
