"""Read every manifest under a folder, validate it, and report all problems at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from open_data_contract_standard.model import OpenDataContractStandard
from pydantic import ValidationError

from barecount.errors import ManifestError
from barecount.manifest.errors import problems_from_validation
from barecount.manifest.limits import capped, shown
from barecount.manifest.models import API_VERSION, Pipeline
from barecount.manifest.odcs import contract_problems
from barecount.manifest.project import Loaded, ManifestSet
from barecount.manifest.suggest import did_you_mean
from barecount.manifest.team import Team
from barecount.manifest.validate import cross_check
from barecount.manifest.yamlsource import Document, YamlProblem, read_documents

KINDS = {"Pipeline": Pipeline, "Team": Team, "DataContract": OpenDataContractStandard}


def manifest_files(root: Path) -> list[Path]:
    """YAML files under ``root``, in a stable order.

    Anything named *.yaml or *.yml that is not a directory counts, broken links and pipes
    included, so that reading reports it; links to directories are not followed.
    """
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and not _is_dir(p))


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


DocumentCheck = Callable[[Document], list[str]]


def load_manifests(
    root: Path | str, *, check_imports: bool = True, document_checks: Sequence[DocumentCheck] = ()
) -> ManifestSet:
    """Load and validate all manifests under ``root``.

    ``document_checks`` run on every YAML document, valid or not, and their problems join the
    same report (the CLI checks crons with Prefect's own validator so: no Prefect here).

    Raises:
        ManifestError: listing every problem found, each as 'file:line: ...'.
    """
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(
            [
                f"{root}: no such manifests folder; pass the folder holding pipelines/, teams/ "
                "and contracts/ (or set BARECOUNT_MANIFESTS)"
            ]
        )
    found = ManifestSet(root=root)
    problems: list[str] = []
    for file in manifest_files(root):
        problems += capped(file, _load_file(file, found, document_checks))
    problems += cross_check(found, check_imports=check_imports)  # one pass: all at once
    if problems:
        raise ManifestError(problems)
    return found


def _load_file(file: Path, found: ManifestSet, checks: Sequence[DocumentCheck] = ()) -> list[str]:
    try:
        documents = list(read_documents(file))
    except YamlProblem as exc:
        found.unloaded.add(file.stem)
        return [f"{file}:{exc.line}: {exc.message}"]
    problems: list[str] = []
    for doc in documents:
        invalid = _load_document(doc, found)
        if invalid:
            found.unloaded |= _names_in(doc)
        problems += invalid
        problems += [problem for check in checks for problem in check(doc)]
    return problems


def _names_in(doc: Document) -> set[str]:
    """The names a document that did not load may have been meant to define."""
    data = doc.data if isinstance(doc.data, dict) else {}
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    names = [doc.file.stem, meta.get("name"), data.get("name"), data.get("id")]
    return {name for name in names if isinstance(name, str)}  # hostile values: no dict here


def _load_document(doc: Document, found: ManifestSet) -> list[str]:
    data = doc.data
    if not isinstance(data, dict):
        return [
            f"{doc.file}:{doc.line_of(())}: a manifest must be a mapping with "
            "apiVersion, kind, metadata and spec"
        ]
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        return [f"{doc.file}:{doc.line_of(('kind',))}: {_kind_problem(kind)}"]
    model_type = KINDS[kind]
    if kind == "DataContract":
        problems = contract_problems(doc)
        if problems:
            return problems
    try:
        model = model_type.model_validate(data)
    except ValidationError as exc:
        return problems_from_validation(doc, exc, model_type)
    if kind == "DataContract":
        return _add_contract(doc, model, found)
    registry = found.pipelines if kind == "Pipeline" else found.teams
    return _add(registry, kind.lower(), model.name, Loaded(model, doc), ("metadata", "name"))


def _kind_problem(kind: object) -> str:
    if kind is None:
        shown_kind = "no kind"
    elif isinstance(kind, str):
        shown_kind = f"unknown kind {shown(kind)}{did_you_mean(kind, KINDS)}"
    else:
        shown_kind = f"kind is {shown(kind)}, not a word"
    return (
        f"{shown_kind}; expected one of {', '.join(KINDS)} "
        f"(with apiVersion {API_VERSION}, or v3.x for contracts)"
    )


def _add_contract(
    doc: Document, contract: OpenDataContractStandard, found: ManifestSet
) -> list[str]:
    def at(key: str) -> str:
        return f"{doc.file}:{doc.line_of((key,))}"

    name = contract.name
    if not name:
        return [f"{at('name')}: contract has no 'name'; pipelines refer to contracts by name"]
    if not (contract.apiVersion or "").startswith("v3"):
        return [
            f"{at('apiVersion')}: contract {shown(name)} has apiVersion "
            f"{shown(contract.apiVersion)}; BareCount reads Open Data Contract Standard v3 "
            "(e.g. 'v3.0.2')"
        ]
    if not contract.version:
        return [f"{at('version')}: contract {shown(name)} has no 'version'; add e.g. 1.0.0"]
    if not contract.schema_:
        return [f"{at('schema')}: contract {shown(name)} declares no schema objects; add 'schema:'"]
    return _add(found.contracts, "contract", name, Loaded(contract, doc), ("name",))


def _add(registry: dict[str, Loaded], kind: str, name: str, loaded: Loaded, path) -> list[str]:
    if name in registry:
        first = registry[name]
        return [
            f"{loaded.where(*path)}: duplicate {kind} {shown(name)} (first in "
            f"{first.where(*path)}); {kind} names must be unique"
        ]
    registry[name] = loaded
    return []
