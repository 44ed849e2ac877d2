"""Records the store keeps for the web stage: API tokens and analysts' corrections.

They are part of the store contract (backends/base.py declares the methods; sqlite_admin.py and
elasticsearch_admin.py implement them) but only the web stage writes them. A token is stored as a
salted HMAC-SHA256 digest of its secret, never the secret itself.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from shellwatch.domain import Claim, ClaimType, Record, Stance


class TokenScope(StrEnum):
    READ = "read"  # private reads (subscriptions list) and search when SHELLWATCH_API_READ_OPEN=false
    WRITE = "write"  # everything that changes state; includes read


class ApiToken(Record):
    id: str  # public part of the token, e.g. "a1b2c3d4"
    name: str
    scope: TokenScope
    salt: str
    digest: str  # hex HMAC-SHA256(salt, secret)
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None


class Correction(Record):
    """An analyst's fix of one claim of one article, re-applied whenever the article is re-analysed.

    `claim_key` identifies the claim as it looked when it was corrected (search.corrections.claim_key);
    corrections of one article apply in `created_at` order, so a later correction can refine an
    earlier one. Fields left None are not changed.
    """

    id: str
    article_id: str
    claim_key: str
    type: ClaimType | None = None
    stance: Stance | None = None
    subject: str | None = None  # entity id, or None with subject_name for an unknown name
    subject_name: str | None = None
    dismissed: bool = False
    before: Claim  # the claim as it was: its evidence and the original labels for the record
    note: str | None = Field(None, max_length=2000)
    token_id: str | None = None  # which API token made it
    created_at: AwareDatetime
