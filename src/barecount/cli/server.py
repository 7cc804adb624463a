"""barecount server: the local Prefect server under BARECOUNT_HOME."""

from __future__ import annotations

import typer

from barecount.cli.output import out

app = typer.Typer(help="Start, stop or check the local Prefect server.", no_args_is_help=True)


@app.command("start")
def start() -> None:
    """Start the local Prefect server (reused when already running)."""
    from barecount.prefect_api import start_local_server, ui_url

    url = start_local_server()
    out.print(f"Prefect server: {ui_url(url)}  (API {url})")


@app.command("stop")
def stop() -> None:
    """Stop the local Prefect server."""
    from barecount.prefect_api import stop_local_server

    out.print("stopped" if stop_local_server() else "no local server was running")


@app.command("status")
def status() -> None:
    """Say which Prefect API BareCount would use and whether it answers."""
    from barecount.prefect_api import is_healthy, redact
    from barecount.settings import get_settings

    settings = get_settings()
    url = settings.prefect_api_url or settings.local_api_url
    state = "[green]up[/]" if is_healthy(url) else "[red]down[/]"
    kind = "configured" if settings.prefect_api_url else "local"
    out.print(f"{kind} Prefect API {redact(url)}: {state}")
    if not is_healthy(url):
        raise typer.Exit(1)
