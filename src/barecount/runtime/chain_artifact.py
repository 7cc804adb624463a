"""The chain of evidence in short, for a published run's Prefect artifact."""

from __future__ import annotations

from typing import Any

from barecount.errors import BareCountError
from barecount.ledger import Ledger


def _md(value: object) -> str:
    """Data in a Markdown table cell or line: pipes and backticks cannot break it."""
    return str(value).replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _decisions(chain: dict[str, Any]) -> list[str]:
    found = []
    for run in chain["runs"]:
        for check in run["gate_checks"]:
            line = (
                f"gate {check['stage']}: {check['contract']}@{check['contract_version']} "
                f"{check['outcome']} (row {check['row_id']})"
            )
            for d in check["decisions"]:
                signed = d["signature"]
                how = (
                    "signed, verified"
                    if signed.get("verified")
                    else ("signed" if signed["signed"] else "unsigned")
                )
                state = "accepted" if d["accepted"] else "refused"
                line += f"; {d['decision']} by {d['approver']} ({state}, {how})"
            found.append(line)
    return found


def short_chain(ledger: Ledger, *, token: str) -> str:
    """Markdown: KPI values <- publication <- runs <- attempts <- gates and decisions <-
    contract versions <- sources, each with its ledger row; whether every row verified."""
    from barecount.ledger.evidence_chain import token_chain

    try:
        with ledger.session() as session:
            found = token_chain(session, token=token).to_json()
    except BareCountError as exc:  # the artifact says so; the run has published already
        return f"## Chain of evidence\n\ncannot be read: {_md(exc)}\n"
    entry = found["entries"][0]
    chain = entry["chain"]
    lines = ["## Chain of evidence", ""]
    verified = (
        "every row verified"
        if found["verified"]
        else "NOT verified: " + _md(found["problem"]["text"])
    )
    lines.append(f"{found['rows_checked']} ledger rows, {verified}")
    lines.append("")
    for p in entry["publications"]:
        lines.append(f"- {_md(p['kpi'])} = {p['value']} <- publication row {p['row_id']}")
    for run in chain["runs"]:
        attempts = run["attempts"]
        retries = sum(1 for a in attempts if a["retry_delay_s"] is not None)
        cached = sum(1 for a in attempts if a["state"] == "cached")
        lines.append(
            f"- <- run row {run['row_id']} ({_md(run['trigger']['raw'])}): {len(attempts)} "
            f"attempt(s), {retries} retried, {cached} cached"
        )
    lines += [f"- <- {_md(line)}" for line in _decisions(chain)]
    for contract in chain["contracts"]:
        versions = ", ".join(v["version"] for v in contract["history"])
        lines.append(f"- <- contract {_md(contract['contract'])} versions {_md(versions)}")
    for source in chain["sources"]:
        lines.append(
            f"- <- source {_md(source['path'])} ({source['size']} bytes, {_md(source['sha256'])})"
        )
    return "\n".join(lines) + "\n"
