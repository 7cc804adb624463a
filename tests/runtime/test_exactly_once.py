"""Exactly one version in force per pipeline/KPI/partition: what a token covers, and
explicit restatements (issue 11)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from bc_testkit import wait_for
from sqlalchemy import select

from barecount.cli.main import main
from barecount.ledger import get_ledger, ledger_at
from barecount.ledger.models import KpiVersion, Publication
from barecount.names import PIPELINE_PUBLISHED, pipeline_resource

DAY = "2026-11-20"


def run_json(capsys, manifests: Path, *extra: str) -> dict:
    capsys.readouterr()
    code = main(["run", "finance-kpi", "-p", DAY, "-m", str(manifests), "--json", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def publications(url: str | None = None) -> list[Publication]:
    ledger = ledger_at(url) if url else get_ledger()
    with ledger.session() as session:
        return list(session.execute(select(Publication).order_by(Publication.id)).scalars())


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def published_event_tokens() -> set[str]:
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    with get_client(sync_client=True) as client:
        page = client.read_events(
            EventFilter(
                event=EventNameFilter(name=[PIPELINE_PUBLISHED]),
                resource=EventResourceFilter(id=[pipeline_resource("finance-kpi")]),
            ),
            limit=50,
        )
    return {e.payload.get("token") for e in page.events}


@pytest.mark.usefixtures("prefect_api")
def test_only_what_determines_output_changes_the_token(capsys, home: Path, manifests: Path):
    first = run_json(capsys, manifests)
    assert first["status"] == "published"
    pipeline = manifests / "pipelines" / "finance-kpi.yaml"
    edit(pipeline, 'cron: "0 0 * * *"', 'cron: "30 2 * * *"')
    edit(pipeline, "description: Daily finance KPIs", "description: Finance KPIs, daily")
    edit(pipeline, "max: 3", "max: 5")
    again = run_json(capsys, manifests)
    assert again["token"] == first["token"]
    assert again["status"] == "already-published"
    assert len(publications()) == 3

    gdp = "run: barecount.examples.finance:build_invoice_gdp"
    edit(pipeline, gdp, f"{gdp}\n      code_version: gdp-2026-12")
    changed = run_json(capsys, manifests)
    assert changed["token"] != first["token"]
    assert changed["status"] == "needs-restatement"
    assert f"is published under {first['token']} (version 1)" in changed["detail"]
    assert '--restate --reason "..."' in changed["detail"]
    assert len(publications()) == 3  # nothing published

    restated = run_json(capsys, manifests, "--restate", "--reason", "GDP dedup fixed")
    assert (restated["token"], restated["status"]) == (changed["token"], "restated")
    capsys.readouterr()
    assert main(["ledger", "show", "--token", restated["token"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    versions = {(v["kpi"], v["version"]): v for v in shown["versions"]}
    assert {v for _, v in versions} == {1, 2}
    second = versions[("revenue_daily", 2)]
    assert second["token"] == restated["token"]
    assert second["supersedes"] == versions[("revenue_daily", 1)]["id"]
    assert second["reason"] == "GDP dedup fixed" and second["requested_by"]
    assert [p["token"] for p in shown["publications"]] == [restated["token"]] * 3
    # downstream pipelines hear of the new version through the published event
    wait_for(
        lambda: restated["token"] in published_event_tokens(),
        timeout=30,
        what="a pipeline-published event carrying the restated token",
    )
    # and the same restatement again publishes nothing more
    assert run_json(capsys, manifests, "--restate", "--reason", "again")["status"] == (
        "already-published"
    )


@pytest.mark.usefixtures("prefect_api")
def test_editing_stage_code_gives_a_new_token(capsys, home: Path, manifests: Path, tmp_path):
    import sys

    (tmp_path / "mystages.py").write_text(
        "from barecount.examples.finance import ingest_invoices, build_invoice_gdp\n"
        "from barecount.examples.finance import materialize_kpis\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        pipeline = manifests / "pipelines" / "finance-kpi.yaml"
        edit(pipeline, "barecount.examples.finance:materialize_kpis", "mystages:materialize_kpis")
        first = run_json(capsys, manifests)
        (tmp_path / "mystages.py").write_text(
            (tmp_path / "mystages.py").read_text() + "# a change to the stage module\n"
        )
        from barecount.runtime.plan import module_digest

        module_digest.cache_clear()
        assert run_json(capsys, manifests)["token"] != first["token"]
    finally:
        sys.path.remove(str(tmp_path))


def test_a_package_stage_is_versioned_by_every_module_in_it(tmp_path: Path, monkeypatch) -> None:
    """`pkg:fn` re-exported from pkg/__init__.py: an edit to the module defining fn counts."""
    from barecount.runtime.plan import module_digest

    package = tmp_path / "stagepkg"
    package.mkdir()
    (package / "__init__.py").write_text("from stagepkg.impl import fn\n")
    (package / "impl.py").write_text("def fn(ctx):\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module_digest.cache_clear()
    before = module_digest("stagepkg")
    (package / "impl.py").write_text("def fn(ctx):\n    return 2\n")
    module_digest.cache_clear()
    assert module_digest("stagepkg") != before
    module_digest.cache_clear()


def started(ledger, token: str):
    """A run of finance-kpi DAY under ``token``, recorded as started."""
    return ledger.start_run(
        token=token,
        pipeline="finance-kpi",
        partition=DAY,
        manifest_digest="sha256:x",
        contract_versions={},
        trigger="test",
        flow_run_id=None,
    )


def _restate(url: str, token: str, reason: str, ready, go) -> str:
    """One process: put a restatement of finance-kpi DAY under ``token`` in force."""
    from barecount.ledger import ledger_at
    from barecount.ledger.publish import Restatement

    ledger = ledger_at(url)
    run = started(ledger, token)
    ready.wait()
    go.wait()
    outcome = ledger.publish(
        run=run,
        stage="kpi-finance",
        kpis={"revenue_daily": 1.0, "dso_days": 2.0},
        fingerprint="sha256:f",
        restatement=Restatement(reason=reason, requested_by="test"),
    )
    if outcome.first_time:
        return f"version {outcome.version}"
    return "already" if outcome.already else "needs-restatement"


@pytest.mark.postgres
def test_concurrent_restatements_on_postgres_leave_one_version_in_force(postgres_url: str):
    from barecount.ledger.publish import Restatement

    ledger = ledger_at(postgres_url)
    run = started(ledger, "rt-v1")
    ledger.publish(
        run=run, stage="kpi", kpis={"revenue_daily": 0.5, "dso_days": 1.0}, fingerprint="f"
    )
    ledger.dispose()  # no pooled connection crosses the fork
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        ready, go = manager.Barrier(8), manager.Event()
        with context.Pool(8) as pool:
            same = [(postgres_url, "rt-v2", f"reason {i}", ready, go) for i in range(8)]
            pending = pool.starmap_async(_restate, same)
            go.set()
            results = pending.get(timeout=120)
    assert sorted(results) == ["already"] * 7 + ["version 2"]
    with ledger.session() as session:
        rows = session.execute(select(KpiVersion).order_by(KpiVersion.id)).scalars().all()
    assert [(r.kpi, r.version, r.token) for r in rows] == [
        ("dso_days", 1, "rt-v1"),
        ("revenue_daily", 1, "rt-v1"),
        ("dso_days", 2, "rt-v2"),
        ("revenue_daily", 2, "rt-v2"),
    ]
    assert rows[2].supersedes == rows[0].id and rows[3].supersedes == rows[1].id
    assert ledger.verify().ok
    # a restatement without a reason is an ordinary run: nothing more is put in force
    run3 = started(ledger, "rt-v3")
    plain = ledger.publish(run=run3, stage="kpi", kpis={"revenue_daily": 9.0}, fingerprint="f")
    assert plain.needs_restatement and plain.in_force["revenue_daily"].token == "rt-v2"
    third = ledger.publish(
        run=run3,
        stage="kpi",
        kpis={"revenue_daily": 9.0},
        fingerprint="f",
        restatement=Restatement("late invoices", "carol"),
    )
    assert third.version == 3
