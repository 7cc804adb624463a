"""barecount evidence: the chain of evidence behind a published KPI, verified as it is read."""

from __future__ import annotations

import re
from typing import Any

import typer
from rich.text import Text
from rich.tree import Tree

from barecount.cli import params
from barecount.cli.output import fail, out, print_json
from barecount.errors import UsageError
from barecount.manifest.limits import shown

FORMATS = ("tree", "json", "openlineage")
DEPTH_MAX = 16
_KPI = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def _kpi(value: str | None) -> str | None:
    """A KPI name as stages publish them: letters, digits, '_', '.', '-' (63 at most)."""
    if value is not None and not _KPI.fullmatch(value):
        raise typer.BadParameter(
            f"{shown(value)} is not a KPI name; KPI names are letters, digits, '_', '.' and "
            "'-', e.g. revenue_daily"
        )
    return value


def evidence(
    kpi: str | None = typer.Argument(None, help="KPI name, e.g. revenue_daily.", callback=_kpi),
    partition: str | None = typer.Option(
        None, "--partition", "-p", help="Partition key.", callback=params.partition_key
    ),
    pipeline: str | None = typer.Option(
        None, "--pipeline", help="The publishing pipeline (if several).", callback=params.name
    ),
    token: str | None = typer.Option(
        None, "--token", "-t", help="A run token instead of a KPI.", callback=params.token
    ),
    history: bool = typer.Option(False, "--history", help="Also every superseded version."),
    depth: int = typer.Option(
        0, "--depth", min=0, max=DEPTH_MAX, help="Walk upstream pipelines' chains N levels."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (same as --format json)."),
    output: str = typer.Option(
        "tree",
        "--format",
        help="tree, json or openlineage (JSON lines).",
        callback=params.choice(*FORMATS),
    ),
    namespace: str | None = typer.Option(
        None,
        "--namespace",
        help="OpenLineage namespace (default: OPENLINEAGE_NAMESPACE or barecount).",
    ),
) -> None:
    """Print the chain of evidence of a KPI version in force (value <- publication <- run <-
    attempts <- gate checks <- decisions <- contract versions <- source file), verifying each
    row's hash, place in the chain and signature as it is read. Exit 1 naming the first row
    that does not hold."""
    from barecount.ledger import get_ledger
    from barecount.ledger.evidence_chain import kpi_chain, token_chain

    if (kpi is None) == (token is None):
        raise UsageError("name a KPI with --partition, or give --token T (not both)")
    if kpi is not None and partition is None:
        raise UsageError(f"which partition of {kpi}? add --partition, e.g. --partition 2026-11-26")
    fmt = "json" if as_json else output
    with get_ledger().session() as session:
        if token is not None:
            chain = token_chain(session, token=token, depth=depth)
        else:
            found = {"pipeline": pipeline, "history": history, "depth": depth}
            chain = kpi_chain(session, kpi=kpi, partition=partition, **found)
        if fmt == "openlineage" and chain.ok:
            _print_openlineage(session, chain.to_json(), namespace)
    if fmt == "json":
        print_json(chain.to_json())
    elif fmt == "tree" and chain.ok:
        out.print(_tree(chain.to_json()), soft_wrap=False)
    if not chain.ok:
        fail(f"evidence NOT verified: {chain.verification.problem}")
        raise typer.Exit(1)


def _run_ids(node: Any) -> list[int]:
    """Every pipeline run of a chain (upstream chains included)."""
    found: list[int] = []
    if isinstance(node, dict):
        if node.get("table") == "pipeline_run":
            found.append(node["row_id"])
        for value in node.values():
            found += _run_ids(value)
    elif isinstance(node, list):
        for value in node:
            found += _run_ids(value)
    return found


def _print_openlineage(session, chain: dict[str, Any], namespace: str | None) -> None:
    from barecount.lineage.export import events_of_runs, to_json
    from barecount.lineage.naming import naming

    ids = sorted(set(_run_ids(chain["entries"])))
    for event in events_of_runs(session, naming(namespace=namespace), ids):
        out.file.write(to_json(event) + "\n")
    out.file.flush()


def _line(*parts: object) -> Text:
    """A tree label of data: printed as text, never as markup."""
    return Text(" ".join(str(p) for p in parts if p not in (None, "")))


def _row(element: dict[str, Any]) -> str:
    return f"[{element['table']} #{element['row_id']} {element['hash'][:19]}]"


def _tree(chain: dict[str, Any]) -> Tree:
    subject = chain["subject"]
    title = " ".join(f"{k} {v}" for k, v in subject.items())
    root = Tree(
        _line(f"evidence of {title}: verified, {chain['rows_checked']} ledger rows checked")
    )
    for entry in chain["entries"]:
        if "version" in entry:
            v, p = entry["version"], entry["publication"]
            state = "in force" if v["in_force"] else "superseded"
            node = root.add(
                _line(
                    f"{v['kpi']} = {entry['value']}", f"(version {v['version']}, {state})", _row(v)
                )
            )
            label = f"published {p['published_at']} under token {p['token']} by stage {p['stage']}"
            pub = node.add(_line(label, _row(p)))
            if p["restatement"]:
                r = p["restatement"]
                pub.add(_line(f"restatement by {r['requested_by']}: {r['reason']}"))
        else:
            pub = root.add(_line(f"token {subject['token']}"))
            for p in entry["publications"]:
                pub.add(_line(f"{p['kpi']} = {p['value']}", _row(p)))
        _token(pub, entry["chain"])
    return root


def _token(parent: Tree, chain: dict[str, Any]) -> None:
    for run in chain["runs"]:
        _run(parent, run)
    for contract in chain["contracts"]:
        node = parent.add(_line(f"contract {contract['contract']} history"))
        for v in contract["history"]:
            by = f", approved by {v['approved_by']}" if v["approved_by"] else ""
            node.add(_line(f"{v['version']} ({v['source']}{by})", _row(v)))
    for s in chain["sources"]:
        parent.add(_line(f"source {s['path']}: {s['size']} bytes, {s['sha256']}", _row(s)))
    for up in chain["upstream"]:
        node = parent.add(_line(f"upstream {up['pipeline']} token {up['token']}"))
        if "chain" in up:
            _token(node, up["chain"])


def _run(parent: Tree, run: dict[str, Any]) -> None:
    ended = run["ended"]["status"] if run["ended"] else "not ended"
    label = f"run {run['pipeline']} {run['partition']}: trigger {run['trigger']['raw']},"
    node = parent.add(_line(label, ended, _row(run)))
    for a in run["attempts"]:
        retry = f"retry after {a['retry_delay_s']} s" if a["retry_delay_s"] is not None else ""
        error = f"{a['error']['class']}: {a['error']['message']}" if a["error"] else ""
        what = f"{a['stage']} attempt {a['attempt']} {a['state']}"
        node.add(
            _line(what, a["started_at"], f"task run {a['task_run_id']}", retry, error, _row(a))
        )
    for c in run["gate_checks"]:
        what = f"gate {c['stage']}: {c['contract']}@{c['contract_version']} {c['outcome']}"
        check = node.add(_line(what, c["schema_fingerprint"], _row(c)))
        for d in c["decisions"]:
            check.add(_line(_decision(d), _row(d)))


def _decision(d: dict[str, Any]) -> str:
    s = d["signature"]
    if s.get("verified"):
        signed = f"signed, verified now, key {s['key_fingerprint']}"
    else:
        signed = "signed" if s["signed"] else "unsigned"
    accepted = "accepted" if d["accepted"] else "refused"
    return f"{d['decision']} by {d['approver']} ({accepted}, {signed}): {d['reason']}"


def register(app: typer.Typer) -> None:
    app.command("evidence")(evidence)
