"""barecount server: the local Prefect server under BARECOUNT_HOME."""

from __future__ import annotations

import typer

from barecount.cli.output import out

app = typer.Typer(help="Start, stop or check the local Prefect server.", no_args_is_help=True)


@app.command("start")
def start() -> None:
    """Start this home's local Prefect server (reused when already running)."""
    from barecount.prefect_api import start_local_server, ui_url

    url = start_local_server()
    out.print(f"Prefect server: {ui_url(url)}  (API {url})", markup=False)


@app.command("stop")
def stop() -> None:
    """Stop this home's local Prefect server."""
    from barecount.prefect_api import stop_local_server

    out.print("stopped" if stop_local_server() else "no local server was running")


@app.command("status")
def status() -> None:
    """Say which Prefect API BareCount would use and whether it answers."""
    from rich.markup import escape

    from barecount.local_server import running_server
    from barecount.prefect_api import api_headers, configured_api_url, is_healthy, redact
    from barecount.settings import get_settings

    settings = get_settings()
    configured = configured_api_url(settings)
    url = configured or running_server(settings)
    if url is None:
        out.print(f"local Prefect API: [red]down[/] (no server started for {settings.home})")
        raise typer.Exit(1)
    healthy = is_healthy(url, headers=api_headers())
    state = "[green]up[/]" if healthy else "[red]down[/]"
    kind = "configured" if configured else "local"
    out.print(f"{kind} Prefect API {escape(redact(url))}: {state}")
    if not healthy:
        raise typer.Exit(1)
