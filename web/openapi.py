"""The OpenAPI document as the API really answers.

FastAPI documents only the success response and its own validation error shape. The API's errors
all come from web.app's handlers as `{"detail": "..."}` (plus `field`, `position`, `errors` or
`error_id`), so the document is completed here, route by route, from what each route depends on:
a token (401, 403), a path parameter (404), a query string `q` (400), a store (503). Open reads
(SHELLWATCH_API_READ_OPEN=true) list "no token" as an accepted way in, so clients and schema-driven
testers know the token is optional there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from shellwatch.config import Settings

SCHEME = "APIToken"

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "what went wrong, naming the field when one is at fault"},
        "field": {"type": ["string", "null"]},
        "position": {"type": ["integer", "null"], "description": "offset of the problem in the query"},
        "error_id": {"type": "string", "description": "the id under which a server error was logged"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "in", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "in": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}

ERRORS = {
    "400": "Malformed query: the message points at the position",
    "401": "No API token, or an unknown or revoked one",
    "403": "The token's scope does not allow this",
    "404": "No such record",
    "409": "Conflicts with what exists",
    "422": "Invalid parameter or body: the message names the field",
    "503": "The store is unavailable (retry later) or cannot do this here",
}

# Routes whose 503 has another shape (the health check answers with its own status document).
OWN_503 = {"/api/health"}


def install_openapi(app: FastAPI, settings: Settings, routers: tuple[APIRouter, ...]) -> None:
    """Serve the completed document at /openapi.json (built once, on first request).

    `routers` are the documented routers the app includes (their routes carry the full paths).
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_document(app, settings, routers)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete_document(app: FastAPI, settings: Settings, routers: tuple[APIRouter, ...]) -> dict[str, Any]:
    from web.deps import bearer_scheme, read_access

    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        calls = set(_dependency_calls(route.dependant))
        token = bearer_scheme in calls
        open_read = read_access in calls and settings.api_read_open
        for method in route.methods:
            operation = document["paths"][route.path_format].get(method.lower())
            if operation is None:
                continue
            codes = set(operation.get("responses", {})) & set(ERRORS)  # declared by the route itself
            if route.dependant.path_params:
                codes.add("404")
            if any(param.name == "q" for param in route.dependant.query_params):
                codes.add("400")
            if route.dependant.path_params or route.dependant.query_params or route.dependant.body_params:
                codes.add("422")
            if token and not open_read:
                codes |= {"401", "403"}
            if route.path_format not in OWN_503:
                codes.add("503")
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses[code] = {
                    "description": responses.get(code, {}).get("description") or ERRORS[code],
                    "content": {"application/json": {"schema": reference}},
                }
            if open_read:
                operation["security"] = [{}, {SCHEME: []}]
    return document


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependency_calls(dependency)
