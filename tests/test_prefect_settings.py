"""Prefect's settings are the settings: profiles are read, and a home never borrows a server.

Both tests run the real CLI in subprocesses. The first points a Prefect profile (no
PREFECT_API_URL in the environment) at the session's server; the second starts two real
local servers for two homes on the default port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest


def _cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "barecount.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _env_without_api(tmp_path: Path, name: str) -> dict[str, str]:
    """This test's environment with no API URL and its own Prefect and BareCount homes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PREFECT_API_URL", "BARECOUNT_PREFECT_API_URL", "BARECOUNT_SERVER_PORT"}
    }
    prefect_home = tmp_path / f"{name}-prefect"
    prefect_home.mkdir()
    env.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_PROFILES_PATH=str(prefect_home / "profiles.toml"),
        BARECOUNT_HOME=str(tmp_path / f"{name}-home"),
    )
    return env


def test_a_prefect_profile_names_the_server_and_none_is_started(
    tmp_path: Path, home: Path, manifests: Path, prefect_api: str
) -> None:
    env = _env_without_api(tmp_path, "profiled")
    Path(env["PREFECT_PROFILES_PATH"]).write_text(
        f'active = "team"\n\n[profiles.team]\nPREFECT_API_URL = "{prefect_api}"\n'
    )

    status = _cli(env, "server", "status")
    assert status.returncode == 0, status.stderr
    assert f"configured Prefect API {prefect_api}: up" in status.stdout

    done = _cli(env, "run", "finance-kpi", "-p", "2026-11-20", "-m", str(manifests), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    flow_run_id = json.loads(done.stdout)["flow_run_id"]
    answer = httpx.get(f"{prefect_api}/flow_runs/{flow_run_id}", timeout=10)
    assert answer.status_code == 200  # the run is on the profile's server
    assert answer.json()["state"]["type"] == "COMPLETED"
    home_dir = Path(env["BARECOUNT_HOME"])
    assert not (home_dir / "prefect" / "server.json").exists()  # and no server was started


def test_two_homes_on_the_default_port_never_share_a_server(tmp_path: Path) -> None:
    homes = [_env_without_api(tmp_path, name) for name in ("first", "second")]
    urls: list[str] = []
    try:
        for env in homes:
            started = _cli(env, "server", "start")
            assert started.returncode == 0, started.stderr
            urls.append(started.stdout.split("(API ")[1].split(")")[0])
        assert urls[0] != urls[1]  # the second home did not attach to the first's server
        for env, url in zip(homes, urls, strict=True):
            record = json.loads((Path(env["BARECOUNT_HOME"]) / "prefect/server.json").read_text())
            assert url.endswith(f":{record['port']}/api")
            status = _cli(env, "server", "status")
            assert f"local Prefect API {url}: up" in status.stdout
        if urls[0].endswith(":4280/api"):  # the default port was free for the first home
            assert not urls[1].endswith(":4280/api")

        taken = int(urls[0].rsplit(":", 1)[1].split("/")[0])
        third = _env_without_api(tmp_path, "third") | {"BARECOUNT_SERVER_PORT": str(taken)}
        refused = _cli(third, "server", "start")
        assert refused.returncode != 0
        assert f"port {taken} (BARECOUNT_SERVER_PORT) is taken" in refused.stderr + refused.stdout
        assert "Traceback" not in refused.stderr
    finally:
        for env in homes:
            _cli(env, "server", "stop", timeout=60)
    for url in urls:
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url}/health", timeout=2)
