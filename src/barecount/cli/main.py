"""Entry point of the ``barecount`` command: subcommands and the one place errors are caught."""

from __future__ import annotations

import sys

import typer

from barecount.cli import backfill as backfill_cmds
from barecount.cli import console as console_cmds
from barecount.cli import evidence as evidence_cmds
from barecount.cli import gitops as gitops_cmds
from barecount.cli import governance as governance_cmds
from barecount.cli import ledger as ledger_cmds
from barecount.cli import lineage as lineage_cmds
from barecount.cli import manifests as manifests_cmds
from barecount.cli import run as run_cmds
from barecount.cli import schedule as schedule_cmds
from barecount.cli import server as server_cmds
from barecount.cli import status as status_cmds
from barecount.cli.output import fail, print_errors_json, printed
from barecount.errors import BareCountError, ManifestError
from barecount.settings import get_settings

app = typer.Typer(
    name="barecount",
    help="Governed orchestration of BareCount pipelines on Prefect 3.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
manifests_cmds.register(app)
run_cmds.register(app)
ledger_cmds.register(app)
governance_cmds.register(app)
gitops_cmds.register(app)
schedule_cmds.register(app)
backfill_cmds.register(app)
status_cmds.register(app)
console_cmds.register(app)
evidence_cmds.register(app)
lineage_cmds.register(app)
app.add_typer(server_cmds.app, name="server")


def versions() -> str:
    """BareCount's, Prefect's and Python's versions, in one line."""
    import platform
    from importlib.metadata import version

    return (
        f"barecount {version('barecount')}, prefect {version('prefect')}, "
        f"python {platform.python_version()}"
    )


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(versions())
        raise typer.Exit(0)


@app.callback()
def _settings_first(
    _version: bool = typer.Option(
        False,
        "--version",
        help="Print the versions of barecount, Prefect and Python, and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """Read the BARECOUNT_* settings before any command runs: a bad one stops here, in one
    line that names the variable, not inside a flow run."""
    get_settings()


def usage_line(exc: typer.TyperException) -> str:
    """Click's usage error as one line, with where to read more."""
    message = " ".join(exc.format_message().splitlines())
    ctx = getattr(exc, "ctx", None)
    return f"{message} (see '{ctx.command_path} --help')" if ctx is not None else message


def problems_of(exc: BaseException) -> list[str]:
    """An error as the lines of its problems (a ManifestError has one per problem)."""
    if isinstance(exc, ManifestError):
        return list(exc.problems)
    return [" ".join(str(exc).split())]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input ends in one clear message and the README's exit code, never a
    traceback. With --json the errors are JSON on stdout too: {"errors": [...]}."""
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    printed["json"] = 0  # main() runs many times in one test process
    try:
        return _main(args)
    except typer.TyperException as exc:  # usage errors (typer vendors click since 0.26)
        if as_json:
            print_errors_json([usage_line(exc)])
        fail(usage_line(exc))
        return exc.exit_code
    except BareCountError as exc:
        if as_json:
            print_errors_json(problems_of(exc))
        fail(str(exc))
        return exc.exit_code


def _main(argv: list[str]) -> int:
    try:
        result = app(args=argv, prog_name="barecount", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:
        if type(exc).__name__ != "NoArgsIsHelpError":  # no public name: typer checks so too
            raise
        exc.show()  # 'barecount keys': the help, exit 2
        return exc.exit_code
    except typer.Abort:
        fail("aborted")
        return 130
    except KeyboardInterrupt:
        fail("interrupted")
        return 130
    return result if isinstance(result, int) else 0


def entrypoint() -> None:
    """Console script ``barecount``."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":  # pragma: no cover
    entrypoint()
