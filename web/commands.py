"""`shellwatch serve` and `shellwatch tokens`.

shellwatch serve [--host 127.0.0.1] [--port 8000]
shellwatch tokens create --name NAME [--scope write|read]   (prints the token once)
shellwatch tokens list [--json]
shellwatch tokens revoke ID
"""

from __future__ import annotations

import click

from shellwatch.cli_support import echo_json, opened_store, pass_settings
from shellwatch.config import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=click.IntRange(0, 65535), show_default=True)
@pass_settings
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the HTTP API and the web app."""
    import uvicorn

    from web.app import create_app

    click.echo(f"ShellWatch web app: http://{host}:{port}/  (API docs: /docs)", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens."""


@tokens.command("create")
@click.option("--name", required=True, help="Who or what uses the token, e.g. 'newsroom analyst'.")
@click.option(
    "--scope",
    type=click.Choice(["write", "read"]),
    default="write",
    show_default=True,
    help="write: change subscriptions, corrections, the knowledge base (and read); read: private reads.",
)
@pass_settings
def create_command(settings: Settings, name: str, scope: str) -> None:
    """Create a token and print it (it is shown only this once)."""
    from search.backends.admin import TokenScope
    from web.auth import TokenError, create_token

    with opened_store(settings) as store:
        try:
            token, secret = create_token(store, name, TokenScope(scope))
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"created token {token.id} ({token.name}, {token.scope.value}). Keep it secret; it is not shown again:"
    )
    click.echo(secret)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def list_command(settings: Settings, as_json: bool) -> None:
    """List tokens (never their secrets)."""
    with opened_store(settings) as store:
        found = store.list_api_tokens()
    if as_json:
        echo_json(
            [t.model_dump(mode="json", exclude={"salt", "digest"}) for t in found]  # no secret material
        )
        return
    if not found:
        click.echo("no tokens; create one with `shellwatch tokens create --name NAME`")
        return
    for token in found:
        state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
        click.echo(
            f"{token.id}  {token.scope.value:5}  {state:18}  {token.created_at:%Y-%m-%d}  {token.name}"
        )


@tokens.command("revoke")
@click.argument("token_id")
@pass_settings
def revoke_command(settings: Settings, token_id: str) -> None:
    """Revoke a token: it stops working at once."""
    from web.auth import TokenError, revoke_token

    with opened_store(settings) as store:
        try:
            revoke_token(store, token_id)
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {token_id}")
