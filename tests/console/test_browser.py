"""The console in headless Chromium: log in, see a held drift, approve it, watch the run finish."""

from __future__ import annotations

from pathlib import Path

import bc_browser
import pytest
from sqlalchemy import select

from barecount.console.auth import issue_token
from barecount.console.svg import STATE_STYLE
from barecount.ledger import get_ledger
from barecount.ledger.models import Publication
from barecount.manifest import load_manifests
from barecount.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_api")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "console"


@pytest.fixture
def console_url(console_server) -> str:
    """A `barecount console` subprocess; every page needs a login (the default)."""
    return console_server().url


@pytest.fixture
def browser_page():
    yield from bc_browser.browser_page((1280, 900))


def test_approver_approves_a_held_drift_in_the_browser(
    governed: Path, home: Path, paused_run, console_url: str, browser_page
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser_page
    held = paused_run("2026-11-23")
    token = issue_token(get_settings().home, "alice", load_manifests(governed))

    page.goto(f"{console_url}/pending")  # reads need a login: the console sends us to it
    page.wait_for_url(f"{console_url}/login?next=%2Fpending")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console_url}/pending")
    assert "signed in as alice" in page.inner_text("header")
    hold = page.locator(f"#hold-{held.check.id}")
    diff = hold.locator("table.diff").inner_text()
    assert "renamed" in diff and "customer_id" in diff
    page.screenshot(path=str(ARTIFACTS / "pending.png"), full_page=True)

    hold.locator("input[name=reason]").fill("ERP renamed the column")
    hold.locator("button.approve").click()
    page.wait_for_selector("#verdict", timeout=90_000)
    verdict = page.inner_text("#verdict")
    assert "accepted: approve by alice (signed)" in verdict
    assert "contract invoices is now version 2.0.0" in verdict
    page.screenshot(path=str(ARTIFACTS / "verdict.png"), full_page=True)

    stdout, stderr = held.process.communicate(timeout=120)
    assert held.process.returncode == 0, stderr
    assert "revenue_daily" in stdout
    with get_ledger().session() as session:
        published = session.execute(
            select(Publication.kpi).where(Publication.token == held.check.token)
        ).scalars()
        assert sorted(published) == ["dso_days", "overdue_ratio", "revenue_daily"]

    page.goto(f"{console_url}/")
    boxes = page.locator("#p-finance-kpi svg rect[data-stage]")
    assert boxes.count() == 3
    fills = {
        boxes.nth(i).get_attribute("data-stage"): boxes.nth(i).get_attribute("fill")
        for i in range(3)
    }
    assert fills == dict.fromkeys(
        ("ingest-invoices", "gdp-invoices", "kpi-finance"), STATE_STYLE["completed"][0]
    )
    page.screenshot(path=str(ARTIFACTS / "pipelines.png"), full_page=True)
