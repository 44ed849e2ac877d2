"""`shellwatch subscribe` and `shellwatch subscriptions`.

    shellwatch subscribe --name "ByteDance watch" --entity ByteDance --type api_distilled \\
        --webhook https://example.org/hook --email me@example.org --feed --frequency immediate
    shellwatch subscriptions [list|show ID|pause ID|resume ID|delete ID|test ID] [--json]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

import click

from shellwatch.cli_support import echo_json, opened_store, pass_settings
from shellwatch.config import Settings
from shellwatch.domain import (
    Channel,
    ChannelKind,
    ClaimType,
    Frequency,
    Language,
    Stance,
    Subscription,
    to_dict,
)


@click.command()
@click.option("--name", required=True, help="A name for the subscription.")
@click.option(
    "--entity", "entities", multiple=True, help="Organisation, model or person, any script (repeatable)."
)
@click.option(
    "--type",
    "claim_types",
    multiple=True,
    type=click.Choice([t.value for t in ClaimType]),
    help="Claim type (repeatable).",
)
@click.option(
    "--max-depth",
    type=click.IntRange(1, 5),
    help="Only wrapping depth ≤ N (1 = API reseller … 5 = Llama-based).",
)
@click.option(
    "--stance",
    "stances",
    multiple=True,
    type=click.Choice([s.value for s in Stance]),
    help="Stances to hear about (default: allegation; add denial/admission for responses).",
)
@click.option(
    "--language",
    "languages",
    multiple=True,
    type=click.Choice([lang.value for lang in Language]),
    help="Article language (repeatable).",
)
@click.option("--query", help="Free-text query in the search syntax.")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True)
@click.option(
    "--frequency", type=click.Choice([f.value for f in Frequency]), default="immediate", show_default=True
)
@click.option("--webhook", "webhooks", multiple=True, help="Webhook URL receiving signed JSON (repeatable).")
@click.option("--slack", "slack_webhooks", multiple=True, help="Slack incoming-webhook URL (repeatable).")
@click.option("--email", "emails", multiple=True, help="E-mail address (repeatable).")
@click.option("--feed", is_flag=True, help="Also publish an Atom feed at a secret URL.")
@click.option("--json", "as_json", is_flag=True, help="Print the subscription as JSON.")
@pass_settings
def subscribe(
    settings: Settings,
    name: str,
    entities: tuple[str, ...],
    claim_types: tuple[str, ...],
    max_depth: int | None,
    stances: tuple[str, ...],
    languages: tuple[str, ...],
    query: str | None,
    min_confidence: float,
    frequency: str,
    webhooks: tuple[str, ...],
    slack_webhooks: tuple[str, ...],
    emails: tuple[str, ...],
    feed: bool,
    as_json: bool,
) -> None:
    """Subscribe to alerts on new allegations."""
    from alerts.subscriptions import SubscriptionRequest, create_subscription

    channels = [Channel(kind=ChannelKind.WEBHOOK, target=url) for url in webhooks]
    channels += [Channel(kind=ChannelKind.WEBHOOK, target=url, format="slack") for url in slack_webhooks]
    channels += [Channel(kind=ChannelKind.EMAIL, target=address) for address in emails]
    if feed:
        channels.append(Channel(kind=ChannelKind.FEED))
    request = SubscriptionRequest(
        name=name,
        entities=list(entities),
        claim_types=[ClaimType(t) for t in claim_types],
        max_depth=max_depth,
        stances=[Stance(s) for s in stances] or [Stance.ALLEGATION],
        languages=[Language(lang) for lang in languages],
        query=query,
        min_confidence=min_confidence,
        frequency=Frequency(frequency),
        channels=channels,
    )
    with opened_store(settings) as store, _errors():
        subscription = create_subscription(settings, store, _knowledge_base(settings), request)
    if as_json:
        echo_json(_with_links(settings, subscription))
        return
    click.echo(f"subscribed: {subscription.id} ({subscription.name})")
    _echo_details(settings, subscription)
    click.echo("Webhook signing secret (keep it private; `subscriptions show ID` prints it again):")
    click.echo(f"  {subscription.secret}")


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def subscriptions(ctx: click.Context, as_json: bool) -> None:
    """List, show, pause, resume, delete or test subscriptions (default: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command, as_json=as_json)


@subscriptions.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def list_command(settings: Settings, as_json: bool) -> None:
    """List every subscription."""
    with opened_store(settings) as store:
        items = store.list_subscriptions()
    if as_json:
        echo_json([_public(s) for s in items])
        return
    if not items:
        click.echo("no subscriptions; create one with `shellwatch subscribe --name … --webhook …`")
        return
    for s in items:
        channels = ", ".join(c.kind.value for c in s.channels)
        state = "paused" if s.paused else "active"
        click.echo(f"{s.id}  {state:6}  {s.frequency.value:9}  {s.name}  [{channels}]  {_filters(s)}")


