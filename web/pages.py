"""The web app: server-rendered pages (Jinja2, autoescaped) in English or Chinese.

Pages read the store like the API does. Actions that change state (corrections, subscriptions,
knowledge-base additions) are HTML forms posted back here; they need the API token a user signs in
with on /token (kept in an HttpOnly, SameSite=Strict cookie) and carry a CSRF field derived from it.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from search.backends.admin import ApiToken, TokenScope
from search.backends.base import QueryError
from shellwatch.domain import ChannelKind, ClaimType, EntityType, Frequency, Language, Stance
from web.auth import allows, verify_token
from web.deps import TOKEN_COOKIE, app_state, cookie_token, csrf_ok, csrf_value
from web.i18n import LANG_COOKIE, LANGUAGES, Translator, request_language

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE_SIZE = 20
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MARK = re.compile(r"</?mark>")

router = APIRouter(include_in_schema=False)

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"], default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _highlighted(snippet: str) -> Markup:
    """A search snippet: the store escapes the text and adds only <mark> tags. Anything else that
    looks like markup means that promise broke, so the whole snippet is escaped again."""
    if "<" in MARK.sub("", snippet) or ">" in MARK.sub("", snippet):
        return escape(snippet)
    return Markup(snippet)


def _safe_url(url: object) -> str:
    """Only http(s) links from the open web become links; `javascript:` and friends become '#'."""
    text = str(url or "")
    return text if urlsplit(text).scheme in ("http", "https") else "#"


def _date(moment: datetime | None, with_time: bool = False) -> str:
    if moment is None:
        return "—"
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


_environment.filters.update(highlighted=_highlighted, safe_url=_safe_url, date=_date)
_environment.globals.update(
    claim_types=list(ClaimType),
    stances=list(Stance),
    entity_types=list(EntityType),
    frequencies=list(Frequency),
    languages=list(Language),
)


# Rendering ------------------------------------------------------------------------------------


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    language = request_language(request)
    token = _page_token(request)
    cookie = request.cookies.get(TOKEN_COOKIE)
    body = _environment.get_template(template).render(
        request=request,
        t=Translator(language),
        lang=language,
        token=token,
        can_write=allows(token, TokenScope.WRITE),
        csrf=csrf_value(cookie) if cookie and token else "",
        lang_url=lambda code: _with_params(request, lang=code),
        url=lambda **params: _with_params(request, **params),
        **context,
    )
    response = HTMLResponse(body, status_code=status)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


def render_error(request: Request, status: int, detail: str) -> HTMLResponse:
    try:
        return render(request, "error.html", status=status, status_code=status, detail=detail)
    except Exception:  # noqa: BLE001 - the error page must not fail in turn (e.g. store down)
        log.exception("event=error-page-failed status=%s", status)
        return HTMLResponse(
            f"<!doctype html><title>{status}</title><p>{escape(detail)}</p>", status_code=status
        )


def _page_token(request: Request) -> ApiToken | None:
    if "page_token" not in request.scope:
        try:
            request.scope["page_token"] = cookie_token(request)
        except Exception:  # noqa: BLE001 - a page still renders (signed out) when the store is down
            request.scope["page_token"] = None
    return request.scope["page_token"]


def _with_params(request: Request, **params: Any) -> str:
    merged = {k: v for k, v in request.query_params.items() if k != "lang" or "lang" in params}
    for key, value in params.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    query = urlencode(merged)
    return request.url.path + ("?" + query if query else "")


def _require_read(request: Request) -> None:
    """Pages follow SHELLWATCH_API_READ_OPEN like the API: closed → sign in first."""
    if app_state(request).settings.api_read_open or _page_token(request) is not None:
        return
    raise HTTPException(401, Translator(request_language(request))("read_closed"))


def _require_write(request: Request, csrf: str | None) -> ApiToken:
    token = _page_token(request)
    t = Translator(request_language(request))
    if token is None:
        raise HTTPException(401, t("sign_in"))
    if not allows(token, TokenScope.WRITE):
        raise HTTPException(403, t("need_write_token"))
    if not csrf_ok(request, csrf):
        raise HTTPException(403, "the form is stale or came from another site: reload the page and try again")
    return token


def _id(value: str, what: str) -> str:
    if not ID.fullmatch(value):
        raise HTTPException(404, f"no {what} {value!r}")
    return value


async def _form(request: Request) -> dict[str, Any]:
    """The posted form; a body that is not a decodable form is a 400, not a crash."""
    try:
        form = await request.form()
    except Exception as exc:  # noqa: BLE001 - malformed multipart / urlencoded bodies
        raise HTTPException(400, f"the form could not be read: {exc}") from None
    data: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            data.setdefault(key, []).append(value)
    return {k: v if len(v) > 1 else v[0] for k, v in data.items()}


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if v]


# Search ---------------------------------------------------------------------------------------


@router.get("/")
def search_page(request: Request, q: str = "", offset: int = 0) -> HTMLResponse:
    _require_read(request)
    state = app_state(request)
    q = q[:1000]
    offset = max(0, min(offset, 10_000 - PAGE_SIZE))
    result, error, recent = None, None, []
    if q.strip():
        try:
            result = state.store.search(q, offset=offset, limit=PAGE_SIZE)
        except QueryError as exc:
            where = f" (position {exc.position})" if exc.position is not None else ""
            error = f"{exc}{where}"
    else:
        recent = sorted(state.store.list_incidents(), key=lambda i: i.started_at, reverse=True)[:8]
    hit_incidents = {}
    for incident_id in dict.fromkeys(
        i for hit in (result.hits if result else []) for i in hit.article.incident_ids
    ):
        detail = state.store.get_incident(incident_id)
        if detail is not None:
            hit_incidents[incident_id] = detail.incident
    return render(
        request,
        "search.html",
        hit_incidents=hit_incidents,
        status=400 if error else 200,
        q=q,
        offset=offset,
        page_size=PAGE_SIZE,
        result=result,
        error=error,
        recent=recent,
        facet_names=["type", "stance", "depth", "lang", "entity", "source", "month"],
    )


# Timeline -------------------------------------------------------------------------------------


@router.get("/timeline")
def timeline_page(request: Request, q: str = "", entity: str = "", zoom: str = "") -> HTMLResponse:
    from web.timeline import TYPE_COLOURS, ZoomError, interval_for, layout, parse_zoom

    _require_read(request)
    state = app_state(request)
    language = request_language(request)
    error = None
    q, entity = q[:1000], entity[:200]
    try:
        zoom = parse_zoom(zoom[:10])
    except ZoomError as exc:
        error, zoom = str(exc), ""
    entity_id = None
    if entity.strip():
        found = state.kb.get(entity.strip()) or state.kb.resolve(entity.strip())
        if found is None:
            error = f"entity: no entity called {entity!r} in the knowledge base"
        else:
            entity_id = found.id
    try:
        result = state.store.timeline(q, entity=entity_id, interval=interval_for(zoom))
    except QueryError as exc:
        error = f"q: {exc}"
        result = state.store.timeline("", entity=entity_id, interval=interval_for(zoom))
    chart = layout(result.incidents, result.histogram, zoom, language)
    shown = {bar.incident.id for bar in chart.bars}
    return render(
        request,
        "timeline.html",
        status=400 if error else 200,
        q=q,
        entity=entity,
        zoom=zoom,
        chart=chart,
        colours=TYPE_COLOURS,
        kb_entities=sorted(state.kb.entities, key=lambda e: e.name.lower()),
        incidents=[i for i in reversed(result.incidents) if i.id in shown],
        error=error,
    )


# Incidents and articles -------------------------------------------------------------------------


@router.get("/incidents")
def incidents_page(request: Request) -> RedirectResponse:
    return RedirectResponse(_with_params(request).replace("/incidents", "/timeline", 1), status_code=307)


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, incident_id: str) -> HTMLResponse:
    from web.views import incident_view

    _require_read(request)
    state = app_state(request)
    detail = state.store.get_incident(_id(incident_id, "incident"))
    if detail is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    corrections = state.store.list_corrections() if detail.articles else []
    view = incident_view(detail, state.kb, _corrected_keys(corrections))
    subject = state.kb.get(detail.incident.subject) if detail.incident.subject else None
    return render(request, "incident.html", view=view, incident=detail.incident, subject=subject)


@router.get("/articles/{article_id}")
def article_page(request: Request, article_id: str) -> HTMLResponse:
    from web.views import claim_views

    _require_read(request)
    state = app_state(request)
    analysed = state.store.get_article(_id(article_id, "article"))
    if analysed is None:
        raise HTTPException(404, f"no article {article_id!r}")
    corrections = state.store.list_corrections(analysed.id)
    incidents = [d.incident for i in analysed.incident_ids if (d := state.store.get_incident(i))]
    return render(
        request,
        "article.html",
        analysed=analysed,
        article=analysed.article,
        claims=claim_views(analysed, _corrected_keys(corrections)),
        corrections=corrections,
        incidents=incidents,
    )


@router.post("/corrections")
async def correction_form(request: Request) -> Response:
    from pydantic import ValidationError

    from search.corrections import ClaimNotFound, CorrectionError, CorrectionRequest, correct_claim

    form = await _form(request)
    token = _require_write(request, form.get("csrf"))
    state = app_state(request)
    try:
        body = CorrectionRequest(
            article_id=str(form.get("article_id", "")),
            claim_key=str(form.get("claim_key", "")),
            type=form.get("type") or None,
            stance=form.get("stance") or None,
            subject=(form.get("subject") or "").strip() or None,
            dismiss=form.get("dismiss") == "on",
            note=(form.get("note") or "").strip() or None,
        )
        outcome = correct_claim(state.store, state.kb, body, token_id=token.id)
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(_validation_messages(exc))) from None
    except ClaimNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except CorrectionError as exc:
        raise HTTPException(422, str(exc)) from None
    if outcome.alerts:
        from alerts.delivery import deliver_alerts

        try:
            deliver_alerts(state.settings, state.store, outcome.alerts)
        except Exception:  # noqa: BLE001 - delivery failures stay pending in the alerts stage
            log.exception("event=correction-alert-delivery-failed article=%s", body.article_id)
    back = str(form.get("back") or "")
    if not back.startswith("/") or back.startswith("//"):
        back = f"/articles/{body.article_id}"
    target = back
    if back.startswith("/incidents/"):  # stay on the incident unless the correction dissolved it
        back_id = back.removeprefix("/incidents/").split("?")[0]
        if state.store.get_incident(back_id) is None:
            target = (
                f"/incidents/{outcome.incident_ids[0]}"
                if outcome.incident_ids
                else f"/articles/{body.article_id}"
            )
    return RedirectResponse(target + ("&" if "?" in target else "?") + "saved=1", status_code=303)


# Entities -------------------------------------------------------------------------------------


@router.get("/entities")
def entities_page(request: Request, q: str = "", type: str = "") -> HTMLResponse:
    from web.knowledge import matching_entities

    _require_read(request)
    state = app_state(request)
    entity_type = EntityType(type) if type in {t.value for t in EntityType} else None
    found = matching_entities(state.kb, q[:200], entity_type)
    unknown = state.unknown_names(limit=50)
    return render(
        request,
        "entities.html",
        q=q[:200],
        type=type,
        entities=found[:300],
        total=len(found),
        unknown=unknown,
    )


@router.get("/entities/{entity_id}")
def entity_page(request: Request, entity_id: str) -> HTMLResponse:
    _require_read(request)
    state = app_state(request)
    entity = state.kb.get(entity_id[:200]) or state.kb.resolve(entity_id[:200])
    if entity is None:
        raise HTTPException(404, f"no entity {entity_id!r} in the knowledge base")
    return render(
        request,
        "entity.html",
        entity=entity,
        developer=state.kb.developer_of(entity.id),
        models=state.kb.models_of(entity.id),
        incidents=sorted(
            state.store.list_incidents(subject=entity.id), key=lambda i: i.started_at, reverse=True
        ),
    )


@router.post("/entities")
async def entity_form(request: Request) -> Response:
    from pydantic import ValidationError

    from web.knowledge import EntityEditError, EntityRequest, add_entity

    form = await _form(request)
    _require_write(request, form.get("csrf"))
    state = app_state(request)
    try:
        body = EntityRequest(
            id=str(form.get("id", "")).strip(),
            name=str(form.get("name", "")).strip(),
            type=form.get("type") or "model",
            names_zh=_split(form.get("names_zh")),
            aliases=_split(form.get("aliases")),
            developer=(form.get("developer") or "").strip() or None,
            description=(form.get("description") or "").strip() or None,
        )
        added = add_entity(state.settings.knowledge_base_file, state.kb, body)
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(_validation_messages(exc))) from None
    except EntityEditError as exc:
        raise HTTPException(422, str(exc)) from None
    except OSError as exc:
        raise HTTPException(409, f"the knowledge-base file cannot be written here: {exc}") from None
    state.reload_kb()
    return RedirectResponse(f"/entities/{added.id}?saved=1", status_code=303)


# Subscriptions --------------------------------------------------------------------------------


@router.get("/subscriptions")
def subscriptions_page(request: Request) -> HTMLResponse:
    from alerts.delivery import channel_statuses
    from alerts.messages import subscription_links

    state = app_state(request)
    token = _page_token(request)
    items = []
    if token is not None:
        for subscription in state.store.list_subscriptions():
            items.append(
                {
                    "subscription": subscription,
                    "links": subscription_links(state.settings, subscription),
                    "alerts": state.store.list_alerts(subscription.id, limit=5),
                    "statuses": channel_statuses(state.store, subscription),
                }
            )
    created = None
    created_id = request.query_params.get("created", "")
    if token is not None and ID.fullmatch(created_id):
        created = next((i for i in items if i["subscription"].id == created_id), None)
    return render(
        request,
        "subscriptions.html",
        items=items,
        created=created,
        test_results=request.query_params.getlist("result"),
        kb_entities=sorted(state.kb.entities, key=lambda e: e.name.lower()),
    )


@router.post("/subscriptions")
async def subscription_form(request: Request) -> Response:
    from pydantic import ValidationError

    from alerts.errors import SubscriptionError
    from alerts.subscriptions import SubscriptionRequest, create_subscription
    from shellwatch.domain import Channel

    form = await _form(request)
    _require_write(request, form.get("csrf"))
    state = app_state(request)
    channels = []
    for url in _split(form.get("webhook"), separator="\n"):
        channels.append(Channel(kind=ChannelKind.WEBHOOK, target=url))
    for url in _split(form.get("slack"), separator="\n"):
        channels.append(Channel(kind=ChannelKind.WEBHOOK, target=url, format="slack"))
    for address in _split(form.get("email"), separator="\n"):
        channels.append(Channel(kind=ChannelKind.EMAIL, target=address))
    if form.get("feed") == "on":
        channels.append(Channel(kind=ChannelKind.FEED))
    try:
        body = SubscriptionRequest(
            name=str(form.get("name", "")).strip() or "-",
            entities=_split(form.get("entities")),
            claim_types=_list(form.get("claim_types")),
            max_depth=form.get("max_depth") or None,
            stances=_list(form.get("stances")) or [Stance.ALLEGATION],
            languages=_list(form.get("languages")),
            query=(form.get("query") or "").strip() or None,
            frequency=form.get("frequency") or "immediate",
            channels=channels,
        )
        subscription = create_subscription(state.settings, state.store, state.kb, body)
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(_validation_messages(exc))) from None
    except SubscriptionError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse(
        f"/subscriptions?created={subscription.id}#sub-{subscription.id}", status_code=303
    )


@router.post("/subscriptions/{subscription_id}/{action}")
async def subscription_action(request: Request, subscription_id: str, action: str) -> Response:
    from alerts.delivery import test_deliver
    from alerts.subscriptions import SubscriptionNotFound, delete_subscription, get_subscription, set_paused

    form = await _form(request)
    _require_write(request, form.get("csrf"))
    state = app_state(request)
    _id(subscription_id, "subscription")
    results: list[str] = []
    try:
        if action == "pause":
            set_paused(state.store, subscription_id, True)
        elif action == "resume":
            set_paused(state.store, subscription_id, False)
        elif action == "delete":
            delete_subscription(state.store, subscription_id)
        elif action == "test":
            results = test_deliver(
                state.settings, state.store, get_subscription(state.store, subscription_id)
            )
        else:
            raise HTTPException(404, f"no action {action!r}")
    except SubscriptionNotFound:
        raise HTTPException(404, f"no subscription {subscription_id!r}") from None
    query = urlencode([("result", line) for line in results])
    return RedirectResponse(f"/subscriptions?{query}#sub-{subscription_id}", status_code=303)


# Digests, sources, sign-in, unsubscribe -----------------------------------------------------------


@router.get("/digests")
def digests_page(request: Request) -> HTMLResponse:
    from digests import FORMATS, last_month

    _require_read(request)
    state = app_state(request)
    months = sorted({i.started_at.strftime("%Y-%m") for i in state.store.list_incidents()}, reverse=True)
    return render(request, "digests.html", months=months, formats=FORMATS, default_month=last_month())


@router.get("/digests/download")
def digest_download(request: Request, month: str = "", lang: str = "en", format: str = "pdf") -> Response:
    """The digest form's target (works without JavaScript): redirect to the API's file URL."""
    from digests import FORMATS

    if not re.fullmatch(r"\d{4}-\d{2}", month):
        raise HTTPException(422, f"month: {month[:20]!r} is not a month: use YYYY-MM, e.g. 2023-12")
    if format not in FORMATS:
        raise HTTPException(422, f"format: use one of {', '.join(FORMATS)}")
    language = lang if lang in LANGUAGES else "en"
    return RedirectResponse(f"/api/digests/{month}.{format}?lang={language}", status_code=303)


@router.get("/sources")
def sources_page(request: Request) -> HTMLResponse:
    from web.sources import SourcesUnavailable, source_statuses

    _require_read(request)
    state = app_state(request)
    try:
        statuses, error = source_statuses(state.settings, state.store), None
    except SourcesUnavailable as exc:
        statuses, error = [], str(exc)
    return render(request, "sources.html", sources=statuses, error=error)


@router.get("/token")
def token_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "token.html", next=_local(next), invalid=False)


@router.post("/token")
async def token_form(request: Request) -> Response:
    form = await _form(request)
    presented = str(form.get("token", "")).strip()
    target = _local(str(form.get("next", "/")))
    token = verify_token(app_state(request).store, presented) if presented else None
    if token is None:
        return render(request, "token.html", status=401, next=target, invalid=True)
    response = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(
        TOKEN_COOKIE, presented, httponly=True, samesite="strict", secure=secure, max_age=30 * 86400
    )
    return response


@router.post("/token/sign-out")
async def sign_out(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(TOKEN_COOKIE)
    return response


@router.get("/unsubscribe/{subscription_id}")
def unsubscribe_page(request: Request, subscription_id: str, token: str = "") -> HTMLResponse:
    from alerts.tokens import token_matches

    subscription = app_state(request).store.get_subscription(_id(subscription_id, "subscription"))
    if subscription is None or not token_matches(subscription, "unsubscribe", token[:200]):
        raise HTTPException(404, "no subscription at this address")
    return render(request, "unsubscribe.html", subscription=subscription, link_token=token, done=False)


@router.post("/unsubscribe/{subscription_id}")
async def unsubscribe_action(request: Request, subscription_id: str, token: str = "") -> HTMLResponse:
    """Also the RFC 8058 one-click target (`List-Unsubscribe-Post`), so no CSRF field: the link's
    token is the credential."""
    from alerts.subscriptions import SubscriptionNotFound, unsubscribe

    try:
        subscription = unsubscribe(
            app_state(request).store, _id(subscription_id, "subscription"), token[:200]
        )
    except SubscriptionNotFound:
        raise HTTPException(404, "no subscription at this address") from None
    return render(request, "unsubscribe.html", subscription=subscription, link_token=token, done=True)


# Helpers ----------------------------------------------------------------------------------------


def _corrected_keys(corrections: list[Any]) -> set[str]:
    from search.corrections import claim_key, corrected_claim

    return {claim_key(c.article_id, corrected_claim(c.before, c)) for c in corrections if not c.dismissed}


def _split(value: Any, separator: str = ",") -> list[str]:
    text = " ".join(value) if isinstance(value, list) else str(value or "")
    parts = re.split(r"[,，、\n]" if separator == "," else r"[\r\n]+", text)
    return [p.strip() for p in parts if p.strip()]


def _local(target: str) -> str:
    """Only same-site redirect targets (no open redirect through ?next=)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _validation_messages(exc: Any) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()]
