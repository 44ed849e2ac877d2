"""Request dependencies: the store, the knowledge base, the settings, and who is asking.

The API takes tokens only as `Authorization: Bearer sw_…`; the pages take them from an HttpOnly,
SameSite=Strict cookie set on /token, and their forms carry a CSRF field derived from it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from search.backends.admin import ApiToken, TokenScope
from search.backends.base import Store
from shellwatch.config import Settings
from web.app import AppState
from web.auth import allows, verify_token

TOKEN_COOKIE = "sw_token"

# Declared as a security scheme so /docs offers "Authorize"; errors are ours (auto_error off).
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="APIToken",
    description="An API token `sw_…` from `shellwatch tokens create --name NAME [--scope write|read]`.",
)


def app_state(request: Request) -> AppState:
    return request.app.state.web


def get_settings(request: Request) -> Settings:
    return app_state(request).settings


def get_store(request: Request) -> Store:
    return app_state(request).store


def get_kb(request: Request) -> Any:
    return app_state(request).kb


def cookie_token(request: Request) -> ApiToken | None:
    presented = request.cookies.get(TOKEN_COOKIE)
    if not presented:
        return None
    return verify_token(get_store(request), presented)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def require(scope: TokenScope):
    """A dependency: a token of this scope (401 without a valid one, 403 with a read-only one)."""

    def dependency(request: Request, credentials: Credentials) -> ApiToken:
        return _checked(request, credentials, scope)

    return dependency


def read_access(request: Request, credentials: Credentials) -> ApiToken | None:
    """Open reads unless SHELLWATCH_API_READ_OPEN=false; then a read or write token."""
    if get_settings(request).api_read_open:
        return None
    return _checked(request, credentials, TokenScope.READ)


def _checked(
    request: Request, credentials: HTTPAuthorizationCredentials | None, scope: TokenScope
) -> ApiToken:
    if credentials is None or not credentials.credentials.strip():
        raise HTTPException(
            401,
            "this needs an API token: send `Authorization: Bearer sw_…`"
            " (create one with `shellwatch tokens create --name NAME`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = verify_token(get_store(request), credentials.credentials)
    if token is None:
        raise HTTPException(
            401, "the API token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
        )
    if not allows(token, scope):
        raise HTTPException(403, f"this needs a {scope.value} token; {token.name!r} is {token.scope.value}")
    return token


ReadAccess = Depends(read_access)
WriteToken = Depends(require(TokenScope.WRITE))
ReadToken = Depends(require(TokenScope.READ))


def csrf_value(cookie: str) -> str:
    """The value page forms carry: only a page that can read the token cookie's owner's pages knows it."""
    return hmac.new(cookie.encode("utf-8"), b"shellwatch-csrf", hashlib.sha256).hexdigest()[:32]


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(TOKEN_COOKIE)
    return bool(cookie and submitted and hmac.compare_digest(csrf_value(cookie), submitted))
