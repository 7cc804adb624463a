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
    """Give the approvers fresh keys ('keys generate', not the published demo keys), list
    them on finance-data with their public keys, require signed decisions (the default),
    and shorten finance-kpi's approval timeout to 300 s."""
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


def wait_for(condition, *, timeout: float, what: str, process=None, every: float = 0.3):
    """Poll ``condition()`` until it returns something truthy, and return that.

    Fails with ``what`` after ``timeout`` seconds, or at once when ``process`` (a Popen)
    ended meanwhile: then its output is in the message.
    """
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process is not None and process.poll() is not None:
            printed = "\n".join(text for text in process.communicate() if text)
            raise AssertionError(f"{what}: the process ended first\n{printed}")
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def wait_for_line(process, text: str, *, timeout: float) -> str:
    """Read ``process.stdout`` (a text pipe) up to the first line containing ``text``.

    Returns every line read so far, joined. Fails after ``timeout`` seconds, or when the
    output ends first, with what the process printed. The rest of the output stays in the
    pipe for the caller (unless the wait timed out: then a reader thread still holds it).
    """
    import threading

    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if text in line:
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    if not done.wait(timeout):
        printed = "".join(lines)
        raise AssertionError(f"no line with {text!r} within {timeout:g} s; printed:\n{printed}")
    printed = "".join(lines)
    if not lines or text not in lines[-1]:
        raise AssertionError(f"the output ended before a line with {text!r}; printed:\n{printed}")
    return printed


def spawn_cli(*args: str, capture: bool = True):
    """`barecount ARGS...` in a subprocess with this test's environment (a Popen)."""
    import os
    import subprocess
    import sys

    pipe = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "barecount.cli.main", *args],
        env=dict(os.environ),
        stdout=pipe,
        stderr=pipe,
        text=True,
        start_new_session=True,
    )


def spawn_run(manifests: Path, partition: str, pipeline: str = "finance-kpi", *extra: str):
    """`barecount run PIPELINE --partition P -m MANIFESTS` in a subprocess."""
    return spawn_cli("run", pipeline, "--partition", partition, "-m", str(manifests), *extra)


def flow_state(flow_run_id: str) -> str:
    """The Prefect state name of a flow run, read from the session's server."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state.name


def paused_hold(partition: str):
    """The pending hold of ``partition`` once its flow run is Paused, else None."""
    from barecount.ledger import get_ledger

    for check, _ in get_ledger().pending_holds():
        if check.partition == partition and flow_state(check.flow_run_id) == "Paused":
            return check
    return None


def wait_for_pause(partition: str, process, timeout: float = 90):
    """Wait until a spawned run of ``partition`` is paused at its gate; its GateCheck."""
    return wait_for(
        lambda: paused_hold(partition),
        timeout=timeout,
        what=f"a paused hold for {partition}",
        process=process,
    )


def paused_again(check, decisions: int, process) -> list:
    """Wait until the hold ``check`` has ``decisions`` decisions and its flow run is Paused
    again (each was refused); the decision rows, oldest first."""
    from barecount.ledger import get_ledger

    def found() -> list | None:
        recorded = get_ledger().decisions_for(check_id=check.id)
        if len(recorded) >= decisions and flow_state(check.flow_run_id) == "Paused":
            return recorded
        return None

    return wait_for(
        found,
        timeout=60,
        what=f"the run paused again after decision {decisions} was refused",
        process=process,
    )


def forget_deployments(*names: str) -> None:
    """Delete these deployments (``flow/name``) with their flow runs and trigger automations
    from the session's server, so a test that owns them starts from a clean slate."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for name in names:
            try:
                deployment = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
            )
            for run in runs:
                client.delete_flow_run(run.id)
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment.id}")
            client.delete_deployment(deployment.id)


REPO = Path(__file__).resolve().parents[2]


