"""A ledger written by the code before migrations (commit 76a9e5f) is upgraded by today's:
once, also when two processes open it together, and its old and new rows verify."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bc_ledger_rows import write_rows
from bc_testkit import cli, wait_for
from sqlalchemy import create_engine, text

from barecount.ledger.migrate import HEAD

REPO = Path(__file__).resolve().parents[2]
BEFORE_MIGRATIONS = "76a9e5f"  # main before migrations: tables made by create_all
SUPPORT = REPO / "tests" / "support"
OLD_ROWS = 3 * 8 + 2  # write_rows(runs=3)

OLD_WRITER = """
import sys
import barecount
from barecount.ledger import Ledger
from bc_ledger_rows import write_rows
print(barecount.__file__, flush=True)
ledger = Ledger(sys.argv[1])
print(write_rows(ledger, 3, prefix="old"), flush=True)
ledger.dispose()
"""

OPENER = """
import logging, pathlib, sys, time
from barecount.ledger import Ledger
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(message)s")
logging.getLogger("alembic").setLevel(logging.INFO)
ledger = Ledger(sys.argv[1])
print("ready", flush=True)
while not pathlib.Path(sys.argv[2]).exists():
    time.sleep(0.005)
result = ledger.verify()
print("verified", result.ok, result.rows, result.problem, flush=True)
"""


@pytest.fixture(scope="module")
def old_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The src tree of commit 76a9e5f; the test fails (never skips) when git cannot give it."""
    target = tmp_path_factory.mktemp("before-migrations")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", BEFORE_MIGRATIONS, "src"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.fail(
            f"git archive {BEFORE_MIGRATIONS} failed ({archive.stderr.decode().strip()}): the "
            "migration test needs that commit's code; fetch the full history "
            "(git fetch --unshallow) and run it again",
            pytrace=False,
        )
    subprocess.run(["tar", "x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


def write_with_old_code(old_src: Path, url: str) -> None:
    """Rows through the old Ledger API, in a process that imports only the old code."""
    env = {**os.environ, "PYTHONPATH": f"{old_src}{os.pathsep}{SUPPORT}"}
    done = subprocess.run(
        [sys.executable, "-c", OLD_WRITER, url],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    imported, written = done.stdout.split()
    assert imported.startswith(str(old_src)), f"the old code was not the one imported: {imported}"
    assert int(written) == OLD_ROWS


def schema_of(url: str) -> tuple[list[str], bool, list]:
    """(alembic_version rows, whether ledger rows have a lane column, lane-1 head)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(conn.dialect.get_table_names(conn))
            versions = []
            if "alembic_version" in tables:
                versions = list(conn.execute(text("SELECT version_num FROM alembic_version")))
            columns = {c["name"] for c in conn.dialect.get_columns(conn, "pipeline_run")}
            head = list(conn.execute(text("SELECT * FROM ledger_head ORDER BY id")))
    finally:
        engine.dispose()
    return [v[0] for v in versions], "lane" in columns, head


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "barecount.cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_old_ledger_is_upgraded_and_verifies_old_and_new_rows(
    old_src: Path, ledger_url: str, capsys
) -> None:
    from barecount.ledger import Ledger, close_ledgers

    write_with_old_code(old_src, ledger_url)
    assert schema_of(ledger_url)[:2] == ([], False)  # made by create_all, no lanes yet

    refused = run_cli("ledger", "verify", BARECOUNT_LEDGER_AUTO_UPGRADE="false")
    assert refused.returncode == 4, refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr  # one line, no traceback
    assert f"is at schema revision 0001, this release needs {HEAD}; run 'barecount ledger " in (
        refused.stderr
    )
    assert schema_of(ledger_url)[:2] == ([], False)  # refused: left as it was

    assert cli(capsys, "ledger", "upgrade") == (0, f"ledger schema upgraded: 0001 -> {HEAD}\n", "")
    assert cli(capsys, "ledger", "upgrade") == (
        0,
        f"ledger schema already at revision {HEAD}\n",
        "",
    )
    versions, lanes, head = schema_of(ledger_url)
    assert (versions, lanes) == ([HEAD], True)
    assert head[0][:2] == (1, OLD_ROWS)  # the old head became lane 1's

    close_ledgers()
    ledger = Ledger(ledger_url, lanes=4)
    try:
        old = ledger.verify()
        assert old.ok, old.problem
        assert old.rows == OLD_ROWS
        with ledger.engine.connect() as conn:
            query = "SELECT DISTINCT hash_format, lane, seq = id FROM pipeline_run"
            assert list(conn.execute(text(query))) == [(1, 1, True)]
        write_rows(ledger, 3, prefix="new", pipeline="kpi-b")
        both = ledger.verify()
        with ledger.engine.connect() as conn:
            query = "SELECT count(*) FROM publication WHERE pipeline = 'kpi-b'"
            assert conn.execute(text(query)).scalar_one() == 6
    finally:
        ledger.dispose()
    assert both.ok, both.problem
    assert both.rows == 2 * OLD_ROWS
    assert cli(capsys, "ledger", "verify")[:2] == (
        0,
        f"ledger verified: {2 * OLD_ROWS} rows, chain intact\n",
    )


def test_two_processes_opening_an_old_ledger_at_once_migrate_it_once(
    old_src: Path, postgres_url: str, tmp_path: Path
) -> None:
    write_with_old_code(old_src, postgres_url)
    go = tmp_path / "go"
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, postgres_url, str(go)],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for opener in openers:
            assert wait_for(
                lambda o=opener: o.stdout.readline().strip() == "ready",
                timeout=120,
                what="an opener imported barecount",
                process=opener,
            )
        go.touch()
        printed = [opener.communicate(timeout=180)[0] for opener in openers]
    finally:
        for opener in openers:
            if opener.poll() is None:
                opener.kill()
    assert [opener.returncode for opener in openers] == [0, 0], printed
    everything = "".join(printed)
    assert everything.count("Running upgrade 0001 -> 0002") == 1, everything  # then on to HEAD
    assert everything.count(f"verified True {OLD_ROWS} None") == 2, everything
    versions, lanes, _ = schema_of(postgres_url)
    assert (versions, lanes) == ([HEAD], True)


def test_migration_head_is_the_newest_revision() -> None:
    from alembic.script import ScriptDirectory

    from barecount.ledger import migrate

    scripts = ScriptDirectory(str(REPO / "src" / "barecount" / "ledger" / "migrations"))
    assert scripts.get_heads() == [migrate.HEAD]
    assert [s.revision for s in scripts.walk_revisions()][-1] == migrate.FIRST
