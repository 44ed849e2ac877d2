"""The ShellWatch web process: the HTTP API under /api/, the web app at /, feeds, /metrics, /docs.

`create_app(settings)` builds a FastAPI application around one store and one knowledge base,
opened on first use (so the process starts, and /api/health says what is wrong, even when the
store is down). Every response carries a strict Content-Security-Policy: pages load only this
server's CSS and JavaScript, and text from the open web is always escaped by the templates.
Errors: malformed input is a 4xx naming the field; only a real bug is a 500, logged with its
traceback and answered with a short JSON (or HTML) message.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from search.backends.base import QueryError, Store, StoreError, StoreRejected, StoreUnavailable
from shellwatch import __version__
from shellwatch.config import Settings

log = logging.getLogger(__name__)

WEB_ROOT = Path(__file__).resolve().parent
UNKNOWN_NAMES_TTL = 60.0
STATIC_DIR = WEB_ROOT / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# Swagger UI sets inline styles; its scripts are still only this server's files.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class AppState:
    """The store and knowledge base of one web process, opened on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._store: Store | None = None
        self._kb: Any = None
        self._lock = threading.Lock()
        self._unknown: tuple[tuple[int, int], float, list[Any]] | None = None
        self._kb_generation = 0  # bumped by reload_kb, part of the unknown-names cache key

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from search import open_store

                self._store = open_store(self.settings)
            return self._store

    @property
    def kb(self) -> Any:
        with self._lock:
            if self._kb is None:
                from search.entities import load_kb

                self._kb = load_kb(self.settings)
            return self._kb

    def reload_kb(self) -> None:
        """After a knowledge-base edit: the next use reads the file again (the store's copy too)."""
        with self._lock:
            self._kb = None
            self._kb_generation += 1
            if self._store is not None:
                self._store.close()
                self._store = None

    def unknown_names(self, limit: int) -> list[Any]:
        """Unknown names across the stored coverage. Finding them reads every article, so the
        answer is kept for UNKNOWN_NAMES_TTL seconds unless articles are added or the KB changes."""
        from web.knowledge import unknown_names

        kb = self.kb
        key = (self.store.count_articles(), self._kb_generation)
        cached = self._unknown
        if cached is None or cached[0] != key or time.monotonic() - cached[1] > UNKNOWN_NAMES_TTL:
            cached = (key, time.monotonic(), unknown_names(self.store.iter_articles(), kb, limit=1000))
            self._unknown = cached
        return cached[2][:limit]

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI application serving the API, the pages, the feeds and the metrics."""
    from web import api, docs, pages
    from web.openapi import install_openapi

    state = AppState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        state.close()

    app = FastAPI(
        title="ShellWatch API",
        version=__version__,
        description=(
            "Search LLM wrapper (套壳) controversies, follow incident timelines, subscribe to alerts on"
            " new allegations and download monthly digests. Reads are open unless the server sets"
            " SHELLWATCH_API_READ_OPEN=false; everything that changes state, and private data, needs"
            " an API token sent as `Authorization: Bearer sw_…` (create one with"
            " `shellwatch tokens create --name NAME`)."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.web = state
    app.include_router(api.router)
    app.include_router(api.feeds)
    app.include_router(docs.router)
    app.include_router(pages.router)
    app.mount(
        "/static/swagger", StaticFiles(directory=docs.SWAGGER_DIR), name="swagger"
    )  # before /static, which would shadow it
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _install_error_handlers(app)
    install_openapi(app, settings, routers=(api.router, api.feeds))

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        path = request.url.path
        response.headers["Content-Security-Policy"] = DOCS_CSP if path == "/docs" else CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    return app


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/feeds/", "/metrics", "/openapi.json"))


def _install_error_handlers(app: FastAPI) -> None:
    from web.pages import render_error

    def answer(request: Request, status: int, detail: str, **extra: Any) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": detail, **extra}, status_code=status)
        return render_error(request, status, detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [_field_error(error) for error in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
        return answer(request, 422, detail or "invalid request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = answer(request, exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(QueryError)
    async def query_error(request: Request, exc: QueryError) -> Response:
        where = f" at position {exc.position}" if exc.position is not None else ""
        return answer(request, 400, f"q: malformed query{where}: {exc}", field="q", position=exc.position)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
        log.warning("event=store-unavailable path=%s error=%s", request.url.path, exc)
        response = answer(request, 503, f"the store is unavailable, try again shortly: {exc}")
        response.headers["Retry-After"] = "10"
        return response

    @app.exception_handler(StoreRejected)
    async def store_rejected(request: Request, exc: StoreRejected) -> Response:
        # The store refused a request the application built (the client's query errors are
        # QueryError, 400, before the store sees them): a fault here, not worth a retry, so no 503.
        incident = uuid.uuid4().hex[:12]
        log.error("event=store-rejected error_id=%s path=%s error=%s", incident, request.url.path, exc)
        return answer(
            request, 500, f"the store refused the request (logged as {incident}): {exc}", error_id=incident
        )

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        log.error("event=store-error path=%s error=%s", request.url.path, exc)
        return answer(request, 503, f"the store failed: {exc}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        log.exception("event=unhandled-error error_id=%s path=%s", incident, request.url.path)
        return answer(request, 500, f"internal error (logged as {incident})", error_id=incident)


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    location = [str(part) for part in error.get("loc", ())]
    where = location[0] if location else ""
    name = (
        ".".join(location[1:])
        if where in ("query", "path", "body", "header", "cookie")
        else ".".join(location)
    )
    return {"field": name, "in": where, "message": str(error.get("msg", "invalid"))}
