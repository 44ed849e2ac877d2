"""The HTTP API under /api/ (and the subscription feeds under /feeds/).

Reads (search, timeline, incidents, articles, entities, sources, digests) are open unless
SHELLWATCH_API_READ_OPEN=false; subscriptions are private (a read token lists them, a write token
changes them); corrections and knowledge-base edits need a write token. Every parameter is
bounded, so malformed input is a 4xx naming the field.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from alerts.subscriptions import SubscriptionRequest
from search.backends.admin import ApiToken
from search.backends.base import Store
from search.corrections import CorrectionRequest
from shellwatch.config import Settings
from shellwatch.domain import ClaimType, EntityType, IncidentStatus, to_dict
from web.deps import ReadAccess, ReadToken, WriteToken, app_state, get_kb, get_settings, get_store
from web.knowledge import EntityRequest
from web.views import article_detail, article_summary, incident_dict, incident_view

router = APIRouter(prefix="/api")
feeds = APIRouter()

MAX_WINDOW = 10_000  # offset + limit, as far as Elasticsearch pages by default
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DIGEST_NAME = re.compile(r"(?P<month>.+)\.(?P<fmt>[a-z]+)")

Id = Annotated[str, Path(pattern=ID_PATTERN, description="a record id")]
StoreDep = Annotated[Store, Depends(get_store)]
KbDep = Annotated[Any, Depends(get_kb)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _window(offset: int, limit: int) -> None:
    if offset + limit > MAX_WINDOW:
        raise HTTPException(422, f"offset: offset + limit must be at most {MAX_WINDOW}")


# Health and metrics -------------------------------------------------------------------------------


@router.get("/health", tags=["service"], summary="Is the store reachable?")
def health(request: Request) -> JSONResponse:
    state = app_state(request)
    try:
        store = state.store
        articles = store.count_articles()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the store is the answer itself
        return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "store": type(store).__name__, "articles": articles})


@feeds.get("/metrics", tags=["service"], summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    from web.metrics import render_metrics

    return PlainTextResponse(
        render_metrics(app_state(request)), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


# Search, timeline, incidents, articles ---------------------------------------------------------------


@router.get("/search", tags=["search"], summary="Full-text search with facets and highlights")
def search(
    store: StoreDep,
    _: Annotated[ApiToken | None, ReadAccess],
    q: Annotated[str, Query(max_length=1000, description="query in the search syntax")] = "",
    offset: Annotated[int, Query(ge=0, le=MAX_WINDOW)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    facets: bool = True,
) -> dict[str, Any]:
    _window(offset, limit)
    result = store.search(q, offset=offset, limit=limit, facets=facets)
    return {
        "query": q,
        "total": result.total,
        "total_relation": result.total_relation,  # "gte": at least `total` (counting stops there)
        "offset": offset,
        "limit": limit,
        "hits": [
            {**article_summary(hit.article), "score": hit.score, "highlights": hit.highlights}
            for hit in result.hits
        ],
        "facets": {name: [to_dict(f) for f in counts] for name, counts in result.facets.items()},
    }


@router.get("/timeline", tags=["search"], summary="Incidents on a time axis with a coverage histogram")
def timeline(
    store: StoreDep,
    kb: KbDep,
    _: Annotated[ApiToken | None, ReadAccess],
    q: Annotated[str, Query(max_length=1000)] = "",
    entity: Annotated[str | None, Query(max_length=200, description="entity id or any name")] = None,
    interval: Literal["day", "week", "month", "year"] = "month",
) -> dict[str, Any]:
    entity_id = _entity_id(kb, entity)
    result = store.timeline(q, entity=entity_id, interval=interval)
    return {
        "query": q,
        "entity": entity_id,
        "interval": result.interval,
        "incidents": [incident_dict(i) for i in result.incidents],
        "histogram": [to_dict(b) for b in result.histogram],
    }


@router.get("/incidents", tags=["incidents"], summary="Incidents, newest first")
def incidents(
    store: StoreDep,
    kb: KbDep,
    _: Annotated[ApiToken | None, ReadAccess],
    entity: Annotated[str | None, Query(max_length=200)] = None,
    since: date | None = None,
    until: date | None = None,
    status: IncidentStatus | None = None,
    type: ClaimType | None = None,
    offset: Annotated[int, Query(ge=0, le=MAX_WINDOW)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    if since and until and since > until:
        raise HTTPException(422, "until: must not be before since")
    found = store.list_incidents(
        subject=_entity_id(kb, entity),
        since=datetime.combine(since, time(), UTC) if since else None,
        until=datetime.combine(until, time(), UTC) if until else None,
    )
    found = [
        i for i in found if (status is None or i.status is status) and (type is None or type in i.claim_types)
    ]
    found.sort(key=lambda i: (i.started_at, i.id), reverse=True)
    return {"total": len(found), "incidents": [incident_dict(i) for i in found[offset : offset + limit]]}


@router.get("/incidents/{incident_id}", tags=["incidents"], summary="One incident with its coverage")
def incident(
    incident_id: Id, store: StoreDep, kb: KbDep, _: Annotated[ApiToken | None, ReadAccess]
) -> dict[str, Any]:
    detail = store.get_incident(incident_id)
    if detail is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    corrected = {c.claim_key for c in store.list_corrections()} if detail.articles else set()
    return incident_view(detail, kb, corrected).as_dict()


@router.get("/articles/{article_id}", tags=["incidents"], summary="One article with its claims")
def article(article_id: Id, store: StoreDep, _: Annotated[ApiToken | None, ReadAccess]) -> dict[str, Any]:
    analysed = store.get_article(article_id)
    if analysed is None:
        raise HTTPException(404, f"no article {article_id!r}")
    corrections = store.list_corrections(article_id)
    data = article_detail(analysed, _corrected_keys(analysed, corrections))
    data["corrections"] = [to_dict(c) for c in corrections]
    return data


# Entities and the knowledge base ----------------------------------------------------------------


@router.get("/entities", tags=["entities"], summary="Knowledge-base entities")
def entities(
    kb: KbDep,
    _: Annotated[ApiToken | None, ReadAccess],
    q: Annotated[str, Query(max_length=200, description="part of any name, any script")] = "",
    type: EntityType | None = None,
    offset: Annotated[int, Query(ge=0, le=MAX_WINDOW)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    from web.knowledge import entity_dict, matching_entities

    found = matching_entities(kb, q, type)
    return {"total": len(found), "entities": [entity_dict(e) for e in found[offset : offset + limit]]}


@router.get(
    "/entities/unknown", tags=["entities"], summary="Names seen in analyses, not in the knowledge base"
)
def unknown_entities(
    request: Request,
    _: Annotated[ApiToken | None, ReadAccess],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    found = app_state(request).unknown_names(limit)
    return {"total": len(found), "names": [u.as_dict() for u in found]}


@router.get("/entities/{entity_id}", tags=["entities"], summary="One entity with its incidents")
def entity(
    entity_id: Annotated[str, Path(max_length=200)],
    store: StoreDep,
    kb: KbDep,
    _: Annotated[ApiToken | None, ReadAccess],
) -> dict[str, Any]:
    from web.knowledge import entity_dict

    found = kb.get(entity_id) or kb.resolve(entity_id)
    if found is None:
        raise HTTPException(404, f"no entity {entity_id!r} in the knowledge base")
    developer = kb.developer_of(found.id)
    return {
        **entity_dict(found),
        "developer_name": developer.name if developer else None,
        "models": [entity_dict(m) for m in kb.models_of(found.id)],
        "incidents": [incident_dict(i) for i in store.list_incidents(subject=found.id)],
    }


@router.post(
    "/entities",
    tags=["entities"],
    status_code=201,
    summary="Add an entity to the knowledge base",
    responses={409: {"description": "The id or a name is taken, or the knowledge-base file is read-only"}},
)
def add_entity(
    body: EntityRequest, request: Request, token: Annotated[ApiToken, WriteToken]
) -> dict[str, Any]:
    from web.knowledge import EntityConflict, EntityEditError, entity_dict
    from web.knowledge import add_entity as append_entity

    state = app_state(request)
    try:
        added = append_entity(state.settings.knowledge_base_file, state.kb, body)
    except EntityConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except EntityEditError as exc:
        raise HTTPException(422, str(exc)) from None
    except OSError as exc:
        raise HTTPException(409, f"the knowledge-base file cannot be written here: {exc}") from None
    state.reload_kb()
    return entity_dict(added)


# Corrections ----------------------------------------------------------------------------------


@router.post(
    "/corrections",
    tags=["corrections"],
    status_code=201,
    summary="Correct or dismiss a claim",
    responses={404: {"description": "No such article, or no such claim in it"}},
)
def create_correction(
    body: CorrectionRequest,
    background: BackgroundTasks,
    settings: SettingsDep,
    store: StoreDep,
    kb: KbDep,
    token: Annotated[ApiToken, WriteToken],
) -> dict[str, Any]:
    from search.corrections import ClaimNotFound, CorrectionError, correct_claim

    try:
        outcome = correct_claim(store, kb, body, token_id=token.id)
    except ClaimNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except CorrectionError as exc:
        raise HTTPException(422, str(exc)) from None
    if outcome.alerts:
        background.add_task(_deliver, settings, store, outcome.alerts)
    corrections = store.list_corrections(outcome.analysed.id)
    return {
        "correction": to_dict(outcome.correction),
        "article": article_detail(outcome.analysed, _corrected_keys(outcome.analysed, corrections)),
        "incident_ids": outcome.incident_ids,
        "alerts_planned": len(outcome.alerts),
    }


@router.get("/corrections", tags=["corrections"], summary="Corrections made so far")
def list_corrections(
    store: StoreDep,
    _: Annotated[ApiToken | None, ReadAccess],
    article_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> dict[str, Any]:
    found = store.list_corrections(article_id)
    return {"total": len(found), "corrections": [to_dict(c) for c in found]}


@router.get(
    "/corrections/export.jsonl",
    tags=["corrections"],
    summary="Corrections as labelled examples (NLP dev-set JSONL)",
    response_class=Response,
)
def export_corrections(store: StoreDep, _: Annotated[ApiToken, ReadToken]) -> Response:
    from search.corrections import labelled_examples

    lines = [json.dumps(example, ensure_ascii=False) + "\n" for example in labelled_examples(store)]
    return Response(
        "".join(lines).encode("utf-8"),
        media_type="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="shellwatch-corrections.jsonl"'},
    )


# Subscriptions ----------------------------------------------------------------------------------


@router.post("/subscriptions", tags=["subscriptions"], status_code=201, summary="Subscribe to alerts")
def create_subscription(
    body: SubscriptionRequest,
    settings: SettingsDep,
    store: StoreDep,
    kb: KbDep,
    _: Annotated[ApiToken, WriteToken],
) -> dict[str, Any]:
    from alerts.errors import SubscriptionError
    from alerts.subscriptions import create_subscription as create

    try:
        subscription = create(settings, store, kb, body)
    except SubscriptionError as exc:
        raise HTTPException(422, str(exc)) from None
    return _subscription(settings, store, subscription, with_secret=True)


@router.get("/subscriptions", tags=["subscriptions"], summary="Every subscription (private)")
def list_subscriptions(
    settings: SettingsDep, store: StoreDep, _: Annotated[ApiToken, ReadToken]
) -> dict[str, Any]:
    found = store.list_subscriptions()
    return {"total": len(found), "subscriptions": [_subscription(settings, store, s) for s in found]}


@router.get("/subscriptions/{subscription_id}", tags=["subscriptions"], summary="One subscription")
def get_subscription(
    subscription_id: Id, settings: SettingsDep, store: StoreDep, _: Annotated[ApiToken, ReadToken]
) -> dict[str, Any]:
    subscription = _find_subscription(store, subscription_id)
    data = _subscription(settings, store, subscription, with_status=True)
    data["recent_alerts"] = [to_dict(a) for a in store.list_alerts(subscription.id, limit=20)]
    return data


@router.post("/subscriptions/{subscription_id}/pause", tags=["subscriptions"], summary="Pause alerts")
def pause_subscription(
    subscription_id: Id, settings: SettingsDep, store: StoreDep, _: Annotated[ApiToken, WriteToken]
) -> dict[str, Any]:
    return _set_paused(settings, store, subscription_id, True)


@router.post("/subscriptions/{subscription_id}/resume", tags=["subscriptions"], summary="Resume alerts")
def resume_subscription(
    subscription_id: Id, settings: SettingsDep, store: StoreDep, _: Annotated[ApiToken, WriteToken]
) -> dict[str, Any]:
    return _set_paused(settings, store, subscription_id, False)


@router.delete("/subscriptions/{subscription_id}", tags=["subscriptions"], status_code=204, summary="Delete")
def delete_subscription(subscription_id: Id, store: StoreDep, _: Annotated[ApiToken, WriteToken]) -> Response:
    from alerts.subscriptions import SubscriptionNotFound
    from alerts.subscriptions import delete_subscription as delete

    try:
        delete(store, subscription_id)
    except SubscriptionNotFound:
        raise HTTPException(404, f"no subscription {subscription_id!r}") from None
    return Response(status_code=204)


@router.post("/subscriptions/{subscription_id}/test", tags=["subscriptions"], summary="Send a test message")
def test_subscription(
    subscription_id: Id, settings: SettingsDep, store: StoreDep, _: Annotated[ApiToken, WriteToken]
) -> dict[str, Any]:
    from alerts.delivery import test_deliver

    subscription = _find_subscription(store, subscription_id)
    results = test_deliver(settings, store, subscription)
    return {"ok": not any(": failed:" in line for line in results), "results": results}


# Digests and sources ----------------------------------------------------------------------------


@router.get(
    "/digests/{filename}",
    tags=["digests"],
    summary="A monthly digest: /api/digests/2023-12.pdf (or .md, .html, .json, .csv)",
    response_class=Response,
)
def digest(
    filename: Annotated[str, Path(max_length=20, description="YYYY-MM.FORMAT, e.g. 2023-12.pdf")],
    store: StoreDep,
    kb: KbDep,
    _: Annotated[ApiToken | None, ReadAccess],
    lang: Literal["en", "zh"] = "en",
) -> Response:
    from digests import FORMATS, MEDIA_TYPES, DigestError, MonthError, build_digest, parse_month, render

    match = DIGEST_NAME.fullmatch(filename)
    if match is None or match.group("fmt") not in FORMATS:
        raise HTTPException(404, f"no digest {filename!r}: ask for YYYY-MM.{{{','.join(FORMATS)}}}")
    month, fmt = match.group("month"), match.group("fmt")
    try:
        parse_month(month)
        payload = render(build_digest(store, kb, month, lang), fmt)
    except MonthError as exc:
        raise HTTPException(422, f"month: {exc}") from None
    except DigestError as exc:
        raise HTTPException(503, f"the digest cannot be produced here: {exc}") from None
    name = f"shellwatch-digest-{month}-{lang}.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(
        payload,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )


@router.get("/sources", tags=["service"], summary="The source registry with crawl status")
def sources(
    settings: SettingsDep, store: StoreDep, _: Annotated[ApiToken | None, ReadAccess]
) -> dict[str, Any]:
    from web.sources import source_statuses

    return {"sources": [status.as_dict() for status in source_statuses(settings, store)]}


# Feeds and unsubscribe links (their own tokens) ------------------------------------------------------


@feeds.get("/feeds/{subscription_id}.atom", tags=["subscriptions"], summary="A subscription's Atom feed")
def feed(
    subscription_id: Id,
    settings: SettingsDep,
    store: StoreDep,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    from alerts.feed import FeedNotFound, render_feed

    try:
        body = render_feed(store, subscription_id, token, settings)
    except FeedNotFound:
        raise HTTPException(404, "no feed at this address") from None
    return Response(body, media_type="application/atom+xml; charset=utf-8")


# Helpers ----------------------------------------------------------------------------------------


def _entity_id(kb: Any, name: str | None) -> str | None:
    if not name or not name.strip():
        return None
    found = kb.get(name.strip()) or kb.resolve(name.strip())
    if found is None:
        raise HTTPException(422, f"entity: no entity called {name!r} in the knowledge base")
    return found.id


def _find_subscription(store: Store, subscription_id: str):
    subscription = store.get_subscription(subscription_id)
    if subscription is None:
        raise HTTPException(404, f"no subscription {subscription_id!r}")
    return subscription


def _set_paused(settings: Settings, store: Store, subscription_id: str, paused: bool) -> dict[str, Any]:
    from alerts.subscriptions import SubscriptionNotFound, set_paused

    try:
        subscription = set_paused(store, subscription_id, paused)
    except SubscriptionNotFound:
        raise HTTPException(404, f"no subscription {subscription_id!r}") from None
    return _subscription(settings, store, subscription)


def _subscription(
    settings: Settings, store: Store, subscription: Any, with_secret: bool = False, with_status: bool = False
) -> dict[str, Any]:
    from alerts.messages import subscription_links

    data = to_dict(subscription)
    if not with_secret:
        data.pop("secret")
    data["links"] = subscription_links(settings, subscription)
    if with_status:
        from dataclasses import asdict

        from alerts.delivery import channel_statuses

        data["channel_status"] = [
            {**asdict(s), "since": s.since.isoformat() if s.since else None}
            for s in channel_statuses(store, subscription)
        ]
    return data


def _corrected_keys(analysed: Any, corrections: list[Any]) -> set[str]:
    """Keys of the claims as the corrections left them (the stored article already has them applied)."""
    from search.corrections import claim_key, corrected_claim

    return {claim_key(analysed.id, corrected_claim(c.before, c)) for c in corrections if not c.dismissed}


def _deliver(settings: Settings, store: Store, alerts: list[Any]) -> None:
    from alerts.delivery import deliver_alerts

    deliver_alerts(settings, store, alerts)