def deploy_project(
    manifests: Path, project: Path, *pipelines: str, config: Path | None = None
) -> Path:
    """A project folder (flows/, a copy of ``manifests``) applied to the session's server:
    its pipelines' deployments on the 'barecount' process pool, after every other deployment
    of the pool (other tests' leftovers, whose triggers would keep this test's worker busy)
    is removed; ``config``: a project config (barecount.yaml) for apply. Returns the
    project's manifests folder."""
    import shutil

    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        WorkPoolFilter,
        WorkPoolFilterName,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import ObjectAlreadyExists

    from barecount.cli.main import main
    from barecount.names import WORK_POOL, deployment_name

    pipelines = pipelines or ("finance-kpi", "finance-rollup")
    forget_deployments(*(deployment_name(p) for p in pipelines))  # served ones too
    clear_pool()
    shutil.copytree(REPO / "flows", project / "flows")
    shutil.copytree(manifests, project / "manifests")
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
        except ObjectAlreadyExists:
            pass
        stale = client.read_flow_runs(
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[WORK_POOL])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
        )
        for run in stale:
            client.delete_flow_run(run.id)
    only = [arg for p in pipelines for arg in ("--only", p)]
    args = ["apply", "-m", str(project / "manifests"), "--project", str(project), *only]
    args += ["--config", str(config)] if config is not None else []
    assert main(args) == 0, "barecount apply failed"
    return project / "manifests"


class ProcessWorker:
    """`prefect worker start` on the 'barecount' pool, polling every second, in ``cwd``."""

    def __init__(self, cwd: Path):
        import os
        import subprocess
        import sys

        from barecount.names import WORK_POOL

        prefect = str(Path(sys.executable).parent / "prefect")
        self.process = subprocess.Popen(
            [prefect, "worker", "start", "--pool", WORK_POOL, "--type", "process"],
            cwd=cwd,
            env={
                **os.environ,
                "PREFECT_WORKER_QUERY_SECONDS": "1",
                "PREFECT_WORKER_PREFETCH_SECONDS": "5",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def __enter__(self) -> ProcessWorker:
        return self

    def __exit__(self, *exc) -> None:
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def scheduled_flow_run() -> str:
    """The id of a flow run created on the session's server and never started: a run on its
    way to the gate, not paused yet."""
    from prefect import flow, get_client

    @flow(name="bc-not-started")
    def trivial() -> None:
        return None

    with get_client(sync_client=True) as client:
        return str(client.create_flow_run(trivial).id)


def pending_hold_for(flow_run_id: str, partition: str = "2026-11-22"):
    """A pending hold in the test's ledger for ``flow_run_id`` (a renamed column on
    finance-kpi's invoices); returns its GateCheck."""
    from barecount.ledger import get_ledger
    from barecount.ledger.models import GateCheck
    from barecount.status import HoldStatus

    ledger = get_ledger()
    check = ledger.record_check(
        check=GateCheck(
            run_id=1,
            token=f"rt-hold-{partition}",
            pipeline="finance-kpi",
            partition=partition,
            stage="ingest-invoices",
            contract="invoices",
            contract_version="1.0.0",
            flow_run_id=flow_run_id,
            schema_fingerprint="sha256:" + "0" * 64,
            outcome="hold",
            classification="breaking",
            diff=[{"kind": "renamed", "column": "customer_id", "to": "client_id"}],
            detail="breaking drift",
        )
    )
    ledger.record_hold(check=check, status=HoldStatus.PENDING, detail="renamed customer_id")
    return check


def clear_pool() -> None:
    """Delete every deployment on the 'barecount' work pool, with its runs and automations."""
    from prefect import get_client
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    from barecount.names import WORK_POOL

    with get_client(sync_client=True) as client:
        found = client.read_deployments(
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[WORK_POOL])),
            limit=200,
        )
        names = [f"{client.read_flow(d.flow_id).name}/{d.name}" for d in found]
    forget_deployments(*names)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """`barecount ARGS...` in this process: exit code, stdout, stderr (earlier output dropped)."""
    from barecount.cli.main import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def published(partition: str, pipeline: str = "finance-kpi") -> list:
    """The ledger's publications of ``pipeline`` for ``partition``."""
    from sqlalchemy import select

    from barecount.ledger import get_ledger
    from barecount.ledger.models import Publication

    with get_ledger().session() as session:
        query = select(Publication).where(
            Publication.pipeline == pipeline, Publication.partition == partition
        )
        return list(session.execute(query).scalars())
