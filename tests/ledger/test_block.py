"""The LedgerDatabase block: registrable from blocks/, used by the runtime when configured."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from barecount.ledger import get_ledger
from barecount.ledger.block import LedgerDatabase
from barecount.settings import get_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("prefect_api")
def test_runtime_uses_the_ledger_block(home: Path, manifests: Path, tmp_path, monkeypatch):
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "prefect"),
            "block",
            "register",
            "--file",
            "blocks/ledger_database.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ledger = tmp_path / "block-ledger.db"
    LedgerDatabase(url=f"sqlite:///{ledger}").save("test-ledger", overwrite=True)
    monkeypatch.delenv("BARECOUNT_LEDGER_URL", raising=False)
    monkeypatch.setenv("BARECOUNT_LEDGER_BLOCK", "test-ledger")
    get_settings.cache_clear()
    assert get_ledger().url == f"sqlite:///{ledger}"

    from barecount.runtime.flows import governed_pipeline

    summary = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-10", manifests=str(manifests)
    )
    with sqlite3.connect(ledger) as conn:
        tokens = {t for (t,) in conn.execute("SELECT token FROM publication")}
    assert tokens == {summary["token"]}
    # the secret stays secret when the block is read back without decryption
    loaded = LedgerDatabase.load("test-ledger")
    assert str(ledger) not in repr(loaded)


def test_unknown_block_is_a_clear_error(prefect_api, monkeypatch, capsys) -> None:
    from barecount.cli.main import main

    monkeypatch.delenv("BARECOUNT_LEDGER_URL", raising=False)
    monkeypatch.setenv("BARECOUNT_LEDGER_BLOCK", "no-such-block")
    get_settings.cache_clear()
    try:
        assert main(["runs"]) == 1
    finally:
        get_settings.cache_clear()
    assert "no LedgerDatabase block named 'no-such-block'" in capsys.readouterr().err