@subscriptions.command("show")
@click.argument("subscription_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def show_command(settings: Settings, subscription_id: str, as_json: bool) -> None:
    """Show a subscription, its channels' delivery status and its latest alerts."""
    from alerts.delivery import channel_statuses
    from alerts.subscriptions import get_subscription

    with opened_store(settings) as store, _errors():
        subscription = get_subscription(store, subscription_id)
        statuses = channel_statuses(store, subscription)
        alerts = store.list_alerts(subscription.id, limit=10)
    if as_json:
        data = _with_links(settings, subscription)
        data["channel_status"] = [
            {**asdict(s), "since": s.since.isoformat() if s.since else None} for s in statuses
        ]
        data["recent_alerts"] = [to_dict(a) for a in alerts]
        echo_json(data)
        return
    click.echo(f"{subscription.id}  {subscription.name}  ({'paused' if subscription.paused else 'active'})")
    _echo_details(settings, subscription)
    click.echo(f"  secret: {subscription.secret}")
    click.echo("channels:")
    for status in statuses:
        line = f"  {status.channel}: {status.state}"
        if status.since and status.state == "failing":
            line += f" since {status.since:%Y-%m-%d %H:%M} UTC"
        if status.last_error:
            line += f" (attempts {status.attempts}; last error: {status.last_error})"
        click.echo(line)
    click.echo(f"recent alerts ({len(alerts)}):")
    for alert in alerts:
        claim = alert.claim
        click.echo(
            f"  {alert.created_at:%Y-%m-%d %H:%M}  {claim.stance.value:10} {claim.subject_name} — {claim.type.value}"
        )


@subscriptions.command("pause")
@click.argument("subscription_id")
@pass_settings
def pause_command(settings: Settings, subscription_id: str) -> None:
    """Stop alerts until resumed."""
    _set_paused(settings, subscription_id, True)


@subscriptions.command("resume")
@click.argument("subscription_id")
@pass_settings
def resume_command(settings: Settings, subscription_id: str) -> None:
    """Resume a paused subscription."""
    _set_paused(settings, subscription_id, False)


@subscriptions.command("delete")
@click.argument("subscription_id")
@pass_settings
def delete_command(settings: Settings, subscription_id: str) -> None:
    """Delete a subscription."""
    from alerts.subscriptions import delete_subscription

    with opened_store(settings) as store, _errors():
        delete_subscription(store, subscription_id)
    click.echo(f"deleted {subscription_id}")


@subscriptions.command("test")
@click.argument("subscription_id")
@pass_settings
def test_command(settings: Settings, subscription_id: str) -> None:
    """Send a test message on every channel and print each result."""
    from alerts import delivery
    from alerts.subscriptions import get_subscription

    with opened_store(settings) as store, _errors():
        results = delivery.test_deliver(settings, store, get_subscription(store, subscription_id))
    for line in results:
        click.echo(line)
    if any(": failed:" in line for line in results):
        raise click.ClickException("at least one channel failed")


def _set_paused(settings: Settings, subscription_id: str, paused: bool) -> None:
    from alerts.subscriptions import set_paused

    with opened_store(settings) as store, _errors():
        set_paused(store, subscription_id, paused)
    click.echo(f"{'paused' if paused else 'resumed'} {subscription_id}")


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the alerts stage's user-facing errors into clean CLI errors."""
    from alerts.errors import SubscriptionError
    from alerts.subscriptions import SubscriptionNotFound

    try:
        yield
    except (SubscriptionError, SubscriptionNotFound) as exc:
        raise click.ClickException(str(exc.args[0] if exc.args else exc)) from None


def _knowledge_base(settings: Settings):
    from nlp.knowledge_base import KnowledgeBaseError, load_knowledge_base

    try:
        return load_knowledge_base(settings.knowledge_base_file)
    except KnowledgeBaseError as exc:
        raise click.ClickException(str(exc)) from None


def _public(subscription: Subscription) -> dict:
    data = to_dict(subscription)
    data.pop("secret")
    return data


def _with_links(settings: Settings, subscription: Subscription) -> dict:
    from alerts.messages import subscription_links

    data = to_dict(subscription)
    data["links"] = subscription_links(settings, subscription)
    return data


def _filters(subscription: Subscription) -> str:
    parts = []
    if subscription.entities:
        parts.append("entities=" + ",".join(subscription.entities))
    if subscription.claim_types:
        parts.append("types=" + ",".join(t.value for t in subscription.claim_types))
    if subscription.max_depth is not None:
        parts.append(f"depth<={subscription.max_depth}")
    if subscription.stances != [Stance.ALLEGATION]:
        parts.append("stances=" + ",".join(s.value for s in subscription.stances))
    if subscription.languages:
        parts.append("lang=" + ",".join(lang.value for lang in subscription.languages))
    if subscription.query:
        parts.append(f"query={subscription.query!r}")
    if subscription.min_confidence:
        parts.append(f"confidence>={subscription.min_confidence:g}")
    return " ".join(parts)


def _echo_details(settings: Settings, subscription: Subscription) -> None:
    from alerts.channels import channel_label
    from alerts.messages import subscription_links

    click.echo(f"  frequency: {subscription.frequency.value}")
    click.echo(f"  filters: {_filters(subscription) or '(every new allegation)'}")
    click.echo("  channels: " + ", ".join(channel_label(c) for c in subscription.channels))
    links = subscription_links(settings, subscription)
    if "feed" in links:
        click.echo(f"  feed URL: {links['feed']}")
    click.echo(f"  unsubscribe: {links['unsubscribe']}")
