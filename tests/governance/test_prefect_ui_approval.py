"""Issue 16: a held run approved by clicking through the Prefect UI's own resume form.

The run pauses at the schema-drift gate on the session's real Prefect server; headless
Chromium opens the run's page in the UI that server serves, reads the drift in the form,
fills it with a signature from 'barecount sign', submits, and the run completes and publishes.
"""

from __future__ import annotations

from pathlib import Path

import bc_browser
import pytest
from bc_testkit import (
    flow_state,
    published,
    require_signed_approvals,
    spawn_cli,
    spawn_run,
    wait_for_pause,
)

from barecount.examples.finance import write_extract
from barecount.ledger import get_ledger
from barecount.prefect_api import ui_url

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "prefect-ui"
UI_TIMEOUT_MS = 60_000  # a cold UI bundle on a busy 2-core machine


@pytest.fixture
def browser_page():
    """A page in Debian's headless Chromium (never a Playwright-downloaded browser)."""
    yield from bc_browser.browser_page((1400, 1000), UI_TIMEOUT_MS)


def signature_from_cli(flow_run_id: str, approver: str) -> str:
    """What an approver pastes: the last line 'barecount sign' prints."""
    process = spawn_cli("sign", flow_run_id, "--as", approver, "--decision", "approve")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out.splitlines()[-1].strip()


def resume_in_the_form(page, flow_run_id: str, signature: str) -> None:
    """On the paused run's page: open the resume form, check the drift it shows, fill it in
    as alice with her signature, and submit it; screenshots along the way."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Resume").click()
    form = page.get_by_role("dialog")
    expect(form.get_by_text("Resume Flow Run")).to_be_visible()
    # the drift, as the form's description renders it: a renamed column, old and new name
    diff_row = form.get_by_role("row").filter(has_text="renamed")
    expect(diff_row).to_contain_text("customer_id")
    expect(diff_row).to_contain_text("client_id")
    diff_row.scroll_into_view_if_needed()
    expect(diff_row).to_be_visible()
    expect(form).to_contain_text(f"barecount sign {flow_run_id} --as NAME --decision approve")
    page.screenshot(path=str(ARTIFACTS / "2-drift-in-form.png"), full_page=True)

    def field(label: str):
        # by the field's heading: the form's <label for=...> names no element's id
        return form.locator(".schema-form-property").filter(has=page.get_by_text(label, exact=True))

    decision = field("Decision").get_by_role("button").last
    # From the keyboard: PSelect binds its click handler to both its button and the
    # button's wrapper, so a click on the button opens and at once closes the options.
    decision.press("ArrowDown")
    page.get_by_role("option", name="approve", exact=True).click()
    expect(decision).to_have_text("approve")
    field("Approver").get_by_role("textbox").fill("alice")
    field("Reason (Optional)").get_by_role("textbox").fill("ERP renamed the column")
    field("Signature (Optional)").get_by_role("textbox").fill(signature)
    page.screenshot(path=str(ARTIFACTS / "3-form-filled.png"), full_page=True)
    form.get_by_role("button", name="Submit").click()
    expect(form).to_have_count(0)


def test_an_approver_resumes_a_held_run_from_the_prefect_ui_form(
    manifests: Path, home: Path, prefect_api: str, browser_page
) -> None:
    from playwright.sync_api import expect

    governed = require_signed_approvals(manifests)
    partition = "2026-11-18"
    write_extract(home / "landing", "erp.invoices", partition, 300, drift="rename-column")
    run = spawn_run(governed, partition)
    page = browser_page
    try:
        check = wait_for_pause(partition, run)
        signature = signature_from_cli(check.flow_run_id, "alice")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.goto(f"{ui_url(prefect_api)}/runs/flow-run/{check.flow_run_id}")
        expect(page.get_by_text(f"finance-kpi-{partition}", exact=True)).to_be_visible()
        expect(page.get_by_text("Paused", exact=True).first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "1-paused.png"), full_page=True)
        resume_in_the_form(page, check.flow_run_id, signature)
        stdout, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, stderr
    assert "revenue_daily" in stdout
    [decision] = get_ledger().decisions_for(check_id=check.id)
    assert (decision.approver, decision.reason, decision.signed, decision.verdict) == (
        "alice",
        "ERP renamed the column",
        True,
        "accepted",
    )
    kpis = sorted((p.kpi, p.token) for p in published(partition))
    assert kpis == [(k, check.token) for k in ("dso_days", "overdue_ratio", "revenue_daily")]
    assert flow_state(check.flow_run_id) == "Completed"

    page.reload()
    expect(page.get_by_text("Completed", exact=True).first).to_be_visible()
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "4-completed.png"), full_page=True)
