"""Helpers shared by tests (importable because conftest puts tests/support on sys.path)."""

from __future__ import annotations

from pathlib import Path

ITEMS_COLUMNS = [("id", "integer", True)]


def write_pipeline(root: Path, name: str, stages: list[dict], **spec: object) -> Path:
    """Write a Pipeline manifest (JSON is YAML) into a manifests folder and return its path."""
    import json

    document = {
        "apiVersion": "barecount/v1",
        "kind": "Pipeline",
        "metadata": {"name": name, "owner": "finance-data"},
        "spec": {"stages": stages, **spec},
    }
    path = root / "pipelines" / f"{name}.yaml"
    path.write_text(json.dumps(document, indent=2))
    uses_items = any(stage.get("contract") == "items" for stage in stages)
    if uses_items and not (root / "contracts" / "items.yaml").exists():
        write_contract(root, "items", ITEMS_COLUMNS)  # what bc_test_stages.extract extracts
    return path


def write_contract(root: Path, name: str, columns: list[tuple[str, str, bool]], **settings) -> Path:
    """Write an ODCS v3 contract; settings become barecount.* customProperties."""
    import json

    document = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": name,
        "name": name,
        "version": "1.0.0",
        "status": "active",
        "schema": [
            {
                "name": name,
                "properties": [{"name": c, "logicalType": t, "required": r} for c, t, r in columns],
            }
        ],
        "customProperties": [
            {"property": f"barecount.{key}", "value": value} for key, value in settings.items()
        ],
    }
    path = root / "contracts" / f"{name}.yaml"
    path.write_text(json.dumps(document, indent=2))
    return path


def require_signed_approvals(
    manifests: Path, approvers: tuple[str, ...] = ("alice", "bob")
) -> Path:
    """Give the approvers keys, list them on finance-data with their public keys, require
    signed decisions, and shorten finance-kpi's approval timeout to 300 s."""
    from barecount.cli.main import main
    from barecount.governance.signing import load_private_key, public_key_line
    from barecount.settings import get_settings

    for name in approvers:
        assert main(["keys", "generate", name, "--force"]) == 0
    lines = [
        f'    - {{name: {name}, public_key: "'
        f'{public_key_line(load_private_key(get_settings().home, name).public_key())}"}}'
        for name in approvers
    ]
    team = manifests / "teams" / "finance-data.yaml"
    text = team.read_text()
    start, end = text.index("  approvers:"), text.index("  require_signed_approvals")
    team.write_text(
        text[:start]
        + "  approvers:\n"
        + "\n".join(lines)
        + "\n"
        + text[end:].replace("require_signed_approvals: false", "require_signed_approvals: true")
    )
    pipeline = manifests / "pipelines" / "finance-kpi.yaml"
    pipeline.write_text(
        pipeline.read_text().replace(
            "  stages:", "  governance: {approval_timeout_seconds: 300}\n  stages:"
        )
    )
    return manifests
