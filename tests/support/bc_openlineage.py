"""Validating OpenLineage events: each against the OpenLineage 2-0-2 JSON Schema, each standard
facet against its own schema (tests/data/openlineage, local copies), and BareCount's facets
against the schema the project publishes (schemas/openlineage/BareCountFacets.json)."""

from __future__ import annotations

import json
import threading
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "tests" / "data" / "openlineage"
OURS = REPO / "schemas" / "openlineage" / "BareCountFacets.json"
EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


@cache
def _documents() -> dict[str, dict]:
    """File name (OpenLineage.json, ParentRunFacet.json, BareCountFacets.json) -> schema."""
    paths = [SPEC / "OpenLineage.json", OURS, *sorted((SPEC / "facets").glob("*.json"))]
    return {path.name: json.loads(path.read_text()) for path in paths}


@cache
def _registry() -> Registry:
    resources = [(doc["$id"], Resource.from_contents(doc)) for doc in _documents().values()]
    return Registry().with_resources(resources)


def _validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": ref}, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def facet_schema(url: str) -> str:
    """The local schema a facet's _schemaURL names: the same file, whatever its version."""
    path, _, pointer = url.partition("#")
    name = path.rsplit("/", 1)[-1]
    document = _documents().get(name)
    assert document is not None, f"no local schema for facet schema {url}"
    return f"{document['$id']}#{pointer}"


def facets_of(event: dict) -> list[tuple[str, dict]]:
    """(where, facet) for every facet of an event: run, job, datasets, input/output facets."""
    found = [(f"run.{k}", v) for k, v in (event["run"].get("facets") or {}).items()]
    found += [(f"job.{k}", v) for k, v in (event["job"].get("facets") or {}).items()]
    for side in ("inputs", "outputs"):
        for dataset in event.get(side) or []:
            for group in ("facets", "inputFacets", "outputFacets"):
                for key, facet in (dataset.get(group) or {}).items():
                    found.append((f"{side}[{dataset['name']}].{group}.{key}", facet))
    return found


def validate_event(event: dict) -> list[str]:
    """Every facet schema URL the event used; AssertionError on the first invalid part."""
    errors = sorted(_validator(EVENT_SCHEMA).iter_errors(event), key=str)
    assert not errors, f"event does not validate against OpenLineage 2-0-2: {errors[0]}"
    used = []
    for where, facet in facets_of(event):
        ref = facet_schema(facet["_schemaURL"])
        errors = sorted(_validator(ref).iter_errors(facet), key=str)
        assert not errors, f"facet {where} does not validate against {ref}: {errors[0]}"
        used.append(ref)
    return used


class Receiver:
    """A Marquez-like lineage endpoint on 127.0.0.1: POST /api/v1/lineage, kept in order."""

    def __init__(self) -> None:
        events: list[dict] = []
        self.events = events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.rstrip("/") != "/api/v1/lineage":
                    self.send_response(404)
                else:
                    events.append(json.loads(body))
                    self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
