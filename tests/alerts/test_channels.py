"""Alerts through Prefect blocks and environment variables, read at send time on the
session's real server, reach a real receiver; a missing one fails the delivery, not the run."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from bc_testkit import write_pipeline
from sqlalchemy import select

from barecount.ledger import get_ledger
from barecount.ledger.models import Alert
from barecount.runtime.flows import governed_pipeline

pytestmark = pytest.mark.usefixtures("prefect_api")
SECRET = "s3cr3t-in-a-block"


def unique(name: str) -> str:
    """A block name no other test on the shared server uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def failing_run(home: Path, manifests: Path, partition: str = "2026-11-20"):
    """Run a pipeline whose only stage fails, so the team is alerted once; its state."""
    write_pipeline(
        manifests,
        "fragile",
        [{"name": "load", "kind": "kpi", "run": "bc_test_stages:switch", "publishes": ["total"]}],
    )
    home.mkdir(parents=True, exist_ok=True)
    (home / "fail.flag").write_text("x")
    return governed_pipeline(
        pipeline="fragile", partition=partition, manifests=str(manifests), return_state=True
    )


def recorded() -> list[Alert]:
    with get_ledger().session() as session:
        return session.execute(select(Alert).order_by(Alert.id)).scalars().all()


def test_an_alert_goes_out_through_prefect_notification_blocks(
    home: Path, manifests: Path, receiver, team_channels
) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock, SlackWebhook

    # an Apprise-based notification block (its URL a secret field of the block) ...
    slack = unique("finance-alerts")
    SlackWebhook(url=f"json://127.0.0.1:{receiver.port}/slack-block").save(slack)
    # ... and Prefect's custom webhook, which posts with its own HTTP client
    custom = unique("finance-oncall")
    CustomWebhookNotificationBlock(
        name="finance",
        url=f"http://127.0.0.1:{receiver.port}/custom-block",
        json_data={"title": "{{subject}}", "message": "{{body}}", "token": "{{token}}"},
        secrets={"token": SECRET},
    ).save(custom)
    team_channels([f"block:slack-webhook/{slack}", f"block:custom-webhook/{custom}"])

    state = failing_run(home, manifests)

    assert state.is_failed()
    assert sorted(receiver.paths()) == ["/custom-block", "/slack-block"]
    for _, payload in receiver.received:
        assert payload["title"] == "BareCount: fragile 2026-11-20 failed"
        assert "the upstream export is corrupt" in payload["message"]
    assert [(a.channel, a.delivered, a.attempts, a.error) for a in recorded()] == [
        (f"block:slack-webhook/{slack}", True, 1, None),
        (f"block:custom-webhook/{custom}", True, 1, None),
    ]


def test_secret_blocks_and_environment_variables_hold_apprise_urls(
    home: Path, manifests: Path, receiver, team_channels, monkeypatch
) -> None:
    from prefect.blocks.system import Secret

    secret = unique("finance-alerts-url")
    Secret(value=f"json://bot:{SECRET}@127.0.0.1:{receiver.port}/from-secret").save(secret)
    monkeypatch.setenv("BC_TEST_ALERTS_URL", f"json://bot:{SECRET}@127.0.0.1:{receiver.port}/env")
    team_channels([f"block:secret/{secret}", "env:BC_TEST_ALERTS_URL"])

    failing_run(home, manifests)

    assert receiver.paths() == ["/from-secret", "/env"]
    rows = recorded()
    assert [(a.channel, a.delivered) for a in rows] == [
        (f"block:secret/{secret}", True),
        ("env:BC_TEST_ALERTS_URL", True),
    ]
    assert not any(SECRET in str(a.model_dump()) for a in rows)


def test_a_missing_block_or_variable_fails_the_delivery_in_one_line_not_the_run(
    home: Path, manifests: Path, team_channels, monkeypatch, caplog
) -> None:
    from prefect.blocks.notifications import SlackWebhook
    from prefect.blocks.system import Secret
    from prefect.blocks.webhook import Webhook

    monkeypatch.delenv("BC_TEST_UNSET_URL", raising=False)
    dead = unique("dead-end")
    SlackWebhook(url="json://127.0.0.1:9/closed").save(dead)
    not_text = unique("holds-a-mapping")
    Secret(value={"url": f"json://bot:{SECRET}@127.0.0.1:9/x"}).save(not_text)
    webhook = unique("plain-webhook")
    Webhook(url="http://127.0.0.1:9/hook").save(webhook)
    missing, missing_type = unique("nowhere"), unique("nothing")
    channels = [
        f"block:secret/{missing}",
        f"block:slack-webhook/{missing_type}",
        "env:BC_TEST_UNSET_URL",
        f"block:secret/{not_text}",
        f"block:webhook/{webhook}",
        f"block:slack-webhook/{dead}",
    ]
    team_channels(channels)

    state = failing_run(home, manifests)

    # the run fails for its own reason, not the alerts'
    assert "the upstream export is corrupt" in str(state.result(raise_on_failure=False))
    rows = recorded()
    assert [(a.channel, a.delivered, a.attempts) for a in rows] == [
        *((c, False, 0) for c in channels[:-1]),
        (channels[-1], False, 4),  # a block that exists but whose service refuses: retried
    ]
    errors = [a.error for a in rows]
    assert errors[0] == (
        f"Prefect block secret/{missing} does not exist on the Prefect server; create a Secret "
        f"holding the Apprise URL named '{missing}' (the Prefect UI's Blocks page, or .save() "
        "in Python)"
    )
    assert errors[1].startswith(f"Prefect block slack-webhook/{missing_type} does not exist")
    assert errors[2].startswith("environment variable BC_TEST_UNSET_URL is not set")
    assert errors[3] == (
        f"Prefect block secret/{not_text} holds no text; store the Apprise URL as its value"
    )
    assert errors[4] == (
        f"Prefect block webhook/{webhook} is a Webhook, neither a notification block nor a Secret"
    )
    assert errors[5] == "NotificationError"
    assert all("\n" not in e and "Traceback" not in e for e in errors)
    assert SECRET not in " ".join(errors) + caplog.text
