"""console: serve the governance web console; issue approvers' login tokens."""

from __future__ import annotations

from pathlib import Path

import typer

from barecount.cli.output import out
from barecount.settings import get_settings

console_app = typer.Typer(
    help="The governance web console (pipelines, pending approvals, evidence, backfills).",
    invoke_without_command=True,
)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@console_app.callback()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; loopback by default."),
    port: int = typer.Option(8787, "--port", min=1, max=65535, help="Port to listen on."),
    manifests: Path | None = typer.Option(
        None, "-m", "--manifests", help="Manifests folder (default: BARECOUNT_MANIFESTS)."
    ),
) -> None:
    """Serve the console at http://HOST:PORT until interrupted."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"manifests": manifests}
        return
    import uvicorn

    from barecount.console.app import create_app
    from barecount.console.options import console_options

    settings = get_settings()
    options = console_options()  # a bad BARECOUNT_CONSOLE_* value stops here, in one line
    allowed = ["127.0.0.1", "localhost"] if host in LOOPBACK else [host, "127.0.0.1", "localhost"]
    if host in ("0.0.0.0", "::"):
        allowed = ["*"]
        out.print(
            "[yellow]warning:[/] serving on every interface"
            + (
                "; BARECOUNT_CONSOLE_PUBLIC=true lets anyone who reaches this port read the ledger"
                if options.public
                else " (every page needs an approver's login)"
            )
        )
    app = create_app(
        settings,
        manifests=manifests or settings.manifests,
        allowed_hosts=allowed,
        options=options,
    )
    shown = f"[{host}]" if ":" in host else host
    out.print(f"BareCount console on http://{shown}:{port}/ (Ctrl+C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@console_app.command("token")
def token(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Approver name, as listed on a team."),
    manifests: Path | None = typer.Option(
        None, "-m", "--manifests", help="Manifests folder (default: BARECOUNT_MANIFESTS)."
    ),
) -> None:
    """Issue NAME a new console login token (replaces the old one and ends NAME's sessions)."""
    from barecount.console.auth import issue_token
    from barecount.manifest import load_manifests

    settings = get_settings()
    folder = manifests or (ctx.obj or {}).get("manifests") or settings.manifests
    value = issue_token(settings.home, name, load_manifests(folder))
    out.print(f"login token for {name} (shown once; log in at /login; their sessions ended):")
    out.file.write(value + "\n")


def register(app: typer.Typer) -> None:
    app.add_typer(console_app, name="console")
