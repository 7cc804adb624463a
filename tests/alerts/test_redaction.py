"""Secrets in alert channels: redacted by Apprise's own knowledge of each scheme, refused in
manifests by validate, and never printed, recorded or shown when a run alerts through them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from bc_testkit import spawn_run, write_pipeline

from barecount.cli.main import main
from barecount.manifest.channels import redact_channel, url_credentials

MSTEAMS = (
    "msteams://finance/8f2c6d0e-3b1a-4c5d-9e7f-1a2b3c4d5e6f@0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
    "/5d4c3b2a19f8e7d6c5b4a39281706f5e/1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b/"
)
# The audit's inputs: the URL, the secrets it carries, and how the ledger may show it.
AUDIT = {
    "telegram": (
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345/",
        ["123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"],
        "tgram://1...w/***",
    ),
    "pushbullet": (
        "pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b",
        ["o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b"],
        "pbul://o...b/***",
    ),
    "msteams": (  # three tokens; Apprise 2 dropped the scheme, so it cannot parse it at all
        MSTEAMS,
        [
            "8f2c6d0e-3b1a-4c5d-9e7f-1a2b3c4d5e6f@0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
            "5d4c3b2a19f8e7d6c5b4a39281706f5e",
            "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b",
        ],
        "msteams://***",
    ),
    "json password with / and @": ("json://user:pa/ss@w@rd@host/", ["pa/ss@w@rd"], "json://***"),
    "slack": (
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
        ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"],
        "slack://T...2/***",
    ),
    "discord": (
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
        ["4174216298", "JHMHI8qBe7bk2ZwO5U711o3dV_js"],
        "discord://4...8/***",
    ),
    "mailto": (
        "mailto://user:passw0rd@gmail.com",
        ["passw0rd"],
        "mailtos://user:****@gmail.com/***",
    ),
}
ALL_SECRETS = [secret for _, secrets, _ in AUDIT.values() for secret in secrets]


def leaks(text: str, secrets: list[str] = ALL_SECRETS) -> list[str]:
    """Pieces of the secrets found in ``text``: every 6 characters in a row of each (Apprise's
    privacy mode may show a token's first and last character, nothing longer)."""
    return sorted(
        {s[i : i + 6] for s in secrets for i in range(len(s) - 5) if s[i : i + 6] in text}
    )


@pytest.mark.parametrize("name", AUDIT)
def test_apprise_redacts_every_secret_its_scheme_declares(name: str) -> None:
    url, secrets, shown = AUDIT[name]
    assert leaks(url, secrets)  # the check can fail
    assert redact_channel(url) == shown
    assert leaks(redact_channel(url), secrets) == []


def test_redaction_names_what_apprise_declares_private_and_keeps_references() -> None:
    assert url_credentials(AUDIT["telegram"][0]) == ("bot_token",)
    assert url_credentials(AUDIT["pushbullet"][0]) == ("accesstoken",)
    assert url_credentials(AUDIT["discord"][0]) == ("webhook_id", "webhook_token")
    assert url_credentials(AUDIT["mailto"][0]) == ("password",)
    assert url_credentials(AUDIT["msteams"][0]) is None  # cannot tell: treated as secret
    assert url_credentials("json://127.0.0.1:8765/hook/s3cr3t") == ()
    # a webhook path is no credential to Apprise, but the ledger never shows paths
    assert redact_channel("json://127.0.0.1:8765/hook/s3cr3t") == "json://127.0.0.1:8765/***"
    for reference in ("block:slack-webhook/finance-alerts", "env:FINANCE_ALERTS_URL"):
        assert redact_channel(reference) == reference


def test_validate_refuses_literal_credentials_with_the_fix(capsys, manifests: Path) -> None:
    team = manifests / "teams" / "finance-data.yaml"
    text = team.read_text()
    literals = [url for url, _, _ in AUDIT.values()]
    team.write_text(text.replace("  alerts: []", f"  alerts: {json.dumps(literals)}"))
    assert main(["validate", str(manifests)]) == 2  # invalid manifests
    out = capsys.readouterr()
    printed = out.out + out.err
    assert leaks(printed) == []
    assert "Traceback" not in printed
    problems = [line.strip() for line in printed.splitlines() if "spec.alerts[" in line]
    assert len(problems) == len(AUDIT)
    line = text.splitlines().index("  alerts: []") + 1
    assert problems[0].startswith(f"{team}:{line}: spec.alerts[0]: alert channel tgram://1...w/***")
    assert "carries credentials (bot_token: private in Apprise's tgram:// scheme)" in problems[0]
    assert "Apprise cannot parse" in problems[3]  # the unencoded '/' and '@'
    assert "names no service Apprise knows (msteams://)" in problems[2]
    for problem in problems:
        assert "store it in a Prefect block" in problem
        assert "write block:secret/finance-data-alerts-url" in problem
        assert "env:FINANCE_DATA_ALERTS_URL" in problem


def test_validate_accepts_blocks_variables_and_urls_without_credentials(
    capsys, manifests: Path, team_channels
) -> None:
    team_channels(
        ["block:slack-webhook/finance-alerts", "json://127.0.0.1:8765/hook/path-token"],
        ["block:secret/finance-alerts-url", "env:FINANCE_ALERTS_URL", "mailto://ops@example.com"],
    )
    assert main(["validate", str(manifests)]) == 0
    capsys.readouterr()
    team = manifests / "teams" / "finance-data.yaml"
    team.write_text(team.read_text().replace("block:secret/finance-alerts-url", "block:Secret"))
    team.write_text(team.read_text().replace("env:FINANCE_ALERTS_URL", "finance-alerts"))
    assert main(["validate", str(manifests)]) == 2
    printed = capsys.readouterr().err
    assert "spec.escalation[0]: a block channel is block:TYPE/NAME" in printed
    assert "spec.escalation[1]: not an alert channel; use block:TYPE/NAME" in printed


@pytest.mark.usefixtures("prefect_api")
def test_a_failing_run_never_shows_the_secrets_of_its_channels(
    capsys, home: Path, manifests: Path, monkeypatch, refusing_proxy, team_channels
) -> None:
    from fastapi.testclient import TestClient
    from prefect.blocks.system import Secret
    from sqlalchemy import select

    from barecount.console.app import create_app
    from barecount.console.options import ConsoleOptions
    from barecount.ledger import get_ledger
    from barecount.ledger.models import Alert, PipelineRun
    from barecount.settings import get_settings

    # every audit URL reaches the run the two ways a secret may: an environment variable, and
    # a Prefect Secret block; the web services' sends go to the refusing proxy (mail is left
    # out: SMTP takes no proxy, and its redaction is checked above)
    urls = {name: url for name, (url, _, _) in AUDIT.items() if name != "mailto"}
    channels = []
    for i, url in enumerate(urls.values()):
        monkeypatch.setenv(f"BC_TEST_ALERT_{i}", url)
        channels.append(f"env:BC_TEST_ALERT_{i}")
    block = f"finance-alerts-{uuid.uuid4().hex[:8]}"
    Secret(value=urls["telegram"]).save(block)
    team_channels([*channels, f"block:secret/{block}"])
    write_pipeline(
        manifests,
        "fragile",
        [{"name": "load", "kind": "kpi", "run": "bc_test_stages:switch", "publishes": ["total"]}],
    )
    home.mkdir(parents=True, exist_ok=True)
    (home / "fail.flag").write_text("x")
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "INFO")  # what a user sees by default
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1] / "support"))  # the stage
    process = spawn_run(manifests, "2026-11-23", "fragile")
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 1, stdout + stderr
    assert "the upstream export is corrupt" in stdout + stderr

    with get_ledger().session() as session:
        alerts = session.execute(select(Alert).order_by(Alert.id)).scalars().all()
        token = session.execute(select(PipelineRun.token)).scalar_one()
    assert [a.channel for a in alerts] == [*channels, f"block:secret/{block}"]
    assert not any(a.delivered for a in alerts)
    assert all(a.error and "\n" not in a.error for a in alerts)
    unparsed = [a.error for a in alerts if "Apprise understands" in a.error]
    assert len(unparsed) == 2  # msteams and the unencoded password: never sent anywhere
    # the secrets were used: the sends were tried, and refused on this machine
    assert {"api.telegram.org", "api.pushbullet.com", "hooks.slack.com", "discord.com"} <= set(
        refusing_proxy.hosts
    )

    assert main(["ledger", "show", "--token", token]) == 0
    assert main(["status", "--json", "-m", str(manifests)]) == 0
    shown = capsys.readouterr()
    public = ConsoleOptions(public=True)  # the pages as anyone who may read them sees them
    app = create_app(get_settings(), manifests=manifests, options=public)
    console = TestClient(app, base_url="http://127.0.0.1:8787")
    answers = [console.get(path) for path in ("/", "/pipelines/fragile")]
    assert [a.status_code for a in answers] == [200, 200]
    assert "fragile" in answers[1].text  # the real page, with the pipeline's alerts on it
    pages = [a.text for a in answers]
    rows = json.dumps([a.model_dump(mode="json") for a in alerts])
    for place, text in {
        "run output": stdout + stderr,
        "ledger alert rows": rows,
        "ledger show and status": shown.out + shown.err,
        "console": "".join(pages),
    }.items():
        assert leaks(text) == [], place
