"""validate, graph, compile and schema from the command line: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from barecount.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_passes_on_shipped_manifests(capsys, manifests: Path) -> None:
    code, out, _ = run(capsys, "validate", str(manifests))
    assert code == 0
    assert "valid: 2 pipeline(s), 1 team(s), 1 contract(s)" in out


def test_validate_json(capsys, manifests: Path) -> None:
    code, out, _ = run(capsys, "validate", str(manifests), "--json")
    assert code == 0
    assert json.loads(out)["pipelines"] == ["finance-kpi", "finance-rollup"]


def test_validate_reports_file_and_line_without_traceback(capsys, manifests: Path) -> None:
    path = manifests / "pipelines" / "finance-kpi.yaml"
    path.write_text(path.read_text().replace("needs: [gdp-invoices]", "needs: [gdp-invoice]"))
    code, out, err = run(capsys, "validate", str(manifests))
    assert code == 2  # invalid manifests (README "Exit codes")
    assert "Traceback" not in out + err
    assert (
        f"{manifests}/pipelines/finance-kpi.yaml:33: stage 'kpi-finance' needs unknown stage "
        "'gdp-invoice' (did you mean 'gdp-invoices'?)"
    ) in err.replace("\n", "")


def test_unknown_pipeline_is_a_clean_error(capsys, manifests: Path) -> None:
    code, _, err = run(capsys, "graph", "finance", "--manifests", str(manifests))
    assert code == 1
    assert "unknown pipeline 'finance' (did you mean 'finance-kpi'?)" in err


def test_graph_dot(capsys, manifests: Path) -> None:
    code, out, _ = run(capsys, "graph", "finance-kpi", "--format", "dot", "-m", str(manifests))
    assert code == 0
    assert '"ingest-invoices" -> "gdp-invoices";' in out


def test_graph_bad_format(capsys, manifests: Path) -> None:
    code, _, err = run(capsys, "graph", "finance-kpi", "--format", "png", "-m", str(manifests))
    assert code == 2
    assert "unknown format 'png'; use text, mermaid or dot" in err


def test_compile_check_reports_stale_file_with_diff(capsys, manifests: Path, tmp_path: Path):
    output = tmp_path / "prefect.yaml"
    assert run(capsys, "compile", "-m", str(manifests), "-o", str(output))[0] == 0
    assert run(capsys, "compile", "--check", "-m", str(manifests), "-o", str(output))[0] == 0
    path = manifests / "pipelines" / "finance-kpi.yaml"
    path.write_text(path.read_text().replace('cron: "0 0 * * *"', 'cron: "30 1 * * *"'))
    code, out, _ = run(capsys, "compile", "--check", "-m", str(manifests), "-o", str(output))
    assert code == 1
    assert "-  - cron: 0 0 * * *" in out
    assert "+  - cron: 30 1 * * *" in out
    assert "stale:" in out


def test_run_rejects_bad_partition_before_touching_prefect(capsys, manifests: Path) -> None:
    code, _, err = run(
        capsys, "run", "finance-kpi", "--partition", "2026-13-01", "-m", str(manifests)
    )
    assert code == 1
    assert "bad partition '2026-13-01'" in err
    assert "YYYY-MM-DD" in err


def test_run_rejects_bad_token(capsys, manifests: Path) -> None:
    code, _, err = run(capsys, "run", "finance-kpi", "--token", "a b", "-m", str(manifests))
    assert code == 2  # a usage error: the token is malformed by itself
    assert "run token 'a b' is not usable" in err


def test_run_with_unreachable_prefect_api(capsys, manifests: Path, monkeypatch) -> None:
    from barecount.settings import get_settings

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    get_settings.cache_clear()
    try:
        code, _, err = run(capsys, "run", "finance-kpi", "-p", "2026-11-26", "-m", str(manifests))
    finally:
        get_settings.cache_clear()
    assert code == 4  # the Prefect API cannot be reached (README "Exit codes")
    assert "the Prefect API at http://127.0.0.1:9/api does not answer" in err
