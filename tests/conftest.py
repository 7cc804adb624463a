"""Shared fixtures: one real Prefect server per test session, isolated BareCount homes."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent / "support"))  # test stage code: bc_test_stages
SHIPPED_MANIFESTS = REPO / "manifests"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Tests that create, take over or run deployments on the 'barecount' work pool (the shipped
# pipelines' governed-pipeline/finance-kpi, and test pipelines triggered by the same events)
# share that server state, so they carry @pytest.mark.xdist_group("finance-kpi-deployment")
# and run one after another on one worker (scripts/test.sh uses --dist loadgroup).
SHARED_DEPLOYMENTS = "finance-kpi-deployment"


def _worker() -> str | None:
    """This process's pytest-xdist worker id (gw0, gw1, ...), None when not under xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def pytest_configure(config: pytest.Config) -> None:
    # Before anything imports Prefect. The first process (the only one, or xdist's controller)
    # makes the session folder and picks the port of the session's one Prefect server; xdist
    # workers inherit that environment and share the server, each with its own BareCount home
    # (keys, console tokens) and Prefect client home.
    worker = _worker()
    if worker is None:
        session_home = Path(tempfile.mkdtemp(prefix="barecount-tests-"))
        port = _free_port()
        os.environ.update(
            BARECOUNT_TEST_SESSION=str(session_home),
            BARECOUNT_SERVER_PORT=str(port),
            PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            # schedule deployments' runs within seconds, not the default minute
            PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",
            PREFECT_LOGGING_LEVEL="WARNING",
            PREFECT_RESULTS_PERSIST_BY_DEFAULT="false",
        )
        os.environ.pop("BARECOUNT_PREFECT_API_URL", None)
        config._barecount_session_home = session_home  # type: ignore[attr-defined]
    session_home = Path(os.environ["BARECOUNT_TEST_SESSION"])
    suffix = f"-{worker}" if worker else ""
    os.environ.update(
        BARECOUNT_HOME=str(session_home / f"home{suffix}"),
        PREFECT_HOME=str(session_home / f"prefect-client{suffix}"),
    )


def _server_settings():
    """Settings of the session's shared server: its own home, whichever process starts it."""
    from barecount.settings import get_settings

    home = Path(os.environ["BARECOUNT_TEST_SESSION"]) / "server"
    return get_settings().model_copy(update={"home": home})


def pytest_unconfigure(config: pytest.Config) -> None:
    if "prefect" in sys.modules:  # send buffered run logs before the server goes away
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
    home = getattr(config, "_barecount_session_home", None)
    if home is not None:  # the process that made the session folder cleans it up
        from barecount.prefect_api import stop_local_server
        from barecount.settings import get_settings

        get_settings.cache_clear()
        stop_local_server(_server_settings())
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """The session's real Prefect server (started on first use, SQLite, own home)."""
    from barecount.prefect_api import start_local_server
    from barecount.settings import get_settings

    get_settings.cache_clear()
    url = start_local_server(_server_settings())
    assert url == os.environ["PREFECT_API_URL"]
    yield url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api: str) -> Iterator[Path]:
    """A fresh warehouse, ledger and landing folder for one test; the server is shared."""
    from barecount.settings import get_settings

    state = tmp_path / "state"
    monkeypatch.setenv("BARECOUNT_WAREHOUSE", str(state / "warehouse.db"))
    monkeypatch.setenv("BARECOUNT_LANDING", str(state / "landing"))
    monkeypatch.setenv("BARECOUNT_LEDGER_URL", f"sqlite:///{state / 'ledger.db'}")
    # The run-token cache lives beside the warehouse it describes: each test has its own.
    monkeypatch.setenv("BARECOUNT_RESULTS", str(state / "results"))
    get_settings.cache_clear()
    yield state
    get_settings.cache_clear()


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    """A writable copy of the shipped manifests."""
    target = tmp_path / "manifests"
    shutil.copytree(SHIPPED_MANIFESTS, target)
    return target


PG_ADMIN_DSN = os.environ.get("BARECOUNT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin():
    import psycopg2

    try:
        conn = psycopg2.connect(PG_ADMIN_DSN, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(
            f"no PostgreSQL answers at {PG_ADMIN_DSN} ({str(exc).strip()}); "
            "the SQLite half of this test still runs"
        )
    conn.autocommit = True
    return conn


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import uuid

    from sqlalchemy.engine import make_url

    name = f"bc_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_DSN).set(drivername="postgresql+psycopg2", database=name)
    yield url.render_as_string(hide_password=False)
    from barecount.ledger import close_ledgers

    close_ledgers()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch) -> Iterator[str]:
    """The ledger on SQLite and on PostgreSQL; BARECOUNT_LEDGER_URL points at it."""
    from barecount.settings import get_settings

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("BARECOUNT_LEDGER_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
