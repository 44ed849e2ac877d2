"""API tokens: created from the CLI, shown once, stored as a salted HMAC-SHA256 digest.

A token reads `sw_<id>_<secret>`: the id finds the stored record, the secret is checked against
its digest in constant time. Scopes: `write` (everything that changes state, and reading) and
`read` (private reads such as the subscription list, and search when SHELLWATCH_API_READ_OPEN is
false). Revoking keeps the record (for the audit trail of corrections) with `revoked_at` set.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from search.backends.admin import ApiToken, TokenScope
from search.backends.base import Store

TOKEN_PATTERN = re.compile(r"sw_([0-9a-f]{8})_([A-Za-z0-9_\-]{20,100})")


class TokenError(ValueError):
    """A token cannot be created or revoked as asked; the message says why."""


def create_token(store: Store, name: str, scope: TokenScope = TokenScope.WRITE) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret string (the only time the secret is seen)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("a token needs a name of 1 to 100 characters")
    token_id = secrets.token_hex(4)
    while store.get_api_token(token_id) is not None:  # 4 bytes: collisions are rare but possible
        token_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    token = ApiToken(
        id=token_id,
        name=name,
        scope=TokenScope(scope),
        salt=salt,
        digest=_digest(salt, secret),
        created_at=datetime.now(UTC),
    )
    store.save_api_token(token)
    return token, f"sw_{token_id}_{secret}"


def verify_token(store: Store, presented: str | None) -> ApiToken | None:
    """The active token this string is, or None (malformed, unknown, wrong secret, revoked)."""
    if not presented:
        return None
    match = TOKEN_PATTERN.fullmatch(presented.strip())
    if match is None:
        return None
    token = store.get_api_token(match.group(1))
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.digest, _digest(token.salt, match.group(2))):
        return None
    return token


def allows(token: ApiToken | None, scope: TokenScope) -> bool:
    """Write tokens may do everything; read tokens only read."""
    if token is None:
        return False
    return token.scope is TokenScope.WRITE or scope is TokenScope.READ


def revoke_token(store: Store, token_id: str) -> ApiToken:
    token = store.get_api_token(token_id)
    if token is None:
        raise TokenError(f"no token {token_id!r}")
    if token.revoked_at is None:
        token = token.model_copy(update={"revoked_at": datetime.now(UTC)})
        store.save_api_token(token)
    return token


def _digest(salt: str, secret: str) -> str:
    return hmac.new(salt.encode("ascii"), secret.encode("ascii"), hashlib.sha256).hexdigest()
