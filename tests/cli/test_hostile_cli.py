"""Hostile command lines and settings (issue 13, items 4 and 7), with the audit's inputs.

Every case runs the real ``barecount`` in a subprocess and expects one line on stderr, no
traceback, nothing on stdout, the right exit code (2: the argument or setting is malformed by
itself; 1: well-formed, but it names nothing usable), and nothing written. The Prefect API
points at a port where nothing listens: a command that got as far as Prefect would say that
instead, so each case also shows the input was refused before any flow could start.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from bc_testkit import spawn_cli

DEAD_API = "http://127.0.0.1:9/api"
DAY = "2026-11-26"


@pytest.fixture
def sandbox(tmp_path: Path, manifests: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A BareCount home deep inside tmp_path (so '../../..' stays in it), a dead Prefect API."""
    home = tmp_path / "a" / "b" / "c" / "home"
    home.mkdir(parents=True)
    monkeypatch.setenv("BARECOUNT_HOME", str(home))
    monkeypatch.setenv("BARECOUNT_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("PREFECT_API_URL", DEAD_API)
    monkeypatch.setenv("BARECOUNT_MANIFESTS", str(manifests))
    monkeypatch.delenv("BARECOUNT_PREFECT_API_URL", raising=False)
    return home


def barecount(*args: str) -> tuple[int, str, str]:
    process = spawn_cli(*args)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def files_under(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def one_error_line(result: tuple[int, str, str], code: int, *fragments: str) -> str:
    returncode, out, err = result
    assert "Traceback" not in out + err, err
    assert returncode == code, (out, err)
    assert out == "", out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


RANGE_CASES = [
    (["console", "--port", "99999"], "Invalid value for '--port'", "65535"),
    (["console", "--port", "0"], "Invalid value for '--port'", "greater than or equal to 1"),
    (["runs", "--limit", "99999999999999999999"], "Invalid value for '--limit'", "10000"),
    (["runs", "-n", "0"], "Invalid value for '--limit'", "greater than or equal to 1"),
    (
        [
            "backfill",
            "run",
            "finance-kpi",
            "--start",
            DAY,
            "--end",
            DAY,
            "--parallel",
            "99999999999",
        ],
        "Invalid value for '--parallel'",
        "less than or equal to 64",
    ),
    (["backfill", "show", "99999999999999999999"], "Invalid value for 'ID'"),
    (["approve", "rt-1", "--as", "alice", "--wait", "1e12"], "Invalid value for '--wait'"),
    (["reject", "rt-1", "--as", "alice", "--reason", "r", "--wait", "-1"], "'--wait'"),
    (["serve", "--limit", "0"], "Invalid value for '--limit'"),
]

CHOICE_AND_SHAPE_CASES = [
    (
        ["backfill", "run", "finance-kpi", "--start", DAY, "--end", DAY, "--mode", "bogus"],
        "Invalid value for '--mode': 'bogus' is not one of missing, failed, all",
    ),
    (
        ["backfill", "run", "finance-kpi", "--start", DAY, "--end", DAY, "--contract", "bogus"],
        "bad contract pin 'bogus'; write NAME@VERSION, e.g. invoices@1.0.0",
    ),
    (
        [
            "backfill",
            "run",
            "finance-kpi",
            "--start",
            DAY,
            "--end",
            DAY,
            "--contract",
            "../x@1.0.0",
        ],
        "bad contract pin '../x@1.0.0'",
    ),
    (["backfill", "run", "finance-kpi", "--start", DAY], "a backfill needs --start and --end"),
    (["run", "finance-kpi", "--token", "a b"], "run token 'a b' is not usable"),
    (["run", "finance-kpi", "-p", "9" * 10_000], "(10000 characters) is not a partition key"),
    (["ledger", "show", "--token", "../../x"], "run token '../../x' is not usable"),
    (["replay", "rt x"], "run token 'rt x' is not usable"),
    (["emit", "source-updated", "erp invoices", "-p", DAY], "'erp invoices' is not a source"),
    (["graph", "--format", "png", "finance-kpi"], "unknown format 'png'"),
]


@pytest.mark.parametrize(("args", "fragments"), [(c[0], c[1:]) for c in RANGE_CASES])
def test_numbers_out_of_range_are_one_usage_line(sandbox, tmp_path, args, fragments) -> None:
    line = one_error_line(barecount(*args), 2, *fragments)
    assert line.endswith("--help')")  # where to read more
    assert not (tmp_path / "ledger.db").exists()  # nothing ran


@pytest.mark.parametrize(("args", "fragment"), CHOICE_AND_SHAPE_CASES)
def test_bad_choices_pins_tokens_and_keys_are_one_usage_line(sandbox: Path, args, fragment):
    one_error_line(barecount(*args), 2, fragment)


def test_pins_naming_no_contract_or_version_are_one_line_exit_1(sandbox: Path) -> None:
    backfill = ["backfill", "run", "finance-kpi", "--start", DAY, "--end", DAY]
    one_error_line(
        barecount(*backfill, "--contract", "bogus@x"),
        1,
        "pipeline 'finance-kpi' is not governed by contract(s) bogus; its contracts: invoices",
    )
    one_error_line(
        barecount(*backfill, "--contract", "invoices@9.9.9"),
        1,
        "contract 'invoices' has no version '9.9.9' on record (known: 1.0.0)",
    )


def test_compile_refuses_outputs_it_cannot_write_before_compiling(sandbox, tmp_path) -> None:
    one_error_line(
        barecount("compile", "-o", "/proc/version"), 2, "--output /proc/version: cannot write in"
    )
    assert not Path("/proc/version.tmp").exists()
    missing = tmp_path / "missing" / "deeper" / "prefect.yaml"
    one_error_line(
        barecount("compile", "-o", str(missing)),
        2,
        f"folder {missing.parent} does not exist; create it first",
    )
    assert not (tmp_path / "missing").exists()  # no folder made either
    one_error_line(barecount("compile", "-o", str(tmp_path)), 2, f"{tmp_path} is a folder")
    one_error_line(barecount("compile", "--check", "-o", str(tmp_path)), 2, "is a folder")
    one_error_line(barecount("schema", "-o", "/proc/schemas"), 2, "cannot write in /proc")


SETTINGS_CASES = [
    ({"BARECOUNT_SERVER_PORT": "abc"}, "BARECOUNT_SERVER_PORT='abc' is not a port number"),
    ({"BARECOUNT_SERVER_PORT": "99999"}, "BARECOUNT_SERVER_PORT='99999' is not a port number"),
    (
        {"BARECOUNT_LEDGER_URL": "mysql://bc:hunter2@127.0.0.1/ledger"},
        "BARECOUNT_LEDGER_URL: unsupported database driver 'mysql'; the ledger runs on sqlite",
    ),
    ({"BARECOUNT_LEDGER_URL": "hunter2"}, "BARECOUNT_LEDGER_URL is not a database URL"),
    ({"PREFECT_API_URL": "ftp://127.0.0.1/api"}, "PREFECT_API_URL='ftp://127.0.0.1/api' is not"),
    ({"BARECOUNT_CONSOLE_URL": "javascript:alert(1)"}, "BARECOUNT_CONSOLE_URL="),
    ({"BARECOUNT_SERVER_HOST": "a host"}, "BARECOUNT_SERVER_HOST='a host' is not a host name"),
    ({"BARECOUNT_LEDGER_BLOCK": "../x"}, "BARECOUNT_LEDGER_BLOCK='../x' is not a block name"),
    # typed by pydantic-settings: the variable, the value, pydantic's reason
    ({"BARECOUNT_LEDGER_LANES": "0"}, "BARECOUNT_LEDGER_LANES='0' cannot be used: Input should"),
    ({"BARECOUNT_LEDGER_AUTO_UPGRADE": "maybe"}, "BARECOUNT_LEDGER_AUTO_UPGRADE='maybe' cannot"),
]


@pytest.mark.parametrize(("env", "fragment"), SETTINGS_CASES)
def test_bad_settings_stop_a_run_in_one_line_naming_the_variable(
    sandbox: Path, tmp_path: Path, monkeypatch, env: dict[str, str], fragment: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = files_under(tmp_path)
    line = one_error_line(barecount("run", "finance-kpi", "-p", DAY), 2, fragment)
    assert "hunter2" not in line  # a URL may carry a password
    assert files_under(tmp_path) == before  # no ledger, no server, no run


def test_a_home_that_is_a_file_is_named(sandbox: Path, tmp_path, monkeypatch) -> None:
    home = tmp_path / "home.txt"
    home.write_text("")
    monkeypatch.setenv("BARECOUNT_HOME", str(home))
    one_error_line(barecount("runs"), 2, f"BARECOUNT_HOME='{home}' is a file, not a folder")


# --- item 7: names are names ------------------------------------------------------------


def test_keys_generate_with_a_path_is_refused_and_writes_nothing(sandbox: Path, tmp_path):
    before = files_under(tmp_path)
    one_error_line(
        barecount("keys", "generate", "../../../tmp/x"),
        2,
        "Invalid value for 'name': '../../../tmp/x' is not a name; use lower-case letters",
    )
    assert files_under(tmp_path) == before
    assert not (sandbox / "keys").exists()


def test_a_key_file_that_links_out_of_keys_is_not_overwritten(sandbox: Path, tmp_path) -> None:
    outside = tmp_path / "outside.key"
    outside.write_text("not yours\n")
    (sandbox / "keys").mkdir()
    (sandbox / "keys" / "alice.key").symlink_to(outside)
    one_error_line(
        barecount("keys", "generate", "alice", "--force"),
        2,
        f"key file {sandbox / 'keys' / 'alice.key'} resolves to {outside}, outside",
    )
    assert outside.read_text() == "not yours\n"


@pytest.mark.parametrize(
    "args",
    [
        ["approve", "rt-1", "--as", "../../alice"],
        ["reject", "rt-1", "--as", "Alice", "--reason", "no"],
        ["hold", "withdraw", "7", "--as", "alice\n", "--reason", "no"],
        ["run", "../finance-kpi"],
        ["backfill", "run", "finance-kpi/..", "--start", DAY, "--end", DAY],
        ["runs", "[/x]"],
        ["partitions", "x" * 64, "--start", DAY, "--end", DAY],
        ["plan", "--only", "../etc"],
    ],
)
def test_approver_and_pipeline_names_must_be_names(sandbox: Path, args: list[str]) -> None:
    one_error_line(barecount(*args), 2, "is not a name; use lower-case letters, digits and dashes")


@pytest.mark.parametrize("run", ["../../x", "a b", "x" * 129])
def test_held_run_references_are_ids_or_tokens(sandbox: Path, run: str) -> None:
    one_error_line(
        barecount("approve", run, "--as", "alice"), 2, "is neither a flow run id, a run token"
    )


def test_every_numeric_argument_of_every_command_has_a_range() -> None:
    from barecount.cli.main import app

    def params(command, path):
        for param in command.params:
            yield path, param
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from params(sub, f"{path} {name}")

    unranged = [
        f"{path} {param.name}"
        for path, param in params(typer.main.get_command(app), "barecount")
        if param.type_descriptor.annotation in (int, float, int | None, float | None)
        and (param.min is None or param.max is None)
    ]
    assert unranged == []
