"""Request dependencies: the store, the knowledge base, the settings, and who is asking.

The API takes tokens only as `Authorization: Bearer sw_…`; the pages take them from an HttpOnly,
SameSite=Strict cookie set on /token, and their forms carry a CSRF field derived from it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import Depends, HTTPException, Request

from search.backends.admin import ApiToken, TokenScope
from search.backends.base import Store
from shellwatch.config import Settings
from web.app import AppState
from web.auth import allows, verify_token

TOKEN_COOKIE = "sw_token"


def app_state(request: Request) -> AppState:
    return request.app.state.web


def get_settings(request: Request) -> Settings:
    return app_state(request).settings


def get_store(request: Request) -> Store:
    return app_state(request).store


def get_kb(request: Request) -> Any:
    return app_state(request).kb


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def api_token(request: Request) -> ApiToken | None:
    """The valid token of an API request, or None (no header, unknown, revoked)."""
    presented = bearer_token(request)
    if presented is None:
        return None
    return verify_token(get_store(request), presented)


def cookie_token(request: Request) -> ApiToken | None:
    presented = request.cookies.get(TOKEN_COOKIE)
    if not presented:
        return None
    return verify_token(get_store(request), presented)


def require(scope: TokenScope):
    """A dependency: a token of this scope (401 without a valid one, 403 with a read-only one)."""

    def dependency(request: Request) -> ApiToken:
        presented = bearer_token(request)
        if presented is None:
            raise HTTPException(
                401,
                "this needs an API token: send `Authorization: Bearer sw_…`"
                " (create one with `shellwatch tokens create --name NAME`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        token = verify_token(get_store(request), presented)
        if token is None:
            raise HTTPException(
                401, "the API token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        if not allows(token, scope):
            raise HTTPException(
                403, f"this needs a {scope.value} token; {token.name!r} is {token.scope.value}"
            )
        return token

    return dependency


def read_access(request: Request) -> ApiToken | None:
    """Open reads unless SHELLWATCH_API_READ_OPEN=false; then a read or write token."""
    if get_settings(request).api_read_open:
        return None
    return require(TokenScope.READ)(request)


ReadAccess = Depends(read_access)
WriteToken = Depends(require(TokenScope.WRITE))
ReadToken = Depends(require(TokenScope.READ))


def csrf_value(cookie: str) -> str:
    """The value page forms carry: only a page that can read the token cookie's owner's pages knows it."""
    return hmac.new(cookie.encode("utf-8"), b"shellwatch-csrf", hashlib.sha256).hexdigest()[:32]


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(TOKEN_COOKIE)
    return bool(cookie and submitted and hmac.compare_digest(csrf_value(cookie), submitted))
