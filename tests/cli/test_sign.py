"""Issue 16 item 6: signed approvals from the Prefect UI's resume form.

'barecount sign' prints the signature a person pastes into the form, with the exact text it
signs; here the form is submitted the way the UI submits it (POST .../resume with run_input),
on the session's real server, and the held run completes.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from bc_testkit import pending_hold_for, spawn_cli, spawn_run, wait_for_pause
from prefect import get_client
from prefect.input.run_input import keyset_from_paused_state

from barecount.examples.finance import write_extract
from barecount.governance.signing import approval_message, key_path, load_private_key, sign
from barecount.ledger import get_ledger
from barecount.settings import get_settings


def cli(*args: str, timeout: float = 120) -> tuple[int, str, str]:
    """`barecount ARGS...` in a subprocess: exit code, stdout, stderr."""
    process = spawn_cli(*args)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def form_description(prefect_api: str, flow_run_id: str) -> str:
    """The Markdown the Prefect UI shows above the paused run's resume form."""
    with get_client(sync_client=True) as client:
        keyset = keyset_from_paused_state(client.read_flow_run(flow_run_id).state)
    answer = httpx.get(
        f"{prefect_api}/flow_runs/{flow_run_id}/input/{keyset['description']}", timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer.text


@pytest.mark.usefixtures("home")
def test_a_signature_from_barecount_sign_resumes_the_run_through_the_api_as_the_ui_does(
    manifests: Path, home: Path, prefect_api: str
) -> None:
    code, _, err = cli("keys", "demo", "--force")  # the shipped team: signatures required
    assert code == 0, err
    partition = "2026-11-14"
    write_extract(home / "landing", "erp.invoices", partition, 300, drift="rename-column")
    process = spawn_run(manifests, partition)
    check = wait_for_pause(partition, process)
    assert f"barecount sign {check.flow_run_id} --as NAME --decision approve" in (
        form_description(prefect_api, check.flow_run_id)
    )

    # a prefix of the flow run id is enough
    code, out, err = cli("sign", check.flow_run_id[:8], "--as", "alice", "--decision", "approve")
    assert code == 0, err
    lines = out.splitlines()
    signature = lines[-1]
    message = approval_message(
        flow_run_id=check.flow_run_id,
        contract="invoices",
        fingerprint=check.schema_fingerprint,
        decision="approve",
    )
    # the exact text signed is printed, line by line, before the signature
    shown = lines.index("the exact text signed, line by line:")
    assert [row.strip() for row in lines[shown + 1 : shown + 6]] == message.decode().split("\n")
    assert lines[0].startswith(f"alice signs with {key_path(get_settings().home, 'alice')}: ")
    assert signature == sign(load_private_key(get_settings().home, "alice"), message)
    assert "in the resume form: decision approve, approver alice" in out

    answer = httpx.post(  # what the Prefect UI's resume form sends
        f"{prefect_api}/flow_runs/{check.flow_run_id}/resume",
        json={
            "run_input": {
                "decision": "approve",
                "approver": "alice",
                "reason": "renamed upstream, signed in the UI",
                "signature": signature,
            }
        },
        timeout=30,
    )
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["status"] == "ACCEPT", answer.text
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stderr
    assert "revenue_daily" in stdout
    [decision] = get_ledger().decisions_for(check_id=check.id)
    assert (decision.approver, decision.accepted, decision.signed, decision.verdict) == (
        "alice",
        True,
        True,
        "accepted",
    )
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(check.flow_run_id).state.name == "Completed"


@pytest.mark.usefixtures("home")
def test_sign_says_in_one_line_when_there_is_no_key_or_no_such_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = pending_hold_for(str(uuid.uuid4()))
    keyless = tmp_path / "keyless-home"
    monkeypatch.setenv("BARECOUNT_HOME", str(keyless))
    code, out, err = cli("sign", check.token, "--as", "alice", "--decision", "approve")
    assert code == 1, out
    assert err.strip().splitlines() == [
        f"error: 'alice' has no private key at {keyless}/keys/alice.key; pass --key FILE, or "
        "'barecount keys generate alice' (its public key must then replace the team's)"
    ]
    assert "Traceback" not in out + err

    code, out, err = cli("sign", "rt-nothing", "--as", "alice", "--decision", "approve")
    assert code == 1, out
    assert err.strip() == (
        "error: no run waiting for governance matches 'rt-nothing'; 'barecount pending' lists them"
    )
    code, out, err = cli("sign", check.token, "--as", "alice", "--decision", "maybe")
    assert code == 2, out
    assert "'maybe' is not one of approve, reject" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.usefixtures("home")
def test_sign_with_a_key_file_prints_json_for_scripts(tmp_path: Path) -> None:
    from barecount.governance.signing import generate_key

    check = pending_hold_for(str(uuid.uuid4()), partition="2026-11-23")
    generate_key(tmp_path / "elsewhere", "carol")
    key_file = key_path(tmp_path / "elsewhere", "carol")
    code, out, err = cli(
        "sign",
        str(check.id),
        "--as",
        "carol",
        "--decision",
        "reject",
        "--key",
        str(key_file),
        "--json",
    )
    assert code == 0, err
    printed = json.loads(out)
    message = approval_message(
        flow_run_id=check.flow_run_id,
        contract="invoices",
        fingerprint=check.schema_fingerprint,
        decision="reject",
    )
    assert printed == {
        "hold": check.id,
        "flow_run_id": check.flow_run_id,
        "approver": "carol",
        "decision": "reject",
        "signed_text": message.decode(),
        "signature": sign(load_private_key(tmp_path / "elsewhere", "carol"), message),
    }
