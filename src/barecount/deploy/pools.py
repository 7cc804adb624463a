"""Work pool types: their base job templates, and job variables checked against them."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from typing import Any

from barecount.errors import GitOpsError
from barecount.manifest.limits import shown
from barecount.manifest.suggest import did_you_mean

# Prefect's copy of the collection registry's worker metadata: what its server answers for
# /collections/views/aggregate-worker-metadata when GitHub is out of reach, and where
# `prefect work-pool create --type docker` gets the template without prefect-docker.
REGISTRY_FILE = "collections_data/views/aggregate-worker-metadata.json"


def base_job_template(pool_type: str) -> dict[str, Any]:
    """The template `prefect work-pool create --type TYPE` stores: the installed worker's
    (process always; docker or kubernetes with prefect-docker / prefect-kubernetes), else the
    one in the collection registry shipped inside Prefect.

    Raises:
        GitOpsError: no worker of that type is known.
    """
    return copy.deepcopy(_template(pool_type))


@functools.cache
def _template(pool_type: str) -> dict[str, Any]:
    from prefect.workers.base import BaseWorker

    worker = BaseWorker.get_worker_class_from_type(pool_type)
    if worker is not None:
        return worker.get_default_base_job_template()
    for collection in _registry().values():
        for found in collection.values():
            if found.get("type") == pool_type:
                return found["default_base_job_configuration"]
    raise GitOpsError(f"Prefect knows no {pool_type!r} worker, so it has no job template for it")


def _registry() -> dict[str, Any]:
    from importlib.resources import files

    text = files("prefect.server.api").joinpath(REGISTRY_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def job_variable_problems(
    variables: dict[str, Any], pool_type: str, where: Callable[[tuple[Any, ...]], str]
) -> list[str]:
    """Unknown names and wrongly typed values among `variables`, for a `pool_type` pool.

    Prefect itself ignores a job variable its template does not name (the run starts without
    it), so an unknown one is refused here. `where(path)` gives 'file:line: field' of a
    path inside `variables`.
    """
    from prefect.utilities.schema_tools.validation import validate

    schema = _template(pool_type)["variables"]
    allowed = sorted(schema.get("properties", {}))
    problems = [
        f"{where((name,))}: unknown job variable {shown(name)} for a {pool_type} work pool"
        f"{did_you_mean(str(name), allowed)}; {pool_type} pools take: {', '.join(allowed)}"
        for name in variables
        if name not in allowed
    ]
    known = {k: v for k, v in variables.items() if k in allowed}
    # as Prefect's server checks a deployment's job variables: required ones may come later
    for error in validate(known, schema, ignore_required=True, allow_none_with_default=True):
        path = tuple(error.absolute_path)
        problems.append(f"{where(path)}: {_message(error)}")
    return problems


def _message(error: Any) -> str:
    if error.validator in ("type", "anyOf", "enum"):
        expected = " or ".join(dict.fromkeys(_kinds({error.validator: error.validator_value})))
        return f"got {shown(error.instance)}; should be {expected}"
    return str(error.message)[:200]


def _kinds(schema: dict[str, Any]) -> list[str]:
    """What a (preprocessed) JSON schema accepts, in words: 'string', 'null', "'Always'"."""
    if "anyOf" in schema:
        return [kind for option in schema["anyOf"] for kind in _kinds(option)]
    if "enum" in schema:
        return [repr(value) for value in schema["enum"]]
    kind = schema.get("type", "an object")
    return [str(k) for k in kind] if isinstance(kind, list) else [str(kind)]
